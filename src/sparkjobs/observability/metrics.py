"""Per-run Prometheus metrics: one ``CollectorRegistry`` per run, handed to jobs via the context.

Standard metrics of every job run (label ``job``):

=============================================  =======  ==============================================
``sparkjobs_job_duration_seconds``             gauge    wall time of the run
``sparkjobs_job_success``                      gauge    1 when the run succeeded, 0 when it failed
``sparkjobs_job_last_success_timestamp_seconds`` gauge  Unix time of the last successful run
``sparkjobs_job_attempts_total``               counter  attempts to run the job in this process
``sparkjobs_rows_total``                       counter  rows per ``stage`` and ``kind`` (read/written/...)
``sparkjobs_job_phase_duration_seconds``       gauge    seconds per ``phase`` (extract/transform/load...)
=============================================  =======  ==============================================

Jobs add their own with :meth:`RunMetrics.counter`, :meth:`~RunMetrics.gauge`,
:meth:`~RunMetrics.histogram` and :meth:`~RunMetrics.summary` (get-or-create, in this run's
registry — never in prometheus_client's global one), and time blocks with :meth:`RunMetrics.timer`
(a context manager that is also a decorator).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest

M = TypeVar("M", Counter, Gauge, Histogram, Summary)
C = TypeVar("C")


def registry_of(metrics: Any) -> CollectorRegistry | None:
    """The registry of a ``RunMetrics`` (anything with ``.registry``) or a ``CollectorRegistry`` itself."""
    if metrics is None:
        return None
    if isinstance(metrics, CollectorRegistry):
        return metrics
    registry = getattr(metrics, "registry", None)
    if isinstance(registry, CollectorRegistry):
        return registry
    raise TypeError(f"metrics must be a RunMetrics or a CollectorRegistry, got {type(metrics).__name__}")


def get_or_create(
    registry: CollectorRegistry,
    kind: Callable[..., C],
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    **kwargs: Any,
) -> C:
    """The collector registered as ``name`` in ``registry``, created on first use."""
    existing = registry._names_to_collectors.get(name)  # no public lookup in prometheus_client
    if existing is not None:
        return existing  # type: ignore[return-value]
    return kind(name, documentation, list(labelnames), registry=registry, **kwargs)


class RunMetrics:
    """The standard metrics of one job run, in a registry of its own."""

    def __init__(self, job: str, registry: CollectorRegistry | None = None) -> None:
        self.job = job
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.duration = Gauge(
            "sparkjobs_job_duration_seconds", "Wall time of the job run", ["job"], registry=r
        )
        self.rows = Counter(
            "sparkjobs_rows",
            "Rows handled per stage and kind (read/written/rejected)",
            ["job", "stage", "kind"],
            registry=r,
        )
        self.attempts = Counter("sparkjobs_job_attempts", "Attempts made to run the job", ["job"], registry=r)
        self.outcome = Gauge(
            "sparkjobs_job_success", "1 when the last run succeeded, 0 when it failed", ["job"], registry=r
        )
        self.last_success = Gauge(
            "sparkjobs_job_last_success_timestamp_seconds",
            "Unix time of the last successful run",
            ["job"],
            registry=r,
        )
        self.phase_duration = Gauge(
            "sparkjobs_job_phase_duration_seconds",
            "Seconds spent per phase of the run (extract, transform, load...)",
            ["job", "phase"],
            registry=r,
        )
        self._custom: dict[str, Counter | Gauge | Histogram | Summary] = {}

    # standard metrics -------------------------------------------------------------------------
    def rows_read(self, n: int, stage: str = "extract") -> None:
        self.rows.labels(self.job, stage, "read").inc(n)

    def rows_written(self, n: int, stage: str = "load") -> None:
        self.rows.labels(self.job, stage, "written").inc(n)

    def rows_rejected(self, n: int, stage: str = "transform") -> None:
        self.rows.labels(self.job, stage, "rejected").inc(n)

    def record_outcome(self, success: bool, duration_s: float, now: float | None = None) -> None:
        self.duration.labels(self.job).set(duration_s)
        self.outcome.labels(self.job).set(1 if success else 0)
        if success:
            self.last_success.labels(self.job).set(now if now is not None else time.time())

    def record_phase(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to the phase's total in this run."""
        self.phase_duration.labels(self.job, phase).inc(seconds)

    # job-defined metrics ----------------------------------------------------------------------
    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._get_or_create(Counter, name, documentation, labelnames)

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._get_or_create(Gauge, name, documentation, labelnames)

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        extra: dict[str, Any] = {} if buckets is None else {"buckets": tuple(buckets)}
        return self._get_or_create(Histogram, name, documentation, labelnames, **extra)

    def summary(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Summary:
        return self._get_or_create(Summary, name, documentation, labelnames)

    def _get_or_create(
        self, kind: Callable[..., M], name: str, documentation: str, labelnames: Sequence[str], **kwargs: Any
    ) -> M:
        existing = self._custom.get(name) or self.registry._names_to_collectors.get(name)
        if existing is None:
            existing = kind(name, documentation, list(labelnames), registry=self.registry, **kwargs)
            self._custom[name] = existing
        if not isinstance(existing, kind):  # type: ignore[arg-type]
            raise ValueError(f"metric {name!r} already exists as a {type(existing).__name__}")
        return existing  # type: ignore[return-value]

    @contextmanager
    def timer(self, name: str, documentation: str = "Seconds spent in a block") -> Iterator[None]:
        """Time a block into a gauge called ``name`` (seconds); also usable as ``@metrics.timer(...)``."""
        gauge = self.gauge(name, documentation)
        started = time.perf_counter()
        try:
            yield
        finally:
            gauge.set(time.perf_counter() - started)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
