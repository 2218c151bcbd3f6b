"""Command-line values that used to be accepted (issue 9) are exit 2 with one line naming the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "hello_spark", "--dry-run", "--event-date", "20240101"], "expected YYYY-MM-DD"),
        (["run", "hello_spark", "--dry-run", "--event-date", "2024-W01-1"], "expected YYYY-MM-DD"),
        (
            ["run", "hello_spark", "--dry-run", "--partitions", "99999999999999999999999"],
            "--partitions must be",
        ),
        (["run", "hello_spark", "--dry-run", "--salt", "0"], "--salt must be"),
        (["run", "hello_spark", "--dry-run", "--json", '{"rows":1,"rows":2}'], "duplicate key 'rows'"),
        (["schedule", "recommendations_daily", "--max-fires", "0"], "--max-fires"),
        (["schedule", "recommendations_daily", "--max-fires", "-1"], "--max-fires"),
        (["pipeline", "status", "recommendations_daily", "--limit", "-5"], "--limit"),
    ],
)
def test_out_of_range_values_are_refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, [*args], env={"SPARKJOBS_CONF_DIR": str(ROOT / "conf")})
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
