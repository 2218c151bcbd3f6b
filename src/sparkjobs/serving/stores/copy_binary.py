"""PostgreSQL's binary ``COPY`` format, encoded from Arrow batches.

A fixed-width table (ints, floats, bools, dates) is sent as binary COPY tuples: null-free batches
are packed by numpy in one go (:func:`encode_binary_rows`), batches with nulls row by row
(:func:`encode_rows_with_nulls`). The stream is ``PGCOPY_HEADER``, the tuples, ``PGCOPY_TRAILER``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sparkjobs.serving.stores.sources import column_values
from sparkjobs.serving.stores.spec import ColumnType, TableSpec

if TYPE_CHECKING:
    import pyarrow as pa

#: types encoded by numpy straight into PostgreSQL's binary COPY format: (big-endian dtype, byte size)
FIXED_WIDTH: dict[ColumnType, tuple[str, int]] = {
    "int32": (">i4", 4),
    "int64": (">i8", 8),
    "float64": (">f8", 8),
    "bool": ("?", 1),
    "date": (">i4", 4),
}
PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
PGCOPY_TRAILER = b"\xff\xff"


def encode_binary_rows(batch: pa.RecordBatch, spec: TableSpec) -> bytes:
    """Rows of a null-free, fixed-width batch in PostgreSQL's binary COPY tuple format (no header).

    Each tuple is ``int16 field count`` then, per field, ``int32 length`` and the big-endian value;
    numpy builds them all at once as one packed structured array.
    """
    import numpy as np
    import pyarrow as pa

    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, col in enumerate(spec.columns):
        fields += [(f"l{i}", ">i4"), (f"v{i}", FIXED_WIDTH[col.type][0])]
    out = np.empty(batch.num_rows, dtype=np.dtype(fields))
    out["n"] = len(spec.columns)
    for i, col in enumerate(spec.columns):
        out[f"l{i}"] = FIXED_WIDTH[col.type][1]
        arr = batch.column(i)
        if col.type == "date":
            values = arr.cast(pa.int32()).to_numpy(zero_copy_only=False) - PG_EPOCH_DAYS
        else:
            values = arr.to_numpy(zero_copy_only=False)
        out[f"v{i}"] = values
    return out.tobytes()


def encode_rows_with_nulls(batch: pa.RecordBatch, spec: TableSpec) -> bytes:
    """Binary COPY tuples of a fixed-width batch that has nulls (length -1 marks a null)."""
    import struct

    formats = {"int32": ">i", "int64": ">q", "float64": ">d", "bool": ">?", "date": ">i"}
    cols = [column_values(batch.column(i), c.type, iso_dates=False) for i, c in enumerate(spec.columns)]
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
            size = FIXED_WIDTH[col.type][1]
            out += struct.pack(">i", size) + struct.pack(formats[col.type], value)
    return bytes(out)
