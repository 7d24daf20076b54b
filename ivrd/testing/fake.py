"""FakeFreeSWITCH: calls to outbound socket servers, an inbound event socket, one event bus."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

import anyio
import anyio.abc

from ivrd.esl.protocol import writers
from ivrd.testing._loopstream import connect_tcp
from ivrd.testing._signal import Spawn
from ivrd.testing.api import ApiHandler, run_api
from ivrd.testing.caller import Caller
from ivrd.testing.channel import Channel
from ivrd.testing.events import EventSource, FakeEvent
from ivrd.testing.listener import Listener
from ivrd.testing.outbound import FIRST_SENDMSG, OutboundCall, Park
from ivrd.testing.record import CallRecord

CONNECT_TIMEOUT = 10.0
"""How long `call()` waits for the TCP connection by default. FreeSWITCH's `socket` application
sets none (a blocking connect: the kernel's SYN retries decide, about 127 s on Linux); pass
`connect_timeout=None` to wait like it, e.g. for a server whose accept queue overflows."""


class FakeFreeSWITCH:
    """A FreeSWITCH for tests: see the `ivrd.testing` docstring for the whole API."""

    def __init__(
        self,
        *,
        password: str = "ClueCon",
        users: Mapping[str, str] | None = None,
        hostname: str = "fakeswitch",
        core_uuid: str | None = None,
        park: Park = FIRST_SENDMSG,
        frame: float = 0.02,
        call_timeout: float = 3600.0,
        socket_address: tuple[str, int] | None = None,
        originate_caller: Caller | None = None,
        version: str = "1.10.12-release 64bit",
        connect_timeout: float | None = CONNECT_TIMEOUT,
    ) -> None:
        self.password = password
        self.users: dict[str, str] = dict(users or {})
        self.source = EventSource(core_uuid=core_uuid, hostname=hostname)
        self.park = park
        self.frame = frame
        self.call_timeout = call_timeout
        self.socket_address = socket_address
        self.originate_caller = originate_caller or Caller()
        self.version = version
        self.connect_timeout = connect_timeout
        self.api_handlers: dict[str, ApiHandler] = {}
        self.global_variables: dict[str, str] = {"hostname": hostname}
        self.calls: dict[str, OutboundCall] = {}
        # The A leg of an originated loopback call -> its B leg (the socket's channel).
        self.a_legs: dict[str, str] = {}
        self.records: list[CallRecord] = []
        self.rude_rejection = False
        self.sessions_since_startup = 0
        self.peak_sessions = 0
        self._general: set[Listener] = set()
        self._by_uuid: dict[str, set[Listener]] = {}
        # Listeners whose filters only pass events with one of these Unique-IDs (lower-case),
        # e.g. an outbound socket's `filter Unique-ID <uuid>` + `event plain all`: a thousand
        # such calls would otherwise check every event against every socket.
        self._by_filter: dict[str, set[Listener]] = {}
        self._filter_keys: dict[Listener, frozenset[str]] = {}
        self._loggers: set[Listener] = set()
        self._inbound: set[Listener] = set()
        self._serving: anyio.CancelScope | None = None
        self._listening = anyio.Event()
        self._back_at = 0.0
        self._spawn_inbound: Spawn | None = None

    # -- outbound: calls --------------------------------------------------------------------

    async def call(
        self,
        host: str,
        port: int,
        caller: Caller | None = None,
        *,
        channel: Channel | None = None,
        park: Park | None = None,
        max_seconds: float | None = None,
    ) -> CallRecord:
        """Dial an outbound socket server and play one call; returns when the socket closed.

        Raises OSError when nothing listens (FreeSWITCH would go on in the dialplan) and
        TimeoutError when the connection takes longer than `connect_timeout` (10 s by default).
        """
        call = self.new_call(host, port, caller=caller, channel=channel, park=park)
        try:
            with anyio.fail_after(self.connect_timeout):
                stream = await connect_tcp(host, port)
        except BaseException:
            self.calls.pop(call.uuid, None)
            raise
        return await call.run(stream, self.call_timeout if max_seconds is None else max_seconds)

    def new_call(
        self,
        host: str,
        port: int,
        *,
        caller: Caller | None = None,
        channel: Channel | None = None,
        park: Park | None = None,
    ) -> OutboundCall:
        """A call whose channel exists (in `calls`) but has not connected to its server yet."""
        call = OutboundCall(
            self,
            channel or Channel(),
            caller or Caller(),
            host=host,
            port=port,
            park=self.park if park is None else park,
            frame=self.frame,
        )
        self.calls[call.uuid] = call
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.calls))
        return call

    async def connect_and_run(self, call: OutboundCall, host: str, port: int) -> None:
        """Run an originated call; a refused connection ends it as the dialplan would."""
        try:
            with anyio.fail_after(self.connect_timeout):
                stream = await connect_tcp(host, port)
        except (OSError, TimeoutError):
            call.record.notes.append(f"socket {host}:{port}: connection failed")
            call.record.hangup_cause = "NORMAL_CLEARING"
            call.record.hangup_by = "switch"
            call.state.mark_hangup("NORMAL_CLEARING")
            self.unregister_call(call)
            call.done.set()
            call.changed.notify()
            return
        await call.run(stream, self.call_timeout)

    def unregister_call(self, call: OutboundCall) -> None:
        self.calls.pop(call.uuid, None)
        for a_leg in [a for a, b in self.a_legs.items() if b == call.uuid]:
            del self.a_legs[a_leg]
        self.records.append(call.record)

    def find_call(self, uuid: str) -> OutboundCall | None:
        """The live call with this uuid, or whose loopback A leg has this uuid."""
        call = self.calls.get(uuid)
        if call is None and uuid in self.a_legs:
            call = self.calls.get(self.a_legs[uuid])
        return call

    # -- inbound: the event socket on 8021 ----------------------------------------------------

    async def serve_inbound(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve ESL clients (like port 8021) until cancelled; reports the bound port."""
        async with anyio.create_task_group() as tg:
            self._spawn_inbound = tg.start_soon
            bound = port
            started = False
            while True:
                delay = self._back_at - anyio.current_time()
                if delay > 0:
                    await anyio.sleep(delay)
                server = await anyio.create_tcp_listener(local_host=host, local_port=bound)
                bound = server.extra(anyio.abc.SocketAttribute.local_port)
                self._listening.set()
                if not started:
                    started = True
                    task_status.started(bound)
                async with server:
                    with anyio.CancelScope() as self._serving:
                        await server.serve(self._handle_inbound, task_group=tg)

    async def _handle_inbound(self, stream: anyio.abc.SocketStream) -> None:
        if self.rude_rejection:
            with anyio.move_on_after(5), contextlib.suppress(anyio.BrokenResourceError, OSError):
                await stream.send(writers.rude_rejection())
            await stream.aclose()
            return
        assert self._spawn_inbound is not None
        listener = Listener(self, stream, spawn=self._spawn_inbound)
        self._inbound.add(listener)
        try:
            await listener.serve(greet=writers.auth_request())
        finally:
            self._inbound.discard(listener)

    def drop_inbound(self, message: str | None = "The system is being shut down.\n") -> None:
        """Close every inbound connection (with FreeSWITCH's shutdown notice, by default)."""
        notice = None
        if message is not None:
            data = message.encode()
            notice = (
                f"Content-Type: text/disconnect-notice\nContent-Length: {len(data)}\n\n".encode()
                + data
            )
        for listener in list(self._inbound):
            listener.stop(notice)

    async def restart(self, down_for: float = 1.0) -> None:
        """Drop the inbound connections, refuse new ones for `down_for` s, then come back.

        Returns once the port accepts connections again.
        """
        self._back_at = anyio.current_time() + down_for
        self._listening = anyio.Event()
        if self._serving is not None:
            self._serving.cancel()
        self.drop_inbound()
        with anyio.fail_after(down_for + 10):
            await self._listening.wait()

    # -- the event bus ------------------------------------------------------------------------

    def attach(self, listener: Listener) -> None:
        """(Re)index a listener after its subscription changed."""
        self.detach(listener)
        sub = listener.subscription
        if not sub.enabled:
            pass
        elif sub.myevents and sub.session_uuid:
            self._by_uuid.setdefault(sub.session_uuid, set()).add(listener)
        elif (keys := sub.unique_id_filter()) is not None:
            self._filter_keys[listener] = keys
            for key in keys:
                self._by_filter.setdefault(key, set()).add(listener)
        else:
            self._general.add(listener)
        if listener.log_level is not None:
            self._loggers.add(listener)

    def detach(self, listener: Listener) -> None:
        self._general.discard(listener)
        self._loggers.discard(listener)
        for key in self._filter_keys.pop(listener, ()):
            filtered = self._by_filter[key]
            filtered.discard(listener)
            if not filtered:
                del self._by_filter[key]
        uuid = listener.subscription.session_uuid
        if uuid is not None:
            listeners = self._by_uuid.get(uuid)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._by_uuid[uuid]

    def wanted(self, name: str, uuid: str) -> bool:
        """Whether any socket could want event `name` about channel `uuid` (a cheap pre-check,
        so that events nobody listens to are never built)."""
        if self._general:
            return True
        listeners: Iterable[Listener] = self._by_uuid.get(uuid, ())
        if self._by_filter:  # (as in publish_event: most calls have no filter-indexed socket)
            listeners = (*listeners, *self._by_filter.get(uuid.lower(), ()))
        for listener in listeners:
            sub = listener.subscription
            if sub.all or name in sub.types:
                return True
        return False

    def publish_event(self, event: FakeEvent) -> None:
        for listener in self._general:
            listener.offer(event)
        uuid = event.uuid or event.get("Unique-ID")
        if uuid is not None:
            for listener in self._by_uuid.get(uuid, ()):
                listener.offer(event)
        if self._by_filter:
            unique_id = event.get("Unique-ID")
            if unique_id is not None:
                for listener in self._by_filter.get(unique_id.lower(), ()):
                    listener.offer(event)

    def publish(
        self, headers: Mapping[str, str] | Sequence[tuple[str, str]], body: str | None = None
    ) -> None:
        """Fire an event, CUSTOM unless headers name another (`Event-Subclass` for CUSTOM)."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        name = next((value for key, value in pairs if key == "Event-Name"), "CUSTOM")
        subclass = next((value for key, value in pairs if key == "Event-Subclass"), None)
        pairs = [
            (key, value) for key, value in pairs if key not in ("Event-Name", "Event-Subclass")
        ]
        self.publish_event(self.source.event(name, pairs, subclass=subclass, body=body))

    def log(self, level: int, text: str, uuid: str | None = None) -> None:
        if not self._loggers:
            return
        pairs = [
            ("Text-Channel", "3"),
            ("Log-File", "switch_core_session.c"),
            ("Log-Func", "switch_core_session_exec"),
            ("Log-Line", "2942"),
            ("User-Data", uuid or ""),
        ]
        for listener in self._loggers:
            listener.offer_log(level, text, pairs)

    async def run_api(self, command: str, arg: str | None, listener: Listener | None) -> str:
        spawn = listener.spawn if listener is not None else self._spawn_inbound
        if spawn is None:
            raise RuntimeError("run_api needs a listener or a running serve_inbound()")
        return await run_api(self, command, arg, spawn)
