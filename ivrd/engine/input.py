"""`menu` and `ask`: the retry loop that every peer gets wrong, owned by ivrd.

One play_and_get_digits per attempt, with `tries` 1 and a neutral invalid file (FreeSWITCH plays
that file after every failed try, silence included), so silence (`no_input`) and a wrong entry
(`invalid`) are told apart and each gets its own prompt. `first_digit_timeout` counts from the
end of the prompt, `between_digits_timeout` after each key. After `attempts` failed attempts in
all, the step ends with `too_many_attempts`.

Keys of an `on.key` hook (`*0`) typed during play_and_get_digits are collected as input; the
step recognises them at the end of what was collected, or of the keys pressed since the attempt
began. When the entry stops at the first key of a hook (a one-key menu and `*`), the step waits
up to `between_digits_timeout` for the rest from the DTMF events. The retry prompts and the
`digits`/`number` items played before play_and_get_digits are ordinary prompts: a hook stops
them as it stops any other.
"""

from __future__ import annotations

import anyio

from ivrd.engine import prompts
from ivrd.engine.call import Call, Frame, Interrupted
from ivrd.esl.applications import DigitsResult, digits_result
from ivrd.flow.routes import Route
from ivrd.flow.steps import AskStep, InputStep, MenuStep

INPUT_VARIABLE = "ivrd_input"
# Collect whatever was typed; ivrd decides what is valid (menu options, must_match, hooks).
ANY_KEYS = "[0-9*#]+"

StepOutcome = tuple[str, Route | None]

KEY_EVENTS_GRACE = 1.0
"""Seconds to wait for the DTMF events of the keys play_and_get_digits took. FreeSWITCH sends
them before its completion, so they are normally there already; a channel that sends none
(DTMF events filtered out) costs this once per attempt, and only with key hooks."""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


async def _attempt(
    call: Call, frame: Frame, step: InputStep, name: str, *, min: int, max: int, end_key: str
) -> DigitsResult:
    settings = frame.flow.input_settings(step)
    file = await prompts.input_file(call, frame, step.prompt)
    # Built here, not with ivrd.esl's play_and_get_digits_arg, which refuses a file with
    # spaces: a spoken prompt (`say:...`) has them, quoted as FreeSWITCH reads quotes.
    words = [
        str(min),
        str(max),
        "1",  # tries: ivrd owns the retry loop
        str(_ms(settings.first_digit_timeout.total_seconds())),
        end_key,
        prompts.argument_word(file),
        prompts.NEUTRAL_INVALID_FILE,
        INPUT_VARIABLE,
        ANY_KEYS,
        str(_ms(settings.between_digits_timeout.total_seconds())),
    ]
    call.interrupts.start_input()
    result = await call.app("play_and_get_digits", " ".join(words))
    return digits_result(result, INPUT_VARIABLE)


async def _check_hooks(call: Call, collected: DigitsResult, wait: float) -> None:
    """Raise `Interrupted` when the entry is (or, after `wait`, becomes) a hook's keys."""
    interrupts = call.interrupts
    if not interrupts.active_hooks():
        return
    entered = collected.digits or collected.invalid_digits
    found = interrupts.hook_for(entered)
    if found is None:
        with anyio.move_on_after(KEY_EVENTS_GRACE):
            await interrupts.wait_keys(len(entered))
        pressed = "".join(interrupts.keys)
        while interrupts.hook_for(pressed) is None and interrupts.could_become_hook(pressed):
            with anyio.move_on_after(wait) as waited:
                pressed = await interrupts.next_key()
            if waited.cancelled_caught:
                break
        found = interrupts.hook_for(pressed)
    if found is not None:
        keys, hook = found
        raise Interrupted(f"key {keys}", hook)


async def run_input(call: Call, frame: Frame, step: InputStep, name: str) -> StepOutcome:
    settings = frame.flow.input_settings(step)
    if isinstance(step, MenuStep):
        longest = max(len(key) for key in step.options)
        bounds = {"min": 1, "max": longest, "end_key": "none"}
    else:
        assert isinstance(step, AskStep)
        bounds = {"min": step.digits.min, "max": step.digits.max, "end_key": step.end_key}
    if step.sensitive and step.save_as:
        frame.sensitive.add(step.save_as)
    failures = {"no_input": 0, "invalid": 0}
    between = settings.between_digits_timeout.total_seconds()
    for attempt in range(1, settings.attempts + 1):
        try:
            collected = await _attempt(call, frame, step, name, **bounds)  # type: ignore[arg-type]
            await _check_hooks(call, collected, between)
        finally:
            call.interrupts.end_input()
        entered = collected.digits or collected.invalid_digits
        outcome = _judge(step, collected)
        if outcome == "ok":
            if step.sensitive:
                call.trace.redact.add(collected.digits)
            frame.result = {"digits": collected.digits, "attempts": attempt, **failures}
            if step.save_as:
                frame.vars[step.save_as] = collected.digits
                call.trace.changed(step.save_as, collected.digits, sensitive=step.sensitive)
            if isinstance(step, MenuStep):
                return collected.digits, step.options[collected.digits]
            assert isinstance(step, AskStep)
            return "next", step.next
        failures[outcome] += 1
        if step.sensitive and entered:
            call.trace.redact.add(entered)
        frame.result = {"digits": entered, "attempts": attempt, **failures}
        retry = settings.no_input if outcome == "no_input" else settings.invalid
        if retry.go is not None:
            return outcome, retry.go
        if attempt < settings.attempts:
            await prompts.play(call, frame, retry.prompt)
    return "too_many_attempts", settings.too_many_attempts


def _judge(step: InputStep, collected: DigitsResult) -> str:
    if collected.status == "silence":
        return "no_input"
    if collected.status == "invalid":
        return "invalid"
    if isinstance(step, MenuStep):
        return "ok" if collected.digits in step.options else "invalid"
    assert isinstance(step, AskStep)
    if step.must_match is not None and step.must_match.fullmatch(collected.digits) is None:
        return "invalid"
    return "ok"
