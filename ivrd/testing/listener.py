"""One event socket as mod_event_socket serves it: commands in, replies and events out.

The same class serves an inbound connection (port 8021: `auth` first) and the outbound socket of
a call (`connect` first; it controls that call). `dispatch()` follows `parse_command()` in
mod_event_socket.c: commands are matched by prefix and in the same order, with the same reply
texts (`-ERR command not found` for anything else, `getvar` of an unset variable included).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from ivrd.esl.protocol import Command, CommandParser, ProtocolError, Sentinel, writers
from ivrd.testing._signal import Spawn
from ivrd.testing.events import FakeEvent
from ivrd.testing.outbox import Outbox
from ivrd.testing.subscription import Subscription, event_name

if TYPE_CHECKING:
    from ivrd.testing.fake import FakeFreeSWITCH
    from ivrd.testing.outbound import OutboundCall

# FreeSWITCH's read_packet gives a client 25 s for its first command (auth or connect).
FIRST_COMMAND_TIMEOUT = 25.0
LOG_LEVELS = {
    "console": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "error": 3,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}


def _call_over(job: object) -> None:
    raise RuntimeError("the call is over: nothing more runs on its socket")


class Listener:
    """A client connection: its subscription, its outbox, and the commands it sent."""

    def __init__(
        self,
        fake: FakeFreeSWITCH,
        stream: anyio.abc.ByteStream,
        *,
        spawn: Spawn,
        call: OutboundCall | None = None,
    ) -> None:
        self.fake = fake
        self.call = call
        self.outbox = Outbox(stream, on_overflow=self._overflowed)
        self.subscription = Subscription()
        self.authed = call is not None
        self.linger: int | None = None
        self.log_level: int | None = None
        self.running = True
        self.exited = False
        self.commands: list[tuple[float, Command]] = []
        self._stream = stream
        self.spawn = spawn
        self._reader_scope = anyio.CancelScope()
        if call is not None:
            self.subscription.session_uuid = call.uuid

    def release_call(self) -> None:
        """Forget the call once it is over (the socket closed, its tasks done).

        The call and its socket point at each other; without this, every call (its record,
        its commands) would wait for the garbage collector's cycle search to be freed, and
        under load that search is a good part of the fake's work.
        """
        self.call = None
        self.spawn = _call_over

    # -- events -----------------------------------------------------------------------------

    def offer(self, event: FakeEvent) -> None:
        if self.running and self.subscription.wants(event):
            self.outbox.send_event(event.frame(self.subscription.format))
            if self.call is not None:
                self.call.record.events_sent += 1

    def offer_log(self, level: int, text: str, pairs: list[tuple[str, str]]) -> None:
        if self.running and self.log_level is not None and self.log_level >= level:
            self.outbox.send_event(writers.log_data(text, level=level, pairs=pairs))

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.outbox.send(writers.command_reply(text, extra or ()))

    def _overflowed(self) -> None:
        self.running = False
        self._reader_scope.cancel()
        if self.call is not None:
            self.call.violation("not-reading", "the client stopped reading; socket dropped")

    # -- the connection -----------------------------------------------------------------------

    async def serve(self, greet: bytes | None = None) -> None:
        """Run the connection until either side closes it; returns after the socket is closed."""
        self.fake.attach(self)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.outbox.run)
                if greet is not None:
                    self.outbox.send(greet)
                with self._reader_scope:
                    await self._read_loop()
                self.running = False
                if not self.outbox.closing:
                    self.outbox.send(self.disconnect_notice())
                self.outbox.close()
        finally:
            self.running = False
            self.fake.detach(self)

    def disconnect_notice(self) -> bytes:
        uuid = self.call.uuid if self.call is not None else None
        return writers.disconnect_notice(uuid, linger=False)

    def stop(self, notice: bytes | None = None) -> None:
        """Stop reading and close the socket after what is queued (as kill_listener does).

        The socket's last frame is `notice` if given, else the usual disconnect notice.
        """
        self.running = False
        if notice is not None:
            self.outbox.send(notice)
            self.outbox.close()
        self._reader_scope.cancel()

    async def _read_loop(self) -> None:
        parser = CommandParser()
        first = True
        while self.running:
            try:
                command = parser.next_command()
            except ProtocolError as exc:
                if self.call is not None:
                    self.call.violation("bad-framing", str(exc))
                return
            if isinstance(command, Sentinel):
                if command is Sentinel.CLOSED:
                    self._client_closed()
                    return
                data = b""
                try:
                    if first:
                        with anyio.move_on_after(FIRST_COMMAND_TIMEOUT):
                            data = await self._stream.receive()
                    else:  # (no deadline: no cancel scope for every read)
                        data = await self._stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    parser.feed_eof()
                    continue
                if not data:
                    self._first_command_timeout()
                    return
                parser.feed(data)
                continue
            if first and self.call is not None and not command.line.lower().startswith("connect"):
                self.call.violation("no-connect", f"first command was {command.line!r}")
            first = False
            await self._received(command)

    async def _received(self, command: Command) -> None:
        now = self.call.clock() if self.call is not None else anyio.current_time()
        self.commands.append((now, command))
        if self.call is not None:
            self.call.received(now, command)
        await self.dispatch(command)

    def _client_closed(self) -> None:
        self.running = False
        if self.call is not None:
            self.call.client_closed()

    def _first_command_timeout(self) -> None:
        if self.call is not None:
            self.call.violation("no-connect", "no command within 25 s of connecting")
        self.running = False

    # -- parse_command ------------------------------------------------------------------------

    async def dispatch(self, command: Command) -> None:
        line = command.line.rstrip("\r")
        lower = line.lower()
        sub = self.subscription
        call = self.call
        if lower.startswith(("exit", "...")):
            self.running = False
            self.exited = True
            self.reply("+OK bye")
            if call is not None:
                call.exit_received()
            self.outbox.send(self.disconnect_notice())
            self.outbox.close()
            return
        if not self.authed:
            self._authenticate(line, lower)
            return
        if call is not None and call.parks_at(command):
            call.park_now()
        if lower.startswith("filter "):
            self.reply(sub.filter_command(line[7:]))
            self.fake.attach(self)
        elif call is not None and lower.startswith("resume"):
            call.state.set_var("socket_resume", "true")
            self.reply("+OK")
        elif call is not None and lower.startswith("connect"):
            call.connect_received()
        elif call is not None and lower.startswith("getvar"):
            name = line.split(" ", 1)[1] if " " in line else ""
            value = call.state.get_var(name) if name else None
            self.reply(value or "-ERR command not found")
        elif lower.startswith("myevents") and (call is not None or lower.startswith("myevents ")):
            self._myevents(line)
        elif lower.startswith("divert_events"):
            self._divert_events(line)
        elif lower.startswith("sendmsg"):
            self._sendmsg(command, line)
        elif lower.startswith("sendevent"):
            self._sendevent(command, line)
        elif lower.startswith("api "):
            await self._api(line[4:])
        elif lower.startswith("bgapi "):
            self._bgapi(command, line[6:])
        elif lower.startswith("log"):
            self._log(line)
        elif lower.startswith("linger"):
            self._linger(line)
        elif lower.startswith("nolinger"):
            if call is None:
                self.reply("-ERR not controlling a session")
            else:
                self.linger = None
                self.reply("+OK will not linger")
        elif lower.startswith("nolog"):
            if self.log_level is None:
                self.reply("-ERR not loging")
            else:
                self.log_level = None
                self.fake.attach(self)
                self.reply("+OK no longer logging")
        elif lower.startswith("event"):
            self.reply(sub.event_command(line.split(" ")[1:]))
            self.fake.attach(self)
        elif lower.startswith("nixevent"):
            self.reply(sub.nixevent_command(line.split(" ")[1:]))
            self.fake.attach(self)
        elif lower.startswith("noevents"):
            self.reply(sub.noevents_command())
            self.fake.attach(self)
        else:
            self.reply("-ERR command not found")
            if call is not None:
                call.violation("unknown-command", line)

    def _authenticate(self, line: str, lower: str) -> None:
        if lower.startswith("auth "):
            if line[5:] == self.fake.password:
                self.authed = True
                self.reply("+OK accepted")
            else:
                self.reply("-ERR invalid")
                self.running = False
        elif lower.startswith("userauth "):
            user, _, password = line[9:].partition(":")
            if "@" in user and self.fake.users.get(user) == password and password:
                self.authed = True
                self.reply(
                    "+OK accepted",
                    [("Allowed-Events", "all"), ("Allowed-API", "all"), ("Allowed-LOG", "true")],
                )
            else:
                self.reply("-ERR invalid")
                self.running = False
        else:
            self.reply("-ERR command not found")

    def _myevents(self, line: str) -> None:
        sub = self.subscription
        if self.call is not None:
            self.reply(sub.myevents_command(self.call.uuid, line))
        else:
            if sub.myevents:
                self.reply("-ERR aready enabled.")
                return
            words = line.split(" ")
            uuid = words[1] if len(words) > 1 else ""
            if self.fake.find_call(uuid) is None and len(words) > 2:
                self.reply("-ERR invalid uuid")
                return
            self.reply(sub.myevents_command(uuid, line))
        self.fake.attach(self)

    def _divert_events(self, line: str) -> None:
        if self.call is None:
            self.reply("-ERR not controlling a session.")
            return
        value = line[13:].strip()
        if not value:
            self.reply("-ERR missing value.")
        elif value.lower() == "on":
            self.reply("+OK events diverted")
        else:
            self.reply("+OK events not diverted")

    def _sendmsg(self, command: Command, line: str) -> None:
        uuid = line[7:].strip() or (command.headers.get("session-id") or "")
        call = self.call
        if call is not None and uuid in ("", call.uuid):
            call.queue_message(command)
            self.reply("+OK")
            return
        target = self.fake.find_call(uuid) if uuid else None
        if target is not None:
            target.queue_message(command)
            self.reply("+OK")
        else:
            self.reply(f"-ERR invalid session id [{uuid}]")
            if call is not None:
                call.violation("bad-uuid", f"sendmsg to unknown session {uuid!r}")

    def _sendevent(self, command: Command, line: str) -> None:
        event_uuid = str(uuidlib.uuid4())
        word = line[9:].strip()
        name = (event_name(word) if word else None) or "CUSTOM"
        headers = [
            (key, value)
            for key, value in command.headers.pairs()
            if key.lower() not in ("content-length", "event-name")
        ]
        headers.append(("Event-UUID", event_uuid))
        subclass = command.headers.get("Event-Subclass") if name == "CUSTOM" else None
        if subclass is not None:
            headers = [(k, v) for k, v in headers if k != "Event-Subclass"]
        body = command.body.decode("utf-8", "replace") if command.body else None
        event = self.fake.source.event(name, headers, subclass=subclass, body=body)
        self.fake.publish_event(event)
        self.reply(f"+OK {event_uuid}")

    async def _api(self, text: str) -> None:
        command, _, arg = text.strip().partition(" ")
        self.outbox.hold()
        result = ""
        try:
            result = await self.fake.run_api(command, arg or None, self)
        finally:
            self.outbox.send(writers.api_response(result or "-ERR no reply\n"))
            self.outbox.release()

    def _bgapi(self, command: Command, text: str) -> None:
        job_uuid = command.headers.get("Job-UUID") or str(uuidlib.uuid4())
        name, _, arg = text.strip().partition(" ")
        self.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])

        async def job() -> None:
            result = await self.fake.run_api(name, arg or None, self)
            headers = [("Job-UUID", job_uuid), ("Job-Command", name)]
            if arg:
                headers.append(("Job-Command-Arg", arg))
            event = self.fake.source.event(
                "BACKGROUND_JOB", headers, body=result or "Command returned no output!"
            )
            self.fake.publish_event(event)

        self.spawn(job)

    def _log(self, line: str) -> None:
        spec = line[4:].strip() if len(line) > 3 else ""
        if not spec:
            level: int | None = 7
        elif spec.isdigit():
            level = min(int(spec), 7)
        else:
            level = LOG_LEVELS.get(spec.lower())
        if level is None:
            self.reply("-ERR invalid log level")
            return
        self.log_level = level
        self.fake.attach(self)
        self.reply(f"+OK log level {spec} [{level}]")

    def _linger(self, line: str) -> None:
        if self.call is None:
            self.reply("-ERR not controlling a session")
            return
        if len(line) > 7 and line[6] == " ":
            try:
                seconds = int(line[7:].strip().split(" ")[0])
            except ValueError:
                seconds = 0
            self.linger = seconds
            self.reply(f"+OK will linger {seconds} seconds")
        else:
            self.linger = -1
            self.reply("+OK will linger")
