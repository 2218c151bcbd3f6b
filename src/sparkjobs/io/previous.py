"""Read what a job wrote before: to drop rows an earlier run already stored, or to rewrite a partition.

The seeds' "filter" job removed events that an earlier day's delivery had already brought; this is
that pattern as a building block::

    previous = PreviousOutputReader(spark, "data/lake/bronze/events", schema=BRONZE_SCHEMA)
    fresh = previous.new_rows(batch, keys=["user_id", "item_id", "rating", "timestamp"],
                              where=F.col("event_date") < F.lit(run_date))

Before the first run there is no output: :meth:`read` then returns an empty frame with the schema,
so the first run needs no special case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sparkjobs.io.filesystem import HadoopFileSystem, driver_side_listing
from sparkjobs.io.swap import recover

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType


class PreviousOutputReader:
    """The Parquet output at ``path``, read with an explicit schema (partition columns included)."""

    def __init__(
        self,
        spark: SparkSession,
        path: str,
        schema: StructType | str,
        *,
        fs: HadoopFileSystem | None = None,
        listing_threshold: int | None = None,
    ) -> None:
        self.spark = spark
        self.path = path
        self.schema = schema
        self.fs = fs or HadoopFileSystem(spark)
        self.listing_threshold = listing_threshold

    def exists(self) -> bool:
        """True once some run has written data files (in partition directories or at the root)."""
        return bool(self.fs.list_dirs(self.path) or self.fs.list_files(self.path))

    def read(self, where: Column | str | None = None) -> DataFrame:
        """The stored rows (filtered by ``where``; partition filters prune directories)."""
        recover(self.fs, self.path)  # finish a swap a killed writer left (see sparkjobs.io.swap)
        if not self.exists():
            return self.spark.createDataFrame([], self.schema)
        with driver_side_listing(self.spark, self.listing_threshold):
            df = self.spark.read.schema(self.schema).parquet(self.path)
        return df if where is None else df.filter(where)

    def new_rows(self, df: DataFrame, keys: Sequence[str], where: Column | str | None = None) -> DataFrame:
        """Rows of ``df`` whose ``keys`` are not in the previous output (null keys compare equal)."""
        from sparkjobs.sql import F

        if not keys:
            raise ValueError("new_rows needs at least one key column")
        stored = self.read(where).select(*[F.col(k).alias(f"__prev_{k}") for k in keys]).distinct()
        # by name, not df[k]: the stored side's columns are renamed, so nothing is ambiguous, and
        # SQLFrame binds df[k] of a persisted frame to its cache table, which a later agg cannot find
        condition = [F.col(k).eqNullSafe(F.col(f"__prev_{k}")) for k in keys]
        return df.join(stored, on=condition, how="left_anti")
