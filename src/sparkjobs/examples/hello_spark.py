"""Count events per item and day from a generated event stream, written as date-partitioned Parquet."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sparkjobs import AbstractJob, AbstractJobFactory, JobMetadata, make_main


class HelloSparkConfig(BaseModel):
    output_path: str = Field("data/examples/hello_spark", description="where the Parquet output goes")
    rows: int = Field(10_000, ge=1, description="how many synthetic events to generate")
    items: int = Field(50, ge=1, description="distinct items the events spread over")
    days: int = Field(3, ge=1, le=366, description="days before event_date the events cover (inclusive)")


class HelloSparkJob(AbstractJob):
    def __init__(self, spark: Any, config: HelloSparkConfig, context: Any) -> None:
        self.spark, self.config, self.context = spark, config, context

    def execute_job(self, **kwargs: Any) -> dict[str, Any]:
        from pyspark.sql import functions as F

        cfg, ctx = self.config, self.context
        events = self.spark.range(cfg.rows).select(
            (F.col("id") % cfg.items).alias("item_id"),
            F.date_sub(F.lit(ctx.event_date), (F.col("id") % cfg.days).cast("int")).alias("event_date"),
        )
        counts = events.groupBy("event_date", "item_id").agg(F.count("*").alias("events"))
        counts.write.mode("overwrite").partitionBy("event_date").parquet(cfg.output_path)
        written = self.spark.read.parquet(cfg.output_path).count()
        ctx.metrics.rows_read(cfg.rows)
        ctx.metrics.rows_written(written)
        return {"rows_in": cfg.rows, "rows_out": written, "output_path": cfg.output_path}

    def on_success(self, result: Any) -> None:
        self.context.logger.info("hello_spark wrote %s rows to %s", result["rows_out"], result["output_path"])

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error("hello_spark failed: %s", error_message)


class HelloSparkFactory(AbstractJobFactory[HelloSparkConfig]):
    config_model = HelloSparkConfig
    metadata = JobMetadata(
        description="Count generated events per item and day (the bundled example job)",
        version="1.0.0",
        stage="silver",
        capabilities=frozenset({"incremental", "idempotent"}),
        requires=frozenset({"spark"}),
    )

    def create_job(self, **kwargs: Any) -> HelloSparkJob:
        return HelloSparkJob(self.spark, self.config, self.context)


main = make_main(HelloSparkFactory)
