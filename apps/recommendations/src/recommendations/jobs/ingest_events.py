"""Ingest raw daily event files into bronze Parquet: typed, checked, deduplicated, idempotent per date.

- ``incremental``: the delivery of the logical date (``raw/events/event_date=<date>/``).
- ``initial_load``: every delivery up to the logical date.

Rows that break the record schema (bad timestamp, non-numeric id, rating out of range, missing
field, wrong column count) go to the quarantine table with their reason and are counted; the run
fails when more than ``max_rejected_ratio`` of the rows are rejected (after writing the
quarantine, so the reasons can be inspected). Exact duplicates are dropped: within the batch (the
earliest delivery wins) and against the events bronze already holds from earlier deliveries (an
upstream that re-sends). Bronze and quarantine rows of the run's dates are replaced, nothing else,
so rerunning a date gives the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from recommendations.lake import (
    BRONZE_DDL,
    EVENT_KEY,
    PERIOD_COLUMN,
    Granularity,
    period_expr,
    period_of,
    period_range,
    raw_event_schema,
)
from sparkjobs import AbstractJob, AbstractJobFactory, DataError, JobContext, JobMetadata, io, make_main
from sparkjobs.io import (
    HadoopFileSystem,
    LocalFileSystem,
    ParquetWriter,
    PreviousOutputReader,
    RawFileReader,
    ReadResult,
)
from sparkjobs.io.filesystem import partition_values
from sparkjobs.quality import InRange, NotNull, QualityChecks

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

Mode = Literal["initial_load", "incremental"]


def default_bronze_checks() -> QualityChecks:
    """No ``unique`` check on the event key: the batch is grouped on exactly that key just before
    (and the dedupe against bronze only removes rows), so such a check cannot fail and would
    shuffle every row a second time. Add one in the config for a key the job does not group on."""
    return [
        NotNull(columns=["user_id", "item_id", "rating", "timestamp", "event_date"]),
        InRange(column="rating", min=0.5, max=5.0),
    ]


class IngestEventsConfig(BaseModel):
    """Parameters of ``ingest_events`` (config key ``jobs.ingest_events``)."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field("incremental", description="incremental: the logical date; initial_load: all dates")
    raw_path: str = Field("data/raw/events", description="raw deliveries: <raw_path>/event_date=YYYY-MM-DD/")
    input_format: Literal["csv", "json"] = Field("csv", description="csv (with header) or json lines")
    bronze_path: str = Field("data/lake/bronze/events", description="bronze Parquet table")
    quarantine_path: str = Field("data/lake/quarantine/events", description="rejected rows with reasons")
    partition_granularity: Granularity = Field(
        "month", description="bronze partition period: day, month or year (reruns are per day in all three)"
    )
    on_missing_input: Literal["fail", "empty"] = Field(
        "fail", description="incremental run without a delivery: fail, or treat it as a day without events"
    )
    rating_min: float = Field(0.5, description="lowest valid rating")
    rating_max: float = Field(5.0, description="highest valid rating")
    max_rejected_ratio: float = Field(
        0.05, ge=0.0, le=1.0, description="fail the run when a larger share of rows is rejected"
    )
    dedupe_lookback_days: int | None = Field(
        None, ge=1, description="compare with bronze deliveries this many days back (None: all history)"
    )
    listing_threshold: int | None = Field(
        10_000,
        ge=1,
        description="list up to this many input directories on the driver (None: Spark's default)",
    )
    quality: QualityChecks = Field(
        default_factory=default_bronze_checks, description="checks on the rows about to enter bronze"
    )


class IngestEventsJob(AbstractJob):
    """Raw deliveries → quarantine + bronze. Readers and writers are injected."""

    def __init__(
        self,
        config: IngestEventsConfig,
        context: JobContext,
        *,
        fs: HadoopFileSystem | LocalFileSystem,
        reader: RawFileReader,
        previous: PreviousOutputReader,
        bronze: ParquetWriter,
        quarantine: ParquetWriter,
    ) -> None:
        self.config = config
        self.context = context
        self.fs = fs
        self.reader = reader
        self.previous = previous
        self.bronze = bronze
        self.quarantine = quarantine

    # -- what to read --------------------------------------------------------------------------------
    def deliveries(self) -> list[date]:
        """The delivery dates this run covers (they exist on storage, or the run may treat them as empty)."""
        cfg, day = self.config, self.context.event_date
        if cfg.mode == "incremental":
            if self.fs.is_dir(self._delivery_path(day)):
                return [day]
            if cfg.on_missing_input == "empty":
                self.context.logger.warning(
                    "no delivery at %s: treated as a day without events", self._delivery_path(day)
                )
                return []
            raise DataError(
                f"no delivery for {day.isoformat()} at {self._delivery_path(day)}; check the upstream, "
                "or rerun with --param on_missing_input=empty if the day really had no events"
            )
        found = []
        for name in self.fs.partitions(cfg.raw_path, "event_date"):
            try:
                found.append(date.fromisoformat(name))
            except ValueError:
                raise DataError(
                    f"unexpected directory event_date={name} under {cfg.raw_path}: "
                    "expected event_date=YYYY-MM-DD"
                ) from None
        dates = sorted(d for d in found if d <= day)
        if not dates:
            raise DataError(f"initial_load found no delivery up to {day.isoformat()} under {cfg.raw_path}")
        return dates

    def _read(self, dates: list[date]) -> ReadResult:
        """The deliveries of ``dates``: the raw root read once when it holds nothing else (one
        listing, partitions pruned by a filter), else the delivery directories one by one."""
        from sparkjobs.sql import F

        cfg, day = self.config, self.context.event_date
        root = cfg.raw_path.rstrip("/")
        paths = [self._delivery_path(d) for d in dates]
        if cfg.mode == "incremental" or len(paths) <= 1:
            return self.reader.read(paths, base_path=cfg.raw_path)
        names = [n for n in self.fs.list_dirs(root) if not n.startswith(("_", "."))]
        if len(names) != len(partition_values(names, "event_date")) or self.fs.list_files(root):
            return self.reader.read(paths, base_path=cfg.raw_path)  # other folders or files: by name
        result = self.reader.read(root, base_path=cfg.raw_path)
        if dates[-1] >= max(date.fromisoformat(v) for v in partition_values(names, "event_date")):
            return result  # every delivery is wanted
        result.parsed = result.parsed.filter(F.col("event_date").cast("date") <= F.lit(day))
        return result

    def _delivery_path(self, day: date) -> str:
        return f"{self.config.raw_path.rstrip('/')}/event_date={day.isoformat()}"

    def _replaced(self, dates: Sequence[date]) -> tuple[Column, list[dict[str, str]], list[dict[str, str]]]:
        """The rows this run owns (its dates) and the partitions of bronze and quarantine to rewrite."""
        from sparkjobs.sql import F

        cfg, day = self.config, self.context.event_date
        periods = {period_of(d, cfg.partition_granularity) for d in dates} | {
            period_of(day, cfg.partition_granularity)
        }
        if cfg.mode == "incremental":
            owned = F.col("event_date") == F.lit(day)
            bronze_parts = quarantine_parts = [{PERIOD_COLUMN: p} for p in sorted(periods)]
        else:  # everything up to the logical date is rebuilt: also periods that no longer get rows
            owned = F.col("event_date") <= F.lit(day)
            bronze_parts = [
                {PERIOD_COLUMN: p}
                for p in sorted(periods | {s[PERIOD_COLUMN] for s in self.bronze.existing_partitions()})
            ]
            quarantine_parts = [
                {PERIOD_COLUMN: p}
                for p in sorted(periods | {s[PERIOD_COLUMN] for s in self.quarantine.existing_partitions()})
            ]
        return owned, bronze_parts, quarantine_parts

    # -- the run -------------------------------------------------------------------------------------
    def execute_job(self, **kwargs: Any) -> dict[str, Any]:
        from sparkjobs.sql import F

        cfg, ctx = self.config, self.context
        day = ctx.event_date
        with ctx.phase("extract"):
            dates = self.deliveries()
            result = self._read(dates).persist()
            counts = result.counts()
        ctx.metrics.rows_read(counts.total)
        ctx.metrics.rows_rejected(counts.rejected, stage="quarantine")
        owned, bronze_parts, quarantine_parts = self._replaced(dates)
        try:
            with ctx.phase("quarantine"):
                rejected = self._with_period(result.rejected)
                q_write = self.quarantine.replace_where(
                    rejected, remove=owned, partitions=quarantine_parts, new_rows=counts.rejected
                )
            if counts.rejected:
                ctx.logger.warning(
                    "%d of %d rows quarantined to %s: %s",
                    counts.rejected,
                    counts.total,
                    cfg.quarantine_path,
                    ", ".join(f"{k}={v}" for k, v in sorted(counts.by_reason.items())),
                )
            if counts.rejected_ratio > cfg.max_rejected_ratio:
                raise DataError(
                    f"{counts.rejected} of {counts.total} rows ({counts.rejected_ratio:.1%}) were rejected, "
                    f"more than max_rejected_ratio={cfg.max_rejected_ratio:.1%}; bronze was left unchanged. "
                    f"Reasons: {counts.by_reason}; rows with reasons are in {cfg.quarantine_path}"
                )
            with ctx.phase("transform"):
                valid = self._with_date(result.valid)
                grouped = valid.groupBy(*EVENT_KEY).agg(F.min("event_date").alias("event_date"))
                batch = self._with_period(
                    grouped.select(
                        F.col("user_id").cast("int"),
                        F.col("item_id").cast("int"),
                        F.col("rating").cast("double"),
                        F.col("timestamp").cast("bigint"),
                        F.timestamp_seconds(F.col("timestamp")).alias("event_ts"),
                        F.col("event_date").cast("date"),
                    )
                ).persist()
                unique_in_batch = batch.count()
                fresh, written = batch, unique_in_batch
                if cfg.mode == "incremental":  # deduplicated against bronze: from the cached batch
                    fresh = self.previous.new_rows(
                        batch, list(EVENT_KEY), where=self._earlier_deliveries()
                    ).persist()
                    written = fresh.count()
                    batch.unpersist()
            try:
                with ctx.phase("quality"):
                    ctx.check_quality(fresh, cfg.quality, dataset="bronze.events").raise_on_failure()
                with ctx.phase("load"):
                    b_write = self.bronze.replace_where(
                        fresh, remove=owned, partitions=bronze_parts, new_rows=written
                    )
            finally:
                fresh.unpersist()
        finally:
            result.unpersist()
        within_batch = counts.valid - unique_in_batch
        of_previous = unique_in_batch - written
        ctx.metrics.counter("recommendations_duplicate_events", "Exact duplicate events dropped").inc(
            within_batch + of_previous
        )
        ctx.metrics.rows_written(written, stage="bronze")
        return {
            "mode": cfg.mode,
            "event_date": day.isoformat(),
            "deliveries": len(dates),
            "first_delivery": dates[0].isoformat() if dates else None,
            "rows_read": counts.total,
            "rows_quarantined": counts.rejected,
            "quarantine_by_reason": dict(sorted(counts.by_reason.items())),
            "duplicates_dropped": within_batch + of_previous,
            "duplicates_within_batch": within_batch,
            "duplicates_of_previous": of_previous,
            "rows_written": written,
            "bronze_path": cfg.bronze_path,
            "bronze_partitions_written": len(b_write.written),
            "bronze_partitions_deleted": len(b_write.deleted),
            "quarantine_partitions_written": len(q_write.written),
        }

    def _earlier_deliveries(self) -> Column:
        """Bronze rows an incremental run deduplicates against: earlier deliveries (within the lookback)."""
        from sparkjobs.sql import F

        day, lookback_days = self.context.event_date, self.config.dedupe_lookback_days
        start = day - timedelta(days=lookback_days) if lookback_days else None
        earlier = (F.col("event_date") < F.lit(day)) & period_range(start, day)
        return earlier & (F.col("event_date") >= F.lit(start)) if start is not None else earlier

    def _with_date(self, df: DataFrame) -> DataFrame:
        """``event_date`` as a date (from the delivery directory; the logical date for an empty read)."""
        from sparkjobs.sql import F

        if "event_date" not in df.columns:
            return df.withColumn("event_date", F.lit(self.context.event_date))
        return df.withColumn("event_date", F.col("event_date").cast("date"))

    def _with_period(self, df: DataFrame) -> DataFrame:
        return self._with_date(df).withColumn(
            PERIOD_COLUMN, period_expr("event_date", self.config.partition_granularity)
        )

    def on_success(self, result: Any) -> None:
        self.context.logger.info(
            "ingest_events %s %s: %d deliveries, %d rows read, %d quarantined, %d duplicates dropped, "
            "%d written",
            result["mode"],
            result["event_date"],
            result["deliveries"],
            result["rows_read"],
            result["rows_quarantined"],
            result["duplicates_dropped"],
            result["rows_written"],
        )

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error(
            "ingest_events %s failed: %s; bronze keeps its previous content for the dates of this run",
            self.context.event_date.isoformat(),
            error_message,
        )


class IngestEventsFactory(AbstractJobFactory[IngestEventsConfig]):
    config_model = IngestEventsConfig
    job_name = "ingest_events"
    # the paths default to the catalog's (conf/base/catalog.yml); bronze is also read, to drop re-sent events
    inputs = {"raw_path": "raw_events"}
    outputs = {"bronze_path": "bronze_events", "quarantine_path": "quarantine_events"}
    metadata = JobMetadata(
        description="Raw daily event files → bronze Parquet (schema, quarantine, dedupe, idempotent reruns)",
        version="1.0.0",
        stage="bronze",
        capabilities=frozenset({"incremental", "initial_load", "backfill", "idempotent", "validation"}),
        requires=frozenset(
            {"dataframe"}
        ),  # runs on Spark and on DuckDB (tests/app/spark/test_engine_parity.py)
    )

    @classmethod
    def input_paths(cls, config: IngestEventsConfig) -> list[str]:
        """What ``engine: auto`` measures: the raw deliveries and the bronze table it deduplicates against."""
        return [config.raw_path, config.bronze_path]

    def create_job(self, **kwargs: Any) -> IngestEventsJob:
        cfg, spark = self.config, self.spark
        fs = io.file_system(spark)  # Spark's or DuckDB's IO, whichever engine the run uses
        sort_bronze = ["event_date", "timestamp", "user_id", "item_id", "rating"]
        sort_quarantine = ["event_date", "source_file", "reason", "user_id", "item_id", "rating", "timestamp"]
        return IngestEventsJob(
            cfg,
            self.context,
            fs=fs,
            reader=io.raw_reader(
                spark,
                raw_event_schema(cfg.rating_min, cfg.rating_max),
                format=cfg.input_format,
                listing_threshold=cfg.listing_threshold,
            ),
            previous=io.previous_reader(spark, cfg.bronze_path, BRONZE_DDL, fs=fs),
            bronze=io.parquet_writer(spark, cfg.bronze_path, [PERIOD_COLUMN], sort_within=sort_bronze, fs=fs),
            quarantine=io.parquet_writer(
                spark, cfg.quarantine_path, [PERIOD_COLUMN], sort_within=sort_quarantine, fs=fs
            ),
        )


main = make_main(IngestEventsFactory)
