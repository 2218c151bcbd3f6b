"""The data catalog: entries validated with errors naming file and key, declarations, access rules,
parameters bound to dataset paths, placeholders in paths — no JVM."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.catalog import DataCatalog, DatasetSpec, DatasetUse, declared_datasets, load_catalog
from sparkjobs.config.layers import load_layers
from sparkjobs.config.templates import template_vars
from sparkjobs.config_show import show_config
from sparkjobs.errors import ConfigError, JobContractError
from sparkjobs.executor import RunRequest, prepare
from sparkjobs.io import FieldSpec, RecordSchema

CATALOG = """\
catalog:
  raw_orders:
    path: data/raw/orders/event_date={event_date}
    format: csv
    options: {header: true, sep: ";"}
    schema:
      order_id: long
      country: string
      amount: {type: double, min: 0}
  clean_orders:
    path: data/lake/orders
    partition_by: [event_date]
    description: one row per valid order
"""

BOUND_JOB = '''
"""Clean orders: reads raw_orders, writes clean_orders (both paths are parameters)."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Cfg(BaseModel):
    source: str
    target: str = "default/target"

class J(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        return kwargs
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Cfg]):
    config_model = Cfg
    inputs = {"source": "raw_orders"}
    outputs = {"target": "clean_orders"}
    def create_job(self, **kwargs: Any) -> J:
        return J()

main = make_main(F)
'''


def layers(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Any:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True, exist_ok=True)
    (conf / "base" / "catalog.yml").write_text(text)
    return load_layers(conf, "dev", environ=environ or {})


# -- entries ---------------------------------------------------------------------------------------
def test_entries_parse_with_schema_shorthand_and_defaults(tmp_path: Path) -> None:
    catalog = load_catalog(layers(tmp_path, CATALOG))
    raw, clean = catalog["raw_orders"], catalog["clean_orders"]
    assert (raw.format, raw.path, raw.spark_options()) == (
        "csv",
        "data/raw/orders/event_date={event_date}",
        {"header": "true", "sep": ";"},
    )
    assert raw.record_schema() == RecordSchema(
        (FieldSpec("order_id", "long"), FieldSpec("country", "string"), FieldSpec("amount", "double", min=0))
    )
    assert (clean.format, clean.partition_by, clean.record_schema()) == ("parquet", ["event_date"], None)


def test_placeholders_in_entries_are_rendered_per_run(tmp_path: Path) -> None:
    values = template_vars(event_date=date(2024, 2, 29), run_id="r", env="dev", job="j")
    catalog = load_catalog(layers(tmp_path, CATALOG), values)
    assert catalog["raw_orders"].path == "data/raw/orders/event_date=2024-02-29"


def test_an_environment_variable_overrides_one_key(tmp_path: Path) -> None:
    environ = {"SPARKJOBS__CATALOG__CLEAN_ORDERS__PATH": "s3a://lake/orders"}
    catalog = load_catalog(layers(tmp_path, CATALOG, environ))
    assert catalog["clean_orders"].path == "s3a://lake/orders"
    assert catalog["clean_orders"].partition_by == ["event_date"]


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ("{path: x, partition: [d]}", "catalog.bad.partition", "did you mean 'partition_by'"),
        ("{path: x, format: parq}", "catalog.bad.format", "Input should be 'parquet', 'csv' or 'json'"),
        ("{format: csv}", "catalog.bad.path", "missing required parameter 'catalog.bad.path'"),
        ("{path: x, schema: {a: int}}", "catalog.bad", "schema applies to csv and json datasets"),
        ("{path: x, format: csv, schema: {a: text}}", "catalog.bad.schema.a.type", "Input should be 'int'"),
        ("{path: x, format: csv, schema: {a: {type: string, min: 1}}}", "catalog.bad", "numeric fields only"),
        ("{path: x, partition_by: [d, d]}", "catalog.bad.partition_by", "columns listed twice"),
        ("{path: '{evnt_date}'}", "catalog.bad.path", "unknown placeholder {evnt_date}"),
    ],
)
def test_bad_entries_name_the_file_and_key(tmp_path: Path, entry: str, key: str, message: str) -> None:
    layered = layers(tmp_path, f"catalog:\n  bad: {entry}\n")
    values = template_vars(event_date=date(2024, 1, 1), run_id="r", env="dev", job="j")
    with pytest.raises(ConfigError) as info:
        load_catalog(layered, values)
    assert message in str(info.value)
    assert info.value.key == key
    assert info.value.file == str(tmp_path / "conf" / "base" / "catalog.yml")


def test_a_dataset_name_must_be_plain(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bad dataset name '9 lives'") as info:
        load_catalog(layers(tmp_path, "catalog:\n  '9 lives': {path: x}\n"))
    assert info.value.key == "catalog.9 lives"


def test_an_entry_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a configuration section must be a mapping") as info:
        layers(tmp_path, "catalog:\n  orders: data/orders\n")
    assert info.value.key == "catalog.orders"


# -- declarations ----------------------------------------------------------------------------------
def test_declarations_take_lists_or_parameter_mappings() -> None:
    assert declared_datasets(["a", "b"], {"out_path": "c"}, owner="F") == DatasetUse(
        ("a", "b"), ("c",), {"out_path": "c"}
    )
    assert declared_datasets(None, (), owner="F") == DatasetUse()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("orders", r"F.inputs must be a list of dataset names .* \(write \['orders'\]\)"),
        (["a", "a"], r"F.inputs lists \['a'\] twice"),
        ([""], r"dataset names must be non-empty text"),
        ({"path": 3}, r"a mapping must be parameter name → dataset name"),
    ],
)
def test_malformed_declarations_name_the_factory(inputs: Any, message: str) -> None:
    with pytest.raises(JobContractError, match=message):
        declared_datasets(inputs, (), owner="F")


# -- access rules (no Spark needed to be refused) ----------------------------------------------------
def test_a_job_uses_only_what_it_declares() -> None:
    datasets = {"a": DatasetSpec(path="lake/a"), "b": DatasetSpec(path="lake/b")}
    catalog = DataCatalog(datasets, use=DatasetUse(("a",), ("b",)), job="j")
    assert (catalog.path("a"), catalog.path("b")) == ("lake/a", "lake/b")
    with pytest.raises(
        JobContractError, match="job 'j' cannot save dataset 'a': it is not in the job's outputs"
    ):
        catalog.save(None, "a")  # type: ignore[arg-type]
    with pytest.raises(JobContractError, match=r"cannot load dataset 'c'.*declared inputs \['a'\]"):
        catalog.load("c")


def test_a_declared_dataset_missing_from_the_catalog_suggests_a_close_name() -> None:
    catalog = DataCatalog({"orders": DatasetSpec(path="x")}, use=DatasetUse(("order",)), job="j")
    with pytest.raises(
        ConfigError, match=r"dataset 'order' is not in the catalog \(did you mean 'orders'\?\)"
    ):
        catalog.path("order")


def test_read_needs_a_raw_dataset_with_a_schema() -> None:
    catalog = DataCatalog({"p": DatasetSpec(path="x")}, use=DatasetUse(("p",)), job="j")
    with pytest.raises(JobContractError, match=r"catalog.read\('p'\) needs a csv or json dataset"):
        catalog.read("p")


# -- through prepare(): bound parameters, config show, --dry-run ------------------------------------
@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("shop.clean_orders", BOUND_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "base" / "catalog.yml").write_text(CATALOG)
    return root


def req(conf: Path, **kw: Any) -> RunRequest:
    return RunRequest(job="shop.clean_orders", conf_dir=conf, has_spark=False, event_date="2024-03-01", **kw)


def test_bound_parameters_default_to_the_rendered_dataset_paths(conf: Path) -> None:
    prepared = prepare(req(conf), {})
    assert prepared.config.source == "data/raw/orders/event_date=2024-03-01"
    assert prepared.config.target == "data/lake/orders"
    assert prepared.context.catalog.path("clean_orders") == "data/lake/orders"
    assert prepared.plan()["datasets"] == {
        "raw_orders": {"use": "input", "path": "data/raw/orders/event_date=2024-03-01", "format": "csv"},
        "clean_orders": {"use": "output", "path": "data/lake/orders", "format": "parquet"},
    }
    rows = {k: (v, s) for k, v, s in show_config(req(conf), {})}
    catalog_file = str(conf / "base" / "catalog.yml")
    assert rows["jobs.clean_orders.target"] == (
        "data/lake/orders",
        f"catalog.clean_orders.path ({catalog_file})",
    )
    assert rows["catalog.raw_orders.path"] == ("data/raw/orders/event_date=2024-03-01", catalog_file)
    assert rows["catalog.raw_orders.schema.amount.min"] == (0.0, catalog_file)


def test_a_value_set_in_config_wins_over_the_catalog(conf: Path) -> None:
    prepared = prepare(req(conf, params=["target=elsewhere/{event_date:%Y}"]), {})
    assert prepared.config.target == "elsewhere/2024"


def test_a_bound_dataset_missing_from_a_non_empty_catalog_is_an_error(conf: Path) -> None:
    (conf / "base" / "catalog.yml").write_text("catalog:\n  raw_orders: {path: r, format: csv}\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf), {})
    assert "takes parameter 'target' from dataset 'clean_orders', which the catalog does not define" in str(
        info.value
    )
    assert info.value.key == "catalog.clean_orders"


def test_without_a_catalog_the_model_default_stands_and_required_values_are_asked_for(conf: Path) -> None:
    (conf / "base" / "catalog.yml").unlink()
    with pytest.raises(ConfigError, match="takes parameter 'source' from dataset 'raw_orders'"):
        prepare(req(conf), {})
    prepared = prepare(req(conf, params=["source=in"]), {})
    assert (prepared.config.source, prepared.config.target) == ("in", "default/target")


def test_describe_lists_the_datasets_with_their_bound_parameters(conf: Path) -> None:
    from sparkjobs.describe import describe_job

    lines = describe_job("shop.clean_orders").splitlines()
    assert "reads:        raw_orders (source)" in lines
    assert "writes:       clean_orders (target)" in lines


def test_an_environment_directory_overrides_one_key_of_an_entry(tmp_path: Path) -> None:
    layered = layers(tmp_path, CATALOG)
    prod = tmp_path / "conf" / "prod"
    prod.mkdir()
    (prod / "catalog.yml").write_text("catalog:\n  clean_orders:\n    path: s3a://prod-lake/orders\n")
    catalog = load_catalog(load_layers(tmp_path / "conf", "prod", environ={}))
    assert (catalog["clean_orders"].path, catalog["clean_orders"].partition_by) == (
        "s3a://prod-lake/orders",
        ["event_date"],
    )
    assert layered.source_of(("catalog", "clean_orders", "path")).endswith("base/catalog.yml")
