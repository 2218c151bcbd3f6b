"""A seeded synthetic event stream with the MovieLens schema, of any size (``--source synthetic``).

Zipf-distributed user activity and item popularity, sessions of a few ratings minutes apart in the
evening hours, users leaning to a favourite genre, ratings that follow item quality. Every draw
comes from :attr:`SyntheticSpec.seed`, so the same spec gives the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sparkjobs.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticSpec:
    """Shape of a synthetic event stream (all draws come from ``seed``)."""

    events: int = 100_000
    users: int = 1_000
    items: int = 2_000
    days: int = 30
    end_date: date = date(2016, 10, 16)
    seed: int = 42
    user_zipf: float = 0.9
    item_zipf: float = 1.0
    mean_session_length: float = 6.0
    genre_affinity: float = 0.6

    def __post_init__(self) -> None:
        for name in ("events", "users", "items", "days"):
            if getattr(self, name) < 1:
                raise UsageError(f"synthetic {name} must be >= 1")
        if self.mean_session_length < 1:
            raise UsageError("mean_session_length must be >= 1")
        if not 0 <= self.genre_affinity <= 1:
            raise UsageError("genre_affinity must be within [0, 1]")


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf weights over ``n`` ids, shuffled so that popularity is not the id order."""
    import numpy as np

    weights = 1.0 / np.arange(1, n + 1, dtype="float64") ** exponent
    rng.shuffle(weights)
    return np.asarray(weights / weights.sum())


def synthetic(spec: SyntheticSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(events, catalog)``: a seeded stream with sessions, Zipf users/items and genre taste."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(spec.seed)
    n_genres = len(GENRES)
    item_ids = np.arange(1, spec.items + 1)
    item_genre = rng.integers(0, n_genres, spec.items)
    item_second = rng.integers(0, n_genres, spec.items)
    item_quality = rng.normal(0.0, 1.0, spec.items)
    item_weight = _zipf_weights(spec.items, spec.item_zipf, rng)
    user_weight = _zipf_weights(spec.users, spec.user_zipf, rng)
    user_genre = rng.integers(0, n_genres, spec.users)

    # sessions: a user, a day, an evening start time, a geometric number of ratings minutes apart
    lengths = rng.geometric(
        1.0 / spec.mean_session_length, size=int(spec.events / spec.mean_session_length) + 16
    )
    while lengths.sum() < spec.events:
        lengths = np.concatenate([lengths, rng.geometric(1.0 / spec.mean_session_length, size=lengths.size)])
    n_sessions = int(np.searchsorted(np.cumsum(lengths), spec.events) + 1)
    lengths = lengths[:n_sessions]
    lengths[-1] -= int(lengths.sum() - spec.events)
    session_user = rng.choice(spec.users, size=n_sessions, p=user_weight)
    first_day = spec.end_date - timedelta(days=spec.days - 1)
    day0 = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp())
    session_day = rng.integers(0, spec.days, n_sessions)
    session_start = (rng.normal(20.0, 2.5, n_sessions) % 24.0) * 3600.0

    event_session = np.repeat(np.arange(n_sessions), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    gaps = rng.exponential(180.0, spec.events)
    gaps[starts == np.arange(spec.events)] = 0.0
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[np.cumsum(lengths) - lengths], lengths)
    users = session_user[event_session]
    last_second = day0 + spec.days * 86400 - 1
    timestamps = np.minimum(
        day0 + session_day[event_session] * 86400 + session_start[event_session] + offsets, last_second
    ).astype("int64")

    # items: from the user's favourite genre with probability genre_affinity, else from everything
    items = rng.choice(spec.items, size=spec.events, p=item_weight)
    in_genre = rng.random(spec.events) < spec.genre_affinity
    for genre in range(n_genres):
        members = np.flatnonzero(item_genre == genre)
        pick = in_genre & (user_genre[users] == genre)
        if members.size and pick.any():
            weights = item_weight[members] / item_weight[members].sum()
            items[pick] = rng.choice(members, size=int(pick.sum()), p=weights)
    match = item_genre[items] == user_genre[users]
    noise = rng.normal(0.0, 0.9, spec.events)
    ratings = np.clip(np.round((3.3 + 0.7 * item_quality[items] + 0.4 * match + noise) * 2) / 2, 0.5, 5.0)

    events = pd.DataFrame(
        {"user_id": users + 1, "item_id": item_ids[items], "rating": ratings, "timestamp": timestamps}
    ).sort_values(["timestamp", "user_id", "item_id"], kind="stable", ignore_index=True)
    genres = [
        GENRES[a] if a == b else f"{GENRES[min(a, b)]}|{GENRES[max(a, b)]}"
        for a, b in zip(item_genre, item_second, strict=True)
    ]
    catalog = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": [f"Synthetic Movie {i}" for i in item_ids],
            "year": pd.array(rng.integers(1930, spec.end_date.year + 1, spec.items), dtype="Int64"),
            "genres": genres,
        }
    )
    return events, catalog


# -- upstream imperfections -----------------------------------------------------------------------
