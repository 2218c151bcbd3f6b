"""Step order inferred from datasets (what a step writes, what another reads), with depends_on,
conflicts, cycles, job declarations filled in by the workspace, and the graph with datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.errors import ConfigError
from sparkjobs.pipeline.model import PipelineSpec
from sparkjobs.pipeline.workspace import Invocation, Workspace


def spec(steps: dict[str, Any]) -> PipelineSpec:
    return PipelineSpec.model_validate({"name": "p", "steps": steps})


def test_readers_run_after_writers_whatever_the_declaration_order() -> None:
    p = spec(
        {
            "report": {"inputs": ["revenue"]},
            "revenue": {"inputs": ["clean"], "outputs": ["revenue"]},
            "clean": {"inputs": ["raw"], "outputs": ["clean"]},
        }
    )
    assert p.order() == ["clean", "revenue", "report"]
    assert p.dependencies == {"report": ["revenue"], "revenue": ["clean"], "clean": []}
    assert p.explicit_dependencies == {"report": [], "revenue": [], "clean": []}


def test_explicit_depends_on_is_kept_and_comes_first() -> None:
    p = spec(
        {
            "b": {"inputs": ["x"], "depends_on": ["c"]},
            "a": {"outputs": ["x"]},
            "c": {},
        }
    )
    assert p.dependencies["b"] == ["c", "a"]
    assert p.order() == ["a", "c", "b"]


def test_a_step_reading_its_own_output_and_external_inputs_add_no_edge() -> None:
    p = spec({"ingest": {"inputs": ["raw", "bronze"], "outputs": ["bronze"]}, "other": {"inputs": ["raw"]}})
    assert p.dependencies == {"ingest": [], "other": []}


def test_two_writers_of_one_dataset_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        spec({"a": {"outputs": ["gold"]}, "b": {"outputs": ["gold"]}})
    assert "steps 'a' and 'b' both write dataset 'gold'" in str(info.value)
    assert info.value.key == "pipelines.p.steps.b.outputs"


def test_a_cycle_through_datasets_names_the_datasets() -> None:
    with pytest.raises(ConfigError) as info:
        spec(
            {
                "a": {"inputs": ["y"], "outputs": ["x"]},
                "b": {"inputs": ["x"], "outputs": ["y"]},
            }
        )
    assert "the steps form a cycle: a -> b -> a (a reads y written by b; b reads x written by a)" in str(
        info.value
    )
    assert info.value.key == "pipelines.p.steps"


def test_a_cycle_mixing_depends_on_and_datasets() -> None:
    with pytest.raises(ConfigError, match=r"cycle: a -> b -> a \(a depends_on b; b reads x written by a\)"):
        spec({"a": {"outputs": ["x"], "depends_on": ["b"]}, "b": {"inputs": ["x"]}})


def test_mermaid_draws_datasets_between_steps_and_only_unexplained_step_edges() -> None:
    p = spec(
        {
            "clean": {"inputs": ["raw"], "outputs": ["orders"]},
            "revenue": {"inputs": ["orders"], "outputs": ["revenue"]},
            "notify": {"depends_on": ["revenue"]},
        }
    )
    assert p.mermaid() == (
        "flowchart LR\n"
        '    clean["clean"]\n'
        '    revenue["revenue"]\n'
        '    notify["notify"]\n'
        '    ds_raw[("raw")]\n'
        '    ds_orders[("orders")]\n'
        '    ds_revenue[("revenue")]\n'
        "    clean --> ds_orders\n"
        "    revenue --> ds_revenue\n"
        "    ds_raw --> clean\n"
        "    ds_orders --> revenue\n"
        "    classDef dataset fill:#e8f0fe,stroke:#1a73e8\n"
        "    class ds_raw,ds_orders,ds_revenue dataset\n"
        "    revenue --> notify\n"
    )
    assert p.mermaid(datasets=False) == (
        "flowchart LR\n"
        '    clean["clean"]\n'
        '    revenue["revenue"]\n'
        '    notify["notify"]\n'
        "    clean --> revenue\n"
        "    revenue --> notify\n"
    )


# -- the workspace fills steps from their jobs' declarations ----------------------------------------
JOB = '''
"""{doc}"""
from typing import Any
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class J(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        return None
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory):
    inputs = {inputs!r}
    outputs = {outputs!r}
    def create_job(self, **kwargs: Any) -> J:
        return J()

main = make_main(F)
'''


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SPARKJOBS_ENV", raising=False)
    job_dir("shop.clean_orders", JOB.format(doc="clean", inputs=["raw_orders"], outputs=["clean_orders"]))
    job_dir(
        "shop.daily_revenue", JOB.format(doc="revenue", inputs={"src": "clean_orders"}, outputs=["revenue"])
    )
    doc = {
        "state": {"url": f"sqlite:///{tmp_path}/state/ledger.db"},
        "catalog": {
            "raw_orders": {"path": "raw/{event_date}", "format": "csv"},
            "clean_orders": {"path": "lake/orders"},
            "revenue": {"path": "lake/revenue"},
        },
        "pipelines": {
            "orders_daily": {
                "steps": {
                    "daily_revenue": {"job": "shop.daily_revenue"},
                    "clean_orders": {"job": "shop.clean_orders"},
                    "ghost": {"job": "shop.not_written_yet"},
                }
            }
        },
    }
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "base" / "conf.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def test_workspace_orders_steps_by_the_jobs_declarations(conf: Path) -> None:
    ws = Workspace.load(Invocation(conf_dir=conf, environ={}))
    p = ws.pipeline("orders_daily")
    assert p.order() == ["clean_orders", "daily_revenue", "ghost"]
    assert p.steps["daily_revenue"].inputs == ["clean_orders"]
    assert p.steps["ghost"].inputs == []  # a job that cannot be found declares nothing here


def test_a_step_list_overrides_the_job_declaration_and_unknown_names_are_refused(conf: Path) -> None:
    path = conf / "base" / "conf.yml"
    doc = yaml.safe_load(path.read_text())
    doc["pipelines"]["orders_daily"]["steps"]["ghost"]["inputs"] = ["revenu"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ws = Workspace.load(Invocation(conf_dir=conf, environ={}))
    with pytest.raises(ConfigError) as info:
        ws.pipeline("orders_daily")
    assert (
        "step 'ghost' of pipeline 'orders_daily' reads dataset 'revenu', which the catalog does not define"
        in (str(info.value))
    )
    assert "did you mean 'revenue'" in str(info.value)
    assert info.value.key == "pipelines.orders_daily.steps.ghost.inputs"
    listing = dict(ws.pipelines())
    assert isinstance(listing["orders_daily"], ConfigError)


def test_cli_graph_draws_the_datasets(conf: Path) -> None:
    result = CliRunner().invoke(cli, ["pipeline", "graph", "orders_daily", "--conf-dir", str(conf)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert '    ds_clean_orders[("clean_orders")]' in lines
    assert "    clean_orders --> ds_clean_orders" in lines
    assert "    ds_clean_orders --> daily_revenue" in lines
    assert "    clean_orders --> daily_revenue" not in lines
    plain = CliRunner().invoke(
        cli, ["pipeline", "graph", "orders_daily", "--conf-dir", str(conf), "--no-datasets"]
    )
    assert "    clean_orders --> daily_revenue" in plain.stdout.splitlines()
    assert "ds_" not in plain.stdout


def test_pipeline_dry_run_renders_each_step_for_its_date(conf: Path) -> None:
    path = conf / "base" / "conf.yml"
    doc = yaml.safe_load(path.read_text())
    del doc["pipelines"]["orders_daily"]["steps"]["ghost"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    args = ["pipeline", "run", "orders_daily", "--conf-dir", str(conf), "--date", "2024-03-01", "--dry-run"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["order"] == ["clean_orders", "daily_revenue"]
    clean, revenue = plan["plans"]["2024-03-01"]
    assert (clean["step"], clean["runs_after"], revenue["runs_after"]) == (
        "clean_orders",
        [],
        ["clean_orders"],
    )
    assert clean["datasets"]["raw_orders"] == {"use": "input", "path": "raw/2024-03-01", "format": "csv"}
    assert revenue["params"] == {"src": "lake/orders"}
