"""Quality checks declared in job config: parsing, validation errors, names; no JVM.

(The checks on real DataFrames: ``tests/framework/spark/test_quality.py``.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from sparkjobs.errors import ConfigError
from sparkjobs.quality import (
    Freshness,
    QualityChecks,
    RowCount,
    run_checks,
)

CONFIG = [
    {"check": "not_null", "columns": ["user_id"]},
    {"check": "unique", "columns": ["user_id", "item_id"], "severity": "warn"},
    {"check": "accepted_values", "column": "source", "values": ["item_knn", "popular", "random"]},
    {"check": "in_range", "column": "rating", "min": 0.5, "max": 5.0, "name": "rating_scale"},
    {"check": "row_count", "min": 1, "max": 1000},
    {"check": "freshness", "column": "ts", "max_age": "1d"},
]


def test_duplicate_names_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="two quality checks on 'x' are named 'row_count'"):
        run_checks(object(), [RowCount(min=1), RowCount(max=3)], dataset="x")  # type: ignore[arg-type]


# -- declared in a job's config --------------------------------------------------------------------


class JobConfig(BaseModel):
    input_path: str
    quality: QualityChecks = []


def test_checks_parse_from_job_config() -> None:
    config = JobConfig.model_validate({"input_path": "x", "quality": CONFIG})
    kinds = [type(c).__name__ for c in config.quality]
    assert kinds == ["NotNull", "Unique", "AcceptedValues", "InRange", "RowCount", "Freshness"]
    assert config.quality[5].max_age == timedelta(days=1)  # type: ignore[union-attr]
    assert config.quality[1].severity == "warn"
    assert Freshness(column="t", max_age="PT90M").max_age == timedelta(minutes=90)
    assert Freshness(column="t", max_age=3600).max_age == timedelta(hours=1)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"check": "not_nul", "columns": ["a"]}, "not_nul"),
        ({"check": "not_null", "columns": []}, "at least 1 item"),
        ({"check": "not_null", "columns": ["a"], "max_null_ratio": 1.5}, "less than or equal to 1"),
        ({"check": "in_range", "column": "a"}, "in_range needs min, max or both"),
        ({"check": "row_count", "min": 5, "max": 2}, r"row_count min \(5\) > max \(2\)"),
        ({"check": "unique", "columns": ["a"], "severity": "error"}, "severity"),
        ({"check": "unique", "column": ["a"]}, "column"),
    ],
)
def test_bad_check_config_is_rejected(entry: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        JobConfig.model_validate({"input_path": "x", "quality": [entry]})


def test_importing_quality_does_not_import_pyspark() -> None:
    import subprocess
    import sys

    code = "import sys, sparkjobs.quality; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
