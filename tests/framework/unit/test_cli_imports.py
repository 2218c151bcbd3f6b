"""What the CLI imports to start, checked in a fresh interpreter (module names, not timings).

``sparkjobs --help`` and ``sparkjobs list`` must not import pydantic, prometheus_client, yaml or
pyspark, and ``list`` reads the jobs' metadata without importing the job modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
HEAVY = {"pydantic", "prometheus_client", "yaml", "pyspark", "py4j", "pandas", "pyarrow", "fastapi"}
PROBE = """
import json, sys
from sparkjobs.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(sys.modules)))
"""


def imported(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["list", "--format", "json"], ["run", "--help"]])
def test_help_and_list_import_nothing_heavy(argv: list[str]) -> None:
    modules = imported(*argv)
    assert {m.split(".")[0] for m in modules} & HEAVY == set()
    assert not [m for m in modules if m.startswith("recommendations.jobs.")]  # metadata read from source


def test_a_run_imports_its_job_and_not_the_other_jobs() -> None:
    modules = imported("run", "hello_spark", "--dry-run")
    assert "sparkjobs.examples.hello_spark" in modules
    assert not [m for m in modules if m.startswith("recommendations.")]
    assert {"pyspark", "fastapi", "pandas", "sparkjobs.pipeline", "sparkjobs.serving"} & modules == set()
