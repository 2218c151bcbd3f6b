"""Evaluate the recommender on a per-user temporal hold-out, side by side with a popularity baseline.

Input: every rating delivered up to the logical date (the latest per user-item, from bronze) and
the catalog. Each user's last ``test_fraction`` of ratings by time is held out; both recommenders
learn from the rest (see :mod:`recommendations.evaluation` for the exact definitions).

Output: HitRate@K, Precision@K, Recall@K and catalog coverage per model, in the job's result,
as gauges in the run's metrics (``recommendations_eval{model,metric}``, hence in the run report and
the metrics textfile), and as ``report.json`` + ``report.md`` under
``<output_path>/evaluation_date=<date>/`` (replaced on a rerun).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recommendations.evaluation import MODELS, RankingMetrics, evaluate
from recommendations.lake import BRONZE_DDL, CATALOG_SCHEMA
from recommendations.model import ModelParams
from recommendations.silver import bronze_as_of, latest_interactions
from sparkjobs import AbstractJob, AbstractJobFactory, DataError, JobContext, JobMetadata, make_main
from sparkjobs.io import HadoopFileSystem, PreviousOutputReader, RawFileReader

METRICS = ("hit_rate", "precision", "recall", "coverage")


class EvaluateRecommendationsConfig(BaseModel):
    """Parameters of ``evaluate_recommendations`` (config key ``jobs.evaluate_recommendations``)."""

    model_config = ConfigDict(extra="forbid")

    bronze_path: str = Field(
        "data/lake/bronze/events", description="bronze events (written by ingest_events)"
    )
    catalog_path: str = Field(
        "data/raw/catalog/movies.csv", description="item catalog CSV (coverage denominator)"
    )
    output_path: str = Field("data/lake/reports/evaluation", description="where report.json/report.md go")
    k: int = Field(10, ge=1, le=1000, description="cut-off of the ranking metrics")
    test_fraction: float = Field(
        0.2, gt=0.0, lt=1.0, description="share of each user's latest ratings held out"
    )
    model: ModelParams = Field(default_factory=ModelParams, description="recommender parameters")
    require_lift: bool = Field(
        False, description="fail the run when item-kNN's HitRate@K is not above the popularity baseline's"
    )
    listing_threshold: int | None = Field(
        10_000, ge=1, description="driver-side listing of bronze directories"
    )


def markdown_table(results: dict[str, RankingMetrics], k: int) -> str:
    """The side-by-side table of the report."""
    lines = [
        f"| model | users | HitRate@{k} | Precision@{k} | Recall@{k} | coverage | items |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in MODELS:
        m = results[name]
        lines.append(
            f"| {name} | {m.users} | {m.hit_rate:.4f} | {m.precision:.4f} | {m.recall:.4f} | "
            f"{m.coverage:.2%} | {m.items_recommended} |"
        )
    return "\n".join(lines) + "\n"


class EvaluateRecommendationsJob(AbstractJob):
    def __init__(
        self,
        config: EvaluateRecommendationsConfig,
        context: JobContext,
        *,
        bronze: PreviousOutputReader,
        catalog: RawFileReader,
        fs: HadoopFileSystem,
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
                results = evaluate(
                    interactions,
                    catalog_size,
                    cfg.model,
                    k=cfg.k,
                    test_fraction=cfg.test_fraction,
                    salt_buckets=ctx.settings.spark.salt_buckets,
                )
        finally:
            interactions.unpersist()
        gauge = ctx.metrics.gauge(
            "recommendations_eval", "Offline evaluation on the temporal hold-out", ("model", "metric")
        )
        for name, m in results.items():
            for metric in METRICS:
                gauge.labels(name, metric).set(getattr(m, metric))
        knn, pop = results["item_knn"], results["popularity"]
        report = {
            "evaluation_date": day.isoformat(),
            "run_id": ctx.run_id,
            "k": cfg.k,
            "test_fraction": cfg.test_fraction,
            "positive_rating": cfg.model.positive_rating,
            "interactions": n_interactions,
            "catalog_items": catalog_size,
            "model_params": cfg.model.model_dump(mode="json"),
            "models": {name: results[name].to_dict() for name in MODELS},
            "hit_rate_lift": knn.hit_rate - pop.hit_rate,
        }
        target = f"{cfg.output_path.rstrip('/')}/evaluation_date={day.isoformat()}"
        with ctx.phase("report"):
            table = markdown_table(results, cfg.k)
            self.fs.write_text(f"{target}/report.json", json.dumps(report, indent=2) + "\n")
            self.fs.write_text(
                f"{target}/report.md",
                f"# Offline evaluation {day.isoformat()}\n\nPer-user temporal hold-out (last "
                f"{cfg.test_fraction:.0%} of each user's ratings), positives = rating >= "
                f"{cfg.model.positive_rating:g}, {n_interactions:,} interactions, {catalog_size:,} catalog "
                f"items.\n\n{table}",
            )
        ctx.logger.info("offline evaluation %s (k=%d):\n%s", day.isoformat(), cfg.k, table)
        if cfg.require_lift and knn.hit_rate <= pop.hit_rate:
            raise DataError(
                f"item_knn HitRate@{cfg.k} {knn.hit_rate:.4f} is not above the popularity baseline's "
                f"{pop.hit_rate:.4f} (require_lift=true); see {target}/report.md"
            )
        return {**report, "report_path": target}

    def on_success(self, result: Any) -> None:
        knn, pop = result["models"]["item_knn"], result["models"]["popularity"]
        self.context.logger.info(
            "HitRate@%d item_knn %.4f vs popularity %.4f; coverage %.2f%% vs %.2f%%; report in %s",
            result["k"],
            knn["hit_rate"],
            pop["hit_rate"],
            100 * knn["coverage"],
            100 * pop["coverage"],
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
        description="HitRate/Precision/Recall@K and coverage on a per-user temporal hold-out vs popularity",
        version="1.0.0",
        stage="gold",
        capabilities=frozenset({"validation", "idempotent"}),
        requires=frozenset({"spark"}),
    )

    def create_job(self, **kwargs: Any) -> EvaluateRecommendationsJob:
        cfg, spark = self.config, self.spark
        fs = HadoopFileSystem(spark)
        return EvaluateRecommendationsJob(
            cfg,
            self.context,
            bronze=PreviousOutputReader(
                spark, cfg.bronze_path, BRONZE_DDL, fs=fs, listing_threshold=cfg.listing_threshold
            ),
            catalog=RawFileReader(spark, CATALOG_SCHEMA, format="csv"),
            fs=fs,
        )


main = make_main(EvaluateRecommendationsFactory)
