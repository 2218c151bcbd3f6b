"""The documented comparison is consistent with itself and with the code, without Spark.

``docs/comparison/`` is written by one run of ``python -m recommendations.compare --spec
docs/comparison/spec.yml`` (``make compare``): ``tuning.json`` (grids and validation scores) and
``comparison.json`` (test scores). These checks fail when the files and the code drift apart:

- the tuning tried exactly the grids of ``spec.yml``, in order, and its choice follows the rule
  (best validation HitRate@10 among the combinations reaching the validation coverage floor
  ``tuning.min_coverage``, else the best coverage; ties: coverage, then grid order);
- the default model was chosen by the same rule on those validation scores, not on test numbers;
- the test part was scored with the chosen parameters;
- the model defaults in code and in ``conf/base/recommendations.yml`` are the chosen parameters,
  and the configured ``model`` is the comparison's verdict;
- the block of docs/recommendations.md is the run's ``comparison.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from recommendations.comparison import ComparisonSpec
from recommendations.model import ModelParams
from recommendations.models import AlsParams, EaseParams
from recommendations.report import BEGIN, END
from recommendations.tuning import Trial, best, combinations, meets_floor

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "comparison"
SHARED = ("positive_rating", "popular_pool")


def load(name: str) -> Any:
    return json.loads((DOCS / name).read_text())


def spec() -> ComparisonSpec:
    return ComparisonSpec.model_validate(yaml.safe_load((DOCS / "spec.yml").read_text()) or {})


def test_the_tuning_tried_the_documented_grids_and_chose_by_the_rule() -> None:
    tuning, documented = load("tuning.json"), spec()
    assert tuning["k"] == documented.k == 10
    assert tuning["validation_fraction"] == documented.tuning.validation_fraction
    assert list(tuning["models"]) == ["item_knn", "ease", "als"]
    bases = {"item_knn": documented.params, "ease": documented.ease, "als": documented.als}
    for name, tuned in tuning["models"].items():
        grid = documented.tuning.grid(name)
        assert tuned["grid"] == grid, name
        expected = [combo for combo, _ in combinations(bases[name], grid, name)]
        assert [t["params"] for t in tuned["trials"]] == expected, name
        trials = [Trial(t["params"], t["hit_rate"], t["coverage"]) for t in tuned["trials"]]
        assert tuned["chosen"] == tuned["trials"][best(trials, documented.tuning.min_coverage)]["params"]
        assert tuned["floor_met"] == meets_floor(trials, documented.tuning.min_coverage), name
    assert tuning["min_coverage"] == documented.tuning.min_coverage == 0.10


def test_the_default_model_was_chosen_on_validation_by_the_rule() -> None:
    tuning, comparison, documented = load("tuning.json"), load("comparison.json"), spec()
    floor = documented.tuning.min_coverage
    verdict = comparison["default"]
    candidates = []
    for name in ("item_knn", "ease", "als"):  # the servable models, in tie order
        tuned = tuning["models"][name]
        trial = next(t for t in tuned["trials"] if t["params"] == tuned["chosen"])
        assert verdict["validation"][name] == {k: trial[k] for k in ("params", "hit_rate", "coverage")}
        candidates.append((name, Trial(trial["params"], trial["hit_rate"], trial["coverage"])))
    chosen = candidates[best([t for _, t in candidates], floor)][0]
    assert comparison["default_model"] == verdict["model"] == chosen
    assert verdict["floor_met"] == meets_floor([t for _, t in candidates], floor)


def test_the_test_part_was_scored_with_the_chosen_parameters() -> None:
    tuning, comparison = load("tuning.json"), load("comparison.json")
    for name, tuned in tuning["models"].items():
        used = comparison["models"][name]["params"]
        assert {k: used[k] for k in tuned["chosen"]} == tuned["chosen"], name
        assert comparison["models"][name]["tuning"] == tuned["trials"], name


def test_the_defaults_are_the_chosen_parameters() -> None:
    comparison = load("comparison.json")["models"]
    conf = yaml.safe_load((ROOT / "conf" / "base" / "recommendations.yml").read_text())["jobs"]
    build = conf["build_recommendations"]
    defaults = {"item_knn": ModelParams(), "ease": EaseParams(), "als": AlsParams()}
    configured = {"item_knn": build["params"], "ease": build["ease"], "als": build["als"]}
    for name, default in defaults.items():
        used = {k: v for k, v in comparison[name]["params"].items() if k not in SHARED}
        assert {k: getattr(default, k) for k in used} == used, f"code default of {name}"
        assert {k: configured[name][k] for k in used} == used, f"conf/base/recommendations.yml {name}"
    evaluate = conf["evaluate_recommendations"]
    assert evaluate["ease"] == build["ease"] and evaluate["als"] == build["als"]


def test_the_configured_model_is_the_verdict_and_the_docs_hold_the_run() -> None:
    comparison = load("comparison.json")
    conf = yaml.safe_load((ROOT / "conf" / "base" / "recommendations.yml").read_text())
    assert conf["jobs"]["build_recommendations"]["model"] == comparison["default_model"]
    text = (ROOT / "docs" / "recommendations.md").read_text()
    block = text[text.index(BEGIN) + len(BEGIN) + 1 : text.index(END)]
    assert block == (DOCS / "comparison.md").read_text()
    assert (DOCS / "tuning.md").read_text() in block
