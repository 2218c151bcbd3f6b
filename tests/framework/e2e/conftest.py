"""This checkout of sparkjobs built as a wheel and installed into a temp target, as a user gets it.

Shared by the tests that scaffold and install projects (test_init_project, test_getting_started):
the wheel must carry the project templates (package data) and the ``pytest11`` plugin entry
point. The build runs on a copy of the sources (it writes build/ and *.egg-info next to them),
without build isolation (this venv's setuptools and wheel; no index needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def pip(*args: str | Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args), "-q", "--no-deps", "--no-build-isolation"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def pip_target(source: Path, target: Path) -> None:
    """``pip install`` of ``source`` into ``target`` (replacing an earlier install there)."""
    pip("install", "--upgrade", "--target", target, source)


def clean_env(*paths: Path) -> dict[str, str]:
    """This environment without SPARKJOBS_* variables, with ``paths`` first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="session")
def sparkjobs_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding this checkout's sparkjobs, installed from its wheel."""
    work = tmp_path_factory.mktemp("sparkjobs-dist")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip("wheel", "-w", work / "wheels", source)
    (wheel,) = (work / "wheels").glob("sparkjobs-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        plugins = archive.read(entry_points).decode()
    assert "sparkjobs/scaffold/templates/src/__package__/jobs/clean_orders.py.tmpl" in names
    assert "sparkjobs/scaffold/templates/gitignore.tmpl" in names
    assert "sparkjobs.testing.plugin = sparkjobs.testing.plugin" in plugins
    site = work / "site"
    pip_target(wheel, site)
    return site
