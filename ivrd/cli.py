"""The `ivrd` command line. Each command is a few lines over one library call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

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
    from ivrd import daemon

    if check:
        report = daemon.check(config_path)
        click.echo("".join(f"{d}\n" for d in report.diagnostics), err=True, nl=False)
        click.echo(report.summary(), err=True)
        raise SystemExit(report.exit_code)
    raise SystemExit(daemon.run_daemon(config_path))


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
