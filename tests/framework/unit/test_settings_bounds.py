"""Settings that used to pass validation and fail later with a traceback (issue 9) are refused up front."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sparkjobs.observability.settings import ObservabilitySettings
from sparkjobs.pipeline.model import ScheduleSpec
from sparkjobs.spark.settings import SparkSettings


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 11 * 5"])
def test_a_cron_expression_that_never_fires_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="never fires"):
        ScheduleSpec(cron=cron)


def test_a_rare_but_real_cron_date_is_accepted() -> None:
    assert ScheduleSpec(cron="0 0 29 2 *").cron == "0 0 29 2 *"


@pytest.mark.parametrize("level", ["LOUD", "", "verbose", "5"])
def test_unknown_log_level_is_a_validation_error_naming_the_choices(level: str) -> None:
    with pytest.raises(ValidationError, match="DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        ObservabilitySettings(log_level=level)


@pytest.mark.parametrize(("given", "stored"), [("debug", "DEBUG"), ("Warn", "WARNING"), ("INFO", "INFO")])
def test_log_level_is_case_insensitive_and_normalised(given: str, stored: str) -> None:
    assert ObservabilitySettings(log_level=given).log_level == stored


def test_spark_log_level_is_one_of_sparks_own() -> None:
    assert SparkSettings(log_level="error").log_level == "ERROR"
    with pytest.raises(ValidationError, match="WARN"):
        SparkSettings(log_level="LOUD")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shuffle_partitions", 99999999999999999999999),
        ("shuffle_partitions", 2**31),
        ("salt_buckets", 10**9),
        ("broadcast_join_threshold", 2**63),
    ],
)
def test_spark_integers_are_bounded_before_the_jvm_starts(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match="less than or equal"):
        SparkSettings(**{field: value})
