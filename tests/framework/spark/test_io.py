"""sparkjobs.io on the real session: quarantining reader, partitioned writer, previous-output reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.errors import DataError
from sparkjobs.io import (
    FieldSpec,
    HadoopFileSystem,
    ParquetWriter,
    PreviousOutputReader,
    RawFileReader,
    RecordSchema,
    driver_side_listing,
)
from sparkjobs.io.filesystem import LISTING_THRESHOLD_KEY

SCHEMA = RecordSchema(
    (
        FieldSpec("id", "int", min=1),
        FieldSpec("score", "double", min=0.0, max=10.0),
        FieldSpec("ts", "long"),
        FieldSpec("note", "string", required=False),
    )
)


def rows(df: Any, *columns: str) -> list[tuple[Any, ...]]:
    """The columns' values, sorted (nulls last)."""
    return sorted(
        (tuple(r[c] for c in columns) for r in df.collect()),
        key=lambda row: [(v is None, v if v is not None else 0) for v in row],
    )


# -- reader --------------------------------------------------------------------------------------------
@pytest.mark.spark
def test_csv_rows_that_break_the_schema_are_quarantined_with_reasons(spark: Any, tmp_path: Path) -> None:
    day = tmp_path / "in" / "day=2024-01-02"
    day.mkdir(parents=True)
    (day / "part-0.csv").write_text(
        "id,score,ts,note\n"
        "1,2.5,100,fine\n"
        '2,10,200,"quoted, with ""quotes"""\n'
        "x,1,100,\n"  # non-numeric id
        "3,1.5x,100,\n"  # bad double
        "4,NaN,100,\n"  # NaN is not a finite double
        "5,11,100,\n"  # out of range
        "0,1,100,\n"  # id below min
        ",1,100,\n"  # missing id
        "6,1,12:00,\n"  # bad long
        "7,1.5,\n"  # too few fields → malformed (and missing ts)
        "8,1,100,a,b\n"  # too many fields
        "9,1,  300 ,\n"  # blanks around a number are fine
    )
    result = RawFileReader(spark, SCHEMA).read(str(tmp_path / "in"), base_path=str(tmp_path / "in")).persist()
    counts = result.counts()
    assert (counts.total, counts.valid, counts.rejected) == (12, 3, 9)
    assert counts.by_reason == {
        "bad_id": 1,
        "bad_score": 2,
        "out_of_range_score": 1,
        "out_of_range_id": 1,
        "missing_id": 1,
        "bad_ts": 1,
        "malformed_record": 2,
    }
    assert rows(result.valid, "id", "score", "ts", "note") == [
        (1, 2.5, 100, "fine"),
        (2, 10.0, 200, 'quoted, with "quotes"'),
        (9, 1.0, 300, None),
    ]
    assert dict(result.valid.dtypes)["ts"] == "bigint"
    rejected = {r["id"]: r for r in result.rejected.collect() if r["id"] is not None}
    assert rejected["x"]["reason_detail"] == "id 'x' is not a int"
    assert rejected["5"]["reason_detail"] == "score 11 is outside [0, 10]"
    assert rejected["7"]["raw_record"] == "7,1.5,"
    assert {r["day"] for r in result.rejected.collect()} == {date(2024, 1, 2)}
    assert all(r["source_file"].endswith("day=2024-01-02/part-0.csv") for r in result.rejected.collect())
    result.unpersist()


@pytest.mark.spark
def test_json_lines_are_checked_the_same_way(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(
        '{"id": 1, "score": 3.5, "ts": 100}\n'
        '{"id": "1x", "score": 3.5, "ts": 100}\n'
        '{"id": 2, "score": 3.5}\n'
        "{not json\n"
        '{"id": 3, "score": "4", "ts": "200", "note": "text"}\n'
    )
    result = RawFileReader(spark, SCHEMA, format="json").read(str(path))
    counts = result.counts()
    assert counts.by_reason == {"bad_id": 1, "missing_ts": 1, "malformed_record": 1}
    assert rows(result.valid, "id", "score", "ts", "note") == [(1, 3.5, 100, None), (3, 4.0, 200, "text")]


@pytest.mark.spark
def test_reading_nothing_and_reading_a_missing_path(spark: Any, tmp_path: Path) -> None:
    empty = RawFileReader(spark, SCHEMA).read([])
    assert empty.counts().total == 0
    assert empty.valid.columns == ["id", "score", "ts", "note", "source_file"]
    with pytest.raises(DataError, match="cannot read csv input"):
        RawFileReader(spark, SCHEMA).read(str(tmp_path / "nope"))


@pytest.mark.spark
def test_driver_side_listing_restores_the_setting(spark: Any) -> None:
    before = spark.conf.get(LISTING_THRESHOLD_KEY, None)
    with driver_side_listing(spark, 5000):
        assert spark.conf.get(LISTING_THRESHOLD_KEY) == "5000"
    assert spark.conf.get(LISTING_THRESHOLD_KEY, None) == before


# -- writer --------------------------------------------------------------------------------------------
def frame(spark: Any, data: list[tuple[Any, ...]]) -> Any:
    return spark.createDataFrame(data, "id int, day date, month string")


@pytest.mark.spark
def test_overwrite_partitions_replaces_only_the_partitions_written(spark: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"], sort_within=["id"])
    writer.overwrite_partitions(
        frame(spark, [(1, date(2024, 1, 1), "2024-01"), (2, date(2024, 2, 1), "2024-02")])
    )
    result = writer.overwrite_partitions(frame(spark, [(3, date(2024, 2, 9), "2024-02")]))
    stored = spark.read.parquet(path)
    assert rows(stored, "id", "month") == [(1, "2024-01"), (3, "2024-02")]
    assert result.written == [{"month": "2024-02"}]
    assert result.deleted == []


@pytest.mark.spark
def test_a_named_partition_left_without_rows_is_deleted_or_written_empty(spark: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"])
    writer.overwrite_partitions(
        frame(spark, [(1, date(2024, 1, 1), "2024-01"), (2, date(2024, 2, 1), "2024-02")])
    )
    result = writer.overwrite_partitions(frame(spark, []), replace=[{"month": "2024-02"}])
    assert result.deleted == [{"month": "2024-02"}]
    assert HadoopFileSystem(spark).partitions(path, "month") == ["2024-01"]
    snapshot = str(tmp_path / "snap")
    ParquetWriter(spark, snapshot, ["month"]).overwrite_partitions(
        frame(spark, []), replace=[{"month": "2024-03"}], on_empty="write_empty"
    )
    empty = spark.read.parquet(f"{snapshot}/month=2024-03")
    assert empty.count() == 0 and empty.columns == ["id", "day"]


@pytest.mark.spark
def test_replace_where_rewrites_one_day_inside_a_month(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"], sort_within=["day", "id"])
    first = [
        (1, date(2024, 1, 1), "2024-01"),
        (2, date(2024, 1, 2), "2024-01"),
        (3, date(2024, 2, 1), "2024-02"),
    ]
    writer.overwrite_partitions(frame(spark, first))
    day2 = F.col("day") == F.lit(date(2024, 1, 2))
    new = frame(spark, [(20, date(2024, 1, 2), "2024-01"), (21, date(2024, 1, 2), "2024-01")])
    writer.replace_where(new, remove=day2, partitions=[{"month": "2024-01"}])
    writer.replace_where(new, remove=day2, partitions=[{"month": "2024-01"}])  # a rerun changes nothing
    assert rows(spark.read.parquet(path), "id") == [(1,), (3,), (20,), (21,)]
    # a day that now has no rows: its rows go, the month's other days stay
    writer.replace_where(frame(spark, []), remove=day2, partitions=[{"month": "2024-01"}])
    assert rows(spark.read.parquet(path), "id") == [(1,), (3,)]
    with pytest.raises(DataError, match="outside the replaced partitions"):
        writer.replace_where(
            frame(spark, [(9, date(2024, 2, 5), "2024-02")]), remove=day2, partitions=[{"month": "2024-01"}]
        )
    assert rows(spark.read.parquet(path), "id") == [(1,), (3,)]


def spark_jobs_of(spark: Any, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


@pytest.mark.spark
def test_an_empty_replace_where_on_a_table_without_those_rows_runs_no_spark_job(
    spark: Any, tmp_path: Path
) -> None:
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"])
    writer.overwrite_partitions(frame(spark, [(1, date(2024, 1, 1), "2024-01")]))
    day2 = F.col("day") == F.lit(date(2024, 1, 2))
    spark.sparkContext.setJobGroup("empty-replace", "an empty quarantine write")
    try:
        empty = frame(spark, [])
        result = writer.replace_where(empty, remove=day2, partitions=[{"month": "2024-03"}], new_rows=0)
        assert result.written == [] and result.deleted == []
        assert spark_jobs_of(spark, "empty-replace") == 0  # month 2024-03 is not stored: no read at all
        writer.replace_where(empty, remove=day2, partitions=[{"month": "2024-01"}], new_rows=0)
    finally:
        spark.sparkContext.setJobGroup("", "")
    assert rows(spark.read.parquet(path), "id") == [(1,)]
    writer.overwrite_partitions(
        frame(spark, [(2, date(2024, 1, 2), "2024-01")]), replace=[{"month": "2024-01"}]
    )
    # now a stored row of the day matches: the empty batch removes it
    writer.replace_where(frame(spark, []), remove=day2, partitions=[{"month": "2024-01"}], new_rows=0)
    assert not HadoopFileSystem(spark).list_dirs(path)


@pytest.mark.spark
def test_a_single_partition_write_uses_several_tasks_and_stays_sorted(spark: Any, tmp_path: Path) -> None:
    """A snapshot write (one partition value) used to go through one task; now it is range-partitioned."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    data = spark.range(2_000).select(
        ((F.col("id") * 7919) % 2_000).cast("int").alias("id"),
        F.lit(date(2024, 1, 1)).alias("day"),
        F.lit("2024-01").alias("month"),
    )
    result = ParquetWriter(spark, path, ["month"], sort_within=["id"]).overwrite_partitions(data)
    assert result.written == [{"month": "2024-01"}]
    files = HadoopFileSystem(spark).list_files(f"{path}/month=2024-01")
    assert len(files) >= 2  # the test session has 2 shuffle partitions
    ids = [i for f in files for i in pq.read_table(f.removeprefix("file:")).column("id").to_pylist()]
    assert ids == list(range(2_000))


@pytest.mark.spark
def test_local_paths_are_served_without_the_jvm(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = HadoopFileSystem(spark)

    def no_jvm(path: str) -> Any:
        raise AssertionError(f"a py4j call for the local path {path}")

    monkeypatch.setattr(fs, "_path", no_jvm)
    (tmp_path / "t" / "m=1").mkdir(parents=True)
    (tmp_path / "t" / "m=1" / "part-0.parquet").write_text("x")
    assert fs.list_dirs(f"file://{tmp_path}/t") == fs.list_dirs(str(tmp_path / "t")) == ["m=1"]
    assert fs.list_files(f"file:{tmp_path}/t/m=1") == [str(tmp_path / "t" / "m=1" / "part-0.parquet")]
    fs.write_text(str(tmp_path / "t" / "note.json"), '{"a": 1}')
    assert fs.read_text(f"file://{tmp_path}/t/note.json") == '{"a": 1}'
    fs.rename(str(tmp_path / "t" / "m=1"), str(tmp_path / "t" / "old" / "m=1"))
    assert fs.partitions(str(tmp_path / "t"), "m") == [] and fs.is_dir(str(tmp_path / "t" / "old" / "m=1"))
    assert fs.delete(str(tmp_path / "t")) and not fs.exists(str(tmp_path / "t"))
    assert fs.local_path("hdfs://namenode:8020/lake") is None
    assert fs.local_path("s3a://bucket/lake") is None


# -- previous output ----------------------------------------------------------------------------------
@pytest.mark.spark
def test_previous_output_before_and_after_the_first_run(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    path = str(tmp_path / "t")
    previous = PreviousOutputReader(spark, path, "id int, day date, month string")
    assert not previous.exists()
    assert previous.read().count() == 0
    ParquetWriter(spark, path, ["month"]).overwrite_partitions(
        frame(
            spark,
            [(1, date(2024, 1, 1), "2024-01"), (2, date(2024, 2, 1), "2024-02"), (None, None, "2024-02")],
        )
    )
    assert previous.exists()
    batch = frame(
        spark, [(1, date(2024, 3, 1), "2024-03"), (2, date(2024, 3, 1), "2024-03"), (None, None, "x")]
    )
    fresh = previous.new_rows(batch, ["id"], where=F.col("month") == "2024-01")
    assert rows(fresh, "id") == [(2,), (None,)]
    everything = previous.new_rows(batch, ["id"])
    assert rows(everything, "id") == []  # 1 and 2 are stored, and a null key matches a stored null key


# -- crash-safe swap (sparkjobs.io.swap) --------------------------------------------------------------
@pytest.mark.spark
def test_a_writer_killed_mid_swap_is_completed_by_the_next_reader(spark: Any, tmp_path: Path) -> None:
    """The hook raises where a SIGKILL would land (after the live partition was renamed away):
    the partition is missing from the live table until a sparkjobs reader finishes the swap."""

    class Killed(BaseException):
        pass

    def kill_after_move_out(step: str) -> None:
        if step.startswith("moved-out:"):
            raise Killed(step)

    path = str(tmp_path / "t")
    ParquetWriter(spark, path, ["month"]).overwrite_partitions(
        frame(spark, [(1, date(2024, 1, 1), "2024-01")])
    )
    doomed = ParquetWriter(spark, path, ["month"], on_step=kill_after_move_out)
    with pytest.raises(Killed):
        doomed.overwrite_partitions(frame(spark, [(2, date(2024, 1, 2), "2024-01")]))
    fs = HadoopFileSystem(spark)
    assert fs.partitions(path, "month") == []  # what Spark's own dynamic overwrite can leave for good
    stored = PreviousOutputReader(spark, path, "id int, day date, month string").read()
    assert rows(stored, "id", "month") == [(2, "2024-01")]
    assert fs.list_dirs(path) == ["month=2024-01"]  # the _swap folder is gone too


@pytest.mark.spark
def test_a_write_that_dies_before_the_journal_changes_nothing(spark: Any, tmp_path: Path) -> None:
    class Killed(BaseException):
        pass

    def kill_when_staged(step: str) -> None:
        if step == "staged":
            raise Killed(step)

    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"])
    writer.overwrite_partitions(frame(spark, [(1, date(2024, 1, 1), "2024-01")]))
    with pytest.raises(Killed):
        ParquetWriter(spark, path, ["month"], on_step=kill_when_staged).overwrite_partitions(
            frame(spark, [(2, date(2024, 1, 2), "2024-01")])
        )
    writer.overwrite_partitions(frame(spark, [(3, date(2024, 2, 1), "2024-02")]))  # rolls the stage back
    assert rows(spark.read.parquet(path), "id", "month") == [(1, "2024-01"), (3, "2024-02")]
    assert HadoopFileSystem(spark).list_dirs(path) == ["month=2024-01", "month=2024-02"]


@pytest.mark.spark
def test_a_partition_value_with_escaped_characters_is_deleted(spark: Any, tmp_path: Path) -> None:
    """The writer once escaped such values twice, so deleting ``month=a:b`` looked for ``a%253Ab``."""
    path = str(tmp_path / "t")
    writer = ParquetWriter(spark, path, ["month"])
    writer.overwrite_partitions(frame(spark, [(1, date(2024, 1, 1), "a:b"), (2, date(2024, 1, 1), "c")]))
    assert HadoopFileSystem(spark).list_dirs(path) == ["month=a%3Ab", "month=c"]
    result = writer.overwrite_partitions(frame(spark, []), replace=[{"month": "a:b"}])
    assert result.deleted == [{"month": "a%3Ab"}]
    assert HadoopFileSystem(spark).list_dirs(path) == ["month=c"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (root only: CI runs as root, so there this never skips)."""
    import os
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr.decode()}")
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.spark
def test_a_full_disk_fails_the_write_clearly_and_keeps_the_table(spark: Any, small_disk: Path) -> None:
    from pyspark.sql import functions as F

    from sparkjobs.errors import StorageFullError

    path = str(small_disk / "t")
    writer = ParquetWriter(spark, path, ["month"])
    writer.overwrite_partitions(frame(spark, [(1, date(2024, 1, 1), "2024-01")]))
    big = spark.range(200_000).select(
        F.col("id").cast("int").alias("id"),
        F.lit(date(2024, 1, 2)).alias("day"),
        F.lit("2024-01").alias("month"),
        F.sha2(F.col("id").cast("string"), 512).alias("noise"),
    )
    with pytest.raises(StorageFullError, match="no space left on the device while writing") as info:
        ParquetWriter(spark, path, ["month"]).overwrite_partitions(big)
    assert "the table is unchanged" in str(info.value)
    assert rows(spark.read.parquet(path), "id", "month") == [(1, "2024-01")]
    assert HadoopFileSystem(spark).list_dirs(path) == ["month=2024-01"]  # the stage was removed
