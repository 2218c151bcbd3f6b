"""The few DataFrame methods the sparkjobs IO layer and jobs call that SQLFrame's DuckDB frame lacks.

SQLFrame turns an unknown attribute of a frame into a column reference, so ``df.unpersist()`` would
fail with an odd "unexpected column" error. :func:`install` adds, once per process:

- ``persist()``/``cache()`` that really keep the rows: the frame is run once into a table of the
  connection (``__sparkjobs_cache_*``) and a frame over that table is returned. SQLFrame's own
  ``persist()`` only marks a CTE, so every frame built on a "cached" frame re-planned and re-ran its
  whole lineage, and sqlglot deep-copied that growing tree at every operation: ``make run``'s build
  spent 47 of its 62 s (profiled) in ``deepcopy``; with real caching, the demo's ingest went from
  10.8 to 5.9 s and its build from 28.5 to 12.8 s. ``unpersist()`` drops the table and leaves a view
  of the same query under its name, so frames built on the cached one still evaluate;
- ``sortWithinPartitions(*cols)``: an ordering inside Spark's partitions; DuckDB has none (the DuckDB
  writer sorts explicitly), so the frame is returned as is.

and makes a ``Column`` reusable as on Spark. SQLFrame qualifies the columns of an expression with
the frame's table names *in place*, and its functions build expressions around the caller's nodes
without copying them. So one ``Column`` object used twice in an aggregation of a joined frame
(``F.min(c), F.max(c)``) raised ``KeyError`` (the node is qualified on its first visit and no
longer found on its second), and a ``Column`` used on one frame then on another referenced the
first frame's table ("Binder Error: Referenced table ... not found"). Spark columns are unresolved
and reusable, and job code relies on that; so every ``Column`` a frame receives is copied first
(``_ensure_list_of_columns``/``_ensure_and_normalize_col``, the two doors through which columns
enter a frame's expression): sqlglot's copy duplicates shared nodes, and the caller's object stays
unqualified.

On a joined frame, SQLFrame resolves each unqualified column reference to the next side of the
join that has a column of that name: the second ``F.col("k")`` after ``a.join(b, "k", "left")``
was ``b.k`` (null where ``b`` has no row: a silently wrong count), and after an anti join a table
the query cannot see. On Spark the join's output has ONE ``k``. :func:`_resolve_by_output` first
resolves a name the join's output selects exactly once, as a plain column of one side, to that
side; only names the output holds twice (both sides' ``k`` of a join on a condition) keep
SQLFrame's left-to-right rule. In the same way, the left key of a join on column names
(``df.join(other, ["user_id", "item_id"], "left_anti")``) is taken from the left frame's own output
when that holds the name once (:func:`_left_keys_by_output`): SQLFrame took the first table of the
left frame that has the name *in CTE definition order*, and after an anti join with an ancestor of
the left frame (``rated``, from which the candidates were built) that was the anti-joined table.

``createDataFrame`` of more than :data:`INLINE_ROWS` Python rows loads them into a table of the
connection (through Arrow) and returns a frame over it: SQLFrame inlines the rows as ``VALUES`` in
the SQL of every query built on the frame (measured: a count over 6,710 rows, 5.3 s; a group-by on
it, 9.1 s). A schema with types other than numbers, text, booleans and dates keeps SQLFrame's way.

"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

#: Python rows above which ``createDataFrame`` on DuckDB loads the rows into a table
INLINE_ROWS = 256


#: prefix of the tables that ``persist()`` materialises on the session's connection
CACHE_PREFIX = "__sparkjobs_cache_"
#: cached frame → (table name, its query or None): not an attribute of the frame, because SQLFrame
#: copies a frame by passing every attribute to the constructor, and an unknown attribute name is a
#: column reference (``__getattr__``)
_CACHED: weakref.WeakKeyDictionary[Any, tuple[str, str | None]] = weakref.WeakKeyDictionary()


def _persist(self: Any, storageLevel: Any = None) -> Any:
    """Run the frame once into a table of the connection; a frame over that table.

    SQLFrame's own ``persist()`` only marks a CTE: every frame built on it re-plans (and re-runs) the
    whole lineage, and sqlglot deep-copies that ever-growing tree at each operation. Materialising
    cuts the lineage where the job says the result is reused, as Spark's cache does. Unlike Spark's
    lazy cache, the rows are computed here; a frame over a cached frame is unaffected by later
    changes to the files it was read from, which is what a job that caches expects.
    """
    from sparkjobs.io.duckdb_tables import connection, frame_sql, quote_ident, table

    if self in _CACHED:
        return self  # already a cached frame: Spark's persist() of a cached frame is a no-op too
    setup, select = frame_sql(self)
    name = f"{CACHE_PREFIX}{uuid.uuid4().hex[:12]}"
    conn = connection(self.session)
    for statement in setup:
        conn.execute(statement)
    conn.execute(f"CREATE TABLE {quote_ident(name)} AS {select}")
    cached = table(self.session, name)
    # unpersist() turns the table into a view of the same query when the query stands alone, so
    # that frames built on the cached one still evaluate (recomputing, as on Spark)
    _CACHED[cached] = (name, select if not setup else None)
    return cached


def _cache(self: Any) -> Any:
    return _persist(self)


def _unpersist(self: Any, blocking: bool = False) -> Any:
    """Release a table ``persist()`` made (a frame that was not persisted: nothing to release)."""
    from sparkjobs.io.duckdb_tables import connection, drop, quote_ident

    cache = _CACHED.pop(self, None)
    if cache is None:
        return self
    name, select = cache
    drop(self.session, name)
    if select is not None:
        connection(self.session).execute(f"CREATE VIEW {quote_ident(name)} AS {select}")
    return self


def _sort_within_partitions(self: Any, *cols: Any, **kwargs: Any) -> Any:
    return self


def _copied(value: Any) -> Any:
    from sqlframe.base.column import Column

    return Column(value.expression.copy()) if isinstance(value, Column) else value


def _copying(method: Any, many: bool) -> Any:
    """``method`` taking (a list of) columns, given copies of the ``Column`` objects."""

    def wrapper(self: Any, cols: Any, *args: Any, **kwargs: Any) -> Any:
        if many:
            cols = [_copied(c) for c in cols] if isinstance(cols, list | tuple) else _copied(cols)
        else:
            cols = _copied(cols)
        return method(self, cols, *args, **kwargs)

    wrapper.__sparkjobs_patched__ = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def _resolve_by_output(method: Any) -> Any:
    """``_resolve_ambiguous_columns``, resolving first the names the join's output holds once."""
    from sqlglot import exp

    def wrapper(self: Any, columns: Any) -> Any:
        outputs = self.expression.expressions if "joins" in self.expression.args else []
        names: dict[str, list[Any]] = {}
        for output in outputs:
            names.setdefault(output.alias_or_name, []).append(output)
        for col in columns if isinstance(columns, list) else [columns]:
            for ref in col.expression.find_all(exp.Column):
                found = names.get(ref.name, [])
                if ref.table or len(found) != 1:
                    continue
                (output,) = found
                if isinstance(output, exp.Column) and output.table:
                    ref.set("table", exp.to_identifier(output.table))
        return method(self, columns)

    wrapper.__sparkjobs_patched__ = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def _output_column(outputs: list[Any], name: str) -> Any:
    """The qualified column the select list ``outputs`` holds once under ``name``, else None."""
    from sqlglot import exp

    found = [o for o in outputs if o.alias_or_name == name]
    if len(found) != 1:
        return None
    (output,) = found
    if isinstance(output, exp.Alias) and isinstance(output.this, exp.Column) and output.this.name == name:
        output = output.this
    return output if isinstance(output, exp.Column) and output.table else None


def _left_keys_by_output(method: Any) -> Any:
    """``_handle_join_column_names_only``, the left keys from the left frame's own output."""
    import functools

    from sqlframe.base.column import Column

    def wrapper(join_columns: Any, join_expression: Any, other_df: Any, table_names: Any) -> Any:
        pairs, clause = method(join_columns, join_expression, other_df, table_names)
        left_is_a_join = len(join_expression.args.get("joins") or []) > 1  # the new join is the last
        outputs = list(join_expression.expressions) if left_is_a_join else []
        fixed, changed = [], False
        for left, right in pairs:  # (Column == Column builds an expression: compare nodes, not pairs)
            own = _output_column(outputs, left.alias_or_name)
            changed |= own is not None and own != left.expression
            fixed.append((Column(own.copy()) if own is not None else left, right))
        if not changed:
            return pairs, clause
        return fixed, functools.reduce(lambda x, y: x & y, [a == b for a, b in fixed])

    wrapper.__sparkjobs_patched__ = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def _arrow_type(spark_type: str) -> Any:
    import pyarrow as pa

    types = {
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "string": pa.string(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
    }
    return types.get(spark_type)


def _rows_as_table(method: Any) -> Any:
    """``createDataFrame``, loading many Python rows into a table instead of inlining them."""

    def wrapper(self: Any, data: Any, schema: Any = None, *args: Any, **kwargs: Any) -> Any:
        many = isinstance(data, list | tuple) and len(data) > INLINE_ROWS
        if args or kwargs or schema is None or not many or not all(isinstance(r, tuple | list) for r in data):
            return method(self, data, schema, *args, **kwargs)
        import pyarrow as pa

        probe = method(self, list(data[:1]), schema)  # SQLFrame's reading of the schema
        dtypes = [(f.name, f.dataType.simpleString()) for f in probe.schema.fields]
        types = [_arrow_type(t) for _, t in dtypes]
        if None in types or any(len(r) != len(dtypes) for r in data):
            return method(self, data, schema)
        try:
            columns = list(zip(*data, strict=True))
            rows = pa.table(
                {n: pa.array(c, type=t) for (n, _), c, t in zip(dtypes, columns, types, strict=True)}
            )
        except (pa.ArrowException, TypeError, OverflowError, ValueError):
            return method(self, data, schema)  # values Arrow does not take as the type: SQLFrame decides
        name = f"__sparkjobs_rows_{uuid.uuid4().hex[:12]}"
        conn = self._conn
        conn.register(f"{name}_arrow", rows)
        try:
            conn.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{name}_arrow"')
        finally:
            conn.unregister(f"{name}_arrow")
        return self.table(name)

    wrapper.__sparkjobs_patched__ = True  # type: ignore[attr-defined]
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    from sqlframe.duckdb import DuckDBDataFrame, DuckDBSession

    for name, method in (("unpersist", _unpersist), ("sortWithinPartitions", _sort_within_partitions)):
        if name not in DuckDBDataFrame.__dict__:
            setattr(DuckDBDataFrame, name, method)
    for name, method in (("persist", _persist), ("cache", _cache)):
        if getattr(DuckDBDataFrame, name) is not method:
            setattr(DuckDBDataFrame, name, method)
    patches = (
        ("_ensure_list_of_columns", lambda m: _copying(m, many=True)),
        ("_ensure_and_normalize_col", lambda m: _copying(m, many=False)),
        ("_resolve_ambiguous_columns", _resolve_by_output),
    )
    for name, patch in patches:
        current = getattr(DuckDBDataFrame, name)
        if not getattr(current, "__sparkjobs_patched__", False):
            setattr(DuckDBDataFrame, name, patch(current))
    if not getattr(DuckDBSession.createDataFrame, "__sparkjobs_patched__", False):
        DuckDBSession.createDataFrame = _rows_as_table(DuckDBSession.createDataFrame)  # type: ignore[method-assign]
    current = DuckDBDataFrame._handle_join_column_names_only  # a staticmethod
    if not getattr(current, "__sparkjobs_patched__", False):
        DuckDBDataFrame._handle_join_column_names_only = staticmethod(_left_keys_by_output(current))  # type: ignore[method-assign]
