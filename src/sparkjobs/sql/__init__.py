"""DataFrame functions that work on every engine: ``from sparkjobs.sql import F, T, Window``.

A job written once runs on Spark and on DuckDB (through SQLFrame). ``F``, ``T`` and ``Window``
stand for ``pyspark.sql.functions``, ``pyspark.sql.types`` and ``pyspark.sql.Window`` — or for
SQLFrame's DuckDB equivalents — and are resolved on every use for the engine of the run in
progress (:func:`current_engine`; the executor sets it with :func:`engine_scope` around the job).
So import the three names, never single functions from them::

    from sparkjobs.sql import F, Window

    def execute_job(self, **kwargs):
        recent = Window.partitionBy("user_id").orderBy(F.col("timestamp").desc())
        return df.withColumn("n", F.row_number().over(recent))

A job module then needs no engine-specific import. Where SQLFrame lacks a function the
reference code needs, :mod:`sparkjobs.sql.duckdb_shims` supplies one with Spark's result
(``broadcast``, ``pmod``, ``xxhash64``); anything else missing fails loudly on DuckDB, naming it.

Outside a run (a test, a notebook) the engine is ``spark`` unless a :func:`engine_scope` says
otherwise. The engine is a :class:`contextvars.ContextVar`: a scope covers the thread (or task)
that opened it, and a pipeline step running in a worker thread opens its own.

Importing this package imports neither pyspark nor sqlframe.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

ENGINES = ("spark", "duckdb")
_ENGINE: ContextVar[str] = ContextVar("sparkjobs_engine", default="spark")

#: where each engine keeps the three namespaces
_MODULES = {
    ("spark", "functions"): "pyspark.sql.functions",
    ("spark", "types"): "pyspark.sql.types",
    ("spark", "window"): "pyspark.sql.window",
    ("duckdb", "functions"): "sqlframe.duckdb.functions",
    ("duckdb", "types"): "sqlframe.duckdb.types",
    ("duckdb", "window"): "sqlframe.duckdb.window",
}


def current_engine() -> str:
    """The engine DataFrame functions are resolved for right now."""
    return _ENGINE.get()


@contextmanager
def engine_scope(engine: str) -> Iterator[None]:
    """Resolve ``F``/``T``/``Window`` for ``engine`` inside the block."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    token = _ENGINE.set(engine)
    try:
        yield
    finally:
        _ENGINE.reset(token)


def namespace(engine: str, kind: str) -> ModuleType:
    """The engine's module for ``kind`` (functions, types, window)."""
    try:
        return importlib.import_module(_MODULES[(engine, kind)])
    except KeyError:
        raise ValueError(f"no {kind} namespace for engine {engine!r}") from None


class _Namespace:
    """Forwards attribute access to the current engine's module (``F.col`` → ``...functions.col``)."""

    def __init__(self, kind: str, attribute: str | None = None) -> None:
        self._kind = kind
        self._attribute = attribute

    def _target(self) -> Any:
        engine = current_engine()
        module: Any = namespace(engine, self._kind)
        return getattr(module, self._attribute) if self._attribute else module

    def __getattr__(self, name: str) -> Any:
        target = self._target()
        try:
            return getattr(target, name)
        except AttributeError:
            if current_engine() == "duckdb" and self._kind == "functions":
                from sparkjobs.sql import duckdb_shims

                shim = getattr(duckdb_shims, name, None)
                if shim is not None:
                    return shim
            raise AttributeError(
                f"{self._kind}.{name} does not exist on the {current_engine()} engine"
                + (
                    " (SQLFrame lacks it): declare requires: [spark] on the job"
                    if current_engine() == "duckdb"
                    else ""
                )
            ) from None

    def __repr__(self) -> str:
        return f"<sparkjobs.sql {self._kind} for {current_engine()}>"


def try_cast(column: Any, spark_type: str) -> Any:
    """``column.try_cast(spark_type)`` on every engine: null where the value does not convert."""
    if current_engine() == "duckdb":
        from sparkjobs.sql import duckdb_shims

        return duckdb_shims.try_cast(column, spark_type)
    return column.try_cast(spark_type)


#: ``pyspark.sql.functions`` of the run's engine
F: Any = _Namespace("functions")
#: ``pyspark.sql.types`` of the run's engine
T: Any = _Namespace("types")
#: ``pyspark.sql.Window`` of the run's engine
Window: Any = _Namespace("window", "Window")

__all__ = ["ENGINES", "F", "T", "Window", "current_engine", "engine_scope", "namespace", "try_cast"]
