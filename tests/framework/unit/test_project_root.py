"""The project root: the folder holding conf/, found upward from the cwd like git, or --project-dir.

The ledger, the runs folder and relative data paths resolve against it, wherever the command runs;
no conf/ found is a warning; a read-only command never creates a ledger.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.config.workspace import ConfigWorkspace, resolve_data_paths, with_path_defaults
from sparkjobs.config_show import show_config
from sparkjobs.errors import ConfigError
from sparkjobs.executor import RunRequest, prepare
from tests.framework.conftest import MODEL_JOB

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path, job_dir: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "framework" / "e2e"))
    for name in ("SPARKJOBS_ENV", "SPARKJOBS_CONF_DIR", "SPARKJOBS_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "acme"
    (root / "conf" / "base").mkdir(parents=True)
    (root / "src" / "deep").mkdir(parents=True)
    (root / "conf" / "base" / "jobs.yml").write_text(
        "jobs:\n  square:\n    n: 3\n    output: {path: data/out}\n"
    )
    (root / "conf" / "base" / "pipelines.yml").write_text(
        yaml.safe_dump(
            {
                "pipelines": {
                    "daily": {
                        "defaults": {"has_spark": False},
                        "steps": {
                            "a": {
                                "job": "pipeline_jobs.record",
                                "params": {"trace": str(tmp_path / "t.jsonl")},
                            }
                        },
                    }
                }
            }
        )
    )
    return root


def test_the_project_root_is_found_upward_from_the_cwd(project: Path) -> None:
    ws = ConfigWorkspace.resolve(environ={}, cwd=project / "src" / "deep")
    assert (ws.project_dir, ws.conf_dir, ws.conf_found) == (project, project / "conf", True)


def test_project_dir_and_conf_dir_name_the_root(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ws = ConfigWorkspace.resolve(project_dir=project, environ={}, cwd=elsewhere)
    assert (ws.project_dir, ws.conf_dir) == (project, project / "conf")
    by_env = ConfigWorkspace.resolve(environ={"SPARKJOBS_PROJECT_DIR": str(project)}, cwd=elsewhere)
    assert by_env.project_dir == project
    ws = ConfigWorkspace.resolve(conf_dir=project / "conf", environ={}, cwd=elsewhere)
    assert ws.project_dir == project  # the folder holding the conf dir
    with pytest.raises(ConfigError, match="project directory not found"):
        ConfigWorkspace.resolve(project_dir=tmp_path / "nope", environ={}, cwd=elsewhere)


def test_no_conf_found_is_a_warning_naming_where_it_looked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    logger = logging.getLogger("sparkjobs")
    propagate, logger.propagate = logger.propagate, True
    try:
        with caplog.at_level(logging.WARNING, logger="sparkjobs.config"):
            ws = ConfigWorkspace.resolve(environ={}, cwd=lonely)
    finally:
        logger.propagate = propagate
    assert (ws.project_dir, ws.conf_found) == (lonely, False)
    assert any(
        f"no conf/ folder in {lonely} or any folder above it" in r.getMessage()
        and "--project-dir" in r.getMessage()
        for r in caplog.records
    )


def test_runs_and_relative_data_paths_resolve_against_the_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "src" / "deep")
    prepared = prepare(RunRequest(job="acme.jobs.square", has_spark=False), {})
    assert prepared.context.settings.observability.runs_dir == project / "runs"
    assert prepared.config.n == 3  # conf/ found from a subfolder
    assert prepared.config.output.path == str(project / "data" / "out")
    absolute = prepare(
        RunRequest(job="acme.jobs.square", has_spark=False, params=["output.path=/lake/x"]), {}
    )
    assert absolute.config.output.path == "/lake/x"
    remote = prepare(
        RunRequest(job="acme.jobs.square", has_spark=False, params=["output.path=s3a://b/x"]), {}
    )
    assert remote.config.output.path == "s3a://b/x"
    text = prepare(RunRequest(job="acme.jobs.square", has_spark=False, params=["label=data/x"]), {})
    assert text.config.label == "data/x"  # not a path key: left as written


def test_run_from_another_folder_finds_the_project_by_project_dir(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    result = CliRunner().invoke(
        cli, ["run", "acme.jobs.square", "--project-dir", str(project), "--no-spark"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["result"]["square"] == 9


def test_pipeline_status_creates_no_ledger(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    result = CliRunner().invoke(
        cli, ["pipeline", "status", "daily", "--conf-dir", str(project / "conf")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert "no runs recorded" in result.stdout + result.stderr
    assert str(project / "state" / "pipeline.db") in result.stdout + result.stderr
    assert not (other / "state").exists() and not (project / "state").exists()


def test_pipeline_run_keeps_its_ledger_and_runs_in_the_project(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "src")
    result = CliRunner().invoke(
        cli, ["pipeline", "run", "daily", "--date", "2024-03-01"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert (project / "state" / "pipeline.db").is_file()
    assert list((project / "runs").glob("*.a.json"))
    assert not (project / "src" / "state").exists() and not (project / "src" / "runs").exists()


def test_runs_show_without_a_ledger_names_the_path_and_creates_nothing(project: Path) -> None:
    result = CliRunner().invoke(
        cli, ["pipeline", "runs", "show", "r-1", "--project-dir", str(project)], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert f"no run ledger at {project / 'state' / 'pipeline.db'}" in result.stderr
    assert not (project / "state").exists()


def test_the_live_display_sends_the_jvms_stderr_to_the_runs_folder(project: Path) -> None:
    from sparkjobs.cli.pipeline import RunPlan, _session_factory
    from sparkjobs.pipeline.workspace import Invocation, Workspace

    ws = Workspace.load(Invocation(project_dir=project, environ={}))
    plan = RunPlan(ws.pipeline("daily"), None, None, None, False, False)
    factory = _session_factory(ws, plan, live=True, verbose=False)
    assert factory is not None
    provider = factory(ws.settings, "daily", True, "local")
    assert provider.jvm_stderr == project / "runs" / "daily.jvm.log"
    assert _session_factory(ws, plan, live=True, verbose=True) is None  # --verbose: the terminal
    assert _session_factory(ws, plan, live=False, verbose=False) is None  # off a terminal: stderr


def test_a_models_relative_path_default_is_taken_from_the_root_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "conf" / "base" / "jobs.yml").write_text("jobs:\n  square:\n    n: 3\n")
    monkeypatch.chdir(project / "src")
    prepared = prepare(RunRequest(job="acme.jobs.square", has_spark=False), {})
    assert prepared.config.output.path == str(project / "out" / "default")  # Output.path = "out/default"
    assert prepared.config.output.format == "parquet"
    rows = {
        key: (value, source) for key, value, source in show_config(RunRequest(job="acme.jobs.square"), {})
    }
    assert rows["jobs.square.output.path"] == (str(project / "out" / "default"), "default")


def test_a_relative_sqlite_url_is_the_project_roots_file(project: Path, tmp_path: Path) -> None:
    ws = ConfigWorkspace.resolve(environ={}, project_dir=project)
    tree = {
        "store": {"url": "sqlite:///data/serving/s.db"},
        "absolute": {"url": "sqlite:////srv/s.db"},
        "memory": {"url": "sqlite:///:memory:"},
        "pg": {"url": "postgresql://api@db/serving"},
        "note": "sqlite:///not/a/url/key.db",
        "raw_null": {"url": "null"},
    }
    resolved = resolve_data_paths(tree, set(), ws)
    assert resolved["store"]["url"] == f"sqlite:///{project}/data/serving/s.db"
    assert resolved["absolute"] == {"url": "sqlite:////srv/s.db"}
    assert resolved["memory"] == {"url": "sqlite:///:memory:"}
    assert resolved["pg"] == {"url": "postgresql://api@db/serving"}
    assert resolved["note"] == "sqlite:///not/a/url/key.db"  # only a `url` key is a database url
    assert resolved["raw_null"] == {"url": "null"}


def test_a_models_default_sqlite_url_from_a_factory_is_rooted_too(project: Path) -> None:
    from pydantic import BaseModel, Field

    class Store(BaseModel):
        url: str = "sqlite:///data/serving/default.db"
        db_schema: str | None = None

    class LoadConfig(BaseModel):
        store: Store = Field(default_factory=Store)
        label: str = "x"

    ws = ConfigWorkspace.resolve(environ={}, project_dir=project)
    tree = resolve_data_paths(with_path_defaults(LoadConfig, {}), set(), ws)
    assert LoadConfig.model_validate(tree).store.url == f"sqlite:///{project}/data/serving/default.db"
    kept = resolve_data_paths(
        with_path_defaults(LoadConfig, {"store": {"url": "sqlite:////a.db"}}), set(), ws
    )
    assert LoadConfig.model_validate(kept).store.url == "sqlite:////a.db"
