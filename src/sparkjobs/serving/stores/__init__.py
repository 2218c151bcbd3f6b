"""Serving stores: load a set of tables as ONE snapshot, swapped in atomically.

A :class:`SnapshotStore` holds the tables an online service reads (declared once as
:class:`TableSpec`\\ s) plus a metadata table whose latest row names the snapshot being served.
PostgreSQL and SQLite have the same API, the same schema and the same swap semantics::

    store = open_store(StoreSettings(url="postgresql://app@db/serving"), TABLES)
    store.load_snapshot({"items": items_table, ...}, snapshot_date=date(2024, 5, 1), run_id=run_id)
    rows = store.fetch_all("SELECT title FROM items WHERE item_id = :item_id", {"item_id": 7})

Inputs are pyarrow ``Table``\\ s, ``RecordBatchReader``\\ s, iterables of ``RecordBatch`` or a
zero-argument callable returning one of those. Only tables and callables can be replayed, so only
they are retried by the injected retry policy; a one-shot iterator gets one attempt.

One module per concept and per dialect:

==================  ===========================================================================
``errors``          the error tree (``SnapshotLoadError``, ``StoreUnavailableError``, ...)
``settings``        :class:`StoreSettings`: the URL, pool and timeouts of a ``store:`` section
``spec``            :class:`Column`, :class:`TableSpec` and their Arrow types
``snapshot``        :class:`SnapshotInfo` (a metadata row), :class:`LoadResult`
``policy``          the injected :class:`CallPolicy` (retry, circuit breaker) and its null object
``sources``         a table's load input, reopened per attempt and conformed to its spec
``base``            the abstract :class:`SnapshotStore` that owns the control flow
``sqlite``          :class:`SQLiteSnapshotStore`
``postgres``        :class:`PostgresSnapshotStore`
``copy_binary``     PostgreSQL's binary COPY encoder
==================  ===========================================================================

This package is a building block: it imports nothing from sparkjobs above the building-blocks
layer. Transient or terminal is decided by :mod:`sparkjobs.resilience.classify` (a sibling in that
layer), so a store and a retry policy always agree. pyarrow, numpy and psycopg are imported only
when a load or a PostgreSQL store needs them, so a SQLite reader (an API process) needs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkjobs.serving.stores.base import Closing, SnapshotStore
from sparkjobs.serving.stores.copy_binary import encode_binary_rows, encode_rows_with_nulls
from sparkjobs.serving.stores.errors import (
    InputError,
    NoSnapshotError,
    SnapshotLoadError,
    StoreQueryError,
    StoreUnavailableError,
)
from sparkjobs.serving.stores.policy import CallPolicy
from sparkjobs.serving.stores.postgres import PostgresSnapshotStore, to_pyformat
from sparkjobs.serving.stores.settings import StoreSettings
from sparkjobs.serving.stores.snapshot import LoadResult, SnapshotInfo
from sparkjobs.serving.stores.sources import TableSource
from sparkjobs.serving.stores.spec import Column, ColumnType, TableSpec
from sparkjobs.serving.stores.sqlite import SQLiteSnapshotStore


def open_store(settings: StoreSettings | str, tables: Sequence[TableSpec], **kwargs: Any) -> SnapshotStore:
    """The store ``settings.url`` names (``sqlite://`` or ``postgresql://``); nothing connects yet."""
    if isinstance(settings, str):
        settings = StoreSettings(url=settings)
    if settings.kind == "sqlite":
        return SQLiteSnapshotStore(settings, tables, **kwargs)
    return PostgresSnapshotStore(settings, tables, **kwargs)


__all__ = [
    "CallPolicy",
    "Closing",
    "Column",
    "ColumnType",
    "InputError",
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
    "TableSource",
    "TableSpec",
    "encode_binary_rows",
    "encode_rows_with_nulls",
    "open_store",
    "to_pyformat",
]
