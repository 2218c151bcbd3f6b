"""The few DataFrame methods the sparkjobs IO layer and jobs call that SQLFrame's DuckDB frame lacks.

SQLFrame turns an unknown attribute of a frame into a column reference, so ``df.unpersist()`` would
fail with an odd "unexpected column" error. :func:`install` adds, once per process:

- ``unpersist()``: SQLFrame's ``persist()`` keeps nothing, so there is nothing to release;
- ``sortWithinPartitions(*cols)``: an ordering inside Spark's partitions; DuckDB has none (the DuckDB
  writer sorts explicitly), so the frame is returned as is.

It also quiets SQLFrame's warning on every ``persist()``/``cache()`` ("This engine does not support
persist"): the jobs persist for Spark, and on DuckDB the IO layer materialises what must be read
once itself.
"""

from __future__ import annotations

import logging
from typing import Any


def _unpersist(self: Any, blocking: bool = False) -> Any:
    return self


def _sort_within_partitions(self: Any, *cols: Any, **kwargs: Any) -> Any:
    return self


def install() -> None:
    from sqlframe.duckdb import DuckDBDataFrame

    logging.getLogger("sqlframe.base.mixins.dataframe_mixins").setLevel(logging.ERROR)

    for name, method in (("unpersist", _unpersist), ("sortWithinPartitions", _sort_within_partitions)):
        if name not in DuckDBDataFrame.__dict__:
            setattr(DuckDBDataFrame, name, method)
