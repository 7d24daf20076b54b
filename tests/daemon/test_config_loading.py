"""Reading config.yaml and IVRD_* variables: every error with its whole message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ivrd.daemon import ConfigError, env_variable, load_config, read_secrets
from ivrd.daemon.loading import ConfigResult
from ivrd.flow import Severity


def load(tmp_path: Path, text: str, **environ: str) -> ConfigResult:
    (tmp_path / "flows").mkdir(exist_ok=True)
    file = tmp_path / "config.yaml"
    file.write_text(text, encoding="utf-8")
    return load_config(file, environ, check_paths=True)


def messages(result: ConfigResult, tmp_path: Path) -> list[str]:
    return [str(d).replace(str(tmp_path), "TMP") for d in result.diagnostics]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "listen: {port: abc}\n",
            "TMP/config.yaml:1:16: listen.port: must be a whole number, not 'abc'",
        ),
        (
            "listen:\n  port: 70000\n",
            "TMP/config.yaml:2:9: listen.port: must be at most 65535",
        ),
        (
            "limits:\n  max_call: 5\n",
            "TMP/config.yaml:2:3: limits.max_call: unknown field 'max_call'; "
            "did you mean 'max_calls'?",
        ),
        (
            "limit: {max_calls: 5}\n",
            "TMP/config.yaml:1:1: limit: unknown field 'limit'; did you mean 'limits'?",
        ),
        ("limits: {max_calls: 0}\n", "TMP/config.yaml:1:21: limits.max_calls: must be at least 1"),
        (
            "limits: {drain_timeout: 30}\n",
            "TMP/config.yaml:1:25: limits.drain_timeout: '30' has no unit; "
            "write a number with a unit: 500ms, 5s, 2m, 1h or 1m30s",
        ),
        (
            "limits: {when_full: drop}\n",
            "TMP/config.yaml:1:21: limits.when_full: must be one of hangup, resume, not 'drop'",
        ),
        (
            "logging: {format: jsn}\n",
            "TMP/config.yaml:1:19: logging.format: must be one of text, json, not 'jsn'; "
            "did you mean 'json'?",
        ),
        (
            "flows: {watch: yes}\n",
            "TMP/config.yaml:1:16: flows.watch: must be true or false, not 'yes'",
        ),
        (
            "listen:\n  allowed_peers: [10.0.0.0/8, fs1]\n",
            "TMP/config.yaml:2:31: listen.allowed_peers.1: 'fs1' is not an IP address or "
            "network such as 10.0.0.5 or 10.0.0.0/24",
        ),
        (
            "routing:\n  routes:\n    - {destination: '^(1', flow: sales}\n",
            "TMP/config.yaml:3:21: routing.routes.0.destination: not a valid regular "
            "expression: missing ), unterminated subpattern at position 1",
        ),
        (
            "routing:\n  routes:\n    - {destination: '^1'}\n",
            "TMP/config.yaml:3:7: routing.routes.0: missing field 'flow'",
        ),
        (
            "routing: {default: 'main menu'}\n",
            "TMP/config.yaml:1:20: routing.default: 'main menu' is not a valid name: use "
            "letters, digits, '_' and '-', starting with a letter",
        ),
        (
            "flows: {directory: nowhere}\n",
            "TMP/config.yaml:1:20: flows.directory: no such directory: TMP/nowhere",
        ),
        (
            "flows: {directory: config.yaml}\n",
            "TMP/config.yaml:1:20: flows.directory: is not a directory: TMP/config.yaml",
        ),
        (
            "limits:\n\tmax_calls: 5\n",
            "TMP/config.yaml:2:1: a tab character here; YAML indents with spaces only",
        ),
        (
            "- listen\n",
            "TMP/config.yaml:1:1: the configuration is a mapping of sections "
            "(listen, flows, routing, freeswitch, limits, logging, http, secrets, runtime)",
        ),
    ],
)
def test_file_errors_name_the_line_the_path_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    result = load(tmp_path, text)
    assert result.config is None
    assert messages(result, tmp_path) == [expected]
    with pytest.raises(ConfigError, match="the configuration has errors"):
        result.require()


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    result = load(tmp_path, "listen: {port: x}\nlimits: {max_calls: 0, max_steps: 0}\n")
    assert [d.path for d in result.errors] == [
        "listen.port",
        "limits.max_calls",
        "limits.max_steps",
    ]


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    result = load_config(tmp_path / "nope.yaml", {})
    assert messages(result, tmp_path) == [
        "TMP/nope.yaml:1:1: cannot read the configuration file: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"IVRD_LIMITS_MAX_CALLS": "many"},
            "environment IVRD_LIMITS_MAX_CALLS: limits.max_calls: must be a whole number, "
            "not 'many'",
        ),
        (
            {"IVRD_LIMITS_MAX_CALLS": "0"},
            "environment IVRD_LIMITS_MAX_CALLS: limits.max_calls: must be at least 1",
        ),
        (
            {"IVRD_LIMITS_MAX_CALL": "5"},
            "environment IVRD_LIMITS_MAX_CALL: not an ivrd setting; "
            "did you mean 'IVRD_LIMITS_MAX_CALLS'?",
        ),
        (
            {"IVRD_ROUTING_ROUTES": "[{destination: '^1', flw: sales}]"},
            "environment IVRD_ROUTING_ROUTES: routing.routes.0: missing field 'flow'",
        ),
        (
            {"IVRD_ROUTING_ROUTES": "[{destination: '^1'"},
            "environment IVRD_ROUTING_ROUTES: YAML syntax: the '{' on line 1 is not closed "
            "(expected ',' or '}', but got '<stream end>')",
        ),
        (
            {"IVRD_FLOWS_DIRECTORY": "/nonexistent/flows"},
            "environment IVRD_FLOWS_DIRECTORY: flows.directory: no such directory: "
            "/nonexistent/flows",
        ),
    ],
)
def test_an_error_in_a_variable_names_the_variable(
    tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    result = load(tmp_path, "", **environ)
    assert result.config is None
    assert expected in messages(result, tmp_path)


def test_a_misspelt_routes_key_in_a_variable_gets_a_did_you_mean(tmp_path: Path) -> None:
    result = load(tmp_path, "", IVRD_ROUTING_ROUTES="[{destination: '^1', flw: sales}]")
    assert (
        "environment IVRD_ROUTING_ROUTES: routing.routes.0.flw: unknown field 'flw'; "
        "did you mean 'flow'?"
    ) in messages(result, tmp_path)


def test_an_unknown_section_in_a_variable_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, "", IVRD_LIMIT_MAX_CALLS="5")
    assert result.config is not None
    (warning,) = result.diagnostics
    assert warning.severity is Severity.WARNING
    assert str(warning) == (
        "environment IVRD_LIMIT_MAX_CALLS: warning: not an ivrd setting; ignored; "
        "did you mean 'IVRD_LIMITS_MAX_CALLS'?"
    )


def test_variables_win_over_the_file(tmp_path: Path) -> None:
    text = (
        "listen: {port: 9000, allowed_peers: [10.9.9.9]}\n"
        "limits: {max_calls: 5, drain_timeout: 1m}\n"
        "routing: {default: hello, routes: [{destination: '^9', flow: nine}]}\n"
    )
    result = load(
        tmp_path,
        text,
        IVRD_LISTEN_PORT="8085",
        IVRD_LISTEN_ALLOWED_PEERS="10.0.0.5, 10.1.0.0/16",
        IVRD_LIMITS_MAX_CALLS="200",
        IVRD_LIMITS_DRAIN_TIMEOUT="",
        IVRD_ROUTING_ROUTES="[{destination: '^5000$', flow: acme-main}]",
        IVRD_FREESWITCH_PASSWORD="s3cret",
        IVRD_SECRET_CRM_TOKEN="not a setting",
        IVRD_CONFIG="not a setting either",
    )
    config = result.require()
    assert result.diagnostics == ()
    assert config.listen.port == 8085
    assert config.listen.allowed_peers == ("10.0.0.5", "10.1.0.0/16")
    assert config.limits.max_calls == 200
    assert config.limits.drain_timeout == timedelta(seconds=30)  # empty: the default
    assert [(r.destination.pattern, r.flow) for r in config.routing.routes] == [
        ("^5000$", "acme-main")
    ]
    assert config.routing.default == "hello"
    assert config.freeswitch.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)
    assert config.env_settings[("limits", "max_calls")] == "IVRD_LIMITS_MAX_CALLS"


def test_every_key_has_its_variable() -> None:
    assert env_variable("limits", "max_calls") == "IVRD_LIMITS_MAX_CALLS"
    assert env_variable("listen", "allowed_peers") == "IVRD_LISTEN_ALLOWED_PEERS"


def test_without_a_file_defaults_and_variables_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "callflows").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"IVRD_FLOWS_DIRECTORY": "callflows"}).require()
    assert config.file is None
    assert config.flows_directory == Path("callflows")
    assert config.listen.port == 8084
    assert config.limits.max_calls == 100


def test_relative_paths_in_the_file_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    (etc / "flows").mkdir(parents=True)
    (etc / "config.yaml").write_text("logging: {file: ivrd.log}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config("etc/config.yaml", {}).require()
    assert config.flows_directory == Path("etc/flows")
    assert config.log_file == Path("etc/ivrd.log")


def test_an_empty_file_means_every_default(tmp_path: Path) -> None:
    config = load(tmp_path, "# nothing here yet\n").require()
    assert config.routing.variable == "ivr_flow"
    assert config.limits.when_full == "hangup"
    assert config.limits.call_timeout == timedelta(hours=4)


def test_secrets_come_from_the_prefix_and_the_names(tmp_path: Path) -> None:
    config = load(tmp_path, "secrets: {names: [CRM_TOKEN, MISSING]}\n").require()
    environ = {"IVRD_SECRET_PIN_API": "p", "CRM_TOKEN": "c", "IVRD_SECRET_": "empty name"}
    secrets, missing = read_secrets(config, environ)
    assert secrets == {"PIN_API": "p", "CRM_TOKEN": "c"}
    assert missing == ["MISSING"]


def test_the_secret_prefix_can_be_changed_or_turned_off(tmp_path: Path) -> None:
    config = load(tmp_path, "secrets: {env_prefix: ACME_}\n", ACME_X="1").require()
    assert read_secrets(config, {"ACME_X": "1", "IVRD_SECRET_Y": "2"})[0] == {"X": "1"}
    config = load(tmp_path, "secrets: {env_prefix: ''}\n").require()
    assert read_secrets(config, {"IVRD_SECRET_Y": "2"})[0] == {}


def test_the_example_config_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    result = load_config(example, {})
    config = result.require()
    assert result.diagnostics == ()
    assert config.routing.default == "hello"
    documented = example.read_text(encoding="utf-8")
    for section in type(config).model_fields:
        assert f"\n{section}:" in documented
        for key in type(getattr(config, section)).model_fields:
            assert f"  {key}:" in documented, f"{section}.{key} is not in the example"


def test_paths_are_only_checked_when_asked(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("flows: {directory: /etc/ivrd/flows}\n", encoding="utf-8")
    assert load_config(file, {}).diagnostics == ()
    assert [str(d) for d in load_config(file, {}, check_paths=True).errors] == [
        f"{file}:1:20: flows.directory: no such directory: /etc/ivrd/flows"
    ]


def test_the_event_loop_is_auto_asyncio_or_uvloop(tmp_path: Path) -> None:
    assert load(tmp_path, "").require().runtime.event_loop == "auto"
    asked = load(tmp_path, "", IVRD_RUNTIME_EVENT_LOOP="uvloop").require()
    assert asked.runtime.event_loop == "uvloop"
    assert messages(load(tmp_path, "runtime: {event_loop: trio}\n"), tmp_path) == [
        "TMP/config.yaml:1:23: runtime.event_loop: must be one of auto, asyncio, uvloop, not 'trio'"
    ]
