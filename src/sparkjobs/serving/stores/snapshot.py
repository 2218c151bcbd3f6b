"""What a load produces: the served snapshot's metadata row and the result of one load."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True)
class SnapshotInfo:
    """One row of the metadata table: what is (or was) served."""

    snapshot_date: date
    loaded_at: datetime
    load_seconds: float
    row_counts: dict[str, int]
    run_id: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SnapshotInfo:
        """A metadata row as either dialect returns it (SQLite: ISO text and JSON text)."""
        counts = row["row_counts"]
        if isinstance(counts, str):
            counts = json.loads(counts)
        snap, loaded = row["snapshot_date"], row["loaded_at"]
        return cls(
            snapshot_date=snap if isinstance(snap, date) else date.fromisoformat(snap),
            loaded_at=(loaded if isinstance(loaded, datetime) else datetime.fromisoformat(loaded)).astimezone(
                UTC
            ),
            load_seconds=float(row["load_seconds"]),
            row_counts={str(k): int(v) for k, v in counts.items()},
            run_id=row["run_id"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "loaded_at": self.loaded_at.isoformat(),
            "load_seconds": self.load_seconds,
            "row_counts": dict(self.row_counts),
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class LoadResult:
    snapshot: SnapshotInfo
    phases: dict[str, float]  # seconds spent in copy / index / swap / commit
    attempts: int

    @property
    def rows(self) -> int:
        return sum(self.snapshot.row_counts.values())
