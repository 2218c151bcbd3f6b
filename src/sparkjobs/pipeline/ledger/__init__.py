"""The run ledger: pipeline runs, their steps and attempts, and the one-run-per-date lock.

One interface, two stores: a SQLite file (default ``state/pipeline.db``) and PostgreSQL. The SQL is
written once; the two dialects differ only in how they connect, their placeholders and column
types.

- :mod:`.records` — the dataclasses the ledger stores and returns (runs, steps, attempts, locks)
- :mod:`.tables` — the DDL and column lists, written once for both dialects
- :mod:`.process` — who holds a lock and whether that process is still alive
- :mod:`.base` — :class:`LedgerStore`: the dialect hooks and the one way to read and write
- :mod:`.locks` — the lock protocol (acquire, heartbeat, stale takeover, release)
- :mod:`.runs` — :class:`RunLedger`: recording and reading runs, steps and attempts
- :mod:`.sqlite`, :mod:`.postgres` — the two dialects; :func:`open_ledger` picks one by URL
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sparkjobs.config.secrets import mask_text
from sparkjobs.pipeline.errors import LedgerError, NoLedgerError
from sparkjobs.pipeline.ledger.base import Clock, LedgerStore, utc_now
from sparkjobs.pipeline.ledger.locks import LockTable
from sparkjobs.pipeline.ledger.postgres import PostgresLedger
from sparkjobs.pipeline.ledger.process import Holder, pid_alive, process_node
from sparkjobs.pipeline.ledger.records import (
    RESUMABLE,
    RUN_STATUSES,
    STEP_STATUSES,
    AttemptRecord,
    LockInfo,
    RunRecord,
    StepRecord,
)
from sparkjobs.pipeline.ledger.runs import RunLedger
from sparkjobs.pipeline.ledger.sqlite import SQLiteLedger
from sparkjobs.pipeline.ledger.tables import MAX_ERROR_CHARS

__all__ = [
    "MAX_ERROR_CHARS",
    "RESUMABLE",
    "RUN_STATUSES",
    "STEP_STATUSES",
    "AttemptRecord",
    "Clock",
    "Holder",
    "LedgerStore",
    "LockInfo",
    "LockTable",
    "PostgresLedger",
    "RunLedger",
    "RunRecord",
    "SQLiteLedger",
    "StepRecord",
    "open_ledger",
    "pid_alive",
    "process_node",
    "utc_now",
]


def open_ledger(
    url: str,
    *,
    pg_schema: str | None = None,
    secrets: Mapping[str, SecretStr] | None = None,
    base_dir: Path | None = None,
    init: bool = True,
    create: bool = True,
    **kwargs: Any,
) -> RunLedger:
    """The ledger at ``url``; relative SQLite paths are taken from ``base_dir`` (default: cwd).

    ``create=False`` (read-only commands): a missing SQLite file raises
    :class:`~sparkjobs.pipeline.errors.NoLedgerError` instead of being created.

    ``secrets``: the libpq secrets kept out of the URL (``password``, ``sslpassword``, …), as
    :class:`~sparkjobs.pipeline.model.StateSettings` holds them.
    """
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not create and not path.is_file():
            raise NoLedgerError(str(path))
        ledger: RunLedger = SQLiteLedger(path, **kwargs)
    elif url.startswith(("postgresql://", "postgres://")):
        ledger = PostgresLedger(url, schema=pg_schema, secrets=secrets, **kwargs)
    else:
        raise LedgerError(
            f"unsupported state store url {mask_text(url)!r}: expected sqlite:///PATH or postgresql://..."
        )
    if init:
        ledger.init_schema()
    return ledger
