"""What a fresh JVM prints while ``sparkjobs run`` runs a job with stderr not on a terminal.

A subprocess, because only a JVM launched for the run shows it: no console progress bar inside the
JSON log lines (each one parses), none of Spark's start-up chatter, and a missing input path ends
with our one-line error instead of a ~90-line Java stack trace first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.e2e

JOB = '''
"""A stage slow enough for Spark's progress bar, then a read of a path that does not exist."""
import time


def _slow(row):
    time.sleep(1.5)
    return row


def main(**kwargs):
    context = kwargs.pop("context")
    spark = context.spark
    context.logger.info("counting slowly")
    spark.sparkContext.parallelize(range(4), 2).map(_slow).count()
    context.logger.info("reading %s", kwargs["path"])
    return spark.read.parquet(kwargs["path"]).count()
'''


def test_stderr_off_a_terminal_is_parseable_json_and_a_missing_path_is_one_line(tmp_path: Path) -> None:
    pkg = tmp_path / "site" / "noisyjobs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").touch()
    (pkg / "slow_then_missing.py").write_text(JOB)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path / "site")]),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    env.pop("SPARK_CONF_DIR", None)
    (tmp_path / "conf").mkdir()
    missing = tmp_path / "no_such_input"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkjobs.cli",
            "run",
            "noisyjobs.slow_then_missing",
            "-p",
            f"path={missing}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    err = done.stderr
    assert done.returncode == 1, err
    assert "\r" not in err and "[Stage" not in err  # no progress bar
    logged = [json.loads(line) for line in err.splitlines() if '"ts"' in line]  # every one parses
    assert "counting slowly" in [entry["message"] for entry in logged]
    for chatter in (
        "Using Spark's default log4j profile",
        "setLogLevel",
        "NativeCodeLoader",
        "\tat org.apache",
    ):
        assert chatter not in err, f"{chatter!r} in stderr:\n{err}"
    last = err.strip().splitlines()
    assert last[-2].startswith("error: job 'slow_then_missing' failed"), err
    assert "PATH_NOT_FOUND" in last[-2]


SESSION_WITH_JVM_LOG = """
import sys
from pathlib import Path
from sparkjobs.engines.session import SessionProvider
from sparkjobs.spark.settings import SparkSettings

settings = SparkSettings(master="local[1]")
provider = SessionProvider(settings, app_suffix="jvmlog", jvm_stderr=Path(sys.argv[1]))
spark = provider.get()
print(spark.range(5).count())
spark.sparkContext._jvm.java.lang.System.err.println("written by the JVM to its stderr")
provider.close()
"""


def test_a_session_with_jvm_stderr_keeps_the_jvms_output_off_the_terminal(tmp_path: Path) -> None:
    """What the live display of ``pipeline run`` relies on: the JVM writes to the file, not to us."""
    jvm_log = tmp_path / "runs" / "daily.jvm.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-c", SESSION_WITH_JVM_LOG, str(jvm_log)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "5"
    assert "written by the JVM" not in done.stderr
    assert "incubator" not in done.stderr  # the java launcher's own line went to the file too
    assert "written by the JVM to its stderr" in jvm_log.read_text()
