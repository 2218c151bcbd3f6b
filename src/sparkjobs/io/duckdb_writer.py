"""Partitioned Parquet on the DuckDB engine, with the Spark writer's contract and crash-safety.

:class:`DuckDBParquetWriter` is :class:`~sparkjobs.io.writers.ParquetWriter` for a SQLFrame DuckDB
session: the same ``overwrite_partitions`` (dynamic: only the partitions the frame has rows for
are replaced; ``replace`` names partitions to delete or write empty) and ``replace_where``.

DuckDB's own ``COPY ... (PARTITION_BY ...)`` modes are not a dynamic partition overwrite
(``OVERWRITE_OR_IGNORE`` replaces same-named files only, so stale rows survive; ``OVERWRITE``
wipes every partition), so the new partitions are written by one ``COPY`` into the staging folder
of a :class:`~sparkjobs.io.swap.Swap` and swapped in by the same journaled protocol as on Spark: a
process killed at any point leaves each partition old or new, never missing, and the next write or
read of the table finishes the swap.

The frame is materialised once (a temporary table) before anything is staged, so a
``replace_where`` that reads the partitions it rewrites sees the old rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkjobs.errors import DataError
from sparkjobs.io.duckdb_previous import DuckDBPreviousOutputReader
from sparkjobs.io.duckdb_tables import connection, drop, materialize, quote_ident, quote_text
from sparkjobs.io.filesystem import LocalFileSystem, partition_value
from sparkjobs.io.swap import StepHook, Swap, recover
from sparkjobs.io.writers import OnEmpty, ParquetWriter, PartitionSpec, WriteResult, _relative

#: DuckDB's names for the compressions Spark accepts
_COMPRESSION = {"snappy": "snappy", "gzip": "gzip", "zstd": "zstd", "none": "uncompressed", "lz4": "lz4_raw"}


class DuckDBParquetWriter(ParquetWriter):
    """A Parquet table at a local ``path`` partitioned by ``partition_by``, written by DuckDB."""

    def __init__(
        self,
        spark: Any,
        path: str,
        partition_by: Sequence[str],
        *,
        sort_within: Sequence[str] = (),
        compression: str = "snappy",
        fs: LocalFileSystem | None = None,
        listing_threshold: int | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        if compression not in _COMPRESSION:
            raise ValueError(f"compression {compression!r}: expected one of {sorted(_COMPRESSION)}")
        super().__init__(
            spark,
            path,
            partition_by,
            sort_within=sort_within,
            compression=compression,
            fs=fs or LocalFileSystem(),  # type: ignore[arg-type]
            listing_threshold=listing_threshold,
            on_step=on_step,
        )

    @staticmethod
    def _functions() -> Any:
        """SQLFrame's DuckDB functions, whatever engine scope the caller is in."""
        from sqlframe.duckdb import functions

        return functions

    def overwrite_partitions(
        self,
        df: Any,
        *,
        replace: Sequence[PartitionSpec] = (),
        on_empty: OnEmpty = "delete",
        present: Sequence[PartitionSpec] | None = None,
    ) -> WriteResult:
        """Dynamic partition overwrite of ``df`` (see :meth:`ParquetWriter.overwrite_partitions`)."""
        missing = [c for c in self.partition_by if c not in df.columns]
        if missing:
            raise DataError(f"cannot write {self.path}: the frame lacks partition column(s) {missing}")
        conn = connection(self.spark)
        name, _frame = materialize(self.spark, df, "write")
        try:
            keys = ", ".join(quote_ident(c) for c in self.partition_by)
            if present is not None:
                written = [self._spec(p) for p in present]
            else:
                rows = conn.execute(f"SELECT DISTINCT {keys} FROM {quote_ident(name)}").fetchall()
                written = [
                    {c: partition_value(v) for c, v in zip(self.partition_by, row, strict=True)}
                    for row in rows
                ]
            recover(self.fs, self.path)
            swap = Swap.begin(self.path)
            if written:
                with self._staging(swap):
                    self._copy(conn, name, swap.staging, written)
            present_keys = {tuple(p.items()) for p in written}
            deleted: list[dict[str, str]] = []
            emptied: list[dict[str, str]] = []
            for spec in (self._spec(p) for p in replace):
                if tuple(spec.items()) in present_keys:
                    continue
                if on_empty == "write_empty":
                    with self._staging(swap):
                        self._copy_empty(conn, name, f"{swap.staging}/{_relative(spec)}")
                    emptied.append(spec)
                elif self.fs.exists(f"{self.path.rstrip('/')}/{_relative(spec)}"):
                    deleted.append(spec)
            if written or emptied or deleted:
                swap.commit(
                    self.fs,
                    moves=[_relative(spec) for spec in [*written, *emptied]],
                    deletes=[_relative(spec) for spec in deleted],
                    on_step=self.on_step,
                )
            else:
                swap.abort(self.fs)
        finally:
            drop(self.spark, name)
        return WriteResult(self.path, sorted(written, key=lambda p: tuple(p.values())), deleted, emptied)

    def _copy(self, conn: Any, table: str, staging: str, written: list[dict[str, str]]) -> None:
        order = ", ".join(quote_ident(c) for c in [*self.partition_by, *self.sort_within])
        keys = ", ".join(quote_ident(c) for c in self.partition_by)
        self.fs.make_dirs(staging)
        conn.execute(
            f"COPY (SELECT * FROM {quote_ident(table)} ORDER BY {order}) TO {quote_text(staging)} "
            f"(FORMAT parquet, PARTITION_BY ({keys}), COMPRESSION {_COMPRESSION[self.compression]}, "
            "OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part-{i}')"
        )
        # DuckDB names the directories itself: they must be the ones Spark (and the swap) expects
        for spec in written:
            if not self.fs.is_dir(f"{staging}/{_relative(spec)}"):
                raise DataError(
                    f"writing {self.path}: DuckDB did not stage partition {_relative(spec)} "
                    f"(found {sorted(self.fs.list_dirs(staging))}); partition values with characters "
                    "that need escaping are not supported on the duckdb engine"
                )

    def _copy_empty(self, conn: Any, table: str, target: str) -> None:
        columns = [
            r[0]
            for r in conn.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
            if r[0] not in self.partition_by
        ]
        select = ", ".join(quote_ident(c) for c in columns)
        self.fs.make_dirs(target)
        conn.execute(
            f"COPY (SELECT {select} FROM {quote_ident(table)} LIMIT 0) TO "
            f"{quote_text(target + '/part-0.parquet')} "
            f"(FORMAT parquet, COMPRESSION {_COMPRESSION[self.compression]})"
        )

    def replace_where(
        self,
        new: Any,
        *,
        remove: Any,
        partitions: Sequence[PartitionSpec],
        new_rows: int | None = None,
    ) -> WriteResult:
        """Inside ``partitions``: drop stored rows matching ``remove``, keep the others, add ``new``.

        ``new_rows=0`` says that ``new`` is empty: when no stored row of ``partitions`` matches
        ``remove`` either, nothing changes and nothing is written (as on Spark).
        """
        from sparkjobs.sql import F

        inside = self.partition_filter(partitions)
        previous = DuckDBPreviousOutputReader(self.spark, self.path, _ddl_of(new), fs=self.fs)  # type: ignore[arg-type]
        if new_rows == 0 and not previous.read(inside & remove).limit(1).collect():
            return WriteResult(self.path)
        stray = new.filter(~F.coalesce(inside & remove, F.lit(False))).limit(1).collect()
        if stray:
            raise DataError(
                f"replace_where on {self.path}: new row {stray[0].asDict()} is outside the replaced "
                "partitions or does not match the removal condition"
            )
        kept = previous.read(inside & ~F.coalesce(remove, F.lit(False)))
        return self.overwrite_partitions(kept.unionByName(new), replace=partitions)


def _ddl_of(df: Any) -> str:
    """``name type, ...`` of a SQLFrame frame, in Spark's type names. A decimal (DuckDB types a
    literal such as ``2.0`` as ``DECIMAL(2,1)`` where Spark says double) is read as a double."""
    columns = []
    for f in df.schema.fields:
        kind = f.dataType.simpleString()
        columns.append(f"{f.name} {'double' if kind.startswith('decimal') else kind}")
    return ", ".join(columns)
