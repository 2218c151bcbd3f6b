"""Schemas and the partition layout of the application's lake tables (one place, shared by the jobs).

Raw input (written by an upstream system, or by ``python -m recommendations.sample_data``)::

    raw/events/event_date=YYYY-MM-DD/part-*.csv   user_id,item_id,rating,timestamp (Unix seconds)
    raw/catalog/movies.csv                         item_id,title,year,genres ('|'-separated)

Bronze events are partitioned by a *period* of the delivery date (``event_period``: ``2016-10``
for the default monthly layout, ``2016-10-16`` for daily, ``2016`` for yearly) and carry the
delivery date itself in ``event_date``. A run for a logical date replaces exactly the rows of that
``event_date`` (``ParquetWriter.replace_where``), whatever the period; docs/recommendations.md
explains why monthly is the default.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Literal, Protocol

from sparkjobs.io import FieldSpec, RecordSchema

if TYPE_CHECKING:
    from pyspark.sql import Column

Granularity = Literal["day", "month", "year"]
PERIOD_COLUMN = "event_period"
SNAPSHOT_COLUMN = "snapshot_date"
#: the columns that make two events the same event (an exact duplicate)
EVENT_KEY = ("user_id", "item_id", "rating", "timestamp")
#: latest plausible event time: 2100-01-01T00:00:00Z
MAX_TIMESTAMP = 4_102_444_800

BRONZE_DDL = (
    "user_id int, item_id int, rating double, timestamp bigint, event_ts timestamp, "
    "event_date date, event_period string"
)
QUARANTINE_DDL = (
    "user_id string, item_id string, rating string, timestamp string, raw_record string, "
    "reason string, reason_detail string, source_file string, event_date date, event_period string"
)
SILVER_INTERACTIONS_DDL = (
    "user_id int, item_id int, rating double, timestamp bigint, event_ts timestamp, event_date date, "
    "title string, year int, genres string, snapshot_date date"
)
GOLD_DDL = {
    "items": "item_id int, title string, year int, genres string",
    "recommendations": "user_id int, item_id int, score double, rank int, source string",
    "similar_items": "item_id int, similar_item_id int, score double, rank int",
    "popular_items": "item_id int, score double, rank int",
}
GOLD_TABLES = tuple(GOLD_DDL)

_PERIOD_FORMATS: dict[str, tuple[str, str]] = {
    # granularity: (Python strftime, Spark date_format)
    "day": ("%Y-%m-%d", "yyyy-MM-dd"),
    "month": ("%Y-%m", "yyyy-MM"),
    "year": ("%Y", "yyyy"),
}


def raw_event_schema(rating_min: float = 0.5, rating_max: float = 5.0) -> RecordSchema:
    """The raw event record: positive integer ids, a rating in range, Unix seconds."""
    return RecordSchema(
        (
            FieldSpec("user_id", "int", min=1),
            FieldSpec("item_id", "int", min=1),
            FieldSpec("rating", "double", min=rating_min, max=rating_max),
            FieldSpec("timestamp", "long", min=0, max=MAX_TIMESTAMP),
        )
    )


CATALOG_SCHEMA = RecordSchema(
    (
        FieldSpec("item_id", "int", min=1),
        FieldSpec("title", "string", required=False),
        FieldSpec("year", "int", required=False, min=1800, max=2100),
        FieldSpec("genres", "string", required=False),
    )
)


def period_of(day: date, granularity: Granularity) -> str:
    """The ``event_period`` partition value of a delivery date."""
    return day.strftime(_PERIOD_FORMATS[granularity][0])


def period_expr(date_column: str, granularity: Granularity) -> Column:
    from sparkjobs.sql import F

    return F.date_format(F.col(date_column), _PERIOD_FORMATS[granularity][1])


def period_range(start: date | None, end: date) -> Column:
    """A partition filter on ``event_period`` covering deliveries in ``[start, end]``, any granularity.

    Periods are ISO prefixes (``2016``, ``2016-10``, ``2016-10-16``) and a prefix sorts before
    the longer text, so ``event_period <= '2016-10-16'`` keeps every period that can hold dates up
    to the 16th, whatever the table's granularity. The lower bound compares the year only, which
    holds for all three granularities. The filter is a superset: combine it with the exact
    ``event_date`` condition; its job is to let Spark skip whole directories.
    """
    from sparkjobs.sql import F

    condition = F.col(PERIOD_COLUMN) <= F.lit(end.isoformat())
    if start is not None:
        condition = condition & (F.col(PERIOD_COLUMN) >= F.lit(f"{start.year:04d}"))
    return condition


# -- gold publication ---------------------------------------------------------------------------------
#: ``<gold_root>/_published/snapshot_date=D.json`` exists once every gold table of D is written
PUBLISHED_DIR = "_published"


def publication_marker(gold_root: str, day: date) -> str:
    """Where the marker of ``day``'s gold snapshot lives."""
    return f"{gold_root.rstrip('/')}/{PUBLISHED_DIR}/{SNAPSHOT_COLUMN}={day.isoformat()}.json"


class PublicationFileSystem(Protocol):
    def exists(self, path: str) -> bool: ...

    def delete(self, path: str) -> bool: ...

    def make_dirs(self, path: str) -> None: ...

    def write_text(self, path: str, text: str) -> None: ...

    def rename(self, source: str, target: str) -> None: ...


class GoldPublication:
    """Publish a date's gold snapshot atomically: its tables are written one after another, so a
    reader follows one marker per date instead of the tables themselves.

    ``build_recommendations`` removes the date's marker before it rewrites any table and writes it
    (run id, rows per table) after the last one, by a rename, so the marker is complete or absent.
    ``load_recommendations`` loads only a published date and checks, before and after streaming each
    table, that the marker is still the one it started from, so a build that starts in the middle of
    a load makes the load fail and roll back instead of serving a mix of two builds.
    """

    def __init__(self, fs: PublicationFileSystem, gold_root: str) -> None:
        self.fs = fs
        self.gold_root = gold_root.rstrip("/")
        self.root = f"{self.gold_root}/{PUBLISHED_DIR}"

    def marker(self, day: date) -> str:
        return publication_marker(self.gold_root, day)

    def unpublish(self, day: date) -> None:
        """Before the first table of ``day`` is rewritten: readers must not load it from now on."""
        self.fs.make_dirs(self.root)  # its presence says: this gold root is published by markers
        self.fs.delete(self.marker(day))

    def publish(self, day: date, *, run_id: str, rows: dict[str, int]) -> None:
        """After the last table of ``day`` is written."""
        text = json.dumps({"snapshot_date": day.isoformat(), "run_id": run_id, "rows": rows}, sort_keys=True)
        marker = self.marker(day)
        self.fs.delete(marker + ".tmp")
        self.fs.write_text(marker + ".tmp", text)
        self.fs.delete(marker)
        self.fs.rename(marker + ".tmp", marker)
