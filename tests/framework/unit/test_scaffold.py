"""`sparkjobs init`: the files it writes, that they are valid config and Python, and its refusals."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sparkjobs import __version__
from sparkjobs.cli import cli
from sparkjobs.config.workspace import ConfigWorkspace
from sparkjobs.errors import UsageError
from sparkjobs.pipeline.model import load_pipeline
from sparkjobs.scaffold import create_project, package_name

FILES = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "conf/base/project.yml",
    "conf/base/pipelines.yml",
    "conf/dev/project.yml",
    "data/sample/orders.csv",
    "src/acme_orders/__init__.py",
    "src/acme_orders/jobs/__init__.py",
    "src/acme_orders/jobs/clean_orders.py",
    "tests/test_clean_orders.py",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "acme-orders"
    create_project(root)
    return root


def test_init_writes_the_project_files(project: Path) -> None:
    written = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert written == FILES


def test_the_pyproject_registers_the_example_job_and_needs_this_sparkjobs(project: Path) -> None:
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["name"] == "acme-orders"
    assert meta["entry-points"]["sparkjobs.jobs"] == {"clean_orders": "acme_orders.jobs.clean_orders"}
    assert meta["dependencies"] == [f"sparkjobs[spark]>={__version__}"]


def test_the_generated_python_parses_and_imports_no_pyspark_at_top_level(project: Path) -> None:
    for path in project.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [getattr(n, "module", None) or n.names[0].name for n in top]
        if path.name != "test_clean_orders.py":  # a test may import pyspark.testing
            assert not [n for n in names if n and n.startswith("pyspark")], path


def test_the_generated_conf_is_valid_sparkjobs_configuration(project: Path) -> None:
    layered = ConfigWorkspace.resolve(conf_dir=project / "conf", environ={}).layers()
    assert layered.tree["jobs"]["clean_orders"] == {
        "max_rejected_ratio": 0.1,
        "input_path": "data/sample/orders.csv",
        "output_path": "data/dev/orders",
        "quarantine_path": "data/dev/orders_quarantine",
    }
    daily = load_pipeline(layered, "daily")
    assert list(daily.steps) == ["clean_orders"] and daily.schedule is not None
    assert yaml.safe_load((project / "conf/base/pipelines.yml").read_text())["state"] == {
        "url": "sqlite:///state/pipeline.db"
    }


def test_the_sample_input_passes_the_dev_rejection_limit(project: Path) -> None:
    rows = (project / "data/sample/orders.csv").read_text().splitlines()[1:]
    bad = [r for r in rows if r.split(",")[3] == "n/a"]
    assert (len(rows), len(bad)) == (10, 1)  # 10% rejected: not more than max_rejected_ratio 0.1


def test_an_empty_existing_directory_is_used_and_the_name_comes_from_it(tmp_path: Path) -> None:
    root = tmp_path / "Sales.Jobs"
    root.mkdir()
    create_project(root)
    assert (root / "src" / "sales_jobs" / "jobs" / "clean_orders.py").is_file()
    assert 'name = "Sales.Jobs"' in (root / "pyproject.toml").read_text()


def test_a_non_empty_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"the directory is not empty \(notes\.txt\)") as info:
        create_project(tmp_path)
    assert info.value.exit_code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("-acme", "bad project name '-acme'"),
        ("my jobs", "bad project name 'my jobs'"),
        ("sparkjobs", "package name 'sparkjobs', which is reserved"),
        ("class", "package name 'class', which is reserved"),
        ("9lives", "package name '9lives', which is not a Python identifier"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        create_project(tmp_path / "new", name)
    assert not (tmp_path / "new").exists()


def test_package_names_follow_the_distribution_name() -> None:
    assert [package_name(n) for n in ("acme-orders", "Acme.Orders", "a__b--c")] == [
        "acme_orders",
        "acme_orders",
        "a_b_c",
    ]


def test_the_cli_prints_the_next_steps_and_exits_2_on_a_non_empty_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(tmp_path / "shop"), "--name", "shop-jobs"])
    assert result.exit_code == 0, result.output
    assert "created src/shop_jobs/jobs/clean_orders.py" in result.output
    assert f"cd {tmp_path / 'shop'} && pip install -e '.[dev]'" in result.output
    again = runner.invoke(cli, ["init", str(tmp_path / "shop")])
    assert again.exit_code == 2
    assert "the directory is not empty" in again.output


def test_init_without_a_directory_uses_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "shop-jobs"
    here.mkdir()
    monkeypatch.chdir(here)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    assert "created src/shop_jobs/jobs/clean_orders.py" in result.output
    assert "\n  pip install -e '.[dev]'" in result.output  # no `cd` needed
    assert (here / "pyproject.toml").is_file()
