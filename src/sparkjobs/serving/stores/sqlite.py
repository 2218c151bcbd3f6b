"""The SQLite snapshot store: one file in WAL mode, so readers never wait for a load.

A load is one ``BEGIN IMMEDIATE`` transaction (one writer at a time) filling the staging tables
through ``executemany``; reads share a small LIFO pool of read-only connections.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sparkjobs.serving.stores.base import SnapshotStore
from sparkjobs.serving.stores.errors import NoSnapshotError, StoreUnavailableError
from sparkjobs.serving.stores.settings import StoreSettings
from sparkjobs.serving.stores.snapshot import LoadResult
from sparkjobs.serving.stores.sources import LoadSource, column_values
from sparkjobs.serving.stores.spec import ColumnType, TableSpec

_SQLITE_TYPES: dict[ColumnType, str] = {
    "int32": "INTEGER",
    "int64": "INTEGER",
    "bool": "INTEGER",
    "float64": "REAL",
    "string": "TEXT",
    "date": "TEXT",
    "timestamp": "TEXT",
}


def _q(name: str) -> str:
    """Quote an identifier already checked against ``spec.IDENTIFIER``."""
    return f'"{name}"'


class SQLiteSnapshotStore(SnapshotStore):
    """The embedded default: one SQLite file in WAL mode (readers never wait for a load)."""

    kind = "sqlite"

    def __init__(self, settings: StoreSettings, tables: Sequence[TableSpec], **kwargs: Any) -> None:
        super().__init__(settings, tables, **kwargs)
        self.path = settings.sqlite_path
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._closed = False

    # -- load -------------------------------------------------------------------------------------
    def _connect_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.settings.lock_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _load_once(
        self,
        sources: list[LoadSource],
        snapshot_date: date,
        run_id: str,
        state: dict[str, str | None],
        started: float,
    ) -> LoadResult:
        conn = self._connect_writer()
        phases = {"copy": 0.0, "index": 0.0, "swap": 0.0, "commit": 0.0}
        counts: dict[str, int] = {}
        try:
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time; readers keep reading the old snapshot
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_q(self.meta_table)} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "snapshot_date TEXT NOT NULL, loaded_at TEXT NOT NULL, load_seconds REAL NOT NULL, "
                "row_counts TEXT NOT NULL, run_id TEXT NOT NULL)"
            )
            for src in sources:
                spec = src.spec
                state.update(table=spec.name, phase="copy")
                t0 = time.perf_counter()
                conn.execute(f"DROP TABLE IF EXISTS {_q(spec.staging_name)}")
                conn.execute(self._create_sql(spec, spec.staging_name))
                insert = f"INSERT INTO {_q(spec.staging_name)} VALUES ({', '.join('?' * len(spec.columns))})"
                n = 0
                for batch in src.batches():
                    cols = [
                        column_values(batch.column(i), c.type, iso_dates=True)
                        for i, c in enumerate(spec.columns)
                    ]
                    conn.executemany(insert, zip(*cols, strict=True))
                    n += batch.num_rows
                counts[spec.name] = n
                phases["copy"] += time.perf_counter() - t0
            state.update(table=None, phase="swap")
            t0 = time.perf_counter()
            for src in sources:
                spec = src.spec
                state["table"] = spec.name
                conn.execute(f"DROP TABLE IF EXISTS {_q(spec.name)}")
                conn.execute(f"ALTER TABLE {_q(spec.staging_name)} RENAME TO {_q(spec.name)}")
                for index_cols in spec.indexes:
                    conn.execute(
                        f"CREATE INDEX {_q(spec.index_name(index_cols))} ON {_q(spec.name)} "
                        f"({', '.join(_q(c) for c in index_cols)})"
                    )
            conn.execute("ANALYZE")
            info = self._snapshot_info(snapshot_date, run_id, counts, started)
            conn.execute(
                f"INSERT INTO {_q(self.meta_table)} "
                "(snapshot_date, loaded_at, load_seconds, row_counts, run_id) VALUES (?, ?, ?, ?, ?)",
                (
                    info.snapshot_date.isoformat(),
                    info.loaded_at.isoformat(),
                    info.load_seconds,
                    json.dumps(info.row_counts, sort_keys=True),
                    info.run_id,
                ),
            )
            phases["swap"] = time.perf_counter() - t0
            state.update(table=None, phase="commit")
            t0 = time.perf_counter()
            conn.execute("COMMIT")
            phases["commit"] = time.perf_counter() - t0
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return LoadResult(info, {k: round(v, 6) for k, v in phases.items()}, 1)

    @staticmethod
    def _create_sql(spec: TableSpec, name: str) -> str:
        cols = [
            f"{_q(c.name)} {_SQLITE_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns
        ]
        suffix = ""
        if spec.primary_key:
            cols.append(f"PRIMARY KEY ({', '.join(_q(c) for c in spec.primary_key)})")
            suffix = " WITHOUT ROWID"
        return f"CREATE TABLE {_q(name)} ({', '.join(cols)}){suffix}"

    # -- read -------------------------------------------------------------------------------------
    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise StoreUnavailableError(self.target, "the store was closed")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            if not self.path.is_file():
                raise NoSnapshotError(self.target, f"file {self.path} does not exist") from None
            try:
                timeout = self.settings.pool_timeout_s
                conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA query_only=ON")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(self.target, f"cannot open {self.path}: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        if self._closed or self._idle.qsize() >= self.settings.pool_max_size:
            conn.close()
        else:
            self._idle.put(conn)

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._reader() as conn:
            try:
                return [dict(row) for row in conn.execute(sql, params).fetchall()]
            except sqlite3.DatabaseError as exc:
                text = str(exc).lower()
                if any(m in text for m in ("unable to open", "disk i/o", "not a database", "malformed")):
                    raise StoreUnavailableError(self.target, f"{type(exc).__name__}: {exc}") from exc
                raise

    def _is_missing_table(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
