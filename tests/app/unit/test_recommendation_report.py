"""The comparison's verdict (default model), its Markdown and the docs block rewrite, without Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommendations.comparison import Comparison, ComparisonSpec, default_model
from recommendations.evaluation import ModelResult
from recommendations.metrics import RankingMetrics
from recommendations.report import BEGIN, END, markdown_tables, plot_hit_rate, replace_block


def result(name: str, hit_rate: float, coverage: float) -> ModelResult:
    m = RankingMetrics(name, 10, 5, hit_rate, 0.1, 0.2, 0.3, 0.05, coverage, int(coverage * 100), 1.0)
    return ModelResult(name, {}, {10: m}, {1: hit_rate / 2, 2: hit_rate}, 1.25, 0.5)


def comparison(**scores: tuple[float, float]) -> Comparison:
    spec = ComparisonSpec(cutoffs=[10], curve_max_k=2, models=list(scores))  # type: ignore[arg-type]
    return Comparison(spec, 5, 100, {n: result(n, *s) for n, s in scores.items()})


def test_the_default_is_the_best_hit_rate_that_keeps_item_knns_coverage() -> None:
    # ALS has the best hit rate but less coverage than item-kNN: EASE wins
    c = comparison(popularity=(0.9, 0.01), item_knn=(0.44, 0.07), ease=(0.50, 0.12), als=(0.55, 0.05))
    assert default_model(c) == "ease"  # popularity is never served as "the model"
    assert default_model(comparison(item_knn=(0.44, 0.07), ease=(0.40, 0.20))) == "item_knn"
    assert default_model(comparison(item_knn=(0.44, 0.07), ease=(0.44, 0.07))) == "item_knn"  # tie
    assert default_model(comparison(ease=(0.5, 0.1))) is None


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
