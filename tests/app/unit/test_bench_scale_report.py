"""bench_scale's report from a points file (``--render-only``): finished sizes, and a size stopped at
the time limit shown as not finished rather than as a number (no Spark: nothing is measured)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


def point(events: int, total: float, anchor: float, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "events": events,
        "raw_rows": events + 10,
        "ingest_s": total / 2,
        "build_s": total / 2,
        "ours_peak_mib": 1500.0,
        "anchor_s": anchor,
        "anchor_peak_mib": 300.0,
        "load_before": [3.0, 2.0, 1.0],
        "load_after": [4.0, 2.5, 1.2],
        "agreement": {"bronze": [events, events, 0], "recommendations": [20, 20, 0]},
        "session_s": 9.5,
    }
    return {**base, **extra}


def test_render_only_reports_ratios_loads_and_an_unfinished_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_scale

    points = tmp_path / "points.json"
    stopped = point(
        5_000_000, 1200.0, 60.0, build_s=0.0, ingest_s=1200.0, status="stopped at the time limit of 1200 s"
    )
    stopped["agreement"] = {}
    disagreeing = point(1_000_000, 300.0, 30.0, agreement={"recommendations": [20, 20, 2]})
    points.write_text(json.dumps([stopped, point(100_000, 100.0, 4.0), disagreeing]))
    plot = tmp_path / "scale.png"
    section = bench_scale.main(["--render-only", "--points", str(points), "--no-write", "--plot", str(plot)])
    assert "| 100,000 | 50.0 s | 50.0 s | 100.0 s | 1,500 MiB | 4.0 s | 300 MiB | **25.0x** |" in section
    assert "| 1,000,000 |" in section and "**10.0x**" in section
    assert "| 5,000,000 | not finished: stopped at the time limit of 1200 s" in section
    assert "| 60.0 s | 300 MiB | > 20x |" in section  # the anchor still ran: a lower bound of the ratio
    assert "- 5,000,000 events" not in section  # nothing to compare
    assert "3.0 / 2.0 / 1.0 → 4.0 / 2.5 / 1.2" in section
    assert "- 100,000 events: identical: top-N 20/20 rows, 0 differ" in section
    assert "- 1,000,000 events: DIFFERENT: top-N 20/20 rows, 2 differ" in section
    assert "its start, 9.5 s, is not counted" in section
    assert section.index("| 100,000 |") < section.index("| 1,000,000 |") < section.index("| 5,000,000 |")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_only_without_a_points_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_scale

    with pytest.raises(SystemExit, match="--render-only needs --points FILE"):
        bench_scale.main(["--render-only", "--points", str(tmp_path / "absent.json"), "--no-write"])
    (tmp_path / "bad.json").write_text('[{"events": 1}]')
    with pytest.raises(SystemExit, match=r"not a points file written by bench_scale\.py"):
        bench_scale.main(["--render-only", "--points", str(tmp_path / "bad.json"), "--no-write"])
