"""``sparkjobs init`` end to end: a new project installs and passes its own tests at once.

sparkjobs comes from this checkout's wheel (``sparkjobs_site``, tests/framework/e2e/conftest.py),
so the templates must ship as package data and the ``spark`` fixture comes from the wheel's
``pytest11`` entry point. ``sparkjobs init`` of that installation writes the project; it is
installed the same way and its generated tests run in a pytest process of their own (one JVM),
then the README's ``sparkjobs run clean_orders`` (a second JVM) cleans the sample orders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.framework.e2e.conftest import clean_env, pip_target

pytestmark = pytest.mark.e2e


def sparkjobs(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkjobs.cli", *args], capture_output=True, text=True, timeout=900,
        env=env, cwd=cwd,
    )  # fmt: skip


# a wheel build, two installs and two or three JVM starts: minutes on a loaded machine
@pytest.mark.timeout(1800)
def test_a_new_project_installs_and_passes_its_own_tests(sparkjobs_site: Path, tmp_path: Path) -> None:
    project = tmp_path / "acme-orders"
    init = sparkjobs("init", str(project), env=clean_env(sparkjobs_site), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "created src/acme_orders/jobs/clean_orders.py" in init.stdout

    site = tmp_path / "project-site"
    pip_target(project, site)
    env = clean_env(site, sparkjobs_site)

    listed = sparkjobs("list", "--format", "json", env=env, cwd=project)
    assert listed.returncode == 0, listed.stderr
    jobs = {row["name"]: row for row in json.loads(listed.stdout)}
    assert (jobs["clean_orders"]["module"], jobs["clean_orders"]["stage"]) == (
        "acme_orders.jobs.clean_orders", "silver"
    )  # fmt: skip

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=900, env=env, cwd=project,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout

    run = sparkjobs("run", "clean_orders", "--event-date", "2024-01-31", env=env, cwd=project)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])["result"]
    assert result == {"rows_read": 10, "rows_written": 9, "rejected": {"bad_amount": 1}}
    assert (project / "data/dev/orders/event_date=2024-01-31").is_dir()
    assert len(list((project / "runs").glob("*.json"))) == 1
