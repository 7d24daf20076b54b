"""Placing a call into a flow: `bgapi originate` through the inbound connection.

FreeSWITCH dials the target; once it answers, the new channel runs the `socket` application
towards ivrd's outbound listener, carrying the flow's name in a channel variable (`ivr_flow`),
so the daemon routes it exactly like a call that came in through the dialplan:

    originate {origination_uuid=U,ignore_early_media=true,ivr_flow=reminder,
               origination_caller_id_number=+4930123456,originate_timeout=30,k=v}TARGET
              '&socket(10.0.0.5:8084 async full)'

How FreeSWITCH reads that line decides how values must be written (mod_commands' originate and
switch_utils.c's switch_separate_string):

- The whole argument is first split at spaces; single quotes keep a word together and are
  then removed. So the socket application is quoted (unquoted, `async` and `full` would be read
  as the dialplan and context arguments and the socket would run without them), and a value
  with spaces, such as a caller name, is quoted.
- Then the `{...}` block is split at commas, where those quotes are already gone. A comma in a
  value would start a new variable (`x,ivr_flow=other` would pick another flow), and the quoting
  that protects it in a `bridge` argument (`ivrd.esl.applications`) does not survive the first
  split: such values are refused. So are CR/LF and other control characters, quotes,
  backslashes (escapes), the dial-string brackets `{}[]<>` (which also rules out `${...}`,
  variables and API calls FreeSWITCH would expand), `|` and `:_:` (separators).

`ignore_early_media=true` is set so that ringback with media (SIP 183, as most carriers send)
does not count as an answer: the flow starts when a person (or a machine) picked up.

The reply is `+OK <uuid>` once the target answered, or `-ERR <CAUSE>` (`USER_BUSY`,
`NO_ANSWER`, `CALL_REJECTED`...) when it did not; both become an `OriginateResult`. Connection
problems raise the library's `ESLError`s, refused values `ArgumentError`, before anything is sent.
"""

from __future__ import annotations

import ipaddress
import math
import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ivrd.esl.applications import VariableValue
from ivrd.esl.errors import ArgumentError, CommandError
from ivrd.esl.inbound import InboundClient

__all__ = [
    "CAUSES",
    "DEFAULT_FLOW_VARIABLE",
    "OriginateResult",
    "SocketAddress",
    "listen_address",
    "originate",
    "originate_command",
    "parse_socket_address",
]

DEFAULT_FLOW_VARIABLE = "ivr_flow"

CAUSES: dict[str, str] = {
    "USER_BUSY": "the line is busy",
    "NO_ANSWER": "nobody answered",
    "NO_USER_RESPONSE": "the phone did not respond",
    "ALLOTTED_TIMEOUT": "nobody answered in time",
    "CALL_REJECTED": "the call was rejected",
    "ORIGINATOR_CANCEL": "the call was cancelled before it was answered",
    "UNALLOCATED_NUMBER": "the number does not exist",
    "NO_ROUTE_DESTINATION": "there is no route to that destination",
    "INVALID_NUMBER_FORMAT": "the number is not valid",
    "SUBSCRIBER_ABSENT": "the phone is switched off or out of reach",
    "USER_NOT_REGISTERED": "the user is not registered",
    "DESTINATION_OUT_OF_ORDER": "the destination is out of order",
    "NORMAL_TEMPORARY_FAILURE": "a temporary failure on the way (try again later)",
    "NETWORK_OUT_OF_ORDER": "the network is out of order",
    "RECOVERY_ON_TIMER_EXPIRE": "the far end did not respond (timer expired)",
    "GATEWAY_DOWN": "the gateway is down",
    "CHAN_NOT_IMPLEMENTED": "FreeSWITCH has no such endpoint type (check the target)",
    "MANDATORY_IE_MISSING": "the target is incomplete",
    "NORMAL_CLEARING": "the call ended before it was answered",
}
"""What FreeSWITCH's failure causes mean, for people; other causes are shown as they are."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# Never in a value or a target: each one ends a word, a variable, a block or the whole line.
_FORBIDDEN = frozenset(",'\"\\{}[]<>|")
_SEQUENCES = (":_:",)
# Variables this module writes itself; set them through the parameters instead.
_OWN = frozenset(
    [
        "origination_uuid",
        "origination_caller_id_number",
        "origination_caller_id_name",
        "originate_timeout",
    ]
)


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """Where FreeSWITCH connects the answered call: ivrd's outbound listener (`listen`)."""

    host: str
    port: int

    def __str__(self) -> str:
        # mod_event_socket's `socket` application takes the port after the last colon and
        # resolves the rest as it is, so an IPv6 address is written bare: `::1:8084`.
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """How placing one call ended.

    `ok`: the target answered and the call was handed to the flow; `uuid` is the new channel's
    uuid (ours, sent as `origination_uuid`, so it is known even when the call failed, e.g. to
    find it in FreeSWITCH's logs). `cause` is FreeSWITCH's cause when it was not answered
    (`USER_BUSY`, `NO_ANSWER`...), `reply` its words.
    """

    target: str
    uuid: str
    ok: bool
    cause: str | None
    reply: str

    @property
    def meaning(self) -> str:
        """The cause in words: `the line is busy`; `answered` when it was."""
        if self.ok:
            return "answered"
        cause = self.cause or "UNKNOWN"
        return CAUSES.get(cause, cause.lower().replace("_", " "))

    def __str__(self) -> str:
        if self.ok:
            return f"{self.target}: answered, call {self.uuid}"
        return f"{self.target}: {self.meaning} ({self.cause})"


def parse_socket_address(text: str) -> SocketAddress:
    """`HOST:PORT` (`10.0.0.5:8084`, `ivrd-1:8084`, `[::1]:8084`) as a SocketAddress."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ArgumentError(f"a socket address is HOST:PORT, e.g. 127.0.0.1:8084, not {text!r}")
    return _socket_address(host, int(port_text))


def _socket_address(host: str, port: int) -> SocketAddress:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.fullmatch(host):
            raise ArgumentError(f"socket: {host!r} is not a host name or an IP address") from None
    if not 0 < port < 65536:
        raise ArgumentError(f"socket: port {port} is not between 1 and 65535")
    return SocketAddress(host, port)


def _refusal(text: str) -> str | None:
    """What in `text` would break the originate line, or None."""
    bad = sorted({ch for ch in text if ch in _FORBIDDEN or ord(ch) < 32 or ord(ch) == 127})
    if bad:
        return "contains " + ", ".join(repr(ch) for ch in bad)
    for sequence in _SEQUENCES:
        if sequence in text:
            return f"contains {sequence!r}"
    return None


def _value(name: str, raw: VariableValue) -> str:
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    problem = _refusal(text)
    if problem is not None:
        raise ArgumentError(
            f"originate: the value of {name} {problem}, which would break FreeSWITCH's "
            "originate command"
        )
    return f"'{text}'" if " " in text else text


def _seconds(ring_for: timedelta | float) -> int:
    seconds = ring_for.total_seconds() if isinstance(ring_for, timedelta) else float(ring_for)
    if not seconds > 0 or math.isinf(seconds):
        raise ArgumentError(f"originate: ring_for must be a positive time, not {ring_for!r}")
    return math.ceil(seconds)


def originate_command(
    target: str,
    *,
    flow: str,
    socket_address: SocketAddress | str,
    uuid: str,
    variables: Mapping[str, VariableValue] | None = None,
    caller_id_number: str | None = None,
    caller_id_name: str | None = None,
    ring_for: timedelta | float = 30,
    flow_variable: str = DEFAULT_FLOW_VARIABLE,
) -> str:
    """The `originate ...` API command (without `bgapi`); ArgumentError for unsafe values."""
    problem = _refusal(target) if target else "is empty"
    if problem is None and any(ch.isspace() for ch in target):
        problem = "contains a space"
    if problem is not None:
        raise ArgumentError(
            f"originate: the target {target!r} {problem}; give one endpoint such as "
            "user/1000 or sofia/gateway/NAME/NUMBER"
        )
    address = (
        socket_address
        if isinstance(socket_address, SocketAddress)
        else parse_socket_address(socket_address)
    )
    extra = dict(variables or {})
    for name in extra:
        if not _NAME.fullmatch(name):
            raise ArgumentError(f"originate: {name!r} is not a channel variable name")
        if name in _OWN or name == flow_variable:
            raise ArgumentError(
                f"originate: set {name} with the flow, caller ID or ring_for parameters instead"
            )
    if not _NAME.fullmatch(flow_variable):
        raise ArgumentError(f"originate: {flow_variable!r} is not a channel variable name")
    if not flow:
        raise ArgumentError("originate: name the flow the call runs")
    pairs: dict[str, VariableValue] = {"origination_uuid": uuid, "ignore_early_media": True}
    pairs[flow_variable] = flow
    if caller_id_number is not None:
        pairs["origination_caller_id_number"] = caller_id_number
    if caller_id_name is not None:
        pairs["origination_caller_id_name"] = caller_id_name
    pairs["originate_timeout"] = _seconds(ring_for)
    pairs.update(extra)
    block = ",".join(f"{name}={_value(name, value)}" for name, value in pairs.items())
    return f"originate {{{block}}}{target} '&socket({address} async full)'"


def _failure_cause(text: str) -> str | None:
    """`-ERR USER_BUSY` -> USER_BUSY; also the long form `... cause: USER_BUSY`."""
    rest = text.strip().removeprefix("-ERR").strip()
    if _CAUSE.fullmatch(rest):
        return rest
    found = re.search(r"cause: ([A-Z][A-Z0-9_]*)", text)
    return found.group(1) if found else None


async def originate(
    client: InboundClient,
    target: str,
    *,
    flow: str,
    socket_address: SocketAddress | str,
    variables: Mapping[str, VariableValue] | None = None,
    caller_id_number: str | None = None,
    caller_id_name: str | None = None,
    ring_for: timedelta | float = 30,
    flow_variable: str = DEFAULT_FLOW_VARIABLE,
    uuid: str | None = None,
) -> OriginateResult:
    """Call `target` and, once it answers, run `flow` on it; how it went.

    `socket_address` is where FreeSWITCH reaches ivrd's outbound listener (`HOST:PORT`);
    `variables` become channel variables of the call (`call.NAME` in the flow's templates);
    `ring_for` is how long the target may ring (`originate_timeout`, seconds or a timedelta);
    `flow_variable` is the daemon's `routing.variable`. Returns when FreeSWITCH answers the
    job: at once when the target is busy, after up to `ring_for` when nobody answers (the
    client's `timeouts.job` bounds the wait). Raises ArgumentError for a value that cannot be
    written safely, and the `ESLError`s of a lost or refused connection.

    A reminder or survey campaign calls a list of numbers with a bounded number of calls
    ringing at once; each answered call then runs in the daemon like any other (keep the
    limiter below the daemon's `limits.max_calls`)::

        async def remind(appointments: dict[str, str]) -> dict[str, OriginateResult]:
            results: dict[str, OriginateResult] = {}
            ringing = anyio.CapacityLimiter(10)

            async def call(number: str, appointment: str) -> None:
                async with ringing:
                    results[number] = await originate(
                        client,
                        f"sofia/gateway/carrier/{number}",
                        flow="appointment-reminder",
                        socket_address="10.0.0.5:8084",
                        variables={"appointment_id": appointment},
                        caller_id_number="+4930123456",
                        ring_for=30,
                    )

            async with AsyncCommandSocket("10.0.0.2", 8021, password) as client:
                async with anyio.create_task_group() as tg:
                    for number, appointment in appointments.items():
                        tg.start_soon(call, number, appointment)
            return results

    Afterwards `[n for n, r in results.items() if r.cause in ("USER_BUSY", "NO_ANSWER")]`
    are the numbers worth another try later.
    """
    call_uuid = uuid or str(uuidlib.uuid4())
    command = originate_command(
        target,
        flow=flow,
        socket_address=socket_address,
        uuid=call_uuid,
        variables=variables,
        caller_id_number=caller_id_number,
        caller_id_name=caller_id_name,
        ring_for=ring_for,
        flow_variable=flow_variable,
    )
    try:
        output = await client.bgapi(command)
    except CommandError as exc:
        cause = _failure_cause(exc.reply)
        if cause is None:
            raise
        return OriginateResult(target, call_uuid, False, cause, exc.reply.strip())
    reply = output.strip()
    if not reply.startswith("+OK"):
        raise CommandError(command.split(" ", 1)[0], f"unexpected answer {reply[:200]!r}")
    answered = reply.removeprefix("+OK").strip()
    return OriginateResult(target, answered or call_uuid, True, None, reply)


_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


def listen_address(host: str, port: int) -> SocketAddress:
    """The socket address of an ivrd listening on `host:port` (its `listen` settings).

    An ivrd listening on every interface (`0.0.0.0`, `::`) or on a port picked at start (0)
    cannot tell FreeSWITCH where to connect: ArgumentError says so.
    """
    if host.strip() in _WILDCARDS:
        raise ArgumentError(
            f"ivrd listens on every interface ({host or 'empty'}), so FreeSWITCH needs to be "
            "told which of its addresses to connect to"
        )
    if port == 0:
        raise ArgumentError("ivrd listens on a port picked at start (0); name the port")
    return _socket_address(host.strip(), port)
