"""Silver transformations shared by the build and evaluate jobs: latest ratings and a clean catalog."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from recommendations.lake import period_range

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def bronze_as_of(bronze: DataFrame, as_of: date) -> DataFrame:
    """Bronze rows delivered up to ``as_of`` (whole partitions after it are skipped)."""
    from sparkjobs.sql import F

    return bronze.filter(period_range(None, as_of) & (F.col("event_date") <= F.lit(as_of)))


def latest_interactions(events: DataFrame) -> DataFrame:
    """One row per user-item: the latest rating (by event time, then delivery, then the higher rating)."""
    from sparkjobs.sql import F, Window

    latest_first = Window.partitionBy("user_id", "item_id").orderBy(
        F.col("timestamp").desc(), F.col("event_date").desc(), F.col("rating").desc()
    )
    return (
        events.withColumn("__n", F.row_number().over(latest_first))
        .filter(F.col("__n") == 1)
        .select("user_id", "item_id", "rating", "timestamp", "event_ts", "event_date")
    )


def clean_catalog(valid: DataFrame) -> DataFrame:
    """One row per item (the first by title when an id repeats), every item with a title.

    Items without a title (MovieLens has 5) are called ``(untitled item <id>)`` so that serving
    always has something to show.
    """
    from sparkjobs.sql import F, Window

    first = Window.partitionBy("item_id").orderBy(
        F.col("title").asc_nulls_last(), F.col("year"), F.col("genres")
    )
    placeholder = F.concat(F.lit("(untitled item "), F.col("item_id").cast("string"), F.lit(")"))
    return (
        valid.withColumn("__n", F.row_number().over(first))
        .filter(F.col("__n") == 1)
        .select(
            F.col("item_id").cast("int"),
            F.coalesce(F.col("title"), placeholder).alias("title"),
            F.col("year").cast("int"),
            F.coalesce(F.col("genres"), F.lit("(no genres listed)")).alias("genres"),
        )
    )
