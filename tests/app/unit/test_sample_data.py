"""recommendations.sample_data: MovieLens export, the synthetic generator, re-sends and malformed lines."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from recommendations.sample_data import (
    add_resends,
    cli,
    ensure_sample,
    malformed_lines,
    movielens,
    with_deliveries,
    write_sample,
)
from recommendations.synthetic import SyntheticSpec, synthetic
from sparkjobs.errors import UsageError

SMALL = SyntheticSpec(events=5_000, users=200, items=300, days=5, end_date=date(2020, 3, 10), seed=7)


def read_events(root: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((root / "events").glob("event_date=*/part-*.csv")):
        frame = pd.read_csv(path, dtype=str)
        frame["delivery"] = path.parent.name.split("=", 1)[1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_movielens_has_the_documented_shape() -> None:
    events, catalog = movielens()
    assert list(events.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(events) == 100_004
    assert events["user_id"].nunique() == 671
    assert len(catalog) == 9_066 and catalog["item_id"].is_unique
    days = pd.to_datetime(events["timestamp"], unit="s", utc=True).dt.date
    assert (days.min(), days.max(), days.nunique()) == (date(1995, 1, 9), date(2016, 10, 16), 3_840)
    assert set(events["rating"].unique()) == {x / 2 for x in range(1, 11)}
    # 5 movies have no title and no year in the source; they stay empty in the raw catalog
    assert int(catalog["title"].isna().sum()) == 5


def test_synthetic_is_seeded_and_has_the_event_schema() -> None:
    events, catalog = synthetic(SMALL)
    again, _ = synthetic(SMALL)
    other, _ = synthetic(SyntheticSpec(**{**SMALL.__dict__, "seed": 8}))
    pd.testing.assert_frame_equal(events, again)
    assert not events.equals(other)
    assert list(events.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(events) == 5_000
    assert events["user_id"].between(1, 200).all() and events["item_id"].between(1, 300).all()
    assert events["rating"].between(0.5, 5.0).all() and ((events["rating"] * 2) % 1 == 0).all()
    first = int(datetime(2020, 3, 6, tzinfo=UTC).timestamp())
    last = int(datetime(2020, 3, 11, tzinfo=UTC).timestamp()) - 1
    assert events["timestamp"].between(first, last).all()
    assert list(catalog.columns) == ["item_id", "title", "year", "genres"] and len(catalog) == 300


def test_synthetic_activity_and_popularity_are_skewed() -> None:
    events, _ = synthetic(SyntheticSpec(events=50_000, users=1_000, items=2_000, days=10, seed=3))
    per_user = events["user_id"].value_counts()
    per_item = events["item_id"].value_counts()
    # uniform activity would give the busiest 1% of users ~1% of the events; Zipf gives far more
    assert per_user.head(10).sum() / len(events) > 0.10
    assert per_item.head(20).sum() / len(events) > 0.10
    # sessions: most consecutive ratings of a user are minutes apart, not days
    ordered = events.sort_values(["user_id", "timestamp"])
    gaps = ordered.groupby("user_id")["timestamp"].diff().dropna()
    assert (gaps < 3_600).mean() > 0.5


def test_resends_copy_events_into_the_next_delivery() -> None:
    events = with_deliveries(
        pd.DataFrame(
            {
                "user_id": [1, 2, 3, 4],
                "item_id": [10, 20, 30, 40],
                "rating": [4.0, 3.0, 5.0, 1.0],
                # 2020-01-01, 2020-01-01, 2020-01-03, 2020-01-05 (noon UTC)
                "timestamp": [1577880000, 1577880001, 1578052800, 1578225600],
            }
        )
    )
    out, resent = add_resends(events, 1.0, seed=1)
    assert resent == 3  # every event but those of the last delivery
    copies = out.iloc[len(events) :].sort_values("user_id")
    assert copies[["user_id", "item_id", "rating", "timestamp"]].values.tolist() == [
        [1, 10, 4.0, 1577880000],
        [2, 20, 3.0, 1577880001],
        [3, 30, 5.0, 1578052800],
    ]
    assert copies["event_date"].tolist() == ["2020-01-03", "2020-01-03", "2020-01-05"]


def test_malformed_lines_cycle_through_the_documented_reasons() -> None:
    events = with_deliveries(
        pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [4.0], "timestamp": [0]})
    )
    lines, counts = malformed_lines(7, events, "csv", seed=1)
    assert counts == {
        "bad_timestamp": 2,
        "bad_user_id": 2,
        "out_of_range_rating": 1,
        "missing_item_id": 1,
        "malformed_record": 1,
    }
    fields = [next(csv.reader([line])) for _, line in lines]
    assert fields[0][3] == "2016-10-16 20:15:00"
    assert fields[1][0].startswith("user-")
    assert fields[2][2] == "7.5"
    assert fields[3][1] == ""
    assert len(fields[4]) == 3
    json_lines, _ = malformed_lines(5, events, "json", seed=1)
    assert json.loads(json_lines[3][1])["item_id"] is None
    with pytest.raises(json.JSONDecodeError):
        json.loads(json_lines[4][1])


def test_write_sample_lays_out_daily_deliveries_and_the_catalog(tmp_path: Path) -> None:
    summary = write_sample(
        tmp_path, source="synthetic", spec=SMALL, resend_fraction=0.02, malformed=5, seed=SMALL.seed
    )
    deliveries = sorted(p.name for p in (tmp_path / "events").iterdir())
    assert deliveries == [f"event_date=2020-03-{d:02d}" for d in range(6, 11)]
    raw = read_events(tmp_path)
    assert len(raw) == summary.raw_rows == 5_000 + summary.resent + 5
    events, _ = synthetic(SMALL)
    days = pd.to_datetime(events["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    assert summary.resent == round(int((days < "2020-03-10").sum()) * 0.02)  # 2% of all but the last day
    good = raw.dropna()
    good = good[good["timestamp"].str.isdigit() & good["user_id"].str.isdigit()]
    stamped = pd.to_datetime(good["timestamp"].astype(int), unit="s", utc=True).dt.strftime("%Y-%m-%d")
    # an event sits in the delivery of its own day, or (re-sent) in a later one
    assert (stamped <= good["delivery"]).all()
    assert int((stamped < good["delivery"]).sum()) == summary.resent
    with (tmp_path / "catalog" / "movies.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header == ["item_id", "title", "year", "genres"]
    manifest = json.loads((tmp_path / "_sample.json").read_text())
    assert manifest["malformed_by_reason"] == summary.malformed_by_reason
    assert sum(manifest["malformed_by_reason"].values()) == 5


def test_write_sample_refuses_to_mix_with_existing_data(tmp_path: Path) -> None:
    write_sample(tmp_path, source="synthetic", spec=SMALL)
    with pytest.raises(UsageError, match="--force"):
        write_sample(tmp_path, source="synthetic", spec=SMALL)
    again = write_sample(tmp_path, source="synthetic", spec=SMALL, force=True)
    assert again.events == 5_000


def test_ensure_sample_writes_once(tmp_path: Path) -> None:
    first, written = ensure_sample(tmp_path, source="synthetic", spec=SMALL)
    second, written_again = ensure_sample(tmp_path, source="synthetic", spec=SMALL)
    assert (written, written_again) == (True, False)
    assert first == second


def test_cli_writes_a_synthetic_sample(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--out", str(tmp_path), "--source", "synthetic", "--events", "300", "--users", "20", "--items", "30",
         "--days", "2", "--end-date", "2021-01-02", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 300 synthetic events in 2 daily deliveries (2021-01-01 … 2021-01-02)" in result.output
    lines = [
        json.loads(line)
        for path in (tmp_path / "events").glob("*/part-00000.json")
        for line in path.read_text().splitlines()
    ]
    assert len(lines) == 300 and set(lines[0]) == {"user_id", "item_id", "rating", "timestamp"}
    refused = CliRunner().invoke(cli, ["--out", str(tmp_path), "--source", "synthetic"])
    assert refused.exit_code == 1 and "--force" in refused.output
