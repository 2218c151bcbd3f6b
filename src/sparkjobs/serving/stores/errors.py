"""The errors of the snapshot stores, all under :class:`sparkjobs.errors.SparkJobsError`::

LoadError
└── SnapshotLoadError        a load failed; nothing was swapped in (transient or terminal)
TransientError
└── StoreUnavailableError    the store cannot be reached (refused, pool exhausted, unreadable)
TerminalError
├── NoSnapshotError          reachable, but nothing loaded yet
├── StoreQueryError          a read failed for a reason retrying cannot fix
└── InputError               a load input does not fit its table spec
"""

from __future__ import annotations

from datetime import date

from sparkjobs.errors import LoadError, TerminalError, TransientError


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


class InputError(TerminalError):
    """A load input does not fit its table's spec (missing column, bad type, null in NOT NULL)."""

    def __init__(self, table: str, message: str) -> None:
        self.table = table
        super().__init__(f"bad input for table {table!r}: {message}")
