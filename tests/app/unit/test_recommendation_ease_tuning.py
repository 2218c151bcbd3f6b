"""EASE^R's closed form and top-N selection (numpy), and the tuner's choice rule, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.comparison import ComparisonSpec
from recommendations.model import ModelParams
from recommendations.models.driver import cells, top_scores
from recommendations.models.ease import EaseParams, ease_weights
from recommendations.tuning import Trial, best, combinations, meets_floor
from sparkjobs.errors import ConfigError


def test_ease_weights_of_two_items_by_hand() -> None:
    # users: {A, B}, {A}, {B}; G = [[2, 1], [1, 2]] + 1 * I = [[3, 1], [1, 3]];
    # P = G^-1 = [[3, -1], [-1, 3]] / 8; B = -P / diag(P) = [[., 1/3], [1/3, .]], diagonal 0
    x = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert ease_weights(x, l2=1.0) == pytest.approx(np.array([[0.0, 1 / 3], [1 / 3, 0.0]]))


def test_ease_weights_of_three_items_by_hand() -> None:
    # users {A, B}, {B, C}: G + 1 I = [[2, 1, 0], [1, 3, 1], [0, 1, 2]]; det = 8;
    # P = adj / 8 = [[5, -2, 1], [-2, 4, -2], [1, -2, 5]] / 8; B_ij = -P_ij / P_jj
    x = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    expected = np.array([[0.0, 2 / 4, -1 / 5], [2 / 5, 0.0, 2 / 5], [-1 / 5, 2 / 4, 0.0]])
    assert ease_weights(x, l2=1.0) == pytest.approx(expected)


def test_top_scores_keeps_positive_scores_best_first_ties_by_item_id() -> None:
    items = np.array([10, 20, 30, 40])
    scores = np.array([[0.5, 0.9, 0.5, -np.inf], [0.0, -0.1, -np.inf, -np.inf]])
    # user 0: 20 (0.9), then 10 and 30 tie at 0.5 → item id; user 1 has no positive score
    assert top_scores(scores, items, top_n=2) == [(0, 20, 0.9), (0, 10, 0.5)]
    assert top_scores(scores, items, top_n=5) == [(0, 20, 0.9), (0, 10, 0.5), (0, 30, 0.5)]


def test_cells_map_known_pairs_to_rows_and_columns() -> None:
    pairs = np.array([[5, 10], [7, 30], [6, 20], [5, 99]])  # user 6 and item 99 are unknown
    got = cells(pairs, users=np.array([5, 7]), items=np.array([10, 20, 30]))
    assert got.tolist() == [[0, 0], [1, 2]]
    assert cells(pairs, users=np.array([], dtype=np.int64), items=np.array([10])).shape == (0, 2)


def test_the_tuner_takes_the_best_validation_hit_rate_ties_by_coverage_then_grid_order() -> None:
    trials = [Trial({"a": 1}, 0.50, 0.05), Trial({"a": 2}, 0.48, 0.12), Trial({"a": 3}, 0.48, 0.20)]
    assert best(trials) == 0  # by hit rate alone (min_coverage 0: no coverage floor)
    assert best(trials, min_coverage=0.10) == 2  # 0.50 lacks coverage; 2 and 3 tie: more coverage wins
    # none qualifies: the best coverage (ties: hit rate, then grid order), not the best hit rate
    assert best(trials, min_coverage=0.5) == 2
    assert best([Trial({"a": 1}, 0.3, 0.2), Trial({"a": 2}, 0.4, 0.2)], min_coverage=0.5) == 1
    assert meets_floor(trials, 0.10) and meets_floor(trials, 0.20) and not meets_floor(trials, 0.21)
    same = [Trial({"a": 1}, 0.4, 0.1), Trial({"a": 2}, 0.4, 0.1), Trial({"a": 3}, 0.3, 0.9)]
    assert best(same) == 0  # a full tie: the earlier combination of the grid
    with pytest.raises(ValueError, match="no trials"):
        best([])


def test_grid_combinations_in_order_and_bad_grids_named() -> None:
    combos = combinations(EaseParams(), {"l2": [1.0, 2.0], "popularity_penalty": [0.0, 0.5]}, "tuning.ease")
    assert [c for c, _ in combos] == [
        {"l2": 1.0, "popularity_penalty": 0.0},
        {"l2": 1.0, "popularity_penalty": 0.5},
        {"l2": 2.0, "popularity_penalty": 0.0},
        {"l2": 2.0, "popularity_penalty": 0.5},
    ]
    assert combos[3][1] == EaseParams(l2=2.0, popularity_penalty=0.5)
    with pytest.raises(ConfigError, match=r"tuning.item_knn: unknown parameter\(s\) \['topk'\]"):
        combinations(ModelParams(), {"topk": [1]}, "tuning.item_knn")
    with pytest.raises(ConfigError, match="not a valid setting"):
        combinations(ModelParams(), {"top_k": [0]}, "tuning.item_knn")
    with pytest.raises(ConfigError, match=r"no values to try for \['top_k'\]"):
        combinations(ModelParams(), {"top_k": []}, "tuning.item_knn")


def test_the_comparison_spec_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        ComparisonSpec.model_validate({"tuning": {"ease": {"lambda": [1.0]}}})
    with pytest.raises(ValueError, match=r"tuning.als: unknown parameter\(s\) \['ranks'\]"):
        ComparisonSpec.model_validate({"tuning": {"als": {"ranks": [8]}}})
    with pytest.raises(ValueError, match=r"tuning\.als: .* is not a valid setting"):
        ComparisonSpec.model_validate({"tuning": {"als": {"rank": [0]}}})
    assert ComparisonSpec().tuning.grid("popularity") == {}
    with pytest.raises(ValueError, match="cutoffs"):
        ComparisonSpec.model_validate({"cutoffs": []})
    with pytest.raises(ValueError, match="listed twice"):
        ComparisonSpec.model_validate({"models": ["ease", "ease"]})
    assert ComparisonSpec().k == 10
    assert ComparisonSpec().tuning.min_coverage == 0.10  # the documented floor is the default
    for floor in (-0.1, 1.5):
        with pytest.raises(ValueError, match="min_coverage"):
            ComparisonSpec.model_validate({"tuning": {"min_coverage": floor}})
