"""What every recommender does, and the popular fallback shared by the models that need it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from recommendations.model import POPULAR, ModelParams, popular_items, positives

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class Recommender(ABC):
    """``fit`` on ``user_id, item_id, rating, timestamp``, then ``recommend`` for some users.

    ``fit`` materialises what it learns (so that its time is the training time); ``recommend``
    returns a lazy frame ``user_id, item_id, score, rank, source`` with ``params.top_n`` rows per
    user, never an item of ``rated``; ``release`` frees what ``fit`` cached.
    """

    name: str

    def __init__(self, params: ModelParams) -> None:
        self.params = params
        self._cached: list[DataFrame] = []

    @abstractmethod
    def fit(self, interactions: DataFrame) -> None:
        """Learn from ``interactions``."""

    @abstractmethod
    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        """``top_n`` recommendations per user of ``users`` excluding ``rated`` (``user_id, item_id``)."""

    def keep(self, df: DataFrame) -> DataFrame:
        """``df`` persisted and computed, until :meth:`release`."""
        df = df.persist()
        df.count()
        self._cached.append(df)
        return df

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    def fit_popular(self, interactions: DataFrame) -> DataFrame:
        """The popular pool of ``interactions`` (the fallback), kept."""
        return self.keep(popular_items(positives(interactions, self.params), self.params))


def with_fallback(
    personal: DataFrame,
    users: DataFrame,
    rated: DataFrame,
    popular: DataFrame,
    top_n: int,
    source: str,
) -> DataFrame:
    """``personal`` (``user_id, item_id, score``: the model's unrated candidates) ranked best first,
    each user's list topped up to ``top_n`` with the most popular items they have not rated and do
    not already have (``source = 'popular'``, score = users who liked it); ties by item id."""
    from sparkjobs.sql import F, Window  # the run's engine: Spark or DuckDB

    users = users.select(F.col("user_id").cast("int")).distinct()
    rated = rated.select(F.col("user_id").cast("int"), F.col("item_id").cast("int")).distinct()
    own = personal.select(
        F.col("user_id").cast("int"),
        F.col("item_id").cast("int"),
        F.col("score").cast("double"),
        F.lit(0).alias("__fallback"),
        F.lit(0).alias("__pop_rank"),
    ).join(users, "user_id", "left_semi")
    # at most top_n personal items and the user's rated items can push pool items out of a list
    pool = F.broadcast(
        popular.select("item_id", F.col("score").alias("pop_score"), F.col("rank").alias("pop_rank"))
    )
    rated_in_pool = rated.join(pool.select("item_id"), "item_id").groupBy("user_id").count()
    bounds = users.join(rated_in_pool, "user_id", "left").select(
        "user_id", (F.lit(2 * top_n) + F.coalesce(F.col("count"), F.lit(0))).alias("bound")
    )
    fallback = (
        bounds.join(pool, F.col("pop_rank") <= F.col("bound"))
        .join(rated, ["user_id", "item_id"], "left_anti")
        .join(own.select("user_id", "item_id"), ["user_id", "item_id"], "left_anti")
        .select(
            "user_id",
            "item_id",
            F.col("pop_score").cast("double").alias("score"),
            F.lit(1).alias("__fallback"),
            F.col("pop_rank").alias("__pop_rank"),
        )
    )
    order = Window.partitionBy("user_id").orderBy(
        F.col("__fallback"), F.col("score").desc(), F.col("__pop_rank"), F.col("item_id")
    )
    ranked = own.unionByName(fallback).withColumn("rank", F.row_number().over(order))
    return ranked.filter(F.col("rank") <= top_n).select(
        "user_id",
        "item_id",
        "score",
        F.col("rank").cast("int"),
        F.when(F.col("__fallback") == 1, F.lit(POPULAR)).otherwise(F.lit(source)).alias("source"),
    )
