"""Serving stores: load a set of tables as ONE snapshot, swapped in atomically.

A :class:`SnapshotStore` holds the tables an online service reads (declared once as
:class:`TableSpec`\\ s) plus a metadata table whose latest row names the snapshot being served.
:meth:`SnapshotStore.load_snapshot` replaces *all* tables at once:

1. in one transaction, every table is bulk-loaded into a staging table (``<name>__staging``):
   PostgreSQL through ``COPY ... FROM STDIN`` (binary tuples encoded by numpy for all-numeric
   tables, CSV written by Arrow for tables with text), SQLite through ``executemany``;
2. keys and indexes are built on the staged data, statistics gathered;
3. still in the same transaction, each live table is dropped, its staging table renamed in, and a
   row is added to the metadata table; then the transaction commits.

Readers therefore see either the previous snapshot or the new one, never a mix and never a partial
table. If anything fails before the commit (bad data, a dropped connection, a killed process) the
transaction rolls back: the staging tables vanish with it and the previous snapshot stays served.
Loading the same input twice gives identical tables (the tables are replaced, never appended to).

PostgreSQL and SQLite have the same API, the same schema and the same swap semantics::

    store = open_store(StoreSettings(url="postgresql://app@db/serving"), TABLES)
    store.load_snapshot({"items": items_table, ...}, snapshot_date=date(2024, 5, 1), run_id=run_id)
    rows = store.fetch_all("SELECT title FROM items WHERE item_id = :item_id", {"item_id": 7})

Inputs are pyarrow ``Table``\\ s, ``RecordBatchReader``\\ s, iterables of ``RecordBatch`` or a
zero-argument callable returning one of those. Only tables and callables can be replayed, so only
they are retried by the injected retry policy; a one-shot iterator gets one attempt.

This module sits in the building-blocks layer: it imports nothing from sparkjobs but the error tree.
Retry policy, circuit breaker and the transient/terminal classifier are injected (the reference
application passes ``sparkjobs.resilience.RetryPolicy``, ``CircuitBreaker`` and ``is_retryable``).
pyarrow, numpy and psycopg are imported only when a load or a PostgreSQL store needs them, so a
SQLite reader (an API process) needs none of them.
"""

from __future__ import annotations

import io
import json
import logging
import queue
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from sparkjobs.errors import ConfigError, LoadError, TerminalError, TransientError

if TYPE_CHECKING:
    import pyarrow as pa

R = TypeVar("R")
log = logging.getLogger("sparkjobs.io.stores")

ColumnType = Literal["int32", "int64", "float64", "string", "bool", "date", "timestamp"]
SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgresql", "postgres")
STAGING_SUFFIX = "__staging"
DEFAULT_META_TABLE = "snapshot_meta"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


# -- errors ---------------------------------------------------------------------------------------
class SnapshotLoadError(LoadError):
    """A snapshot load failed; nothing was swapped in. Carries where and in which phase."""

    def __init__(
        self,
        message: str,
        *,
        target: str,
        snapshot_date: date | None = None,
        table: str | None = None,
        phase: str | None = None,
        transient: bool = False,
    ) -> None:
        self.target = target
        self.snapshot_date = snapshot_date
        self.table = table
        self.phase = phase
        where = f"loading snapshot {snapshot_date.isoformat() if snapshot_date else '?'} into {target}"
        if table:
            where += f", table {table!r}"
        if phase:
            where += f", phase {phase}"
        verdict = "transient: a retry may succeed" if transient else "terminal: fix the input or the store"
        super().__init__(
            f"{where} failed: {message} ({verdict}; the previous snapshot is still served)",
            transient=transient,
        )


class StoreUnavailableError(TransientError):
    """The store cannot be reached (connection refused, pool exhausted, file unreadable)."""

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"serving store {target} is unavailable: {reason}")


class NoSnapshotError(TerminalError):
    """The store is reachable but no snapshot has been loaded into it yet."""

    def __init__(self, target: str, detail: str = "") -> None:
        self.target = target
        msg = f"no snapshot is loaded in {target}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg + "; run the loader first")


class StoreQueryError(TerminalError):
    """A read query failed for a reason retrying cannot fix (SQL or data error)."""


# -- configuration --------------------------------------------------------------------------------
class StoreSettings(BaseModel):
    """Where a serving store lives and how to talk to it.

    A password is never kept in ``url``: one written into the URL (``postgresql://u:pw@h/db`` or
    ``?password=``) is moved into :attr:`password`, a ``SecretStr`` that is masked in reprs,
    ``config show`` and run reports. Give it through the environment instead, e.g.
    ``SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__PASSWORD``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description="sqlite:///relative/path.db, sqlite:////abs/path.db or postgresql://user@host/db"
    )
    password: SecretStr | None = Field(None, description="PostgreSQL password (kept out of the URL)")
    db_schema: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema holding the tables (default: public)",
    )
    pool_min_size: int = Field(1, ge=0, description="connections the read pool keeps open")
    pool_max_size: int = Field(8, ge=1, description="most connections the read pool opens")
    pool_timeout_s: float = Field(5.0, gt=0, description="wait at most this long for a pooled connection")
    connect_timeout_s: int = Field(5, ge=1, description="PostgreSQL connect timeout")
    statement_timeout_s: float = Field(10.0, ge=0, description="read query timeout (0 = none)")
    lock_timeout_s: float = Field(
        30.0, gt=0, description="wait this long for readers to release a table at swap"
    )
    batch_rows: int = Field(65_536, ge=1, description="rows per Arrow batch when a load source is a Table")
    application_name: str = Field("sparkjobs", description="shown in pg_stat_activity (':load' is appended)")

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str):
            return data
        url, found = _split_password(data["url"])
        if found is None:
            return data
        if data.get("password") not in (None, ""):
            raise ValueError("the password is given twice (in url and in password); keep only `password`")
        return {**data, "url": url, "password": found}

    @property
    def kind(self) -> Literal["sqlite", "postgresql"]:
        scheme = urlsplit(self.url).scheme.lower()
        if scheme in SQLITE_SCHEMES:
            return "sqlite"
        if scheme in POSTGRES_SCHEMES:
            return "postgresql"
        raise ConfigError(
            "unsupported serving store url",
            key="store.url",
            value=self.url,
            expected="sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
        )

    @property
    def sqlite_path(self) -> Path:
        parts = urlsplit(self.url)
        if parts.netloc not in ("", "localhost") or not parts.path or parts.path == "/":
            raise ConfigError(
                "bad sqlite url",
                key="store.url",
                value=self.url,
                expected="sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return Path(unquote(parts.path[1:]))

    def describe(self) -> str:
        """The target for messages: the URL (it never holds the password) plus the schema."""
        return self.url + (f" (schema {self.db_schema})" if self.db_schema else "")


def _split_password(url: str) -> tuple[str, str | None]:
    """``(url without password, password or None)``; handles ``user:pw@`` and ``?password=``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        return url, None
    password: str | None = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, pw = userinfo.split(":", 1)
            password = unquote(pw)
            netloc = f"{user}@{hostinfo}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k != "password"]
    if len(kept) != len(query):
        password = password or next(v for k, v in query if k == "password")
    if password is None:
        return url, None
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment)), password


# -- table specs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One served table: columns, primary key and secondary indexes (column tuples)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        for ident in (self.name, *names):
            if not _IDENTIFIER.match(ident):
                raise ValueError(f"bad identifier {ident!r}: use lower-case letters, digits and _ (max 48)")
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r} declares a column twice")
        for cols in (self.primary_key, *self.indexes):
            unknown = [c for c in cols if c not in names]
            if unknown:
                raise ValueError(f"table {self.name!r}: key/index names unknown columns {unknown}")
        nullable_key = [c.name for c in self.columns if c.name in self.primary_key and c.nullable]
        if nullable_key:
            raise ValueError(f"table {self.name!r}: primary key columns cannot be nullable: {nullable_key}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def staging_name(self) -> str:
        return self.name + STAGING_SUFFIX

    def index_name(self, cols: tuple[str, ...], table: str | None = None) -> str:
        return f"{table or self.name}__{'_'.join(cols)}_idx"

    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, _arrow_type(c.type), nullable=c.nullable) for c in self.columns])


def _arrow_type(kind: ColumnType) -> pa.DataType:
    import pyarrow as pa

    return {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[kind]


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotInfo:
    """One row of the metadata table: what is (or was) served."""

    snapshot_date: date
    loaded_at: datetime
    load_seconds: float
    row_counts: dict[str, int]
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "loaded_at": self.loaded_at.isoformat(),
            "load_seconds": self.load_seconds,
            "row_counts": dict(self.row_counts),
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class LoadResult:
    snapshot: SnapshotInfo
    phases: dict[str, float]  # seconds spent in copy / index / swap / commit
    attempts: int

    @property
    def rows(self) -> int:
        return sum(self.snapshot.row_counts.values())


# -- injected collaborators -----------------------------------------------------------------------
class CallPolicy(Protocol):
    """Anything that runs ``fn`` on our behalf: a retry policy or a circuit breaker."""

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R: ...


class _Direct:
    """The null policy: call once."""

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        return fn(*args, **kwargs)


def default_is_transient(exc: BaseException) -> bool:
    """A minimal classifier for when none is injected: sparkjobs marks, connection errors, locks."""
    if hasattr(exc, "transient"):
        return bool(exc.transient)
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] in ("08", "40", "53") or sqlstate in ("57P01", "57P02", "57P03", "55P03", "57014")
    return type(exc).__name__ in ("OperationalError", "PoolTimeout") or isinstance(
        exc, ConnectionError | TimeoutError
    )


# -- load sources ---------------------------------------------------------------------------------
TableSource = Any  # pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch] | Callable[[], <one of those>]


class _Source:
    """Opens one table's input per attempt, conformed to its spec (columns, types, nulls)."""

    def __init__(self, spec: TableSpec, source: TableSource, batch_rows: int) -> None:
        self.spec = spec
        self.source = source
        self.batch_rows = batch_rows
        self.opened = 0

    @property
    def replayable(self) -> bool:
        import pyarrow as pa

        return isinstance(self.source, pa.Table) or (
            callable(self.source) and not isinstance(self.source, pa.RecordBatchReader)
        )

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        self.opened += 1
        src = self.source
        if self.opened > 1 and not self.replayable:
            raise LoadError(
                f"the input for table {self.spec.name!r} is a one-shot iterator and was already consumed; "
                "pass a pyarrow Table or a callable that reopens it to allow retries"
            )
        if callable(src) and not isinstance(src, pa.Table | pa.RecordBatchReader):
            src = src()
        if isinstance(src, pa.Table):
            src = src.to_batches(max_chunksize=self.batch_rows)
        schema = self.spec.arrow_schema()
        for batch in src:
            if isinstance(batch, pa.Table):  # a callable may yield tables
                for inner in batch.to_batches(max_chunksize=self.batch_rows):
                    yield conform_batch(inner, self.spec, schema)
            else:
                yield conform_batch(batch, self.spec, schema)


def conform_batch(batch: pa.RecordBatch, spec: TableSpec, schema: pa.Schema) -> pa.RecordBatch:
    """Select the declared columns, cast them safely, refuse nulls in NOT NULL columns."""
    import pyarrow as pa

    present = set(batch.schema.names)
    missing = [c for c in spec.column_names if c not in present]
    if missing:
        raise _InputError(spec.name, f"missing column(s) {missing}; got {batch.schema.names}")
    arrays = []
    for col, fld in zip(spec.columns, schema, strict=True):
        arr = batch.column(col.name)
        if arr.type != fld.type:
            try:
                arr = arr.cast(fld.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise _InputError(
                    spec.name, f"column {col.name!r} ({arr.type}) does not fit {col.type}: {exc}"
                ) from exc
        if not col.nullable and arr.null_count:
            raise _InputError(spec.name, f"column {col.name!r} has {arr.null_count} null(s) but is NOT NULL")
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _InputError(TerminalError):
    def __init__(self, table: str, message: str) -> None:
        self.table = table
        super().__init__(f"bad input for table {table!r}: {message}")


def _pylist(arr: Any, kind: ColumnType, *, iso_dates: bool) -> list[Any]:
    values = arr.to_pylist()
    if iso_dates and kind in ("date", "timestamp"):
        return [v.isoformat() if v is not None else None for v in values]
    return list(values)


# -- the abstract store ---------------------------------------------------------------------------
class SnapshotStore(ABC):
    """A set of served tables replaced as one snapshot; see the module docstring."""

    kind: ClassVar[str]

    def __init__(
        self,
        settings: StoreSettings,
        tables: Sequence[TableSpec],
        *,
        meta_table: str = DEFAULT_META_TABLE,
        retry: CallPolicy | None = None,
        breaker: CallPolicy | None = None,
        is_transient: Callable[[BaseException], bool] | None = None,
        clock: Callable[[], datetime] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        if not tables:
            raise ValueError("a snapshot store needs at least one table")
        names = [t.name for t in tables]
        if len(set(names)) != len(names) or meta_table in names:
            raise ValueError(
                f"table names must be unique and differ from the meta table: {names}, {meta_table}"
            )
        if not _IDENTIFIER.match(meta_table):
            raise ValueError(f"bad meta table name {meta_table!r}")
        self.settings = settings
        self.tables = tuple(tables)
        self.meta_table = meta_table
        self.retry: CallPolicy = retry or _Direct()
        self.breaker: CallPolicy = breaker or _Direct()
        self.is_transient = is_transient or default_is_transient
        self.clock = clock or (lambda: datetime.now(UTC))
        self.log = logger or log

    @property
    def target(self) -> str:
        return self.settings.describe()

    # -- loading ----------------------------------------------------------------------------------
    def load_snapshot(
        self, sources: Mapping[str, TableSource], *, snapshot_date: date, run_id: str
    ) -> LoadResult:
        """Replace every table with ``sources`` as one snapshot; see the module docstring."""
        expected = {t.name for t in self.tables}
        if set(sources) != expected:
            raise SnapshotLoadError(
                f"a snapshot must contain exactly the tables {sorted(expected)}; "
                f"missing {sorted(expected - set(sources))}, unknown {sorted(set(sources) - expected)}",
                target=self.target,
                snapshot_date=snapshot_date,
            )
        opened = [_Source(spec, sources[spec.name], self.settings.batch_rows) for spec in self.tables]
        attempts = [0]

        def attempt() -> LoadResult:
            attempts[0] += 1
            if attempts[0] > 1 and not all(s.replayable for s in opened):
                raise SnapshotLoadError(
                    "not retried: an input is a one-shot iterator (pass Tables or callables to retry)",
                    target=self.target,
                    snapshot_date=snapshot_date,
                )
            return self.breaker.call(self._load_guarded, opened, snapshot_date, run_id)

        result = self.retry.call(attempt)
        return LoadResult(result.snapshot, result.phases, attempts[0])

    def _load_guarded(self, sources: list[_Source], snapshot_date: date, run_id: str) -> LoadResult:
        state: dict[str, str | None] = {"table": None, "phase": "connect"}
        started = time.perf_counter()
        try:
            result = self._load_once(sources, snapshot_date, run_id, state, started)
        except SnapshotLoadError:
            raise
        except _InputError as exc:
            raise SnapshotLoadError(
                str(exc),
                target=self.target,
                snapshot_date=snapshot_date,
                table=exc.table,
                phase=state["phase"],
                transient=False,
            ) from exc
        except Exception as exc:
            raise SnapshotLoadError(
                f"{type(exc).__name__}: {str(exc).strip()}",
                target=self.target,
                snapshot_date=snapshot_date,
                table=state["table"],
                phase=state["phase"],
                transient=self.is_transient(exc),
            ) from exc
        self.log.info(
            "loaded snapshot %s into %s: %s rows in %.2fs",
            snapshot_date.isoformat(),
            self.target,
            result.rows,
            result.snapshot.load_seconds,
            extra={"fields": {"row_counts": result.snapshot.row_counts, "phases": result.phases}},
        )
        return result

    @abstractmethod
    def _load_once(
        self,
        sources: list[_Source],
        snapshot_date: date,
        run_id: str,
        state: dict[str, str | None],
        started: float,
    ) -> LoadResult:
        """One attempt, in one transaction; update ``state`` with the current table and phase."""

    def _snapshot_info(
        self, snapshot_date: date, run_id: str, counts: dict[str, int], started: float
    ) -> SnapshotInfo:
        return SnapshotInfo(
            snapshot_date=snapshot_date,
            loaded_at=self.clock().astimezone(UTC),
            load_seconds=round(time.perf_counter() - started, 6),
            row_counts=counts,
            run_id=run_id,
        )

    # -- reading ----------------------------------------------------------------------------------
    def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a parameterised read (``:name`` placeholders) as dicts.

        Raises :class:`StoreUnavailableError` (transient) when the store cannot be reached,
        :class:`NoSnapshotError` when a served table does not exist yet, :class:`StoreQueryError`
        otherwise.
        """
        try:
            return self.breaker.call(self._fetch_guarded, sql, dict(params or {}))
        except (StoreUnavailableError, NoSnapshotError, StoreQueryError):
            raise
        except Exception as exc:  # the breaker's own refusal (open circuit)
            raise StoreUnavailableError(self.target, str(exc)) from exc

    def _fetch_guarded(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return self._fetch(sql, params)
        except (StoreUnavailableError, NoSnapshotError, StoreQueryError):
            raise
        except Exception as exc:
            if self._is_missing_table(exc):
                raise NoSnapshotError(self.target, str(exc).strip()) from exc
            if self.is_transient(exc):
                raise StoreUnavailableError(self.target, f"{type(exc).__name__}: {str(exc).strip()}") from exc
            raise StoreQueryError(f"query on {self.target} failed: {type(exc).__name__}: {exc}") from exc

    @abstractmethod
    def _fetch(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]: ...

    @abstractmethod
    def _is_missing_table(self, exc: BaseException) -> bool: ...

    def served_snapshot(self) -> SnapshotInfo | None:
        """The latest metadata row, or None when nothing has been loaded yet."""
        try:
            rows = self.fetch_all(
                f"SELECT snapshot_date, loaded_at, load_seconds, row_counts, run_id FROM {self.meta_table} "
                "ORDER BY id DESC LIMIT 1"
            )
        except NoSnapshotError:
            return None
        if not rows:
            return None
        row = rows[0]
        counts = row["row_counts"]
        if isinstance(counts, str):
            counts = json.loads(counts)
        snap, loaded = row["snapshot_date"], row["loaded_at"]
        return SnapshotInfo(
            snapshot_date=snap if isinstance(snap, date) else date.fromisoformat(snap),
            loaded_at=(loaded if isinstance(loaded, datetime) else datetime.fromisoformat(loaded)).astimezone(
                UTC
            ),
            load_seconds=float(row["load_seconds"]),
            row_counts={str(k): int(v) for k, v in counts.items()},
            run_id=row["run_id"],
        )

    def snapshot_history(self, limit: int = 20) -> list[SnapshotInfo]:
        """The latest ``limit`` metadata rows, newest first."""
        rows = self.fetch_all(
            f"SELECT snapshot_date, loaded_at, load_seconds, row_counts, run_id FROM {self.meta_table} "
            "ORDER BY id DESC LIMIT :limit",
            {"limit": limit},
        )
        out = []
        for row in rows:
            counts = (
                json.loads(row["row_counts"]) if isinstance(row["row_counts"], str) else row["row_counts"]
            )
            snap, loaded = row["snapshot_date"], row["loaded_at"]
            out.append(
                SnapshotInfo(
                    snap if isinstance(snap, date) else date.fromisoformat(snap),
                    (loaded if isinstance(loaded, datetime) else datetime.fromisoformat(loaded)).astimezone(
                        UTC
                    ),
                    float(row["load_seconds"]),
                    {str(k): int(v) for k, v in counts.items()},
                    row["run_id"],
                )
            )
        return out

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target}, tables={[t.name for t in self.tables]})"


# -- SQLite ---------------------------------------------------------------------------------------
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
    """Quote an identifier already checked against ``_IDENTIFIER``."""
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
        sources: list[_Source],
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
                        _pylist(batch.column(i), c.type, iso_dates=True) for i, c in enumerate(spec.columns)
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


# -- PostgreSQL -----------------------------------------------------------------------------------
_PG_TYPES: dict[ColumnType, str] = {
    "int32": "integer",
    "int64": "bigint",
    "float64": "double precision",
    "string": "text",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp with time zone",
}
#: types encoded by numpy straight into PostgreSQL's binary COPY format: (big-endian dtype, byte size)
_FIXED_WIDTH: dict[ColumnType, tuple[str, int]] = {
    "int32": (">i4", 4),
    "int64": (">i8", 8),
    "float64": (">f8", 8),
    "bool": ("?", 1),
    "date": (">i4", 4),
}
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
PGCOPY_TRAILER = b"\xff\xff"
_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def to_pyformat(sql: str) -> str:
    """``:name`` placeholders → psycopg's ``%(name)s`` (literal ``%`` doubled; ``::casts`` kept)."""
    return _NAMED_PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


def encode_binary_rows(batch: pa.RecordBatch, spec: TableSpec) -> bytes:
    """Rows of a null-free, fixed-width batch in PostgreSQL's binary COPY tuple format (no header).

    Each tuple is ``int16 field count`` then, per field, ``int32 length`` and the big-endian value;
    numpy builds them all at once as one packed structured array.
    """
    import numpy as np
    import pyarrow as pa

    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, col in enumerate(spec.columns):
        fields += [(f"l{i}", ">i4"), (f"v{i}", _FIXED_WIDTH[col.type][0])]
    out = np.empty(batch.num_rows, dtype=np.dtype(fields))
    out["n"] = len(spec.columns)
    for i, col in enumerate(spec.columns):
        out[f"l{i}"] = _FIXED_WIDTH[col.type][1]
        arr = batch.column(i)
        if col.type == "date":
            values = arr.cast(pa.int32()).to_numpy(zero_copy_only=False) - _PG_EPOCH_DAYS
        else:
            values = arr.to_numpy(zero_copy_only=False)
        out[f"v{i}"] = values
    return out.tobytes()


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
        if s.password is not None:
            kwargs["password"] = s.password.get_secret_value()
        return kwargs

    # -- load -------------------------------------------------------------------------------------
    def _load_once(
        self,
        sources: list[_Source],
        snapshot_date: date,
        run_id: str,
        state: dict[str, str | None],
        started: float,
    ) -> LoadResult:
        import psycopg
        from psycopg import sql

        phases = {"copy": 0.0, "index": 0.0, "swap": 0.0, "commit": 0.0}
        counts: dict[str, int] = {}
        conn = psycopg.connect(
            self.settings.url, autocommit=True, **self._connect_kwargs(role=":load", statement_timeout_s=0)
        )
        try:
            with conn.transaction():
                state["phase"] = "lock"  # one load at a time per schema; a second one waits its turn
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"sparkjobs.snapshot:{self.schema}.{self.meta_table}",),
                )
                if self.settings.db_schema:
                    schema = sql.Identifier(self.schema)
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                        "snapshot_date date NOT NULL, loaded_at timestamptz NOT NULL, "
                        "load_seconds double precision NOT NULL, row_counts jsonb NOT NULL, "
                        "run_id text NOT NULL)"
                    ).format(sql.Identifier(self.meta_table))
                )
                for src in sources:
                    spec = src.spec
                    state.update(table=spec.name, phase="copy")
                    t0 = time.perf_counter()
                    staging = sql.Identifier(spec.staging_name)
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
                    conn.execute(self._create_sql(spec))
                    counts[spec.name] = self._copy(conn, spec, src)
                    phases["copy"] += time.perf_counter() - t0
                    state["phase"] = "index"
                    t0 = time.perf_counter()
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
                    phases["index"] += time.perf_counter() - t0
                state.update(table=None, phase="swap")
                t0 = time.perf_counter()
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(
                        sql.Literal(f"{int(self.settings.lock_timeout_s * 1000)}ms")
                    )
                )
                for src in sources:
                    self._swap_one(conn, src.spec, state)
                info = self._snapshot_info(snapshot_date, run_id, counts, started)
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
                phases["swap"] = time.perf_counter() - t0
                state.update(table=None, phase="commit")
                t0 = time.perf_counter()
            phases["commit"] = time.perf_counter() - t0
        finally:
            conn.close()
        return LoadResult(info, {k: round(v, 6) for k, v in phases.items()}, 1)

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

    def _copy(self, conn: Any, spec: TableSpec, src: _Source) -> int:
        """COPY one table into its staging table.

        All columns fixed-width: binary COPY of numpy-encoded tuples (no per-row Python, no parsing
        on the server). A table with text: CSV written by Arrow's C++ writer (strings quoted, nulls
        as unquoted empty fields, floats in shortest round-trip form), parsed by the server like
        ``psql \\copy`` does, again without a per-row Python loop.
        """
        import pyarrow.csv as pacsv
        from psycopg import sql

        fixed = all(c.type in _FIXED_WIDTH for c in spec.columns)
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
                    copy.write(_encode_rows_with_nulls(batch, spec))
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


def _encode_rows_with_nulls(batch: pa.RecordBatch, spec: TableSpec) -> bytes:
    """Binary COPY tuples of a fixed-width batch that has nulls (length -1 marks a null)."""
    import struct

    formats = {"int32": ">i", "int64": ">q", "float64": ">d", "bool": ">?", "date": ">i"}
    cols = [_pylist(batch.column(i), c.type, iso_dates=False) for i, c in enumerate(spec.columns)]
    out = bytearray()
    count = struct.pack(">h", len(spec.columns))
    for row in zip(*cols, strict=True):
        out += count
        for value, col in zip(row, spec.columns, strict=True):
            if value is None:
                out += b"\xff\xff\xff\xff"
                continue
            if col.type == "date":
                value = value.toordinal() - date(2000, 1, 1).toordinal()
            size = _FIXED_WIDTH[col.type][1]
            out += struct.pack(">i", size) + struct.pack(formats[col.type], value)
    return bytes(out)


# -- opening ----------------------------------------------------------------------------------------
def open_store(settings: StoreSettings | str, tables: Sequence[TableSpec], **kwargs: Any) -> SnapshotStore:
    """The store ``settings.url`` names (``sqlite://`` or ``postgresql://``); nothing connects yet."""
    if isinstance(settings, str):
        settings = StoreSettings(url=settings)
    if settings.kind == "sqlite":
        return SQLiteSnapshotStore(settings, tables, **kwargs)
    return PostgresSnapshotStore(settings, tables, **kwargs)


__all__ = [
    "Column",
    "LoadResult",
    "NoSnapshotError",
    "PostgresSnapshotStore",
    "SQLiteSnapshotStore",
    "SnapshotInfo",
    "SnapshotLoadError",
    "SnapshotStore",
    "StoreQueryError",
    "StoreSettings",
    "StoreUnavailableError",
    "TableSpec",
    "default_is_transient",
    "encode_binary_rows",
    "open_store",
    "to_pyformat",
]
