"""``run_doctor`` on the shared local session: the probe really runs in Spark's Python workers."""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Any

from sparkjobs.deploy.doctor import run_doctor


def test_the_probe_runs_in_python_workers_and_finds_nothing_wrong_here(spark: Any) -> None:
    report = run_doctor(spark, ["sparkjobs.examples.hello_spark"], ["sparkjobs", "click"], tasks=3)
    assert report.problems == []
    assert len(report.executors) == 3
    # each task ran in a Python worker process of this interpreter, not in the driver
    assert {e["executable"] for e in report.executors} == {sys.executable}
    assert all(e["pid"] != report.driver["pid"] for e in report.executors)
    assert all(e["imports"] == {"sparkjobs.examples.hello_spark": None} for e in report.executors)
    assert report.executors[0]["packages"] == {
        "click": importlib.metadata.version("click"),
        "sparkjobs": "0.1.0",
    }
    assert report.spark_version == report.driver["pyspark"]


def test_a_module_missing_everywhere_is_the_drivers_problem_first(spark: Any) -> None:
    report = run_doctor(spark, ["no_such_jobs_pkg.job"], [], tasks=1)
    assert report.problems == [
        "the driver cannot import job module no_such_jobs_pkg.job (ModuleNotFoundError: No module named "
        "'no_such_jobs_pkg'): install the project here first"
    ]
