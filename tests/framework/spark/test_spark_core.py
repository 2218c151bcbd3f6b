"""The session factory and salting on the real (shared) SparkSession."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.engines.session import SessionProvider
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.spark.salting import salted_join
from sparkjobs.spark.session import build_session
from sparkjobs.spark.settings import SparkSettings

pytestmark = pytest.mark.spark


def test_fixture_session_has_our_settings(spark: Any) -> None:
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.autoBroadcastJoinThreshold") == "-1"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.sources.partitionOverwriteMode") == "dynamic"
    assert spark.conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"
    assert spark.conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext.master == "local[2]"


def test_reused_session_gets_runtime_sql_settings_and_is_not_stopped(spark: Any) -> None:
    settings = SparkSettings(
        shuffle_partitions=7, adaptive_enabled=False, conf={"spark.sql.ansi.enabled": "true"}
    )
    provider = SessionProvider(settings)
    session = provider.get()
    try:
        assert session is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
        assert spark.conf.get("spark.sql.adaptive.enabled") == "false"
        assert spark.conf.get("spark.sql.ansi.enabled") == "true"
        provider.close()  # we did not create it: must not stop it
        assert spark.range(3).count() == 3
    finally:
        build_session(SparkSettings(shuffle_partitions=2))  # restore the suite's setting


def test_partitions_flag_reaches_the_real_session(spark: Any, tmp_path: Path) -> None:
    prepared = prepare(
        RunRequest(
            job="hello_spark",
            partitions=5,
            conf_dir=tmp_path,
            params=[f"output_path={tmp_path / 'out'}", "rows=40", "items=3", "days=2"],
            event_date="2024-05-10",
        ),
        {},
    )
    result = execute(prepared)
    try:
        assert spark.conf.get("spark.sql.shuffle.partitions") == "5"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert result == {"rows_in": 40, "rows_out": 6, "output_path": str(tmp_path / "out")}


def test_hello_spark_rerun_replaces_only_its_dates(spark: Any, tmp_path: Path) -> None:
    out = tmp_path / "counts"

    def run(day: str, rows: int) -> None:
        execute(
            prepare(
                RunRequest(
                    job="hello_spark",
                    conf_dir=tmp_path,
                    event_date=day,
                    params=[f"output_path={out}", f"rows={rows}", "items=2", "days=1"],
                ),
                {},
            )
        )

    run("2024-01-01", 10)
    run("2024-01-02", 6)
    run("2024-01-02", 4)  # rerun of the second date with different input
    rows = {(str(r.event_date), r.item_id): r.events for r in spark.read.parquet(str(out)).collect()}
    assert rows == {("2024-01-01", 0): 5, ("2024-01-01", 1): 5, ("2024-01-02", 0): 2, ("2024-01-02", 1): 2}


@pytest.mark.parametrize("buckets", [1, 3, 8])
@pytest.mark.parametrize("how", ["inner", "left", "left_semi", "left_anti"])
def test_salted_join_returns_exactly_the_unsalted_rows(spark: Any, buckets: int, how: str) -> None:
    from pyspark.testing import assertDataFrameEqual

    # a skewed left side: key 1 is hot; duplicate rows on the left must stay duplicated
    left = spark.createDataFrame(
        [(1, "a")] * 20 + [(1, "b"), (2, "c"), (3, "d"), (3, "d"), (5, None)], "k int, v string"
    )
    right = spark.createDataFrame([(1, 10), (1, 11), (2, 20), (4, 40)], "k int, w int")
    expected = left.join(right, "k", how)
    got = salted_join(left, right, "k", buckets, how=how)
    assertDataFrameEqual(got, expected)
    if how == "inner":
        assert got.count() == 21 * 2 + 1


def test_salt_is_deterministic(spark: Any) -> None:
    from pyspark.sql import functions as F

    from sparkjobs.spark.salting import SALT_COL

    df = spark.range(200).withColumn("v", F.col("id") % 7)
    salted = df.withColumn(SALT_COL, F.pmod(F.xxhash64("id", "v"), F.lit(5)))
    first = [r[SALT_COL] for r in salted.orderBy("id").collect()]
    second = [r[SALT_COL] for r in salted.repartition(3).orderBy("id").collect()]
    assert first == second and set(first) == {0, 1, 2, 3, 4}


def test_salted_join_rejects_right_outer(spark: Any) -> None:
    df = spark.createDataFrame([(1,)], "k int")
    with pytest.raises(ValueError, match="not 'right'"):
        salted_join(df, df, "k", 4, how="right")


def test_context_event_date_default_is_yesterday_utc() -> None:
    from datetime import UTC, datetime

    from sparkjobs.context import yesterday_utc

    assert yesterday_utc(datetime(2024, 3, 1, 0, 30, tzinfo=UTC)) == date(2024, 2, 29)


def test_parquet_timestamps_are_standard_utc_int64_as_the_duckdb_engine_writes(
    spark: Any, tmp_path: Path
) -> None:
    """Spark's legacy INT96 reads back as a naive timestamp outside Spark; TIMESTAMP_MICROS is the
    Parquet logical type DuckDB writes for TIMESTAMP WITH TIME ZONE (the engines' outputs must match)."""
    import pyarrow.parquet as pq

    df = spark.sql("SELECT 1 AS id, timestamp'2016-10-16 12:30:00' AS event_ts")
    df.write.parquet(str(tmp_path / "t"))
    (part,) = sorted((tmp_path / "t").glob("*.parquet"))
    field = pq.read_schema(part).field("event_ts")
    assert str(field.type) == "timestamp[us, tz=UTC]"
    assert pq.read_table(part).column("event_ts")[0].as_py().isoformat() == "2016-10-16T12:30:00+00:00"
