"""A date's gold snapshot is published atomically (issue 9): the loader follows one marker per date.

The builder unpublishes a date before rewriting its tables and publishes it after the last one;
the loader refuses an unpublished date and fails (rolling back) when the marker changes while it
streams the tables, so a reader never serves a mix of two builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recommendations.jobs.load_recommendations import GoldSnapshotReader
from recommendations.lake import GoldPublication
from recommendations.store import TABLES, RecommendationStore
from sparkjobs.errors import DataError, JobFailedError
from sparkjobs.io.filesystem import LocalFileSystem
from sparkjobs.serving.stores import SnapshotLoadError
from tests.framework.postgres.test_stores import DAY_A, DAY_B, run_load, write_gold


def test_publish_writes_a_complete_marker_and_unpublish_removes_it(tmp_path: Path) -> None:
    publication = GoldPublication(LocalFileSystem(), str(tmp_path / "gold"))
    publication.unpublish(DAY_A)
    assert (tmp_path / "gold" / "_published").is_dir() and not Path(publication.marker(DAY_A)).exists()
    publication.publish(DAY_A, run_id="r1", rows={"items": 3})
    publication.publish(DAY_A, run_id="r2", rows={"items": 4})  # a rebuild replaces the marker
    assert json.loads(Path(publication.marker(DAY_A)).read_text()) == {
        "snapshot_date": "2024-05-01",
        "run_id": "r2",
        "rows": {"items": 4},
    }
    assert sorted(p.name for p in (tmp_path / "gold" / "_published").iterdir()) == [
        "snapshot_date=2024-05-01.json"
    ]
    publication.unpublish(DAY_A)
    assert not Path(publication.marker(DAY_A)).exists()


def test_an_unpublished_date_is_refused_and_the_served_snapshot_stays(tmp_path: Path) -> None:
    gold, url = tmp_path / "gold", f"sqlite:///{tmp_path}/serving.db"
    write_gold(gold, DAY_A)
    write_gold(gold, DAY_B, titles=("Toy Story 2", "Heat", "Alien"))
    publication = GoldPublication(LocalFileSystem(), str(gold))
    publication.publish(DAY_A, run_id="build-a", rows={})
    publication.unpublish(DAY_B)  # the build of B is running (or died) after it started rewriting
    assert run_load(gold, url, DAY_A)["status"] == "loaded"
    with pytest.raises((DataError, JobFailedError), match=r"2024-05-02 .* is not published"):
        run_load(gold, url, DAY_B)
    with RecommendationStore.open(url) as store:
        served = store.served_snapshot()
        assert served is not None and served["snapshot_date"] == "2024-05-01"


def test_a_rebuild_during_the_load_fails_it_and_nothing_is_swapped_in(tmp_path: Path) -> None:
    gold, url = tmp_path / "gold", f"sqlite:///{tmp_path}/serving.db"
    write_gold(gold, DAY_A)
    publication = GoldPublication(LocalFileSystem(), str(gold))
    publication.publish(DAY_A, run_id="build-1", rows={})
    reader = GoldSnapshotReader(str(gold))
    assert json.loads(reader.expect_publication(DAY_A) or "null")["run_id"] == "build-1"
    with RecommendationStore.open(url) as store:
        store.load_snapshot(
            {s.name: reader.source(s, DAY_A) for s in TABLES}, snapshot_date=DAY_A, run_id="x"
        )
        before = store.recommendations(7, 10)
        sources: dict[str, Any] = {s.name: reader.source(s, DAY_A) for s in TABLES}
        second = TABLES[1].name

        def rebuilt_meanwhile() -> Any:  # a new build publishes after the first table was streamed
            publication.publish(DAY_A, run_id="build-2", rows={})
            return sources[second]()

        with pytest.raises((SnapshotLoadError, DataError), match="re-published by another build"):
            store.load_snapshot({**sources, second: rebuilt_meanwhile}, snapshot_date=DAY_B, run_id="y")
        served = store.served_snapshot()
        assert served is not None and served["run_id"] == "x" and store.recommendations(7, 10) == before
