"""The recommender beats the popularity baseline on the real MovieLens temporal hold-out.

The numbers were measured with this code (docs/recommendations.md states them): on 100,004 ratings,
656 users have a positive rating (>= 4) among their latest 20%. The tolerance absorbs a few users
(floating-point sums can order near-equal scores differently with another shuffle layout); the lift
itself is asserted with a wide margin.
"""

from __future__ import annotations

from typing import Any

import pytest

from recommendations.evaluation import evaluate
from recommendations.model import ModelParams

pytestmark = pytest.mark.spark

CATALOG_ITEMS = 9_066


@pytest.fixture(scope="module")
def movielens(spark: Any) -> Any:
    from recommendations.sample_data import movielens as load

    events, catalog = load()
    assert len(catalog) == CATALOG_ITEMS
    df = spark.createDataFrame(events, "user_id int, item_id int, rating double, timestamp bigint")
    return df.persist()


def test_item_knn_beats_popularity_on_the_movielens_hold_out(movielens: Any) -> None:
    results = evaluate(movielens, CATALOG_ITEMS, ModelParams(), k=10, test_fraction=0.2)
    knn, pop = results["item_knn"], results["popularity"]
    assert knn.users == pop.users == 656
    # measured: item_knn 289/656 users hit; popularity 191/656
    assert knn.hit_rate == pytest.approx(0.4405, abs=0.005)
    assert knn.precision == pytest.approx(0.0762, abs=0.002)
    assert knn.recall == pytest.approx(0.0864, abs=0.002)
    assert knn.coverage == pytest.approx(0.0722, abs=0.002)  # 655 of 9,066 items
    assert pop.hit_rate == pytest.approx(0.2912, abs=0.005)
    assert pop.precision == pytest.approx(0.0511, abs=0.002)
    assert pop.recall == pytest.approx(0.0532, abs=0.002)
    assert pop.coverage == pytest.approx(0.0108, abs=0.001)  # 98 items
    # at least as good as the prototype item-cosine kNN of the issue (0.41 vs 0.31, 7% vs 1%)
    assert knn.hit_rate >= 0.41 and knn.coverage >= 0.07
    assert knn.hit_rate - pop.hit_rate > 0.10
