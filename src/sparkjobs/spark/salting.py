"""Deterministic salting for skewed joins: the salt comes from a hash, never ``rand()``.

``rand()`` salting is not reproducible and duplicates or loses rows when Spark retries a task.
Here each left row gets ``salt = pmod(xxhash64(all its columns), buckets)`` and each right row is
replicated once per bucket, so the join returns exactly the rows of the unsalted join.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SALT_COL = "__sparkjobs_salt"


def salted_join(
    left: DataFrame,
    right: DataFrame,
    on: str | Sequence[str],
    buckets: int,
    how: str = "inner",
) -> DataFrame:
    """Join ``left`` (the skewed, large side) to ``right`` spreading each key over ``buckets`` tasks.

    Supports the join types that keep left rows' identity: inner, left, left_semi, left_anti.
    ``buckets <= 1`` is a plain join.
    """
    from sparkjobs.sql import F

    keys = [on] if isinstance(on, str) else list(on)
    if buckets <= 1:
        return left.join(right, on=keys, how=how)
    if how not in {"inner", "left", "left_outer", "left_semi", "left_anti"}:
        raise ValueError(f"salted_join supports inner/left/left_semi/left_anti joins, not {how!r}")
    salted_left = left.withColumn(
        SALT_COL, F.pmod(F.xxhash64(*[F.col(c) for c in left.columns]), F.lit(buckets)).cast("int")
    )
    salts = F.explode(F.sequence(F.lit(0), F.lit(buckets - 1)))
    salted_right = right.withColumn(SALT_COL, salts)
    return salted_left.join(salted_right, on=[*keys, SALT_COL], how=how).drop(SALT_COL)
