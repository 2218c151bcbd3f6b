"""Spark functions that SQLFrame's DuckDB dialect lacks, with the results the reference code needs.

Found through :mod:`sparkjobs.sql`'s ``F`` on the DuckDB engine only. Each one says how it relates
to Spark's:

- ``broadcast(df)``: a join hint; DuckDB plans its joins itself, so the frame is returned as is.
- ``pmod(a, n)``: the non-negative remainder, as Spark's.
- ``xxhash64(*cols)``: DuckDB's 64-bit ``hash`` of the columns. **Not** Spark's values: use it to
  spread rows (salting), never to store or compare hashes across engines.
- :func:`try_cast` (``Column.try_cast`` on Spark): null where the text is not a value of the type.
  DuckDB's ``TRY_CAST`` rounds ``'1.5'`` to the integer 2 and reads ``'1_000'`` as 1000 where Spark
  gives null, so integer and floating-point text is first matched against what Spark accepts.
"""

from __future__ import annotations

from typing import Any

#: the text Spark's cast turns into an integer / a double (after trimming); anything else is null
INTEGER_TEXT = r"^[+-]?[0-9]+$"
DOUBLE_TEXT = r"(?i)^[+-]?(([0-9]+[.]?[0-9]*|[.][0-9]+)(e[+-]?[0-9]+)?[df]?|nan|inf|infinity)$"
_INTEGRAL = {"int", "bigint", "smallint", "tinyint"}
_FRACTIONAL = {"double", "float"}


def _functions() -> Any:
    import sqlframe.duckdb.functions as functions

    return functions


def broadcast(df: Any) -> Any:
    return df


def pmod(dividend: Any, divisor: Any) -> Any:
    F = _functions()
    a = F.col(dividend) if isinstance(dividend, str) else dividend
    n = F.lit(divisor) if isinstance(divisor, int | float) else divisor
    return ((a % n) + n) % n


def xxhash64(*cols: Any) -> Any:
    F = _functions()
    return F.call_function("hash", *[F.col(c) if isinstance(c, str) else c for c in cols])


def try_cast(column: Any, spark_type: str) -> Any:
    """``column`` (text) cast to ``spark_type``; null where Spark's ``try_cast`` would give null."""
    from sqlframe.base.column import Column
    from sqlglot import exp

    F = _functions()
    text = F.col(column) if isinstance(column, str) else column
    # Spark accepts a trailing d/f suffix (1.5d); DuckDB does not: drop it before the cast
    source = F.regexp_replace(text, "[dDfF]$", "") if spark_type in _FRACTIONAL else text
    target = "INTEGER" if spark_type == "int" else spark_type.upper()
    cast = Column(exp.TryCast(this=source.column_expression, to=exp.DataType.build(target, dialect="duckdb")))
    if spark_type in _INTEGRAL:
        return F.when(text.rlike(INTEGER_TEXT), cast)
    if spark_type in _FRACTIONAL:
        return F.when(text.rlike(DOUBLE_TEXT), cast)
    return cast
