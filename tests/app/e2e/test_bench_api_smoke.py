"""``bench/bench_api.py`` on a tiny store, so that the harness cannot rot (no timing is asserted).

Real processes: both apps are served by uvicorn on loopback and driven over HTTP; the harness
itself refuses to time them unless they gave identical answers to the same users first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
TINY = [
    "--users",
    "60",
    "--items",
    "40",
    "--top-n",
    "5",
    "--clients",
    "4",
    "--requests",
    "40",
    "--rounds",
    "2",
]


@pytest.fixture(autouse=True)
def _bench_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))


def test_api_benchmark_serves_both_apps_and_reports_the_ratio(tmp_path: Path) -> None:
    import bench_api

    section = bench_api.main(
        [*TINY, "--warmup", "10", "--check", "40", "--no-postgres", "--workdir", str(tmp_path), "--no-write"]
    )
    assert "| SQLite | ours (`sparkjobs serve recommendations`) |" in section
    assert "| SQLite | bare FastAPI endpoint |" in section
    assert "| SQLite | **ours / bare** |" in section
    assert "every answer was identical JSON (SQLite: " in section
    assert "PostgreSQL |" not in section


def test_the_same_answers_check_catches_apps_serving_different_data(tmp_path: Path) -> None:
    import bench_api

    from sparkjobs.serving.stores import StoreSettings

    a = StoreSettings(url=f"sqlite:///{tmp_path / 'a.db'}")
    b = StoreSettings(url=f"sqlite:///{tmp_path / 'b.db'}")
    bench_api.load(a, bench_api.snapshot(users=30, items=20, top_n=3))
    bench_api.load(b, bench_api.snapshot(users=30, items=20, top_n=3, seed=8))
    servers = {"ours": bench_api.start("ours", a, tmp_path), "bare": bench_api.start("bare", b, tmp_path)}
    try:
        with pytest.raises(SystemExit, match="the apps answer user 1 differently"):
            bench_api.same_answers(servers, [1])
    finally:
        for server in servers.values():
            bench_api.stop(server)
