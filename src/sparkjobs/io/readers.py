"""Read CSV or JSON-lines files with an explicit schema; malformed rows go to a quarantine, with reasons.

Every field is first read as text (so that nothing is lost or silently turned into null by a
failed cast), then checked and typed here, rule by rule. A row that breaks a rule is *rejected*:
it keeps its raw text, the file it came from, a reason code and a readable detail, and is counted
by reason. Nothing is dropped silently::

    schema = RecordSchema((
        FieldSpec("user_id", "int"),
        FieldSpec("rating", "double", min=0.5, max=5.0),
        FieldSpec("timestamp", "long", min=0),
    ))
    result = RawFileReader(spark, schema, format="csv").read("data/raw/events/event_date=2016-10-16")
    result.persist()
    counts = result.counts()          # one action: RejectionCounts(total, valid, rejected, by_reason)
    result.valid                      # typed columns (+ partition columns such as event_date)
    result.rejected                   # raw text + raw_record + reason + reason_detail + source_file

Reason codes, checked in this order (the first broken rule is the row's reason):

``malformed_record``
    the line could not be split into the schema's columns (too few/too many CSV fields, a line
    that is not a JSON object); ``raw_record`` holds the line.
``missing_<field>``
    a required field is absent or blank.
``bad_<field>``
    the text is not a value of the field's type (``"abc"`` for an int, ``"1.5"`` for an int,
    ``NaN``/``Infinity`` for a finite double, an impossible date...).
``out_of_range_<field>``
    the value is outside ``[min, max]``.

pyspark is imported inside functions: importing this module never starts a JVM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sparkjobs.errors import DataError
from sparkjobs.io.filesystem import driver_side_listing

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

FieldType = Literal["int", "long", "double", "string", "boolean", "date", "timestamp"]
InputFormat = Literal["csv", "json"]

#: the column Spark fills with the raw line of a record it could not split
CORRUPT_COLUMN = "_corrupt_record"
REASON = "reason"
DETAIL = "reason_detail"
RAW_RECORD = "raw_record"
MALFORMED = "malformed_record"

_SPARK_TYPES: dict[str, str] = {
    "int": "int",
    "long": "bigint",
    "double": "double",
    "string": "string",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


@dataclass(frozen=True)
class FieldSpec:
    """One input column: its type, whether it must be present, and its allowed range."""

    name: str
    type: FieldType = "string"
    required: bool = True
    min: float | None = None
    max: float | None = None
    #: doubles only: reject NaN and ±Infinity (Spark's cast accepts them)
    finite: bool = True

    def __post_init__(self) -> None:
        if self.type not in _SPARK_TYPES:
            raise ValueError(
                f"field {self.name!r}: unknown type {self.type!r}; expected one of {list(_SPARK_TYPES)}"
            )
        if (self.min is not None or self.max is not None) and self.type not in {"int", "long", "double"}:
            raise ValueError(f"field {self.name!r}: min/max apply to numeric fields only")

    @property
    def spark_type(self) -> str:
        return _SPARK_TYPES[self.type]

    def describe_range(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "+inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}]"


@dataclass(frozen=True)
class RecordSchema:
    """The fields of one input record, in file order."""

    fields: tuple[FieldSpec, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if not names:
            raise ValueError("a RecordSchema needs at least one field")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate field names: {duplicated}")
        reserved = {CORRUPT_COLUMN, REASON, DETAIL, RAW_RECORD} & set(names)
        if reserved:
            raise ValueError(f"field names {sorted(reserved)} are reserved by the reader")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def raw_struct(self) -> StructType:
        """Every field as text, plus the corrupt-record column: what Spark is asked to read."""
        from pyspark.sql import types as T

        return T.StructType(
            [T.StructField(f.name, T.StringType(), True) for f in self.fields]
            + [T.StructField(CORRUPT_COLUMN, T.StringType(), True)]
        )


@dataclass(frozen=True)
class RejectionCounts:
    """How many rows were read, kept and rejected, and the rejected ones by reason."""

    total: int
    valid: int
    rejected: int
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_ratio(self) -> float:
        return self.rejected / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "valid": self.valid,
            "rejected": self.rejected,
            "by_reason": dict(sorted(self.by_reason.items())),
        }


@dataclass
class ReadResult:
    """The checked rows of one read: ``valid`` (typed) and ``rejected`` (raw text with a reason).

    ``release`` (set by an engine that holds the read's rows itself, as the DuckDB reader does) is
    called by :meth:`unpersist`: what the read held is freed and frames over it read the files again.
    """

    parsed: DataFrame
    schema: RecordSchema
    extra_columns: list[str]
    source_file_column: str
    release: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> DataFrame:
        from sparkjobs.sql import F

        typed = [F.col(f"__typed_{f.name}").alias(f.name) for f in self.schema.fields]
        return self.parsed.filter(F.col(REASON).isNull()).select(
            *typed, *[F.col(c) for c in self.extra_columns], F.col(self.source_file_column)
        )

    @property
    def rejected(self) -> DataFrame:
        from sparkjobs.sql import F

        return self.parsed.filter(F.col(REASON).isNotNull()).select(
            *[F.col(n) for n in self.schema.names],
            F.col(CORRUPT_COLUMN).alias(RAW_RECORD),
            F.col(REASON),
            F.col(DETAIL),
            F.col(self.source_file_column),
            *[F.col(c) for c in self.extra_columns],
        )

    def counts(self) -> RejectionCounts:
        """Rows in total, valid, rejected and rejected per reason (one aggregation)."""
        rows = self.parsed.groupBy(REASON).count().collect()
        by_reason = {str(r[REASON]): int(r["count"]) for r in rows if r[REASON] is not None}
        valid = sum(int(r["count"]) for r in rows if r[REASON] is None)
        rejected = sum(by_reason.values())
        return RejectionCounts(valid + rejected, valid, rejected, by_reason)

    def persist(self) -> ReadResult:
        """Keep the parsed rows cached: counts, valid and rejected then read the files once."""
        self.parsed = self.parsed.persist()
        return self

    def unpersist(self) -> None:
        self.parsed.unpersist()
        if self.release is not None:
            release, self.release = self.release, None
            release()


def check_record(df: DataFrame, schema: RecordSchema) -> DataFrame:
    """Add ``__typed_<field>``, ``reason`` and ``reason_detail`` to a frame of text columns.

    Usable on its own for text that reached Spark another way (a Kafka value split into columns,
    a JDBC extract of VARCHARs). ``df`` must have every field as a string column and the
    ``_corrupt_record`` column (null when the line split fine). Works on every engine.
    """
    from sparkjobs.sql import F, try_cast

    rules: list[tuple[Column, str, Column]] = [
        (
            F.col(CORRUPT_COLUMN).isNotNull(),
            MALFORMED,
            F.concat(F.lit("line does not match the schema's columns: "), F.col(CORRUPT_COLUMN)),
        )
    ]
    typed: dict[str, Column] = {}
    for spec in schema.fields:
        text = F.trim(F.col(spec.name))
        missing = text.isNull() | (text == F.lit(""))
        parsed = text if spec.type == "string" else try_cast(text, spec.spark_type)
        typed[spec.name] = F.when(~missing, parsed)
        # the rules read the typed column computed once below: parsing a field (a regular
        # expression and a cast on DuckDB) once per row, not once per rule that looks at it
        value = F.col(f"__typed_{spec.name}")
        if spec.required:
            rules.append((missing, f"missing_{spec.name}", F.lit(f"{spec.name} is missing")))
        if spec.type != "string":
            bad = ~missing & value.isNull()
            if spec.type == "double" and spec.finite:
                bad = bad | (F.isnan(value) | (F.abs(value) == F.lit(float("inf"))))
            rules.append(
                (
                    bad,
                    f"bad_{spec.name}",
                    F.concat(F.lit(f"{spec.name} '"), F.col(spec.name), F.lit(f"' is not a {spec.type}")),
                )
            )
        if spec.min is not None or spec.max is not None:
            low = value < F.lit(spec.min) if spec.min is not None else F.lit(False)
            high = value > F.lit(spec.max) if spec.max is not None else F.lit(False)
            rules.append(
                (
                    value.isNotNull() & (low | high),
                    f"out_of_range_{spec.name}",
                    F.concat(F.lit(f"{spec.name} "), text, F.lit(f" is outside {spec.describe_range()}")),
                )
            )
    reason = F.coalesce(*[F.when(F.coalesce(cond, F.lit(False)), F.lit(code)) for cond, code, _ in rules])
    detail = F.coalesce(*[F.when(F.coalesce(cond, F.lit(False)), text) for cond, _, text in rules])
    with_typed = df.select("*", *[expr.alias(f"__typed_{name}") for name, expr in typed.items()])
    return with_typed.select("*", reason.alias(REASON), detail.alias(DETAIL))


class RawFileReader:
    """CSV (with a header line) or JSON lines, read with a :class:`RecordSchema` into a :class:`ReadResult`.

    ``options`` are passed to Spark's reader over the defaults (for CSV: a header line that must
    name the schema's columns, RFC 4180 quoting, PERMISSIVE mode). Partition directories under ``base_path``
    (``event_date=2016-10-16``) become columns of both outputs. ``listing_threshold`` lists up to
    that many paths on the driver (see :func:`~sparkjobs.io.filesystem.driver_side_listing`).
    """

    def __init__(
        self,
        spark: SparkSession,
        schema: RecordSchema,
        *,
        format: InputFormat = "csv",
        options: Mapping[str, str] | None = None,
        listing_threshold: int | None = None,
        source_file_column: str = "source_file",
    ) -> None:
        if format not in ("csv", "json"):
            raise ValueError(f"unsupported input format {format!r}; expected 'csv' or 'json'")
        self.spark = spark
        self.schema = schema
        self.format = format
        self.options = dict(options or {})
        self.listing_threshold = listing_threshold
        self.source_file_column = source_file_column

    def _options(self, base_path: str | None) -> dict[str, str]:
        opts = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}
        if self.format == "csv":
            # RFC 4180: a quote inside a quoted field is doubled ("")
            opts.update({"header": "true", "enforceSchema": "false", "multiLine": "false", "escape": '"'})
        if base_path is not None:
            opts["basePath"] = base_path
        opts.update(self.options)
        return opts

    def read(self, paths: str | Sequence[str], *, base_path: str | None = None) -> ReadResult:
        """Read ``paths`` (files or directories); an empty list gives an empty result."""
        from pyspark.errors import AnalysisException
        from pyspark.sql import functions as F

        path_list = [paths] if isinstance(paths, str) else list(paths)
        if not path_list:
            raw = self.spark.createDataFrame([], self.schema.raw_struct())
            raw = raw.withColumn(self.source_file_column, F.lit(None).cast("string"))
        else:
            reader = self.spark.read.schema(self.schema.raw_struct()).options(**self._options(base_path))
            try:
                with driver_side_listing(self.spark, self.listing_threshold):
                    loaded = reader.csv(path_list) if self.format == "csv" else reader.json(path_list)
            except AnalysisException as exc:
                more = f" (+{len(path_list) - 1} more)" if len(path_list) > 1 else ""
                shown = path_list[0] + more
                raise DataError(f"cannot read {self.format} input {shown}: {exc}") from exc
            raw = loaded.withColumn(self.source_file_column, F.col("_metadata.file_path"))
        known = {*self.schema.names, CORRUPT_COLUMN, self.source_file_column}
        extra = [c for c in raw.columns if c not in known]
        return ReadResult(check_record(raw, self.schema), self.schema, extra, self.source_file_column)
