"""Two jobs that load and save only through the catalog, run by the real executor on the shared session:
a raw CSV path rendered per logical date, quarantine counts, partitioned saves that replace one date."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.catalog import DataCatalog, DatasetSpec, DatasetUse
from sparkjobs.errors import DataError
from sparkjobs.executor import RunRequest, execute, prepare

CLEAN_ORDERS = '''
"""Raw order CSV of the logical date → clean_orders (rows the schema rejects are counted)."""
from typing import Any
from pyspark.sql import functions as F
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class CleanOrders(AbstractJob):
    def __init__(self, catalog, day):
        self.catalog, self.day = catalog, day
    def execute_job(self, **kwargs: Any) -> Any:
        read = self.catalog.read("raw_orders")
        valid = read.valid.withColumn("event_date", F.lit(self.day))
        written = self.catalog.save(valid, "clean_orders", replace=[{"event_date": self.day}])
        return {"rejected": read.counts().by_reason, "written": written.to_dict()}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class Factory(AbstractJobFactory):
    inputs = ["raw_orders"]
    outputs = ["clean_orders"]
    def create_job(self, **kwargs: Any) -> CleanOrders:
        return CleanOrders(self.catalog, self.context.event_date.isoformat())

main = make_main(Factory)
'''

DAILY_REVENUE = '''
"""clean_orders of the logical date → revenue per country."""
from typing import Any
from pyspark.sql import functions as F
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class DailyRevenue(AbstractJob):
    def __init__(self, catalog, day):
        self.catalog, self.day = catalog, day
    def execute_job(self, **kwargs: Any) -> Any:
        orders = self.catalog.load("clean_orders")
        revenue = (
            orders.filter(F.col("event_date").cast("string") == self.day)
            .groupBy("country").agg(F.sum("amount").alias("revenue"))
            .withColumn("event_date", F.lit(self.day))
        )
        return self.catalog.save(revenue, "daily_revenue", replace=[{"event_date": self.day}]).to_dict()
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class Factory(AbstractJobFactory):
    inputs = ["clean_orders"]
    outputs = ["daily_revenue"]
    def create_job(self, **kwargs: Any) -> DailyRevenue:
        return DailyRevenue(self.catalog, self.context.event_date.isoformat())

main = make_main(Factory)
'''

SCHEMA = "{order_id: long, country: string, amount: {type: double, min: 0}}"


@pytest.fixture
def project(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("shop.clean_orders", CLEAN_ORDERS)
    job_dir("shop.daily_revenue", DAILY_REVENUE)
    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True)
    (conf / "catalog.yml").write_text(
        "catalog:\n"
        f"  raw_orders:\n    path: '{tmp_path}/raw/orders/event_date={{event_date}}'\n"
        f"    format: csv\n    schema: {SCHEMA}\n"
        f"  clean_orders:\n    path: '{tmp_path}/lake/orders'\n    partition_by: [event_date]\n"
        "    sort_within: [order_id]\n"
        f"  daily_revenue: {{path: '{tmp_path}/lake/revenue', partition_by: [event_date]}}\n"
    )
    (conf / "settings.yml").write_text(f"observability:\n  runs_dir: '{tmp_path}/runs'\n")
    return tmp_path


def raw(root: Path, day: str, text: str) -> None:
    folder = root / "raw" / "orders" / f"event_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text("order_id,country,amount\n" + text)


def run(root: Path, job: str, day: str) -> Any:
    return execute(prepare(RunRequest(job=f"shop.{job}", conf_dir=root / "conf", event_date=day), {}))


def table(spark: Any, path: Path, *columns: str) -> list[tuple[Any, ...]]:
    df = spark.read.parquet(str(path))
    return sorted(tuple(str(r[c]) for c in columns) for r in df.collect())


def test_two_jobs_through_the_catalog(spark: Any, project: Path) -> None:
    raw(project, "2024-03-01", "1,DE,10.5\n2,FR,4\n3,DE,-1\n")
    raw(project, "2024-03-02", "4,FR,3\n5,FR,2\n")

    first = run(project, "clean_orders", "2024-03-01")
    assert first["rejected"] == {"out_of_range_amount": 1}
    assert first["written"]["partitions_written"] == 1
    run(project, "clean_orders", "2024-03-02")
    run(project, "daily_revenue", "2024-03-01")
    run(project, "daily_revenue", "2024-03-02")
    assert table(spark, project / "lake" / "orders", "event_date", "order_id") == [
        ("2024-03-01", "1"),
        ("2024-03-01", "2"),
        ("2024-03-02", "4"),
        ("2024-03-02", "5"),
    ]
    assert table(spark, project / "lake" / "revenue", "event_date", "country", "revenue") == [
        ("2024-03-01", "DE", "10.5"),
        ("2024-03-01", "FR", "4.0"),
        ("2024-03-02", "FR", "5.0"),
    ]

    # a rerun of one date replaces that date's partition and leaves the other alone
    raw(project, "2024-03-01", "1,DE,7\n")
    run(project, "clean_orders", "2024-03-01")
    run(project, "daily_revenue", "2024-03-01")
    assert table(spark, project / "lake" / "revenue", "event_date", "country", "revenue") == [
        ("2024-03-01", "DE", "7.0"),
        ("2024-03-02", "FR", "5.0"),
    ]


def test_load_refuses_rows_the_schema_rejects_and_reads_plain_csv(spark: Any, tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "a.csv").write_text("order_id,country,amount\n1,DE,2\nx,FR,3\n")
    typed = DatasetSpec.model_validate(
        {
            "path": str(folder),
            "format": "csv",
            "schema": {"order_id": "long", "country": "string", "amount": "long"},
        }
    )
    plain = DatasetSpec.model_validate({"path": str(folder), "format": "csv", "options": {"header": True}})
    catalog = DataCatalog(
        {"typed": typed, "plain": plain}, use=DatasetUse(("typed", "plain")), job="j", spark=lambda: spark
    )
    with pytest.raises(DataError) as info:
        catalog.load("typed")
    assert "1 of 2 rows rejected by its schema, by reason {'bad_order_id': 1}" in str(info.value)
    assert "use catalog.read('typed')" in str(info.value)
    assert sorted(tuple(r) for r in catalog.load("plain").collect()) == [("1", "DE", "2"), ("x", "FR", "3")]
