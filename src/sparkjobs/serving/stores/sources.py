"""Load inputs: one table's Arrow input, reopened per attempt and conformed to its spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sparkjobs.errors import LoadError
from sparkjobs.serving.stores.errors import InputError
from sparkjobs.serving.stores.spec import ColumnType, TableSpec

if TYPE_CHECKING:
    import pyarrow as pa

TableSource = Any  # pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch] | Callable[[], <one of those>]


class LoadSource:
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
        raise InputError(spec.name, f"missing column(s) {missing}; got {batch.schema.names}")
    arrays = []
    for col, fld in zip(spec.columns, schema, strict=True):
        arr = batch.column(col.name)
        if arr.type != fld.type:
            try:
                arr = arr.cast(fld.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputError(
                    spec.name, f"column {col.name!r} ({arr.type}) does not fit {col.type}: {exc}"
                ) from exc
        if not col.nullable and arr.null_count:
            raise InputError(spec.name, f"column {col.name!r} has {arr.null_count} null(s) but is NOT NULL")
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def column_values(arr: Any, kind: ColumnType, *, iso_dates: bool) -> list[Any]:
    """An Arrow column as Python values; dates and timestamps as ISO text when ``iso_dates``."""
    values = arr.to_pylist()
    if iso_dates and kind in ("date", "timestamp"):
        return [v.isoformat() if v is not None else None for v in values]
    return list(values)
