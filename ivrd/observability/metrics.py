"""What the daemon counts, in Prometheus terms, behind methods named after what happened.

The daemon and the engine never touch prometheus_client: they say `call_started(flow)` or
`step_finished(flow, "menu", "no_input", 5.2)` and this module turns that into counters,
gauges and histograms. Each `Metrics` owns its own `CollectorRegistry`, so tests and several
daemons in one process never see each other's numbers.

Two rules keep a scrape small and the per-step cost tiny at a thousand concurrent calls:

- Label values are names the configuration bounds (flow names, step *types*, outcomes, FreeSWITCH
  application names, reasons chosen by our code), never a call's uuid, a caller's number or
  anything a caller typed. As a safety net each metric accepts at most `max_label_sets`
  distinct label sets; past that, new combinations are counted under `other` and a warning is
  logged once, so a caller that passes unbounded data bloats nothing.
- `.labels(...)` is resolved once per label set and cached in a plain dict, so recording an
  event is a dict look-up and one `inc()`/`observe()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from ivrd import __version__

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of `Metrics.render()`: Prometheus text exposition format 0.0.4."""

OVERFLOW_LABEL = "other"
"""The label value that replaces every value of a label set past `max_label_sets`."""

DEFAULT_MAX_LABEL_SETS = 1000

# Telephony timings: a `set` step or an `answer` takes milliseconds, an HTTP lookup tens to
# hundreds of them, a prompt or a menu waiting for the caller seconds, a transfer ringing up to
# a minute. 5 ms .. 60 s covers all of them with roughly doubling steps.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# Whole calls: from a caller who hangs up at once to a long queue wait.
CALL_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

_Child = TypeVar("_Child", Counter, Gauge, Histogram)


class _BoundChildren(Generic[_Child]):
    """The label children of one metric, resolved once and cached, at most `limit` of them."""

    def __init__(self, name: str, metric: _Child, limit: int) -> None:
        self._name = name
        self._metric: _Child = metric
        self._limit = limit
        self._children: dict[tuple[str, ...], _Child] = {}
        self._warned = False

    def __call__(self, *values: str) -> _Child:
        child = self._children.get(values)
        if child is None:
            child = self._bind(values)
        return child

    def _bind(self, values: tuple[str, ...]) -> _Child:
        if len(self._children) >= self._limit:
            overflow = (OVERFLOW_LABEL,) * len(values)
            child = self._children.get(overflow)
            if child is None:
                # The overflow set itself may take the place one past the limit.
                child = self._children[overflow] = self._metric.labels(*overflow)
            if not self._warned:
                self._warned = True
                log.warning(
                    "metric %s has more than %d label sets; further ones are counted as %r "
                    "(is an unbounded value such as a uuid or a number used as a label?)",
                    self._name,
                    self._limit,
                    OVERFLOW_LABEL,
                )
            return child
        child = self._children[values] = self._metric.labels(*values)
        return child


class Metrics:
    """The daemon's metrics, in a registry of their own; `render()` is the `/metrics` body.

    Metric names (the `_total`, `_bucket`, `_sum`, `_count` and `_created` series follow
    Prometheus conventions):

    - `ivrd_calls_active{flow}` gauge: calls running now.
    - `ivrd_calls_started_total{flow}` counter: calls handed to a flow.
    - `ivrd_calls_ended_total{flow,disposition}` counter: calls by how they ended.
    - `ivrd_call_duration_seconds{flow}` histogram: whole calls, from start to end.
    - `ivrd_calls_refused_total{reason}` counter: calls turned away before any flow ran.
    - `ivrd_steps_total{flow,step_type,outcome}` counter: steps finished, by outcome.
    - `ivrd_step_duration_seconds{flow,step_type}` histogram: how long steps take.
    - `ivrd_application_duration_seconds{application}` histogram: FreeSWITCH applications, from
      `sendmsg` to their EXECUTE_COMPLETE.
    - `ivrd_esl_errors_total{kind}` counter: event-socket failures.
    - `ivrd_reloads_total{result}` counter (`ok`, `failed`) and
      `ivrd_config_last_reload_successful` gauge (1 or 0).
    - `ivrd_build_info{version}` gauge, always 1.
    - `ivrd_tasks` gauge: the event loop's tasks, once the daemon calls `count_tasks`.
    - `process_*` and `python_info`: the standard process and platform collectors.
    """

    def __init__(
        self,
        *,
        max_label_sets: int = DEFAULT_MAX_LABEL_SETS,
        process_metrics: bool = True,
    ) -> None:
        if max_label_sets < 1:
            raise ValueError(f"max_label_sets must be at least 1, not {max_label_sets}")
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry

        def bound(metric: _Child) -> _BoundChildren[_Child]:
            (family,) = metric.describe()
            return _BoundChildren(family.name, metric, max_label_sets)

        self._calls_active = bound(
            Gauge("ivrd_calls_active", "Calls running now.", ["flow"], registry=registry)
        )
        self._calls_started = bound(
            Counter("ivrd_calls_started", "Calls handed to a flow.", ["flow"], registry=registry)
        )
        self._calls_ended = bound(
            Counter(
                "ivrd_calls_ended",
                "Calls that ended, by flow and disposition (how the call ended).",
                ["flow", "disposition"],
                registry=registry,
            )
        )
        self._call_duration = bound(
            Histogram(
                "ivrd_call_duration_seconds",
                "Duration of whole calls, from the socket connect to the end of the flow.",
                ["flow"],
                buckets=CALL_BUCKETS,
                registry=registry,
            )
        )
        self._calls_refused = bound(
            Counter(
                "ivrd_calls_refused",
                "Calls turned away before a flow ran, by reason.",
                ["reason"],
                registry=registry,
            )
        )
        self._steps = bound(
            Counter(
                "ivrd_steps",
                "Steps finished, by flow, step type and outcome.",
                ["flow", "step_type", "outcome"],
                registry=registry,
            )
        )
        self._step_duration = bound(
            Histogram(
                "ivrd_step_duration_seconds",
                "Duration of steps, by flow and step type (input steps include the caller's time).",
                ["flow", "step_type"],
                buckets=STEP_BUCKETS,
                registry=registry,
            )
        )
        self._application_duration = bound(
            Histogram(
                "ivrd_application_duration_seconds",
                "Duration of FreeSWITCH applications, from sendmsg to EXECUTE_COMPLETE.",
                ["application"],
                buckets=STEP_BUCKETS,
                registry=registry,
            )
        )
        self._esl_errors = bound(
            Counter("ivrd_esl_errors", "Event-socket errors, by kind.", ["kind"], registry=registry)
        )
        reloads = Counter(
            "ivrd_reloads",
            "Reloads of flows and configuration, by result (ok, failed).",
            ["result"],
            registry=registry,
        )
        # Both results exist from the start, so `increase(...[1h])` and alerts see a 0, not a gap.
        self._reload_ok = reloads.labels("ok")
        self._reload_failed = reloads.labels("failed")
        self._last_reload_successful = Gauge(
            "ivrd_config_last_reload_successful",
            "1 if the last load or reload of flows and configuration succeeded, else 0.",
            registry=registry,
        )
        self._last_reload_successful.set(1)
        Gauge(
            "ivrd_build_info", "The running ivrd version, always 1.", ["version"], registry=registry
        ).labels(__version__).set(1)
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)

    # Calls

    def call_started(self, flow: str) -> None:
        """A call was routed to `flow` and its first step is about to run."""
        self._calls_started(flow).inc()
        self._calls_active(flow).inc()

    def call_ended(self, flow: str, disposition: str, duration_s: float) -> None:
        """A call that `call_started` counted has ended; `disposition` says how."""
        self._calls_active(flow).dec()
        self._calls_ended(flow, disposition).inc()
        self._call_duration(flow).observe(duration_s)

    def call_refused(self, reason: str) -> None:
        """A call was turned away before any flow ran (`draining`, `max_calls`, `no_flow`...)."""
        self._calls_refused(reason).inc()

    # Steps and applications

    def step_finished(self, flow: str, step_type: str, outcome: str, duration_s: float) -> None:
        """A step of type `step_type` (never its name) ended with `outcome`."""
        self._steps(flow, step_type, outcome).inc()
        self._step_duration(flow, step_type).observe(duration_s)

    def application_finished(self, app: str, duration_s: float) -> None:
        """A FreeSWITCH application (`playback`, `bridge`...) completed."""
        self._application_duration(app).observe(duration_s)

    # The daemon

    def esl_error(self, kind: str) -> None:
        """An event-socket failure of a kind our code names (`protocol`, `timeout`...)."""
        self._esl_errors(kind).inc()

    def reload_finished(self, ok: bool) -> None:
        """A load or reload of flows and configuration ended; `ok` False kept the old ones."""
        if ok:
            self._reload_ok.inc()
            self._last_reload_successful.set(1)
        else:
            self._reload_failed.inc()
            self._last_reload_successful.set(0)

    def count_tasks(self, count: Callable[[], float]) -> None:
        """Export `ivrd_tasks`, `count()` read at each scrape: a leak shows as a count that
        does not come back down (the soak run reads it). Call once."""
        Gauge(
            "ivrd_tasks", "Tasks in the daemon's event loop now.", registry=self.registry
        ).set_function(count)

    def label_sets(self) -> dict[str, int]:
        """How many label sets each per-call metric holds: bounded by the configuration
        (flows, step types, outcomes), never by the number of calls (a check for leaks)."""
        return {
            name.lstrip("_"): len(children._children)
            for name, children in vars(self).items()
            if isinstance(children, _BoundChildren)
        }

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
