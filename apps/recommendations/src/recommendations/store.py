"""The recommendation serving store: the four served tables and the queries the API runs.

``RecommendationStore.open(url)`` works on the embedded SQLite file (``sqlite:///path``) and on
PostgreSQL (``postgresql://user@host/db``) alike; it wraps a :class:`sparkjobs.serving.stores.SnapshotStore`,
which loads the gold snapshot as one atomic swap (see docs/serving.md). Every query is parameterised;
PostgreSQL reads go through a psycopg_pool connection pool.

Served tables (same schema on both engines)::

    items(item_id PK, title, year, genres)
    recommendations(user_id, item_id, score, rank; PK (user_id, rank))
    similar_items(item_id, similar_item_id, score, rank; PK (item_id, rank))
    popular_items(item_id PK, score, rank)
    snapshot_meta(id, snapshot_date, loaded_at, load_seconds, row_counts, run_id)   latest row = served
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sparkjobs.errors import UsageError
from sparkjobs.serving.stores import (
    Closing,
    Column,
    LoadResult,
    NoSnapshotError,
    SnapshotInfo,
    SnapshotStore,
    StoreSettings,
    StoreUnavailableError,
    TableSource,
    TableSpec,
    open_store,
)

DEFAULT_URL = "sqlite:///data/serving/recommendations.db"
MAX_LIMIT = 1000

ITEMS = TableSpec(
    "items",
    (
        Column("item_id", "int32"),
        Column("title", "string", nullable=True),
        Column("year", "int32", nullable=True),
        Column("genres", "string", nullable=True),
    ),
    primary_key=("item_id",),
)
RECOMMENDATIONS = TableSpec(
    "recommendations",
    (
        Column("user_id", "int32"),
        Column("item_id", "int32"),
        Column("score", "float64"),
        Column("rank", "int32"),
        Column("source", "string"),
    ),
    primary_key=("user_id", "rank"),
)
SIMILAR_ITEMS = TableSpec(
    "similar_items",
    (
        Column("item_id", "int32"),
        Column("similar_item_id", "int32"),
        Column("score", "float64"),
        Column("rank", "int32"),
    ),
    primary_key=("item_id", "rank"),
)
POPULAR_ITEMS = TableSpec(
    "popular_items",
    (Column("item_id", "int32"), Column("score", "float64"), Column("rank", "int32")),
    primary_key=("item_id",),
    indexes=(("rank",),),
)
#: load order: the catalog first (it is what the other tables point at)
TABLES: tuple[TableSpec, ...] = (ITEMS, RECOMMENDATIONS, SIMILAR_ITEMS, POPULAR_ITEMS)
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)

# Each answer is ONE statement, so that it reads one snapshot even while a load swaps tables in
# between two requests' statements (a statement sees the tables as they were when it started).
_RECOMMENDATIONS_SQL = """
SELECT r.item_id, i.title, r.score, r.rank, r.source, 0 AS fallback
FROM recommendations r LEFT JOIN items i ON i.item_id = r.item_id
WHERE r.user_id = :user_id
UNION ALL
SELECT p.item_id, i.title, p.score, p.rank, 'popular' AS source, 1 AS fallback
FROM popular_items p LEFT JOIN items i ON i.item_id = p.item_id
WHERE NOT EXISTS (SELECT 1 FROM recommendations u WHERE u.user_id = :user_id)
ORDER BY rank
LIMIT :limit
"""
_POPULAR_SQL = """
SELECT p.item_id, i.title, p.score, p.rank, 'popular' AS source
FROM popular_items p LEFT JOIN items i ON i.item_id = p.item_id
ORDER BY p.rank
LIMIT :limit
"""
_SIMILAR_SQL = """
SELECT s.similar_item_id AS item_id, i.title, s.score, s.rank
FROM similar_items s LEFT JOIN items i ON i.item_id = s.similar_item_id
WHERE s.item_id = :item_id
ORDER BY s.rank
LIMIT :limit
"""
_ITEM_SQL = "SELECT item_id, title, year, genres FROM items WHERE item_id = :item_id"
_ITEM_WITH_SIMILAR_SQL = """
SELECT t.title AS target_title, s.similar_item_id AS item_id, i.title, s.score, s.rank
FROM items t
LEFT JOIN similar_items s ON s.item_id = t.item_id
LEFT JOIN items i ON i.item_id = s.similar_item_id
WHERE t.item_id = :item_id
ORDER BY s.rank
LIMIT :limit
"""


@dataclass(frozen=True)
class Recommendations:
    """What a user gets: their own list, or the popular items when the snapshot does not know them."""

    user_id: int
    items: list[dict[str, Any]]
    fallback: bool


@dataclass(frozen=True)
class Health:
    """Whether the store can serve: reachable and holding a snapshot (and not too old, if asked)."""

    ok: bool
    reason: str | None = None
    snapshot: SnapshotInfo | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def snapshot_age_days(self) -> int | None:
        return None if self.snapshot is None else (self.checked_at.date() - self.snapshot.snapshot_date).days

    @property
    def loaded_age_seconds(self) -> float | None:
        if self.snapshot is None:
            return None
        return round((self.checked_at - self.snapshot.loaded_at).total_seconds(), 3)


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
    return limit


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["score"] = float(out["score"])
    return out


class RecommendationStore(Closing):
    """Reads (and loads) the served recommendation tables of one store."""

    def __init__(self, store: SnapshotStore) -> None:
        missing = [name for name in TABLE_NAMES if name not in {t.name for t in store.tables}]
        if missing:
            raise UsageError(f"the snapshot store does not declare the tables {missing}")
        self.store = store

    @classmethod
    def open(cls, url: str | StoreSettings = DEFAULT_URL, **kwargs: Any) -> RecommendationStore:
        """Open ``sqlite:///path`` or ``postgresql://...`` (or full :class:`StoreSettings`).

        Keyword arguments (``retry``, ``breaker``, ``is_transient``, ``clock``, ``logger``) go to
        :func:`sparkjobs.serving.stores.open_store`. Nothing connects until the first query or load.
        """
        return cls(open_store(url, TABLES, **kwargs))

    @property
    def target(self) -> str:
        return self.store.target

    # -- queries -----------------------------------------------------------------------------------
    def recommend(self, user_id: int, limit: int = 10) -> Recommendations:
        """The user's top ``limit`` items by rank; the popular items when the user is unknown."""
        limit = _check_limit(limit)
        rows = self.store.fetch_all(_RECOMMENDATIONS_SQL, {"user_id": user_id, "limit": limit})
        fallback = bool(rows) and bool(rows[0]["fallback"])
        items = [_row({k: v for k, v in r.items() if k != "fallback"}) for r in rows]
        return Recommendations(user_id, items, fallback=fallback or not rows)

    def recommendations(self, user_id: int, limit: int = 10) -> list[dict[str, Any]]:
        """``[{item_id, title, score, rank, source}]``; unknown users get popular items (source 'popular')."""
        return self.recommend(user_id, limit).items

    def popular_items(self, limit: int = 10) -> list[dict[str, Any]]:
        limit = _check_limit(limit)
        return [_row(r) for r in self.store.fetch_all(_POPULAR_SQL, {"limit": limit})]

    def similar_items(self, item_id: int, limit: int = 10) -> list[dict[str, Any]]:
        """``[{item_id, title, score, rank}]`` most similar to ``item_id`` (empty when unknown)."""
        limit = _check_limit(limit)
        return [_row(r) for r in self.store.fetch_all(_SIMILAR_SQL, {"item_id": item_id, "limit": limit})]

    def item_with_similar(
        self, item_id: int, limit: int = 10
    ) -> tuple[str | None, list[dict[str, Any]]] | None:
        """``(title, similar items)`` of ``item_id`` read in one statement; None when not in the catalog."""
        limit = _check_limit(limit)
        rows = self.store.fetch_all(_ITEM_WITH_SIMILAR_SQL, {"item_id": item_id, "limit": limit})
        if not rows:
            return None
        similar = [
            _row({k: v for k, v in r.items() if k != "target_title"})
            for r in rows
            if r["item_id"] is not None
        ]
        return rows[0]["target_title"], similar

    def item(self, item_id: int) -> dict[str, Any] | None:
        rows = self.store.fetch_all(_ITEM_SQL, {"item_id": item_id})
        return dict(rows[0]) if rows else None

    def served_snapshot(self) -> dict[str, Any] | None:
        """The served snapshot (date, loaded_at, load_seconds, row_counts, run_id) or None."""
        info = self.store.served_snapshot()
        return None if info is None else info.to_dict()

    def health(self, now: datetime | None = None, max_age_days: int | None = None) -> Health:
        """Never raises: an unreachable store or a missing snapshot is a ``Health`` with a reason."""
        checked_at = (now or datetime.now(UTC)).astimezone(UTC)
        try:
            info = self.store.served_snapshot()
        except (StoreUnavailableError, NoSnapshotError) as exc:
            return Health(False, str(exc), None, checked_at)
        except Exception as exc:  # a health check reports, it does not crash
            return Health(False, f"store check failed: {type(exc).__name__}: {exc}", None, checked_at)
        if info is None:
            return Health(
                False, f"no snapshot is loaded in {self.target}; run load_recommendations", None, checked_at
            )
        health = Health(True, None, info, checked_at)
        age = health.snapshot_age_days
        if max_age_days is not None and age is not None and age > max_age_days:
            return Health(
                False,
                f"served snapshot {info.snapshot_date.isoformat()} is {age} days old (max {max_age_days})",
                info,
                checked_at,
            )
        return health

    # -- loading -----------------------------------------------------------------------------------
    def load_snapshot(
        self, tables: Mapping[str, TableSource], *, snapshot_date: date, run_id: str
    ) -> LoadResult:
        """Swap in a new snapshot of the four tables (see :meth:`SnapshotStore.load_snapshot`)."""
        return self.store.load_snapshot(tables, snapshot_date=snapshot_date, run_id=run_id)

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        return f"RecommendationStore({self.target})"
