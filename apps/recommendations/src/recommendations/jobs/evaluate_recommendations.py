"""Evaluate every recommender on a per-user temporal hold-out, side by side.

Input: every rating delivered up to the logical date (the latest per user-item, from bronze) and
the catalog. Each user's last ``test_fraction`` of ratings by time is held out; popularity,
item-kNN, EASE^R and ALS learn from the rest, the last three after tuning on a validation
split of the training part (see :mod:`recommendations.comparison` and
:mod:`recommendations.evaluation` for the exact definitions).

Output: HitRate, Precision, Recall, NDCG, MAP at each cut-off, catalog coverage, the share of users
served personally and the training/scoring times per model, in the job's result, as gauges in the
run's metrics (``recommendations_eval{model,metric}`` at the headline cut-off, hence in the run
report and the metrics textfile), and as ``report.json`` + ``report.md`` under
``<output_path>/evaluation_date=<date>/`` (replaced on a rerun).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from recommendations.comparison import Comparison, ComparisonSpec, compare, default_model
from recommendations.lake import BRONZE_DDL, CATALOG_SCHEMA
from recommendations.report import markdown_params, markdown_tables, markdown_verdict
from recommendations.silver import bronze_as_of, latest_interactions
from sparkjobs import AbstractJob, AbstractJobFactory, DataError, JobContext, JobMetadata, io, make_main
from sparkjobs.io import HadoopFileSystem, LocalFileSystem, PreviousOutputReader, RawFileReader

METRICS = ("hit_rate", "precision", "recall", "ndcg", "map", "coverage", "personalised")


class EvaluateRecommendationsConfig(ComparisonSpec):
    """Parameters of ``evaluate_recommendations`` (config key ``jobs.evaluate_recommendations``):
    the comparison (:class:`~recommendations.comparison.ComparisonSpec`) plus paths."""

    bronze_path: str = Field(
        "data/lake/bronze/events", description="bronze events (written by ingest_events)"
    )
    catalog_path: str = Field(
        "data/raw/catalog/movies.csv", description="item catalog CSV (coverage denominator)"
    )
    output_path: str = Field("data/lake/reports/evaluation", description="where report.json/report.md go")
    require_lift: bool = Field(
        False,
        description="fail the run when the default model's HitRate@K is not above the popularity baseline's",
    )
    listing_threshold: int | None = Field(
        10_000, ge=1, description="driver-side listing of bronze directories"
    )


class EvaluateRecommendationsJob(AbstractJob):
    def __init__(
        self,
        config: EvaluateRecommendationsConfig,
        context: JobContext,
        *,
        bronze: PreviousOutputReader,
        catalog: RawFileReader,
        fs: HadoopFileSystem | LocalFileSystem,
    ) -> None:
        self.config, self.context = config, context
        self.bronze, self.catalog, self.fs = bronze, catalog, fs

    def execute_job(self, **kwargs: Any) -> dict[str, Any]:
        cfg, ctx = self.config, self.context
        day = ctx.event_date
        with ctx.phase("extract"):
            if not self.bronze.exists():
                raise DataError(f"no bronze events at {cfg.bronze_path}; run ingest_events first")
            interactions = latest_interactions(bronze_as_of(self.bronze.read(), day)).persist()
            n_interactions = interactions.count()
            catalog_size = self.catalog.read(cfg.catalog_path).valid.select("item_id").distinct().count()
        ctx.metrics.rows_read(n_interactions, stage="bronze")
        try:
            with ctx.phase("evaluate"):
                comparison = compare(
                    interactions,
                    catalog_size,
                    cfg,
                    salt_buckets=ctx.settings.spark.salt_buckets,
                    log=ctx.logger.info,
                )
        finally:
            interactions.unpersist()
        k = cfg.k
        gauge = ctx.metrics.gauge(
            "recommendations_eval", f"Offline evaluation on the temporal hold-out (@{k})", ("model", "metric")
        )
        for name, result in comparison.results.items():
            for metric in METRICS:
                gauge.labels(name, metric).set(getattr(result.metrics[k], metric))
        report = {
            "evaluation_date": day.isoformat(),
            "run_id": ctx.run_id,
            "interactions": n_interactions,
            **comparison.to_dict(),
        }
        target = f"{cfg.output_path.rstrip('/')}/evaluation_date={day.isoformat()}"
        with ctx.phase("report"):
            tables = markdown_tables(comparison)
            self.fs.write_text(f"{target}/report.json", json.dumps(report, indent=2) + "\n")
            self.fs.write_text(
                f"{target}/report.md",
                f"# Offline evaluation {day.isoformat()}\n\nPer-user temporal hold-out (last "
                f"{cfg.test_fraction:.0%} of each user's ratings), positives = rating >= "
                f"{cfg.params.positive_rating:g}, {n_interactions:,} interactions, {catalog_size:,} catalog "
                f"items, {comparison.users:,} evaluated users.\n\n{markdown_verdict(comparison)}\n"
                f"{tables}\n{markdown_params(comparison)}",
            )
        ctx.logger.info("offline evaluation %s:\n%s", day.isoformat(), tables)
        self._check_lift(comparison, target)
        return {**report, "report_path": target}

    def _check_lift(self, comparison: Comparison, target: str) -> None:
        k, chosen = self.config.k, default_model(comparison)
        if not self.config.require_lift or chosen is None or "popularity" not in comparison.results:
            return
        best = comparison.results[chosen].metrics[k].hit_rate
        baseline = comparison.results["popularity"].metrics[k].hit_rate
        if best <= baseline:
            raise DataError(
                f"{chosen} HitRate@{k} {best:.4f} is not above the popularity baseline's {baseline:.4f} "
                f"(require_lift=true); see {target}/report.md"
            )

    def on_success(self, result: Any) -> None:
        k = str(result["k"])
        summary = ", ".join(
            f"{name} {m['metrics'][k]['hit_rate']:.4f} ({100 * m['metrics'][k]['coverage']:.2f}% coverage)"
            for name, m in result["models"].items()
        )
        self.context.logger.info(
            "HitRate@%s: %s; default model %s; report in %s",
            k,
            summary,
            result["default_model"],
            result["report_path"],
        )

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error("evaluate_recommendations failed: %s", error_message)


class EvaluateRecommendationsFactory(AbstractJobFactory[EvaluateRecommendationsConfig]):
    config_model = EvaluateRecommendationsConfig
    job_name = "evaluate_recommendations"
    # the paths default to the catalog's (conf/base/catalog.yml)
    inputs = {"bronze_path": "bronze_events", "catalog_path": "movies"}
    outputs = {"output_path": "evaluation_reports"}
    metadata = JobMetadata(
        description="popularity, item-kNN, EASE^R and ALS side by side on a per-user temporal hold-out",
        version="2.0.0",
        stage="gold",
        capabilities=frozenset({"validation", "idempotent"}),
        requires=frozenset({"dataframe"}),  # Spark or DuckDB; ALS adds spark (requirements)
    )

    @classmethod
    def requirements(cls, config: EvaluateRecommendationsConfig) -> dict[str, str]:
        if "als" in config.models:  # popularity, item-kNN and EASE^R run on either engine
            return {**super().requirements(config), "spark": "models includes als (Spark MLlib)"}
        return super().requirements(config)

    @classmethod
    def input_paths(cls, config: EvaluateRecommendationsConfig) -> list[str]:  # measured by engine: auto
        return [config.bronze_path, config.catalog_path]

    def create_job(self, **kwargs: Any) -> EvaluateRecommendationsJob:
        cfg, spark = self.config, self.spark
        fs = io.file_system(spark)  # Spark's or DuckDB's IO, whichever engine the run uses
        return EvaluateRecommendationsJob(
            cfg,
            self.context,
            bronze=io.previous_reader(
                spark, cfg.bronze_path, BRONZE_DDL, fs=fs, listing_threshold=cfg.listing_threshold
            ),
            catalog=io.raw_reader(spark, CATALOG_SCHEMA, format="csv"),
            fs=fs,
        )


main = make_main(EvaluateRecommendationsFactory)
