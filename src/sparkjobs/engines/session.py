"""The session factory: the one place that knows the engine.

``SessionProvider.get(engine)`` returns a session with the PySpark API for the engine the run
uses: ``spark`` → a real ``SparkSession`` (:func:`sparkjobs.spark.session.build_session`),
``duckdb`` → a SQLFrame ``DuckDBSession`` on an in-process DuckDB connection
(:func:`build_duckdb_session`). It builds each lazily, reuses it for the steps that share the
provider, and stops at the end only what it created.

SQLFrame's session is a process-wide singleton and not thread-safe: one DuckDB session serves
the process at a time (a pipeline's steps run one after another, so that holds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkjobs.engines.settings import DuckDBSettings
from sparkjobs.errors import SparkUnavailableError
from sparkjobs.spark.session import build_session
from sparkjobs.spark.settings import SparkSettings

log = logging.getLogger("sparkjobs.engines")


def _import_duckdb_session() -> Any:
    try:
        import duckdb
        from sqlframe.duckdb import DuckDBSession
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise SparkUnavailableError(
            "the duckdb engine needs sqlframe and duckdb; install them with "
            "`pip install 'sparkjobs[duckdb]'`, or run with --engine spark"
        ) from exc
    return duckdb, DuckDBSession


def build_duckdb_session(settings: DuckDBSettings, *, time_zone: str = "UTC") -> tuple[Any, bool]:
    """``(session, created)``: a SQLFrame DuckDB session; an open one already in the process is reused."""
    duckdb, DuckDBSession = _import_duckdb_session()
    from sparkjobs.engines import duckdb_compat

    duckdb_compat.install()
    existing = getattr(DuckDBSession, "_instance", None)
    if isinstance(existing, DuckDBSession) and _is_open(existing):
        return existing, False
    conn = duckdb.connect(settings.database, config=settings.connect_config())
    conn.execute(f"SET TimeZone = '{time_zone}'")
    # Spark sorts NULLs first in ascending and last in descending order; DuckDB's default is last in
    # both, and SQLFrame does not say it: without this, ties broken by a nullable column rank
    # differently (found by tests/app/spark/test_engine_parity.py)
    conn.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
    return DuckDBSession(conn=conn), True


def _is_open(session: Any) -> bool:
    try:
        session._conn.execute("SELECT 1").fetchone()
    except Exception:
        return False
    return True


@dataclass
class SessionProvider:
    """Builds each engine's session on first use and stops at the end only what it created."""

    settings: SparkSettings
    service_provider: str = "local"
    app_suffix: str | None = None
    has_spark: bool = True
    duckdb: DuckDBSettings = field(default_factory=DuckDBSettings)
    #: the engine :meth:`get` uses when not told (a context passes its own)
    engine: str = "spark"
    #: a file for the stderr of a JVM this provider launches (None: this process's stderr)
    jvm_stderr: Path | None = None
    _sessions: dict[str, tuple[Any, bool]] = field(default_factory=dict, init=False, repr=False)

    def get(self, engine: str | None = None) -> Any:
        name = engine or self.engine
        if name == "spark" and not self.has_spark:
            raise SparkUnavailableError(
                "this run was started with --no-spark (has_spark=false) but the job asked for a "
                "SparkSession; rerun with --has-spark, or with --engine duckdb"
            )
        if name not in self._sessions:
            if name == "spark":
                self._sessions[name] = build_session(
                    self.settings,
                    service_provider=self.service_provider,
                    app_suffix=self.app_suffix,
                    jvm_stderr=self.jvm_stderr,
                )
            elif name == "duckdb":
                self._sessions[name] = build_duckdb_session(
                    self.duckdb, time_zone=self.settings.session_time_zone
                )
            else:
                raise SparkUnavailableError(f"unknown engine {name!r}: expected spark or duckdb")
            log.debug("%s session ready (%s)", name, "created" if self._sessions[name][1] else "reused")
        return self._sessions[name][0]

    @property
    def started(self) -> bool:
        return bool(self._sessions)

    def started_engine(self, engine: str) -> bool:
        return engine in self._sessions

    def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session, created in sessions.values():
            if created:
                session.stop()
