"""``sparkjobs init`` end to end: a new project installs and passes its own tests at once.

This checkout of sparkjobs is built as a wheel and installed into a temp target (so the project
templates must ship as package data, and the ``pytest11`` plugin comes from the wheel's own
entry points); ``sparkjobs init`` of that installation writes the project; the project is
installed the same way and its generated tests run in a pytest process of their own (one JVM),
then the README's ``sparkjobs run clean_orders`` (a second JVM) writes the sample's clean orders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]


def _pip_target(source: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --target`` (the dependencies are this venv's)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _wheel(source: Path, out: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("sparkjobs-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's sparkjobs, built from a copy (the build writes build/ and *.egg-info) and installed."""
    work = tmp_path_factory.mktemp("sparkjobs-dist")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheel = _wheel(source, work / "wheels")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sparkjobs/scaffold/templates/src/__package__/jobs/clean_orders.py.tmpl" in names
    assert "sparkjobs/scaffold/templates/gitignore.tmpl" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert (
        "sparkjobs.testing.plugin = sparkjobs.testing.plugin"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )
    site = work / "site"
    _pip_target(wheel, site)
    return site


def _env(*paths: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_a_new_project_installs_and_passes_its_own_tests(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "acme-orders"
    init = subprocess.run(
        [sys.executable, "-m", "sparkjobs.cli", "init", str(project)],
        capture_output=True, text=True, timeout=120, env=_env(installed), cwd=tmp_path,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert "created src/acme_orders/jobs/clean_orders.py" in init.stdout

    site = tmp_path / "project-site"
    _pip_target(project, site)
    env = _env(site, installed)

    listed = subprocess.run(
        [sys.executable, "-m", "sparkjobs.cli", "list", "--format", "json"],
        capture_output=True, text=True, timeout=120, env=env, cwd=project,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    jobs = {row["name"]: row for row in json.loads(listed.stdout)}
    assert jobs["clean_orders"]["module"] == "acme_orders.jobs.clean_orders"
    assert jobs["clean_orders"]["stage"] == "silver"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=900, env=env, cwd=project,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout

    run = subprocess.run(
        [sys.executable, "-m", "sparkjobs.cli", "run", "clean_orders", "--event-date", "2024-01-31",
         "--log-format", "json"],
        capture_output=True, text=True, timeout=900, env=env, cwd=project,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])["result"]
    assert result == {"rows_read": 10, "rows_written": 9, "rejected": {"bad_amount": 1}}
    assert (project / "data/dev/orders/event_date=2024-01-31").is_dir()
    assert list((project / "runs").glob("*.json"))
