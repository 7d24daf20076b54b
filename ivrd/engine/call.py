"""One call as the interpreter sees it: its state, its templates, and the applications it runs.

`Call` holds what lives for the whole call (the session, the trace, the caller's language,
whether it is answered, hooks waiting to interrupt); a `Frame` holds what belongs to one flow
being run (the main flow, or a subflow with its own variables). Every application goes through
`Call.app`, which records it in the trace and turns a pending interruption (a key hook, the
long-call timer) into `Interrupted` once FreeSWITCH reports the application finished.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import anyio.abc

from ivrd.engine.session import CallSession
from ivrd.engine.trace import Trace
from ivrd.esl.applications import ExecuteResult
from ivrd.esl.errors import ESLError
from ivrd.esl.latch import Latch
from ivrd.esl.protocol import Event
from ivrd.flow import Flow
from ivrd.flow.escaping import Escape
from ivrd.flow.models import KeyHook
from ivrd.flow.routes import Go
from ivrd.flow.templating import Expression, Template

log = logging.getLogger("ivrd.engine")

# Friendly names for the channel data every flow wants; anything else is a channel variable.
CALL_FIELDS = {
    "uuid": "Unique-ID",
    "caller_id_number": "Caller-Caller-ID-Number",
    "caller_id_name": "Caller-Caller-ID-Name",
    "destination_number": "Caller-Destination-Number",
    "ani": "Caller-ANI",
    "network_addr": "Caller-Network-Addr",
    "context": "Caller-Context",
    "channel_name": "Channel-Name",
    "direction": "Call-Direction",
}


class Interrupted(Exception):
    """A hook took over: the current step stops and the call goes to `route`."""

    def __init__(self, reason: str, route: Go) -> None:
        super().__init__(reason)
        self.reason = reason
        self.route = route


class StepFailed(Exception):
    """A step could not do its job (a template, an argument, FreeSWITCH said no): `on.error`."""


class CallNamespace(Mapping[str, str]):
    """`call.*` in templates: friendly names, then the channel's variables, read when used."""

    def __init__(self, session: CallSession) -> None:
        self._session = session

    def __getitem__(self, key: str) -> str:
        header = CALL_FIELDS.get(key)
        value = (
            self._session.channel_data.get(header)
            if header is not None
            else self._session.variable(key)
        )
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        yield from CALL_FIELDS
        for name in self._session.channel_data:
            if name.startswith("variable_"):
                yield name[9:]

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Frame:
    """The flow being run and its variables (a subflow gets a frame of its own)."""

    flow: Flow
    vars: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    sensitive: set[str] = field(default_factory=set)


class Background:
    """The little that runs beside a call's flow (a `uuid_break`, the long-call timer), in the
    call's task group while the flow runs; it counts what still runs, to cancel only then."""

    def __init__(self) -> None:
        self.tasks: anyio.abc.TaskGroup | None = None
        self.running = 0

    def start_soon(self, function: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run `function(*args)` in the task group, if the flow still runs."""
        if self.tasks is None:
            return

        async def counted() -> None:
            try:
                await function(*args)
            finally:
                self.running -= 1

        self.running += 1
        self.tasks.start_soon(counted)


class Interrupts:
    """Key hooks and the long-call timer: things that stop whatever the call is doing.

    Keys come from DTMF events, handed to `on_dtmf` by the session's reader in the order
    FreeSWITCH sent them (a task per event could see `*0` as `0*`). Outside input steps a key
    sequence that ends the recent keys fires its hook: remember it, and break the running
    application (`uuid_break`), which then completes (as `FILE PLAYED`) and `Call.app` raises
    `Interrupted`. While play_and_get_digits runs (`input_mode`), the keys are its input; the
    input step checks what was collected, with the keys seen since the attempt began (`keys`).
    Keys pressed while a bridge, voicemail or recording runs belong to those and are ignored.
    """

    def __init__(
        self, session: CallSession, background: Background, hooks: Mapping[str, KeyHook]
    ) -> None:
        # The session and the task group, not the Call: a Call holds its Interrupts, and a
        # reference back would make a cycle that only the garbage collector frees.
        self._session = session
        self._background = background
        self.hooks = dict(hooks)
        self.longest = max((len(keys) for keys in self.hooks), default=0)
        self.keys: list[str] = []
        self.pending: Interrupted | None = None
        self.step = ""
        self.input_mode = False
        self.app_running = False
        self.app_number = 0
        """Counts the applications run, so a late break cannot hit the next one."""
        self.interruptible = True
        self._key_pressed = Latch()

    def enter(self, step: str) -> None:
        self.step = step
        self.input_mode = False

    def start_input(self) -> None:
        """play_and_get_digits is about to run: the keys from now on are its input."""
        self.input_mode = True
        self.keys.clear()

    def end_input(self) -> None:
        self.input_mode = False
        self.keys.clear()

    def active_hooks(self) -> dict[str, KeyHook]:
        return {keys: hook for keys, hook in self.hooks.items() if self.step not in hook.not_during}

    def on_dtmf(self, event: Event) -> None:
        """A DTMF event, in the session's reader (see `CallSession.listen`): must not block."""
        digit = event.last("DTMF-Digit")
        if not digit:
            return
        if self.app_running and not self.interruptible:
            return
        self.keys.append(digit)
        self._key_pressed.set()
        self._key_pressed = Latch()
        if self.input_mode:
            return
        del self.keys[: -max(self.longest, 1)]
        if not self.hooks:
            return
        pressed = "".join(self.keys)
        for keys, hook in self.active_hooks().items():
            if pressed.endswith(keys):
                self.keys.clear()
                self.fire(f"key {keys}", hook)
                return

    def fire(self, reason: str, route: Go) -> None:
        if self.pending is not None:
            return
        self.pending = Interrupted(reason, route)
        log.info("interrupting the call: %s", reason, extra={"hook": reason})
        if self.app_running and self.interruptible:
            self._background.start_soon(self._break, self.app_number)

    async def _break(self, app_number: int) -> None:
        if not (self.app_running and self.app_number == app_number):
            return  # that application ended meanwhile; the hook takes over after it
        try:
            await self._session.uuid_break()
        except ESLError as exc:
            # The application then ends by itself, and the hook takes over after it.
            log.warning("could not break the running application: %s", exc)

    def take(self) -> Interrupted | None:
        pending, self.pending = self.pending, None
        return pending

    def raise_pending(self) -> None:
        """Raise the interruption a hook asked for, if any."""
        pending = self.take()
        if pending is not None:
            raise pending

    def hook_for(self, entered: str) -> tuple[str, KeyHook] | None:
        """The active hook whose keys the entry ends with (input steps)."""
        for keys, hook in self.active_hooks().items():
            if entered.endswith(keys):
                return keys, hook
        return None

    def could_become_hook(self, entered: str) -> bool:
        """Whether the entry ends with the start of a hook's keys (`12*` and `*0`)."""
        for keys in self.active_hooks():
            for start in range(len(entered)):
                tail = entered[start:]
                if len(tail) < len(keys) and keys.startswith(tail):
                    return True
        return False

    async def wait_keys(self, count: int) -> None:
        """Until `count` keys were seen since the attempt began."""
        while len(self.keys) < count:
            await self._key_pressed.wait()

    async def next_key(self) -> str:
        """Wait for the next key; the keys pressed since the attempt began."""
        await self._key_pressed.wait()
        return "".join(self.keys)


class Call:
    """Everything about one call that outlives a single step."""

    def __init__(
        self,
        session: CallSession,
        flow: Flow,
        trace: Trace,
        *,
        secrets: Mapping[str, str],
        now: datetime,
    ) -> None:
        self.session = session
        self.flow = flow
        self.trace = trace
        self.secrets = dict(secrets)
        self.started_at = now
        self.language = flow.languages.default
        self.answered = False
        self.hangup_cause: str | None = None
        self.background = Background()
        self.interrupts = Interrupts(session, self.background, flow.on.key)
        self.namespace = CallNamespace(session)
        self.steps_taken = 0
        self.hanging_up = False
        self.root: Frame | None = None

    @property
    def uuid(self) -> str:
        return self.session.uuid

    def context(self, frame: Frame) -> dict[str, Any]:
        return {
            "call": self.namespace,
            "vars": frame.vars,
            "result": frame.result,
            "secrets": self.secrets,
            "flow": {
                "name": frame.flow.name,
                "language": self.language,
                "step": self.interrupts.step,
                "started_at": self.started_at.isoformat(),
            },
        }

    def render(
        self, template: Template, frame: Frame, *, escape: Escape | None = Escape.FREESWITCH
    ) -> str:
        """A template's text, by default headed for FreeSWITCH: a `${...}` expansion that a
        value filled in (an HTTP reply, a channel variable, keys) takes part in is refused
        (TemplateRenderError, so `on.error`), since FreeSWITCH may expand the text more than
        once; the author's own text passes as written (see ivrd.flow.escaping)."""
        if template.is_constant:
            return template.source
        reference = template.reference
        if reference is not None:
            namespace, name = reference
            values = frame.vars if namespace == "vars" else frame.result
            if name in values:
                text = template.render_value(values[name], escape=escape)
                if text is not None:
                    return text
        return template.render(self.context(frame), escape=escape)

    def value(self, template: Template, frame: Frame) -> str:
        """A template's text for ivrd itself (variables, HTTP bodies): used as rendered."""
        return self.render(template, frame, escape=None)

    def holds(self, condition: Expression, frame: Frame) -> bool:
        return bool(condition.evaluate(self.context(frame)))

    def settings(self, name: str, arg: str) -> None:
        """Queue an application that only sets variables, and go on without waiting for it.

        It goes out with the next application, which FreeSWITCH runs after it
        (`OutboundSession.enqueue`): all that settings such as `playback_terminators` need,
        without a round trip or a write of their own. The engine never reads these variables
        back, so no channel data can be stale.
        """
        self.session.enqueue(name, arg)
        self.trace.command(name, arg)

    async def app(self, name: str, arg: str = "", *, interruptible: bool = True) -> ExecuteResult:
        """Run one application; raise `Interrupted` if a hook took over meanwhile."""
        self.interrupts.raise_pending()
        if getattr(self.session, "hangup_cause", None) is None:
            # (Once the call is gone, `execute` raises CallHangup without sending anything.)
            self.trace.command(name, arg)
        interrupts = self.interrupts
        interrupts.app_running, interrupts.interruptible = True, interruptible
        interrupts.app_number += 1
        if not interruptible:
            interrupts.keys.clear()
        try:
            result = await self.session.execute(name, arg)
        finally:
            interrupts.app_running = False
        interrupts.raise_pending()
        return result
