"""What a job wrote before, read on the DuckDB engine: :class:`~sparkjobs.io.previous.PreviousOutputReader`
for a SQLFrame DuckDB session.

The table's Parquet files (partition directories ``col=value`` included) are read with DuckDB's
``read_parquet(..., hive_partitioning = true)``, partition values as text, and every column cast to
the explicit schema, so the frame has exactly the columns and types that Spark's reader gives.
Before the first run there is no output: the frame is empty, with the schema.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sparkjobs.io.duckdb_tables import connection, quote_ident, quote_text, table
from sparkjobs.io.filesystem import LocalFileSystem
from sparkjobs.io.previous import PreviousOutputReader
from sparkjobs.io.swap import recover

#: Spark type names in DDL → DuckDB types
DUCKDB_TYPES = {
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "long": "BIGINT",
    "smallint": "SMALLINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
_COLUMN = re.compile(r"^\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s+([A-Za-z]+)\s*$")


def parse_ddl(ddl: str) -> list[tuple[str, str]]:
    """``[(name, spark type)]`` of a flat DDL string such as ``"user_id int, rating double"``."""
    columns = []
    for part in ddl.split(","):
        match = _COLUMN.match(part)
        if match is None or match.group(2).lower() not in DUCKDB_TYPES:
            raise ValueError(
                f"schema {ddl!r}: cannot read column {part.strip()!r} on the duckdb engine "
                f"(flat columns of types {sorted(DUCKDB_TYPES)} only)"
            )
        columns.append((match.group(1), match.group(2).lower()))
    return columns


class DuckDBPreviousOutputReader(PreviousOutputReader):
    """The Parquet output at a local ``path``, read by DuckDB with an explicit DDL schema."""

    def __init__(
        self,
        spark: Any,
        path: str,
        schema: str,
        *,
        fs: LocalFileSystem | None = None,
        listing_threshold: int | None = None,
    ) -> None:
        if not isinstance(schema, str):
            raise TypeError("the duckdb engine reads previous output with a DDL string schema")
        self.columns = parse_ddl(schema)
        super().__init__(spark, path, schema, fs=fs or LocalFileSystem(), listing_threshold=listing_threshold)  # type: ignore[arg-type]

    def read(self, where: Any = None) -> Any:
        recover(self.fs, self.path)  # finish a swap a killed writer left (see sparkjobs.io.swap)
        if not self.exists():
            df = self.spark.createDataFrame([], self.schema)
        else:
            df = table(self.spark, self._view())
        return df if where is None else df.filter(where)

    def _view(self) -> str:
        """A view casting the files' columns to the schema (partition values read as text first)."""
        root = self.path.rstrip("/")
        partition_columns = sorted({d.split("=", 1)[0] for d in self.fs.list_dirs(root) if "=" in d})
        hive_types = ", ".join(f"{quote_text(c)}: 'VARCHAR'" for c in partition_columns)
        source = (
            f"read_parquet({quote_text(root + '/**/*.parquet')}, hive_partitioning = true, "
            f"union_by_name = true{', hive_types = {' + hive_types + '}' if hive_types else ''})"
        )
        select = ", ".join(
            f"CAST({quote_ident(name)} AS {DUCKDB_TYPES[kind]}) AS {quote_ident(name)}"
            for name, kind in self.columns
        )
        view = f"__sparkjobs_previous_{uuid.uuid4().hex[:12]}"
        connection(self.spark).execute(f"CREATE VIEW {quote_ident(view)} AS SELECT {select} FROM {source}")
        return view
