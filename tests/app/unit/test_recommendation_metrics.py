"""The ranking metrics on tiny inputs, every expected value worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest

from recommendations.metrics import hit_rate_curve, ranking_metrics

# u1's list is the model's own; u2 got the popular fallback only; u3 is served but not evaluated;
# u4 is evaluated but got no list at all (no training data)
RANKED = {
    1: [(10, True), (11, True), (12, True)],
    2: [(20, False), (21, False)],
    3: [(30, True)],
}
TRUTH = {1: {11, 99}, 2: {98}, 4: {10}}


def test_metrics_at_2_on_a_hand_computed_case() -> None:
    m = ranking_metrics("x", RANKED, TRUTH, k=2, catalog_size=50)
    # u1's top 2 (10, 11) hits 11 at rank 2, one of its 2 positives; u2 and u4 miss
    assert (m.model, m.k, m.users) == ("x", 2, 3)
    assert m.hit_rate == pytest.approx(1 / 3)
    assert m.precision == pytest.approx((1 / 2) / 3)
    assert m.recall == pytest.approx((1 / 2) / 3)
    # u1: DCG = 1/log2(3) = 0.630930; IDCG (2 positives, k 2) = 1 + 0.630930 = 1.630930
    assert m.ndcg == pytest.approx(0.630930 / 1.630930 / 3, abs=1e-6)
    # u1: AP = (1 hit within the first 2 / 2) / min(2, 2) = 0.25
    assert m.map == pytest.approx(0.25 / 3)
    # coverage: the top 2 of every served user (u3 too): 10 11 20 21 30
    assert (m.items_recommended, m.coverage) == (5, pytest.approx(5 / 50))
    # only u1 of the three evaluated users has an item the model ranked itself
    assert m.personalised == pytest.approx(1 / 3)


def test_ndcg_and_map_with_two_hits_and_more_positives_than_k() -> None:
    ranked = {1: [(1, True), (7, True), (2, True), (3, True)]}
    truth = {1: {1, 2, 3, 4, 5}}
    m = ranking_metrics("x", ranked, truth, k=3, catalog_size=10)
    # hits at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2 = 2.130930
    assert m.ndcg == pytest.approx(1.5 / 2.130930, abs=1e-6)
    # AP = (1/1 + 2/3) / min(5, 3) = 0.555556
    assert m.map == pytest.approx((1 + 2 / 3) / 3)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 5)
    assert m.hit_rate == 1.0 and m.personalised == 1.0
    assert m.items_recommended == 3  # item 3 is at rank 4, beyond k


def test_a_perfect_list_scores_one() -> None:
    m = ranking_metrics("x", {1: [(5, True), (6, True)]}, {1: {5, 6}}, k=2, catalog_size=2)
    assert (m.hit_rate, m.precision, m.recall, m.coverage) == (1.0, 1.0, 1.0, 1.0)
    assert m.ndcg == pytest.approx(1.0) and m.map == pytest.approx(1.0)


def test_hit_rate_curve_counts_the_first_hit() -> None:
    # first hits: u1 at rank 2, u2 never, u4 never (no list); u5 at rank 1
    ranked = {**RANKED, 5: [(50, False)]}
    curve = hit_rate_curve(ranked, {**TRUTH, 5: {50}}, range(1, 4))
    assert curve == {1: 0.25, 2: 0.5, 3: 0.5}


def test_bad_inputs_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        ranking_metrics("x", RANKED, TRUTH, k=0, catalog_size=5)
    with pytest.raises(ValueError, match="catalog_size"):
        ranking_metrics("x", RANKED, TRUTH, k=1, catalog_size=0)
    with pytest.raises(ValueError, match="truth is empty"):
        ranking_metrics("x", RANKED, {}, k=1, catalog_size=5)
    with pytest.raises(ValueError, match="user 7 has no test positives"):
        ranking_metrics("x", RANKED, {7: set()}, k=1, catalog_size=5)
    assert math.isclose(hit_rate_curve(RANKED, TRUTH, [3])[3], 1 / 3)


def test_metrics_do_not_depend_on_the_order_users_arrive_in() -> None:
    """The engines collect users in different orders: the means must be equal to the last bit."""
    import random

    rng = random.Random(3)
    truth = {u: {rng.randrange(40) for _ in range(rng.randrange(1, 6))} for u in range(300)}
    ranked = {u: [(rng.randrange(40), rng.random() < 0.5) for _ in range(10)] for u in truth}
    forward = ranking_metrics("m", ranked, truth, 7, 40)
    for seed in range(5):
        users = list(truth)
        random.Random(seed).shuffle(users)
        assert ranking_metrics("m", ranked, {u: truth[u] for u in users}, 7, 40) == forward
