"""The soak's printout: calls by how they ended, the daemon's weight at four moments, a verdict."""

from __future__ import annotations

from typing import Any

LABELS = {
    "normal": "completed normally",
    "caller_hangup": "ended by caller hangup",
    "fault": "ended by injected fault",
    "failed": "failed",
    "lost": "lost",
}


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items())) or "none"


def render(report: dict[str, Any]) -> str:
    options, soak, daemon = report["options"], report["soak"], report["daemon"]
    lines = [
        f"ivrd soak: {options['calls']} calls through acme-main at {options['concurrency']} "
        f"concurrent (warm-up {options['warmup']}), fault rate {options['fault_rate']:.0%}, "
        f"hangup rate {options['hangup_rate']:.0%}, seed {options['seed']}",
        f"daemon: ivrd serve ({options['daemon_backend']}) on core {report['cores'][0]}; "
        f"fake FreeSWITCH ({options['fake_backend']}) and CRM on core {report['cores'][1]}; "
        f"work dir {report['work_dir']}",
        "",
        f"calls placed                {soak['placed']:7d}",
    ]
    outcomes = soak["outcomes"]
    for outcome, label in LABELS.items():
        lines.append(f"  {label:26s}{outcomes[outcome]:7d}")
    lines.append(f"faults injected: {_counts(soak['faults_injected'])}")
    crossed = soak["hangups_crossed_by_a_command"]
    lines.append(
        f"faults whose trigger never came: {soak['faults_not_reached']} (counted by how the call "
        f"ended); sendmsg after a hangup the server could not see yet (excused): {crossed}"
    )
    warm = report["warmup"]
    lines.append(
        f"warm-up: {warm['placed']} calls, "
        + ", ".join(f"{LABELS[k]} {v}" for k, v in warm["outcomes"].items() if v)
    )
    counts = daemon["metrics"]
    lines += [
        f"daemon counted: {counts['started']} calls started, {counts['ended']} ended "
        f"({_counts(counts['ended_by_disposition'])}), {counts['active']} active, "
        f"{counts['refused']} refused, {counts['esl_errors']} ESL errors",
        f"daemon log: {daemon['log']['lines']} lines ({_counts(daemon['log']['levels'])}), "
        f"{daemon['log']['tracebacks']} tracebacks",
        f"CRM requests: {_counts(report['crm'])}",
        f"elapsed {report['elapsed_s']} s, {report['calls_per_s']} calls/s; call seconds: "
        + ", ".join(f"{k} {v}" for k, v in soak["call_seconds"].items())
        + f"; CPU: daemon {report['cpu_s']['daemon']} s, "
        f"load process {report['cpu_s']['load_process']} s",
        "",
        f"{'daemon process':16s}{'cold':>10s}{'start':>10s}{'peak':>10s}{'after':>10s}",
    ]
    moments = [daemon["cold"], daemon["start"], daemon["peak"], daemon["after"]]
    rows = [
        ("RSS (MiB)", "rss_kib", lambda v: f"{v / 1024:.1f}"),
        ("fds", "fds", str),
        ("tasks", "tasks", str),
        ("threads", "threads", str),
        ("active calls", "active_calls", str),
    ]
    for label, key, fmt in rows:
        lines.append(f"{label:16s}" + "".join(f"{fmt(m[key]):>10s}" for m in moments))
    lines.append(
        f"(start: after the warm-up; after: settled in {daemon['settled_in_s']} s; cold, start "
        "and after: after a full garbage collection in the daemon, which brought RSS after from "
        f"{daemon['after_before_collection']['rss_kib'] / 1024:.1f} MiB; RSS limit "
        f"{report['verdict']['rss_limit_kib'] / 1024:.1f} MiB, start + "
        f"{options['rss_tolerance']:.0%})"
    )
    growth = daemon["after"]["rss_kib"] - daemon["start"]["rss_kib"]
    lines.append(
        f"RSS from start to after: {growth / 1024:+.1f} MiB, "
        f"{growth * 1024 / max(1, soak['placed']):+.0f} bytes per call"
    )
    by_calls = daemon["rss_kib_by_calls_done"]
    lines.append(
        "RSS (MiB) by share of the soak's calls done: "
        + ", ".join(f"{k} {v / 1024:.1f}" if v else f"{k} -" for k, v in by_calls.items())
    )
    lines.append(f"daemon exit code on SIGTERM: {report.get('daemon_exit_code')}")
    errors = daemon["log"]["errors"]
    if errors:
        common = "; ".join(f"{count}x {text}" for text, count in errors.items())
        lines.append(f"daemon errors logged (most common): {common}")
    for failure in soak["failures"][:5] + warm["failures"][:3]:
        lines.append(f"  {failure['outcome']}: {failure['why']} ({failure})")
    for traceback in daemon["log"]["first_tracebacks"]:
        lines.append("  traceback: " + traceback.replace("\n", "\n    "))
    verdict = report["verdict"]
    if verdict["passed"]:
        lines.append(
            "verdict: PASS (nothing lost, no failures, fds and tasks back to the cold level, "
            "RSS within tolerance, clean exit)"
        )
    else:
        lines.append("verdict: FAIL: " + "; ".join(verdict["problems"]))
    return "\n".join(lines)
