"""How long loading and checking a large flow takes: a generated flow of 500 steps.

    python benchmarks/bench_flow_load.py [--steps 500] [--runs 5]

The flow mixes menus, digit entry, HTTP lookups with conditional routes, sets, transfers and
prompts in two languages, with templates everywhere. Every run uses fresh template texts, so the
template cache cannot make later runs look faster than a first load. Target: under 1 second.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ivrd.flow import load_flow_text

TARGET_SECONDS = 1.0

HEAD = """\
ivr: 1
name: generated
timezone: Europe/Berlin
languages: {default: en, available: [en, de]}
defaults:
  no_input: {prompt: again}
  invalid: {prompt: again}
  too_many_attempts: bye
services:
  api:
    base_url: https://api.example
    headers: {Authorization: "Bearer {{ secrets.TOKEN }}"}
calendars:
  office:
    hours: {mon-fri: "08:00-18:00"}
    public_holidays: {country: DE}
prompts:
  again:
    en: {say: Once more.}
    de: {say: Noch einmal.}
"""

PROMPT = """\
  p{b}:
    en:
      - {{say: "Block {b}, run {salt}: {{{{ vars.name{b} }}}}"}}
      - {{digits: "{{{{ vars.entry{b} }}}}"}}
    de: {{say: "Abschnitt {b}, Lauf {salt}: {{{{ vars.name{b} | default('') }}}}"}}
"""

BLOCK = """\
  menu{b}:
    type: menu
    prompt: p{b}
    options:
      "1": ask{b}
      "2": {{go: set{b}, set: {{name{b}: "{b}-{salt}"}}}}
      "9": {following}
  ask{b}:
    type: ask
    prompt: p{b}
    digits: {{min: 4, max: 8}}
    must_match: '^[0-9]+$'
    save_as: entry{b}
    next: http{b}
  http{b}:
    type: http
    service: api
    path: "/items/{{{{ vars.entry{b} }}}}?run={salt}"
    save_as: reply{b}
    next:
      - if: "result.status == 200 and vars.reply{b}.ok and {salt} > 0"
        go: set{b}
      - else: bye
    on_error: bye
  set{b}:
    type: set
    vars: {{name{b}: "{{{{ vars.reply{b}.name | default('x') }}}} {salt}"}}
    next: transfer{b}
  transfer{b}:
    type: transfer
    to: [user/{b}, user/{b}000]
    ring_for: 20s
    answered: {following}
    unavailable: bye
"""

TAIL = """\
  bye: {type: hangup, prompt: again}
on:
  key: {"*0": bye}
  error: bye
"""


def generate_flow(steps: int, salt: int) -> str:
    """A flow of about `steps` steps, in blocks of five (menu, ask, http, set, transfer)."""
    blocks = max(1, steps // 5)
    prompts = "".join(PROMPT.format(b=b, salt=salt) for b in range(blocks))
    body = "".join(
        BLOCK.format(b=b, salt=salt, following=f"menu{b + 1}" if b + 1 < blocks else "bye")
        for b in range(blocks)
    )
    start = (
        "start: hours\nsteps:\n"
        "  hours: {type: check_hours, calendar: office, open: menu0, closed: bye}\n"
    )
    return HEAD + prompts + start + body + TAIL


def main() -> None:
    parser = argparse.ArgumentParser(description="Time loading and checking a generated flow.")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    timings: list[float] = []
    steps = 0
    for run in range(args.runs):
        text = generate_flow(args.steps, salt=run + 1)
        started = time.perf_counter()
        result = load_flow_text(text, "generated.yaml")
        timings.append(time.perf_counter() - started)
        if result.diagnostics:
            shown = "\n".join(str(d) for d in result.diagnostics[:10])
            raise SystemExit(f"the generated flow has diagnostics:\n{shown}")
        steps = len(result.require().steps)
    median = statistics.median(timings)
    verdict = "ok" if median < TARGET_SECONDS else "MISSED"
    print(
        f"load and check a {steps}-step flow: median {median * 1000:.0f} ms, "
        f"first {timings[0] * 1000:.0f} ms, best {min(timings) * 1000:.0f} ms "
        f"over {args.runs} runs (target < {TARGET_SECONDS * 1000:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
