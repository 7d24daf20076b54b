"""Helpers for the daemon tests: flow files, config files, a daemon serving in-process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from ivrd.daemon import Config, Daemon, load_config
from ivrd.testing import FakeFreeSWITCH


def flow_yaml(name: str, prompt: str | None = None, *, extra: str = "") -> str:
    """A flow that answers, plays `prompt` (default `<name>.wav`) and hangs up."""
    return (
        f"ivr: 1\nname: {name}\nstart: greet\n{extra}steps:\n"
        f"  greet:\n    type: play\n    prompt: {{play: {prompt or name + '.wav'}}}\n"
        "    next: bye\n  bye:\n    type: hangup\n"
    )


def write_flows(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / f"{name}.yaml").write_text(flow_yaml(name), encoding="utf-8")
    return directory


def make_config(tmp_path: Path, text: str = "", **environ: str) -> Config:
    """A config file in `tmp_path` listening on a free port, with `text` appended."""
    file = tmp_path / "config.yaml"
    file.write_text("listen: {port: 0}\n" + text, encoding="utf-8")
    environ.setdefault("IVRD_HTTP_PORT", "0")
    return load_config(file, environ, check_paths=True).require()


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[tuple[Daemon, int]]:
    """A daemon serving in this process (no signal handlers); stopped and drained on exit."""
    daemon = Daemon(config, environ={}, handle_signals=False)
    async with anyio.create_task_group() as tasks:
        with anyio.fail_after(10):
            port = await tasks.start(daemon.serve)
        try:
            yield daemon, port
        finally:
            daemon.stop("the test is over")


class LogWatcher(logging.Handler):
    """Collects the `ivrd` log records; a test waits for the line it expects, never sleeps."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed: anyio.Event | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]

    def count(self, text: str) -> int:
        return sum(1 for message in self.messages() if text in message)

    async def wait_for(self, text: str, count: int = 1) -> None:
        """Until `count` lines contain `text` (the caller bounds the wait)."""
        while self.count(text) < count:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()


async def all_playing(fake: FakeFreeSWITCH) -> None:
    """Until every live call of `fake` is in a `playback` (the fake's own change signal)."""
    for call in list(fake.calls.values()):
        while not any(run.name == "playback" and not run.ended for run in call.runs):
            await call.changed.wait()
