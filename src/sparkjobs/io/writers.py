"""Write partitioned Parquet so that a rerun replaces exactly what it produced, nothing more.

:meth:`ParquetWriter.overwrite_partitions` overwrites partitions *dynamically*: only the
partitions the frame has rows for are replaced, every other partition is left alone. The new
partitions are written to a staging folder first and swapped in by the journaled protocol of
:mod:`sparkjobs.io.swap`, so a process killed at any point leaves each partition old or new,
never missing (the next write or read of the table finishes the swap). Partitions
the caller names in ``replace`` but for which the frame has no rows are deleted, so that a rerun
that now produces nothing for a date also removes that date's old rows.

:meth:`ParquetWriter.replace_where` is the same at a finer grain (like Delta Lake's
``replaceWhere``): inside the named partitions, the stored rows matching a condition are replaced
by the new rows and the other stored rows are kept. It lets a table partitioned by month be
rewritten one *day* at a time, idempotently.

Rows are range-partitioned on the partition and sort columns and sorted within each task, so a
write uses every core even when it fills a single partition (a snapshot date), and each output
partition holds one or more files whose rows, taken in file-name order, are sorted: a rerun on
the same input writes the same rows in the same order. Which partitions were written is read
from the staging folder after the write (one listing, no Spark job).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sparkjobs.errors import DataError, StorageFullError
from sparkjobs.io.filesystem import HadoopFileSystem, partition_value, partition_values
from sparkjobs.io.previous import PreviousOutputReader
from sparkjobs.io.swap import StepHook, Swap, recover

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: how a full disk or an exceeded quota reads in Java and OS error messages
#: marks the error a stray row of :meth:`ParquetWriter.replace_where` raises inside the write job
STRAY_ROW = "SPARKJOBS_STRAY_ROW"
DISK_FULL = ("No space left on device", "Disk quota exceeded", "DSQuotaExceededException")
PartitionSpec = Mapping[str, Any]
OnEmpty = Literal["delete", "write_empty"]


def _relative(spec: Mapping[str, str]) -> str:
    """``col=value/...``: a partition's directory relative to the table root (values as escaped by
    :meth:`ParquetWriter._spec`, so not escaped a second time as :func:`partition_dir` would)."""
    return "/".join(f"{name}={value}" for name, value in spec.items())


@dataclass(frozen=True)
class WriteResult:
    """What a write changed: partitions written, (now empty) partitions deleted or written empty."""

    path: str
    written: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    emptied: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "partitions_written": len(self.written),
            "partitions_deleted": len(self.deleted),
            "partitions_emptied": len(self.emptied),
        }


class ParquetWriter:
    """A Parquet table at ``path`` partitioned by ``partition_by`` (at least one column)."""

    def __init__(
        self,
        spark: SparkSession,
        path: str,
        partition_by: Sequence[str],
        *,
        sort_within: Sequence[str] = (),
        compression: str = "snappy",
        fs: HadoopFileSystem | None = None,
        listing_threshold: int | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        if not partition_by:
            raise ValueError("ParquetWriter needs at least one partition column")
        self.spark = spark
        self.path = path
        self.partition_by = list(partition_by)
        self.sort_within = list(sort_within)
        self.compression = compression
        self.fs = fs or HadoopFileSystem(spark)
        self.listing_threshold = listing_threshold
        self.on_step = on_step

    # -- partitions --------------------------------------------------------------------------------
    def _spec(self, spec: PartitionSpec) -> dict[str, str]:
        missing = [c for c in self.partition_by if c not in spec]
        extra = [c for c in spec if c not in self.partition_by]
        if missing or extra:
            raise ValueError(
                f"partition spec {dict(spec)} does not match the partition columns {self.partition_by}"
            )
        return {c: partition_value(spec[c]) for c in self.partition_by}

    def existing_partitions(self) -> list[dict[str, str]]:
        """Partition specs present on storage (first partition column only for nested layouts)."""
        first = self.partition_by[0]
        if len(self.partition_by) > 1:
            raise ValueError("existing_partitions lists single-column partitioning only")
        return [{first: value} for value in self.fs.partitions(self.path, first)]

    @staticmethod
    def _functions() -> Any:
        """The DataFrame functions of this writer's engine (``pyspark.sql.functions`` here)."""
        from pyspark.sql import functions

        return functions

    def partition_filter(self, partitions: Sequence[PartitionSpec]) -> Column:
        """A condition true exactly for rows inside ``partitions`` (text comparison, as on disk)."""
        F = self._functions()
        specs = [self._spec(p) for p in partitions]
        if not specs:
            return F.lit(False)
        if len(self.partition_by) == 1:  # one IN list: a chain of ORs nests too deep for SQLFrame
            column = self.partition_by[0]
            return F.col(column).cast("string").isin([s[column] for s in specs])
        condition = F.lit(False)
        for spec in specs:
            match = F.lit(True)
            for column, value in spec.items():
                match = match & (F.col(column).cast("string") == F.lit(value))
            condition = condition | match
        return condition

    @contextmanager
    def _staging(self, swap: Swap) -> Iterator[None]:
        """A failed staging write drops what it staged (the live table was never touched); a full
        disk becomes a :class:`StorageFullError` that says so."""
        try:
            yield
        except Exception as exc:
            # frees the space the staged files took; if even that fails, the next write rolls it back
            with suppress(Exception):
                swap.abort(self.fs)
            message = str(exc)
            if STRAY_ROW in message:
                found = re.search(rf"{STRAY_ROW}: (.*?)(?: SQLSTATE|$)", message, re.MULTILINE)
                row = found.group(1) if found else "(not shown)"
                raise DataError(
                    f"replace_where on {self.path}: new row {row} is outside the replaced "
                    "partitions or does not match the removal condition; nothing was written"
                ) from None
            if any(marker in message for marker in DISK_FULL):
                raise StorageFullError(
                    f"no space left on the device while writing {self.path}: the table is unchanged "
                    "(the staged partitions were removed); free space or raise the quota, then rerun"
                ) from exc
            raise

    def _staged_partitions(self, staging: str) -> list[dict[str, str]]:
        """The partitions a write put under ``staging`` (values as Spark spelled the directories)."""
        specs: list[dict[str, str]] = [{}]
        for column in self.partition_by:
            specs = [
                {**spec, column: value}
                for spec in specs
                for value in partition_values(
                    self.fs.list_dirs(f"{staging}/{_relative(spec)}" if spec else staging), column
                )
            ]
        return specs

    def _live_partitions(self, specs: list[dict[str, str]]) -> list[dict[str, str]]:
        """Those of ``specs`` that exist in the live table (one listing for single-column tables)."""
        if len(self.partition_by) == 1:
            column = self.partition_by[0]
            live = set(self.fs.partitions(self.path, column))
            return [spec for spec in specs if spec[column] in live]
        return [spec for spec in specs if self.fs.exists(f"{self.path.rstrip('/')}/{_relative(spec)}")]

    # -- writes ------------------------------------------------------------------------------------
    def overwrite_partitions(
        self,
        df: DataFrame,
        *,
        replace: Sequence[PartitionSpec] = (),
        on_empty: OnEmpty = "delete",
        present: Sequence[PartitionSpec] | None = None,
    ) -> WriteResult:
        """Dynamic partition overwrite of ``df``.

        A partition named in ``replace`` for which ``df`` has no rows is deleted
        (``on_empty="delete"``), or replaced by one empty Parquet file that carries the schema
        (``on_empty="write_empty"``: for snapshot tables, where "no rows today" must still be
        readable as a snapshot). ``present=[]`` says that ``df`` has no rows, so nothing is written
        (no Spark job); otherwise the partitions written are those the write produced.
        """
        from pyspark.sql import functions as F

        missing = [c for c in self.partition_by if c not in df.columns]
        if missing:
            raise DataError(f"cannot write {self.path}: the frame lacks partition column(s) {missing}")
        order = [F.col(c) for c in [*self.partition_by, *self.sort_within]]
        recover(self.fs, self.path)
        swap = Swap.begin(self.path)
        written: list[dict[str, str]] = []
        if present is None or present:
            with self._staging(swap):
                (
                    df.repartitionByRange(*order)
                    .sortWithinPartitions(*order)
                    .write.mode("overwrite")
                    .option("partitionOverwriteMode", "static")  # a fresh folder: no per-partition renames
                    .option("compression", self.compression)
                    .partitionBy(*self.partition_by)
                    .parquet(swap.staging)
                )
            written = self._staged_partitions(swap.staging)
        present_keys = {tuple(p.items()) for p in written}
        named = [self._spec(p) for p in replace]
        absent = [spec for spec in named if tuple(spec.items()) not in present_keys]
        deleted: list[dict[str, str]] = []
        emptied: list[dict[str, str]] = []
        if on_empty == "write_empty":
            for spec in absent:
                with self._staging(swap):
                    df.limit(0).drop(*self.partition_by).coalesce(1).write.mode("overwrite").option(
                        "compression", self.compression
                    ).parquet(f"{swap.staging}/{_relative(spec)}")
                emptied.append(spec)
        elif absent:
            deleted = self._live_partitions(absent)
        if written or emptied or deleted:
            swap.commit(
                self.fs,
                moves=[_relative(spec) for spec in [*written, *emptied]],
                deletes=[_relative(spec) for spec in deleted],
                on_step=self.on_step,
            )
        else:
            swap.abort(self.fs)
        return WriteResult(self.path, sorted(written, key=lambda p: tuple(p.values())), deleted, emptied)

    def replace_where(
        self,
        new: DataFrame,
        *,
        remove: Column,
        partitions: Sequence[PartitionSpec],
        new_rows: int | None = None,
    ) -> WriteResult:
        """Inside ``partitions``: drop stored rows matching ``remove``, keep the others, add ``new``.

        Every row of ``new`` must fall inside ``partitions`` and match ``remove`` (so that a rerun
        removes what the previous run added); a violation is a :class:`DataError`, nothing is
        written (the check runs inside the write job, not as a Spark action of its own). The
        stored rows of a partition are read while the partition is rewritten: the new partition
        is staged completely before the swap.

        ``new_rows=0`` says that ``new`` is empty: when no stored row of ``partitions`` matches
        ``remove`` either, nothing changes and nothing is written.
        """
        from pyspark.sql import functions as F

        inside = self.partition_filter(partitions)
        previous = PreviousOutputReader(
            self.spark, self.path, new.schema, fs=self.fs, listing_threshold=self.listing_threshold
        )
        specs = [self._spec(p) for p in partitions]
        if new_rows == 0:
            stored = self._live_partitions(specs)
            if not stored or not previous.read(self.partition_filter(stored) & remove).limit(1).collect():
                return WriteResult(self.path)
        stray = F.raise_error(F.concat(F.lit(f"{STRAY_ROW}: "), F.to_json(F.struct(*new.columns))))
        checked = new.filter(F.when(F.coalesce(inside & remove, F.lit(False)), F.lit(True)).otherwise(stray))
        # one filter, so that Parquet statistics skip the files that hold only replaced rows
        kept = previous.read(inside & ~F.coalesce(remove, F.lit(False)))
        return self.overwrite_partitions(kept.unionByName(checked), replace=partitions)
