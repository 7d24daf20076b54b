"""The `api` / `bgapi` commands the fake answers, with FreeSWITCH's output texts.

`originate` places a call: `loopback/<ext>` goes through the dialplan to the outbound socket
server at `FakeFreeSWITCH.socket_address` and the reply waits until that channel is answered
(`+OK <uuid>`, the A leg's uuid) or gone (`-ERR <cause>`), as `api originate` blocks in the
captures; any other endpoint rings per `FakeFreeSWITCH.originate_caller.bridge` and, when it
answers, runs `&socket(host:port async full)` as a new call (`&park()` and other applications
only answer). Its line is read as mod_commands reads it (switch_separate_string: quotes,
escapes; `undef` for an empty place) and the call url's `{variables}` (switch_event_create_brackets)
go on the new channel. Commands registered in `FakeFreeSWITCH.api_handlers` come first.
"""

from __future__ import annotations

import inspect
import json
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from ivrd.testing._signal import Spawn
from ivrd.testing.bridge import leg_result, parse_dial_string, seconds_value
from ivrd.testing.channel import Channel
from ivrd.testing.record import HangupBy
from ivrd.testing.separate import separate_string, take_variables

if TYPE_CHECKING:
    from ivrd.testing.fake import FakeFreeSWITCH
    from ivrd.testing.outbound import OutboundCall

ApiHandler = Callable[[str], str | Awaitable[str]]
Builtin = Callable[["FakeFreeSWITCH", str, Spawn], Awaitable[str]]
NO_CHANNEL = "-ERR No such channel!\n"


async def run_api(fake: FakeFreeSWITCH, command: str, arg: str | None, spawn: Spawn) -> str:
    headers = [("API-Command", command)]
    if arg:
        headers.append(("API-Command-Argument", arg))
    fake.publish_event(fake.source.event("API", headers))
    handler = fake.api_handlers.get(command)
    if handler is not None:
        result = handler(arg or "")
        if inspect.isawaitable(result):
            return str(await result)
        return str(result)
    builtin = BUILTINS.get(command)
    if builtin is None:
        return f"-ERR {command} Command not found!\n"
    return await builtin(fake, arg or "", spawn)


def _uptime_text(seconds: float) -> str:
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    years, days = divmod(days, 365)
    micro = int((seconds - whole) * 1_000_000)
    return (
        f"UP {years} years, {days} days, {hours} hours, {minutes} minutes, {secs} seconds, "
        f"{micro // 1000} milliseconds, {micro % 1000} microseconds\n"
    )


async def status(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    active = len(fake.calls)
    return (
        _uptime_text(fake.source.uptime())
        + f"FreeSWITCH (Version {fake.version}) is ready\n"
        + f"{fake.sessions_since_startup} session(s) since startup\n"
        + f"{active} session(s) - peak {fake.peak_sessions}, last 5min {active} \n"
        + "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        + "1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
    )


async def uptime(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    return f"{int(fake.source.uptime())}\n"


async def version(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    return f"FreeSWITCH Version {fake.version}\n"


async def hostname(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    return fake.source.hostname


async def echo(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    return arg


async def global_getvar(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    if not arg:
        return "".join(f"{name}={value}\n" for name, value in fake.global_variables.items())
    return fake.global_variables.get(arg.strip(), "")


async def global_setvar(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    name, _, value = arg.partition("=")
    fake.global_variables[name.strip()] = value.strip()
    return "+OK\n"


async def eval_(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    if arg.startswith("uuid:"):
        uuid, _, text = arg[5:].partition(" ")
        call = fake.find_call(uuid)
        if call is None:
            return ""
        return call.expand(text)
    for name, value in fake.global_variables.items():
        arg = arg.replace("${" + name + "}", value).replace("$${" + name + "}", value)
    return arg


def _call_and_rest(
    fake: FakeFreeSWITCH, arg: str, *, hung_up_too: bool = False
) -> tuple[OutboundCall | None, str]:
    uuid, _, rest = arg.strip().partition(" ")
    call = fake.find_call(uuid)
    if call is not None and not call.state.up and not hung_up_too:
        call = None
    return call, rest.strip()


async def uuid_kill(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    call, rest = _call_and_rest(fake, arg)
    if call is None:
        return NO_CHANNEL
    # Killing a loopback call's A leg is its caller hanging up (loopback passes the cause on).
    by: HangupBy = "server" if arg.split(" ", 1)[0] == call.uuid else "caller"
    call.hangup(rest or "NORMAL_CLEARING", by)
    return "+OK\n"


async def uuid_break(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    call, rest = _call_and_rest(fake, arg)
    if call is None:
        return NO_CHANNEL
    call.break_media(flush=rest.lower() == "all")
    return "+OK\n"


async def uuid_getvar(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    uuid, _, name = arg.strip().partition(" ")
    call = fake.find_call(uuid)
    if call is None:
        return NO_CHANNEL
    return call.state.get_var(name.strip()) or "_undef_"


async def uuid_setvar(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    # A hung-up channel lingers until the socket sends `exit`: its variables still take
    # values (for the CDR, written when it is destroyed).
    call, rest = _call_and_rest(fake, arg, hung_up_too=True)
    if call is None:
        return NO_CHANNEL
    name, _, value = rest.partition(" ")
    if not name:
        return "-USAGE: <uuid> <var> [value]\n"
    call.state.set_var(name, value or None)
    return "+OK\n"


async def uuid_setvar_multi(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    # A hung-up channel lingers until the socket sends `exit`: its variables still take
    # values (for the CDR, written when it is destroyed).
    call, rest = _call_and_rest(fake, arg, hung_up_too=True)
    if call is None:
        return NO_CHANNEL
    for item in rest.split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            call.state.set_var(name.strip(), value or None)
    return "+OK\n"


async def uuid_exists(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    call, _ = _call_and_rest(fake, arg)
    return "true" if call is not None else "false"


async def uuid_dump(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    uuid, _, format = arg.strip().partition(" ")
    call = fake.find_call(uuid)
    if call is None:
        return NO_CHANNEL
    pairs = [("Event-Name", "CHANNEL_DATA"), *call.state.dump()]
    if format.strip() == "json":
        return json.dumps(dict(pairs), ensure_ascii=False)
    return "".join(f"{name}: {value}\n" for name, value in pairs)


def _dtmf(source: str, verb: str) -> Builtin:
    async def api(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
        call, rest = _call_and_rest(fake, arg)
        if call is None:
            return NO_CHANNEL
        digits = rest.split("@")[0]
        for digit in digits:
            if digit.upper() in "0123456789*#ABCD":
                call.press(digit, source=source)
        return f"+OK {call.uuid} {verb} DTMF {digits}.\n"

    return api


async def show(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    words = arg.split()
    if not words or words[0] not in ("channels", "calls"):
        return "-USAGE: show channels|calls [count]\n"
    calls = [call for call in fake.calls.values() if call.state.up]
    if "count" in words[1:]:
        return f"\n{len(calls)} total.\n"
    lines = ["uuid,direction,created,name,state,cid_num,dest,application,callstate"]
    for call in calls:
        state = call.state
        options = state.options
        lines.append(
            ",".join(
                (
                    call.uuid,
                    "inbound",
                    str(state.times["Channel-Created-Time"] // 1_000_000),
                    state.name,
                    state.state,
                    options.caller_id_number,
                    options.destination_number,
                    state.get_var("current_application") or "",
                    state.call_state,
                )
            )
        )
    return "\n".join(lines) + f"\n\n{len(calls)} total.\n"


def _socket_target(app: str | None, arg: str | None) -> tuple[str, int] | None:
    """`socket` with `127.0.0.1:8084 async full` -> ("127.0.0.1", 8084)."""
    if app != "socket" or not arg:
        return None
    host, _, port = arg.split(" ")[0].rpartition(":")
    try:
        return (host or "127.0.0.1", int(port or "8084"))
    except ValueError:
        return None


def _application(exten: str) -> tuple[str | None, str | None]:
    """`&name(arg)` as originate reads it: the name, and the text up to the first `)`."""
    if not exten.startswith("&") or len(exten) < 2:
        return None, None
    app = exten[1:].split(")", 1)[0]
    name, paren, arg = app.partition("(")
    return name, (arg if paren else None)


async def originate(fake: FakeFreeSWITCH, arg: str, spawn: Spawn) -> str:
    """mod_commands' originate: `<call url> <exten>|&app(arg) [dialplan] [context] [cid_name]
    [cid_num] [timeout]`, split like any API argument (quotes, escapes); the call url's
    `{variables}` go on the new channel."""
    words: list[str | None] = list(separate_string(arg, " ", 10))
    if not 2 <= len(words) <= 7:
        return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] ...\n"
    words = [None if word is not None and word.lower() == "undef" else word for word in words]
    words += [None] * (7 - len(words))
    aleg, exten, _dialplan, _context, cid_name, cid_number, seconds = words
    if not aleg or not exten:
        return "-ERR INVALID_NUMBER_FORMAT\n"
    variables, dial_string = take_variables(aleg)
    _, groups = parse_dial_string(dial_string)
    if not groups:
        return "-ERR INVALID_NUMBER_FORMAT\n"
    leg = groups[0][0]
    variables.update(leg.variables)
    uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
    timeout = seconds_value(variables.get("originate_timeout")) or seconds_value(seconds) or 60.0
    # The positional caller id, unless the dial string's variables say otherwise.
    caller_id = (
        variables.get("origination_caller_id_number") or cid_number or "0000000000",
        variables.get("origination_caller_id_name") or cid_name or "",
    )
    if leg.target.startswith("loopback/"):
        return await _originate_loopback(
            fake, leg.target, uuid, variables, caller_id, timeout, spawn
        )
    result = leg_result(fake.originate_caller, leg, variables, timeout)
    await anyio.sleep(result.after)
    if result.leg is None:
        return f"-ERR {result.cause}\n"
    target = _socket_target(*_application(exten))
    if target is not None:
        channel = Channel(
            uuid=uuid,
            caller_id_number=caller_id[0],
            caller_id_name=caller_id[1],
            destination_number=leg.target.rsplit("/", 1)[-1],
            channel_name=leg.target,
            variables=variables,
            answered=True,
        )
        call = fake.new_call(*target, caller=fake.originate_caller, channel=channel)

        async def run() -> None:
            await fake.connect_and_run(call, *target)

        spawn(run)
    return f"+OK {uuid}\n"


async def _originate_loopback(
    fake: FakeFreeSWITCH,
    target: str,
    uuid: str,
    variables: dict[str, str],
    caller_id: tuple[str, str],
    ring_for: float,
    spawn: Spawn,
) -> str:
    """The B leg of `loopback/<ext>[/<context>]` runs the dialplan, which sends it to the socket.
    The `{variables}` stay on the A leg, except those named in `loopback_export`."""
    parts = target.split("/")
    extension = parts[1] if len(parts) > 1 else ""
    context = parts[2] if len(parts) > 2 else "default"
    if fake.socket_address is None or not extension:
        return "-ERR NO_ROUTE_DESTINATION\n"
    host, port = fake.socket_address
    exported = [name for name in variables.get("loopback_export", "").split(",") if name]
    channel = Channel(
        caller_id_number=caller_id[0],
        caller_id_name=caller_id[1],
        destination_number=extension,
        context=context,
        variables={
            **{name: variables[name] for name in exported if variables.get(name)},
            "origination_uuid": uuid,
            "other_loopback_leg_uuid": uuid,
        },
    )
    call = fake.new_call(host, port, caller=fake.originate_caller, channel=channel)
    fake.a_legs[uuid] = call.uuid

    async def run() -> None:
        await fake.connect_and_run(call, host, port)

    spawn(run)
    with anyio.move_on_after(ring_for):
        while not call.answered.is_set() and not call.done.is_set():
            await call.changed.wait()
        if call.answered.is_set():
            return f"+OK {uuid}\n"
        return f"-ERR {call.record.hangup_cause or 'NORMAL_CLEARING'}\n"
    call.hangup("ORIGINATOR_CANCEL", "switch")
    return "-ERR NO_ANSWER\n"


BUILTINS: dict[str, Builtin] = {
    "status": status,
    "uptime": uptime,
    "version": version,
    "hostname": hostname,
    "echo": echo,
    "global_getvar": global_getvar,
    "global_setvar": global_setvar,
    "eval": eval_,
    "uuid_kill": uuid_kill,
    "uuid_break": uuid_break,
    "uuid_getvar": uuid_getvar,
    "uuid_setvar": uuid_setvar,
    "uuid_setvar_multi": uuid_setvar_multi,
    "uuid_exists": uuid_exists,
    "uuid_dump": uuid_dump,
    "uuid_recv_dtmf": _dtmf("APP", "received"),
    "uuid_send_dtmf": _dtmf("UNKNOWN", "sent"),
    "show": show,
    "originate": originate,
}
