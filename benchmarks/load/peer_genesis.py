"""The load benchmark's call as Genesis users write it: an `Outbound` server and a handler.

    benchmarks/.venv-bench/bin/python benchmarks/load/peer_genesis.py --port 8084

Written after Genesis's README and its outbound quickstart (docs/content/docs/Quickstart/
outbound.md): `Outbound(handler, host, port)` with its defaults (events=True: `filter
Unique-ID <uuid>` and `event plain all`; linger=True), `asyncio.run(app.start())`, and the call
driven through `session.channel`. `playback` and `play_and_get_digits` block until their
CHANNEL_EXECUTE_COMPLETE (Genesis's default, block=True, matched by Application-UUID);
`answer` and `hangup` return on the `+OK`, as Genesis implements them. Genesis has no `set`
helper, so the variable is set with `session.sendmsg(..., block=True)`, its documented way
to run any application. Plain asyncio, no uvloop: Genesis only uses uvloop when asked to
(`genesis.use_uvloop()`), and ivrd's defaults are measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio

from genesis import Outbound, Session

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"


async def handler(session: Session) -> None:
    channel = session.channel
    assert channel is not None, "Genesis sets session.channel once `connect` answered"
    await channel.answer()
    await channel.playback(GREETING)
    entry = await channel.play_and_get_digits(
        tries=1,
        timeout=5000,
        terminators="#",
        file=MENU,
        minimal=1,
        maximum=4,
        invalid_file="silence_stream://250",
        var_name="choice",
        regexp="\\d+",
        digit_timeout=3000,
    )
    digits = entry.get("variable_choice") or "none"
    await session.sendmsg("execute", "set", f"choice={digits}", block=True)
    await channel.playback(THANKS)
    await channel.hangup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    app = Outbound(handler, options.host, options.port)
    asyncio.run(app.start())


if __name__ == "__main__":
    main()
