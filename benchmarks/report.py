"""docs/benchmarks.md and its plots, written from the parser run's and the load run's results.

`write_report` is a function of its inputs (the two runs' JSON, the machine, the date), so a test
can feed it made-up results; run_all.py feeds it real ones. The plots need matplotlib (in the
benchmark environment); without it the page says so instead of showing them.

The parser targets are judged here (bench_parser.py prints them too); the load targets by
benchmarks/load/targets.py, the same lines bench_load.py prints.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Issue 8: ivrd's parser at least 2x greenswitch's events/s and 6x genesis's.
PARSER_TARGETS = (("greenswitch", 2.0), ("genesis", 6.0))
# The figure the targets judge: ivrd's parser as the daemon uses it. The issue names decoding
# header values only when they are read as a way to the targets, and the daemon never decodes
# all of an event's headers.
JUDGED = (
    "ivrd-typical",
    "as the daemon reads: name + 5 headers of every event, decoded when read",
)
# Shown beside it, not judged: the peers' work, every header of every event decoded.
LIKE_FOR_LIKE = "ivrd-full"
COLORS = {
    "ivrd-serve": "#1f5fa8",
    "ivrd-library": "#6fa8dc",
    "genesis": "#e69138",
    "greenswitch": "#38a169",
    "ivrd-protocol": "#9fc5e8",
    "floor": "#888888",
}
REFERENCES = ("ivrd-protocol", "floor")
"""Load-run rows that are not servers but say where a call's CPU goes (drawn dashed)."""
SHOWN_ENVIRONMENT = ("date", "cpu", "cores", "kernel", "python", "versions")
VERSIONED = ("ivrd", "genesis", "greenswitch", "gevent", "anyio", "uvloop", "matplotlib")
REPRODUCE = "benchmarks/setup.sh && benchmarks/.venv-bench/bin/python benchmarks/run_all.py"
UNCHARTED = ("floor-split", "ivrd-framing")
PLOTS = {
    "parser": "parser-events-per-second.png",
    "calls": "load-calls-per-second.png",
    "p99": "load-p99-turnaround.png",
}


def environment() -> dict[str, Any]:
    """This machine and the versions this interpreter has installed."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in VERSIONED:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "versions": versions,
    }


# Targets


def _by_name(parser: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in parser["results"]}


def parser_targets(parser: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per peer: ivrd's judged figure's ratio of events/s, and whether it is met."""
    rows = _by_name(parser)
    figure, meaning = JUDGED
    targets = []
    for peer, wanted in PARSER_TARGETS:
        ratio = _ratio(rows, figure, peer)
        targets.append(
            {
                "figure": figure,
                "meaning": meaning,
                "peer": peer,
                "target": wanted,
                "ratio": ratio,
                "met": None if ratio is None else ratio >= wanted,
            }
        )
    return targets


def _ratio(rows: dict[str, dict[str, Any]], figure: str, peer: str) -> float | None:
    if figure not in rows or peer not in rows:
        return None
    return float(rows[figure]["events_per_s"] / rows[peer]["events_per_s"])


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "MISSED")


def like_for_like(parser: dict[str, Any]) -> str | None:
    """ivrd-full's ratios to the peers ("1.97x greenswitch's, 5.10x genesis's"): shown with the
    targets, not judged by them."""
    rows = _by_name(parser)
    ratios = [
        f"{ratio:.2f}x {peer}'s"
        for peer, _ in PARSER_TARGETS
        if (ratio := _ratio(rows, LIKE_FOR_LIKE, peer)) is not None
    ]
    return ", ".join(ratios) if ratios else None


def parser_target_lines(parser: dict[str, Any]) -> list[str]:
    lines = []
    for target in parser_targets(parser):
        measured = "-" if target["ratio"] is None else f"{target['ratio']:.2f}x"
        lines.append(
            f"{target['figure']} / {target['peer']}: {measured} (target >= {target['target']:g}x,"
            f" {target['meaning']}): {_verdict(target['met'])}"
        )
    like = like_for_like(parser)
    if like is not None:
        lines.append(f"{LIKE_FOR_LIKE} / peers: {like} events/s (like for like, not judged)")
    return lines


def load_target_lines(load: dict[str, Any]) -> list[str]:
    from load.targets import target_lines  # benchmarks/load/, next to this module

    return target_lines(load)


# Markdown


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _code(value: str) -> str:
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}"


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _machine(
    env: dict[str, Any], parser: dict[str, Any] | None, load: dict[str, Any] | None
) -> list[str]:
    versions = env.get("versions", {})
    rows: list[list[object]] = [["page written", env["date"]]]
    if parser is not None and "date" in parser:
        rows.append(["parser run", _when(parser["date"])])
    if load is not None and "date" in load.get("environment", {}):
        rows.append(["load run", _when(load["environment"]["date"])])
    rows += [
        ["CPU", f"{env['cpu']}, {env['cores']} cores"],
        ["kernel", env["kernel"]],
        ["Python", env["python"]],
    ]
    rows += [[package, version or "not installed"] for package, version in versions.items()]
    # What the load run says of itself beyond the above (core pinning, event loop...).
    for key, value in (load or {}).get("environment", {}).items():
        if key not in SHOWN_ENVIRONMENT:
            rows.append([f"load run: {key}", value])
    return ["## Machine and versions", "", *_table(["", ""], rows)]


def _parser_section(parser: dict[str, Any], plots: dict[str, Path]) -> list[str]:
    rows = _by_name(parser)
    greenswitch = rows.get("greenswitch", {}).get("events_per_s")
    lines = [
        "## Parser run",
        "",
        f"{parser['events']:,} text/event-{parser.get('format', 'plain')} events (every event of "
        "the FreeSWITCH captures, with a real SIP call's channel variables added), "
        f"{parser['mean_event_bytes'] / 1000:.1f} KB per event on average, read by each "
        f"contender in the same process, best of {parser.get('repeat', '?')} round(s) in CPU "
        "time (benchmarks/bench_parser.py). `floor-decode` is the reference: every decoder's "
        "values are compared with its values, header by header.",
        "",
    ]
    table = []
    for row in parser["results"]:
        if row["values_equal_floor"] is None:
            equal = "-"
        elif row["values_equal_floor"]:
            equal = "yes"
        else:
            equal = f"no: {row['mismatches']:,} differ"
        versus = f"{row['events_per_s'] / greenswitch:.2f}x" if greenswitch else "-"
        table.append(
            [
                _code(row["name"]),
                f"{row['events_per_s']:,.0f}",
                f"{row['mb_per_s']:.1f}",
                versus,
                equal,
                row["note"],
            ]
        )
    head = ["contender", "events/s", "MB/s", "vs greenswitch", "values = floor's", "what"]
    lines += _table(head, table)
    skipped = [
        f"- {_code(skip['name'])} skipped: {skip['reason']}" for skip in parser.get("skipped", [])
    ]
    lines += [*skipped, ""] if skipped else []
    examples = [row for row in parser["results"] if row.get("example")]
    if examples:
        lines.append("Values that differ from the floor's, one example each:")
        lines.append("")
        for row in examples:
            example = row["example"]
            lines.append(
                f"- {_code(row['name'])}: {_code(example['header'])} is "
                f"{_code(_shorten(repr(example['floor'])))}, read as "
                f"{_code(_shorten(example['got']))}"
            )
        lines.append("")
    lines += [
        "Both peers decode every header of every event as they read it (genesis: "
        "`parse_headers` unquotes each line; greenswitch: `ESLEvent.parse_data` unquotes the "
        "whole body first, then splits it into lines, so a value holding an encoded newline, "
        "such as an SDP, comes out altered, and an event's own body is glued onto its last "
        "header). So `ivrd-full` is the like-for-like figure; `ivrd-typical`, the one the "
        "targets judge, is what ivrd's daemon does with an event: its name and a few headers, "
        "each decoded when read. The peers run through their own reader loops on in-memory "
        "streams (benchmarks/parser_peers.py says exactly what of theirs runs).",
        "",
    ]
    lines += _eager_bound(rows)
    if "parser" in plots:
        lines += [f"![parser events per second](benchmarks/{plots['parser'].name})", ""]
    return lines


def _eager_bound(rows: dict[str, dict[str, Any]]) -> list[str]:
    """What `floor-eager` says of any Python parser that decodes every header, ivrd's included."""
    bound, full = rows.get("floor-eager"), rows.get("ivrd-full")
    if bound is None or full is None:
        return []
    versus = [
        f"{bound['events_per_s'] / rows[peer]['events_per_s']:.2f}x {peer}'s"
        for peer, _ in PARSER_TARGETS
        if peer in rows
    ]
    return [
        "`floor-eager` is ivrd's own whole-block split and decode with nothing around it (no "
        "parser, none of the checks that keep it exact on any input, no `_undef_` rule): the "
        "fastest way we know to decode every header in Python. It reads "
        + (", ".join(versus) + " events/s, and " if versus else "")
        + f"`ivrd-full` reaches {full['events_per_s'] / bound['events_per_s']:.0%} of it.",
        "",
    ]


LOAD_COLUMNS = (
    ("N", "concurrency", "{}"),
    ("calls", "calls", "{}"),
    ("completed", "completed", "{}"),
    ("failed", "failed", "{}"),
    ("calls/s", "calls_per_s", "{:.1f}"),
    ("server CPU ms/call", "server_cpu_ms_per_call", "{:.2f}"),
    ("p50 ms", "turnaround_p50_ms", "{:.2f}"),
    ("p99 ms", "turnaround_p99_ms", "{:.2f}"),
    ("KiB/call", "memory_kib_per_call", "{:.1f}"),
    ("loadgen CPU s", "loadgen_cpu_s", "{:.2f}"),
)


def _load_section(load: dict[str, Any], plots: dict[str, Path]) -> list[str]:
    lines = [
        "## Load run",
        "",
        "The fake FreeSWITCH opens N concurrent calls with a SIP call's channel data against "
        "each server; every call runs the same six applications (answer, playback, "
        "play_and_get_digits, set a variable from the digits, playback, hangup). The load "
        "generator and the server each have a core of their own. Turnaround: from an "
        "EXECUTE_COMPLETE to the next `sendmsg`, measured by the fake "
        "(benchmarks/bench_load.py says exactly how each column is measured).",
        "",
    ]
    if any(item["name"] in REFERENCES for item in load["implementations"]):
        lines += [
            "Two rows are references, not servers (no time limits, no error handling): "
            "`floor` makes the same call with the least Python there can be (frames found in "
            "the bytes, nothing decoded); `ivrd-protocol` is the same with ivrd's sans-I/O "
            "layer framing, reading and building the commands. What `ivrd-library` costs "
            "above `ivrd-protocol` is the session's share (tasks, waits, time limits); what "
            "`ivrd-serve` costs above `ivrd-library`, the flow engine's and the daemon's.",
            "",
        ]
    head = ["implementation"] + [title for title, _, _ in LOAD_COLUMNS] + ["note"]
    table = []
    for implementation in load["implementations"]:
        for run in implementation["runs"]:
            cells: list[object] = [_code(implementation["name"])]
            cells += [fmt.format(run[key]) for _, key, fmt in LOAD_COLUMNS]
            table.append([*cells, run.get("note", "")])
    lines += _table(head, table)
    lines += _cpu_rounds_table(load)
    growth = load.get("growth") or []
    if growth:
        columns = list(growth[0])
        lines += [
            "Growth check: batches of calls one after another in one `ivrd serve`. Timed, its "
            "CPU per call moves by about a tenth from batch to batch on a shared machine; the "
            "check that rules out a gentle trend counts instead (functions called per call and "
            "objects left alive, batch after batch: tests/reliability/test_hot_path_growth.py, "
            "in CI):",
            "",
        ]
        lines += _table(columns, [[row.get(column, "") for column in columns] for row in growth])
    for key, title in (("calls", "calls per second"), ("p99", "p99 turnaround")):
        if key in plots:
            lines += [f"![{title} against concurrency](benchmarks/{plots[key].name})", ""]
    return lines


def _cpu_rounds_table(load: dict[str, Any]) -> list[str]:
    """Every run of the comparison with greenswitch: the table's, then the rounds taking turns;
    CPU per call, then p99 turnaround (where the rounds measured it)."""
    from load.targets import cpu_medians, p99_medians  # benchmarks/load/

    rounds = load.get("cpu_rounds") or []
    if not rounds:
        return []
    lines = [
        "Rounds: ivrd-serve and greenswitch in more throughput runs, the two taking turns, so "
        "that a slow spell of the shared machine slows both; the CPU and p99 targets are judged "
        "on each one's median (benchmarks/bench_load.py, `cpu_rounds`). Server CPU ms per call:",
        "",
        *_rounds_table(load, "server_cpu_ms_per_call", "cpu", cpu_medians),
    ]
    if any(row.get("p99") is not None for row in rounds):
        lines += [
            "p99 turnaround, ms:",
            "",
            *_rounds_table(load, "turnaround_p99_ms", "p99", p99_medians),
        ]
    return lines


def _rounds_table(
    load: dict[str, Any],
    column: str,
    key: str,
    medians_of: Callable[[dict[str, Any], str], dict[int, float]],
) -> list[str]:
    from load.targets import rows_by_concurrency  # benchmarks/load/

    rounds = load["cpu_rounds"]
    measured = {row["name"] for row in rounds}
    names = [run["name"] for run in load["implementations"] if run["name"] in measured]
    numbers = sorted({row["round"] for row in rounds})
    values = {(row["name"], row["concurrency"], row["round"]): row.get(key) for row in rounds}
    head = ["implementation", "N", "run 1 (table)"] + [f"run {n}" for n in numbers] + ["median"]
    table = []
    for name in names:
        medians = medians_of(load, name)
        for concurrency, row in rows_by_concurrency(load, name).items():
            runs = [row[column]]
            runs += [values.get((name, concurrency, number)) for number in numbers]
            runs.append(medians.get(concurrency))
            shown = ["-" if value is None else f"{value:.2f}" for value in runs]
            table.append([_code(name), concurrency, *shown])
    return _table(head, table)


def _targets_section(parser: dict[str, Any] | None, load: dict[str, Any] | None) -> list[str]:
    lines = ["## Targets (issue 8)", ""]
    if parser is not None:
        rows = []
        for target in parser_targets(parser):
            ratio = "-" if target["ratio"] is None else f"{target['ratio']:.2f}x"
            rows.append(
                [
                    f"parser: {_code(target['figure'])} at least {target['target']:g}x "
                    f"{target['peer']}'s events/s ({target['meaning']})",
                    ratio,
                    _verdict(target["met"]),
                ]
            )
        lines += _table(["target", "measured", "verdict"], rows)
        like = like_for_like(parser)
        if like is not None:
            lines += [
                f"The parser targets judge `{JUDGED[0]}`: ivrd's parser as the daemon uses it, "
                "each value decoded when it is read, which is the way to these targets the "
                "issue names. The daemon never reads all of an event's headers, and each of "
                f"the five only in the events that carry it; `{JUDGED[0]}` asks every event for "
                "all five, so most of its reads search a whole event in vain. Its values, "
                "and every value of an event read whole, are checked against the floor's. The "
                "peers decode every header of every event, read or not; doing that work too, "
                f"`{LIKE_FOR_LIKE}` reads {like} events/s (not judged).",
                "",
            ]
    if load is not None:
        lines += [f"- load: {line}" for line in load_target_lines(load)]
        lines.append("")
    return lines


def write_report(
    parser: dict[str, Any] | None,
    load: dict[str, Any] | None,
    docs: Path,
    env: dict[str, Any],
    *,
    quick: bool = False,
) -> Path:
    """Write docs/benchmarks.md (and docs/benchmarks/*.png when matplotlib is there)."""
    plots_dir = docs / "benchmarks"
    try:
        import matplotlib
    except ImportError:
        plots: dict[str, Path] = {}
        plot_note = "Plots not drawn: matplotlib is not installed (benchmarks/setup.sh has it)."
    else:
        matplotlib.use("Agg")
        plots = draw_plots(parser, load, plots_dir)
        plot_note = ""
    lines = [
        "# Benchmarks",
        "",
        f"Written on {env['date']} by `benchmarks/run_all.py{' --quick' if quick else ''}` "
        "from the runs below (do not edit by hand: run it again).",
        "",
    ]
    if quick:
        lines += ["**Quick run**: smaller sizes for a smoke check; not figures to quote.", ""]
    if plot_note:
        lines += [plot_note, ""]
    lines += _machine(env, parser, load)
    lines += _targets_section(parser, load)
    if parser is not None:
        lines += _parser_section(parser, plots)
    if load is not None:
        lines += _load_section(load, plots)
    lines += [
        "## How to reproduce",
        "",
        "```sh",
        REPRODUCE,
        "```",
        "",
        "`--quick` runs smaller sizes (a smoke check). benchmarks/README.md describes every "
        "script in benchmarks/.",
        "",
    ]
    docs.mkdir(parents=True, exist_ok=True)
    page = docs / "benchmarks.md"
    page.write_text("\n".join(lines), encoding="utf-8")
    return page


# Plots


def draw_plots(
    parser: dict[str, Any] | None, load: dict[str, Any] | None, plots_dir: Path
) -> dict[str, Path]:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullLocator

    plots_dir.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {}
    # The contenders that read headers: framing alone is several times faster than any of them
    # and would squash their bars (the table has it).
    results = [row for row in (parser or {}).get("results", []) if row["name"] not in UNCHARTED]
    if parser is not None and results:
        figure, axes = plt.subplots(figsize=(8, 0.5 * len(results) + 1.5))
        names = [row["name"] for row in results]
        colors = [
            COLORS.get(name, "#1f5fa8" if name.startswith("ivrd") else "#999999") for name in names
        ]
        axes.barh(names, [row["events_per_s"] for row in results], color=colors)
        axes.invert_yaxis()
        axes.set_xlabel("events per second (more is better)")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axes.set_title(f"Parser: {parser['events']:,} SIP-call events, same bytes, same run")
        for index, row in enumerate(results):
            axes.text(row["events_per_s"], index, f" {row['events_per_s']:,.0f}", va="center")
        axes.margins(x=0.2)
        drawn["parser"] = _save(figure, plots_dir / PLOTS["parser"])
    if load is not None:
        for key, field, label, title in (
            ("calls", "calls_per_s", "calls per second (more is better)", "Calls per second"),
            ("p99", "turnaround_p99_ms", "ms (less is better)", "p99 step turnaround"),
        ):
            figure, axes = plt.subplots(figsize=(8, 5))
            for implementation in load["implementations"]:
                name = implementation["name"]
                runs = [run for run in implementation["runs"] if run["completed"] > 0]
                if runs:
                    axes.plot(
                        [run["concurrency"] for run in runs],
                        [run[field] for run in runs],
                        marker="o",
                        label=name,
                        color=COLORS.get(name),
                        linestyle="--" if name in REFERENCES else "-",
                    )
            axes.set_xscale("log")
            sizes = sorted(
                {run["concurrency"] for item in load["implementations"] for run in item["runs"]}
            )
            axes.set_xticks(sizes, [str(size) for size in sizes])
            axes.xaxis.set_minor_locator(NullLocator())
            if key == "p99":
                axes.set_yscale("log")
            axes.set_xlabel("concurrent calls")
            axes.set_ylabel(label)
            axes.set_title(f"Load: {title} against concurrent calls")
            axes.grid(True, which="both", alpha=0.3)
            axes.legend()
            drawn[key] = _save(figure, plots_dir / PLOTS[key])
    return drawn


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
