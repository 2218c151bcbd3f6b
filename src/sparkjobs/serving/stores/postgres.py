"""The PostgreSQL snapshot store: binary COPY into staging tables and a rename swap, in one transaction.

Fixed-width tables travel in PostgreSQL's binary COPY format
(:mod:`~sparkjobs.serving.stores.copy_binary`); tables with text as CSV written by Arrow. Reads go
through a psycopg_pool ``ConnectionPool``. psycopg is imported only when a store connects.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from sparkjobs.serving.stores.base import SnapshotStore
from sparkjobs.serving.stores.copy_binary import (
    FIXED_WIDTH,
    PGCOPY_HEADER,
    PGCOPY_TRAILER,
    encode_binary_rows,
    encode_rows_with_nulls,
)
from sparkjobs.serving.stores.errors import StoreUnavailableError
from sparkjobs.serving.stores.settings import StoreSettings
from sparkjobs.serving.stores.snapshot import LoadResult, SnapshotInfo
from sparkjobs.serving.stores.sources import LoadSource
from sparkjobs.serving.stores.spec import ColumnType, TableSpec

_PG_TYPES: dict[ColumnType, str] = {
    "int32": "integer",
    "int64": "bigint",
    "float64": "double precision",
    "string": "text",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp with time zone",
}
_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def to_pyformat(sql: str) -> str:
    """``:name`` placeholders → psycopg's ``%(name)s`` (literal ``%`` doubled; ``::casts`` kept)."""
    return _NAMED_PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgresSnapshotStore(SnapshotStore):
    """PostgreSQL: binary COPY into staging tables and a rename swap, all in one transaction.

    Loads are serialised by a transaction-scoped advisory lock; reads go through a psycopg_pool
    ``ConnectionPool`` (opened on first read) of autocommit connections whose ``search_path`` is
    the configured schema.
    """

    kind = "postgresql"

    def __init__(self, settings: StoreSettings, tables: Sequence[TableSpec], **kwargs: Any) -> None:
        super().__init__(settings, tables, **kwargs)
        self._pool: Any = None
        self._pool_lock = threading.Lock()
        self._closed = False

    @property
    def schema(self) -> str:
        return self.settings.db_schema or "public"

    def _connect_kwargs(self, *, role: str, statement_timeout_s: float) -> dict[str, Any]:
        s = self.settings
        options = [f"-c search_path={self.schema}", f"-c statement_timeout={int(statement_timeout_s * 1000)}"]
        kwargs: dict[str, Any] = {
            "connect_timeout": s.connect_timeout_s,
            "application_name": f"{s.application_name}{role}",
            "options": " ".join(options),
        }
        kwargs.update(s.database.connect_kwargs())  # password, sslpassword, ...: never in the URL
        return kwargs

    # -- load -------------------------------------------------------------------------------------
    def _load_once(
        self,
        sources: list[LoadSource],
        snapshot_date: date,
        run_id: str,
        state: dict[str, str | None],
        started: float,
    ) -> LoadResult:
        import psycopg

        phases = {"copy": 0.0, "index": 0.0, "swap": 0.0, "commit": 0.0}
        counts: dict[str, int] = {}
        conn = psycopg.connect(
            self.settings.url, autocommit=True, **self._connect_kwargs(role=":load", statement_timeout_s=0)
        )
        try:
            with conn.transaction():
                state["phase"] = "lock"
                self._lock_and_prepare(conn)
                for src in sources:
                    state.update(table=src.spec.name, phase="copy")
                    t0 = time.perf_counter()
                    counts[src.spec.name] = self._stage(conn, src)
                    phases["copy"] += time.perf_counter() - t0
                    state["phase"] = "index"
                    t0 = time.perf_counter()
                    self._index_staged(conn, src.spec)
                    phases["index"] += time.perf_counter() - t0
                state.update(table=None, phase="swap")
                t0 = time.perf_counter()
                self._swap_tables(conn, sources, state)
                info = self._snapshot_info(snapshot_date, run_id, counts, started)
                self._record_snapshot(conn, info)
                phases["swap"] = time.perf_counter() - t0
                state.update(table=None, phase="commit")
                t0 = time.perf_counter()
            phases["commit"] = time.perf_counter() - t0
        finally:
            conn.close()
        return LoadResult(info, {k: round(v, 6) for k, v in phases.items()}, 1)

    def _lock_and_prepare(self, conn: Any) -> None:
        """Take the load lock (one load at a time per schema; a second one waits its turn), create
        the schema and the metadata table when missing."""
        from psycopg import sql

        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"sparkjobs.snapshot:{self.schema}.{self.meta_table}",),
        )
        if self.settings.db_schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "snapshot_date date NOT NULL, loaded_at timestamptz NOT NULL, "
                "load_seconds double precision NOT NULL, row_counts jsonb NOT NULL, "
                "run_id text NOT NULL)"
            ).format(sql.Identifier(self.meta_table))
        )

    def _stage(self, conn: Any, src: LoadSource) -> int:
        """(Re)create one table's staging table and COPY its input in; the row count."""
        from psycopg import sql

        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(src.spec.staging_name)))
        conn.execute(self._create_sql(src.spec))
        return self._copy(conn, src.spec, src)

    def _index_staged(self, conn: Any, spec: TableSpec) -> None:
        """Primary key, secondary indexes and statistics, built on the staged rows."""
        from psycopg import sql

        staging = sql.Identifier(spec.staging_name)
        if spec.primary_key:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                    staging,
                    sql.Identifier(f"{spec.staging_name}_pkey"),
                    sql.SQL(", ").join(map(sql.Identifier, spec.primary_key)),
                )
            )
        for cols in spec.indexes:
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    sql.Identifier(spec.index_name(cols, spec.staging_name)),
                    staging,
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                )
            )
        conn.execute(sql.SQL("ANALYZE {}").format(staging))

    def _swap_tables(self, conn: Any, sources: list[LoadSource], state: dict[str, str | None]) -> None:
        """Rename every staging table in, waiting at most ``lock_timeout_s`` for readers."""
        from psycopg import sql

        conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{int(self.settings.lock_timeout_s * 1000)}ms")
            )
        )
        for src in sources:
            self._swap_one(conn, src.spec, state)

    def _record_snapshot(self, conn: Any, info: SnapshotInfo) -> None:
        """Add the metadata row; the transaction's commit publishes it with the tables."""
        from psycopg import sql

        conn.execute(
            sql.SQL(
                "INSERT INTO {} (snapshot_date, loaded_at, load_seconds, row_counts, run_id) "
                "VALUES (%s, %s, %s, %s::jsonb, %s)"
            ).format(sql.Identifier(self.meta_table)),
            (
                info.snapshot_date,
                info.loaded_at,
                info.load_seconds,
                json.dumps(info.row_counts, sort_keys=True),
                info.run_id,
            ),
        )

    def _create_sql(self, spec: TableSpec) -> Any:
        from psycopg import sql

        cols = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c.name),
                sql.SQL(_PG_TYPES[c.type]),
                sql.SQL("" if c.nullable else " NOT NULL"),
            )
            for c in spec.columns
        ]
        return sql.SQL("CREATE TABLE {} ({})").format(
            sql.Identifier(spec.staging_name), sql.SQL(", ").join(cols)
        )

    def _copy(self, conn: Any, spec: TableSpec, src: LoadSource) -> int:
        """COPY one table into its staging table.

        All columns fixed-width: binary COPY of numpy-encoded tuples (no per-row Python, no parsing
        on the server). A table with text: CSV written by Arrow's C++ writer (strings quoted, nulls
        as unquoted empty fields, floats in shortest round-trip form), parsed by the server like
        ``psql \\copy`` does, again without a per-row Python loop.
        """
        import pyarrow.csv as pacsv
        from psycopg import sql

        fixed = all(c.type in FIXED_WIDTH for c in spec.columns)
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
            sql.Identifier(spec.staging_name),
            sql.SQL(", ").join(map(sql.Identifier, spec.column_names)),
            sql.SQL("BINARY" if fixed else "CSV"),
        )
        csv_options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        n = 0
        with conn.cursor() as cur, cur.copy(stmt) as copy:
            if fixed:
                copy.write(PGCOPY_HEADER)
            for batch in src.batches():
                if not fixed:
                    sink = io.BytesIO()
                    pacsv.write_csv(batch, sink, write_options=csv_options)
                    copy.write(sink.getvalue())
                elif any(batch.column(i).null_count for i in range(batch.num_columns)):
                    copy.write(encode_rows_with_nulls(batch, spec))
                else:
                    copy.write(encode_binary_rows(batch, spec))
                n += batch.num_rows
            if fixed:
                copy.write(PGCOPY_TRAILER)
        return n

    def _swap_one(self, conn: Any, spec: TableSpec, state: dict[str, str | None]) -> None:
        from psycopg import sql

        state["table"] = spec.name
        live, staging = sql.Identifier(spec.name), sql.Identifier(spec.staging_name)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(live))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, live))
        if spec.primary_key:
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    live, sql.Identifier(f"{spec.staging_name}_pkey"), sql.Identifier(f"{spec.name}_pkey")
                )
            )
        for cols in spec.indexes:
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(spec.index_name(cols, spec.staging_name)),
                    sql.Identifier(spec.index_name(cols)),
                )
            )

    # -- read -------------------------------------------------------------------------------------
    def _get_pool(self) -> Any:
        if self._closed:
            raise StoreUnavailableError(self.target, "the store was closed")
        with self._pool_lock:
            if self._pool is None:
                from psycopg.rows import dict_row
                from psycopg_pool import ConnectionPool

                s = self.settings
                self._pool = ConnectionPool(
                    s.url,
                    kwargs={
                        "autocommit": True,
                        "row_factory": dict_row,
                        **self._connect_kwargs(role=":read", statement_timeout_s=s.statement_timeout_s),
                    },
                    min_size=min(s.pool_min_size, s.pool_max_size),
                    max_size=s.pool_max_size,
                    timeout=s.pool_timeout_s,
                    check=ConnectionPool.check_connection,
                    name=f"{s.application_name}-read",
                    open=False,
                )
                self._pool.open(wait=False)
            return self._pool

    def _fetch(self, sql_text: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from psycopg_pool import PoolTimeout

        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return list(conn.execute(to_pyformat(sql_text), params).fetchall())
        except PoolTimeout as exc:
            raise StoreUnavailableError(
                self.target, f"no connection within {self.settings.pool_timeout_s:g}s ({exc})"
            ) from exc

    def _is_missing_table(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in ("42P01", "3F000")  # undefined_table, invalid_schema_name

    def close(self) -> None:
        self._closed = True
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
