"""One method per FreeSWITCH application, each a line over `execute` (OutboundSession's base).

The argument strings come from `ivrd.esl.applications`; they match librevox's wrappers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from ivrd.esl import applications as args
from ivrd.esl.applications import (
    BridgeTarget,
    DigitsResult,
    ExecuteResult,
    VariableValue,
    digits_result,
)


class ApplicationMethods(ABC):
    """Dialplan applications on the session's own channel; each waits for its completion."""

    @abstractmethod
    async def execute(self, app: str, arg: str = "", *, loops: int | None = None) -> ExecuteResult:
        """Run one application and wait for its CHANNEL_EXECUTE_COMPLETE."""

    # -- librevox's wrappers ----------------------------------------------------------------

    async def answer(self) -> ExecuteResult:
        return await self.execute("answer")

    async def pre_answer(self) -> ExecuteResult:
        return await self.execute("pre_answer")

    async def park(self) -> ExecuteResult:
        return await self.execute("park")

    async def playback(self, file: str) -> ExecuteResult:
        return await self.execute("playback", file)

    async def play_and_get_digits(
        self,
        file: str,
        invalid_file: str,
        *,
        min: int = 1,
        max: int = 2,
        tries: int = 3,
        timeout: int = 5000,  # noqa: ASYNC109 - FreeSWITCH's argument (ms), not a wait of ours
        terminators: str = "#",
        variable: str = "read_digits_var",
        regexp: str = "\\d+",
        digit_timeout: int | None = None,
    ) -> DigitsResult:
        """Play `file` and collect digits; times are milliseconds, as FreeSWITCH takes them."""
        arg = args.play_and_get_digits_arg(
            file,
            invalid_file,
            min=min,
            max=max,
            tries=tries,
            timeout=timeout,
            terminators=terminators,
            variable=variable,
            regexp=regexp,
            digit_timeout=digit_timeout,
        )
        return digits_result(await self.execute("play_and_get_digits", arg), variable)

    async def read(
        self,
        file: str,
        *,
        min: int = 1,
        max: int = 2,
        terminators: str = "#",
        timeout: int = 5000,  # noqa: ASYNC109 - FreeSWITCH's argument (ms), not a wait of ours
        variable: str = "read_digits_var",
    ) -> DigitsResult:
        arg = args.read_arg(
            file, min=min, max=max, terminators=terminators, timeout=timeout, variable=variable
        )
        return digits_result(await self.execute("read", arg), variable)

    async def bridge(self, *endpoints: BridgeTarget, **variables: VariableValue) -> ExecuteResult:
        """`bridge("a", "b")` rings both; `bridge(["a"], ["b"])` tries a, then b.

        Keyword arguments become `{k=v}` variables for every leg; `Endpoint(target, {...})`
        sets `[k=v]` variables on one leg.
        """
        return await self.execute("bridge", args.bridge_arg(endpoints, variables))

    async def att_xfer(self, endpoint: str) -> ExecuteResult:
        return await self.execute("att_xfer", endpoint)

    async def deflect(self, uri: str) -> ExecuteResult:
        return await self.execute("deflect", uri)

    async def redirect(self, uri: str) -> ExecuteResult:
        return await self.execute("redirect", uri)

    async def respond(self, code: int | str) -> ExecuteResult:
        return await self.execute("respond", str(code))

    async def transfer(self, destination: str) -> ExecuteResult:
        """`transfer <extension> [dialplan] [context]`, passed as given."""
        return await self.execute("transfer", destination)

    async def set(self, variable: str, value: VariableValue) -> ExecuteResult:
        return await self.execute("set", args.set_arg(variable, value))

    async def multiset(self, variables: Mapping[str, VariableValue]) -> ExecuteResult:
        return await self.execute("multiset", args.multiset_arg(variables))

    async def unset(self, variable: str) -> ExecuteResult:
        return await self.execute("unset", variable)

    async def export(self, variable: str, *, local: bool | None = None) -> ExecuteResult:
        """`export var` (or `var=value`); `local=False` exports to the B leg only (`nolocal:`)."""
        return await self.execute("export", args.export_arg(variable, local))

    async def gentones(self, tgml: str) -> ExecuteResult:
        return await self.execute("gentones", tgml)

    async def record(self, path: str, *, limit: int | None = None) -> ExecuteResult:
        return await self.execute("record", args.record_arg(path, limit))

    async def bind_meta_app(
        self,
        *,
        key: str | int,
        listen_to: str,
        respond_on: str,
        application: str,
        parameters: str | None = None,
    ) -> ExecuteResult:
        arg = args.bind_meta_app_arg(key, listen_to, respond_on, application, parameters)
        return await self.execute("bind_meta_app", arg)

    async def unbind_meta_app(self, key: str | int) -> ExecuteResult:
        return await self.execute("unbind_meta_app", str(key))

    # -- what an IVR needs besides -----------------------------------------------------------

    async def sleep(self, milliseconds: int) -> ExecuteResult:
        return await self.execute("sleep", str(int(milliseconds)))

    async def say(
        self,
        text: str,
        *,
        language: str = "en",
        say_type: str = "number",
        method: str = "pronounced",
        gender: str | None = None,
    ) -> ExecuteResult:
        """`say en number pronounced 42` (mod_say)."""
        arg = args.say_arg(text, language=language, say_type=say_type, method=method, gender=gender)
        return await self.execute("say", arg)

    async def phrase(self, macro: str, data: str = "") -> ExecuteResult:
        return await self.execute("phrase", f"{macro},{data}" if data else macro)

    async def speak(
        self, text: str, *, engine: str | None = None, voice: str | None = None
    ) -> ExecuteResult:
        """Text to speech: `engine|voice|text`, or just the text with tts_engine/tts_voice set;
        the engine is handed `text` exactly, backslashes included (see `speak_arg`). A leading
        `{name=value,...}` is spoken too, never read as the engine's parameters: ivrd puts an
        empty parameter block in front of it (see `spoken_whole`)."""
        return await self.execute("speak", args.speak_arg(text, engine, voice))

    async def send_dtmf(self, digits: str, *, duration_ms: int | None = None) -> ExecuteResult:
        return await self.execute("send_dtmf", f"{digits}@{duration_ms}" if duration_ms else digits)

    async def flush_dtmf(self) -> ExecuteResult:
        return await self.execute("flush_dtmf")

    async def record_session(self, path: str) -> ExecuteResult:
        return await self.execute("record_session", path)

    async def stop_record_session(self, path: str = "all") -> ExecuteResult:
        return await self.execute("stop_record_session", path)

    async def voicemail(
        self,
        domain: str,
        box: str | None = None,
        *,
        profile: str = "default",
        check: bool = False,
        auth: bool = False,
    ) -> ExecuteResult:
        """Leave a message in `box` (or, with `check=True`, listen to the mailbox)."""
        arg = args.voicemail_arg(profile, domain, box, check=check, auth=auth)
        return await self.execute("voicemail", arg)

    async def displace_session(
        self, path: str, *, flags: str = "", limit_ms: int | None = None
    ) -> ExecuteResult:
        return await self.execute(
            "displace_session", args.displace_session_arg(path, flags, limit_ms)
        )

    async def sched_hangup(self, seconds: int, cause: str = "") -> ExecuteResult:
        """Hang up `seconds` from now (`sched_hangup +N [cause]`)."""
        return await self.execute("sched_hangup", args.sched_hangup_arg(seconds, cause))

    async def break_(self, *, all: bool = False) -> ExecuteResult:
        """The `break` application. It queues behind a running application (every one is
        sent with event-lock); to stop a prompt that is playing, use `uuid_break()`."""
        return await self.execute("break", "all" if all else "")
