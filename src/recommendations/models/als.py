"""Spark MLlib ALS with implicit feedback (Hu, Koren & Volinsky 2008), distributed.

Every positive (rating ``>= positive_rating``) is an observation of preference 1 with confidence
``1 + alpha``; the unobserved cells are preference 0 with confidence 1. ALS alternates least
squares on user and item factors of size ``rank`` for ``max_iter`` rounds. A user's candidates are
the items with the highest ``u . v`` they have not rated (asked from
``recommendForUserSubset`` with room for the user's rated items, which are then removed); the popular
fallback fills the rest (users without positives have no factors).

Reruns give the same factors: the seed is fixed and the data is spread over a fixed number of
blocks (``blocks``), independent of the input's partitioning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from recommendations.model import ModelParams, positives
from recommendations.models.base import Recommender, with_fallback

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class AlsParams(BaseModel):
    """Parameters of implicit ALS (``als:`` in the build and evaluate job configs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(64, ge=1, description="size of the latent factors")
    reg_param: float = Field(0.05, ge=0.0, description="L2 regularisation of the factors")
    alpha: float = Field(20.0, gt=0.0, description="confidence of an observed positive is 1 + alpha")
    max_iter: int = Field(15, ge=1, description="alternating least-squares rounds")
    blocks: int = Field(2, ge=1, description="user and item blocks (fixed: reruns give the same factors)")
    seed: int = Field(42, description="random seed of the initial factors")


class AlsRecommender(Recommender):
    """Implicit ALS from ``pyspark.ml``, popular fallback."""

    name = "als"

    def __init__(self, params: ModelParams, als: AlsParams) -> None:
        super().__init__(params)
        self.als = als

    def fit(self, interactions: DataFrame) -> None:
        from pyspark.ml.recommendation import ALS
        from pyspark.sql import functions as F

        liked = (
            positives(interactions, self.params)
            .select("user_id", "item_id", F.lit(1.0).alias("preference"))
            .distinct()
            .orderBy("user_id", "item_id")
        )
        estimator = ALS(
            rank=self.als.rank,
            maxIter=self.als.max_iter,
            regParam=self.als.reg_param,
            alpha=self.als.alpha,
            implicitPrefs=True,
            numUserBlocks=self.als.blocks,
            numItemBlocks=self.als.blocks,
            seed=self.als.seed,
            userCol="user_id",
            itemCol="item_id",
            ratingCol="preference",
            coldStartStrategy="drop",
        )
        self.model = estimator.fit(liked)
        self.user_factors = self.keep(self.model.userFactors)
        self.keep(self.model.itemFactors)
        self.popular = self.fit_popular(interactions)

    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        rated = rated.select(F.col("user_id").cast("int"), F.col("item_id").cast("int")).distinct()
        scored = (
            users.select(F.col("user_id").cast("int"))
            .distinct()
            .join(self.user_factors.select(F.col("id").alias("user_id")), "user_id", "left_semi")
        )
        counts = rated.join(scored, "user_id", "left_semi").groupBy("user_id").count()
        most = counts.agg(F.max("count").alias("most")).collect()[0]["most"]
        room = self.params.top_n + int(most or 0)
        asked = self.model.recommendForUserSubset(scored, room)
        candidates = (
            asked.select("user_id", F.explode("recommendations").alias("r"))
            .select("user_id", F.col("r.item_id").alias("item_id"), F.col("r.rating").alias("score"))
            .join(rated, ["user_id", "item_id"], "left_anti")
        )
        return with_fallback(candidates, users, rated, self.popular, self.params.top_n, self.name)
