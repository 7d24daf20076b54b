"""The load benchmark's call as a hand-written ivrd library session (no flow, no daemon).

    python benchmarks/load/ivrd_library.py --port 8084

`OutboundServer` with its defaults (backlog 4096, plain events, linger) and the events the
call does not read stopped (`unneeded_events`, the daemon's list, and the keys with
`stop_events`, as the daemon does for a flow without key hooks, so that every ivrd row and the
references are sent the same events), on uvloop when it is installed, as `ivrd serve`
chooses its loop (`runtime.event_loop: auto`), and a handler
that drives `OutboundSession`: every application waits for its own CHANNEL_EXECUTE_COMPLETE
(matched by Event-UUID) before the next one is sent. bench_outbound.py runs the same
`six_steps` in-process.
"""

from __future__ import annotations

import argparse
import logging

import anyio

from ivrd.daemon.server import UNREAD_EVENTS
from ivrd.esl import OutboundServer, OutboundSession

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"


async def six_steps(session: OutboundSession) -> None:
    session.stop_events("DTMF")  # the digits come from play_and_get_digits
    await session.answer()
    await session.playback(GREETING)
    entry = await session.play_and_get_digits(
        MENU,
        "silence_stream://250",
        min=1,
        max=4,
        tries=1,
        timeout=5000,
        variable="choice",
        digit_timeout=3000,
    )
    await session.set("choice", entry.digits or "none")
    await session.playback(THANKS)
    await session.hangup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    # As `ivrd serve` at `logging.level: warning`: problems are logged, calls are not.
    logging.basicConfig(level=logging.WARNING)
    server = OutboundServer(six_steps, options.host, options.port, unneeded_events=UNREAD_EVENTS)
    try:
        import uvloop  # noqa: F401
    except ImportError:
        anyio.run(server.serve)
    else:
        anyio.run(server.serve, backend_options={"use_uvloop": True})


if __name__ == "__main__":
    main()
