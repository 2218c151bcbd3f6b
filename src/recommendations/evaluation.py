"""Offline evaluation: a per-user temporal hold-out, ranking metrics, our model vs a popularity baseline.

Split: each user's ratings are ordered by time (ties by item id); the last ``floor(n * test_fraction)``
are the test set, the rest the training set. (A single global time cutoff does not work on
MovieLens: only ~20 users have ratings on both sides of any cutoff.)

Evaluated users: users with at least one *positive* test rating (rating ``>= positive_rating``).
For each, both recommenders are trained on the training set only and rank items the user has not
rated in training:

- ``HitRate@K``   share of users with at least one test positive among their top K;
- ``Precision@K`` mean over users of hits / K;
- ``Recall@K``    mean over users of hits / (the user's test positives);
- ``coverage``    catalog coverage: distinct items in the top K of *every* user the recommender
  serves (every user with training data) / items in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recommendations.model import ModelParams, fit_and_recommend, positives, recommend

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: the two recommenders compared, in report order
MODELS = ("item_knn", "popularity")


@dataclass(frozen=True)
class RankingMetrics:
    """Metrics of one recommender on the hold-out."""

    model: str
    users: int
    hit_rate: float
    precision: float
    recall: float
    coverage: float
    items_recommended: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "users": self.users,
            "hit_rate": self.hit_rate,
            "precision": self.precision,
            "recall": self.recall,
            "coverage": self.coverage,
            "items_recommended": self.items_recommended,
        }


def temporal_split(interactions: DataFrame, test_fraction: float) -> tuple[DataFrame, DataFrame]:
    """``(train, test)``: per user, the last ``floor(n * test_fraction)`` ratings by time are test."""
    from sparkjobs.sql import F, Window

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    per_user = Window.partitionBy("user_id")
    by_time = per_user.orderBy(F.col("timestamp").desc(), F.col("item_id").desc())
    ranked = interactions.withColumn("__from_end", F.row_number().over(by_time)).withColumn(
        # + 1e-9: n * 0.2 must not fall just below an integer through floating-point error
        "__test_size",
        F.floor(F.count(F.lit(1)).over(per_user) * F.lit(test_fraction) + F.lit(1e-9)),
    )
    columns = interactions.columns
    test = ranked.filter(F.col("__from_end") <= F.col("__test_size")).select(*columns)
    train = ranked.filter(F.col("__from_end") > F.col("__test_size")).select(*columns)
    return train, test


def ranking_metrics(
    model: str, recommendations: DataFrame, test_positives: DataFrame, k: int, catalog_size: int
) -> RankingMetrics:
    """Metrics of ``recommendations`` (``user_id, item_id, rank``) against ``test_positives``.

    Every user in ``test_positives`` is evaluated (a user without recommendations scores zero);
    coverage counts the items in the top ``k`` of every user in ``recommendations``.
    """
    from sparkjobs.sql import F

    if catalog_size < 1:
        raise ValueError("catalog_size must be >= 1")
    truth = test_positives.select("user_id", "item_id").distinct()
    wanted = truth.groupBy("user_id").agg(F.count(F.lit(1)).alias("positives"))
    top_all = recommendations.filter(F.col("rank") <= k).select("user_id", "item_id").distinct()
    top = top_all.join(wanted.select("user_id"), "user_id", "left_semi")
    hits = top.join(truth, ["user_id", "item_id"]).groupBy("user_id").agg(F.count(F.lit(1)).alias("hits"))
    per_user = wanted.join(hits, "user_id", "left").fillna(0, subset=["hits"])
    (row,) = per_user.agg(
        F.count(F.lit(1)).alias("users"),
        F.avg((F.col("hits") > 0).cast("double")).alias("hit_rate"),
        F.avg(F.col("hits") / F.lit(float(k))).alias("precision"),
        F.avg(F.col("hits") / F.col("positives")).alias("recall"),
    ).collect()
    items = top_all.select("item_id").distinct().count()
    users = int(row["users"])
    return RankingMetrics(
        model=model,
        users=users,
        hit_rate=float(row["hit_rate"] or 0.0),
        precision=float(row["precision"] or 0.0),
        recall=float(row["recall"] or 0.0),
        coverage=items / catalog_size,
        items_recommended=items,
    )


def evaluate(
    interactions: DataFrame,
    catalog_size: int,
    params: ModelParams,
    *,
    k: int = 10,
    test_fraction: float = 0.2,
    salt_buckets: int = 1,
) -> dict[str, RankingMetrics]:
    """Hold-out metrics of the item-kNN recommender and of the popularity baseline, by model name.

    ``interactions``: one row per user-item (the latest rating), ``user_id, item_id, rating,
    timestamp``. Both models recommend ``k`` items (``top_n`` is set to ``k``).
    """
    from sparkjobs.sql import F

    params = params.model_copy(update={"top_n": k})
    train, test = temporal_split(interactions, test_fraction)
    train = train.persist()
    test_positives = test.filter(F.col("rating") >= F.lit(params.positive_rating)).persist()
    users = train.select("user_id").distinct()
    rated = train.select("user_id", "item_id")
    fitted = fit_and_recommend(users, rated, train, params, salt_buckets)
    popular = fitted.popular_items.persist()
    # the baseline: the same recommender without neighbours, i.e. the popularity fallback alone
    no_neighbours = fitted.similar_items.limit(0)
    baseline = recommend(users, rated, positives(train, params), no_neighbours, popular, params, salt_buckets)
    recs = {"item_knn": fitted.recommendations.persist(), "popularity": baseline.persist()}
    try:
        return {name: ranking_metrics(name, df, test_positives, k, catalog_size) for name, df in recs.items()}
    finally:
        for df in (train, test_positives, popular, *recs.values()):
            df.unpersist()
