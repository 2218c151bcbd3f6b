"""Spark MLlib ALS with implicit feedback (Hu, Koren & Volinsky 2008), distributed.

Every positive (rating ``>= positive_rating``) is an observation of preference 1 with confidence
``1 + alpha``; the unobserved cells are preference 0 with confidence 1. ALS alternates least
squares on user and item factors of size ``rank`` for ``max_iter`` rounds (distributed, MLlib). A
user's candidates are the unrated items with the highest positive ``u . v``; the popular fallback
fills the rest (users without positives have no factors). The factors are small (users and items x
``rank`` floats), so scoring runs on the driver in blocks of users (:mod:`recommendations.models.driver`):
MLlib's ``recommendForUserSubset`` has to be asked for ``top_n`` + the heaviest user's rated items
per user and took minutes here where the driver takes a second; past a few million users x items
per block, score in Spark instead.

Reruns give the same factors: the seed is fixed and the data is spread over a fixed number of
blocks (``blocks``), independent of the input's partitioning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from recommendations.model import ModelParams, positives
from recommendations.models.base import Recommender, with_fallback
from recommendations.models.driver import recommend_on_driver

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame


class AlsParams(BaseModel):
    """Parameters of implicit ALS (``als:`` in the build and evaluate job configs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(32, ge=1, description="size of the latent factors")
    reg_param: float = Field(0.05, ge=0.0, description="L2 regularisation of the factors")
    # alpha: chosen on the validation split (docs/comparison/tuning.json; no value reaches the
    # coverage floor, so the highest validation coverage)
    alpha: float = Field(40.0, gt=0.0, description="confidence of an observed positive is 1 + alpha")
    max_iter: int = Field(10, ge=1, description="alternating least-squares rounds")
    blocks: int = Field(2, ge=1, description="user and item blocks (fixed: reruns give the same factors)")
    seed: int = Field(42, description="random seed of the initial factors")


class AlsRecommender(Recommender):
    """Implicit ALS from ``pyspark.ml``, popular fallback."""

    name = "als"

    def __init__(self, params: ModelParams, als: AlsParams) -> None:
        super().__init__(params)
        self.als = als

    def fit(self, interactions: DataFrame) -> None:
        import numpy as np
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
        model = estimator.fit(liked)
        users = sorted((int(r["id"]), list(r["features"])) for r in model.userFactors.collect())
        items = sorted((int(r["id"]), list(r["features"])) for r in model.itemFactors.collect())
        self.user_ids = np.array([u for u, _ in users], dtype=np.int64)
        self.user_factors = np.array([f for _, f in users], dtype=np.float64).reshape(
            len(users), self.als.rank
        )
        self.items = np.array([i for i, _ in items], dtype=np.int64)
        self.item_factors = np.array([f for _, f in items], dtype=np.float64).reshape(
            len(items), self.als.rank
        )
        self.popular = self.fit_popular(interactions)

    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        import numpy as np

        def block_scores(block: np.ndarray) -> np.ndarray:
            scores = np.full((block.size, self.items.size), -np.inf)
            if self.user_ids.size == 0:
                return scores
            row = np.searchsorted(self.user_ids, block).clip(max=self.user_ids.size - 1)
            known = self.user_ids[row] == block
            scores[known] = self.user_factors[row[known]] @ self.item_factors.T
            return scores

        personal = recommend_on_driver(users, rated, self.items, self.params.top_n, block_scores)
        return with_fallback(personal, users, rated, self.popular, self.params.top_n, self.name)
