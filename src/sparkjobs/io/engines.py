"""The lake's readers and writers for the session at hand: Spark's, or DuckDB's through SQLFrame.

A job builds its IO with these instead of the classes, and runs unchanged on both engines::

    fs = io.file_system(spark)
    bronze = io.parquet_writer(spark, cfg.bronze_path, ["event_period"], fs=fs)

On a SparkSession they return :class:`HadoopFileSystem`, :class:`ParquetWriter`,
:class:`RawFileReader` and :class:`PreviousOutputReader`; on a SQLFrame DuckDB session their DuckDB
counterparts (:mod:`sparkjobs.io.duckdb_writer`, :mod:`~sparkjobs.io.duckdb_reader`,
:mod:`~sparkjobs.io.duckdb_previous`), which keep the same contracts on local paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkjobs.io.duckdb_tables import is_duckdb
from sparkjobs.io.filesystem import HadoopFileSystem, LocalFileSystem
from sparkjobs.io.previous import PreviousOutputReader
from sparkjobs.io.readers import RawFileReader, RecordSchema
from sparkjobs.io.writers import ParquetWriter


def file_system(spark: Any) -> HadoopFileSystem | LocalFileSystem:
    """Hadoop's file system through Spark's JVM, or the local one on DuckDB."""
    return LocalFileSystem() if is_duckdb(spark) else HadoopFileSystem(spark)


def parquet_writer(spark: Any, path: str, partition_by: Sequence[str], **options: Any) -> ParquetWriter:
    if is_duckdb(spark):
        from sparkjobs.io.duckdb_writer import DuckDBParquetWriter

        return DuckDBParquetWriter(spark, path, partition_by, **options)
    return ParquetWriter(spark, path, partition_by, **options)


def raw_reader(spark: Any, schema: RecordSchema, **options: Any) -> RawFileReader:
    if is_duckdb(spark):
        from sparkjobs.io.duckdb_reader import DuckDBRawFileReader

        return DuckDBRawFileReader(spark, schema, **options)
    return RawFileReader(spark, schema, **options)


def previous_reader(spark: Any, path: str, schema: Any, **options: Any) -> PreviousOutputReader:
    if is_duckdb(spark):
        from sparkjobs.io.duckdb_previous import DuckDBPreviousOutputReader

        return DuckDBPreviousOutputReader(spark, path, schema, **options)
    return PreviousOutputReader(spark, path, schema, **options)
