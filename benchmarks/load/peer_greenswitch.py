"""The load benchmark's call as greenswitch users write it: an application class per call.

    benchmarks/.venv-bench/bin/python benchmarks/load/peer_greenswitch.py --port 8084 \
        --max-connections 1000

Written after greenswitch's README and examples/outbound_socket_example.py: an application
class that takes the OutboundSession, `run()` guarding `handle_call()`, which asks for
`myevents` and `linger`, answers, plays with `block=True` (greenswitch waits for the
CHANNEL_EXECUTE_COMPLETE whose `current_application` is that application), collects digits
with `play_and_get_digits(..., block=True)`, hangs up and `stop()`s the session, served by
`OutboundESLServer(...).listen()`. The server's `max_connections` (the README passes one; the
default is 100) is set well above the concurrency measured (bench_load.py passes 10 N): a
session counts until its event greenlet notices the end, up to a second after the call, so a
limit of exactly N would refuse calls that the benchmark places as others end. Nothing else is
tuned. `set` has no helper: `call_command('set', ..., block=True)` is
greenswitch's way to run any application and wait for it.
"""

from __future__ import annotations

import argparse
import logging

import greenswitch

GREETING = "ivr/welcome.wav"
MENU = "ivr/menu.wav"
THANKS = "ivr/thanks.wav"


class SixSteps:
    def __init__(self, session: greenswitch.OutboundSession) -> None:
        self.session = session

    def run(self) -> None:
        try:
            self.handle_call()
        except Exception:
            logging.exception("Exception raised when handling call")
            self.session.stop()

    def handle_call(self) -> None:
        session = self.session
        session.myevents()
        session.linger()
        session.answer()
        session.playback(GREETING)
        digits = session.play_and_get_digits(
            "1",
            "4",
            "1",
            "5000",
            "#",
            MENU,
            "silence_stream://250",
            "choice",
            "\\d+",
            "3000",
            "''",
            block=True,
            response_timeout=30,
        )
        session.call_command("set", f"choice={digits or 'none'}", block=True)
        session.playback(THANKS)
        session.hangup()
        session.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-connections", type=int, default=100)
    options = parser.parse_args()
    server = greenswitch.OutboundESLServer(
        bind_address=options.host,
        bind_port=options.port,
        application=SixSteps,
        max_connections=options.max_connections,
    )
    server.listen()


if __name__ == "__main__":
    main()
