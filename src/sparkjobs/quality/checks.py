"""Data quality checks as configuration: pydantic models, one per check kind.

Declared in a job's config under any field typed :data:`QualityChecks`::

    quality:
      - {check: not_null, columns: [user_id, item_id], max_null_ratio: 0.0}
      - {check: unique, columns: [user_id, item_id, timestamp]}
      - {check: accepted_values, column: source, values: [item_knn, popular], severity: warn}
      - {check: in_range, column: rating, min: 0.5, max: 5.0}
      - {check: row_count, min: 1000}
      - {check: freshness, column: timestamp, max_age: 2d}

Every check has ``severity`` (``fail`` by default: the job fails; ``warn``: logged and reported)
and an optional ``name`` (a readable default is derived from the check).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["warn", "fail"]
Bound = int | float | date | datetime | str

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """``"36h"``, ``"2d"``, ``"90m"``, ``"1w"`` → timedelta; anything else is left to pydantic."""
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2].lower()])
    return value


class _Check(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity = Field(default="fail", description="fail: the job fails; warn: report only")
    name: str | None = Field(default=None, description="label in logs, metrics and the report")

    @property
    def label(self) -> str:
        return self.name or self.default_name()

    @abstractmethod
    def default_name(self) -> str:
        """The label used when no ``name`` is given."""

    def columns_used(self) -> list[str]:
        return []


class NotNull(_Check):
    """At most ``max_null_ratio`` of the rows may be null, in each of ``columns``."""

    check: Literal["not_null"] = "not_null"
    columns: list[str] = Field(min_length=1)
    max_null_ratio: float = Field(default=0.0, ge=0.0, le=1.0)

    def default_name(self) -> str:
        return f"not_null({','.join(self.columns)})"

    def columns_used(self) -> list[str]:
        return list(self.columns)


class Unique(_Check):
    """No two rows share the same values of ``columns`` (nulls compare equal)."""

    check: Literal["unique"] = "unique"
    columns: list[str] = Field(min_length=1)

    def default_name(self) -> str:
        return f"unique({','.join(self.columns)})"

    def columns_used(self) -> list[str]:
        return list(self.columns)


class AcceptedValues(_Check):
    """Every non-null value of ``column`` is one of ``values``."""

    check: Literal["accepted_values"] = "accepted_values"
    column: str
    values: list[bool | int | float | str] = Field(min_length=1)

    def default_name(self) -> str:
        return f"accepted_values({self.column})"

    def columns_used(self) -> list[str]:
        return [self.column]


class InRange(_Check):
    """Every non-null value of ``column`` lies within ``[min, max]`` (either bound may be omitted)."""

    check: Literal["in_range"] = "in_range"
    column: str
    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> InRange:
        if self.min is None and self.max is None:
            raise ValueError("in_range needs min, max or both")
        return self

    def default_name(self) -> str:
        return f"in_range({self.column})"

    def columns_used(self) -> list[str]:
        return [self.column]


class RowCount(_Check):
    """The number of rows lies within ``[min, max]``."""

    check: Literal["row_count"] = "row_count"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_bound(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"row_count min ({self.min}) > max ({self.max})")
        return self

    def default_name(self) -> str:
        return "row_count"


class Freshness(_Check):
    """The newest value of ``column`` is at most ``max_age`` old.

    ``column`` may be a timestamp, a date (its midnight UTC counts) or a number of Unix seconds.
    "Now" is the ``now`` given to :func:`~sparkjobs.quality.run_checks` (e.g. the end of the
    run's logical date, so that backfills are judged against their own day).
    """

    check: Literal["freshness"] = "freshness"
    column: str
    max_age: timedelta

    @field_validator("max_age", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return parse_duration(value)

    def default_name(self) -> str:
        return f"freshness({self.column})"

    def columns_used(self) -> list[str]:
        return [self.column]


QualityCheck = Annotated[
    NotNull | Unique | AcceptedValues | InRange | RowCount | Freshness,
    Field(discriminator="check"),
]
#: the type of a ``quality:`` field in a job's config model
QualityChecks = list[QualityCheck]
