"""Frames and tables on the DuckDB engine: the SQL behind a SQLFrame frame, temporary tables, SQL text.

SQLFrame builds SQL lazily; the DuckDB IO modules materialise what must be read once (a CSV read
whose rejected lines are logged per evaluation, a write's input) into a table on the session's
connection (``__sparkjobs_*``) and continue from there (``persist()`` does the same for the jobs'
own frames: :mod:`sparkjobs.engines.duckdb_compat`).
"""

from __future__ import annotations

import uuid
from typing import Any


def is_duckdb(spark: Any) -> bool:
    """True for a SQLFrame DuckDB session (the ``duckdb`` engine's session)."""
    return type(spark).__module__.startswith("sqlframe.duckdb")


def connection(spark: Any) -> Any:
    """The DuckDB connection behind a SQLFrame session."""
    return spark._conn


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def frame_sql(df: Any) -> tuple[list[str], str]:
    """``(setup statements, final SELECT)`` of a SQLFrame frame, in DuckDB's dialect."""
    statements = df.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
    return list(statements[:-1]), statements[-1]


def materialize(spark: Any, df: Any, prefix: str = "sparkjobs") -> tuple[str, Any]:
    """Run ``df`` once into a table; ``(table name, frame reading it)``."""
    name = f"__{prefix}_{uuid.uuid4().hex[:12]}"
    setup, select = frame_sql(df)
    conn = connection(spark)
    for statement in setup:
        conn.execute(statement)
    conn.execute(f"CREATE TABLE {quote_ident(name)} AS {select}")
    return name, table(spark, name)


def table(spark: Any, name: str) -> Any:
    """A frame over a table or view of the connection. (SQLFrame's catalog does not see temporary
    objects: a frame over one has the columns ``['*']``, so the IO modules create regular ones, in
    the session's in-memory database, named ``__sparkjobs_*``.)"""
    return spark.table(name)


def drop(spark: Any, name: str) -> None:
    connection(spark).execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")


def drop_view(spark: Any, name: str) -> None:
    connection(spark).execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
