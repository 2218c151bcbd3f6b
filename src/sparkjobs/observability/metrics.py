"""Per-run Prometheus metrics: one ``CollectorRegistry`` per run, handed to jobs via the context."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class RunMetrics:
    """The standard metrics of one job run, in a registry of its own.

    Jobs add their own metrics with :meth:`counter`, :meth:`gauge` and :meth:`histogram`, which
    create them in this run's registry (never in prometheus_client's global one).
    """

    def __init__(self, job: str, registry: CollectorRegistry | None = None) -> None:
        self.job = job
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.duration = Gauge("sparkjobs_job_duration_seconds", "Wall time of the job run", ["job"], registry=r)
        self.rows = Counter(
            "sparkjobs_rows", "Rows handled per stage and kind (read/written/rejected)",
            ["job", "stage", "kind"], registry=r,
        )
        self.attempts = Counter("sparkjobs_job_attempts", "Attempts made to run the job", ["job"], registry=r)
        self.outcome = Gauge(
            "sparkjobs_job_success", "1 when the last run succeeded, 0 when it failed", ["job"], registry=r
        )
        self.last_success = Gauge(
            "sparkjobs_job_last_success_timestamp_seconds", "Unix time of the last successful run", ["job"],
            registry=r,
        )
        self._custom: dict[str, Counter | Gauge | Histogram] = {}

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

    # job-defined metrics ----------------------------------------------------------------------
    def counter(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Counter:
        return self._get_or_create(name, lambda: Counter(name, documentation, labelnames, registry=self.registry))

    def gauge(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Gauge:
        return self._get_or_create(name, lambda: Gauge(name, documentation, labelnames, registry=self.registry))

    def histogram(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Histogram:
        return self._get_or_create(
            name, lambda: Histogram(name, documentation, labelnames, registry=self.registry)
        )

    def _get_or_create(self, name, factory):  # type: ignore[no-untyped-def]
        if name not in self._custom:
            self._custom[name] = factory()
        return self._custom[name]

    @contextmanager
    def timer(self, name: str, documentation: str = "Seconds spent in a block") -> Iterator[None]:
        """Time a block into a gauge called ``name`` (seconds)."""
        gauge = self.gauge(name, documentation)
        started = time.perf_counter()
        try:
            yield
        finally:
            gauge.set(time.perf_counter() - started)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
