"""The `compose` environment the containers run with (conf/compose/), and the seeds' names the deploy
scripts accept: PROCESSING_WINDOW_DAYS (→ jobs.build_recommendations.window_days) and MODE."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.app.e2e.test_deploy import DEPLOY, ROOT, SPARKJOBS, project, runs, wrapper

pytestmark = pytest.mark.e2e
__all__ = ["project"]  # the fixture, imported for the wrapper tests below

WINDOW_KEY = "jobs.build_recommendations.window_days"
RUN_BUILD = (SPARKJOBS, "run", "build_recommendations")


def sparkjobs(*args: str, seed_env: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI from the repository root as a container would (optionally through seed-env.sh)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS") and k not in {"MODE"}}
    base.pop("PROCESSING_WINDOW_DAYS", None)
    command = [SPARKJOBS, *args]
    if seed_env:
        command = [str(DEPLOY / "bin" / "seed-env.sh"), *command]
    return subprocess.run(command, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120)


def shown(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)}


def test_a_dry_run_in_the_compose_environment_resolves() -> None:
    result = sparkjobs("run", "ingest_events", "--dry-run", SPARKJOBS_ENV="compose")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["env"], plan["master"]) == ("compose", "local[2]")
    # relative paths are taken from the project root (/opt/sparkjobs in a container: data/ is the volume)
    assert plan["params"]["raw_path"] == str(ROOT / "data" / "raw" / "events")


def test_the_compose_environment_points_ledger_store_and_api_at_postgres() -> None:
    url = "postgresql://sparkjobs@postgres:5432/sparkjobs"
    loader = shown(
        sparkjobs("config", "show", "load_recommendations", "--env", "compose", "--format", "json")
    )
    assert loader["jobs.load_recommendations.store.url"]["value"] == url
    assert loader["jobs.load_recommendations.store.url"]["source"] == "conf/compose/compose.yml"
    text = (ROOT / "conf" / "compose" / "compose.yml").read_text()
    assert "state:\n  url: " + url in text
    assert "services:\n  recommendations:\n    store: *store" in text
    assert "password:" not in text  # secrets come from the environment only


def test_processing_window_days_overrides_window_days() -> None:
    default = shown(
        sparkjobs("config", "show", "build_recommendations", "--env", "compose", "--format", "json")
    )
    assert default[WINDOW_KEY]["value"] == 7
    result = sparkjobs(
        "config",
        "show",
        "build_recommendations",
        "--env",
        "compose",
        "--format",
        "json",
        seed_env=True,
        PROCESSING_WINDOW_DAYS="30",
    )
    row = shown(result)[WINDOW_KEY]
    assert (row["value"], row["source"]) == (30, "env SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS")
    empty = sparkjobs(
        "config",
        "show",
        "build_recommendations",
        "--env",
        "compose",
        "--format",
        "json",
        seed_env=True,
        PROCESSING_WINDOW_DAYS="",
    )
    assert shown(empty)[WINDOW_KEY]["value"] == 7  # compose passes an unset variable as ""


@pytest.mark.parametrize("value", ["abc", "0", "-3", "7.5"])
def test_a_bad_processing_window_days_is_refused(value: str) -> None:
    result = sparkjobs(
        "run", "build_recommendations", "--dry-run", seed_env=True, PROCESSING_WINDOW_DAYS=value
    )
    assert result.returncode == 2
    assert f"PROCESSING_WINDOW_DAYS must be a whole number of days >= 1, got '{value}'" in result.stderr


def test_processing_window_days_and_the_sparkjobs_variable_must_agree() -> None:
    clash = sparkjobs(
        "run",
        "build_recommendations",
        "--dry-run",
        seed_env=True,
        PROCESSING_WINDOW_DAYS="30",
        SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS="14",
    )
    assert clash.returncode == 2 and "disagree" in clash.stderr
    same = sparkjobs(
        "run",
        "build_recommendations",
        "--dry-run",
        seed_env=True,
        PROCESSING_WINDOW_DAYS="14",
        SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS="14",
        SPARKJOBS_ENV="compose",
    )
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["params"]["window_days"] == 14


def test_the_batch_wrapper_applies_the_seed_names(tmp_path: Path) -> None:
    status = {"SPARKJOBS_STATUS_DIR": str(tmp_path / "status")}
    result = subprocess.run(
        [str(DEPLOY / "bin" / "batch.sh"), "processing", *RUN_BUILD, "--dry-run"],
        cwd=ROOT,
        env={**os.environ, **status, "SPARKJOBS_ENV": "compose", "PROCESSING_WINDOW_DAYS": "21"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"]["window_days"] == 21
    bad = subprocess.run(
        [str(DEPLOY / "bin" / "batch.sh"), "processing", "true"],
        env={**os.environ, **status, "PROCESSING_WINDOW_DAYS": "soon"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert (tmp_path / "status" / "processing.exit").read_text().strip() == "2"


# -- MODE=initial_load|incremental, as in the seeds ---------------------------------------------------
def test_mode_initial_load_makes_the_daily_wrapper_an_initial_load(project: Path) -> None:
    (project / "fixed").touch()
    result = wrapper(project, "run_daily_pipeline.sh", EVENT_DATE="2024-03-01", MODE="initial_load")
    assert result.returncode == 0, result.stderr
    assert "(initial_load) starting" in result.stdout
    assert runs(project) == [(date(2024, 3, 1), "initial_load", "success", "manual")]


@pytest.mark.parametrize(
    ("script", "mode", "trace_mode"),
    [
        ("run_daily_pipeline.sh", "incremental", "incremental"),
        ("run_initial_load.sh", "initial_load", "initial_load"),
    ],
)
def test_mode_naming_the_scripts_own_mode_is_accepted(
    project: Path, script: str, mode: str, trace_mode: str
) -> None:
    (project / "fixed").touch()
    result = wrapper(project, script, EVENT_DATE="2024-03-01", MODE=mode)
    assert result.returncode == 0, result.stderr
    assert runs(project) == [(date(2024, 3, 1), trace_mode, "success", "manual")]


@pytest.mark.parametrize(
    ("script", "mode", "message"),
    [
        ("run_daily_pipeline.sh", "full", "MODE must be initial_load or incremental, got 'full'"),
        ("run_initial_load.sh", "incremental", "run_initial_load.sh always runs initial_load"),
    ],
)
def test_a_wrong_mode_is_refused_before_anything_runs(
    project: Path, script: str, mode: str, message: str
) -> None:
    result = wrapper(project, script, EVENT_DATE="2024-03-01", MODE=mode)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (project / "state").exists()


def test_the_wrappers_refuse_a_bad_processing_window_days(project: Path) -> None:
    result = wrapper(
        project,
        "run_daily_pipeline.sh",
        "--dry-run",
        EVENT_DATE="2024-03-01",
        PROCESSING_WINDOW_DAYS="a week",
    )
    assert result.returncode == 2 and "PROCESSING_WINDOW_DAYS" in result.stderr
