"""The comparison's protocol, checked fast: a small deterministic slice of MovieLens and tiny grids,
and the documented default model's numbers reproduced on the whole of MovieLens.

The full study (every model tuned on the whole MovieLens validation split, then scored on the test
part) is ``make compare`` (``python -m recommendations.compare ... --spec docs/comparison/spec.yml``):
about 12 minutes on the shared 2-core machine, so the suite does not rerun it. What the suite checks
instead (92 s at load average 3-4):

- the documented numbers have not drifted: the default model of ``docs/comparison/comparison.json``
  and the popularity baseline, fitted with their documented parameters on the full MovieLens
  training part, score exactly the documented test metrics at K = 10, and the default's documented
  validation score (``tuning.json``, what it was chosen on) is reproduced on a validation split
  carved by hand;
- the splits: no test row is in the training part, nor in the validation split carved from it, and
  each user's held-out rows are their latest;
- the tuning: every combination of each grid is tried on the validation split, the parameters the
  test part is scored with are the choice of the validation rule (here the coverage floor's
  fallback: 25 users cannot cover 10% of the catalog), the default model's candidates are those
  validation scores, and changing the test part's ratings changes no trial (the tuning never reads
  it) while it does change the test metrics;
- the metrics of :func:`recommendations.comparison.compare` on a hold-out small enough to check by
  hand.

That the documented tables match the documented tuning and the code defaults is
tests/app/unit/test_recommendation_documented.py (no Spark).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recommendations.comparison import ComparisonSpec, compare, default_verdict, tuning_report
from recommendations.evaluation import holdout, run_model, temporal_split
from recommendations.model import ModelParams
from recommendations.models import AlsParams, EaseParams, make_recommender
from recommendations.tuning import Trial, best

pytestmark = pytest.mark.spark

DOCS = Path(__file__).resolve().parents[3] / "docs" / "comparison"

CATALOG_ITEMS = 9_066
SLICE_USERS = 25  # users 1..25: 4,781 ratings of 2,481 items
EASE = EaseParams(l2=50.0, popularity_penalty=0.0)
ALS = AlsParams(rank=8, max_iter=5, blocks=1)
SPEC = {
    # popularity has nothing to tune (hand-checked below); item-kNN's tuning runs through the same
    # loop (and is checked on the evaluate job in test_recommendations_jobs.py)
    "models": ["ease", "als"],
    "cutoffs": [10],
    "curve_max_k": 10,
    "ease": EASE.model_dump(),
    "als": ALS.model_dump(),
    "tuning": {
        "item_knn": {},
        "ease": {"l2": [5.0, 500.0]},
        "als": {"alpha": [1.0, 40.0]},
    },
}


@pytest.fixture(scope="module")
def sliced(spark: Any) -> Iterator[Any]:
    from recommendations.sample_data import movielens as load

    events, catalog = load()
    assert len(catalog) == CATALOG_ITEMS
    rows = events[events["user_id"] <= SLICE_USERS][["user_id", "item_id", "rating", "timestamp"]]
    assert len(rows) == 4_781
    df = spark.createDataFrame(rows, "user_id int, item_id int, rating double, timestamp bigint").persist()
    yield df
    df.unpersist()


def keys(df: Any) -> set[tuple[int, int, int]]:
    return {(r["user_id"], r["item_id"], r["timestamp"]) for r in df.collect()}


def test_no_test_row_is_in_the_training_part_or_in_the_validation_split(sliced: Any) -> None:
    everything = keys(sliced)
    train_df, test_df = temporal_split(sliced, 0.2)
    train, test = keys(train_df), keys(test_df)
    fit_df, validation_df = temporal_split(train_df, 0.2)
    fit, validation = keys(fit_df), keys(validation_df)
    assert train | test == everything and not train & test
    assert fit | validation == train and not fit & validation
    assert not test & (fit | validation)  # the tuning's two parts hold no test row
    for users in range(1, SLICE_USERS + 1):
        mine = sorted(((ts, item) for u, item, ts in everything if u == users), reverse=True)
        held = sorted(((ts, item) for u, item, ts in test if u == users), reverse=True)
        # the latest floor(20%) of each user's ratings, by time then item id
        assert held == mine[: math.floor(len(mine) * 0.2 + 1e-9)], users
        mine_train = sorted(((ts, item) for u, item, ts in train if u == users), reverse=True)
        held_validation = sorted(((ts, item) for u, item, ts in validation if u == users), reverse=True)
        assert held_validation == mine_train[: math.floor(len(mine_train) * 0.2 + 1e-9)], users


def flipped_test_ratings(df: Any) -> Any:
    """``df`` with every test rating turned around (like ↔ dislike): same split, other test truth."""
    from pyspark.sql import functions as F

    train, test = temporal_split(df, 0.2)
    turned = test.withColumn("rating", F.when(F.col("rating") >= 4.0, 1.0).otherwise(5.0))
    return train.unionByName(turned)


# eight fits on 4,781 ratings: ~40 s on the shared 2-core machine at load 3-4
@pytest.mark.timeout(900)
def test_parameters_are_chosen_on_validation_and_the_test_part_is_never_read(sliced: Any) -> None:
    spec = ComparisonSpec.model_validate(SPEC)
    comparison = compare(sliced, CATALOG_ITEMS, spec)
    report = tuning_report(comparison)
    assert list(report["models"]) == ["ease", "als"]
    for name, tuned in report["models"].items():
        grid = spec.tuning.grid(name)
        ((param, values),) = grid.items()
        assert [t["params"] for t in tuned["trials"]] == [{param: v} for v in values], name
        trials = [Trial(t["params"], t["hit_rate"], t["coverage"]) for t in tuned["trials"]]
        # the slice's 25 users cannot cover 10% of the catalog: the floor's fallback, best coverage
        assert not tuned["floor_met"], name
        assert tuned["chosen"] == tuned["trials"][best(trials, spec.tuning.min_coverage)]["params"], name
        # the test part was scored with the chosen value, and only with it
        assert comparison.results[name].params[param] == tuned["chosen"][param], name
        assert all(0.0 <= t["hit_rate"] <= 1.0 for t in tuned["trials"])
    assert comparison.validation_users is not None and 0 < comparison.validation_users <= SLICE_USERS
    # the default model is read from those validation scores (the chosen trial of each model)
    verdict = default_verdict(comparison)
    assert verdict is not None and verdict["model"] in ("ease", "als")
    for name, tuned in report["models"].items():
        trial = next(t for t in tuned["trials"] if t["params"] == tuned["chosen"])
        assert verdict["validation"][name] == {k: trial[k] for k in ("params", "hit_rate", "coverage")}

    # (that a trial's score is the validation score of its parameters, refitted on a validation
    # split carved by hand, is checked on the documented run: the last test of this module)
    params = ModelParams(top_n=10)
    data = holdout(sliced, 0.2, params.positive_rating)
    data.release()
    truth = data.truth

    # other test ratings, same training part: the same validation scores, other test numbers
    only_ease = ComparisonSpec.model_validate({**SPEC, "models": ["ease"], "tuning": {"ease": {"l2": [5.0]}}})
    turned = compare(flipped_test_ratings(sliced), CATALOG_ITEMS, only_ease)

    def scores(trials: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(t["params"], t["hit_rate"], t["coverage"]) for t in trials if t["params"] == {"l2": 5.0}]

    assert scores(turned.results["ease"].tuning) == scores(comparison.results["ease"].tuning)
    assert len(scores(turned.results["ease"].tuning)) == 1
    assert turned.validation_users == comparison.validation_users
    flipped = holdout(flipped_test_ratings(sliced), 0.2, params.positive_rating)
    flipped.release()
    assert flipped.truth != truth  # the test part did change


# Hand-checked hold-out: 4 users x 5 ratings (t = 1..5); the last of each is the test set
# (floor(5 * 0.2) = 1). Training likes (>= 4): item 1 by all four users, 2 by u1 u2 u3, 3 by u1 u2 u4,
# 4 by u1 -> popular pool 1, 2, 3 (tie with 2: item id), 4; items 5 and 6 are liked by nobody.
HAND = [
    *[(1, item, 5.0, t) for t, item in enumerate((1, 2, 3, 4, 5), start=1)],  # test: 5 (like)
    *[(2, item, r, t) for t, (item, r) in enumerate(((1, 4.0), (2, 4.5), (3, 4.0), (6, 2.0), (4, 4.0)), 1)],
    *[(3, item, r, t) for t, (item, r) in enumerate(((1, 5.0), (2, 5.0), (5, 1.0), (6, 1.0), (3, 5.0)), 1)],
    *[(4, item, r, t) for t, (item, r) in enumerate(((1, 5.0), (3, 5.0), (2, 1.0), (5, 1.0), (6, 3.0)), 1)],
]


def test_the_comparison_metrics_on_a_hold_out_checked_by_hand(spark: Any) -> None:
    df = spark.createDataFrame(HAND, "user_id int, item_id int, rating double, timestamp bigint")
    spec = ComparisonSpec.model_validate({"models": ["popularity"], "cutoffs": [2, 1], "curve_max_k": 2})
    comparison = compare(df, 6, spec)
    # evaluated: u1 (truth {5}), u2 ({4}), u3 ({3}); u4's test rating 3.0 is no like.
    # top 2 of the pool without rated items: u1 none (rated 1-4), u2 [4], u3 [3, 4], u4 [4]
    assert comparison.users == 3 and comparison.validation_users is None
    popularity = comparison.results["popularity"]
    at2, at1 = popularity.metrics[2], popularity.metrics[1]
    third = 1 / 3
    assert (at2.hit_rate, at2.precision, at2.recall) == pytest.approx((2 * third, third, 2 * third))
    assert (at2.ndcg, at2.map, at2.personalised) == pytest.approx((2 * third, 2 * third, 2 * third))
    assert (at2.coverage, at2.items_recommended) == (pytest.approx(2 / 6), 2)  # items 3 and 4
    assert (at1.hit_rate, at1.precision, at1.coverage) == pytest.approx((2 * third, 2 * third, 2 / 6))
    assert popularity.curve == pytest.approx({1: 2 * third, 2: 2 * third})
    assert popularity.tuning == []


def documented_recommender(name: str, params: dict[str, Any], top_n: int) -> Any:
    """``name`` with the parameters ``comparison.json`` says it was scored with (the rest: defaults)."""
    shared = ModelParams.model_validate(
        {k: v for k, v in params.items() if k in ModelParams.model_fields} | {"top_n": top_n}
    )
    own = {"ease": EaseParams, "als": AlsParams}
    specific = {
        n: model.model_validate(
            {k: v for k, v in params.items() if k in model.model_fields} if n == name else {}
        )
        for n, model in own.items()
    }
    return make_recommender(name, shared, ease=specific["ease"], als=specific["als"])


# two fits on the full training part and one on the validation split (EASE^R: ~1 minute on the
# shared 2-core machine; an item-kNN default would take ~3)
@pytest.mark.timeout(900)
def test_the_documented_default_model_reproduces_its_documented_numbers(spark: Any) -> None:
    from recommendations.sample_data import movielens as load

    documented = json.loads((DOCS / "comparison.json").read_text())
    tuning = json.loads((DOCS / "tuning.json").read_text())
    default, k = documented["default_model"], documented["k"]
    assert default is not None and documented["default"]["model"] == default
    top_n = max([*documented["cutoffs"], len(documented["models"][default]["hit_rate_curve"])])
    events, catalog = load()
    ratings = spark.createDataFrame(
        events[["user_id", "item_id", "rating", "timestamp"]],
        "user_id int, item_id int, rating double, timestamp bigint",
    ).persist()
    try:
        data = holdout(ratings, documented["test_fraction"], documented["positive_rating"])
        assert len(data.truth) == documented["evaluated_users"]
        try:
            # the validation score the default was chosen on (tuning.json), carved from the training part
            validation = holdout(data.train, documented["validation_fraction"], documented["positive_rating"])
            try:
                chosen = documented["models"][default]["params"]
                again = run_model(
                    documented_recommender(default, chosen, top_n), validation, len(catalog), [k]
                ).metrics[k]
            finally:
                validation.release()
            trial = documented["default"]["validation"][default]
            assert trial["params"] == tuning["models"][default]["chosen"]
            assert (again.hit_rate, again.coverage) == pytest.approx(
                (trial["hit_rate"], trial["coverage"]), abs=1e-9
            )
            for name in ("popularity", default):
                params = documented["models"][name]["params"]
                got = run_model(documented_recommender(name, params, top_n), data, len(catalog), [k]).metrics[
                    k
                ]
                want = documented["models"][name]["metrics"][str(k)]
                assert got.items_recommended == want["items_recommended"], name
                for metric in ("hit_rate", "precision", "recall", "ndcg", "map", "coverage", "personalised"):
                    assert getattr(got, metric) == pytest.approx(want[metric], abs=1e-9), (name, metric)
        finally:
            data.release()
    finally:
        ratings.unpersist()
