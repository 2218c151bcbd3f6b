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
approximation of EASE. Users only cost the scoring product, ``n_users x n_items``, done in blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from recommendations.model import ModelParams, positives
from recommendations.models.base import Recommender, with_fallback
from sparkjobs import DataError

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame

#: users scored per block of the matrix product (bounds the driver's memory to block x items)
USER_BLOCK = 2048


class EaseParams(BaseModel):
    """Parameters of EASE^R (``ease:`` in the build and evaluate job configs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    l2: float = Field(100.0, gt=0.0, description="L2 regularisation added to the Gram matrix's diagonal")
    popularity_penalty: float = Field(
        0.3, ge=0.0, le=1.0, description="an item's score is divided by (its likes) ** this"
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


def top_scores(scores: np.ndarray, items: np.ndarray, top_n: int) -> list[tuple[int, int, float]]:
    """Per row (user index), the ``top_n`` positive scores: ``(row, item_id, score)``, best first,
    ties by item id. Excluded entries must be ``-inf``."""
    import numpy as np

    out: list[tuple[int, int, float]] = []
    for row in range(scores.shape[0]):
        s = scores[row]
        candidates = np.flatnonzero(s > 0)
        if candidates.size == 0:
            continue
        order = np.lexsort((items[candidates], -s[candidates]))[:top_n]
        out.extend((row, int(items[i]), float(s[i])) for i in candidates[order])
    return out


class EaseRecommender(Recommender):
    """EASE^R on the driver, popular fallback in Spark."""

    name = "ease"

    def __init__(self, params: ModelParams, ease: EaseParams) -> None:
        super().__init__(params)
        self.ease = ease

    def fit(self, interactions: DataFrame) -> None:
        import numpy as np

        liked = positives(interactions, self.params).select("user_id", "item_id").distinct()
        pairs = np.array([(r[0], r[1]) for r in liked.collect()], dtype=np.int64).reshape(-1, 2)
        items, likes = np.unique(pairs[:, 1], return_counts=True)
        kept = likes >= self.ease.min_item_likes
        if int(kept.sum()) > self.ease.max_items:
            raise DataError(
                f"EASE would fit {int(kept.sum()):,} items, more than ease.max_items="
                f"{self.ease.max_items:,} (a dense {int(kept.sum()):,}^2 matrix on the driver); raise "
                "ease.min_item_likes or ease.max_items, or use model: als"
            )
        self.items = items[kept]
        self.liked = pairs
        users = np.unique(pairs[:, 0])
        cells = self._cells(pairs, users)
        x = np.zeros((users.size, self.items.size), dtype=np.float64)
        x[cells[:, 0], cells[:, 1]] = 1.0
        self.weights = (
            ease_weights(x, self.ease.l2) / likes[kept].astype(np.float64) ** self.ease.popularity_penalty
        )
        self.popular = self.fit_popular(interactions)

    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        import numpy as np

        wanted = np.array(
            sorted({int(r[0]) for r in users.select("user_id").distinct().collect()}), dtype=np.int64
        )
        seen = np.array(
            [(int(r[0]), int(r[1])) for r in rated.select("user_id", "item_id").distinct().collect()],
            dtype=np.int64,
        ).reshape(-1, 2)
        liked, seen = self._cells(self.liked, wanted), self._cells(seen, wanted)
        rows: list[tuple[int, int, float]] = []
        for start in range(0, wanted.size, USER_BLOCK):
            stop = min(start + USER_BLOCK, wanted.size)
            x = np.zeros((stop - start, self.items.size))
            block = (liked[:, 0] >= start) & (liked[:, 0] < stop)
            x[liked[block, 0] - start, liked[block, 1]] = 1.0
            scores = x @ self.weights
            scores[x.sum(axis=1) < self.params.min_user_positives] = -np.inf
            block = (seen[:, 0] >= start) & (seen[:, 0] < stop)
            scores[seen[block, 0] - start, seen[block, 1]] = -np.inf
            rows.extend(
                (int(wanted[start + r]), item, score)
                for r, item, score in top_scores(scores, self.items, self.params.top_n)
            )
        personal = users.sparkSession.createDataFrame(rows, "user_id int, item_id int, score double")
        return with_fallback(personal, users, rated, self.popular, self.params.top_n, self.name)

    def _cells(self, pairs: np.ndarray, users: np.ndarray) -> np.ndarray:
        """``(user_id, item_id)`` pairs as ``(row in users, column of the item)``, for the pairs
        whose user is in ``users`` and whose item is in the model."""
        import numpy as np

        row = np.searchsorted(users, pairs[:, 0]).clip(max=max(users.size - 1, 0))
        column = np.searchsorted(self.items, pairs[:, 1]).clip(max=max(self.items.size - 1, 0))
        known = (users.size > 0) & (self.items.size > 0)
        if not known:
            return np.zeros((0, 2), dtype=np.int64)
        inside = (users[row] == pairs[:, 0]) & (self.items[column] == pairs[:, 1])
        return np.stack([row[inside], column[inside]], axis=1)
