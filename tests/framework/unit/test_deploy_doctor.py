"""``sparkjobs doctor`` without a JVM: the probe, how it travels to executors, the comparison's messages."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.deploy.doctor import _explain_job_failure, compare, make_probe

DRIVER: dict[str, Any] = {
    "host": "driver-host",
    "pid": 1,
    "cwd": "/home/me",
    "python": "3.11.7",
    "executable": "/venv/bin/python",
    "pyspark": "4.3.0",
    "imports": {"acme.jobs.a": None, "acme.jobs.b": None},
    "packages": {"acme": "1.0", "pydantic": "2.14.4", "pyyaml": "6.0.4"},
}


def executor(**changes: Any) -> dict[str, Any]:
    return {
        **DRIVER,
        "host": "worker-1",
        "cwd": "/work/app-1/0",
        "executable": "./environment/bin/python",
        **changes,
    }


def test_the_probe_reports_imports_versions_and_the_interpreter() -> None:
    probe, _ = make_probe()
    report = probe(["json", "no_such_module_xyz"], ["click", "no-such-dist-xyz"])
    assert report["imports"] == {
        "json": None,
        "no_such_module_xyz": "ModuleNotFoundError: No module named 'no_such_module_xyz'",
    }
    assert report["packages"] == {"click": importlib.metadata.version("click"), "no-such-dist-xyz": None}
    assert report["python"] == platform.python_version() and report["executable"] == sys.executable


def test_the_probe_travels_by_value_and_runs_where_sparkjobs_cannot_be_imported(tmp_path: Path) -> None:
    """cloudpickle ships it by value: an executor without sparkjobs still runs it and reports the gap."""
    from pyspark import cloudpickle

    _, partition = make_probe()
    payload = tmp_path / "task.pickle"
    payload.write_bytes(cloudpickle.dumps(functools.partial(partition, ["sparkjobs"], ["sparkjobs"])))
    code = (
        "import pickle, sys\n"
        "sys.modules['sparkjobs'] = None  # this 'executor' has no sparkjobs\n"
        "task = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "[report] = task(iter([]))\n"
        "print(report['imports']['sparkjobs'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(payload)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ModuleNotFoundError: import of sparkjobs halted; None in sys.modules"


def test_executors_like_the_driver_are_fine() -> None:
    assert compare(DRIVER, [executor(), executor(host="worker-2")], "4.3.0") == []


def test_another_python_is_one_message_saying_what_to_set() -> None:
    problems = compare(DRIVER, [executor(python="3.12.1", executable="/usr/bin/python3")] * 3, "4.3.0")
    assert problems == [
        "executors on worker-1 running /usr/bin/python3 run Python 3.12.1 but the driver runs 3.11.7 "
        "(/venv/bin/python): point PYSPARK_PYTHON / spark.pyspark.python at a Python 3.11.7 on every node, "
        "or ship the packed venv of `sparkjobs package`"
    ]


def test_missing_modules_and_packages_are_one_message_each_per_executor_kind() -> None:
    broken = executor(
        executable="/usr/bin/python3",
        imports={
            "acme.jobs.a": "ModuleNotFoundError: No module named 'acme'",
            "acme.jobs.b": "ModuleNotFoundError: x",
        },
        packages={"acme": None, "pydantic": "2.13.0", "pyyaml": "6.0.4"},
    )
    problems = compare(DRIVER, [broken, broken, executor()], "4.3.0")
    assert problems == [
        "executors on worker-1 running /usr/bin/python3 cannot import 2 job module(s) (acme.jobs.a, "
        "acme.jobs.b; first error: ModuleNotFoundError: No module named 'acme'): ship the project with "
        "`sparkjobs package` "
        "(--archives ENV.tar.gz#environment or --py-files ZIP) or install it into the executors' Python",
        "executors on worker-1 running /usr/bin/python3 lack acme; have other versions: pydantic 2.13.0 "
        "(driver 2.14.4): ship the driver's environment with `sparkjobs package`",
    ]


def test_a_driver_that_cannot_import_its_own_jobs_and_a_spark_mismatch_are_reported() -> None:
    driver = {**DRIVER, "imports": {"acme.jobs.a": "ImportError: boom"}, "pyspark": "4.1.0"}
    problems = compare(
        driver, [executor(imports={"acme.jobs.a": "ImportError: boom"}, pyspark="4.1.0")], "4.3.0"
    )
    assert problems == [
        "the driver cannot import job module acme.jobs.a (ImportError: boom): install the project here first",
        "the driver's pyspark is 4.1.0 but the cluster runs Spark 4.3.0: "
        "install pyspark==4.3.0 on the driver",
        "executors on worker-1 running ./environment/bin/python import pyspark 4.1.0 "
        "but the cluster runs Spark 4.3.0",
    ]


def test_spark_refusing_another_worker_python_becomes_a_plain_message() -> None:
    error = RuntimeError(
        "An error occurred while calling collect.\n"
        "[PYTHON_VERSION_MISMATCH] Python in worker has different version: 3.12 than that in driver: 3.11, "
        "PySpark cannot run with different minor versions.\n  at org.apache..."
    )
    text = _explain_job_failure(error, DRIVER, "python3")
    assert text.startswith("the executors run another Python than the driver (3.11.7, /venv/bin/python): ")
    assert "Python in worker has different version: 3.12 than that in driver: 3.11" in text
    assert text.endswith("or ship the packed venv of `sparkjobs package`")
    missing = RuntimeError('java.io.IOException: Cannot run program "./environment/bin/python": error=2')
    assert _explain_job_failure(missing, DRIVER, "./environment/bin/python").startswith(
        "the executors cannot start Python './environment/bin/python': it does not exist on the workers"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bundle", "."], "--bundle .: no manifest.json (write the bundle with `sparkjobs package`)"),
        (["--conf", "executor.memory=1g"], "--conf 'executor.memory=1g': expected spark.KEY=VALUE"),
    ],
)
def test_doctor_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--conf-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
