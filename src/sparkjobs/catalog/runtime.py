"""``context.catalog``: load and save a job's datasets by name, through the sparkjobs.io readers/writers.

- :meth:`DataCatalog.load` returns a DataFrame. Parquet is read as stored; csv/json with a
  schema go through :class:`~sparkjobs.io.RawFileReader` and a rejected row fails the load with
  the counts by reason (:meth:`DataCatalog.read` returns the :class:`~sparkjobs.io.ReadResult`
  instead, to keep the valid rows and quarantine the rest); csv/json without a schema are read by
  Spark with the entry's options.
- :meth:`DataCatalog.save` writes a partitioned Parquet dataset with
  :meth:`~sparkjobs.io.ParquetWriter.overwrite_partitions` (only the partitions the frame has
  rows for are replaced, atomically per partition); an unpartitioned dataset or another format is
  overwritten whole by Spark.

A job may use only the datasets it declares (``inputs`` for loads, ``outputs`` for saves), so that
what a pipeline infers from the declarations is what the job does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkjobs.catalog.declare import DatasetUse
from sparkjobs.catalog.model import DatasetSpec
from sparkjobs.errors import ConfigError, DataError, JobContractError
from sparkjobs.io.readers import InputFormat, RawFileReader, ReadResult
from sparkjobs.io.writers import OnEmpty, ParquetWriter, PartitionSpec, WriteResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class DataCatalog:
    """The datasets of one run (placeholders rendered), restricted to what the job declares."""

    def __init__(
        self,
        datasets: Mapping[str, DatasetSpec],
        *,
        use: DatasetUse | None = None,
        job: str = "(job)",
        spark: Callable[[], SparkSession] | None = None,
    ) -> None:
        self.datasets = dict(datasets)
        self.use = use or DatasetUse()
        self.job = job
        self._spark = spark

    def names(self) -> list[str]:
        return list(self.datasets)

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            raise JobContractError(
                f"the catalog of job {self.job!r} has no SparkSession to read or write with"
            )
        return self._spark()

    # -- lookup ---------------------------------------------------------------------------------
    def dataset(self, name: str, *, purpose: str = "use") -> DatasetSpec:
        """The entry ``name``; it must be in the catalog and among the job's inputs or outputs."""
        allowed = self.use.outputs if purpose == "save" else (*self.use.inputs, *self.use.outputs)
        if name not in allowed:
            where = "outputs" if purpose == "save" else "inputs (or outputs)"
            raise JobContractError(
                f"job {self.job!r} cannot {purpose} dataset {name!r}: it is not in the job's {where} "
                f"(declared inputs {list(self.use.inputs)}, outputs {list(self.use.outputs)}); add it to "
                "the factory's inputs/outputs so that pipelines order steps by it"
            )
        if name not in self.datasets:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigError(
                f"dataset {name!r} is not in the catalog{hint}",
                key=f"catalog.{name}",
                expected=f"an entry with path and format under catalog: (conf/base/catalog.yml); "
                f"defined: {self.names() or '(none)'}",
            )
        return self.datasets[name]

    def path(self, name: str) -> str:
        return self.dataset(name).path

    # -- reads ----------------------------------------------------------------------------------
    def read(self, name: str, *, listing_threshold: int | None = None) -> ReadResult:
        """A csv/json dataset with a schema, read into valid and rejected rows (with reasons)."""
        spec = self.dataset(name, purpose="load")
        schema = spec.record_schema()
        if schema is None or spec.format == "parquet":
            raise JobContractError(
                f"catalog.read({name!r}) needs a csv or json dataset with a schema; "
                f"{name!r} is {spec.format}{'' if schema else ' without a schema'}: use catalog.load()"
            )
        fmt: InputFormat = "csv" if spec.format == "csv" else "json"
        reader = RawFileReader(
            self.spark, schema, format=fmt, options=spec.spark_options(), listing_threshold=listing_threshold
        )
        return reader.read(spec.path)

    def load(self, name: str) -> DataFrame:
        """The dataset as a DataFrame; a csv/json row its schema rejects fails the load."""
        spec = self.dataset(name, purpose="load")
        if spec.columns is not None:
            result = self.read(name).persist()
            counts = result.counts()
            if counts.rejected:
                result.unpersist()
                raise DataError(
                    f"dataset {name!r} ({spec.path}): {counts.rejected} of {counts.total} rows rejected "
                    f"by its schema, by reason {counts.by_reason}; use catalog.read({name!r}) to keep "
                    "the valid rows and quarantine the others"
                )
            return result.valid
        from pyspark.errors import AnalysisException

        try:
            return self.spark.read.format(spec.format).options(**spec.spark_options()).load(spec.path)
        except AnalysisException as exc:
            raise DataError(f"cannot read dataset {name!r} ({spec.format} at {spec.path}): {exc}") from exc

    # -- writes ---------------------------------------------------------------------------------
    def save(
        self,
        df: DataFrame,
        name: str,
        *,
        replace: Sequence[PartitionSpec] = (),
        on_empty: OnEmpty = "delete",
    ) -> WriteResult:
        """Write ``df`` to dataset ``name`` (``replace``/``on_empty``: see ParquetWriter)."""
        spec = self.dataset(name, purpose="save")
        missing = [c for c in spec.partition_by if c not in df.columns]
        if missing:
            raise DataError(
                f"cannot save dataset {name!r}: the frame lacks its partition column(s) {missing} "
                f"(catalog.{name}.partition_by = {spec.partition_by})"
            )
        if spec.format == "parquet" and spec.partition_by:
            writer = ParquetWriter(
                self.spark,
                spec.path,
                spec.partition_by,
                sort_within=spec.sort_within,
                compression=str(spec.options.get("compression", "snappy")),
            )
            return writer.overwrite_partitions(df, replace=replace, on_empty=on_empty)
        if replace:
            raise JobContractError(
                f"save({name!r}, replace=...) needs a partitioned parquet dataset; {name!r} is "
                f"{spec.format} partitioned by {spec.partition_by or 'nothing'}"
            )
        writer_: Any = df.write.mode("overwrite").format(spec.format).options(**spec.spark_options())
        if spec.partition_by:
            writer_ = writer_.option("partitionOverwriteMode", "dynamic").partitionBy(*spec.partition_by)
        writer_.save(spec.path)
        return WriteResult(spec.path)
