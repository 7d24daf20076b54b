"""The daemon: named phases, signals, reload, drain. One `Daemon` per `ivrd serve`.

Phases, in order: `startup` (flows loaded, listener bound), `serving`, `draining` (no new calls,
running calls finish), `stopped`. Signals are handled here, in the serve task group, through
anyio's signal receiver (asyncio and trio alike), never in the library layers:

- SIGTERM or SIGINT: stop accepting at once and drain. Calls get `limits.drain_timeout` to end
  on their own; the ones still running are then hung up (SYSTEM_SHUTDOWN), their flows end as
  if the caller hung up (on.hangup runs, the trace is logged) and their sessions send `exit`.
  A second signal forces: every call is hung up now (SYSTEM_SHUTDOWN, `api uuid_kill`) and
  gets FORCE_GRACE seconds to send `exit`; handlers still running then are cancelled.
- SIGHUP: reopen the log file, then reload config and flows (`reload`).

A reload (`ivrd.daemon.reloading`) builds the new configuration, registry and secrets in a
worker thread and swaps them in with one assignment. With `flows.watch: true` a task polls the
files' modification times every `flows.watch_interval` (a sleep, not a busy loop) and reloads
on a change.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from collections.abc import Mapping
from enum import StrEnum

import anyio
import anyio.abc
import httpx

from ivrd import __version__
from ivrd.daemon.calls import SHUTDOWN_CAUSE, CallDesk, Snapshot
from ivrd.daemon.config import Config
from ivrd.daemon.loading import read_secrets
from ivrd.daemon.registry import FlowRegistry
from ivrd.daemon.reloading import Loaded, Reloaded, load_everything, report_loaded, stat_files
from ivrd.esl import ListenError, OutboundServer
from ivrd.esl.protocol import commands
from ivrd.flow.durations import format_duration
from ivrd.logs import LoggingSetup, configure_logging
from ivrd.observability import Metrics, serve_http

__all__ = [
    "END_GRACE",
    "EVENTS_READ",
    "FORCE_GRACE",
    "UNREAD_EVENTS",
    "CannotStart",
    "Daemon",
    "Phase",
]

log = logging.getLogger("ivrd.daemon")

END_GRACE = 10.0
"""Seconds calls hung up at the end of a drain get to finish their flows, hooks and `exit`."""
FORCE_GRACE = 2.0
"""Seconds calls hung up by a forced stop get to send `exit` before they are cancelled."""

EVENTS_READ = frozenset(
    {
        "CHANNEL_DATA",  # the session: the channel's variables
        "CHANNEL_EXECUTE_COMPLETE",  # the session: an application's end and the variables
        "CHANNEL_HANGUP",  # the session and the engine: the hangup and its cause
        "CHANNEL_HANGUP_COMPLETE",  # the session and the engine: the call is gone
        "CHANNEL_UNBRIDGE",  # the engine's queue step: the agent's conversation ended
        "DTMF",  # the engine: digits pressed while no input step reads them
    }
)
"""The events of `myevents` that the engine or the session read (a test scans their code)."""
UNREAD_EVENTS = commands.MYEVENTS - EVENTS_READ
"""Stopped with `nixevent` on every call: a third of a call's events, never read, each costing
its framing and name (CHANNEL_EXECUTE, CHANNEL_STATE, CHANNEL_PARK...)."""

_NOT_READY = "not ready: no flow is loaded, or routing.default names a flow that is not"


class Phase(StrEnum):
    STARTUP = "startup"
    SERVING = "serving"
    DRAINING = "draining"
    STOPPED = "stopped"


class CannotStart(Exception):
    """The daemon could not start serving (the address is in use...); the message says why."""


class Daemon:
    """Serve calls with a configuration; `serve()` runs until stopped and drained."""

    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        logging_setup: LoggingSetup | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.logging_setup = logging_setup
        self.handle_signals = handle_signals
        self.phase = Phase.STARTUP
        self.bound_port: int | None = None
        secrets, _ = read_secrets(config, self.environ)
        self._snapshot = Snapshot(config, FlowRegistry(), secrets)
        self.metrics = Metrics()
        self.metrics.count_tasks(_running_tasks)
        # Without the HTTP endpoint nobody can read the per-call metrics: do not count them.
        counted = self.metrics if config.http.enabled else None
        self.calls = CallDesk(lambda: self._snapshot, counted)
        self.http_port: int | None = None
        self._stamps: dict[str, tuple[int, int]] = {}
        self._stop_requested: anyio.Event | None = None
        self._server_done: anyio.Event | None = None
        self._config_changed: anyio.Event | None = None
        self._reload_lock: anyio.Lock | None = None
        self._server: OutboundServer | None = None
        self._drain_scope: anyio.CancelScope | None = None
        self._stop_early = False
        self._forced = False

    # -- what others may read ----------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._snapshot.config

    @property
    def registry(self) -> FlowRegistry:
        return self._snapshot.registry

    @property
    def ready(self) -> bool:
        """Serving, with at least one flow and the default flow (if one is set) loaded."""
        default = self.config.routing.default
        return (
            self.phase is Phase.SERVING
            and len(self.registry) > 0
            and (default is None or default in self.registry)
        )

    def _readiness(self) -> tuple[bool, str]:
        """For `/readyz`: ready, or why not."""
        if self.phase is not Phase.SERVING:
            return False, str(self.phase)
        if not self.ready:
            return False, "no flow loaded" if not len(self.registry) else "default flow missing"
        return True, ""

    # -- life cycle --------------------------------------------------------------------------

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Start, serve until `stop()`, drain, return. Reports the bound port when serving."""
        self._stop_requested = anyio.Event()
        self._server_done = anyio.Event()
        self._config_changed = anyio.Event()
        self._reload_lock = anyio.Lock()
        if self._stop_early:
            self._stop_requested.set()
        config = self.config
        log.info("ivrd %s starting (config: %s)", __version__, config.file or "none")
        loaded = await anyio.to_thread.run_sync(
            load_everything, config.file, self.environ, config, None
        )
        self._apply(loaded, initial=True)
        listen = config.listen
        server = self._server = OutboundServer(
            self.calls.handle,
            listen.host,
            listen.port,
            backlog=listen.backlog,
            allowed_peers=listen.allowed_peers or None,
            unneeded_events=UNREAD_EVENTS,
        )
        headers = {"User-Agent": f"ivrd/{__version__}"}
        try:
            async with httpx.AsyncClient(headers=headers) as client:
                self.calls.http_client = client
                await self._serve(server, task_status)
        except* (ListenError, CannotStart) as group:
            raise CannotStart(_first_message(group)) from None
        finally:
            self.phase = Phase.STOPPED
        log.info(
            "stopped (%d calls served, %d refused)",
            self.calls.total_calls,
            self.calls.refused_calls,
        )

    async def _serve(self, server: OutboundServer, task_status: anyio.abc.TaskStatus[int]) -> None:
        assert self._stop_requested is not None
        async with anyio.create_task_group() as tasks:
            self.bound_port = await tasks.start(self._run_server, server)
            async with anyio.create_task_group() as helpers:
                http = self.config.http
                if http.enabled:
                    try:
                        self.http_port = await helpers.start(
                            serve_http, http.host, http.port, self.metrics, self._readiness
                        )
                    except OSError as exc:
                        where = f"{http.host}:{http.port}"
                        raise CannotStart(
                            f"cannot listen on {where} (http): {exc.strerror}"
                        ) from None
                if self.handle_signals:
                    await helpers.start(self._handle_signals, helpers)
                helpers.start_soon(self._watch_files)
                helpers.start_soon(self.calls.enforce_call_timeouts)
                self.phase = Phase.SERVING
                listen = self.config.listen
                log.info(
                    "serving on %s:%d: %d flow(s), up to %d calls",
                    listen.host,
                    self.bound_port,
                    len(self.registry),
                    self.config.limits.max_calls,
                    extra={"port": self.bound_port, "ready": self.ready},
                )
                if not self.ready:
                    log.warning(_NOT_READY)
                task_status.started(self.bound_port)
                await self._stop_requested.wait()
                await self._drain(server)
                helpers.cancel_scope.cancel()

    async def _run_server(
        self, server: OutboundServer, *, task_status: anyio.abc.TaskStatus[int]
    ) -> None:
        assert self._server_done is not None
        try:
            await server.serve(task_status=task_status)
        finally:
            self._server_done.set()

    def stop(self, reason: str = "asked to") -> None:
        """Begin draining; a second call forces the stop."""
        if self._stop_requested is None:
            self._stop_early = True
            return
        if not self._stop_requested.is_set():
            log.info("stopping (%s): no new calls; send the signal again to stop at once", reason)
            if self.phase is Phase.SERVING:
                self.phase = Phase.DRAINING  # not ready from now on
            self.calls.accepting = False
            self._stop_requested.set()
            return
        self.force(reason)

    def force(self, reason: str = "asked to") -> None:
        """Stop now: hang every call up, give them FORCE_GRACE to send `exit`, then cancel."""
        if self._forced:
            return
        self._forced = True
        log.warning("stopping at once (%s): ending %d call(s)", reason, self.calls.active_calls)
        self.calls.accepting = False
        if self.phase is Phase.SERVING:
            self.phase = Phase.DRAINING
        if self._stop_requested is None:
            self._stop_early = True
        else:
            self._stop_requested.set()
        if self._drain_scope is not None:
            self._drain_scope.cancel()

    async def _drain(self, server: OutboundServer) -> None:
        assert self._server_done is not None
        self.phase = Phase.DRAINING
        self.calls.accepting = False
        timeout = self.config.limits.drain_timeout
        server.shutdown(timeout.total_seconds() + END_GRACE)
        if self.calls.active_calls:
            log.info(
                "draining: %d call(s) running get up to %s to finish",
                self.calls.active_calls,
                format_duration(timeout),
            )
        with anyio.CancelScope() as self._drain_scope:
            if self._forced:
                self._drain_scope.cancel()
            with anyio.move_on_after(timeout.total_seconds()):
                await self.calls.wait_idle()
            if self.calls.active_calls:
                log.warning(
                    "drain_timeout (%s) passed: hanging up %d call(s) (%s)",
                    format_duration(timeout),
                    self.calls.active_calls,
                    SHUTDOWN_CAUSE,
                )
                await self.calls.hang_up_all(SHUTDOWN_CAUSE)
            with anyio.move_on_after(END_GRACE):
                await self._server_done.wait()
        if self._forced:
            # Hang up first: cancelling a session outright ends it without `exit`.
            server.shutdown(FORCE_GRACE)
            with anyio.move_on_after(FORCE_GRACE):
                await self.calls.hang_up_all(SHUTDOWN_CAUSE)
        # Bounded: the server cancels what is left at its deadline, and sessions' teardown is.
        await self._server_done.wait()

    async def _handle_signals(
        self, helpers: anyio.abc.TaskGroup, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    if self.logging_setup is not None:
                        self.logging_setup.reopen()
                    helpers.start_soon(self.reload, name)
                else:
                    self.stop(name)

    # -- reload ------------------------------------------------------------------------------

    async def reload(self, reason: str = "asked to") -> Reloaded:
        """Re-read the config file and every flow; swap them in at once (see the module doc)."""
        assert self._reload_lock is not None, "reload() needs serve() running"
        async with self._reload_lock:
            log.info("reloading (%s)", reason)
            loaded = await anyio.to_thread.run_sync(
                load_everything, self.config.file, self.environ, self.config, self.registry
            )
            self._apply(loaded, initial=False)
            return Reloaded(loaded.result, loaded.change)

    def _apply(self, loaded: Loaded, *, initial: bool) -> None:
        """Report what was loaded, and swap it in."""
        old = self.config
        report_loaded(loaded, old, initial=initial)
        change = loaded.change
        self.metrics.reload_finished(
            loaded.result.config is not None
            and not (change.kept or change.failed or loaded.directory_gone)
        )
        new = loaded.snapshot.config
        if not initial and new.logging != old.logging:
            self._reconfigure_logging(new)
        self._snapshot = loaded.snapshot
        self._stamps = loaded.stamps
        if not self.ready and self.phase is not Phase.STARTUP:
            log.warning(_NOT_READY)
        if self._config_changed is not None and new.flows != old.flows:
            self._config_changed.set()
            self._config_changed = anyio.Event()

    def _reconfigure_logging(self, config: Config) -> None:
        settings = config.logging
        file = str(config.log_file) if config.log_file is not None else None
        try:
            setup = configure_logging(settings.level, settings.format, file)
        except OSError as exc:
            log.error("logging.file: cannot open %s: %s; logging as before", file, exc.strerror)
            return
        if self.logging_setup is not None:
            self.logging_setup.remove()
        self.logging_setup = setup
        log.info(
            "logging reconfigured: %s, %s, %s", settings.level, settings.format, file or "stderr"
        )

    async def _watch_files(self) -> None:
        while True:
            assert self._config_changed is not None
            flows = self.config.flows
            if not flows.watch:
                await self._config_changed.wait()
                continue
            await anyio.sleep(flows.watch_interval.total_seconds())
            stamps = await anyio.to_thread.run_sync(stat_files, self.config)
            if stamps != self._stamps:
                await self.reload("files changed")


def _running_tasks() -> float:
    try:
        return len(anyio.get_running_tasks())
    except RuntimeError:  # /metrics rendered outside the event loop (a test)
        return math.nan


def _first_message(group: BaseExceptionGroup[BaseException]) -> str:
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return str(first)
