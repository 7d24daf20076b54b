"""The `ivrd` command line. Each command is a few lines over one library call."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import click

from ivrd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ivrd")
def main() -> None:
    """ivrd: run IVR call flows written in YAML on FreeSWITCH."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a list of {file, line, column, path, message, severity}, for editors and CI.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def validate(paths: tuple[str, ...], output_format: str, strict: bool) -> None:
    """Check flow files, or every *.yaml under directories; exit 1 on errors."""
    from ivrd.flow import format_json, format_text, validate_paths

    report = validate_paths(paths)
    if output_format == "json":
        click.echo(format_json(report.diagnostics), nl=False)
    else:
        click.echo(format_text(report.diagnostics), nl=False)
        click.echo(report.summary(), err=True)
    raise SystemExit(1 if report.failed(strict=strict) else 0)


@main.command()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE."
)
def schema(output: str | None) -> None:
    """Print the JSON Schema of flow files, for editors' YAML plugins."""
    import json

    from ivrd.flow import flow_json_schema

    text = json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)


@main.command()
@click.argument("flow_file", metavar="FLOW", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
)
def graph(flow_file: str, output_format: str) -> None:
    """Draw a flow: steps as nodes, outcomes as edges, hooks dashed."""
    from ivrd.flow import format_text, load_flow, render_dot, render_mermaid

    result = load_flow(flow_file)
    if result.flow is None:
        click.echo(format_text(result.errors), err=True, nl=False)
        raise SystemExit(1)
    render = render_dot if output_format == "dot" else render_mermaid
    click.echo(render(result.flow), nl=False)


@main.group()
def esl() -> None:
    """Event-socket tools, for debugging what FreeSWITCH sent."""


@esl.command("decode")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--frames", is_flag=True, help="Framing only: do not decode events.")
def esl_decode(file: str, frames: bool) -> None:
    """Print raw event-socket bytes (FILE, or - for stdin) as JSON lines, one per message."""
    import json

    from ivrd.esl.decode import DecodeError, decode_stream

    with click.open_file(file, "rb") as stream:
        chunks: Iterator[bytes] = iter(lambda: stream.read(65536), b"")
        try:
            for message in decode_stream(chunks, frames=frames):
                click.echo(json.dumps(message, ensure_ascii=False))
        except DecodeError as exc:
            click.echo(f"{'<stdin>' if file == '-' else file}: {exc}", err=True)
            raise SystemExit(1) from None


@main.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="IVRD_CONFIG",
    help="The configuration file (IVRD_CONFIG); without one, defaults and IVRD_* variables.",
)
@click.option("--check", is_flag=True, help="Validate the configuration and flows, then exit.")
def serve(config_path: str | None, check: bool) -> None:
    """Serve calls from FreeSWITCH's outbound socket until SIGTERM (exit 3: could not start)."""
    if check:
        from ivrd import daemon

        report = daemon.check(config_path)
        click.echo("".join(f"{d}\n" for d in report.diagnostics), err=True, nl=False)
        click.echo(report.summary(), err=True)
        raise SystemExit(report.exit_code)
    # Start-up (imports, the flows) takes a second or so before the daemon listens for signals
    # itself. A `docker stop` or `systemctl stop` in that second would kill the process (143);
    # until then SIGTERM stops it as Ctrl-C does: a clean exit 0.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from ivrd import daemon

        code = daemon.run_daemon(config_path)
    except KeyboardInterrupt:
        click.echo("ivrd: interrupted before serving; stopped", err=True)
        code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise SystemExit(code)


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _esl_options(command: _Command) -> _Command:
    """--host/--port/--password for the commands that talk to FreeSWITCH's port 8021."""
    options = [
        click.option("--host", default="127.0.0.1", envvar="IVRD_ESL_HOST", show_default=True),
        click.option("--port", default=8021, envvar="IVRD_ESL_PORT", show_default=True),
        click.option(
            "--password",
            default="ClueCon",
            envvar="IVRD_ESL_PASSWORD",
            help="The event socket's password (IVRD_ESL_PASSWORD).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@_esl_options
@click.argument("command", nargs=-1, required=True)
def api(host: str, port: int, password: str, command: tuple[str, ...]) -> None:
    """Run one FreeSWITCH API command and print its answer (exit 1 on -ERR, 2: no connection)."""
    from ivrd.esl import CommandError, CommandSocket, ESLError

    try:
        with CommandSocket(host, port, password) as fs:
            click.echo(fs.api(" ".join(command)), nl=False)
    except CommandError as exc:
        click.echo(exc.reply, err=True)
        raise SystemExit(1) from None
    except ESLError as exc:
        click.echo(f"ivrd api: {exc}", err=True)
        raise SystemExit(2) from None


@main.command()
@_esl_options
@click.option("--event", "event_names", multiple=True, metavar="NAME", help="ALL if none.")
@click.option("--filter", "filters", multiple=True, metavar="HEADER=VALUE")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(
    host: str,
    port: int,
    password: str,
    event_names: tuple[str, ...],
    filters: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print FreeSWITCH's events as they come, like fs_cli (Ctrl+C stops)."""
    import anyio

    from ivrd.esl import ESLError
    from ivrd.esl.tail import follow_events, format_event, parse_filter

    try:
        pairs = [parse_filter(text) for text in filters]
    except ESLError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None

    async def follow() -> None:
        async with follow_events(host, port, password, events=event_names, filters=pairs) as feed:
            async for event in feed:
                click.echo(format_event(event, as_json=as_json))

    try:
        anyio.run(follow)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except ESLError as exc:
        click.echo(f"ivrd events: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"ivrd events: FreeSWITCH at {host}:{port} closed the connection", err=True)
    raise SystemExit(1)


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--junit", type=click.Path(dir_okay=False, writable=True), help="Also write JUnit XML to FILE."
)
@click.option("--coverage", is_flag=True, help="Report steps and outcomes no scenario reached.")
@click.option("-j", "--jobs", default=8, show_default=True, help="Scenarios run at once.")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of scenario files and exit.")
def test_command(
    paths: tuple[str, ...], junit: str | None, coverage: bool, jobs: int, schema: bool
) -> None:
    """Run scenario files (*.test.yaml under PATHS, default .) against the fake FreeSWITCH.

    Exit 0: all passed, 1: some failed, 2: a file could not be used.
    """
    import json

    from ivrd.scenarios import run_tests, scenario_json_schema
    from ivrd.scenarios.coverage import compute_coverage, format_coverage
    from ivrd.scenarios.report import format_report, junit_xml

    if schema:
        click.echo(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
        return
    run = run_tests(paths or (".",), concurrency=jobs)
    click.echo(format_report(run), nl=False)
    if coverage:
        click.echo(format_coverage(compute_coverage(run.results)), nl=False)
    if junit is not None:
        with open(junit, "w", encoding="utf-8") as file:
            file.write(junit_xml(run))
    raise SystemExit(run.exit_code)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"'{text}' is not NAME=VALUE", param_hint=option)
        pairs[name.strip()] = value
    return pairs


@main.command()
@click.argument("flow_file", metavar="FLOW", type=click.Path(exists=True, dir_okay=False))
@click.option("--at", help="The clock at the start, e.g. 2026-12-24T10:00:00+01:00 (default: now).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A flow variable.")
@click.option("--channel", multiple=True, metavar="NAME=VALUE", help="A channel variable.")
@click.option("--caller-id", help="The caller's number.")
@click.option("--destination", help="The number dialled.")
@click.option(
    "--transfer",
    multiple=True,
    metavar="TARGET=RESULT",
    help="answered, busy, no_answer or failed (default: answered, 10 s).",
)
@click.option(
    "--queue",
    multiple=True,
    metavar="QUEUE=RESULT",
    help="answered, timeout, no_agent or missing (default: missing).",
)
@click.option("--fast", is_flag=True, help="No waiting: read all input first, then run at once.")
def simulate(
    flow_file: str,
    at: str | None,
    variables: tuple[str, ...],
    channel: tuple[str, ...],
    caller_id: str | None,
    destination: str | None,
    transfer: tuple[str, ...],
    queue: tuple[str, ...],
    fast: bool,
) -> None:
    """A call to FLOW in the terminal: prompts shown as text, you type the keys.

    Keys (0-9 * #) and Enter answer the question asked; /now KEYS presses at once; /silence
    lets a question time out; /hangup hangs up. The trace is printed at the end.
    """
    import sys

    import anyio
    from pydantic import ValidationError

    from ivrd.flow import SourceMap, format_text, load_flow
    from ivrd.flow.validation import diagnostics_from_validation_error
    from ivrd.scenarios.models import ScenarioSettings
    from ivrd.scenarios.simulate import HELP, format_ending
    from ivrd.scenarios.simulate import simulate as simulate_call

    result = load_flow(flow_file)
    if result.flow is None:
        click.echo(format_text(result.errors), err=True, nl=False)
        raise SystemExit(2)
    given = {
        "at": at,
        "variables": _pairs(variables, "--var"),
        "channel": _pairs(channel, "--channel"),
        "caller_id": caller_id,
        "destination": destination,
        "transfers": _pairs(transfer, "--transfer"),
        "queues": _pairs(queue, "--queue"),
    }
    data = {k: v for k, v in given.items() if v}
    try:
        settings = ScenarioSettings.model_validate(data)
    except ValidationError as exc:
        problem = diagnostics_from_validation_error(exc, SourceMap("", [], data))[0]
        raise click.BadParameter(f"{problem.path}: {problem.message}") from None
    if fast:
        typed = sys.stdin.read().splitlines()

        async def read_line() -> str | None:
            return typed.pop(0) if typed else None

    else:

        async def read_line() -> str | None:
            text = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
            return text.rstrip("\n") if text else None

    click.echo(f"ivrd simulate: {result.flow.name} ({flow_file}); {HELP}")
    try:
        outcome = simulate_call(
            flow_file, result.flow, settings, read_line=read_line, emit=click.echo, fast=fast
        )
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    click.echo(format_ending(outcome), nl=False)


@main.command()
@_esl_options
@click.argument("target")
@click.option("--flow", required=True, metavar="NAME", help="The flow the call runs.")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="A channel variable of the call (`call.NAME` in the flow); repeatable.",
)
@click.option("--caller-id", metavar="NUMBER", help="The caller ID number the target sees.")
@click.option("--caller-name", metavar="NAME", help="The caller ID name the target sees.")
@click.option(
    "--timeout",
    "ring_for",
    default="30s",
    show_default=True,
    metavar="DURATION",
    help="How long the target may ring.",
)
@click.option(
    "--socket",
    "socket_address",
    metavar="HOST:PORT",
    help="Where FreeSWITCH reaches ivrd; default: the configuration's listen.host:listen.port.",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="IVRD_CONFIG",
    help="ivrd's configuration (IVRD_CONFIG): FreeSWITCH's address and password, the listen "
    "address, routing.variable.",
)
def originate(
    host: str,
    port: int,
    password: str,
    target: str,
    flow: str,
    variables: tuple[str, ...],
    caller_id: str | None,
    caller_name: str | None,
    ring_for: str,
    socket_address: str | None,
    config_path: str | None,
) -> None:
    """Call TARGET and run a flow once it answers; print the call's uuid.

    Exit 1: not answered (busy, no answer...), 2: the call could not be placed.
    """
    import os

    import anyio
    from click.core import ParameterSource

    from ivrd.daemon import load_config
    from ivrd.esl import AsyncCommandSocket, ESLError
    from ivrd.esl.originate import OriginateResult, listen_address, parse_socket_address
    from ivrd.esl.originate import originate as place_call
    from ivrd.flow import DurationError, parse_duration

    def fail(message: str) -> NoReturn:
        click.echo(f"ivrd originate: {message}", err=True)
        raise SystemExit(2)

    try:
        ring_time = parse_duration(ring_for)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    pairs: dict[str, str] = {}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"NAME=VALUE, not {item!r}", param_hint="--var")
        pairs[name] = value
    loaded = load_config(config_path, os.environ)
    if loaded.config is None:
        click.echo("".join(f"{d}\n" for d in loaded.diagnostics), err=True, nl=False)
        fail("the configuration has errors")
    config = loaded.config
    # --host/--port/--password (or IVRD_ESL_*) win; else the configuration's freeswitch section.
    context = click.get_current_context()
    if context.get_parameter_source("host") is ParameterSource.DEFAULT:
        host = config.freeswitch.host
    if context.get_parameter_source("port") is ParameterSource.DEFAULT:
        port = config.freeswitch.port
    if context.get_parameter_source("password") is ParameterSource.DEFAULT:
        password = config.freeswitch.password.get_secret_value()
    flow_variable = config.routing.variable
    if flow_variable is None:
        fail("routing.variable is off in the configuration, so a call cannot name its flow")
    try:
        if socket_address is not None:
            address = parse_socket_address(socket_address)
        else:
            address = listen_address(config.listen.host, config.listen.port)
    except ESLError as exc:
        fail(f"{exc} (--socket HOST:PORT)")

    async def call() -> OriginateResult:
        async with AsyncCommandSocket(host, port, password) as client:
            return await place_call(
                client,
                target,
                flow=flow,
                socket_address=address,
                variables=pairs,
                caller_id_number=caller_id,
                caller_id_name=caller_name,
                ring_for=ring_time,
                flow_variable=flow_variable,
            )

    try:
        result = anyio.run(call)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except ESLError as exc:
        fail(str(exc))
    if not result.ok:
        click.echo(f"ivrd originate: {result}", err=True)
        raise SystemExit(1)
    click.echo(result.uuid)


@main.group()
def docs() -> None:
    """The documentation generated from the code (docs/flow-reference.md, flows.md...)."""


@docs.command("reference")
def docs_reference() -> None:
    """Print the flow language reference (Markdown), generated from the models."""
    from ivrd.flow.reference import flow_reference

    click.echo(flow_reference(), nl=False)


@docs.command("build")
@click.option(
    "--docs",
    "docs_dir",
    default="docs",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
)
@click.option(
    "--flows",
    "flows_dir",
    default="flows",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="The example flows drawn in flows.md.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is stale.")
def docs_build(docs_dir: str, flows_dir: str, check: bool) -> None:
    """Regenerate flow-reference.md, flows.md and the configuration part of operations.md."""
    from pathlib import Path

    from ivrd.daemon.config import SECTIONS
    from ivrd.daemon.loading import env_variable
    from ivrd.flow import Flow, find_flow_files, format_text, load_flow
    from ivrd.flow.reference import (
        MarkersMissing,
        embed,
        flow_reference,
        flows_page,
        settings_reference,
    )
    from ivrd.scenarios.loading import SCENARIO_SUFFIXES

    docs_path, flows_path = Path(docs_dir), Path(flows_dir)
    flows: list[tuple[str, Flow]] = []
    for file in find_flow_files(flows_path):
        if file.endswith(SCENARIO_SUFFIXES):  # `ivrd test` scenarios live next to their flows
            continue
        loaded = load_flow(file)
        if loaded.flow is None:
            click.echo(format_text(loaded.errors), err=True, nl=False)
            raise SystemExit(2)
        shown = Path(file).resolve().relative_to(flows_path.resolve().parent).as_posix()
        flows.append((shown, loaded.flow))
    operations = docs_path / "operations.md"
    try:
        current = operations.read_text(encoding="utf-8")
        configuration = settings_reference(SECTIONS, env_variable)
        wanted = {
            docs_path / "flow-reference.md": flow_reference(),
            docs_path / "flows.md": flows_page(flows),
            operations: embed(current, "configuration", configuration),
        }
    except (OSError, MarkersMissing) as exc:
        click.echo(f"ivrd docs build: {operations}: {exc}", err=True)
        raise SystemExit(2) from None
    except (LookupError, TypeError) as exc:  # a model field the reference cannot describe
        click.echo(f"ivrd docs build: {exc}", err=True)
        raise SystemExit(2) from None
    stale = [
        path
        for path, text in wanted.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    for path in stale:
        if check:
            click.echo(f"{path} is out of date: run `ivrd docs build` to regenerate it", err=True)
        else:
            path.write_text(wanted[path], encoding="utf-8")
            click.echo(f"wrote {path}", err=True)
    raise SystemExit(1 if check and stale else 0)
