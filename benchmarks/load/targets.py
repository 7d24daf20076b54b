"""Issue 8's targets, checked against a load run's results (printed by bench_load.py).

- CPU per call of the YAML flow under `ivrd serve`: at most 1/2 of greenswitch's and 1/6 of
  Genesis's (each concurrency; with CPU rounds, on the median of each one's runs);
- 1,000 concurrent calls: every ivrd call completes;
- p99 turnaround at 50 concurrent: at most 1/3 of greenswitch's (with rounds, on medians too);
- memory: at most 50 KB (48.8 KiB) per active call;
- nothing in the hot path grows with the number of calls handled (the growth batches).
"""

from __future__ import annotations

import statistics
from typing import Any

MEMORY_LIMIT_KIB = 50_000 / 1024


def rows_by_concurrency(report: dict[str, Any], name: str) -> dict[int, dict[str, Any]]:
    """An implementation's table rows, by N."""
    for implementation in report["implementations"]:
        if implementation["name"] == name:
            return {run["concurrency"]: run for run in implementation["runs"]}
    return {}


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def _medians(report: dict[str, Any], name: str, column: str, key: str) -> dict[int, float]:
    """A table column at each N: the table's run, or with rounds the median of all runs."""
    runs: dict[int, list[float]] = {
        n: [row[column]]
        for n, row in rows_by_concurrency(report, name).items()
        if not row["note"].startswith("not measured")
    }
    for row in report.get("cpu_rounds") or []:
        if row["name"] == name and row.get(key) is not None and row["concurrency"] in runs:
            runs[row["concurrency"]].append(row[key])
    return {n: statistics.median(values) for n, values in runs.items()}


def cpu_medians(report: dict[str, Any], name: str) -> dict[int, float]:
    """CPU ms per call at each N: the table's run, or with rounds the median of all."""
    return _medians(report, name, "server_cpu_ms_per_call", "cpu")


def p99_medians(report: dict[str, Any], name: str) -> dict[int, float]:
    """p99 turnaround (ms) at each N: the table's run, or with rounds the median of all."""
    return _medians(report, name, "turnaround_p99_ms", "p99")


def _rounds_taken(report: dict[str, Any], name: str, key: str) -> str:
    rounds = 1 + len(
        {
            row["round"]
            for row in report.get("cpu_rounds") or []
            if row["name"] == name and key in row
        }
    )
    return f" (median of {rounds} runs each, taking turns)" if rounds > 1 else ""


def target_lines(report: dict[str, Any]) -> list[str]:
    serve = rows_by_concurrency(report, "ivrd-serve")
    library = rows_by_concurrency(report, "ivrd-library")
    lines = []
    ours = cpu_medians(report, "ivrd-serve")
    for peer, limit in (("greenswitch", 1 / 2), ("genesis", 1 / 6)):
        theirs = cpu_medians(report, peer)
        ratios = {n: _ratio(ours[n], theirs[n]) for n in ours if n in theirs}
        known = {n: r for n, r in ratios.items() if r is not None}
        if known:
            how = _rounds_taken(report, peer, "cpu")
            shown = ", ".join(f"N={n}: {r:.3f}" for n, r in known.items())
            ok = all(r <= limit for r in known.values())
            lines.append(
                f"CPU per call, ivrd-serve / {peer}{how}: {shown} (target <= {limit:.3f}): "
                + _verdict(ok)
            )
    for name, rows in (("ivrd-serve", serve), ("ivrd-library", library)):
        if 1000 in rows:
            row = rows[1000]
            lines.append(
                f"1000 concurrent, {name}: {row['completed']} of {row['calls']} calls completed: "
                + _verdict(row["failed"] == 0)
            )
    ours_p99, theirs_p99 = p99_medians(report, "ivrd-serve"), p99_medians(report, "greenswitch")
    if 50 in ours_p99 and 50 in theirs_p99:
        ratio = _ratio(ours_p99[50], theirs_p99[50])
        if ratio is not None:
            how = _rounds_taken(report, "greenswitch", "p99")
            lines.append(
                f"p99 turnaround at 50, ivrd-serve / greenswitch{how}: {ratio:.3f} "
                "(target <= 0.333): " + _verdict(ratio <= 1 / 3)
            )
    for name, rows in (("ivrd-serve", serve), ("ivrd-library", library)):
        sizes = [row["memory_kib_per_call"] for row in rows.values() if row["completed"]]
        if sizes:
            lines.append(
                f"memory per active call, {name}: at most {max(sizes):.1f} KiB "
                f"(target <= {MEMORY_LIMIT_KIB:.1f} KiB = 50 KB): "
                + _verdict(max(sizes) <= MEMORY_LIMIT_KIB)
            )
    growth = report.get("growth") or []
    if len(growth) >= 2:
        first, last = growth[0], growth[-1]
        cpu = _ratio(last["cpu_ms_per_call"], first["cpu_ms_per_call"])
        rss = last["rss_kib"] - growth[1]["rss_kib"] if len(growth) > 2 else 0
        lines.append(
            f"growth, ivrd-serve: CPU per call last/first batch {cpu or 0:.2f}, RSS from batch 2 "
            f"to {last['batch']}: {rss:+d} KiB (timed; counted without time in "
            "tests/reliability/test_hot_path_growth.py)"
        )
    return lines


def print_targets(report: dict[str, Any]) -> None:
    lines = target_lines(report)
    if lines:
        print("targets (issue 8):", flush=True)
        for line in lines:
            print(f"  {line}", flush=True)
