"""Loading what the daemon serves, for its start and every reload, and saying what changed.

`load_everything` runs in a worker thread: it reads the config file and the flows and builds a
new `Snapshot` (configuration, flow registry, secrets), changing nothing; the daemon swaps the
snapshot in on its own thread with one assignment, so a call sees either the old world or the
new one. A broken config file keeps the old configuration (flows are still reloaded with it);
a missing flows directory keeps every flow. `report_loaded` writes the log lines that tell an
operator what happened, each diagnostic with its `file:line:col`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivrd.daemon.calls import Snapshot
from ivrd.daemon.config import Config
from ivrd.daemon.loading import ConfigResult, load_config, read_secrets
from ivrd.daemon.registry import FlowRegistry, RegistryChange
from ivrd.daemon.routing import check_routes
from ivrd.flow import find_flow_files, load_directory

__all__ = ["Loaded", "Reloaded", "load_everything", "report_loaded", "stat_files"]

log = logging.getLogger("ivrd.daemon")


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload found: the config file's problems, and what changed in the registry."""

    config: ConfigResult
    change: RegistryChange


@dataclass(frozen=True, slots=True)
class Loaded:
    """A new snapshot to swap in, and what to report about it."""

    result: ConfigResult
    snapshot: Snapshot
    change: RegistryChange
    missing_secrets: tuple[str, ...]
    stamps: dict[str, tuple[int, int]]
    """The files' modification times as loaded (for `flows.watch`)."""
    directory_gone: bool = False


def load_everything(
    file: str | None,
    environ: Mapping[str, str],
    current: Config,
    previous: FlowRegistry | None,
) -> Loaded:
    """Read the config (unless starting: `previous` is None) and the flows; change nothing."""
    result = load_config(file, environ, check_paths=True) if previous is not None else None
    config = result.config if result is not None and result.config is not None else current
    directory = config.flows_directory
    stamps = stat_files(config)
    gone = previous is not None and not directory.is_dir()
    if previous is not None and gone:
        registry, change = previous, RegistryChange()
    else:
        registry, change = FlowRegistry.build(load_directory(directory), previous)
    secrets, missing = read_secrets(config, environ)
    return Loaded(
        result or ConfigResult(file, config, ()),
        Snapshot(config, registry, secrets),
        change,
        tuple(missing),
        stamps,
        gone,
    )


def stat_files(config: Config) -> dict[str, tuple[int, int]]:
    """Modification time and size of the config file and every flow file."""
    files = find_flow_files(config.flows_directory) if config.flows_directory.is_dir() else []
    if config.file is not None:
        files.append(config.file)
    stamps: dict[str, tuple[int, int]] = {}
    for file in files:
        try:
            info = Path(file).stat()
        except OSError:
            continue
        stamps[file] = (info.st_mtime_ns, info.st_size)
    return stamps


def report_loaded(loaded: Loaded, old: Config, *, initial: bool) -> None:
    """Log what a load found and changed."""
    for problem in loaded.result.diagnostics:
        (log.error if problem.is_error else log.warning)("%s", problem)
    if loaded.result.config is None:
        log.error("the configuration has errors: keeping the previous one")
    new = loaded.snapshot.config
    if not initial and new.listen != old.listen:
        log.warning("listen settings changed: restart ivrd to apply them")
    if not initial and new.runtime != old.runtime:
        log.warning("runtime settings changed: restart ivrd to apply them")
    directory = new.flows_directory
    if loaded.directory_gone:
        log.error("flows directory %s is gone: keeping every flow as it was", directory)
    change = loaded.change
    for problem in change.diagnostics:
        (log.error if problem.is_error else log.warning)("%s", problem)
    for name in change.kept:
        log.warning("flow %s: its file has errors; the previous version keeps serving", name)
    for file in change.failed:
        log.error("%s could not be loaded; no flow from it is served", file)
    for name in change.removed:
        log.warning("flow %s: its file is gone; no longer served", name)
    if change.loaded:
        verb = "loaded" if initial else "reloaded"
        flows = ", ".join(change.loaded)
        log.info("%s %d flow(s) from %s: %s", verb, len(change.loaded), directory, flows)
    elif initial:
        log.warning("no flow loaded from %s: every call is hung up until one is", directory)
    for name in loaded.missing_secrets:
        log.warning("secret %s (secrets.names) is not set in the environment", name)
    for problem in check_routes(new, loaded.snapshot.registry):
        log.warning("%s", problem)
