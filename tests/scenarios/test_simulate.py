"""`ivrd simulate`, as a person uses it: a process reading keys from stdin.

One test runs in real time (hello, about 3 s); the others use `--fast`, where the simulated
clock lets a whole call through the company line finish at once.
"""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO

OPEN = "2026-12-22 10:00"


def simulate(*args: str, keys: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivrd", "simulate", *args],
        input=keys,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def narration(output: str) -> list[str]:
    """The lines told during the call, without their times."""
    lines = output.split("\n\n", 1)[0].splitlines()[1:]
    return [line.split("s  ", 1)[1] for line in lines]


def test_hello_in_real_time() -> None:
    done = simulate("flows/hello.yaml", keys="1\n/hangup\n")
    assert done.returncode == 0, done.stderr
    assert narration(done.stdout) == [
        "answers the call",
        "[hello] plays: Hello, and thank you for calling. Goodbye!",
        "hangs up (NORMAL_CLEARING)",
        "call hung up by the server: NORMAL_CLEARING",
        "your '1' was not used: no question came",
    ]
    ending = done.stdout.split("\n\n", 1)[1]
    assert "trace: hello, disposition hangup, hangup cause NORMAL_CLEARING" in ending
    assert "      0.00s  hello (play): next -> goodbye" in ending
    assert ending.rstrip().endswith("path: hello > goodbye")
    assert done.stderr == ""


def test_keys_answer_the_questions_in_turn() -> None:
    done = simulate(
        "flows/acme-main.yaml",
        "--at",
        OPEN,
        "--fast",
        "--transfer",
        "user/2001=busy",
        "--transfer",
        "user/2002=busy",
        keys="1\n2\n12345678#\n",
    )
    assert done.returncode == 0, done.stderr
    told = narration(done.stdout)
    assert told[:9] == [
        "answers the call",
        "[welcome] plays: ivr/acme/en/welcome.wav",
        "[choose_language] asks: ivr/acme/en/for_english_press_1.wav"
        " | ivr/acme/de/fuer_deutsch_die_2.wav   (your keys?)",
        "you press 1",
        "[main_menu] asks: ivr/acme/en/main_menu.wav   (your keys?)",
        "you press 2",
        "[account] asks: Please enter your account number, followed by the hash key."
        "   (your keys?)",
        "you press 12345678#",
        "http GET https://crm.acme.example/api/v2/accounts/12345678?fields=first_name%2Cvip"
        " -> refused (no mock matches)",
    ]
    assert "[support] transfer: ringing user/2001" in told
    assert told.count("transfer ended: USER_BUSY") == 2
    assert "[voicemail] runs voicemail default $${domain} 100" in told
    assert done.stdout.rstrip().endswith(
        "path: hours > welcome > choose_language > english > main_menu > account > lookup"
        " > record_for_quality > support > voicemail"
    )


def test_queues_are_told_and_set_with_queue() -> None:
    answered = simulate(
        "flows/acme-main.yaml",
        "--at",
        OPEN,
        "--fast",
        "--queue",
        "sales@default=answered",
        keys="1\n1\n",
    )
    assert answered.returncode == 0, answered.stderr
    told = narration(answered.stdout)
    assert "[sales] queue: waiting in sales@default" in told
    assert "queue ended: an agent answered" in told
    assert answered.stdout.rstrip().endswith("> main_menu > sales > goodbye")


def test_silence_now_wait_and_hangup() -> None:
    done = simulate(
        "flows/acme-main.yaml",
        "--at",
        OPEN,
        "--fast",
        keys="/silence\n/wait 300ms\n/now *0\nhello\n/wait 5s\n/hangup\n",
    )
    assert done.returncode == 0, done.stderr
    told = narration(done.stdout)
    assert "you stay silent" in told
    assert "you wait 0.3s" in told
    assert "you press *0" in told
    assert "? 'hello': type keys (0-9 * #) and Enter for the question asked; /now KEYS presses" in (
        "\n".join(told)
    )
    assert "[operator] transfer: ringing user/1000" in told
    assert "call hung up by the caller: NORMAL_CLEARING" in told
    assert done.stdout.rstrip().endswith(
        "path: hours > welcome > choose_language > english > main_menu > operator"
    )


def test_options_set_up_the_call() -> None:
    done = simulate(
        "flows/acme-main.yaml",
        "--at",
        "2026-12-25T10:00:00+01:00",
        "--fast",
        "--caller-id",
        "+4930123456",
        "--destination",
        "100",
        "--var",
        "operator=user/7",
        "--channel",
        "ivr_flow=acme-main",
        keys="",
    )
    assert done.returncode == 0, done.stderr
    assert "[holiday_message] plays: Acme is closed today for a public holiday." in done.stdout
    assert done.stdout.rstrip().endswith("path: hours > holiday_message")


def test_bad_options_and_flows_exit_2() -> None:
    done = simulate("flows/hello.yaml", "--at", "tomorrow", keys="")
    assert done.returncode == 2
    assert "at: 'tomorrow' is not a date and time" in done.stderr
    done = simulate("flows/hello.yaml", "--var", "nothing", keys="")
    assert done.returncode == 2
    assert "'nothing' is not NAME=VALUE" in done.stderr
    done = simulate("flows/hello.yaml", "--transfer", "user/1=bussy", keys="")
    assert done.returncode == 2
    assert "did you mean 'busy'?" in done.stderr
    done = simulate("tests/flow/broken/step-field-misspelled.yaml", keys="")
    assert done.returncode == 2
    assert "steps.hello: missing field 'prompt'" in done.stderr
