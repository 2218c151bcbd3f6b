"""The reference jobs on the DuckDB engine, in-process (no JVM): the hand-checked fixtures of the Spark
tests (tests/app/spark/test_recommendations_jobs.py), with the same expected values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
import yaml

from tests.app.spark.test_recommendations_jobs import (
    AB,
    AC,
    AD,
    BC,
    DAY1,
    DAY2,
    DAY3,
    A,
    B,
    C,
    D,
    Lake,
    deliver_fixture,
    lake_settings,
    r6,
    ts,
)


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    root, conf = tmp_path / "lake", tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    settings = {
        "engine": {"duckdb": {"threads": 2}},
        "observability": {"runs_dir": str(tmp_path / "runs"), "write_textfile": False, "write_report": False},
        "jobs": lake_settings(root),
    }
    (conf / "base" / "test.yml").write_text(yaml.safe_dump(settings))
    yield Lake(root, conf, engine="duckdb")


def read(path: str | Path, *columns: str) -> list[tuple[Any, ...]]:
    table = ds.dataset(
        str(path), format="parquet", partitioning="hive", ignore_prefixes=["_", "."]
    ).to_table()
    return sorted(
        tuple(round(v, 6) if isinstance(v, float) else v for v in (row[c] for c in columns))
        for row in table.to_pylist()
    )


def test_ingest_on_duckdb_quarantines_with_reasons_and_loads_the_good_rows(lake: Lake) -> None:
    lake.deliver(
        DAY1,
        f"1,10,4.0,{ts(DAY1, 1)}",
        f"2,10,3.5,{ts(DAY1, 2)}",
        f"2,11,5.0,{ts(DAY1, 3)}",
        "3,12,4.0,2024-03-01 10:00:00",
        f"user3,12,4.0,{ts(DAY1, 4)}",
        f"3,12,7.5,{ts(DAY1, 5)}",
        f"3,,4.0,{ts(DAY1, 6)}",
        "3,12,4.0",
    )
    result = lake.run("ingest_events", DAY1, max_rejected_ratio=0.9)
    assert (result["rows_read"], result["rows_quarantined"], result["rows_written"]) == (8, 5, 3)
    assert result["quarantine_by_reason"] == {
        "bad_timestamp": 1,
        "bad_user_id": 1,
        "out_of_range_rating": 1,
        "missing_item_id": 1,
        "malformed_record": 1,
    }
    assert read(lake.path("bronze"), "user_id", "item_id", "rating", "timestamp", "event_period") == [
        (1, 10, 4.0, ts(DAY1, 1), "2024-03"),
        (2, 10, 3.5, ts(DAY1, 2), "2024-03"),
        (2, 11, 5.0, ts(DAY1, 3), "2024-03"),
    ]
    assert read(lake.path("quarantine"), "reason", "user_id", "item_id", "rating", "timestamp") == sorted(
        [
            ("bad_timestamp", "3", "12", "4.0", "2024-03-01 10:00:00"),
            ("bad_user_id", "user3", "12", "4.0", str(ts(DAY1, 4))),
            ("out_of_range_rating", "3", "12", "7.5", str(ts(DAY1, 5))),
            ("missing_item_id", "3", None, "4.0", str(ts(DAY1, 6))),
            ("malformed_record", "3", "12", "4.0", None),
        ]
    )
    # a rerun of the date replaces exactly its rows
    assert lake.run("ingest_events", DAY1, max_rejected_ratio=0.9)["rows_written"] == 3
    assert len(read(lake.path("bronze"), "user_id")) == 3


def test_build_on_duckdb_gives_the_hand_checked_snapshot(lake: Lake) -> None:
    deliver_fixture(lake)
    result = lake.run("build_recommendations", DAY3)
    assert result["catalog_items"] == 4 and result["catalog_rejected"] == 1
    assert result["rows"] == {"items": 4, "similar_items": 7, "popular_items": 4, "recommendations": 9}
    gold = Path(lake.path("gold"))
    assert read(gold / "similar_items", "item_id", "similar_item_id", "score", "rank") == sorted(
        [(A, B, r6(AB), 1), (A, D, r6(AD), 2), (B, C, r6(BC), 1), (B, A, r6(AB), 2), (C, B, r6(BC), 1),
         (C, A, r6(AC), 2), (D, A, r6(AD), 1)]
    )  # fmt: skip
    assert read(gold / "popular_items", "item_id", "score", "rank") == [
        (A, 3.0, 1),
        (B, 3.0, 2),
        (C, 2.0, 3),
        (D, 1.0, 4),
    ]
    assert read(gold / "recommendations", "user_id", "item_id", "score", "rank", "source") == sorted(
        [(1, D, r6(AD), 1, "item_knn"), (2, C, r6(BC), 1, "item_knn"), (2, D, r6(AD), 2, "item_knn"),
         (3, A, r6(AB + AC), 1, "item_knn"), (3, D, 1.0, 2, "popular"), (4, B, r6(AB), 1, "item_knn"),
         (4, C, 2.0, 2, "popular"), (5, B, 3.0, 1, "popular"), (5, C, 2.0, 2, "popular")]
    )  # fmt: skip
    assert read(gold / "items", "item_id", "title") == [
        (A, "Alpha"),
        (B, 'Beta, the "sequel"'),
        (C, "(untitled item 3)"),
        (D, "Delta"),
    ]


def test_build_on_duckdb_with_the_driver_scored_model(lake: Lake) -> None:
    # EASE^R scores with numpy on the driver and hands the rows back as a frame of the run's session
    deliver_fixture(lake)
    result = lake.run("build_recommendations", DAY3, model="ease", ease={"l2": 1.0, "min_item_likes": 1})
    assert result["model"] == "ease" and result["users_with_model"] > 0
    recs = read(Path(lake.path("gold")) / "recommendations", "user_id", "item_id", "rank", "source")
    assert {source for *_, source in recs} <= {"ease", "popular"}
    assert "ease" in {source for *_, source in recs}
    assert {u for u, *_ in recs} == {1, 2, 3, 4, 5}


def test_initial_load_on_duckdb_reads_the_root_once_up_to_the_logical_date(lake: Lake) -> None:
    for n, day in enumerate((DAY1, DAY2, DAY3)):
        lake.deliver(day, f"{n + 1},10,4.0,{ts(day, 1)}", f"{n + 1},11,3.0,{ts(day, 2)}")
    result = lake.run("ingest_events", DAY2, mode="initial_load")
    assert (result["deliveries"], result["rows_read"], result["rows_written"]) == (2, 4, 4)
    assert read(lake.path("bronze"), "user_id", "item_id", "event_date") == [
        (1, 10, DAY1), (1, 11, DAY1), (2, 10, DAY2), (2, 11, DAY2)
    ]  # fmt: skip


def test_build_with_als_needs_spark_and_auto_chooses_it(lake: Lake) -> None:
    from sparkjobs.engines import EngineCapabilityError
    from sparkjobs.executor import RunRequest, prepare

    with pytest.raises(EngineCapabilityError) as info:  # before any work: nothing was read
        prepare(
            RunRequest("build_recommendations", conf_dir=lake.conf, params=["model=als"], engine="duckdb")
        )
    message = str(info.value)
    assert "'build_recommendations' requires spark" in message and "'duckdb'" in message
    assert "model: als" in message
    auto = prepare(
        RunRequest("build_recommendations", conf_dir=lake.conf, params=["model=als"], engine="auto")
    )
    assert auto.context.engine == "spark"
    knn = prepare(RunRequest("build_recommendations", conf_dir=lake.conf, engine="auto"))
    assert knn.context.engine == "duckdb"


def test_exact_sum_on_duckdb_gives_sparks_value() -> None:
    # Spark turns a double into a decimal through its shortest decimal text (0.40824829046386313 ->
    # 0.408248290463863130), DuckDB through its exact binary value (-> ...104): the decimal terms,
    # and so the scores, differed in the last bit (found by tests/app/spark/test_engine_parity.py)
    from decimal import ROUND_HALF_UP, Decimal

    from recommendations.model import exact_sum
    from sparkjobs.engines.session import SessionProvider
    from sparkjobs.spark.settings import SparkSettings
    from sparkjobs.sql import engine_scope

    groups = {1: [0.762280082457942, 0.0021060533511106927, 0.4453871940548014]}
    groups[2] = [0.22169166627303505, 0.43788759365057206, 0.49581224138185065]
    groups[3] = [0.40824829046386313, 2**-30, 1 / 3]
    provider = SessionProvider(SparkSettings())
    try:
        duck = provider.get("duckdb")
        with engine_scope("duckdb"):
            df = duck.createDataFrame([(g, v) for g, vs in groups.items() for v in vs], "g int, v double")
            got = {r["g"]: r["s"] for r in df.groupBy("g").agg(exact_sum("v").alias("s")).collect()}
    finally:
        provider.close()
    term = Decimal("1e-18")
    spark = {
        g: float(sum(Decimal(repr(v)).quantize(term, ROUND_HALF_UP) for v in vs)) for g, vs in groups.items()
    }
    assert got == spark
