"""The lake IO on the DuckDB engine (in-process, no JVM): quarantine reads, dynamic partition overwrite
through the journaled swap, previous output, the engine-neutral functions and casts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkjobs import io
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import DuckDBSettings
from sparkjobs.io import FieldSpec, RecordSchema
from sparkjobs.io.duckdb_writer import DuckDBParquetWriter
from sparkjobs.io.swap import SWAP_DIR
from sparkjobs.spark.settings import SparkSettings
from sparkjobs.sql import F, current_engine, engine_scope, try_cast

SCHEMA = RecordSchema(
    (
        FieldSpec("user_id", "int", min=1),
        FieldSpec("item_id", "int", min=1),
        FieldSpec("rating", "double", min=0.5, max=5.0),
        FieldSpec("timestamp", "long", min=0),
    )
)
DDL = "user_id int, item_id int, rating double, timestamp bigint, event_date date, part string"


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    provider = SessionProvider(SparkSettings(), duckdb=DuckDBSettings(memory_limit="1GB", threads=1))
    session = provider.get("duckdb")
    with engine_scope("duckdb"):
        yield session
    provider.close()


def write_csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def rows(df: Any, *order: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in df.orderBy(*order).collect()]


# -- session and functions ----------------------------------------------------------------------------
def test_duckdb_session_takes_its_settings(duck: Any) -> None:
    conn = duck._conn
    assert conn.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in {"1.0GB", "953.6MiB", "1GB"}


def test_functions_resolve_for_the_engine_in_scope(duck: Any) -> None:
    assert current_engine() == "duckdb"
    assert type(F.col("x")).__module__.startswith("sqlframe")
    with engine_scope("spark"):  # resolved only: building a Spark column needs a JVM
        import pyspark.sql.functions

        assert F.col is pyspark.sql.functions.col
    with pytest.raises(AttributeError, match="does not exist on the duckdb engine"):
        F.no_such_function  # noqa: B018
    with pytest.raises(ValueError, match="unknown engine"), engine_scope("flink"):
        pass


def test_try_cast_follows_spark_where_duckdb_differs(duck: Any) -> None:
    texts = ["7", "+7", "1.5", "1_000", "abc", "1e3", "2.5d", "NaN", "99999999999"]
    df = duck.createDataFrame([(t,) for t in texts], "t string")
    got = {
        r["t"]: (r["i"], r["d"])
        for r in df.select(
            "t", try_cast(F.col("t"), "int").alias("i"), try_cast(F.col("t"), "double").alias("d")
        ).collect()
    }
    assert got["7"] == (7, 7.0) and got["+7"] == (7, 7.0)
    assert got["1.5"] == (None, 1.5)  # DuckDB's TRY_CAST alone gives the integer 2
    assert got["1_000"] == (None, None)  # DuckDB's TRY_CAST alone reads 1000
    assert got["abc"] == (None, None)
    assert got["1e3"] == (None, 1000.0) and got["2.5d"] == (None, 2.5)
    assert got["NaN"][0] is None and got["NaN"][1] != got["NaN"][1]
    assert got["99999999999"][0] is None  # overflows an int: null, as Spark's try_cast


def test_a_column_object_is_reusable_as_on_spark(duck: Any) -> None:
    # SQLFrame qualifies a column with its frame's table IN PLACE: one Column twice in an aggregation
    # of a joined frame raised KeyError (the quality checks' min/max), and a Column used on one frame
    # then on another referenced the first frame's table (Binder Error)
    ratings = duck.createDataFrame([(1, 2.0), (2, 3.0), (3, 4.5)], "k int, rating double")
    seen = duck.createDataFrame([(1,)], "k int")
    other = duck.createDataFrame([(7, 9.0), (8, 0.5)], "k int, rating double")
    fresh = ratings.join(seen, "k", "left_anti")
    rating = F.col("rating")
    (row,) = fresh.agg(F.min(rating).alias("lo"), F.max(rating).alias("hi")).collect()
    assert (row["lo"], row["hi"]) == (3.0, 4.5)
    high = rating > F.lit(2.5)
    assert sorted(r["k"] for r in fresh.filter(high).collect()) == [2, 3]
    assert [r["k"] for r in other.join(seen, "k", "left_anti").filter(high).collect()] == [7]
    assert [r["k"] for r in other.filter(high).collect()] == [7]


def test_a_column_named_twice_on_a_joined_frame_is_the_same_column(duck: Any) -> None:
    # SQLFrame resolved the 2nd unqualified reference to a name both sides have to the NEXT side of
    # the join: after a left join on k, F.col("k") a second time was the right side's (null) k
    ratings = duck.createDataFrame([(1, 2.0), (2, 3.0)], "k int, rating double")
    names = duck.createDataFrame([(1, "x")], "k int, v string")
    joined = ratings.join(names, "k", "left")
    got = joined.select(F.col("k").alias("a"), F.col("k").alias("b"), "v").orderBy("a").collect()
    assert [tuple(r) for r in got] == [(1, 1, "x"), (2, 2, None)]
    (row,) = joined.agg(F.count(F.col("k")).alias("n1"), F.count(F.col("k")).alias("n2")).collect()
    assert (row["n1"], row["n2"]) == (2, 2)
    anti = ratings.join(names, "k", "left_anti")
    assert [tuple(r) for r in anti.select(F.col("k"), (F.col("k") * 10).alias("k10")).collect()] == [(2, 20)]
    # both sides' columns by the frames' own references still work (a join on a condition)
    on = ratings.join(names, ratings.k == names.k, "left").select(ratings.k, names.k.alias("nk"))
    assert sorted(tuple(r) for r in on.collect()) == [(1, 1), (2, None)]


def test_join_on_names_takes_the_left_frames_own_key_after_an_anti_join(duck: Any) -> None:
    # SQLFrame took the left key of a join on names from the first CTE (in definition order) of the
    # left frame's tables that has the name: after an anti join with a frame defined earlier (rated,
    # an ancestor of the left frame), that was the anti-joined table, which the query cannot see
    base = duck.createDataFrame([(1, 10), (2, 11), (3, 12)], "user_id int, item_id int")
    rated = base.distinct()
    items = duck.createDataFrame([(10,), (11,), (12,)], "item_id int")
    candidates = rated.select("user_id").distinct().crossJoin(items)
    own = duck.createDataFrame([(1, 11), (2, 12)], "user_id int, item_id int")
    fallback = candidates.join(rated, ["user_id", "item_id"], "left_anti").join(
        own, ["user_id", "item_id"], "left_anti"
    )
    assert sorted(tuple(r) for r in fallback.select("user_id", "item_id").collect()) == [
        (1, 12), (2, 10), (3, 10), (3, 11)
    ]  # fmt: skip


def test_many_python_rows_become_a_table_not_inline_values(duck: Any) -> None:
    from datetime import date

    from sparkjobs.engines.duckdb_compat import INLINE_ROWS

    rows = [(i, i * 0.5, f"u{i}", date(2024, 1, 1 + i % 28), i % 2 == 0) for i in range(INLINE_ROWS * 4)]
    ddl = "id int, score double, name string, day date, even boolean"
    df = duck.createDataFrame(rows, ddl)
    assert "VALUES" not in df.sql(optimize=False)  # SQLFrame alone inlines every row in every query
    kinds = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    assert kinds == [
        ("id", "int"),
        ("score", "double"),
        ("name", "string"),
        ("day", "date"),
        ("even", "boolean"),
    ]
    assert sorted(tuple(r) for r in df.collect()) == rows
    assert df.filter(F.col("even")).count() == INLINE_ROWS * 2
    few = duck.createDataFrame(rows[:3], ddl)  # a few rows stay inline
    assert "VALUES" in few.sql(optimize=False) and [tuple(r) for r in few.orderBy("id").collect()] == rows[:3]


def test_persist_materialises_once_and_cuts_the_lineage(duck: Any, tmp_path: Path) -> None:
    from sparkjobs.engines.duckdb_compat import CACHE_PREFIX

    data = tmp_path / "events.csv"
    write_csv(data, "user_id,rating\n1,4.0\n2,3.0\n")
    read = duck.read.csv(str(data), header=True, inferSchema=True)
    lazy = read.withColumn("double", F.col("rating") * 2).filter(F.col("user_id") > 0)
    cached = lazy.persist()
    assert CACHE_PREFIX in cached.sql(optimize=False) and "read_csv" not in cached.sql(optimize=False)
    assert cached.persist() is cached and lazy.cache() is not lazy  # persisting twice is a no-op
    write_csv(data, "user_id,rating\n1,4.0\n2,3.0\n3,5.0\n")  # the rows were computed when persisted
    derived = cached.filter(F.col("rating") > 3.5).select("user_id")
    assert rows(derived, "user_id") == [(1,)] and cached.count() == 2
    cached.unpersist()  # the table goes; a frame built on it still evaluates (recomputing, as on Spark)
    tables = {r[0] for r in duck._conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not any(name in cached.sql(optimize=False) for name in tables)
    assert rows(derived, "user_id") == [(1,), (3,)]
    assert cached.unpersist() is cached and read.unpersist() is read  # nothing more to release


def test_quality_checks_on_a_joined_frame(duck: Any) -> None:
    from sparkjobs.quality import run_checks

    ratings = duck.createDataFrame([(1, 2.0), (2, 3.0), (3, 6.0)], "k int, rating double")
    fresh = ratings.join(duck.createDataFrame([(1,)], "k int"), "k", "left_anti")
    checks = [
        {"check": "in_range", "column": "rating", "min": 0.5, "max": 5.0},
        {"check": "unique", "columns": ["k"]},
        {"check": "not_null", "columns": ["k", "rating"]},
    ]
    report = run_checks(fresh, checks, dataset="fresh")
    by_check = {r.check: r for r in report.results}
    assert report.rows == 2
    assert by_check["in_range"].observed == 1 and by_check["in_range"].details == {"min": 3.0, "max": 6.0}
    assert by_check["unique"].status == "pass" and by_check["not_null"].status == "pass"


# -- reads with quarantine ----------------------------------------------------------------------------
def test_csv_read_quarantines_each_kind_of_bad_line(duck: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_csv(
        raw / "event_date=2016-10-15" / "part-0.csv",
        "user_id,item_id,rating,timestamp\n1,2,4.0,100\nx,3,1.5,101\n1,2,9.0,5\n4,5,,6\n",
    )
    write_csv(
        raw / "event_date=2016-10-16" / "part-0.csv",
        "user_id,item_id,rating,timestamp\n2,3,4.0\n3,4,1.5,1.5\n",
    )
    write_csv(raw / "event_date=2016-10-16" / "_SUCCESS", "")
    result = io.raw_reader(duck, SCHEMA).read(
        [str(raw / "event_date=2016-10-15"), str(raw / "event_date=2016-10-16")], base_path=str(raw)
    )
    counts = result.counts()
    assert (counts.total, counts.valid, counts.rejected) == (6, 1, 5)
    assert counts.by_reason == {
        "bad_user_id": 1,
        "out_of_range_rating": 1,
        "missing_rating": 1,
        "malformed_record": 1,
        "bad_timestamp": 1,
    }
    valid = result.valid.collect()[0].asDict()
    source = "file:" + os.path.abspath(raw / "event_date=2016-10-15" / "part-0.csv")  # as Spark's
    assert valid == {
        "user_id": 1,
        "item_id": 2,
        "rating": 4.0,
        "timestamp": 100,
        "event_date": "2016-10-15",
        "source_file": source,
    }
    malformed = result.rejected.filter(F.col("reason") == F.lit("malformed_record")).collect()[0]
    assert malformed["raw_record"] == "2,3,4.0" and malformed["event_date"] == "2016-10-16"
    assert (malformed["user_id"], malformed["item_id"], malformed["rating"]) == ("2", "3", "4.0")
    bad_ts = result.rejected.filter(F.col("reason") == F.lit("bad_timestamp")).collect()[0]
    assert bad_ts["reason_detail"] == "timestamp '1.5' is not a long"


def test_json_lines_read_quarantines_non_objects(duck: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('{"user_id": 1, "item_id": 2, "rating": 4.5, "timestamp": 10}\n[1, 2]\nnot json\n\n')
    result = io.raw_reader(duck, SCHEMA, format="json").read(str(path))
    counts = result.counts()
    assert (counts.valid, counts.by_reason) == (1, {"malformed_record": 2})
    assert rows(result.valid.select("user_id", "rating"), "user_id") == [(1, 4.5)]
    assert sorted(r["raw_record"] for r in result.rejected.collect()) == ["[1, 2]", "not json"]


def read_tables(duck: Any) -> list[str]:
    from sparkjobs.io.duckdb_tables import connection

    return [
        r[0]
        for r in connection(duck)
        .execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name LIKE '__sparkjobs_read_%' AND table_type <> 'VIEW'"
        )
        .fetchall()
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_unpersist_frees_the_read_and_the_frames_still_evaluate(duck: Any, tmp_path: Path, fmt: str) -> None:
    # a pipeline or backfill runs many reads in one session: each read's text rows must not stay
    # in memory once the job let go of them (they did: one table per read, 5M events ~ 1 GB)
    raw = tmp_path / "raw" / "event_date=2016-10-16"
    if fmt == "csv":
        write_csv(raw / "part-0.csv", "user_id,item_id,rating,timestamp\n1,2,4.0,100\n3,4,9.0,5\n2,3,4.0\n")
    else:
        write_csv(
            raw / "part-0.json", '{"user_id": 1, "item_id": 2, "rating": 4.0, "timestamp": 100}\nnope\n'
        )
    before = set(read_tables(duck))
    result = io.raw_reader(duck, SCHEMA, format=fmt).read(str(raw.parent), base_path=str(raw.parent))
    result.persist()
    expected = result.counts()
    assert set(read_tables(duck)) - before  # the read is held while the job works on it
    result.unpersist()
    assert set(read_tables(duck)) == before
    # as on Spark, a frame over an unpersisted read is still usable: the files are read again
    assert result.counts() == expected
    assert rows(result.valid.select("user_id", "event_date"), "user_id") == [(1, "2016-10-16")]


def test_missing_input_is_a_data_error(duck: Any, tmp_path: Path) -> None:
    from sparkjobs.errors import DataError

    with pytest.raises(DataError, match="no such file"):
        io.raw_reader(duck, SCHEMA).read(str(tmp_path / "nope"))


# -- writes -------------------------------------------------------------------------------------------
def frame(duck: Any, data: list[tuple[Any, ...]]) -> Any:
    df = duck.createDataFrame(
        data, "user_id int, item_id int, rating double, timestamp bigint, event_date string"
    )
    return df.select(
        "user_id",
        "item_id",
        "rating",
        "timestamp",
        F.col("event_date").cast("date").alias("event_date"),
        F.date_format(F.col("event_date").cast("date"), "yyyy-MM").alias("part"),
    )


def stored(duck: Any, path: Path) -> list[tuple[Any, ...]]:
    return rows(io.previous_reader(duck, str(path), DDL).read(), "user_id", "item_id")


def test_overwrite_replaces_only_the_touched_partitions(duck: Any, tmp_path: Path) -> None:
    table = tmp_path / "bronze"
    writer = io.parquet_writer(duck, str(table), ["part"], sort_within=["event_date", "user_id"])
    assert isinstance(writer, DuckDBParquetWriter)
    writer.overwrite_partitions(frame(duck, [(1, 1, 4.0, 1, "2016-09-30"), (2, 2, 3.0, 2, "2016-10-01")]))
    result = writer.overwrite_partitions(frame(duck, [(3, 3, 5.0, 3, "2016-10-02")]))
    assert result.written == [{"part": "2016-10"}] and result.deleted == []
    assert [r[0] for r in stored(duck, table)] == [1, 3]  # September kept, October replaced (2 is gone)
    assert sorted(os.listdir(table)) == ["part=2016-09", "part=2016-10"]  # no _swap left behind


def test_named_partition_without_rows_is_deleted_or_written_empty(duck: Any, tmp_path: Path) -> None:
    table = tmp_path / "t"
    writer = io.parquet_writer(duck, str(table), ["part"])
    writer.overwrite_partitions(frame(duck, [(1, 1, 4.0, 1, "2016-09-30"), (2, 2, 3.0, 2, "2016-10-01")]))
    empty = frame(duck, [(9, 9, 1.0, 9, "2016-11-01")]).filter(F.lit(False))
    result = writer.overwrite_partitions(empty, replace=[{"part": "2016-09"}])
    assert result.deleted == [{"part": "2016-09"}]
    assert [r[0] for r in stored(duck, table)] == [2]
    result = writer.overwrite_partitions(empty, replace=[{"part": "2016-10"}], on_empty="write_empty")
    assert result.emptied == [{"part": "2016-10"}]
    assert stored(duck, table) == [] and os.listdir(table / "part=2016-10") == ["part-0.parquet"]


def test_replace_where_keeps_other_days_of_the_partition(duck: Any, tmp_path: Path) -> None:
    table = tmp_path / "t"
    writer = io.parquet_writer(duck, str(table), ["part"])
    writer.overwrite_partitions(frame(duck, [(1, 1, 4.0, 1, "2016-10-01"), (2, 2, 3.0, 2, "2016-10-02")]))
    day = F.col("event_date") == F.lit("2016-10-02").cast("date")
    writer.replace_where(
        frame(duck, [(5, 5, 2.0, 5, "2016-10-02")]), remove=day, partitions=[{"part": "2016-10"}]
    )
    assert [r[0] for r in stored(duck, table)] == [1, 5]
    from sparkjobs.errors import DataError

    with pytest.raises(DataError, match="outside the replaced partitions"):
        writer.replace_where(
            frame(duck, [(6, 6, 2.0, 6, "2016-10-01")]), remove=day, partitions=[{"part": "2016-10"}]
        )


@pytest.mark.parametrize("kill_at", ["staged", "journal", "moved-out:part=2016-10", "moved-in:part=2016-10"])
def test_a_write_killed_at_any_step_leaves_old_or_new_never_missing(
    duck: Any, tmp_path: Path, kill_at: str
) -> None:
    table = tmp_path / "t"
    io.parquet_writer(duck, str(table), ["part"]).overwrite_partitions(
        frame(duck, [(1, 1, 4.0, 1, "2016-10-01")])
    )

    class Killed(Exception):
        pass

    def hook(step: str) -> None:
        if step == kill_at:
            raise Killed(step)

    writer = io.parquet_writer(duck, str(table), ["part"], on_step=hook)
    with pytest.raises(Killed):
        writer.overwrite_partitions(frame(duck, [(7, 7, 4.0, 7, "2016-10-03")]))
    assert (table / SWAP_DIR).exists()
    # the next reader finishes (journal written) or undoes (not yet) the swap
    after = [r[0] for r in stored(duck, table)]
    assert after == ([1] if kill_at == "staged" else [7])
    assert not (table / SWAP_DIR).exists()


def test_previous_output_new_rows_and_first_run(duck: Any, tmp_path: Path) -> None:
    table = tmp_path / "t"
    previous = io.previous_reader(duck, str(table), DDL)
    assert previous.read().columns == ["user_id", "item_id", "rating", "timestamp", "event_date", "part"]
    batch = frame(duck, [(1, 1, 4.0, 1, "2016-10-01"), (2, 2, 3.0, 2, "2016-10-02")])
    assert previous.new_rows(batch, ["user_id", "item_id"]).count() == 2
    io.parquet_writer(duck, str(table), ["part"]).overwrite_partitions(batch.filter(F.col("user_id") == 1))
    fresh = previous.new_rows(batch, ["user_id", "item_id"])
    assert [r["user_id"] for r in fresh.collect()] == [2]
