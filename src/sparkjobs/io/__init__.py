"""Readers and writers for the lake: explicit schemas, quarantine, idempotent partitioned writes.

- :class:`RawFileReader` reads CSV/JSON lines with a :class:`RecordSchema`; malformed rows come
  back separately, with a reason and counts (:class:`ReadResult`, :class:`RejectionCounts`).
- :class:`ParquetWriter` writes with dynamic partition overwrite (``overwrite_partitions``) and
  replaces the rows of one logical date inside coarser partitions (``replace_where``).
- :class:`PreviousOutputReader` reads what earlier runs wrote, e.g. to drop re-sent events.
- :class:`HadoopFileSystem` lists and deletes partition directories on any Hadoop file system.
- :func:`file_system`, :func:`parquet_writer`, :func:`raw_reader`, :func:`previous_reader` build
  the above for the session's engine (Spark, or DuckDB through SQLFrame: :mod:`sparkjobs.io.engines`).

Importing this package never imports pyspark. (The serving stores live in
:mod:`sparkjobs.serving.stores`.)
"""

from sparkjobs.io.engines import file_system, parquet_writer, previous_reader, raw_reader
from sparkjobs.io.filesystem import (
    HadoopFileSystem,
    LocalFileSystem,
    driver_side_listing,
    partition_dir,
    partition_value,
)
from sparkjobs.io.previous import PreviousOutputReader
from sparkjobs.io.readers import (
    CORRUPT_COLUMN,
    DETAIL,
    MALFORMED,
    RAW_RECORD,
    REASON,
    FieldSpec,
    RawFileReader,
    ReadResult,
    RecordSchema,
    RejectionCounts,
    check_record,
)
from sparkjobs.io.writers import ParquetWriter, WriteResult

__all__ = [
    "CORRUPT_COLUMN",
    "DETAIL",
    "MALFORMED",
    "RAW_RECORD",
    "REASON",
    "FieldSpec",
    "HadoopFileSystem",
    "LocalFileSystem",
    "ParquetWriter",
    "PreviousOutputReader",
    "RawFileReader",
    "ReadResult",
    "RecordSchema",
    "RejectionCounts",
    "WriteResult",
    "check_record",
    "driver_side_listing",
    "file_system",
    "parquet_writer",
    "partition_dir",
    "partition_value",
    "previous_reader",
    "raw_reader",
]
