"""Build silver interactions and the gold recommendation snapshot of the logical date.

Silver (``<silver_path>/interactions/snapshot_date=<date>/``): the latest rating of every
user-item delivered up to the logical date, joined to the catalog (interactions with an item the
catalog does not know are counted and left out).

Gold (``<gold_path>/<table>/snapshot_date=<date>/``), computed over the window
``[date - window_days + 1, date]`` of silver:

- ``similar_items``: top-K item-item cosine neighbours from co-occurring positive ratings;
- ``popular_items``: the items liked by most users in the window;
- ``recommendations``: top-N per user active in the window, excluding everything the user ever
  rated, from the configured ``model`` (``item_knn``, ``ease`` or ``als``; the default is the one
  the offline comparison picked, see docs/recommendations.md) first, topped up with popular items
  (``source``: the model's name | ``popular``);
- ``items``: the catalog, every item with a title.

Quality checks run on every gold table before anything is written, so a failing check publishes
nothing. Each table's snapshot partition is replaced as a whole: rerunning a date is idempotent.

Why this module is long: it is one job's five phases (extract, silver, model, quality, load), which
share the run's cached frames and fitted recommender; the models themselves live in
:mod:`recommendations.model` and :mod:`recommendations.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recommendations.lake import BRONZE_DDL, CATALOG_SCHEMA, GOLD_TABLES, SNAPSHOT_COLUMN, GoldPublication
from recommendations.model import ITEM_KNN, POPULAR, ModelParams, fit, recommend
from recommendations.models import AlsParams, EaseParams, ModelName, Recommender, make_recommender
from recommendations.silver import bronze_as_of, clean_catalog, latest_interactions
from sparkjobs import AbstractJob, AbstractJobFactory, DataError, JobContext, JobMetadata, io, make_main
from sparkjobs.io import ParquetWriter, PreviousOutputReader, RawFileReader, ReadResult, RejectionCounts
from sparkjobs.quality import AcceptedValues, InRange, NotNull, QualityChecks, RowCount, Unique

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def default_gold_checks() -> dict[str, QualityChecks]:
    return {
        "items": [NotNull(columns=["item_id", "title"]), Unique(columns=["item_id"]), RowCount(min=1)],
        "recommendations": [
            NotNull(columns=["user_id", "item_id", "score", "rank", "source"]),
            Unique(columns=["user_id", "rank"]),
            Unique(columns=["user_id", "item_id"]),
            AcceptedValues(column="source", values=[ITEM_KNN, "ease", "als", POPULAR]),
            InRange(column="rank", min=1),
        ],
        "similar_items": [
            NotNull(columns=["item_id", "similar_item_id", "score", "rank"]),
            Unique(columns=["item_id", "rank"]),
            InRange(column="score", min=0.0, max=1.000001),
        ],
        "popular_items": [NotNull(columns=["item_id", "score", "rank"]), Unique(columns=["item_id"])],
    }


class BuildRecommendationsConfig(BaseModel):
    """Parameters of ``build_recommendations`` (config key ``jobs.build_recommendations``)."""

    model_config = ConfigDict(extra="forbid")

    bronze_path: str = Field(
        "data/lake/bronze/events", description="bronze events (written by ingest_events)"
    )
    catalog_path: str = Field("data/raw/catalog/movies.csv", description="item catalog CSV")
    silver_path: str = Field("data/lake/silver", description="root of the silver tables")
    gold_path: str = Field("data/lake/gold", description="root of the gold tables")
    catalog_quarantine_path: str = Field(
        "data/lake/quarantine/catalog", description="catalog rows that break the schema, with reasons"
    )
    window_days: int = Field(7, ge=1, description="gold is computed over [date - window_days + 1, date]")
    model: ModelName = Field(
        "ease", description="the recommender served: item_knn | ease | als (default: the comparison's pick)"
    )
    params: ModelParams = Field(
        default_factory=ModelParams, description="shared and item-kNN parameters (similar_items, fallback)"
    )
    ease: EaseParams = Field(default_factory=EaseParams, description="EASE^R parameters (model: ease)")
    als: AlsParams = Field(default_factory=AlsParams, description="ALS parameters (model: als)")
    listing_threshold: int | None = Field(
        10_000,
        ge=1,
        description="list up to this many input directories on the driver (None: Spark's default)",
    )
    quality: dict[str, QualityChecks] = Field(
        default_factory=default_gold_checks,
        description="checks per gold table, run before anything is written",
    )

    @field_validator("quality")
    @classmethod
    def _known_tables(cls, value: dict[str, QualityChecks]) -> dict[str, QualityChecks]:
        unknown = sorted(set(value) - set(GOLD_TABLES))
        if unknown:
            raise ValueError(f"unknown gold table(s) {unknown}; expected some of {list(GOLD_TABLES)}")
        return value


@dataclass(frozen=True)
class _Silver:
    """The silver interactions of the day and how many latest ratings they came from."""

    frame: DataFrame
    latest: int
    rows: int


@dataclass(frozen=True)
class _Model:
    """The gold tables of the window and what the summary reports about it."""

    tables: dict[str, DataFrame]
    window_rows: int
    window_users: int
    users_by_source: dict[str, int]


class BuildRecommendationsJob(AbstractJob):
    """bronze + catalog → silver interactions → gold snapshot. Readers and writers are injected."""

    def __init__(
        self,
        config: BuildRecommendationsConfig,
        context: JobContext,
        *,
        bronze: PreviousOutputReader,
        catalog: RawFileReader,
        catalog_quarantine: ParquetWriter,
        silver: ParquetWriter,
        gold: dict[str, ParquetWriter],
        publication: GoldPublication,
    ) -> None:
        self.config = config
        self.context = context
        self.bronze = bronze
        self.catalog = catalog
        self.catalog_quarantine = catalog_quarantine
        self.silver = silver
        self.gold = gold
        self.publication = publication
        #: frames persisted (and reads held) during a run, released when it ends
        self._cached: list[DataFrame | ReadResult] = []
        #: a non-item-kNN recommender fitted during a run (its cached frames), released when it ends
        self._recommenders: list[Recommender] = []

    def window(self) -> tuple[date, date]:
        end = self.context.event_date
        return end - timedelta(days=self.config.window_days - 1), end

    def execute_job(self, **kwargs: Any) -> dict[str, Any]:
        """extract → silver → model → quality → load, each a phase; cached frames are released at the end."""
        ctx = self.context
        day = ctx.event_date
        start, end = self.window()
        try:
            items, catalog_counts = self._extract()
            silver = self._silver(items)
            model = self._model(items, silver.frame)
            rows = self._quality(model.tables)
            self._load(model.tables, rows)
        finally:
            for df in self._cached:
                df.unpersist()
            self._cached.clear()
            for recommender in self._recommenders:
                recommender.release()
            self._recommenders.clear()

        n_users, n_items = model.window_users, rows["items"]
        knn_users = model.users_by_source.get(ITEM_KNN, 0)
        personal_users = model.users_by_source.get(self.config.model, 0)
        ctx.metrics.gauge("recommendations_users_item_knn", "Users with item-kNN recommendations").set(
            knn_users
        )
        ctx.metrics.gauge("recommendations_users", "Users with recommendations in the snapshot").set(n_users)
        return {
            "snapshot_date": day.isoformat(),
            "window": [start.isoformat(), end.isoformat()],
            "catalog_items": n_items,
            "catalog_rejected": catalog_counts.rejected,
            "silver_interactions": silver.rows,
            "interactions_unknown_item": silver.latest - silver.rows,
            "window_interactions": model.window_rows,
            "users": n_users,
            "users_with_item_knn": knn_users,
            "model": self.config.model,
            "users_with_model": personal_users,
            "rows": rows,
            "gold_path": self.config.gold_path,
        }

    # -- the phases -----------------------------------------------------------------------------
    def _keep(self, df: DataFrame) -> DataFrame:
        """``df`` persisted until the end of the run."""
        kept = df.persist()
        self._cached.append(kept)
        return kept

    def _reuse(self, df: DataFrame) -> DataFrame:
        """The model functions' :data:`~recommendations.model.Reuse` hook: on DuckDB the frame is
        kept (materialised, so that the operations after it plan against a table: planning cost
        4.0 -> 1.6 s of the MovieLens build); on Spark it is returned as is."""
        from sparkjobs.sql import current_engine

        return self._keep(df) if current_engine() == "duckdb" else df

    def _snapshot(self) -> list[dict[str, Any]]:
        """The snapshot partition of the logical date (what every write replaces)."""
        return [{SNAPSHOT_COLUMN: self.context.event_date}]

    def _extract(self) -> tuple[DataFrame, RejectionCounts]:
        """The clean catalog (its rejected rows quarantined); refuses to run without bronze."""
        from sparkjobs.sql import F

        cfg, ctx = self.config, self.context
        day, snapshot = ctx.event_date, self._snapshot()
        with ctx.phase("extract"):
            if not self.bronze.exists():
                raise DataError(
                    f"no bronze events at {cfg.bronze_path}; run ingest_events first "
                    f"(e.g. sparkjobs run ingest_events --event-date {day.isoformat()} "
                    "--param mode=initial_load)"
                )
            catalog_read = self.catalog.read(cfg.catalog_path)
            catalog_read.persist()
            self._cached.append(catalog_read)  # its unpersist() also frees what the engine held
            catalog_counts = catalog_read.counts()
            self.catalog_quarantine.overwrite_partitions(
                catalog_read.rejected.drop("source_file").withColumn(SNAPSHOT_COLUMN, F.lit(day)),
                replace=snapshot,
                present=snapshot if catalog_counts.rejected else [],
            )
            items = self._keep(clean_catalog(catalog_read.valid))
        ctx.metrics.rows_read(catalog_counts.total, stage="catalog")
        ctx.metrics.rows_rejected(catalog_counts.rejected, stage="catalog")
        return items, catalog_counts

    def _silver(self, items: DataFrame) -> _Silver:
        """The latest rating of every user-item up to the logical date, joined to the catalog; written."""
        from sparkjobs.sql import F

        cfg, ctx = self.config, self.context
        day, snapshot = ctx.event_date, self._snapshot()
        with ctx.phase("silver"):
            latest = latest_interactions(bronze_as_of(self.bronze.read(), day))
            known = items.select("item_id", "title", "year", "genres", F.lit(True).alias("__known"))
            joined = self._keep(latest.join(known, "item_id", "left"))
            (counted,) = joined.agg(
                F.count(F.lit(1)).alias("latest"), F.count("__known").alias("silver")
            ).collect()
            n_latest, n_silver = int(counted["latest"]), int(counted["silver"])
            silver = joined.filter(F.col("__known")).select(
                "user_id",
                "item_id",
                "rating",
                "timestamp",
                "event_ts",
                "event_date",
                "title",
                "year",
                "genres",
            )
            self.silver.overwrite_partitions(
                silver.withColumn(SNAPSHOT_COLUMN, F.lit(day)),
                replace=snapshot,
                present=snapshot if n_silver else [],
            )
        ctx.metrics.rows_read(n_latest, stage="bronze")
        ctx.metrics.rows_written(n_silver, stage="silver")
        if n_latest > n_silver:
            ctx.logger.warning(
                "%d interactions refer to items missing from the catalog %s; left out of silver",
                n_latest - n_silver,
                cfg.catalog_path,
            )
        return _Silver(silver, latest=n_latest, rows=n_silver)

    def _model(self, items: DataFrame, silver: DataFrame) -> _Model:
        """The gold tables of the window: similar and popular items, recommendations, the catalog."""
        from sparkjobs.sql import F

        cfg, ctx = self.config, self.context
        start, end = self.window()
        with ctx.phase("model"):
            in_window = self._keep(
                silver.filter((F.col("event_date") >= F.lit(start)) & (F.col("event_date") <= F.lit(end)))
            )
            (window_counts,) = in_window.agg(
                F.count(F.lit(1)).alias("rows"), F.countDistinct("user_id").alias("users")
            ).collect()
            # similarity and popularity are published whatever the model; computed once, kept, and
            # the item-kNN scoring reads the kept frames. The item-kNN recommendations are only
            # planned when item-kNN is the model (on DuckDB planning an unused query costs ~2 s)
            users, rated = in_window.select("user_id"), silver.select("user_id", "item_id")
            liked, similar, popular = fit(in_window, cfg.params, self._keep, self._reuse)
            if cfg.model == ITEM_KNN:
                recommendations = recommend(
                    users,
                    rated,
                    liked,
                    similar,
                    popular,
                    cfg.params,
                    ctx.settings.spark.salt_buckets,
                    self._reuse,
                )
            else:
                recommender = make_recommender(
                    cfg.model,
                    cfg.params,
                    ease=cfg.ease,
                    als=cfg.als,
                    salt_buckets=ctx.settings.spark.salt_buckets,
                )
                recommender.fit(in_window)
                self._recommenders.append(recommender)
                recommendations = recommender.recommend(users, rated)
            tables = {
                "items": items,
                "similar_items": similar.drop("cooccurrence"),
                "popular_items": popular,
                "recommendations": self._keep(recommendations),
            }
            by_source = {
                r["source"]: int(r["users"])
                for r in tables["recommendations"]
                .groupBy("source")
                .agg(F.countDistinct("user_id").alias("users"))
                .collect()
            }
        return _Model(
            tables,
            window_rows=int(window_counts["rows"]),
            window_users=int(window_counts["users"]),
            users_by_source=by_source,
        )

    def _quality(self, tables: dict[str, DataFrame]) -> dict[str, int]:
        """Every gold table checked (raises before anything is written); its row count."""
        cfg, ctx = self.config, self.context
        with ctx.phase("quality"):
            reports = {
                name: ctx.check_quality(tables[name], cfg.quality.get(name, []), dataset=f"gold.{name}")
                for name in GOLD_TABLES
            }
            for report in reports.values():
                report.raise_on_failure()
            rows: dict[str, int] = {}
            for name in GOLD_TABLES:
                checked = reports[name].rows  # the checks counted the rows; no checks, no count
                rows[name] = int(checked) if checked is not None else tables[name].count()
        return rows

    def _load(self, tables: dict[str, DataFrame], rows: dict[str, int]) -> None:
        """The gold snapshot partitions replaced, table by table."""
        from sparkjobs.sql import F

        ctx = self.context
        day, snapshot = ctx.event_date, self._snapshot()
        with ctx.phase("load"):
            self.publication.unpublish(day)  # from here until publish(), loaders refuse this date
            for name in ("items", "popular_items", "similar_items", "recommendations"):
                self.gold[name].overwrite_partitions(
                    tables[name].withColumn(SNAPSHOT_COLUMN, F.lit(day)),
                    replace=snapshot,
                    present=snapshot if rows[name] else [],
                    on_empty="write_empty",
                )
                ctx.metrics.rows_written(rows[name], stage=f"gold.{name}")
            self.publication.publish(day, run_id=ctx.run_id, rows=rows)

    def on_success(self, result: Any) -> None:
        self.context.logger.info(
            "gold snapshot %s (window %s..%s): %s; %d of %d users have %s recommendations",
            result["snapshot_date"],
            *result["window"],
            ", ".join(f"{k}={v}" for k, v in result["rows"].items()),
            result["users_with_model"],
            result["users"],
            result["model"],
        )

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error(
            "build_recommendations %s failed: %s; the gold snapshot of that date was not (fully) replaced, "
            "so the loader keeps serving the previous snapshot",
            self.context.event_date.isoformat(),
            error_message,
        )


class BuildRecommendationsFactory(AbstractJobFactory[BuildRecommendationsConfig]):
    config_model = BuildRecommendationsConfig
    job_name = "build_recommendations"
    # the paths default to the catalog's (conf/base/catalog.yml)
    inputs = {"bronze_path": "bronze_events", "catalog_path": "movies"}
    outputs = {"silver_path": "silver", "gold_path": "gold", "catalog_quarantine_path": "quarantine_movies"}
    metadata = JobMetadata(
        description="Silver interactions + gold recommendations (item_knn, ease or als), similar, popular",
        version="1.1.0",
        stage="gold",
        capabilities=frozenset({"incremental", "backfill", "idempotent", "validation"}),
        requires=frozenset({"dataframe"}),  # Spark or DuckDB
    )

    @classmethod
    def requirements(cls, config: BuildRecommendationsConfig) -> dict[str, str]:
        if config.model == "als":  # the other models run on either engine
            return {**super().requirements(config), "spark": "model: als trains with Spark MLlib"}
        return super().requirements(config)

    @classmethod
    def input_paths(cls, config: BuildRecommendationsConfig) -> list[str]:  # measured by engine: auto
        return [config.bronze_path, config.catalog_path]

    def create_job(self, **kwargs: Any) -> BuildRecommendationsJob:
        cfg, spark = self.config, self.spark
        fs = io.file_system(spark)  # Spark's or DuckDB's IO, whichever engine the run uses
        gold_sort = {"items": ["item_id"], "recommendations": ["user_id", "rank"]}
        gold_sort |= {"similar_items": ["item_id", "rank"], "popular_items": ["rank"]}
        gold_root = cfg.gold_path.rstrip("/")
        return BuildRecommendationsJob(
            cfg,
            self.context,
            bronze=io.previous_reader(
                spark, cfg.bronze_path, BRONZE_DDL, fs=fs, listing_threshold=cfg.listing_threshold
            ),
            catalog=io.raw_reader(spark, CATALOG_SCHEMA, format="csv"),
            catalog_quarantine=io.parquet_writer(
                spark, cfg.catalog_quarantine_path, [SNAPSHOT_COLUMN], fs=fs
            ),
            silver=io.parquet_writer(
                spark,
                f"{cfg.silver_path.rstrip('/')}/interactions",
                [SNAPSHOT_COLUMN],
                sort_within=["user_id", "item_id"],
                fs=fs,
            ),
            gold={
                name: io.parquet_writer(
                    spark, f"{gold_root}/{name}", [SNAPSHOT_COLUMN], sort_within=sort, fs=fs
                )
                for name, sort in gold_sort.items()
            },
            publication=GoldPublication(fs, gold_root),
        )


main = make_main(BuildRecommendationsFactory)
