"""The benchmark harness at a tiny size, so that it cannot rot (no timing is asserted).

It also makes the DuckDB SQL anchor a differential test: at this size its bronze, silver and gold
tables must be identical to those of our jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(autouse=True)
def _bench_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))


TINY = ["--source", "synthetic", "--events", "3000", "--users", "120", "--items", "90", "--days", "6"]


def test_pipeline_benchmark_runs_and_the_anchor_agrees_with_our_jobs(spark: Any, tmp_path: Path) -> None:
    import bench_pipeline

    section = bench_pipeline.main(
        [*TINY, "--repeat", "1", "--partitions", "2", "--workdir", str(tmp_path / "w"), "--no-write"]
    )
    assert "| ingest + build |" in section and "ours / DuckDB" in section
    assert "Anchor check" in section and "identical" in section and "DIFFERENT" not in section


def test_scale_benchmark_runs_and_plots(spark: Any, tmp_path: Path) -> None:
    import bench_scale

    plot = tmp_path / "scale.png"
    section = bench_scale.main(
        [
            "--sizes",
            "1500,3000",
            "--partitions",
            "2",
            "--workdir",
            str(tmp_path / "w"),
            "--no-write",
            "--plot",
            str(plot),
            "--no-warmup",
        ]
    )
    assert "| 1,500 |" in section and "| 3,000 |" in section
    # every table of ours, the top-N list included, equals the anchor's at both sizes
    assert "- 1,500 events: identical: top-N" in section and "- 3,000 events: identical: top-N" in section
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_engines_benchmark_runs_and_both_engines_agree_with_the_anchor(spark: Any, tmp_path: Path) -> None:
    import bench_engines

    section = bench_engines.main(
        [
            *TINY,
            "--engines",
            "spark,duckdb,sql",
            "--partitions",
            "2",
            "--workdir",
            str(tmp_path / "w"),
            "--no-write",
        ]
    )
    assert (
        "| our jobs on Spark local[2] |" in section
        and "| our jobs on our DuckDB engine (SQLFrame) |" in section
    )
    assert "| hand-written DuckDB SQL (the anchor) |" in section and "x anchor" in section
    assert "- spark: every table identical to the anchor's" in section
    assert "- duckdb: every table identical to the anchor's" in section
