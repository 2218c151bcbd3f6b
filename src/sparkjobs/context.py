"""What a factory gets to know about the run it is part of."""

from __future__ import annotations

import re
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sparkjobs.catalog import DataCatalog, DatasetSpec, DatasetUse
from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import UsageError
from sparkjobs.observability.logging import ContextAdapter, job_logger
from sparkjobs.observability.metrics import RunMetrics
from sparkjobs.observability.observer import RunObserver
from sparkjobs.observability.tracing import Tracing
from sparkjobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkjobs.quality import QualityReport

#: keyword arguments ``AbstractJobFactory.run`` takes for the context, never for the job's params
RESERVED_KWARGS = frozenset(
    {"context", "service_provider", "has_spark", "env", "event_date", "run_id", "partitions", "salt"}
)
#: what the executor passes to ``main(**kwargs)`` next to ``context`` (the seeds' entry points add
#: them to the job parameters, and hand-written seed-style modules read ``kwargs["has_spark"]``)
PLATFORM_KWARGS = ("has_spark", "service_provider")


def yesterday_utc(now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=1)).date()


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_event_date(value: str | date | None) -> date:
    if value is None:
        return yesterday_utc()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:  # date.fromisoformat also takes 20240101 and 2024-W01-1; the documented form is YYYY-MM-DD
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad event_date {value!r}: expected YYYY-MM-DD") from None


def _positive_int(name: str, value: Any) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < 1:
        raise UsageError(f"bad {name} {value!r}: expected a whole number ≥ 1")
    return number


@dataclass
class JobContext:
    """run_id, env, service_provider, has_spark, the engine, the logical date, settings, logger, metrics,
    and the session (``spark``: a SparkSession, or SQLFrame's DuckDB session on ``engine="duckdb"``).

    ``catalog`` loads and saves the datasets the job declares (see :mod:`sparkjobs.catalog`).
    """

    job_name: str
    run_id: str = field(default_factory=new_run_id)
    env: str = "dev"
    service_provider: str = "local"
    has_spark: bool = True
    event_date: date = field(default_factory=yesterday_utc)
    settings: Settings = field(default_factory=Settings)
    dry_run: bool = False
    logger: ContextAdapter = field(init=False)
    metrics: RunMetrics = field(init=False)
    session: SessionProvider = None  # type: ignore[assignment]  # built in __post_init__ unless injected
    extras: dict[str, Any] = field(default_factory=dict)
    #: injected (a pipeline's, so steps nest under its spans) or built per run from the OTEL_* variables
    tracing: Tracing | None = None
    #: the job's config as the executor validated it; a factory reuses it instead of validating twice
    config: Any = None
    #: the run's catalog entries (placeholders rendered) and the datasets the job declares
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    dataset_use: DatasetUse = field(default_factory=DatasetUse)
    #: the pipeline and step this run is part of (None for a run of its own)
    pipeline: str | None = None
    step: str | None = None
    observer: RunObserver = field(init=False)
    #: the engine this run uses (``spark`` or ``duckdb``), chosen by the executor, and why
    engine: str = "spark"
    engine_reason: str = "default"
    catalog: DataCatalog = field(init=False)

    def __post_init__(self) -> None:
        where = {k: v for k, v in (("pipeline", self.pipeline), ("step", self.step)) if v is not None}
        self.logger = job_logger(
            self.job_name, self.run_id, self.env, event_date=self.event_date.isoformat(), **where
        )
        self.metrics = RunMetrics(self.job_name)
        self.observer = RunObserver(
            job=self.job_name,
            run_id=self.run_id,
            env=self.env,
            settings=self.settings.observability,
            metrics=self.metrics,
            event_date=self.event_date,
            service_provider=self.service_provider,
            tracing=self.tracing,
            pipeline=self.pipeline,
            step=self.step,
            logger=self.logger,
        )
        if self.session is None:  # else injected: e.g. one session shared by a pipeline's steps
            self.session = SessionProvider(
                self.settings.spark,
                service_provider=self.service_provider,
                app_suffix=self.job_name,
                has_spark=self.has_spark,
                duckdb=self.settings.engine.duckdb,
                engine=self.engine,
            )
        self.catalog = DataCatalog(
            self.datasets,
            use=self.dataset_use,
            job=self.job_name,
            spark=lambda: self.session.get(self.engine),
        )

    def platform_kwargs(self) -> dict[str, Any]:
        """``has_spark`` and ``service_provider`` of this run, as ``main(**kwargs)`` receives them."""
        return {"has_spark": self.has_spark, "service_provider": self.service_provider}

    @property
    def spark(self) -> SparkSession:
        """The run's session with the PySpark API, for the run's engine, built (or reused) on first
        use by the session factory (:class:`~sparkjobs.engines.session.SessionProvider`)."""
        return self.session.get(self.engine)

    @classmethod
    def from_kwargs(cls, job_name: str, kwargs: dict[str, Any]) -> JobContext:
        """Build a context from the seeds' reserved kwargs (``service_provider``, ``has_spark`` ...)."""
        settings = Settings()
        if kwargs.get("partitions") is not None:
            settings.spark.shuffle_partitions = _positive_int("partitions", kwargs["partitions"])
        if kwargs.get("salt") is not None:
            settings.spark.salt_buckets = _positive_int("salt", kwargs["salt"])
        has_spark = kwargs.get("has_spark", True)
        if isinstance(has_spark, str):
            has_spark = has_spark.strip().lower() in {"1", "true", "yes", "y"}
        return cls(
            job_name=job_name,
            run_id=kwargs.get("run_id") or new_run_id(),
            env=kwargs.get("env") or "dev",
            service_provider=kwargs.get("service_provider") or "local",
            has_spark=bool(has_spark),
            event_date=parse_event_date(kwargs.get("event_date")),
            settings=settings,
        )

    def phase(self, name: str) -> AbstractContextManager[Any]:
        """Time and trace a phase of the job: ``with context.phase("extract"): ...``."""
        return self.observer.phase(name)

    def check_quality(self, df: Any, checks: Any, dataset: str, **kwargs: Any) -> QualityReport:
        """Run quality checks in one pass; results go to logs, metrics and the run report.

        Call ``.raise_on_failure()`` on the result to fail the job on a failed ``fail`` check.
        """
        from sparkjobs.quality import run_checks

        return run_checks(
            df,
            checks,
            dataset=dataset,
            metrics=self.metrics,
            logger=self.logger,
            observer=self.observer,
            **kwargs,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "job": self.job_name,
            "run_id": self.run_id,
            "env": self.env,
            "service_provider": self.service_provider,
            "has_spark": self.has_spark,
            "engine": self.engine,
            "event_date": self.event_date.isoformat(),
            **({"pipeline": self.pipeline, "step": self.step} if self.pipeline else {}),
        }
