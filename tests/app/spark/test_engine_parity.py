"""The differential test of the two engines: the reference pipeline on the same input, once on Spark
and once on DuckDB (SQLFrame), must write identical bronze, quarantine, silver, gold and serving
tables — row for row, values compared exactly.

SQLFrame on DuckDB differs from Spark silently in places (MACHINE-NOTES); this test is what
catches a difference, and each one found became a case here or in tests/framework/unit/test_duckdb_io.py.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
import yaml

from recommendations.sample_data import write_sample
from recommendations.synthetic import SyntheticSpec
from sparkjobs.engines.session import SessionProvider
from sparkjobs.engines.settings import DuckDBSettings
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.spark.settings import SparkSettings

#: two whole pipeline runs in the module fixture (about 1 minute each on an idle 2-core machine)
pytestmark = pytest.mark.timeout(2400)

DAY = date(2016, 10, 16)
TABLES = {
    "bronze": "bronze/events",
    "quarantine": "quarantine/events",
    "catalog_quarantine": "quarantine/catalog",
    "silver": "silver/interactions",
    "gold.items": "gold/items",
    "gold.recommendations": "gold/recommendations",
    "gold.similar_items": "gold/similar_items",
    "gold.popular_items": "gold/popular_items",
    # the same build with model: item_knn (EASE^R scores on the driver; item-kNN in the engine)
    "item_knn.silver": "item_knn/silver/interactions",
    "item_knn.recommendations": "item_knn/gold/recommendations",
    "item_knn.similar_items": "item_knn/gold/similar_items",
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded synthetic stream (heavy users, popular items) with re-sent and malformed lines."""
    out = tmp_path_factory.mktemp("parity") / "raw"
    spec = SyntheticSpec(events=3000, users=100, items=250, days=10, end_date=DAY, seed=7)
    write_sample(out, source="synthetic", spec=spec, resend_fraction=0.02, malformed=12, seed=7)
    return out


def build_params(raw: Path, lake: Path) -> list[str]:
    return [
        f"catalog_path={raw}/catalog/movies.csv",
        f"silver_path={lake}/silver",
        f"gold_path={lake}/gold",
        f"catalog_quarantine_path={lake}/quarantine/catalog",
        "window_days=10",
        "params.min_cooccurrence=1",
    ]


def run_pipeline(raw: Path, lake: Path, engine: str, provider: SessionProvider) -> dict[str, Any]:
    """ingest, build (model: ease), build with model: item_knn (its own silver and gold)."""
    common = [f"bronze_path={lake}/bronze/events"]
    steps = {
        "ingest_events": (
            "ingest_events",
            ["mode=initial_load", f"raw_path={raw}/events", f"quarantine_path={lake}/quarantine/events"],
        ),
        # EASE^R (scored on the driver); ALS, conf/base's served model, trains with Spark MLlib only
        "build_recommendations": ("build_recommendations", [*build_params(raw, lake), "model=ease"]),
        "build_recommendations.item_knn": (
            "build_recommendations",
            [*build_params(raw, lake / "item_knn"), "model=item_knn"],
        ),
    }
    (lake / "no-conf" / "base").mkdir(parents=True, exist_ok=True)
    evaluation = {  # the models that run on both engines (ALS: Spark MLlib), small grids
        "jobs": {
            "evaluate_recommendations": {
                "catalog_path": f"{raw}/catalog/movies.csv",
                "output_path": f"{lake}/reports",
                "models": ["popularity", "item_knn", "ease"],
                "params": {"min_cooccurrence": 1},
                "ease": {"l2": 10.0, "min_item_likes": 1},
                "cutoffs": [5, 10],
                "curve_max_k": 10,
                "tuning": {"item_knn": {"shrinkage": [0.0, 5.0]}, "ease": {"l2": [10.0, 50.0]}},
            }
        }
    }
    (lake / "no-conf" / "base" / "evaluate.yml").write_text(yaml.safe_dump(evaluation))
    steps["evaluate_recommendations"] = ("evaluate_recommendations", [])
    results = {}
    for step, (job, params) in steps.items():
        request = RunRequest(
            job=job,
            conf_dir=lake / "no-conf",
            event_date=DAY,
            params=[*common, *params],
            engine=engine,
            session=provider,
        )
        results[step] = execute(prepare(request))
    results["load_recommendations"] = execute(
        prepare(
            RunRequest(
                job="load_recommendations",
                conf_dir=lake / "no-conf",
                event_date=DAY,
                params=[f"gold_path={lake}/gold", f"store.url=sqlite:///{lake}/serving.db"],
                has_spark=False,
            )
        )
    )
    return results


def _plain(value: Any) -> Any:
    """Values as text (timestamps in UTC); the Parquet types are compared by :func:`file_schemas`."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return None if value is None else str(value)


def file_schemas(path: Path) -> dict[str, set[str]]:
    """Column → the Arrow types its Parquet files store it as (partition columns are directories)."""
    import pyarrow.parquet as pq

    types: dict[str, set[str]] = {}
    for part in sorted(path.rglob("*.parquet")):
        if any(p.startswith(("_", ".")) for p in part.relative_to(path).parts):
            continue
        for field in pq.read_schema(part):
            types.setdefault(field.name, set()).add(str(field.type))
    return types


def table_rows(path: Path) -> list[tuple[Any, ...]]:
    """Every row of a partitioned Parquet table (partition values as text), sorted; [] when absent."""
    if not path.exists():
        return []
    dataset = ds.dataset(str(path), format="parquet", partitioning="hive", ignore_prefixes=["_", "."])
    table = dataset.to_table()
    columns = sorted(table.column_names)
    return sorted((tuple(_plain(row[c]) for c in columns) for row in table.to_pylist()), key=repr)


def serving_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        names = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


@pytest.fixture(scope="module")
def lakes(
    raw: Path, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for engine in ("spark", "duckdb"):
        lake = tmp_path_factory.mktemp(f"lake-{engine}")
        provider = SessionProvider(SparkSettings(shuffle_partitions=2), duckdb=DuckDBSettings(threads=2))
        try:
            out[engine] = (lake, run_pipeline(raw, lake, engine, provider))
        finally:
            provider.close()  # stops only the DuckDB session: the Spark one is the suite's
    return out


def test_both_engines_report_the_same_run(lakes: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    spark_results, duck_results = lakes["spark"][1], lakes["duckdb"][1]

    def facts(result: dict[str, Any]) -> dict[str, Any]:  # paths differ by lake
        return {k: v for k, v in result.items() if not k.endswith("_path")}

    for step in ("ingest_events", "build_recommendations", "build_recommendations.item_knn"):
        assert facts(duck_results[step]) == facts(spark_results[step]), step
    assert spark_results["ingest_events"]["rows_quarantined"] == 12
    # the offline evaluation: the same tuning trials, chosen parameters, metrics and verdict
    spark_eval, duck_eval = (
        spark_results["evaluate_recommendations"],
        duck_results["evaluate_recommendations"],
    )
    assert list(spark_eval["models"]) == ["popularity", "item_knn", "ease"]
    for name, model in spark_eval["models"].items():
        other = duck_eval["models"][name]
        assert other["metrics"] == model["metrics"], name
        assert other["params"] == model["params"] and other["hit_rate_curve"] == model["hit_rate_curve"], name
        assert [t["params"] for t in other.get("tuning", [])] == [
            t["params"] for t in model.get("tuning", [])
        ]
    assert duck_eval["default_model"] == spark_eval["default_model"]
    assert spark_eval["models"]["item_knn"]["metrics"]["10"]["hit_rate"] > 0
    default, knn = spark_results["build_recommendations"], spark_results["build_recommendations.item_knn"]
    assert knn["model"] == "item_knn" and default["model"] != "item_knn"
    assert default["users_with_model"] > 0 and knn["users_with_model"] > 0


@pytest.mark.parametrize("table", list(TABLES))
def test_both_engines_write_identical_tables(
    lakes: dict[str, tuple[Path, dict[str, Any]]], table: str
) -> None:
    spark_rows = table_rows(lakes["spark"][0] / TABLES[table])
    duck_rows = table_rows(lakes["duckdb"][0] / TABLES[table])
    if table != "catalog_quarantine":  # the synthetic catalog has no bad line
        assert spark_rows, f"{table} is empty: the comparison would prove nothing"
    assert len(duck_rows) == len(spark_rows)
    different = [(s, d) for s, d in zip(spark_rows, duck_rows, strict=True) if s != d]
    assert not different, f"{table}: {len(different)} rows differ, first (spark, duckdb): {different[0]}"


@pytest.mark.parametrize("table", list(TABLES))
def test_both_engines_write_the_same_parquet_types(
    lakes: dict[str, tuple[Path, dict[str, Any]]], table: str
) -> None:
    """Other readers (pyarrow, DuckDB, Trino) see the files, not Spark's schema: a timestamp written as
    INT96 by one engine and as UTC-adjusted INT64 by the other is a different column to them."""
    spark_types = file_schemas(lakes["spark"][0] / TABLES[table])
    duck_types = file_schemas(lakes["duckdb"][0] / TABLES[table])
    if table != "catalog_quarantine":
        assert spark_types, f"{table} has no Parquet file: the comparison would prove nothing"
    assert duck_types == spark_types, table
    assert all(len(kinds) == 1 for kinds in spark_types.values()), spark_types


def test_both_engines_serve_identical_tables(lakes: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    spark_serving = serving_rows(lakes["spark"][0] / "serving.db")
    duck_serving = serving_rows(lakes["duckdb"][0] / "serving.db")
    assert any(spark_serving.values())
    assert duck_serving.keys() == spark_serving.keys()
    for name, rows in spark_serving.items():
        if name.startswith("_") or "meta" in name or "load" in name:
            continue  # load bookkeeping carries run ids and times
        assert duck_serving[name] == rows, name
