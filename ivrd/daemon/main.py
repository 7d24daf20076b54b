"""`ivrd serve` as two library calls: `run_daemon` (serve until stopped) and `check` (`--check`).

Exit codes, for systemd, Docker and scripts:

- 0: stopped cleanly (SIGTERM/SIGINT, drained or forced by a second signal); `--check`: all good
- 1: crashed (a bug: the traceback is logged); `--check`: the configuration is fine but a flow,
  or a route to a flow, has errors
- 3: could not start: the configuration has errors, the flows directory is missing, the log
  file cannot be opened, the listen address is in use or not permitted

Neither prints nor exits: `run_daemon` logs (to stderr until the configured logging is set up)
and returns the code; `check` returns a report for the command to print.

`run_daemon` owns the process, so it also picks the event loop (`runtime.event_loop`: uvloop
when it is installed) and tunes the garbage collector for a server (`serving_gc`); a `Daemon`
used as a library (tests, embedding) leaves both to its host.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from ivrd.daemon.config import Config
from ivrd.daemon.loading import SettingDiagnostic, config_diagnostic, load_config
from ivrd.daemon.registry import FlowRegistry
from ivrd.daemon.routing import check_routes
from ivrd.daemon.server import CannotStart, Daemon
from ivrd.flow import Diagnostic, load_directory
from ivrd.flow.errors import Severity, sort_diagnostics
from ivrd.logs import LogFormat, LoggingSetup, configure_logging

__all__ = [
    "EXIT_CANNOT_START",
    "EXIT_CRASHED",
    "EXIT_OK",
    "GC_THRESHOLD",
    "CheckReport",
    "EventLoop",
    "check",
    "choose_event_loop",
    "run_daemon",
    "serving_gc",
]

EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_CANNOT_START = 3

log = logging.getLogger("ivrd.daemon")

GC_THRESHOLD = 20_000
"""Container allocations between two young-generation collections while serving (CPython's
default is 700). A call allocates a few hundred short-lived objects (coroutines, events, cancel
scopes), so the default runs a collection every call or two, and a full one every few hundred
calls; a full collection walks every object alive, flows, pydantic and Jinja included. At this
threshold the garbage of reference cycles waits for at most that many allocations (a few MB)."""


@dataclass(frozen=True, slots=True)
class EventLoop:
    """What `anyio.run` is given, and how the log names it."""

    backend: str
    options: dict[str, Any]
    name: str


def choose_event_loop(config: Config, backend: str = "asyncio") -> EventLoop:
    """The loop `runtime.event_loop` asks for; CannotStart for `uvloop` when it is missing."""
    if backend != "asyncio":
        return EventLoop(backend, {}, backend)
    choice = config.runtime.event_loop
    if choice == "asyncio":
        return EventLoop("asyncio", {}, "asyncio")
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise CannotStart(
                "runtime.event_loop is uvloop, but uvloop is not installed (pip install uvloop)"
            ) from None
        return EventLoop("asyncio", {}, "asyncio (uvloop is not installed)")
    version = getattr(uvloop, "__version__", "")
    return EventLoop("asyncio", {"use_uvloop": True}, f"uvloop {version}".rstrip())


@contextmanager
def serving_gc(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Tune the garbage collector for serving, and put it back as it was afterwards.

    What was loaded at start (modules, models, compiled templates) lives as long as the process:
    `gc.freeze()` moves it out of the collector's way, so full collections only walk what calls
    create. The young generation's threshold rises to `threshold` (see GC_THRESHOLD).
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run_daemon(
    config_path: str | os.PathLike[str] | None,
    *,
    environ: Mapping[str, str] | None = None,
    backend: str = "asyncio",
) -> int:
    """Load the configuration, serve until a signal stops the daemon; the exit code."""
    env = os.environ if environ is None else environ
    # Until the configuration is read, log to stderr, in the format asked for if we can tell.
    bootstrap_format: LogFormat = "json" if env.get("IVRD_LOGGING_FORMAT") == "json" else "text"
    bootstrap = configure_logging("info", bootstrap_format)
    try:
        result = load_config(config_path, env, check_paths=True)
        for problem in result.diagnostics:
            (log.error if problem.is_error else log.warning)("%s", problem)
        if result.config is None:
            log.error("could not start: the configuration has errors")
            return EXIT_CANNOT_START
        config = result.config
        settings = config.logging
        log_file = str(config.log_file) if config.log_file is not None else None
        try:
            setup = configure_logging(settings.level, settings.format, log_file)
        except OSError as exc:
            problem = config_diagnostic(
                config, ("logging", "file"), f"cannot open {log_file}: {exc.strerror or exc}"
            )
            log.error("could not start: %s", problem)
            return EXIT_CANNOT_START
    finally:
        bootstrap.remove()
    daemon = Daemon(config, environ=env, logging_setup=setup)
    try:
        loop = choose_event_loop(config, backend)
        log.info("event loop: %s", loop.name)
        with serving_gc():
            anyio.run(daemon.serve, backend=loop.backend, backend_options=loop.options)
    except CannotStart as exc:
        log.error("could not start: %s", exc)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        log.info("interrupted before serving; stopped")
        return EXIT_OK
    except Exception:
        log.exception("ivrd crashed")
        return EXIT_CRASHED
    finally:
        _remove(daemon.logging_setup)
    return EXIT_OK


def _remove(setup: LoggingSetup | None) -> None:
    if setup is not None:
        setup.remove()


@dataclass(slots=True)
class CheckReport:
    """What `ivrd serve --check` found: every problem, and the exit code it means."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    config_ok: bool = True

    @property
    def exit_code(self) -> int:
        if not self.config_ok:
            return EXIT_CANNOT_START
        return EXIT_CRASHED if any(d.is_error for d in self.diagnostics) else EXIT_OK

    def summary(self) -> str:
        errors = sum(1 for d in self.diagnostics if d.is_error)
        warnings = len(self.diagnostics) - errors
        if not self.config_ok:
            return f"the configuration has errors ({errors} error(s), {warnings} warning(s))"
        flows = ", ".join(self.flows) or "none"
        return f"{len(self.flows)} flow(s) ({flows}): {errors} error(s), {warnings} warning(s)"


def check(
    config_path: str | os.PathLike[str] | None, *, environ: Mapping[str, str] | None = None
) -> CheckReport:
    """Validate the configuration, every flow and every route, as `serve` would load them."""
    env = os.environ if environ is None else environ
    report = CheckReport()
    result = load_config(config_path, env, check_paths=True)
    report.diagnostics.extend(result.diagnostics)
    if result.config is None:
        report.config_ok = False
        return report
    config = result.config
    registry, change = FlowRegistry.build(load_directory(config.flows_directory))
    report.flows = list(registry)
    report.diagnostics.extend(change.diagnostics)
    report.diagnostics.extend(check_routes(config, registry, Severity.ERROR))
    settings = [d for d in report.diagnostics if isinstance(d, SettingDiagnostic)]
    located = sort_diagnostics(
        d for d in report.diagnostics if not isinstance(d, SettingDiagnostic)
    )
    report.diagnostics = [*settings, *located]
    return report
