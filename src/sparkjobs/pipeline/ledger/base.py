"""The ledger's SQL store: the hooks a dialect implements and the one way every table is read and written.

:class:`LedgerStore` owns connections, transactions, placeholders, value conversion and how driver
errors become :class:`LedgerError`; the lock table (:mod:`.locks`) and the run tables
(:mod:`.runs`) are written on top of it, the dialects (:mod:`.sqlite`, :mod:`.postgres`) under it.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sparkjobs.config.secrets import mask_text
from sparkjobs.pipeline.errors import LedgerError, PipelineLockedError
from sparkjobs.pipeline.ledger.process import Holder, pid_alive
from sparkjobs.resilience import explain

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_driver_error(exc: Exception) -> bool:
    """True for errors raised by the SQLite or psycopg driver (the ones worth wrapping)."""
    if isinstance(exc, sqlite3.Error):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("psycopg")


class LedgerStore(ABC):
    """The ledger tables in a SQL store. Thread-safe: one connection per operation."""

    #: the dialect's column types for dates, timestamps and floats
    types: dict[str, str] = {}

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        holder: Holder | None = None,
        process_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.clock = clock
        self.holder = holder or Holder.current()
        self.process_alive = process_alive

    # -- dialect --------------------------------------------------------------------------------
    @property
    @abstractmethod
    def where(self) -> str:
        """Where the ledger lives, secrets masked (for messages)."""

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside a write transaction that commits on success."""

    @abstractmethod
    def _sql(self, sql: str) -> str:
        """Placeholders in our SQL are ``?``; turn them into the driver's."""

    @abstractmethod
    def _to_db(self, value: Any) -> Any: ...

    @abstractmethod
    def _create_schema(self) -> None: ...

    def _date_out(self, value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def _ts_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(self._to_db(p) for p in params)

    def _wrap(self, exc: Exception, doing: str) -> LedgerError:
        transient = explain(exc).transient or "locked" in str(exc).lower() or "busy" in str(exc).lower()
        return LedgerError(
            f"run ledger at {self.where}: {doing} failed: {type(exc).__name__}: {mask_text(str(exc))}",
            transient=transient,
        )

    def _exec(self, cur: Any, sql: str, *params: Any) -> Any:
        cur.execute(self._sql(sql), self._params(params))
        return cur

    @contextmanager
    def _write(self, doing: str) -> Iterator[Any]:
        try:
            with self._transaction() as cur:
                yield cur
        except (LedgerError, PipelineLockedError):
            raise
        except Exception as exc:
            if is_driver_error(exc):
                raise self._wrap(exc, doing) from exc
            raise

    def _query(self, doing: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            conn = self._connect()
            try:
                cur = conn.cursor()
                self._exec(cur, sql, *params)
                return list(cur.fetchall())
            finally:
                conn.close()
        except LedgerError:
            raise
        except Exception as exc:
            if is_driver_error(exc):
                raise self._wrap(exc, doing) from exc
            raise

    def init_schema(self) -> None:
        """Create the tables if they do not exist (safe to call from concurrent processes)."""
        try:
            self._create_schema()
        except LedgerError:
            raise
        except Exception as exc:
            if is_driver_error(exc):
                raise self._wrap(exc, "creating the ledger tables") from exc
            raise
