"""Load a gold recommendation snapshot into the serving store (SQLite or PostgreSQL) as one atomic swap.

Reads ``<gold_path>/<table>/snapshot_date=<date>/`` (Parquet, written by build_recommendations) for
the four served tables with pyarrow — no Spark session is started — and hands them to
:meth:`recommendations.store.RecommendationStore.load_snapshot`: bulk load into staging tables, then
one transaction swaps them in and records the snapshot date, row counts, load time and run id in
``snapshot_meta``. A failed load leaves the previous snapshot served; transient failures (a dropped
connection, a lock timeout) are retried by the configured policy, re-reading the Parquet input.

Only a *published* date is loaded when the builder publishes by markers (see
:class:`recommendations.lake.GoldPublication`): the marker is checked before and after each table is
streamed, so a rebuild that starts during a load fails the load (nothing swapped in) rather than
serving a mix of two builds. Hand-made gold roots without ``_published/`` load as before.

Rerunning a date replaces the served tables with identical content. An older snapshot than the one
served (a backfill of a past date) is skipped by default, so a backfill never rolls serving back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recommendations.lake import PUBLISHED_DIR, publication_marker
from recommendations.store import DEFAULT_URL, TABLE_NAMES, TABLES, RecommendationStore
from sparkjobs import AbstractJob, AbstractJobFactory, DataError, JobContext, JobMetadata, make_main
from sparkjobs.resilience import RetryPolicy, is_retryable
from sparkjobs.serving.stores import StoreSettings, TableSpec

DEFAULT_MIN_ROWS = {"items": 1, "recommendations": 1, "similar_items": 0, "popular_items": 1}


class LoadRecommendationsConfig(BaseModel):
    """Parameters of ``load_recommendations`` (config key ``jobs.load_recommendations``)."""

    model_config = ConfigDict(extra="forbid")

    gold_path: str = Field("data/lake/gold", description="root of the gold tables (local path or URI)")
    store: StoreSettings = Field(
        default_factory=lambda: StoreSettings(url=DEFAULT_URL),
        description="the serving store; its password is a secret (give it via the environment)",
    )
    snapshot_date: date | None = Field(None, description="snapshot to load (default: the run's logical date)")
    on_older_snapshot: Literal["skip", "load", "fail"] = Field(
        "skip", description="when the store already serves a newer snapshot: skip, load anyway, or fail"
    )
    min_rows: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MIN_ROWS),
        description="refuse to publish a table with fewer rows than this (protects serving from a bad build)",
    )
    retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(
            strategy="exponential", max_attempts=3, initial_delay_s=2.0, max_delay_s=30.0
        ),
        description="retries of transient load failures (dropped connection, lock timeout)",
    )

    @field_validator("min_rows")
    @classmethod
    def _known_tables(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(TABLE_NAMES))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; expected some of {list(TABLE_NAMES)}")
        if any(v < 0 for v in value.values()):
            raise ValueError("min_rows values must be >= 0")
        return {**DEFAULT_MIN_ROWS, **value}


class GoldSnapshotReader:
    """Finds and streams one snapshot of the gold tables with pyarrow (local paths or URIs)."""

    def __init__(self, gold_path: str, batch_rows: int = 65_536) -> None:
        self.gold_path = gold_path.rstrip("/")
        self.batch_rows = batch_rows
        #: the publication marker each date was found with (see recommendations.lake.GoldPublication)
        self._expected: dict[date, str | None] = {}

    def path(self, table: str, snapshot_date: date) -> str:
        return f"{self.gold_path}/{table}/snapshot_date={snapshot_date.isoformat()}"

    def _filesystem(self, path: str) -> tuple[Any, str]:
        from pyarrow import fs

        if "://" in path:
            return fs.FileSystem.from_uri(path)
        return fs.LocalFileSystem(), os.path.abspath(path)

    def exists(self, table: str, snapshot_date: date) -> bool:
        from pyarrow import fs

        filesystem, path = self._filesystem(self.path(table, snapshot_date))
        return bool(filesystem.get_file_info(path).type == fs.FileType.Directory)

    def dataset(self, table: str, snapshot_date: date) -> Any:
        import pyarrow.dataset as ds

        filesystem, path = self._filesystem(self.path(table, snapshot_date))
        return ds.dataset(path, format="parquet", filesystem=filesystem)

    def _read_text(self, path: str) -> str | None:
        from pyarrow import fs

        filesystem, local = self._filesystem(path)
        if filesystem.get_file_info(local).type != fs.FileType.File:
            return None
        with filesystem.open_input_stream(local) as stream:
            return bytes(stream.read()).decode("utf-8")

    def published_by_markers(self) -> bool:
        """True when a builder publishes this gold root by markers (``_published/`` exists)."""
        from pyarrow import fs

        filesystem, path = self._filesystem(f"{self.gold_path}/{PUBLISHED_DIR}")
        return bool(filesystem.get_file_info(path).type == fs.FileType.Directory)

    def expect_publication(self, snapshot_date: date) -> str | None:
        """The date's marker now (None: not published), remembered for :meth:`check_unchanged`."""
        text = self._read_text(publication_marker(self.gold_path, snapshot_date))
        self._expected[snapshot_date] = text
        return text

    def check_unchanged(self, snapshot_date: date) -> None:
        """Raise when the date was unpublished or re-published since :meth:`expect_publication`."""
        if snapshot_date not in self._expected:
            return
        now = self._read_text(publication_marker(self.gold_path, snapshot_date))
        if now != self._expected[snapshot_date]:
            state = "unpublished (a rebuild started)" if now is None else "re-published by another build"
            raise DataError(
                f"gold snapshot {snapshot_date.isoformat()} was {state} while it was being loaded; "
                "nothing was swapped in, the served snapshot stays; run the load again"
            )

    def count_rows(self, table: str, snapshot_date: date) -> int:
        return int(self.dataset(table, snapshot_date).count_rows())

    def source(self, spec: TableSpec, snapshot_date: date) -> Any:
        """A callable that (re)opens the table as a stream of record batches — replayable for retries."""

        def open_batches() -> Iterator[Any]:
            self.check_unchanged(snapshot_date)
            yield from self.dataset(spec.name, snapshot_date).to_batches(
                columns=spec.column_names, batch_size=self.batch_rows
            )
            self.check_unchanged(snapshot_date)  # still the build we started from: no mix of two

        return open_batches


class LoadRecommendationsJob(AbstractJob):
    def __init__(
        self,
        config: LoadRecommendationsConfig,
        context: JobContext,
        reader: GoldSnapshotReader,
        store: RecommendationStore,
    ) -> None:
        self.config, self.context, self.reader, self.store = config, context, reader, store

    def execute_job(self, **kwargs: Any) -> dict[str, Any]:
        cfg, ctx = self.config, self.context
        snapshot_date = cfg.snapshot_date or ctx.event_date
        try:
            return self._load(snapshot_date)
        finally:
            self.store.close()

    def _load(self, snapshot_date: date) -> dict[str, Any]:
        cfg, ctx = self.config, self.context
        with ctx.phase("extract"):
            counts = self._check_input(snapshot_date)
            ctx.metrics.rows_read(sum(counts.values()))
            served = self.store.served_snapshot()
        served_date = date.fromisoformat(served["snapshot_date"]) if served else None
        if served_date is not None and served_date > snapshot_date and cfg.on_older_snapshot != "load":
            message = (
                f"the store already serves a newer snapshot ({served_date.isoformat()}) than "
                f"{snapshot_date.isoformat()}"
            )
            if cfg.on_older_snapshot == "fail":
                raise DataError(message + "; set on_older_snapshot=load to roll serving back")
            ctx.logger.warning("%s: skipped (on_older_snapshot=skip)", message)
            return {
                "status": "skipped",
                "reason": message,
                "snapshot_date": snapshot_date.isoformat(),
                "served_snapshot_date": served_date.isoformat(),
                "store": self.store.target,
            }

        sources = {spec.name: self.reader.source(spec, snapshot_date) for spec in TABLES}
        with ctx.phase("load"):
            result = self.store.load_snapshot(sources, snapshot_date=snapshot_date, run_id=ctx.run_id)
        for table, n in result.snapshot.row_counts.items():
            ctx.metrics.rows_written(n, stage=f"serving.{table}")
        ctx.metrics.gauge("recommendations_load_seconds", "Seconds the last serving load took").set(
            result.snapshot.load_seconds
        )
        return {
            "status": "loaded",
            "snapshot_date": snapshot_date.isoformat(),
            "row_counts": result.snapshot.row_counts,
            "load_seconds": result.snapshot.load_seconds,
            "phases": result.phases,
            "attempts": result.attempts,
            "previous_snapshot_date": served_date.isoformat() if served_date else None,
            "store": self.store.target,
            "run_id": ctx.run_id,
        }

    def _check_input(self, snapshot_date: date) -> dict[str, int]:
        """Row counts of the snapshot's tables; a missing or too small table is a DataError."""
        cfg = self.config
        if self.reader.published_by_markers() and self.reader.expect_publication(snapshot_date) is None:
            raise DataError(
                f"gold snapshot {snapshot_date.isoformat()} under {cfg.gold_path} is not published: its "
                "build is running or failed before writing every table; run build_recommendations "
                f"--event-date {snapshot_date.isoformat()} (the served snapshot was left in place)"
            )
        missing = [t for t in TABLE_NAMES if not self.reader.exists(t, snapshot_date)]
        if missing:
            raise DataError(
                f"no gold snapshot {snapshot_date.isoformat()} for table(s) {missing} under {cfg.gold_path} "
                f"(looked for {self.reader.path(missing[0], snapshot_date)}); run build_recommendations "
                f"--event-date {snapshot_date.isoformat()} first"
            )
        counts = {t: self.reader.count_rows(t, snapshot_date) for t in TABLE_NAMES}
        too_small = {t: n for t, n in counts.items() if n < cfg.min_rows.get(t, 0)}
        if too_small:
            raise DataError(
                f"gold snapshot {snapshot_date.isoformat()} is too small to publish: "
                + ", ".join(f"{t} has {n} rows (min {cfg.min_rows[t]})" for t, n in too_small.items())
                + "; the served snapshot was left in place"
            )
        return counts

    def on_success(self, result: Any) -> None:
        if result["status"] == "loaded":
            self.context.logger.info(
                "serving snapshot %s loaded into %s: %s",
                result["snapshot_date"],
                result["store"],
                ", ".join(f"{t}={n}" for t, n in result["row_counts"].items()),
            )

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error(
            "load_recommendations failed; the previous snapshot stays served: %s", error_message
        )


class LoadRecommendationsFactory(AbstractJobFactory[LoadRecommendationsConfig]):
    config_model = LoadRecommendationsConfig
    job_name = "load_recommendations"
    # gold_path defaults to the catalog's (conf/base/catalog.yml); the serving store is not a lake dataset
    inputs = {"gold_path": "gold"}
    metadata = JobMetadata(
        description="Load a gold recommendation snapshot into the serving store (atomic swap, no Spark)",
        version="1.0.0",
        stage="gold",
        capabilities=frozenset({"serving", "idempotent", "incremental", "backfill"}),
        requires=frozenset(),  # pyarrow only: runs with has_spark=false
    )

    def create_job(self, **kwargs: Any) -> LoadRecommendationsJob:
        cfg, ctx = self.config, self.context
        retry = cfg.retry.executor(
            operation="load_recommendations.load_snapshot", metrics=ctx.metrics, logger=ctx.logger
        )
        store = RecommendationStore.open(cfg.store, retry=retry, is_transient=is_retryable, logger=ctx.logger)
        reader = GoldSnapshotReader(cfg.gold_path, batch_rows=cfg.store.batch_rows)
        return LoadRecommendationsJob(cfg, ctx, reader, store)


main = make_main(LoadRecommendationsFactory)
