"""Metrics: what each event method records, read back from the Prometheus text exposition."""

from __future__ import annotations

import logging

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivrd import __version__
from ivrd.observability.metrics import OVERFLOW_LABEL, STEP_BUCKETS, Metrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: Metrics) -> Samples:
    """Every sample of the exposition, by name and labels."""
    text = metrics.render().decode("utf-8")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_calls_are_counted_by_flow_and_disposition() -> None:
    metrics = Metrics()
    metrics.call_started("acme-main")
    metrics.call_started("acme-main")
    metrics.call_started("hello")
    metrics.call_ended("acme-main", "caller_hangup", 42.0)
    metrics.call_refused("draining")
    metrics.call_refused("draining")
    metrics.call_refused("max_calls")

    found = samples(metrics)

    assert value(found, "ivrd_calls_active", flow="acme-main") == 1
    assert value(found, "ivrd_calls_active", flow="hello") == 1
    assert value(found, "ivrd_calls_started_total", flow="acme-main") == 2
    assert value(found, "ivrd_calls_started_total", flow="hello") == 1
    assert (
        value(found, "ivrd_calls_ended_total", flow="acme-main", disposition="caller_hangup") == 1
    )
    ended_flows = {
        dict(labels)["flow"] for name, labels in found if name == "ivrd_calls_ended_total"
    }
    assert ended_flows == {"acme-main"}
    assert value(found, "ivrd_call_duration_seconds_count", flow="acme-main") == 1
    assert value(found, "ivrd_call_duration_seconds_sum", flow="acme-main") == 42.0
    assert value(found, "ivrd_call_duration_seconds_bucket", flow="acme-main", le="30.0") == 0
    assert value(found, "ivrd_call_duration_seconds_bucket", flow="acme-main", le="60.0") == 1
    assert value(found, "ivrd_calls_refused_total", reason="draining") == 2
    assert value(found, "ivrd_calls_refused_total", reason="max_calls") == 1


def test_steps_count_outcomes_and_fill_the_latency_histogram() -> None:
    metrics = Metrics()
    metrics.step_finished("acme-main", "menu", "no_input", 5.2)
    metrics.step_finished("acme-main", "menu", "next", 1.5)
    metrics.step_finished("acme-main", "menu", "next", 0.75)
    metrics.step_finished("acme-main", "http", "next", 0.004)

    found = samples(metrics)

    assert value(found, "ivrd_steps_total", flow="acme-main", step_type="menu", outcome="next") == 2
    assert (
        value(found, "ivrd_steps_total", flow="acme-main", step_type="menu", outcome="no_input")
        == 1
    )
    assert value(found, "ivrd_steps_total", flow="acme-main", step_type="http", outcome="next") == 1
    menu = {"flow": "acme-main", "step_type": "menu"}
    assert value(found, "ivrd_step_duration_seconds_count", **menu) == 3
    assert value(found, "ivrd_step_duration_seconds_sum", **menu) == pytest.approx(7.45)
    # Cumulative buckets: 0.75 and 1.5 fall at or under 2.5, 5.2 only under 10.
    assert value(found, "ivrd_step_duration_seconds_bucket", le="0.5", **menu) == 0
    assert value(found, "ivrd_step_duration_seconds_bucket", le="1.0", **menu) == 1
    assert value(found, "ivrd_step_duration_seconds_bucket", le="2.5", **menu) == 2
    assert value(found, "ivrd_step_duration_seconds_bucket", le="5.0", **menu) == 2
    assert value(found, "ivrd_step_duration_seconds_bucket", le="10.0", **menu) == 3
    assert value(found, "ivrd_step_duration_seconds_bucket", le="+Inf", **menu) == 3
    http = {"flow": "acme-main", "step_type": "http"}
    assert value(found, "ivrd_step_duration_seconds_bucket", le="0.005", **http) == 1


def test_step_buckets_span_five_milliseconds_to_a_minute() -> None:
    assert STEP_BUCKETS[0] == 0.005
    assert STEP_BUCKETS[-1] == 60.0
    assert list(STEP_BUCKETS) == sorted(STEP_BUCKETS)


def test_applications_esl_errors_and_reloads() -> None:
    metrics = Metrics()
    metrics.application_finished("playback", 3.0)
    metrics.application_finished("playback", 0.02)
    metrics.application_finished("answer", 0.01)
    metrics.esl_error("timeout")
    metrics.esl_error("protocol")
    metrics.esl_error("timeout")

    found = samples(metrics)

    assert value(found, "ivrd_application_duration_seconds_count", application="playback") == 2
    assert value(found, "ivrd_application_duration_seconds_sum", application="playback") == 3.02
    assert value(found, "ivrd_application_duration_seconds_count", application="answer") == 1
    assert value(found, "ivrd_esl_errors_total", kind="timeout") == 2
    assert value(found, "ivrd_esl_errors_total", kind="protocol") == 1
    # Both reload results exist at 0 before any reload, so rates and alerts see no gap.
    assert value(found, "ivrd_reloads_total", result="ok") == 0
    assert value(found, "ivrd_reloads_total", result="failed") == 0
    assert value(found, "ivrd_config_last_reload_successful") == 1


def test_a_failed_reload_is_counted_and_flagged_until_one_succeeds() -> None:
    metrics = Metrics()
    metrics.reload_finished(ok=True)
    metrics.reload_finished(ok=False)

    found = samples(metrics)
    assert value(found, "ivrd_reloads_total", result="ok") == 1
    assert value(found, "ivrd_reloads_total", result="failed") == 1
    assert value(found, "ivrd_config_last_reload_successful") == 0

    metrics.reload_finished(ok=True)
    found = samples(metrics)
    assert value(found, "ivrd_reloads_total", result="ok") == 2
    assert value(found, "ivrd_config_last_reload_successful") == 1


def test_build_info_names_the_version() -> None:
    assert value(samples(Metrics()), "ivrd_build_info", version=__version__) == 1


def test_each_instance_has_its_own_registry_and_the_global_one_stays_empty() -> None:
    first, second = Metrics(), Metrics()
    first.call_started("hello")

    assert value(samples(first), "ivrd_calls_started_total", flow="hello") == 1
    assert ("ivrd_calls_started_total", frozenset({("flow", "hello")})) not in samples(second)
    global_names = {family.name for family in prometheus_client.REGISTRY.collect()}
    assert not {name for name in global_names if name.startswith("ivrd_")}


def test_process_metrics_can_be_left_out() -> None:
    with_process = {name for name, _ in samples(Metrics())}
    without = {name for name, _ in samples(Metrics(process_metrics=False))}

    assert "process_cpu_seconds_total" in with_process
    assert "python_info" in with_process
    assert not {name for name in without if name.startswith(("process_", "python_"))}


def test_label_sets_past_the_limit_are_counted_as_other_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(max_label_sets=2)
    with caplog.at_level(logging.WARNING, logger="ivrd.observability.metrics"):
        for number in ("+4930111", "+4930222", "+4930333", "+4930444", "+4930111"):
            metrics.call_refused(number)

    found = samples(metrics)
    refused = {
        dict(labels)["reason"]: count
        for (name, labels), count in found.items()
        if name == "ivrd_calls_refused_total"
    }
    assert refused == {"+4930111": 2, "+4930222": 1, OVERFLOW_LABEL: 2}
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [
        "metric ivrd_calls_refused has more than 2 label sets; further ones are counted as "
        "'other' (is an unbounded value such as a uuid or a number used as a label?)"
    ]


def test_overflow_applies_to_every_label_of_a_set() -> None:
    metrics = Metrics(max_label_sets=1)
    metrics.step_finished("a", "menu", "next", 0.1)
    metrics.step_finished("b", "play", "next", 0.1)

    found = samples(metrics)
    other = {"flow": OVERFLOW_LABEL, "step_type": OVERFLOW_LABEL, "outcome": OVERFLOW_LABEL}
    assert value(found, "ivrd_steps_total", **other) == 1
    assert value(found, "ivrd_steps_total", flow="a", step_type="menu", outcome="next") == 1


def test_max_label_sets_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_label_sets must be at least 1, not 0"):
        Metrics(max_label_sets=0)
