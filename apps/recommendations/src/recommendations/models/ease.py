"""EASE^R (Steck 2019): a closed-form item-item linear model, fitted with numpy on the driver.

With ``X`` the binary user x item matrix of positives (items liked by at least
``min_item_likes`` users), ``G = X^T X + l2 * I``, ``P = G^-1``, the weights are
``B = -P / diag(P)`` with a zero diagonal (an item never predicts itself). A user's scores are
``x_u B``; each item's score is divided by ``likes(item) ** popularity_penalty`` (0: plain EASE;
> 0 trades a little accuracy on popular items for a wider catalog coverage). The positive scores of
unrated items are the model's candidates, best first; the popular fallback fills the rest.

Where it stops scaling: the Gram matrix is dense, ``n_items^2`` doubles on the driver (10k items:
0.8 GB; 30k: 7.2 GB) and its inverse costs ``O(n_items^3)`` (about 3 s for MovieLens's 3.3k items
on one idle core, ~25x that at 10k). ``max_items`` refuses a larger catalog with a clear error
rather than running the driver out of memory; beyond ~20k items use ALS (distributed) or a sparse
approximation of EASE. Users only cost the scoring product, ``n_users x n_items``, done in blocks
(:mod:`recommendations.models.driver`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from recommendations.model import ModelParams, positives
from recommendations.models.base import Recommender, with_fallback
from recommendations.models.driver import cells, collect_pairs, recommend_on_driver
from sparkjobs import DataError

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame


class EaseParams(BaseModel):
    """Parameters of EASE^R (``ease:`` in the build and evaluate job configs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # l2 and popularity_penalty: chosen on the validation split (docs/comparison/tuning.json)
    l2: float = Field(50.0, gt=0.0, description="L2 regularisation added to the Gram matrix's diagonal")
    popularity_penalty: float = Field(
        0.2, ge=0.0, le=1.0, description="an item's score is divided by (its likes) ** this"
    )
    min_item_likes: int = Field(2, ge=1, description="items liked by fewer users are left out of the model")
    max_items: int = Field(
        20_000, ge=1, description="refuse to fit more items than this (dense n^2 Gram on the driver)"
    )


def ease_weights(x: np.ndarray, l2: float) -> np.ndarray:
    """``B`` of the module docstring for the binary matrix ``x`` (users x items)."""
    import numpy as np

    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


class EaseRecommender(Recommender):
    """EASE^R on the driver, popular fallback in Spark."""

    name = "ease"

    def __init__(self, params: ModelParams, ease: EaseParams) -> None:
        super().__init__(params)
        self.ease = ease

    def fit(self, interactions: DataFrame) -> None:
        import numpy as np

        pairs = collect_pairs(positives(interactions, self.params))
        items, likes = np.unique(pairs[:, 1], return_counts=True)
        kept = likes >= self.ease.min_item_likes
        n = int(kept.sum())
        if n > self.ease.max_items:
            raise DataError(
                f"EASE would fit {n:,} items, more than ease.max_items={self.ease.max_items:,} (a dense "
                f"{n:,}^2 matrix on the driver); raise ease.min_item_likes or ease.max_items, "
                "or use model: als"
            )
        self.items = items[kept]
        self.liked = pairs
        users = np.unique(pairs[:, 0])
        x = np.zeros((users.size, n), dtype=np.float64)
        liked = cells(pairs, users, self.items)
        x[liked[:, 0], liked[:, 1]] = 1.0
        penalty = likes[kept].astype(np.float64) ** self.ease.popularity_penalty
        self.weights = ease_weights(x, self.ease.l2) / penalty if n else np.zeros((0, 0))
        self.popular = self.fit_popular(interactions)

    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        import numpy as np

        def block_scores(block: np.ndarray) -> np.ndarray:
            liked = cells(self.liked, block, self.items)
            x = np.zeros((block.size, self.items.size))
            x[liked[:, 0], liked[:, 1]] = 1.0
            scores = x @ self.weights
            scores[x.sum(axis=1) < self.params.min_user_positives] = -np.inf
            return scores

        personal = recommend_on_driver(users, rated, self.items, self.params.top_n, block_scores)
        return with_fallback(personal, users, rated, self.popular, self.params.top_n, self.name)
