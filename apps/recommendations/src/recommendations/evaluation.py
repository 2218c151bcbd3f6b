"""Offline evaluation: a per-user temporal hold-out on which every recommender is compared.

Split: each user's ratings are ordered by time (ties by item id); the last ``floor(n * test_fraction)``
are the test set, the rest the training set. (A single global time cutoff does not work on
MovieLens: only ~20 users have ratings on both sides of any cutoff.) Tuning never sees the test
set: it splits the *training* set the same way (``validation_fraction``) and picks parameters on
that validation part (:mod:`recommendations.tuning`); the chosen parameters are then fitted on the
whole training set.

Evaluated users: users with at least one *positive* test rating (rating ``>= positive_rating``).
Every recommender is fitted on the training set only and ranks, for every user with training data,
the items that user has not rated in training; the metrics (:mod:`recommendations.metrics`) are
computed from the same collected lists for every model, at each cut-off and for the HitRate@K
curve. Training time is ``fit`` (everything the model learns, materialised), scoring time is
``recommend`` for every user plus collecting the lists.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recommendations.metrics import RankingMetrics, hit_rate_curve, ranking_metrics
from recommendations.model import POPULAR

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from recommendations.models import Recommender


@dataclass(frozen=True)
class Holdout:
    """A training part and what is expected of it: the test positives of each evaluated user."""

    train: DataFrame
    truth: dict[int, set[int]]

    def release(self) -> None:
        self.train.unpersist()


@dataclass(frozen=True)
class ModelResult:
    """One recommender on one hold-out: metrics per cut-off, the HitRate@K curve, timings."""

    model: str
    params: dict[str, Any]
    metrics: dict[int, RankingMetrics]
    curve: dict[int, float]
    train_seconds: float
    score_seconds: float
    tuning: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "metrics": {str(k): m.to_dict() for k, m in self.metrics.items()},
            "hit_rate_curve": {str(k): v for k, v in self.curve.items()},
            "train_seconds": round(self.train_seconds, 2),
            "score_seconds": round(self.score_seconds, 2),
            "tuning": self.tuning,
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


def holdout(interactions: DataFrame, test_fraction: float, positive_rating: float) -> Holdout:
    """The training part (persisted) and the test positives per user, collected."""
    from sparkjobs.sql import F

    train, test = temporal_split(interactions, test_fraction)
    truth: dict[int, set[int]] = {}
    for row in test.filter(F.col("rating") >= F.lit(positive_rating)).select("user_id", "item_id").collect():
        truth.setdefault(int(row["user_id"]), set()).add(int(row["item_id"]))
    if not truth:
        raise ValueError(
            f"no user has a positive (rating >= {positive_rating:g}) among their latest {test_fraction:.0%} "
            "of ratings: nothing to evaluate"
        )
    return Holdout(train.persist(), truth)


def collect_lists(recommendations: DataFrame, own_source: str) -> dict[int, list[tuple[int, bool]]]:
    """user → ``[(item_id, ranked by the model itself)]`` by rank, from ``user_id, item_id, rank, source``."""
    rows = recommendations.select("user_id", "item_id", "rank", "source").collect()
    lists: dict[int, list[tuple[int, int, bool]]] = {}
    for r in rows:
        lists.setdefault(int(r["user_id"]), []).append(
            (int(r["rank"]), int(r["item_id"]), r["source"] == own_source)
        )
    return {user: [(item, own) for _, item, own in sorted(items)] for user, items in lists.items()}


def run_model(
    recommender: Recommender,
    data: Holdout,
    catalog_size: int,
    cutoffs: Sequence[int],
    curve_ks: Sequence[int] = (),
) -> ModelResult:
    """``recommender`` fitted on ``data.train`` and scored for every user with training data."""
    train = data.train
    try:
        started = time.perf_counter()
        recommender.fit(train)
        fitted = time.perf_counter()
        recs = recommender.recommend(train.select("user_id").distinct(), train.select("user_id", "item_id"))
        own_source = POPULAR if recommender.name == "popularity" else recommender.name
        lists = collect_lists(recs, own_source)
        scored = time.perf_counter()
    finally:
        recommender.release()
    return ModelResult(
        model=recommender.name,
        params={},
        metrics={k: ranking_metrics(recommender.name, lists, data.truth, k, catalog_size) for k in cutoffs},
        curve=hit_rate_curve(lists, data.truth, curve_ks) if curve_ks else {},
        train_seconds=fitted - started,
        score_seconds=scored - fitted,
    )
