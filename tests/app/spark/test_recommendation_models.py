"""Every recommender's output: schema, exclusions, fallback, determinism; EASE^R and the fallback by hand.

The fixture is the one of test_recommendations_model.py, imported from there (likes, items A=1 B=2 C=3 D=4):

    u1: A B C     u2: A B     u3: B C     u4: A D     u5: dislikes A (rating 2)
"""

from __future__ import annotations

from typing import Any

import pytest

from recommendations.models import AlsParams, EaseParams, make_recommender
from recommendations.models.base import with_fallback
from tests.app.spark.test_recommendations_model import PARAMS, RATINGS, A, B, C, D

pytestmark = pytest.mark.spark

EASE = EaseParams(l2=1.0, popularity_penalty=0.0, min_item_likes=1)
ALS = AlsParams(rank=2, max_iter=3, blocks=1)
SCHEMA = "user_id:int,item_id:int,score:double,rank:int,source:string"


@pytest.fixture(scope="module")
def ratings(spark: Any) -> Any:
    return spark.createDataFrame(
        RATINGS, "user_id int, item_id int, rating double, timestamp bigint"
    ).persist()


def run(name: str, ratings: Any, spark: Any) -> tuple[str, list[tuple[Any, ...]]]:
    recommender = make_recommender(name, PARAMS, ease=EASE, als=ALS)
    recommender.fit(ratings)
    users = spark.createDataFrame([(u,) for u in (1, 2, 3, 4, 5, 42)], "user_id int")
    try:
        recs = recommender.recommend(users, ratings.select("user_id", "item_id"))
        schema = ",".join(f"{f.name}:{f.dataType.simpleString()}" for f in recs.schema.fields)
        return schema, sorted(tuple(r) for r in recs.collect())
    finally:
        recommender.release()


@pytest.mark.parametrize("name", ["popularity", "item_knn", "ease", "als"])
def test_each_model_gives_top_n_unrated_items_per_user_the_same_on_a_rerun(
    name: str, ratings: Any, spark: Any
) -> None:
    schema, rows = run(name, ratings, spark)
    assert schema == SCHEMA
    rated = {(u, i) for u, i, _, _ in RATINGS}
    lists: dict[int, list[tuple[int, int, str]]] = {}
    for user, item, _, rank, source in rows:
        assert (user, item) not in rated, (name, user, item)
        assert source in {name, "popular"} if name != "popularity" else source == "popular"
        lists.setdefault(user, []).append((rank, item, source))
    # u1 rated all of A B C and D is the only item left; everybody else gets top_n = 2
    assert {u: len(v) for u, v in lists.items()} == {1: 1, 2: 2, 3: 2, 4: 2, 5: 2, 42: 2}
    for user, ranked in lists.items():
        assert sorted(r for r, _, _ in ranked) == list(range(1, len(ranked) + 1)), (name, user)
        # the model's own items come before the fallback's
        sources = [s for _, _, s in sorted(ranked)]
        assert sources == sorted(sources, key=lambda s: s == "popular"), (name, user)
    assert lists[42] == [(1, A, "popular"), (2, B, "popular")]  # unknown user: the most liked items
    assert run(name, ratings, spark) == (schema, rows)


def test_ease_recommendations_by_hand(ratings: Any, spark: Any) -> None:
    # likes over A B C D (rows u1..u4): G + 1 I = [[4,2,1,1],[2,4,2,0],[1,2,3,0],[1,0,0,2]], det 40,
    # adjugate [[16,-8,0,-8],[-8,19,-10,4],[0,-10,20,0],[-8,4,0,24]], so P = adj / 40 and
    # B_ij = -P_ij / P_jj: B_AB 8/19, B_AD 8/24, B_BA 8/16, B_BC 10/20, B_BD -4/24, B_CB 10/19,
    # B_DA 8/16, B_DB -4/19, the rest 0. Scores of unrated items (only positive ones are EASE's):
    # u1 (A B C): D = 8/24 - 4/24 = 1/6;  u2 (A B): C = 0 + 10/20 = 1/2, D = 8/24 - 4/24 = 1/6;
    # u3 (B C): A = 8/16 = 1/2, D = -4/24 (not positive);  u4 (A D): B = 8/19 - 4/19, C = 0.
    # The popular pool: A 3 likes, B 3, C 2, D 1; u5 liked nothing, 42 is unknown.
    _, rows = run("ease", ratings, spark)
    got = [(u, i, round(score, 6), r, s) for u, i, score, r, s in rows]
    assert got == [
        (1, D, round(1 / 6, 6), 1, "ease"),
        (2, C, 0.5, 1, "ease"),
        (2, D, round(1 / 6, 6), 2, "ease"),
        (3, A, 0.5, 1, "ease"),
        (3, D, 1.0, 2, "popular"),
        (4, B, round(4 / 19, 6), 1, "ease"),
        (4, C, 2.0, 2, "popular"),
        (5, B, 3.0, 1, "popular"),
        (5, C, 2.0, 2, "popular"),
        (42, A, 3.0, 1, "popular"),
        (42, B, 3.0, 2, "popular"),
    ]


def test_the_fallback_tops_up_after_the_models_items(spark: Any) -> None:
    personal = spark.createDataFrame(
        [(1, 7, 0.5), (1, 8, 0.9), (2, 9, 0.1)], "user_id int, item_id int, score double"
    )
    users = spark.createDataFrame([(1,), (2,), (3,)], "user_id int")
    rated = spark.createDataFrame([(2, 5)], "user_id int, item_id int")
    popular = spark.createDataFrame(
        [(5, 30.0, 1), (8, 20.0, 2), (6, 10.0, 3)], "item_id int, score double, rank int"
    )
    recs = with_fallback(personal, users, rated, popular, top_n=3, source="m")
    assert sorted(tuple(r) for r in recs.collect()) == [
        (1, 5, 30.0, 3, "popular"),  # 8 is the model's already: the next popular item is 5
        (1, 7, 0.5, 2, "m"),
        (1, 8, 0.9, 1, "m"),
        (2, 6, 10.0, 3, "popular"),  # 5 is rated by u2
        (2, 8, 20.0, 2, "popular"),
        (2, 9, 0.1, 1, "m"),
        (3, 5, 30.0, 1, "popular"),
        (3, 6, 10.0, 3, "popular"),
        (3, 8, 20.0, 2, "popular"),
    ]
