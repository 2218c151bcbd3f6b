"""The recommender and the evaluation metrics on small, hand-checked fixtures.

Likes (rating >= 4) of the fixture; items A=1, B=2, C=3, D=4:

    u1: A B C     u2: A B     u3: B C     u4: A D     u5: dislikes A (rating 2)

Users who like each item: A 3 (u1 u2 u4), B 3 (u1 u2 u3), C 2 (u1 u3), D 1 (u4).
Co-occurrences: AB 2 (u1 u2), BC 2 (u1 u3), AC 1 (u1), AD 1 (u4); BD = CD = 0.
Cosine = co / sqrt(n_i n_j): AB 2/3 = .666667, BC 2/sqrt(6) = .816497, AC 1/sqrt(6) = .408248,
AD 1/sqrt(3) = .577350.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from recommendations.evaluation import temporal_split
from recommendations.model import (
    ModelParams,
    exact_sum,
    fit_and_recommend,
    item_similarity,
    popular_items,
    positives,
)

pytestmark = pytest.mark.spark

A, B, C, D = 1, 2, 3, 4
AB, BC, AC, AD = 2 / 3, 2 / math.sqrt(6), 1 / math.sqrt(6), 1 / math.sqrt(3)
RATINGS = [  # user, item, rating, timestamp
    (1, A, 5.0, 100),
    (1, B, 4.0, 200),
    (1, C, 4.5, 300),
    (2, A, 4.0, 100),
    (2, B, 5.0, 110),
    (3, B, 4.0, 100),
    (3, C, 4.0, 120),
    (4, A, 4.0, 100),
    (4, D, 5.0, 130),
    (5, A, 2.0, 100),
]
PARAMS = ModelParams(min_cooccurrence=1, top_k=2, top_n=2, max_items_per_user=100, popular_pool=10)


@pytest.fixture(scope="module")
def ratings(spark: Any) -> Any:
    return spark.createDataFrame(RATINGS, "user_id int, item_id int, rating double, timestamp bigint")


def table(df: Any, *columns: str) -> list[tuple[Any, ...]]:
    out = []
    for row in df.collect():
        out.append(tuple(round(row[c], 6) if isinstance(row[c], float) else row[c] for c in columns))
    return sorted(out)


def r6(x: float) -> float:
    return round(x, 6)


def test_similarity_is_the_cosine_of_co_liked_items_top_k_per_item(ratings: Any) -> None:
    similar = item_similarity(positives(ratings, PARAMS), PARAMS)
    assert table(similar, "item_id", "similar_item_id", "score", "cooccurrence", "rank") == sorted(
        [
            (A, B, r6(AB), 2, 1),
            (A, D, r6(AD), 1, 2),  # A-C (.408) is A's third neighbour: cut by top_k=2
            (B, C, r6(BC), 2, 1),
            (B, A, r6(AB), 2, 2),
            (C, B, r6(BC), 2, 1),
            (C, A, r6(AC), 1, 2),
            (D, A, r6(AD), 1, 1),
        ]
    )


def test_min_cooccurrence_drops_pairs_liked_together_by_too_few_users(ratings: Any) -> None:
    params = PARAMS.model_copy(update={"min_cooccurrence": 2})
    similar = item_similarity(positives(ratings, params), params)
    assert table(similar, "item_id", "similar_item_id", "rank") == [
        (A, B, 1),
        (B, A, 2),
        (B, C, 1),
        (C, B, 1),
    ]


def test_similarity_counts_only_each_users_most_recent_likes(ratings: Any) -> None:
    # u1 keeps B and C (its 2 latest likes): A loses u1, so A-C disappears and A-B = 1/sqrt(2*3)
    params = PARAMS.model_copy(update={"max_items_per_user": 2, "top_k": 5})
    similar = item_similarity(positives(ratings, params), params)
    scores = {(r["item_id"], r["similar_item_id"]): round(r["score"], 6) for r in similar.collect()}
    assert scores[(A, B)] == r6(1 / math.sqrt(6))
    assert (A, C) not in scores
    assert scores[(B, C)] == r6(BC)


def test_popular_items_rank_by_users_who_liked_them_ties_by_id(ratings: Any) -> None:
    popular = popular_items(positives(ratings, PARAMS), PARAMS)
    assert table(popular, "item_id", "score", "rank") == [(A, 3.0, 1), (B, 3.0, 2), (C, 2.0, 3), (D, 1.0, 4)]


def test_recommendations_exclude_rated_items_and_fall_back_to_popular(ratings: Any) -> None:
    users = ratings.select("user_id").distinct()
    fitted = fit_and_recommend(users, ratings.select("user_id", "item_id"), ratings, PARAMS)
    assert table(fitted.recommendations, "user_id", "item_id", "score", "rank", "source") == sorted(
        [
            # u1 rated A B C: D (via A) is all that is left
            (1, D, r6(AD), 1, "item_knn"),
            # u2 likes A B: C via B, D via A
            (2, C, r6(BC), 1, "item_knn"),
            (2, D, r6(AD), 2, "item_knn"),
            # u3 likes B C: A via B and via C; topped up with the most popular unrated item, D
            (3, A, r6(AB + AC), 1, "item_knn"),
            (3, D, 1.0, 2, "popular"),
            # u4 likes A D: B via A; then C (popular; A is rated, B already listed)
            (4, B, r6(AB), 1, "item_knn"),
            (4, C, 2.0, 2, "popular"),
            # u5 has no likes: popular items except A, which u5 rated
            (5, B, 3.0, 1, "popular"),
            (5, C, 2.0, 2, "popular"),
        ]
    )


def test_users_with_too_few_likes_get_popular_items_only(ratings: Any) -> None:
    params = PARAMS.model_copy(update={"min_user_positives": 3})  # only u1 has 3 likes
    users = ratings.select("user_id").distinct()
    fitted = fit_and_recommend(users, ratings.select("user_id", "item_id"), ratings, params)
    recs = table(fitted.recommendations, "user_id", "item_id", "rank", "source")
    assert [r for r in recs if r[0] == 2] == [(2, C, 1, "popular"), (2, D, 2, "popular")]
    assert [r for r in recs if r[0] == 1] == [(1, D, 1, "item_knn")]


def test_recommendations_are_only_for_the_requested_users(ratings: Any, spark: Any) -> None:
    users = spark.createDataFrame([(3,), (42,)], "user_id int")
    fitted = fit_and_recommend(users, ratings.select("user_id", "item_id"), ratings, PARAMS)
    # user 42 is unknown: nothing rated, nothing liked → the two most popular items
    assert table(fitted.recommendations, "user_id", "item_id", "source") == [
        (3, A, "item_knn"),
        (3, D, "popular"),
        (42, A, "popular"),
        (42, B, "popular"),
    ]


# -- evaluation ---------------------------------------------------------------------------------------
def test_temporal_split_holds_out_each_users_latest_fifth(spark: Any) -> None:
    data = [(1, i, 4.0, 1000 + i) for i in range(10)]  # 10 ratings: the 2 latest are test
    data += [(2, i, 4.0, 50) for i in range(5)]  # 5 ratings at the same time: ties by item id
    data += [(3, i, 4.0, i) for i in range(4)]  # 4 ratings: floor(0.8) = 0 held out
    df = spark.createDataFrame(data, "user_id int, item_id int, rating double, timestamp bigint")
    train, test = temporal_split(df, 0.2)
    assert table(test, "user_id", "item_id") == [(1, 8), (1, 9), (2, 4)]
    assert train.count() == 19 - 3
    with pytest.raises(ValueError, match="test_fraction"):
        temporal_split(df, 1.0)


def test_exact_sum_does_not_depend_on_the_order_rows_arrive_in(spark: Any) -> None:
    from pyspark.sql import functions as F

    # 1.0 + 1e16 - 1e16 is 0.0 (1.0 is lost next to 1e16); -1e16 + 1e16 + 1.0 is 1.0
    rows = [("a", 1.0), ("a", 1e16), ("a", -1e16), ("b", None), ("c", 2.5), ("c", None), ("d", 0.1)]
    rows += [("d", 0.2), ("d", 0.3)]  # (0.1 + 0.2) + 0.3 is 0.6000000000000001, 0.1 + (0.2 + 0.3) is 0.6
    forward = spark.createDataFrame(rows, "k string, v double").coalesce(1)
    backward = spark.createDataFrame(list(reversed(rows)), "k string, v double").coalesce(1)

    def sums(df: Any, agg: Any) -> dict[str, float | None]:
        return {r.k: r.s for r in df.groupBy("k").agg(agg.alias("s")).collect()}

    plain = (sums(forward, F.sum("v")), sums(backward, F.sum("v")))
    assert plain[0]["a"] != plain[1]["a"]  # the problem: F.sum gives 1.0 one way and 0.0 the other
    exact = (sums(forward, exact_sum("v")), sums(backward, exact_sum("v")))
    # the exact totals, rounded once to a double, whichever way the rows came
    assert exact[0] == exact[1] == {"a": 1.0, "b": None, "c": 2.5, "d": 0.6}


def test_sparks_decimal_cast_of_a_double_is_the_cast_of_its_text(spark: Any) -> None:
    # exact_sum skips the text on Spark; DuckDB goes through it to get these same decimals
    import random

    from pyspark.sql import functions as F

    from recommendations.model import EXACT_SUM_TYPE

    rng = random.Random(11)
    values = [0.40824829046386313, 1 / 3, 2 / 3, 0.1 + 0.2, 1e-7, 5e-19, 4.9999999999999996e-19, 123456.789]
    values += [rng.random() / rng.choice([1, 3, 7, 1000]) for _ in range(2000)]
    values += [-v for v in values[:50]]
    df = spark.createDataFrame([(v,) for v in values], "v double")
    differ = df.filter(
        F.col("v").cast(EXACT_SUM_TYPE) != F.col("v").cast("string").cast(EXACT_SUM_TYPE)
    ).collect()
    assert differ == []
    assert df.filter(F.col("v").cast(EXACT_SUM_TYPE).isNull()).count() == 0


def _random_ratings(seed: int, users: int, items: int, per_user: int) -> list[tuple[int, int, float, int]]:
    import random

    rng = random.Random(seed)
    out = []
    for user in range(1, users + 1):
        for n, item in enumerate(rng.sample(range(1, items + 1), per_user)):
            out.append((user, item, rng.choice([2.0, 3.0, 4.0, 4.5, 5.0]), 1_000 + 10 * n + user))
    return out


def test_recommendations_match_the_sorted_sum_of_before_and_are_deterministic(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Differential: the exact sum against the sorted-terms sum it replaced (same ranks, scores
    equal to 1e-12), and the same input in another row order and partitioning gives identical bytes."""
    import recommendations.model as model

    data = _random_ratings(seed=7, users=120, items=40, per_user=15)
    schema = "user_id int, item_id int, rating double, timestamp bigint"
    params = ModelParams(min_cooccurrence=2, top_k=10, top_n=8, popular_pool=20)

    def run(df: Any) -> list[tuple[Any, ...]]:
        out = fit_and_recommend(df.select("user_id"), df, df, params).recommendations
        return sorted(tuple(r) for r in out.collect())

    def sorted_terms_sum(column: str) -> Any:  # the implementation before the exact sum, verbatim
        from pyspark.sql import functions as F

        terms = F.array_sort(F.collect_list(F.col(column)))
        total = F.aggregate(terms, F.lit(0.0).cast("double"), lambda acc, x: acc + x)
        return F.when(F.size(terms) > 0, total)

    ratings = spark.createDataFrame(data, schema)
    now = run(ratings)
    shuffled = spark.createDataFrame(list(reversed(data)), schema).repartition(3, "item_id")
    assert run(shuffled) == now
    monkeypatch.setattr(model, "exact_sum", sorted_terms_sum)
    before = run(ratings)
    assert len(now) == len(before) == 120 * 8
    assert [r[:2] + r[3:] for r in now] == [r[:2] + r[3:] for r in before]  # user, item, rank, source
    assert all(abs(a[2] - b[2]) <= 1e-12 for a, b in zip(now, before, strict=True))
    assert sum(1 for r in now if r[4] == "item_knn") > 500  # the sums are really exercised
