"""Scoring on the driver with numpy, for models whose state is small matrices (EASE^R, ALS factors).

Users are scored in blocks of :data:`USER_BLOCK` rows (the driver holds ``block x items`` scores at
a time); items a user rated are masked out; each user keeps their ``top_n`` positive scores, best
first, ties by item id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import DataFrame

#: users scored per block of the matrix product (bounds the driver's memory to block x items)
USER_BLOCK = 2048


def collect_pairs(df: DataFrame, first: str = "user_id", second: str = "item_id") -> np.ndarray:
    """The distinct ``(first, second)`` integer pairs of ``df`` as an ``n x 2`` array."""
    import numpy as np

    table = df.select(first, second).distinct().toArrow()  # columnar: no Row object per pair
    return np.stack([_int64(table.column(i)) for i in (0, 1)], axis=1).reshape(-1, 2)


def _int64(column: Any) -> np.ndarray:
    """An Arrow integer column as a numpy ``int64`` array."""
    import numpy as np

    return column.to_numpy(zero_copy_only=False).astype(np.int64)


def cells(pairs: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``(user_id, item_id)`` pairs as ``(row in users, column in items)`` (both sorted), for the
    pairs whose user and item are both known."""
    import numpy as np

    if users.size == 0 or items.size == 0 or pairs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    row = np.searchsorted(users, pairs[:, 0]).clip(max=users.size - 1)
    column = np.searchsorted(items, pairs[:, 1]).clip(max=items.size - 1)
    inside = (users[row] == pairs[:, 0]) & (items[column] == pairs[:, 1])
    return np.stack([row[inside], column[inside]], axis=1)


def top_scores(scores: np.ndarray, items: np.ndarray, top_n: int) -> list[tuple[int, int, float]]:
    """Per row, the ``top_n`` positive scores: ``(row, item_id, score)``, best first, ties by item
    id. Excluded entries must be ``-inf``."""
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


def recommend_on_driver(
    users: DataFrame,
    rated: DataFrame,
    items: np.ndarray,
    top_n: int,
    block_scores: Callable[[np.ndarray], np.ndarray],
) -> DataFrame:
    """``user_id, item_id, score``: each user's ``top_n`` best unrated items by ``block_scores``
    (sorted user ids of a block → their ``len x len(items)`` scores, ``-inf`` for no score)."""
    import numpy as np

    wanted = np.unique(_int64(users.select("user_id").distinct().toArrow().column(0)))
    seen = cells(collect_pairs(rated), wanted, items)
    rows: list[tuple[int, int, float]] = []
    for start in range(0, wanted.size, USER_BLOCK):
        stop = min(start + USER_BLOCK, wanted.size)
        scores = block_scores(wanted[start:stop])
        block = (seen[:, 0] >= start) & (seen[:, 0] < stop)
        scores[seen[block, 0] - start, seen[block, 1]] = -np.inf
        rows.extend(
            (int(wanted[start + r]), item, score) for r, item, score in top_scores(scores, items, top_n)
        )
    return users.sparkSession.createDataFrame(rows, "user_id int, item_id int, score double")
