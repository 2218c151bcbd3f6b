"""The abstract :class:`SnapshotStore`: a set of served tables replaced as one snapshot.

:meth:`SnapshotStore.load_snapshot` replaces *all* tables at once. Each dialect
(:mod:`~sparkjobs.serving.stores.sqlite`, :mod:`~sparkjobs.serving.stores.postgres`) does one
attempt in one transaction:

1. every table is bulk-loaded into a staging table (``<name>__staging``);
2. keys and indexes are built on the staged data, statistics gathered;
3. still in the same transaction, each live table is dropped, its staging table renamed in, and a
   row is added to the metadata table; then the transaction commits.

Readers therefore see either the previous snapshot or the new one, never a mix and never a partial
table. If anything fails before the commit (bad data, a dropped connection, a killed process) the
transaction rolls back: the staging tables vanish with it and the previous snapshot stays served.
Loading the same input twice gives identical tables (the tables are replaced, never appended to).

This base owns the control flow — the retry and circuit-breaker policies, the error wrapping, the
read-side error mapping — and the dialects implement ``_load_once``, ``_fetch``,
``_is_missing_table`` and ``close``.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, ClassVar, Self

from sparkjobs.resilience.classify import is_retryable
from sparkjobs.serving.stores.errors import (
    InputError,
    NoSnapshotError,
    SnapshotLoadError,
    StoreQueryError,
    StoreUnavailableError,
)
from sparkjobs.serving.stores.policy import CallPolicy, Direct
from sparkjobs.serving.stores.settings import StoreSettings
from sparkjobs.serving.stores.snapshot import LoadResult, SnapshotInfo
from sparkjobs.serving.stores.sources import LoadSource, TableSource
from sparkjobs.serving.stores.spec import IDENTIFIER, TableSpec

DEFAULT_META_TABLE = "snapshot_meta"
log = logging.getLogger("sparkjobs.serving.stores")


class Closing(ABC):
    """A resource used as a context manager: ``with x: ...`` closes it on the way out."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SnapshotStore(Closing):
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
        if not IDENTIFIER.match(meta_table):
            raise ValueError(f"bad meta table name {meta_table!r}")
        self.settings = settings
        self.tables = tuple(tables)
        self.meta_table = meta_table
        self.retry: CallPolicy = retry or Direct()
        self.breaker: CallPolicy = breaker or Direct()
        self.is_transient = is_transient or is_retryable
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
        opened = [LoadSource(spec, sources[spec.name], self.settings.batch_rows) for spec in self.tables]
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

    def _load_guarded(self, sources: list[LoadSource], snapshot_date: date, run_id: str) -> LoadResult:
        state: dict[str, str | None] = {"table": None, "phase": "connect"}
        started = time.perf_counter()
        try:
            result = self._load_once(sources, snapshot_date, run_id, state, started)
        except SnapshotLoadError:
            raise
        except InputError as exc:
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
        sources: list[LoadSource],
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
            history = self.snapshot_history(limit=1)
        except NoSnapshotError:
            return None
        return history[0] if history else None

    def snapshot_history(self, limit: int = 20) -> list[SnapshotInfo]:
        """The latest ``limit`` metadata rows, newest first."""
        rows = self.fetch_all(
            f"SELECT snapshot_date, loaded_at, load_seconds, row_counts, run_id FROM {self.meta_table} "
            "ORDER BY id DESC LIMIT :limit",
            {"limit": limit},
        )
        return [SnapshotInfo.from_row(row) for row in rows]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target}, tables={[t.name for t in self.tables]})"
