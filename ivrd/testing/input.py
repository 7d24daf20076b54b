"""`play_and_get_digits` and `read`, ported from switch_ivr_play_say.c and switch_ivr.c.

`read`: clear `read_result` and the variable; play the prompt, which ANY key ends (that key is
collected); then collect digits: `timeout` ms for the first one (the digit timeout if a key came
during the prompt), `digit_timeout` ms between digits, until `max` digits or a terminator (not
collected; it becomes `read_terminator_used`). Fewer than `min` digits is a failure. Then
`read_result` is success, timeout or failure, and the variable holds the digits.

`play_and_get_digits` repeats `read` up to `tries` times: a result with digits passes if there
is no regex or it matches; a regex mismatch unsets the variable and sets `<var>_invalid`; an
entry shorter than `min` is not regex-tested. After every failed try, the last one included,
it plays the invalid file (which keys do not interrupt). Hanging up ends it with no response.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ivrd.testing.media import play_file, pre_answer_channel
from ivrd.testing.separate import separate_string

if TYPE_CHECKING:
    from ivrd.testing.execution import Execution, RunningApp


# How many words mod_dptools splits each argument into (its `char *argv[N]`); the last word
# allowed keeps the rest of the text, spaces and all.
PLAY_AND_GET_DIGITS_WORDS = 11
READ_WORDS = 7


def split_arguments(text: str, limit: int = 1024) -> list[str]:
    """The words of an application's argument as mod_dptools gets them: switch_separate_string
    at spaces, so `''` is an empty word that keeps every later argument in its place, a quoted
    part with spaces is one word, and backslash escapes are undone."""
    return separate_string(text, " ", limit)


_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")


def _atoi(words: list[str], index: int, default: int) -> int:
    """C's atoi of an argument, as mod_dptools reads numbers (`12x` is 12, `x` is 0);
    `default` when the argument is not there at all."""
    if index >= len(words):
        return default
    number = _ATOI.match(words[index])
    return int(number.group(1)) if number is not None else 0


def _terminators(words: list[str], index: int) -> str:
    """`#` when absent or empty, as mod_dptools does; `none` is no key at all."""
    given = words[index] if index < len(words) else ""
    if not given:
        return "#"
    return "" if given.lower() == "none" else given


async def _collect(
    call: Execution,
    running: RunningApp,
    buffer: str,
    max_digits: int,
    terminators: str,
    first_timeout: float,
    digit_timeout: float,
) -> tuple[str, str, str]:
    """switch_ivr_collect_digits_count: (status, digits, terminator)."""
    for position, digit in enumerate(buffer):
        if terminators and digit in terminators:
            return "success", buffer[:position], digit
    collected = list(buffer)
    deadline = call.clock() + first_timeout
    keys: list[str] = []

    def take(digit: str) -> bool:
        keys.append(digit)
        return True

    while True:
        keys.clear()
        outcome = await call.media(running, deadline - call.clock(), on_dtmf=take)
        if outcome == "hangup":
            return "false", "".join(collected), ""
        if not keys:
            if outcome == "done":
                return "timeout", "".join(collected), ""
            continue  # a break stops prompts, not the collection
        digit = keys[0]
        deadline = call.clock() + digit_timeout
        if terminators and digit in terminators:
            return "success", "".join(collected), digit
        collected.append(digit)
        if len(collected) >= max_digits:
            return "success", "".join(collected), ""


async def ivr_read(
    call: Execution,
    running: RunningApp,
    *,
    min_digits: int,
    max_digits: int,
    prompt: str,
    variable: str,
    timeout_ms: int,
    terminators: str,
    digit_timeout_ms: int,
) -> tuple[str, str]:
    """switch_ivr_read: (status, digits); status is success/timeout/too_small/false."""
    state = call.state
    max_digits = max(max_digits, min_digits)
    if not digit_timeout_ms:
        digit_timeout_ms = timeout_ms
    state.set_var("read_result", None)
    if variable:
        state.set_var(variable, None)
    pre_answer_channel(call)
    buffer = ""
    status = "success"
    if prompt and prompt.lower() != "silence":
        keys: list[str] = []

        def first_key(digit: str) -> bool:
            keys.append(digit)
            return True

        outcome = await play_file(call, running, prompt, first_key)
        buffer = "".join(keys)
        if outcome == "hangup":
            status = "false"
        elif outcome == "notfound":
            status = "notfound"
    if status == "success":
        terminator = ""
        if (min_digits and len(buffer) < min_digits) or len(buffer) < max_digits:
            status, buffer, terminator = await _collect(
                call,
                running,
                buffer,
                max_digits,
                terminators,
                (digit_timeout_ms if buffer else timeout_ms) / 1000,
                digit_timeout_ms / 1000,
            )
        if status != "false":
            if terminator:
                state.set_var("read_terminator_used", terminator)
            if min_digits and len(buffer) < min_digits:
                status = "too_small"
            result = {"success": "success", "timeout": "timeout"}.get(status, "failure")
            state.set_var("read_result", result)
    if max_digits == 1 and len(buffer) == 1 and terminators and buffer in terminators:
        buffer = ""
    if variable and buffer:
        state.set_var(variable, buffer)
    return status, buffer


async def play_and_get_digits(call: Execution, running: RunningApp) -> str | None:
    words = split_arguments(running.arg, PLAY_AND_GET_DIGITS_WORDS)
    # mod_dptools' rules: what is missing is 0 (tries too: no try at all), a timeout of a
    # second or less is a second, max is at least min, no terminator given is `#`.
    min_digits = max(0, _atoi(words, 0, 0))
    max_digits = max(min_digits, _atoi(words, 1, 0))
    tries = _atoi(words, 2, 0)
    timeout_ms = max(1000, _atoi(words, 3, 1000))
    terminators = _terminators(words, 4)
    prompt = words[5] if len(words) > 5 else ""
    invalid = words[6] if len(words) > 6 else ""
    variable = words[7] if len(words) > 7 else "pagd_input"
    regex = words[8] if len(words) > 8 else ""
    digit_timeout_ms = max(0, _atoi(words, 9, 0))
    state = call.state
    if regex and variable:
        state.set_var(f"{variable}_invalid", None)
    while state.up and tries:
        status, digits = await ivr_read(
            call,
            running,
            min_digits=min_digits,
            max_digits=max_digits,
            prompt=prompt,
            variable=variable,
            timeout_ms=timeout_ms,
            terminators=terminators,
            digit_timeout_ms=digit_timeout_ms,
        )
        if status == "timeout" and len(digits) >= min_digits:
            status = "success"
        if min_digits == 0 and not digits and state.get_var("read_terminator_used") is not None:
            return None
        if not (status == "too_small" and not digits) and status == "success" and digits:
            if not regex or _matches(digits, regex):
                return None
            state.set_var(variable, None)
            state.set_var(f"{variable}_invalid", digits)
        if state.hangup_cause is not None:
            break
        if invalid:
            await play_file(call, running, invalid, None)
        tries -= 1
    return None


def _matches(digits: str, regex: str) -> bool:
    try:
        return re.search(regex, digits) is not None
    except re.error:
        return False


async def read(call: Execution, running: RunningApp) -> str | None:
    words = split_arguments(running.arg, READ_WORDS)
    # mod_dptools' rules for `read`: at least one digit, max at least min, a timeout of a
    # second or less is a second, no terminator given is `#`.
    min_digits = max(1, _atoi(words, 0, 0))
    await ivr_read(
        call,
        running,
        min_digits=min_digits,
        max_digits=max(min_digits, _atoi(words, 1, 0)),
        prompt=words[2] if len(words) > 2 else "",
        variable=words[3] if len(words) > 3 else "",
        timeout_ms=max(1000, _atoi(words, 4, 1000)),
        terminators=_terminators(words, 5),
        digit_timeout_ms=max(0, _atoi(words, 6, 0)),
    )
    return None
