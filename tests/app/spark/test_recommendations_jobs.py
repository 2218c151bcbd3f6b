"""ingest_events, build_recommendations and evaluate_recommendations through the executor, on small data.

Every run goes through ``sparkjobs.testing.run_job`` (the executor's prepare → execute, exactly like
``sparkjobs run``) with a configuration written into a temporary conf dir; the jobs get the suite's
SparkSession, and run_job puts its SQL settings back after each run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkjobs.errors import DataError, JobFailedError
from sparkjobs.testing import JobRun, run_job

pytestmark = pytest.mark.spark

DAY1, DAY2, DAY3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
HEADER = "user_id,item_id,rating,timestamp"


def ts(day: date, second: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + second


@dataclass
class Lake:
    root: Path
    conf: Path
    #: the runs' engine: these are Spark's tests (engine.use is auto); test_jobs_on_duckdb.py: duckdb
    engine: str = "spark"

    @property
    def raw(self) -> Path:
        return self.root / "raw" / "events"

    def path(self, name: str) -> str:
        return str(self.root / name)

    def deliver(self, day: date, *lines: str) -> None:
        target = self.raw / f"event_date={day.isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        (target / "part-00000.csv").write_text("\n".join([HEADER, *lines]) + "\n")

    def run_job(self, job: str, day: date, *, check: bool = True, **params: Any) -> JobRun:
        return run_job(
            job,
            params,
            event_date=day,
            conf_dir=self.conf,
            tmp_path=self.root.parent,
            check=check,
            engine=self.engine,
        )

    def run(self, job: str, day: date, **params: Any) -> dict[str, Any]:
        return dict(self.run_job(job, day, **params).result)


#: small-data item-kNN parameters the hand-checked gold of these tests (and of test_jobs_on_duckdb.py) uses
SMALL_MODEL = {"min_cooccurrence": 1, "top_k": 2, "top_n": 2, "max_items_per_user": 100, "popular_pool": 10}


def lake_settings(root: Path) -> dict[str, Any]:
    """ingest_events and build_recommendations (item-kNN) over the lake at ``root``: the settings both
    engines' job tests share."""
    return {
        "ingest_events": {
            "raw_path": str(root / "raw" / "events"),
            "bronze_path": str(root / "bronze"),
            "quarantine_path": str(root / "quarantine"),
        },
        "build_recommendations": {
            "bronze_path": str(root / "bronze"),
            "catalog_path": str(root / "raw" / "catalog" / "movies.csv"),
            "silver_path": str(root / "silver"),
            "gold_path": str(root / "gold"),
            "catalog_quarantine_path": str(root / "quarantine_catalog"),
            "window_days": 30,
            "model": "item_knn",  # the hand-checked gold below is item-kNN's
            "params": SMALL_MODEL,
        },
    }


@pytest.fixture
def lake(tmp_path: Path, spark: Any) -> Lake:
    root = tmp_path / "lake"
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    model = SMALL_MODEL
    settings = {
        "spark": {"shuffle_partitions": 2},
        "observability": {"write_textfile": False},
        "jobs": {
            **lake_settings(root),
            "evaluate_recommendations": {
                "bronze_path": str(root / "bronze"),
                "catalog_path": str(root / "raw" / "catalog" / "movies.csv"),
                "output_path": str(root / "reports"),
                "params": model,
                "ease": {"l2": 1.0, "min_item_likes": 1},
                "models": ["popularity", "item_knn", "ease"],  # ALS: its own test (model tests)
                "cutoffs": [2, 3],
                "curve_max_k": 4,
                "tuning": {"item_knn": {"shrinkage": [0.0, 1.0]}, "ease": {}, "min_coverage": 0.0},
            },
        },
    }
    (conf / "base" / "test.yml").write_text(yaml.safe_dump(settings))
    return Lake(root, conf)


def bronze(spark: Any, lake: Lake) -> list[tuple[Any, ...]]:
    df = spark.read.parquet(lake.path("bronze"))
    return sorted(
        (r.user_id, r.item_id, r.rating, r.timestamp, r.event_date.isoformat(), r.event_period)
        for r in df.collect()
    )


def gold(spark: Any, lake: Lake, table: str, day: date, *columns: str) -> list[tuple[Any, ...]]:
    df = spark.read.parquet(f"{lake.path('gold')}/{table}/snapshot_date={day.isoformat()}")
    return sorted(
        tuple(round(v, 6) if isinstance(v, float) else v for v in (r[c] for c in columns))
        for r in df.collect()
    )


# -- ingest -------------------------------------------------------------------------------------------
def test_bad_rows_go_to_quarantine_with_reasons_and_the_good_rows_load(spark: Any, lake: Lake) -> None:
    lake.deliver(
        DAY1,
        f"1,10,4.0,{ts(DAY1, 1)}",
        f"2,10,3.5,{ts(DAY1, 2)}",
        f"2,11,5.0,{ts(DAY1, 3)}",
        "3,12,4.0,2024-03-01 10:00:00",  # bad timestamp
        f"user3,12,4.0,{ts(DAY1, 4)}",  # non-numeric id
        f"3,12,7.5,{ts(DAY1, 5)}",  # rating out of range
        f"3,,4.0,{ts(DAY1, 6)}",  # missing field
        "3,12,4.0",  # a column short
    )
    result = lake.run("ingest_events", DAY1, max_rejected_ratio=0.9)
    assert result["rows_read"] == 8
    assert result["rows_quarantined"] == 5
    assert result["quarantine_by_reason"] == {
        "bad_timestamp": 1,
        "bad_user_id": 1,
        "out_of_range_rating": 1,
        "missing_item_id": 1,
        "malformed_record": 1,
    }
    assert result["rows_written"] == 3
    assert bronze(spark, lake) == [
        (1, 10, 4.0, ts(DAY1, 1), "2024-03-01", "2024-03"),
        (2, 10, 3.5, ts(DAY1, 2), "2024-03-01", "2024-03"),
        (2, 11, 5.0, ts(DAY1, 3), "2024-03-01", "2024-03"),
    ]
    stored = spark.read.parquet(lake.path("bronze"))
    assert dict(stored.dtypes) == {
        "user_id": "int",
        "item_id": "int",
        "rating": "double",
        "timestamp": "bigint",
        "event_ts": "timestamp",
        "event_date": "date",
        "event_period": "string",
    }
    quarantine = spark.read.parquet(lake.path("quarantine"))
    assert sorted(
        (r.reason, r.user_id, r.item_id, r.rating, r.timestamp) for r in quarantine.collect()
    ) == sorted(
        [
            ("bad_timestamp", "3", "12", "4.0", "2024-03-01 10:00:00"),
            ("bad_user_id", "user3", "12", "4.0", str(ts(DAY1, 4))),
            ("out_of_range_rating", "3", "12", "7.5", str(ts(DAY1, 5))),
            ("missing_item_id", "3", None, "4.0", str(ts(DAY1, 6))),
            ("malformed_record", "3", "12", "4.0", None),
        ]
    )
    assert {r.raw_record for r in quarantine.collect() if r.reason == "malformed_record"} == {"3,12,4.0"}


def test_too_many_rejected_rows_fail_the_run_and_leave_bronze_alone(spark: Any, lake: Lake) -> None:
    lake.deliver(DAY1, f"1,10,4.0,{ts(DAY1, 1)}")
    lake.run("ingest_events", DAY1)
    lake.deliver(DAY2, f"1,11,4.0,{ts(DAY2, 1)}", "x,11,4.0,1", "2,y,4.0,1")
    with pytest.raises(JobFailedError) as failed:
        lake.run("ingest_events", DAY2)
    assert isinstance(failed.value.cause, DataError)
    assert "2 of 3 rows (66.7%) were rejected" in str(failed.value)
    again = lake.run_job("ingest_events", DAY2, check=False)
    assert again.error is not None and isinstance(again.error.cause, DataError)
    assert (again.report["status"], again.report["error"]["type"]) == ("failed", "sparkjobs.errors.DataError")
    assert "2 of 3 rows (66.7%) were rejected" in again.report["error"]["message"]
    assert again.report_path == lake.root.parent / "runs" / f"{again.run_id}.json"
    assert bronze(spark, lake) == [(1, 10, 4.0, ts(DAY1, 1), "2024-03-01", "2024-03")]
    reasons = sorted(r.reason for r in spark.read.parquet(lake.path("quarantine")).collect())
    assert reasons == ["bad_item_id", "bad_user_id"]


def test_duplicates_within_a_delivery_and_events_re_sent_later_are_dropped(spark: Any, lake: Lake) -> None:
    e1, e2, e3 = f"1,10,4.0,{ts(DAY1, 1)}", f"1,11,3.0,{ts(DAY1, 2)}", f"2,10,5.0,{ts(DAY1, 3)}"
    e4 = f"3,12,4.5,{ts(DAY2, 1)}"
    e2_rerated = f"1,11,4.0,{ts(DAY2, 2)}"  # same user and item, new rating: not a duplicate
    lake.deliver(DAY1, e1, e2, e3)
    lake.deliver(DAY2, e4, e4, e1, e2_rerated)
    lake.run("ingest_events", DAY1)
    result = lake.run("ingest_events", DAY2)
    assert (result["duplicates_within_batch"], result["duplicates_of_previous"], result["rows_written"]) == (
        1,
        1,
        2,
    )
    assert bronze(spark, lake) == [
        (1, 10, 4.0, ts(DAY1, 1), "2024-03-01", "2024-03"),
        (1, 11, 3.0, ts(DAY1, 2), "2024-03-01", "2024-03"),
        (1, 11, 4.0, ts(DAY2, 2), "2024-03-02", "2024-03"),
        (2, 10, 5.0, ts(DAY1, 3), "2024-03-01", "2024-03"),
        (3, 12, 4.5, ts(DAY2, 1), "2024-03-02", "2024-03"),
    ]


def test_rerunning_a_date_replaces_exactly_that_date(spark: Any, lake: Lake) -> None:
    lake.deliver(DAY1, f"1,10,4.0,{ts(DAY1, 1)}", f"2,10,5.0,{ts(DAY1, 2)}", "bad,1,1,1")
    lake.deliver(DAY2, f"3,12,4.5,{ts(DAY2, 1)}", f"1,10,4.0,{ts(DAY1, 1)}", "4,1,9,1")
    lake.deliver(DAY3, f"4,13,2.0,{ts(DAY3, 1)}")
    for day in (DAY1, DAY2, DAY3):
        lake.run("ingest_events", day, max_rejected_ratio=0.5)
    first = bronze(spark, lake)
    first_quarantine = sorted(map(tuple, spark.read.parquet(lake.path("quarantine")).collect()))
    again = lake.run("ingest_events", DAY2, max_rejected_ratio=0.5)
    lake.run("ingest_events", DAY1, max_rejected_ratio=0.5)
    assert again["rows_written"] == 1 and again["duplicates_of_previous"] == 1
    assert bronze(spark, lake) == first
    assert len(first) == len(set(first)) == 4
    assert sorted(map(tuple, spark.read.parquet(lake.path("quarantine")).collect())) == first_quarantine
    # a new delivery for day 2 replaces day 2 only
    lake.deliver(DAY2, f"5,14,1.0,{ts(DAY2, 9)}")
    lake.run("ingest_events", DAY2)
    assert [r[0] for r in bronze(spark, lake)] == [1, 2, 4, 5]
    assert sorted(r.reason for r in spark.read.parquet(lake.path("quarantine")).collect()) == ["bad_user_id"]


def test_initial_load_builds_what_the_daily_runs_build(spark: Any, lake: Lake, tmp_path: Path) -> None:
    lake.deliver(DAY1, f"1,10,4.0,{ts(DAY1, 1)}", f"2,10,5.0,{ts(DAY1, 2)}")
    lake.deliver(DAY2, f"3,12,4.5,{ts(DAY2, 1)}", f"1,10,4.0,{ts(DAY1, 1)}")
    lake.deliver(DAY3, f"4,13,2.0,{ts(DAY3, 1)}")
    for day in (DAY1, DAY2, DAY3):
        lake.run("ingest_events", day)
    daily = bronze(spark, lake)
    result = lake.run("ingest_events", DAY3, mode="initial_load")
    assert (result["deliveries"], result["rows_read"], result["duplicates_within_batch"]) == (3, 5, 1)
    assert bronze(spark, lake) == daily
    # daily partitions hold the same rows; an initial load up to day 2 keeps day 3 as it is
    by_day = lake.run(
        "ingest_events",
        DAY3,
        mode="initial_load",
        partition_granularity="day",
        bronze_path=str(tmp_path / "b2"),
    )
    assert by_day["bronze_partitions_written"] == 3
    rows = sorted(
        tuple(r)[:4]
        for r in spark.read.parquet(str(tmp_path / "b2"))
        .select("user_id", "item_id", "rating", "timestamp")
        .collect()
    )
    assert rows == sorted(r[:4] for r in daily)
    lake.deliver(DAY1, f"1,10,4.0,{ts(DAY1, 1)}")  # the upstream corrected day 1
    lake.run("ingest_events", DAY2, mode="initial_load")
    assert [(r[0], r[4]) for r in bronze(spark, lake)] == [
        (1, "2024-03-01"),
        (3, "2024-03-02"),
        (4, "2024-03-03"),
    ]


def test_a_missing_delivery_fails_unless_empty_days_are_allowed(spark: Any, lake: Lake) -> None:
    lake.deliver(DAY1, f"1,10,4.0,{ts(DAY1, 1)}")
    lake.deliver(DAY2, f"2,10,4.0,{ts(DAY2, 1)}")
    lake.run("ingest_events", DAY1)
    lake.run("ingest_events", DAY2)
    with pytest.raises(JobFailedError, match="no delivery for 2024-03-03"):
        lake.run("ingest_events", DAY3)
    # the upstream withdrew day 2's file: with on_missing_input=empty, day 2's rows go
    for path in (lake.raw / "event_date=2024-03-02").iterdir():
        path.unlink()
    (lake.raw / "event_date=2024-03-02").rmdir()
    result = lake.run("ingest_events", DAY2, on_missing_input="empty")
    assert (result["deliveries"], result["rows_written"]) == (0, 0)
    assert [r[0] for r in bronze(spark, lake)] == [1]


# -- build --------------------------------------------------------------------------------------------
A, B, C, D = 1, 2, 3, 4
AB, BC, AC, AD = 2 / 3, 2 / math.sqrt(6), 1 / math.sqrt(6), 1 / math.sqrt(3)


def r6(x: float) -> float:
    return round(x, 6)


def deliver_fixture(lake: Lake) -> None:
    """The hand-checked fixture of test_recommendations_model.py, delivered over three days.

    Latest likes: u1 A B C, u2 A B, u3 B C, u4 A D; u5 rated A 2.0; u2 re-rated B (3.0 → 5.0);
    u6 rated only item 99, which the catalog does not know.
    """
    lake.deliver(DAY1, *(f"{u},{i},{r},{ts(DAY1, n)}" for n, (u, i, r) in enumerate(
        [(1, A, 5.0), (2, A, 4.0), (2, B, 3.0), (4, A, 4.0), (5, A, 2.0)]
    )))  # fmt: skip
    lake.deliver(DAY2, *(f"{u},{i},{r},{ts(DAY2, n)}" for n, (u, i, r) in enumerate(
        [(1, B, 4.0), (2, B, 5.0), (3, B, 4.0), (4, D, 5.0), (6, 99, 4.0)]
    )))  # fmt: skip
    lake.deliver(
        DAY3, *(f"{u},{i},{r},{ts(DAY3, n)}" for n, (u, i, r) in enumerate([(1, C, 4.5), (3, C, 4.0)]))
    )
    catalog = lake.root / "raw" / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    (catalog / "movies.csv").write_text(
        "item_id,title,year,genres\n"
        "1,Alpha,1990,Drama\n"
        '2,"Beta, the ""sequel""",1991,Comedy|Drama\n'
        "3,,,\n"
        "4,Delta,,Horror\n"
        "x,Broken,1999,\n"
    )
    lake.run("ingest_events", DAY3, mode="initial_load")


def test_build_writes_silver_and_the_gold_snapshot_idempotently(spark: Any, lake: Lake) -> None:
    deliver_fixture(lake)
    result = lake.run("build_recommendations", DAY3)
    assert result["catalog_items"] == 4 and result["catalog_rejected"] == 1
    assert result["interactions_unknown_item"] == 1
    assert result["rows"] == {"items": 4, "similar_items": 7, "popular_items": 4, "recommendations": 9}
    marker = json.loads(
        (Path(lake.path("gold")) / "_published" / "snapshot_date=2024-03-03.json").read_text()
    )
    assert marker["rows"] == result["rows"] and marker["snapshot_date"] == "2024-03-03" and marker["run_id"]
    silver = spark.read.parquet(f"{lake.path('silver')}/interactions/snapshot_date=2024-03-03")
    assert sorted((r.user_id, r.item_id, r.rating) for r in silver.collect() if r.user_id == 2) == [
        (2, A, 4.0),
        (2, B, 5.0),  # the latest rating wins
    ]
    assert silver.count() == 10
    assert gold(spark, lake, "items", DAY3, "item_id", "title", "year", "genres") == [
        (A, "Alpha", 1990, "Drama"),
        (B, 'Beta, the "sequel"', 1991, "Comedy|Drama"),
        (C, "(untitled item 3)", None, "(no genres listed)"),
        (D, "Delta", None, "Horror"),
    ]
    assert gold(spark, lake, "similar_items", DAY3, "item_id", "similar_item_id", "score", "rank") == sorted(
        [(A, B, r6(AB), 1), (A, D, r6(AD), 2), (B, C, r6(BC), 1), (B, A, r6(AB), 2), (C, B, r6(BC), 1),
         (C, A, r6(AC), 2), (D, A, r6(AD), 1)]
    )  # fmt: skip
    assert gold(spark, lake, "popular_items", DAY3, "item_id", "score", "rank") == [
        (A, 3.0, 1),
        (B, 3.0, 2),
        (C, 2.0, 3),
        (D, 1.0, 4),
    ]
    columns = ("user_id", "item_id", "score", "rank", "source")
    assert gold(spark, lake, "recommendations", DAY3, *columns) == sorted(
        [(1, D, r6(AD), 1, "item_knn"), (2, C, r6(BC), 1, "item_knn"), (2, D, r6(AD), 2, "item_knn"),
         (3, A, r6(AB + AC), 1, "item_knn"), (3, D, 1.0, 2, "popular"), (4, B, r6(AB), 1, "item_knn"),
         (4, C, 2.0, 2, "popular"), (5, B, 3.0, 1, "popular"), (5, C, 2.0, 2, "popular")]
    )  # fmt: skip
    dtypes = dict(spark.read.parquet(f"{lake.path('gold')}/recommendations").dtypes)
    assert dtypes == {
        "user_id": "int",
        "item_id": "int",
        "score": "double",
        "rank": "int",
        "source": "string",
        "snapshot_date": "date",
    }

    # rebuilding the date gives the same snapshot; another date's snapshot sits beside it
    tables = {
        "recommendations": columns,
        "similar_items": ("item_id", "similar_item_id", "score", "rank"),
        "popular_items": ("item_id", "score", "rank"),
        "items": ("item_id", "title", "year", "genres"),
    }
    first = {name: gold(spark, lake, name, DAY3, *cols) for name, cols in tables.items()}
    lake.run("build_recommendations", DAY3)
    lake.run("build_recommendations", DAY2)
    assert {name: gold(spark, lake, name, DAY3, *cols) for name, cols in tables.items()} == first
    recs = spark.read.parquet(f"{lake.path('gold')}/recommendations")
    assert recs.filter("snapshot_date = '2024-03-03'").count() == 9
    # as of day 2 nobody liked C yet: u3 (likes B) gets A through B, then the popular D
    day2 = recs.filter("snapshot_date = '2024-03-02' AND user_id = 3").collect()
    assert sorted((r.item_id, r.rank, r.source) for r in day2) == [(A, 1, "item_knn"), (D, 2, "popular")]


def test_build_serves_the_configured_model_in_the_same_schema(spark: Any, lake: Lake) -> None:
    deliver_fixture(lake)
    ease = {"l2": 1.0, "popularity_penalty": 0.0, "min_item_likes": 1}
    result = lake.run("build_recommendations", DAY3, model="ease", ease=ease)
    assert (result["model"], result["users_with_model"]) == ("ease", 4)
    # the EASE^R scores of this fixture, by hand in tests/app/spark/test_recommendation_models.py
    assert gold(spark, lake, "recommendations", DAY3, "user_id", "item_id", "score", "rank", "source") == [
        (1, D, r6(1 / 6), 1, "ease"),
        (2, C, 0.5, 1, "ease"),
        (2, D, r6(1 / 6), 2, "ease"),
        (3, A, 0.5, 1, "ease"),
        (3, D, 1.0, 2, "popular"),
        (4, B, r6(4 / 19), 1, "ease"),
        (4, C, 2.0, 2, "popular"),
        (5, B, 3.0, 1, "popular"),
        (5, C, 2.0, 2, "popular"),
    ]
    # what the loader reads is unchanged: same columns and types; similar items stay item-kNN's
    dtypes = dict(spark.read.parquet(f"{lake.path('gold')}/recommendations").dtypes)
    assert dtypes == {
        "user_id": "int",
        "item_id": "int",
        "score": "double",
        "rank": "int",
        "source": "string",
        "snapshot_date": "date",
    }
    assert gold(spark, lake, "similar_items", DAY3, "item_id", "similar_item_id", "rank")[:2] == [
        (A, B, 1),
        (A, D, 2),
    ]


def test_the_window_limits_what_is_learned_but_not_what_is_excluded(spark: Any, lake: Lake) -> None:
    deliver_fixture(lake)
    result = lake.run("build_recommendations", DAY3, window_days=2)
    # window = days 2-3: likes B (u1 u2 u3), C (u1 u3), D (u4); B-C co-liked by u1 and u3
    assert result["window"] == ["2024-03-02", "2024-03-03"]
    assert gold(spark, lake, "similar_items", DAY3, "item_id", "similar_item_id", "rank") == [
        (B, C, 1),
        (C, B, 1),
    ]
    assert gold(spark, lake, "popular_items", DAY3, "item_id", "score") == [(B, 3.0), (C, 2.0), (D, 1.0)]
    # u5 was active on day 1 only; everyone keeps their whole history out of their list
    assert gold(spark, lake, "recommendations", DAY3, "user_id", "item_id", "rank", "source") == [
        (1, D, 1, "popular"),
        (2, C, 1, "item_knn"),
        (2, D, 2, "popular"),
        (3, D, 1, "popular"),
        (4, B, 1, "popular"),
        (4, C, 2, "popular"),
    ]


def test_build_without_bronze_says_what_to_run(lake: Lake) -> None:
    with pytest.raises(JobFailedError, match="run ingest_events first"):
        lake.run("build_recommendations", DAY3)


# -- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_writes_the_side_by_side_report(lake: Lake) -> None:
    # 6 users with 9 distinct items each over three days (all likes); each user's latest is the test
    # set (floor(9 * 0.2) = 1), the latest of the other 8 the validation set of the tuning
    for n, day in enumerate((DAY1, DAY2, DAY3)):
        lines = [
            f"{u},{(u + k + 3 * n) % 10 + 1},{4.0 + (k % 2) / 2},{ts(day, 10 * u + k)}"
            for u in range(1, 7)
            for k in range(3)
        ]
        lake.deliver(day, *lines)
    deliver_catalog = lake.root / "raw" / "catalog"
    deliver_catalog.mkdir(parents=True)
    (deliver_catalog / "movies.csv").write_text(
        "item_id,title,year,genres\n" + "".join(f"{i},T{i},2000,Drama\n" for i in range(1, 11))
    )
    lake.run("ingest_events", DAY3, mode="initial_load")
    result = lake.run("evaluate_recommendations", DAY3)
    report = json.loads((Path(result["report_path"]) / "report.json").read_text())
    assert report["models"] == result["models"]
    assert report["catalog_items"] == 10 and report["k"] == 2 and report["cutoffs"] == [2, 3]
    assert list(report["models"]) == ["popularity", "item_knn", "ease"]
    for name, model in report["models"].items():
        assert set(model["metrics"]) == {"2", "3"}, name
        assert set(model["metrics"]["2"]) >= {"hit_rate", "precision", "recall", "ndcg", "map", "coverage"}
        assert list(model["hit_rate_curve"]) == ["1", "2", "3", "4"]
        assert model["train_seconds"] >= 0 and model["score_seconds"] >= 0
    # item-kNN was tuned on the validation split: both values of the grid were tried
    trials = report["models"]["item_knn"]["tuning"]
    assert [t["params"] for t in trials] == [{"shrinkage": 0.0}, {"shrinkage": 1.0}]
    assert report["models"]["item_knn"]["params"]["shrinkage"] in (0.0, 1.0)
    assert report["default_model"] in ("item_knn", "ease")
    markdown = (Path(result["report_path"]) / "report.md").read_text()
    assert "| model | HitRate@2 | Precision@2 | Recall@2 | NDCG@2 | MAP@2 | coverage@2 | items |" in markdown
    knn = result["models"]["item_knn"]["metrics"]["2"]
    assert f"| item_knn | {knn['hit_rate']:.4f} | {knn['precision']:.4f} |" in markdown
