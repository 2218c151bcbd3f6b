"""The data catalog as configuration: named datasets under ``catalog:``, validated by pydantic.

Declared in ``conf/base/catalog.yml`` (any file of a layer may hold the section; a later layer
overrides one key of one entry like any other key)::

    catalog:
      raw_orders:
        path: data/raw/orders/event_date={event_date}   # placeholders: sparkjobs.config.templates
        format: csv                                     # parquet | csv | json
        options: {header: true}                         # passed to Spark's reader and writer
        schema:                                         # csv/json: typed and checked by RawFileReader
          order_id: long
          country: string
          amount: {type: double, min: 0}
      clean_orders:
        path: data/lake/orders
        format: parquet
        partition_by: [event_date]                      # saves replace only the partitions written
        description: one row per valid order

A job declares the datasets it reads and writes (``inputs`` / ``outputs`` on its factory, see
:mod:`sparkjobs.catalog.declare`); the pipeline orders its steps by them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sparkjobs.config.coerce import type_raw_values
from sparkjobs.config.layers import LayeredConfig
from sparkjobs.config.templates import render_tree
from sparkjobs.config.validate import validate_model
from sparkjobs.errors import ConfigError
from sparkjobs.io.readers import FieldSpec, FieldType, RecordSchema

DatasetFormat = Literal["parquet", "csv", "json"]
#: formats whose rows are typed and checked by :class:`~sparkjobs.io.RawFileReader` when a schema is given
RAW_FORMATS = frozenset({"csv", "json"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class ColumnSpec(BaseModel):
    """One column of a raw (csv/json) dataset: ``amount: double`` or ``amount: {type: double, min: 0}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType = Field("string", description="int | long | double | string | boolean | date | timestamp")
    required: bool = Field(True, description="a blank or missing value rejects the row")
    min: float | None = Field(None, description="numeric columns: smallest accepted value")
    max: float | None = Field(None, description="numeric columns: largest accepted value")
    finite: bool = Field(True, description="doubles: reject NaN and ±Infinity")


class DatasetSpec(BaseModel):
    """A named dataset: where it lives, how it is stored, partitioned and typed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str = Field(..., min_length=1, description="file, directory or URI (placeholders allowed)")
    format: DatasetFormat = Field("parquet", description="parquet | csv | json")
    description: str = ""
    partition_by: list[str] = Field(default_factory=list, description="partition columns, outermost first")
    sort_within: list[str] = Field(
        default_factory=list, description="parquet saves: sort rows in a partition"
    )
    columns: dict[str, ColumnSpec] | None = Field(
        None, alias="schema", description="csv/json: column → type (or {type, required, min, max})"
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark reader/writer options, e.g. {header: true, sep: ';'}"
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _short_columns(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("partition_by", "sort_within")
    @classmethod
    def _unique_columns(cls, value: list[str]) -> list[str]:
        blank = [c for c in value if not c.strip()]
        if blank:
            raise ValueError("column names must not be blank")
        twice = sorted({c for c in value if value.count(c) > 1})
        if twice:
            raise ValueError(f"columns listed twice: {twice}")
        return value

    @model_validator(mode="after")
    def _schema_fits_format(self) -> DatasetSpec:
        if self.columns is not None and self.format not in RAW_FORMATS:
            raise ValueError(
                f"schema applies to csv and json datasets; {self.format} files carry their own schema"
            )
        if self.columns is not None:
            self.record_schema()  # min/max on a text column, reserved names: refused now, not at run time
        return self

    def record_schema(self) -> RecordSchema | None:
        """The :class:`~sparkjobs.io.RecordSchema` the schema describes (None without a schema)."""
        if self.columns is None:
            return None
        return RecordSchema(
            tuple(FieldSpec(name, **column.model_dump()) for name, column in self.columns.items())
        )

    def spark_options(self) -> dict[str, str]:
        """``options`` as Spark wants them: text, booleans as ``true``/``false``."""
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.options.items()}


def catalog_names(layered: LayeredConfig) -> list[str]:
    tree = layered.tree.get("catalog") or {}
    return list(tree) if isinstance(tree, dict) else []


def load_catalog(layered: LayeredConfig, values: Mapping[str, Any] | None = None) -> dict[str, DatasetSpec]:
    """Every ``catalog.<name>`` entry, validated; with ``values``, placeholders rendered first.

    Errors name the file and key (``catalog.raw_orders.format``) and, for an unknown key, the
    known ones.
    """
    tree, sources, raw = layered.section(("catalog",))
    out: dict[str, DatasetSpec] = {}
    for name, entry in tree.items():
        prefix = ("catalog", name)
        entry_sources = {p[1:]: s for p, s in sources.items() if p[0] == name}
        if not _NAME_RE.match(name):
            raise ConfigError(
                f"bad dataset name {name!r}",
                key=".".join(prefix),
                file=next(iter(entry_sources.values()), None),
                expected="letters, digits, '_', '-', '.', starting with a letter or '_'",
            )
        data = dict(entry)
        if values is not None:
            data = render_tree(data, values, sources=entry_sources, prefix=prefix)
        data = type_raw_values(DatasetSpec, data, {p[1:] for p in raw if p[0] == name})
        try:
            out[name] = validate_model(
                DatasetSpec, data, sources=entry_sources, prefix=prefix, what=f"catalog entry {name!r}"
            )
        except ConfigError as exc:
            if exc.file in (
                None,
                "default",
            ):  # a missing key, or one the shorthand expanded: the entry's file
                exc.file = next(iter(entry_sources.values()), exc.file)
            raise
    return out
