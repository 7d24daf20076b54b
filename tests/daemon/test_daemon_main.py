"""`run_daemon`'s exit code 3 for every way of not starting, and `ivrd serve --check`."""

from __future__ import annotations

import gc
import socket
import sys
from pathlib import Path

import pytest
from _daemon_helpers import flow_yaml, write_flows
from click.testing import CliRunner

from ivrd.cli import main
from ivrd.daemon import (
    EXIT_CANNOT_START,
    EXIT_CRASHED,
    EXIT_OK,
    Config,
    check,
    load_config,
    run_daemon,
)
from ivrd.daemon.main import EventLoop, choose_event_loop, serving_gc

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(text, encoding="utf-8")
    return file


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        (
            "limits: {max_calls: 0}\n",
            {},
            "config.yaml:1:21: limits.max_calls: must be at least 1",
        ),
        (
            "",
            {"IVRD_LISTEN_PORT": "http"},
            "environment IVRD_LISTEN_PORT: listen.port: must be a whole number, not 'http'",
        ),
        ("flows: {directory: gone}\n", {}, "config.yaml:1:20: flows.directory: no such directory"),
        (
            "logging: {file: /nonexistent/ivrd.log}\n",
            {},
            "could not start: config.yaml:1:17: logging.file: cannot open "
            "/nonexistent/ivrd.log: No such file or directory",
        ),
    ],
)
def test_a_bad_configuration_cannot_start(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    environ: dict[str, str],
    expected: str,
) -> None:
    write_flows(tmp_path / "flows", "main")
    file = write_config(tmp_path, text)
    assert run_daemon(file, environ=environ) == EXIT_CANNOT_START
    errors = capsys.readouterr().err.replace(f"{tmp_path}/", "")
    assert expected in errors


def test_an_address_in_use_cannot_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_flows(tmp_path / "flows", "main")
    file = write_config(tmp_path, "routing: {default: main}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = run_daemon(file, environ={"IVRD_LISTEN_PORT": str(port), "IVRD_HTTP_PORT": "0"})
    assert code == EXIT_CANNOT_START
    assert (
        f"could not start: cannot listen on 127.0.0.1:{port}: the address is already in use"
        in capsys.readouterr().err
    )


def test_check_passes_the_example_configuration() -> None:
    report = check(REPO / "config.example.yaml", environ={})
    assert report.diagnostics == []
    assert report.exit_code == EXIT_OK
    assert report.summary() == "3 flow(s) (acme-main, hello, pin-check): 0 error(s), 0 warning(s)"


def test_check_finds_broken_flows_and_routes_to_nowhere(tmp_path: Path) -> None:
    flows = write_flows(tmp_path / "flows", "main")
    (flows / "broken.yaml").write_text(flow_yaml("broken").replace("type: hangup", "type: hangpu"))
    file = write_config(tmp_path, "routing: {default: mian}\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(file), "--check"])
    assert result.exit_code == EXIT_CRASHED
    assert result.output.replace(f"{tmp_path}/", "").splitlines() == [
        "config.yaml:1:20: routing.default: no flow named 'mian' in flows; did you mean 'main'?",
        "flows/broken.yaml:10:11: steps.bye.type: unknown step type 'hangpu'; "
        "did you mean 'hangup'?",
        "1 flow(s) (main): 2 error(s), 0 warning(s)",
    ]


def test_check_reports_a_bad_configuration_with_exit_code_3(tmp_path: Path) -> None:
    file = write_config(tmp_path, "limits: {max_call: 3}\n")
    (tmp_path / "flows").mkdir()
    result = CliRunner().invoke(main, ["serve", "--config", str(file), "--check"])
    assert result.exit_code == EXIT_CANNOT_START
    assert result.output.replace(f"{tmp_path}/", "").splitlines() == [
        "config.yaml:1:10: limits.max_call: unknown field 'max_call'; did you mean 'max_calls'?",
        "the configuration has errors (1 error(s), 0 warning(s))",
    ]


def test_the_config_file_can_be_named_by_ivrd_config(tmp_path: Path) -> None:
    write_flows(tmp_path / "flows", "main")
    file = write_config(tmp_path, "routing: {default: main}\n")
    result = CliRunner().invoke(main, ["serve", "--check"], env={"IVRD_CONFIG": str(file)})
    assert result.exit_code == EXIT_OK
    assert result.output == "1 flow(s) (main): 0 error(s), 0 warning(s)\n"


def _config(tmp_path: Path, text: str = "") -> Config:
    write_flows(tmp_path / "flows", "main")
    return load_config(write_config(tmp_path, text), {}).require()


def test_the_event_loop_is_uvloop_when_installed_unless_asyncio_is_asked_for(
    tmp_path: Path,
) -> None:
    uvloop = pytest.importorskip("uvloop")
    auto = choose_event_loop(_config(tmp_path))
    assert auto == EventLoop("asyncio", {"use_uvloop": True}, f"uvloop {uvloop.__version__}")
    asked = choose_event_loop(_config(tmp_path, "runtime: {event_loop: asyncio}\n"))
    assert asked == EventLoop("asyncio", {}, "asyncio")
    assert choose_event_loop(_config(tmp_path), backend="trio") == EventLoop("trio", {}, "trio")


def test_without_uvloop_auto_takes_asyncio_and_uvloop_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    auto = choose_event_loop(_config(tmp_path))
    assert auto == EventLoop("asyncio", {}, "asyncio (uvloop is not installed)")
    file = write_config(tmp_path, "runtime: {event_loop: uvloop}\n")
    assert run_daemon(file, environ={"IVRD_LISTEN_PORT": "0", "IVRD_HTTP_PORT": "0"}) == 3
    assert (
        "could not start: runtime.event_loop is uvloop, but uvloop is not installed "
        "(pip install uvloop)" in capsys.readouterr().err
    )


def test_serving_freezes_what_was_loaded_and_puts_the_collector_back() -> None:
    before = gc.get_threshold()
    with serving_gc(threshold=12_345):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (max(12_345, before[0]), *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
