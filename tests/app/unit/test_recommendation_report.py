"""The comparison's verdict (default model), its Markdown and the docs block rewrite, without Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommendations.comparison import Comparison, ComparisonSpec, default_model, default_verdict
from recommendations.evaluation import ModelResult
from recommendations.metrics import RankingMetrics
from recommendations.report import BEGIN, END, markdown_tables, markdown_verdict, plot_hit_rate, replace_block


def result(
    name: str, hit_rate: float, coverage: float, validation: list[tuple[float, float]] | None = None
) -> ModelResult:
    """Test scores ``hit_rate``/``coverage``; ``validation``: the (hit rate, coverage) of each trial."""
    m = RankingMetrics(name, 10, 5, hit_rate, 0.1, 0.2, 0.3, 0.05, coverage, int(coverage * 100), 1.0)
    trials = [
        {"params": {"x": i}, "hit_rate": hr, "coverage": cov, "seconds": 1.0}
        for i, (hr, cov) in enumerate(validation or [])
    ]
    return ModelResult(name, {}, {10: m}, {1: hit_rate / 2, 2: hit_rate}, 1.25, 0.5, trials)


Scores = tuple[float, float] | tuple[float, float, list[tuple[float, float]]]


def comparison(min_coverage: float = 0.10, **scores: Scores) -> Comparison:
    spec = ComparisonSpec.model_validate(
        {"cutoffs": [10], "curve_max_k": 2, "models": list(scores), "tuning": {"min_coverage": min_coverage}}
    )
    return Comparison(spec, 5, 100, {n: result(n, *s) for n, s in scores.items()}, validation_users=4)


def test_the_default_is_chosen_on_validation_never_on_the_test_numbers() -> None:
    # test numbers (first two) would pick ALS (best hit rate, enough coverage); on validation (the
    # chosen trial of each model) ALS lacks coverage and EASE is the best that reaches 10%
    c = comparison(
        popularity=(0.9, 0.01),
        item_knn=(0.44, 0.07, [(0.40, 0.12), (0.45, 0.05)]),  # chosen: 0.40 / 12% (the floor)
        ease=(0.40, 0.05, [(0.50, 0.09), (0.48, 0.11)]),  # chosen: 0.48 / 11%
        als=(0.60, 0.30, [(0.55, 0.08)]),  # below the floor
    )
    verdict = default_verdict(c)
    assert verdict is not None and default_model(c) == "ease" == verdict["model"]
    assert verdict["floor_met"] is True
    assert verdict["validation"]["ease"] == {"params": {"x": 1}, "hit_rate": 0.48, "coverage": 0.11}
    assert verdict["validation"]["als"] == {"params": {"x": 0}, "hit_rate": 0.55, "coverage": 0.08}
    assert "popularity" not in verdict["validation"]  # popularity is never served as "the model"
    assert c.to_dict()["default_model"] == "ease" and c.to_dict()["default"] == verdict
    # the floor off: the best validation hit rate (ALS), whatever its test numbers
    off = comparison(min_coverage=0.0, item_knn=(0.9, 0.9, [(0.40, 0.12)]), als=(0.1, 0.01, [(0.55, 0.08)]))
    assert default_model(off) == "als"
    # a tie on validation: higher validation coverage, then item_knn, ease, als
    tie = comparison(item_knn=(0.4, 0.1, [(0.5, 0.10)]), ease=(0.4, 0.1, [(0.5, 0.12)]))
    assert default_model(tie) == "ease"
    full = comparison(item_knn=(0.4, 0.1, [(0.5, 0.12)]), ease=(0.4, 0.1, [(0.5, 0.12)]))
    assert default_model(full) == "item_knn"


def test_no_model_reaches_the_floor_then_the_best_validation_coverage_is_the_default() -> None:
    c = comparison(item_knn=(0.44, 0.07, [(0.40, 0.07)]), ease=(0.50, 0.05, [(0.50, 0.05), (0.3, 0.06)]))
    verdict = default_verdict(c)
    assert verdict is not None and verdict["model"] == "item_knn" and verdict["floor_met"] is False
    assert "no model reaches" in markdown_verdict(c)
    assert "**item_knn**" in markdown_verdict(c)


def test_without_a_validation_result_there_is_no_default() -> None:
    assert default_model(comparison(popularity=(0.5, 0.1))) is None
    assert default_model(comparison(ease=(0.5, 0.1))) is None  # not validated: nothing to choose on
    assert comparison(ease=(0.5, 0.1)).to_dict()["default_model"] is None


def test_the_verdict_in_markdown_names_the_rule_and_the_validation_numbers() -> None:
    c = comparison(
        item_knn=(0.44, 0.07, [(0.4361, 0.0757)]), ease=(0.5, 0.12, [(0.4829, 0.119)]), als=(0.45, 0.09)
    )
    text = markdown_verdict(c)
    assert "**ease**" in text and "validation coverage@10 >= 10%" in text
    assert "| item_knn | 0.4361 | 7.57% | 0.4400 | 7.00% |" in text
    assert "| **ease** | **0.4829** | **11.90%** | **0.5000** | **12.00%** |" in text
    assert "| als |" not in text  # not validated: not a candidate


def test_markdown_tables_and_the_docs_block(tmp_path: Path) -> None:
    c = comparison(popularity=(0.29, 0.0108), item_knn=(0.4405, 0.0722))
    text = markdown_tables(c)
    assert "| item_knn | 0.4405 | 0.1000 | 0.2000 | 0.3000 | 0.0500 | 7.22% | 7 |" in text
    assert "| popularity | 5 | 100.00% | 1.2 | 0.5 |" in text
    doc = f"# t\n{BEGIN}\nold\n{END}\nafter\n"
    assert replace_block(doc, "new\n", "x.md") == f"# t\n{BEGIN}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match=r"x\.md has no"):
        replace_block("no markers", "new", "x.md")
    plot_hit_rate(c, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
