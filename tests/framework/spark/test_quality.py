"""Quality checks on real DataFrames with known violations, and the one-pass property.

(How checks are declared and validated, without a JVM: ``tests/framework/unit/test_quality_config.py``.)
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sparkjobs.errors import DataError
from sparkjobs.observability.metrics import RunMetrics
from sparkjobs.quality import (
    AcceptedValues,
    Freshness,
    InRange,
    NotNull,
    QualityError,
    QualityReport,
    RowCount,
    Unique,
    run_checks,
)
from tests.framework.unit.test_quality_config import CONFIG

NOW = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
NEWEST = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)  # 16 h before NOW
EPOCH_NEWEST = 1709323200  # 2024-03-01T20:00:00Z

# user_id, item_id, rating, source, ts, day, epoch, ts_text
ROWS = [
    (
        1,
        10,
        4.0,
        "item_knn",
        datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        date(2024, 2, 29),
        EPOCH_NEWEST - 43200,
        "2024-03-01T08:00:00Z",
    ),
    (1, 11, 5.0, "popular", NEWEST, date(2024, 3, 1), EPOCH_NEWEST, "2024-03-01T20:00:00Z"),
    (
        2,
        10,
        0.0,
        "item_knn",
        datetime(2024, 2, 28, 9, 0, tzinfo=UTC),
        date(2024, 2, 28),
        EPOCH_NEWEST - 3600,
        "2024-02-28T09:00:00Z",
    ),
    (2, 10, 3.5, "random", datetime(2024, 2, 27, 9, 0, tzinfo=UTC), date(2024, 2, 27), None, None),
    (None, 12, 6.5, None, None, None, EPOCH_NEWEST - 7200, "2024-02-27T00:00:00Z"),
]
SCHEMA = (
    "user_id int, item_id int, rating double, source string, ts timestamp, day date, epoch long, "
    "ts_text string"
)


@pytest.fixture(scope="module")
def events(spark: Any) -> Any:
    return spark.createDataFrame(ROWS, SCHEMA).cache()


def _one(df: Any, check: Any, **kwargs: Any) -> Any:
    report = run_checks(df, [check], dataset="events", now=NOW, **kwargs)
    (result,) = report.results
    return result


# -- each check, on known violations -------------------------------------------------------------


@pytest.mark.spark
def test_not_null_ratio_per_column(events: Any) -> None:
    at_limit = _one(events, NotNull(columns=["user_id", "rating"], max_null_ratio=0.2))
    assert (at_limit.status, at_limit.observed) == ("pass", 0.2)  # 1 of 5 is not above 0.2
    assert at_limit.details["null_counts"] == {"user_id": 1, "rating": 0}
    assert at_limit.details["null_ratios"] == {"user_id": 0.2, "rating": 0.0}

    strict = _one(events, NotNull(columns=["rating", "user_id", "source"]))
    assert (strict.status, strict.observed, strict.threshold) == ("fail", 0.2, "null ratio <= 0")
    assert strict.message == "null ratio above 0: user_id 0.2 (1 of 5 rows), source 0.2 (1 of 5 rows)"


@pytest.mark.spark
def test_unique_counts_duplicates_with_nulls_equal(events: Any) -> None:
    pair = _one(events, Unique(columns=["user_id", "item_id"]))
    assert (pair.status, pair.observed) == ("fail", 1)  # (2,10) twice
    assert pair.message == "1 duplicate row(s) on (user_id,item_id): 5 rows, 4 distinct"
    items = _one(events, Unique(columns=["item_id"]))
    assert items.observed == 2  # 10 three times
    triple = _one(events, Unique(columns=["user_id", "item_id", "rating"]))
    assert (triple.status, triple.observed) == ("pass", 0)


@pytest.mark.spark
def test_accepted_values_ignores_nulls_and_shows_examples(events: Any) -> None:
    result = _one(events, AcceptedValues(column="source", values=["item_knn", "popular"]))
    assert (result.status, result.observed) == ("fail", 1)
    assert result.details["examples"] == ["random"]
    assert result.message == "1 row(s) of source not in [item_knn, popular] (e.g. random)"
    ok = _one(events, AcceptedValues(column="item_id", values=[10, 11, 12]))
    assert (ok.status, ok.observed) == ("pass", 0)


@pytest.mark.spark
def test_in_range_with_both_and_one_bound(events: Any) -> None:
    both = _one(events, InRange(column="rating", min=0.5, max=5))
    assert (both.status, both.observed) == ("fail", 2)  # 0.0 and 6.5
    assert (both.details["min"], both.details["max"]) == (0.0, 6.5)
    low_only = _one(events, InRange(column="rating", min=0.5))
    assert low_only.observed == 1
    dates = _one(events, InRange(column="day", min=date(2024, 2, 28), max=date(2024, 3, 1)))
    assert (dates.observed, dates.details["min"]) == (1, "2024-02-27")


@pytest.mark.spark
def test_row_count_bounds(events: Any) -> None:
    exact = _one(events, RowCount(min=5, max=5))
    assert (exact.status, exact.observed, exact.threshold) == ("pass", 5, "5 <= rows <= 5")
    too_few = _one(events, RowCount(min=6))
    assert (too_few.status, too_few.message) == ("fail", "5 rows outside [6, inf]")
    too_many = _one(events, RowCount(max=4))
    assert too_many.status == "fail"


@pytest.mark.spark
@pytest.mark.parametrize(
    ("column", "age_s"),
    [("ts", 16 * 3600), ("epoch", 16 * 3600), ("ts_text", 16 * 3600), ("day", 36 * 3600)],
)
def test_freshness_on_timestamp_epoch_string_and_date_columns(events: Any, column: str, age_s: int) -> None:
    fresh = _one(events, Freshness(column=column, max_age="2d"))
    assert (fresh.status, fresh.observed) == ("pass", age_s)
    stale = _one(events, Freshness(column=column, max_age=timedelta(hours=12)))
    assert (stale.status, stale.observed, stale.threshold) == ("fail", age_s, "age <= 43200s (12:00:00)")


@pytest.mark.spark
def test_freshness_without_any_value_fails(spark: Any) -> None:
    empty = spark.createDataFrame([], "ts timestamp")
    result = _one(empty, Freshness(column="ts", max_age="1h"))
    assert (result.status, result.observed) == ("fail", None)


@pytest.mark.spark
def test_an_empty_dataframe(spark: Any) -> None:
    empty = spark.createDataFrame([], "user_id int")
    report = run_checks(
        empty, [NotNull(columns=["user_id"]), Unique(columns=["user_id"]), RowCount(min=1)], now=NOW
    )
    assert [(r.status, r.observed) for r in report.results] == [("pass", 0.0), ("pass", 0), ("fail", 0)]
    assert report.rows == 0


# -- report, severity, errors, logs, metrics --------------------------------------------------------


class FakeObserver:
    def __init__(self) -> None:
        self.reports: list[QualityReport] = []

    def record_quality(self, report: QualityReport) -> None:
        self.reports.append(report)


@pytest.mark.spark
def test_a_failed_fail_check_raises_a_data_error_listing_every_failure(events: Any) -> None:
    report = run_checks(events, CONFIG, dataset="bronze.events", now=NOW)
    assert [(r.name, r.status) for r in report.results] == [
        ("not_null(user_id)", "fail"),
        ("unique(user_id,item_id)", "warn"),
        ("accepted_values(source)", "pass"),
        ("rating_scale", "fail"),
        ("row_count", "pass"),
        ("freshness(ts)", "pass"),
    ]
    assert report.score == 3 / 6
    with pytest.raises(QualityError) as info:
        report.raise_on_failure()
    assert isinstance(info.value, DataError)
    assert str(info.value) == (
        "2 quality check(s) failed on 'bronze.events':\n"
        "  - not_null(user_id): null ratio above 0: user_id 0.2 (1 of 5 rows)\n"
        "  - rating_scale: 2 row(s) of rating outside [0.5, 5.0] (observed min 0.0, max 6.5)"
    )
    assert [r.name for r in info.value.failures] == ["not_null(user_id)", "rating_scale"]


@pytest.mark.spark
def test_warnings_do_not_fail(events: Any) -> None:
    report = run_checks(
        events, [Unique(columns=["item_id"], severity="warn"), RowCount(min=1)], dataset="e", now=NOW
    )
    assert report.ok
    assert [r.name for r in report.warnings] == ["unique(item_id)"]
    assert report.raise_on_failure() is report


@pytest.mark.spark
def test_results_go_to_metrics_logs_and_the_observer(events: Any, caplog: pytest.LogCaptureFixture) -> None:
    metrics = RunMetrics("ingest_events")
    observer = FakeObserver()
    caplog.set_level(logging.INFO, logger="sparkjobs.quality")
    report = run_checks(events, CONFIG, dataset="bronze", metrics=metrics, observer=observer, now=NOW)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("sparkjobs_quality_observed", dataset="bronze", check="not_null(user_id)") == 0.2
    assert sample("sparkjobs_quality_observed", dataset="bronze", check="rating_scale") == 2
    assert sample("sparkjobs_quality_observed", dataset="bronze", check="freshness(ts)") == 16 * 3600
    assert (
        sample("sparkjobs_quality_check_passed", dataset="bronze", check="rating_scale", severity="fail") == 0
    )
    assert sample("sparkjobs_quality_check_passed", dataset="bronze", check="row_count", severity="fail") == 1
    assert (
        sample(
            "sparkjobs_quality_check_passed",
            dataset="bronze",
            check="unique(user_id,item_id)",
            severity="warn",
        )
        == 0
    )
    assert sample("sparkjobs_quality_score", dataset="bronze") == 0.5
    assert observer.reports == [report]
    by_level = [
        (r.levelname, r.getMessage().split(" on ")[0])
        for r in caplog.records
        if r.name == "sparkjobs.quality"
    ]
    assert by_level == [
        ("ERROR", "quality FAIL not_null(user_id)"),
        ("WARNING", "quality WARN unique(user_id,item_id)"),
        ("INFO", "quality PASS accepted_values(source)"),
        ("ERROR", "quality FAIL rating_scale"),
        ("INFO", "quality PASS row_count"),
        ("INFO", "quality PASS freshness(ts)"),
        ("INFO", "quality"),
    ]
    assert caplog.records[-1].getMessage() == "quality on bronze: 3 passed, 1 warned, 2 failed (5 rows)"
    as_dict = report.to_dict()
    assert as_dict["results"][5]["details"] == {
        "newest": "2024-03-01T20:00:00+00:00",
        "reference": "2024-03-02T12:00:00+00:00",
    }


@pytest.mark.spark
def test_a_missing_column_is_a_data_error_naming_it(events: Any) -> None:
    with pytest.raises(DataError, match=r"quality check 'not_null\(user\)' on 'events' names missing column"):
        run_checks(events, [NotNull(columns=["user"])], dataset="events")


# -- the one-pass property --------------------------------------------------------------------------


def _jobs_of(spark: Any, group: str, action: Any) -> list[int]:
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return sorted(sc.statusTracker().getJobIdsForGroup(group))


@pytest.mark.spark
def test_all_checks_run_in_one_aggregation_pass(spark: Any, events: Any) -> None:
    from pyspark.sql import functions as F

    # Adaptive execution submits each shuffle stage as a job of its own; without it one action is one job.
    adaptive = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        all_checks = _jobs_of(spark, "q-all", lambda: run_checks(events, CONFIG, now=NOW))
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", adaptive)
    assert len(all_checks) == 1

    # And the data is read once: a UDF counts the rows flowing out of the source.
    rows_seen = spark.sparkContext.accumulator(0)

    def count_row(value):  # type: ignore[no-untyped-def]  # no hints: pyspark infers UDF kinds from them
        rows_seen.add(1)
        return value

    # useArrow=False: the worker Python of the shared session may lack pyarrow (PYSPARK_PYTHON unset)
    counting = F.udf(count_row, "int", useArrow=False).asNondeterministic()
    source = spark.range(40).select(
        counting(F.col("id").cast("int")).alias("user_id"), (F.col("id") % 7).cast("int").alias("item_id")
    )
    report = run_checks(
        source,
        [
            NotNull(columns=["user_id", "item_id"]),
            Unique(columns=["user_id"]),
            Unique(columns=["item_id"]),
            InRange(column="item_id", min=0, max=6),
            AcceptedValues(column="item_id", values=[0, 1, 2, 3, 4, 5, 6]),
            RowCount(min=40, max=40),
        ],
        now=NOW,
    )
    assert [r.status for r in report.results] == ["pass", "pass", "fail", "pass", "pass", "pass"]
    assert report.results[2].observed == 33  # 40 rows, 7 distinct item ids
    assert rows_seen.value == 40
