"""What a snapshot store declares and loads: column types, table specs and their Arrow schemas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa

ColumnType = Literal["int32", "int64", "float64", "string", "bool", "date", "timestamp"]
STAGING_SUFFIX = "__staging"
#: a served table, column or meta-table name: lower-case, starts with a letter or _, at most 48 chars
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One served table: columns, primary key and secondary indexes (column tuples)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        for ident in (self.name, *names):
            if not IDENTIFIER.match(ident):
                raise ValueError(f"bad identifier {ident!r}: use lower-case letters, digits and _ (max 48)")
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r} declares a column twice")
        for cols in (self.primary_key, *self.indexes):
            unknown = [c for c in cols if c not in names]
            if unknown:
                raise ValueError(f"table {self.name!r}: key/index names unknown columns {unknown}")
        nullable_key = [c.name for c in self.columns if c.name in self.primary_key and c.nullable]
        if nullable_key:
            raise ValueError(f"table {self.name!r}: primary key columns cannot be nullable: {nullable_key}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def staging_name(self) -> str:
        return self.name + STAGING_SUFFIX

    def index_name(self, cols: tuple[str, ...], table: str | None = None) -> str:
        return f"{table or self.name}__{'_'.join(cols)}_idx"

    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in self.columns])


def arrow_type(kind: ColumnType) -> pa.DataType:
    import pyarrow as pa

    return {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[kind]
