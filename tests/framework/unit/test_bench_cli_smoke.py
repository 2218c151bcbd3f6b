"""``bench/bench_cli.py`` at one run per command, so that the harness cannot rot (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


def test_cli_start_benchmark_times_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_cli

    section = bench_cli.main(["--repeat", "1", "--no-write"])
    for name in bench_cli.COMMANDS:
        assert f"| `{name}` |" in section
