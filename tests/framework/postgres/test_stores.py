"""Serving stores: one snapshot swapped in atomically, on SQLite (no marker) and PostgreSQL (``postgres``).

Every expected value is written by hand from the tiny snapshots below.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from sparkjobs.errors import ConfigError, DataError, JobFailedError
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.resilience import RetryPolicy, is_retryable
from sparkjobs.serving.stores import (
    Column,
    NoSnapshotError,
    SnapshotLoadError,
    SnapshotStore,
    StoreSettings,
    StoreUnavailableError,
    TableSpec,
    encode_binary_rows,
    encode_rows_with_nulls,
    open_store,
    to_pyformat,
)

ROOT = Path(__file__).resolve().parents[3]

USERS = TableSpec(
    "users",
    (
        Column("user_id", "int32"),
        Column("name", "string", nullable=True),
        Column("joined", "date", nullable=True),
        Column("active", "bool"),
        Column("updated", "timestamp", nullable=True),
    ),
    primary_key=("user_id",),
)
SCORES = TableSpec(
    "scores",
    (
        Column("user_id", "int32"),
        Column("rank", "int32"),
        Column("item", "int64"),
        Column("score", "float64"),
    ),
    primary_key=("user_id", "rank"),
    indexes=(("item",),),
)
TABLES = (USERS, SCORES)
DAY_A, DAY_B = date(2024, 5, 1), date(2024, 5, 2)
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def users_a() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 2], pa.int64()),  # cast to int32 by the store
            "name": ["ann", None],
            "joined": pa.array([date(2020, 1, 2), None], pa.date32()),
            "active": [True, False],
            "updated": pa.array([NOON, None], pa.timestamp("us", tz="UTC")),
        }
    )


def scores_a() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 1, 2], pa.int32()),
            "rank": pa.array([1, 2, 1], pa.int32()),
            "item": pa.array([100, 200, 300], pa.int64()),
            "score": [0.5, 0.25, 1.0],
            "ignored_extra_column": ["x", "y", "z"],
        }
    )


def users_b() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([1, 3, 4], pa.int32()),
            "name": ["ann", "cy", "dee"],
            "joined": pa.array([None, None, None], pa.date32()),
            "active": [True, True, False],
            "updated": pa.array([None, None, None], pa.timestamp("us", tz="UTC")),
        }
    )


def scores_b() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([3], pa.int32()),
            "rank": pa.array([1], pa.int32()),
            "item": pa.array([400], pa.int64()),
            "score": [0.75],
        }
    )


# -- fixtures -------------------------------------------------------------------------------------
ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def pg_schema(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(dsn, a fresh schema) dropped afterwards; only for the postgres parametrisation."""
    dsn = request.getfixturevalue("pg_dsn")
    schema = f"t_stores_{uuid.uuid4().hex[:10]}"
    yield dsn, schema
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., SnapshotStore]]:
    engine = request.param
    created: list[SnapshotStore] = []
    pg = request.getfixturevalue("pg_schema") if engine == "postgres" else None

    def make(**overrides: Any) -> SnapshotStore:
        kwargs = {k: overrides.pop(k) for k in ("retry", "breaker", "is_transient") if k in overrides}
        if pg is None:
            settings = StoreSettings(url=f"sqlite:///{tmp_path}/serve.db", **overrides)
        else:
            overrides.setdefault("application_name", f"t{uuid.uuid4().hex[:8]}")
            settings = StoreSettings(url=pg[0], db_schema=pg[1], **overrides)
        store = open_store(settings, TABLES, **kwargs)
        created.append(store)
        return store

    yield make
    for store in created:
        store.close()


def rows(store: SnapshotStore, table: str) -> list[dict[str, Any]]:
    order = ", ".join({"users": ("user_id",), "scores": ("user_id", "rank")}[table])
    return store.fetch_all(f"SELECT * FROM {table} ORDER BY {order}")


def table_names(store: SnapshotStore) -> set[str]:
    if store.kind == "sqlite":
        found = store.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        found = store.fetch_all(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = :s",
            {"s": store.settings.db_schema},
        )
    return {r["name"] for r in found if not r["name"].startswith("sqlite_")}


def expected_users_a(kind: str) -> list[dict[str, Any]]:
    if kind == "sqlite":  # dates and timestamps are ISO text, booleans integers
        return [
            {
                "user_id": 1,
                "name": "ann",
                "joined": "2020-01-02",
                "active": 1,
                "updated": "2024-05-01T12:00:00+00:00",
            },
            {"user_id": 2, "name": None, "joined": None, "active": 0, "updated": None},
        ]
    return [
        {"user_id": 1, "name": "ann", "joined": date(2020, 1, 2), "active": True, "updated": NOON},
        {"user_id": 2, "name": None, "joined": None, "active": False, "updated": None},
    ]


SCORES_A = [
    {"user_id": 1, "rank": 1, "item": 100, "score": 0.5},
    {"user_id": 1, "rank": 2, "item": 200, "score": 0.25},
    {"user_id": 2, "rank": 1, "item": 300, "score": 1.0},
]


# -- both engines ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_nothing_served_before_the_first_load(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store()
    assert store.served_snapshot() is None
    with pytest.raises(NoSnapshotError, match="no snapshot is loaded"):
        store.fetch_all("SELECT * FROM users")


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_load_then_read_every_type(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store()
    result = store.load_snapshot(
        {"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a"
    )
    assert result.snapshot.row_counts == {"users": 2, "scores": 3}
    assert result.attempts == 1
    assert rows(store, "users") == expected_users_a(store.kind)
    assert rows(store, "scores") == SCORES_A
    served = store.served_snapshot()
    assert served is not None
    assert (served.snapshot_date, served.row_counts, served.run_id) == (
        DAY_A,
        {"users": 2, "scores": 3},
        "run-a",
    )
    assert store.fetch_all(
        "SELECT item FROM scores WHERE user_id = :u AND score >= :s ORDER BY item", {"u": 1, "s": 0.3}
    ) == [{"item": 100}]


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_awkward_text_and_floats_round_trip_exactly(make_store: Callable[..., SnapshotStore]) -> None:
    names = ["", None, 'say "hi"', "a,b\nc", "back\\slash", "\\.", "Amélie ☕"]
    users = pa.table(
        {
            "user_id": pa.array(range(1, 8), pa.int32()),
            "name": names,
            "joined": pa.array([None] * 7, pa.date32()),
            "active": [True] * 7,
            "updated": pa.array([None] * 7, pa.timestamp("us", tz="UTC")),
        }
    )
    scores = [1 / 3, 0.1 + 0.2, 1e-300, -2.5e300, 123456789.123456789, 0.0, -0.0]
    score_table = pa.table(
        {
            "user_id": pa.array(range(1, 8), pa.int32()),
            "rank": pa.array([1] * 7, pa.int32()),
            "item": pa.array([2**62, -(2**62), 0, 1, 2, 3, 4], pa.int64()),
            "score": scores,
        }
    )
    store = make_store()
    store.load_snapshot({"users": users, "scores": score_table}, snapshot_date=DAY_A, run_id="r")
    assert [r["name"] for r in rows(store, "users")] == names
    got = rows(store, "scores")
    assert [r["score"] for r in got] == scores
    assert [r["item"] for r in got] == [2**62, -(2**62), 0, 1, 2, 3, 4]


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_second_load_replaces_every_table(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    store.load_snapshot({"users": users_b(), "scores": scores_b()}, snapshot_date=DAY_B, run_id="run-b")
    assert [r["user_id"] for r in rows(store, "users")] == [1, 3, 4]
    assert rows(store, "scores") == [{"user_id": 3, "rank": 1, "item": 400, "score": 0.75}]
    history = store.snapshot_history()
    assert [(h.snapshot_date, h.run_id, h.row_counts) for h in history] == [
        (DAY_B, "run-b", {"users": 3, "scores": 1}),
        (DAY_A, "run-a", {"users": 2, "scores": 3}),
    ]
    assert table_names(store) == {"users", "scores", "snapshot_meta"}


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_a_load_failing_half_way_leaves_the_previous_snapshot_served(
    make_store: Callable[..., SnapshotStore],
) -> None:
    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")

    def dying_upstream() -> Iterator[pa.RecordBatch]:
        yield scores_b().to_batches()[0]
        raise RuntimeError("upstream died after the first batch")

    with pytest.raises(SnapshotLoadError) as info:
        store.load_snapshot(
            {"users": users_b(), "scores": dying_upstream()}, snapshot_date=DAY_B, run_id="run-b"
        )
    err = info.value
    assert (err.table, err.phase, err.transient) == ("scores", "copy", False)
    assert isinstance(err.__cause__, RuntimeError)
    assert "previous snapshot is still served" in str(err)
    served = store.served_snapshot()
    assert served is not None and (served.snapshot_date, served.run_id) == (DAY_A, "run-a")
    assert rows(store, "users") == expected_users_a(store.kind)  # users was staged, never swapped in
    assert rows(store, "scores") == SCORES_A
    assert table_names(store) == {"users", "scores", "snapshot_meta"}  # no staging table left behind


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (
            pa.table({"user_id": pa.array([1], pa.int32()), "rank": [1], "item": [5]}),
            r"missing column\(s\) \['score'\]",
        ),
        (
            pa.table({"user_id": [1], "rank": [1], "item": [5], "score": pa.array([None], pa.float64())}),
            "NOT NULL",
        ),
        (pa.table({"user_id": [2**40], "rank": [1], "item": [5], "score": [0.1]}), "does not fit int32"),
    ],
    ids=["missing-column", "null-in-not-null", "overflow"],
)
def test_bad_input_is_terminal_and_changes_nothing(
    make_store: Callable[..., SnapshotStore], scores: pa.Table, message: str
) -> None:
    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    with pytest.raises(SnapshotLoadError, match=message) as info:
        store.load_snapshot({"users": users_b(), "scores": scores}, snapshot_date=DAY_B, run_id="run-b")
    assert info.value.transient is False
    assert info.value.table == "scores"
    assert rows(store, "scores") == SCORES_A


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_duplicate_primary_key_is_refused(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    dup = pa.table({"user_id": [3, 3], "rank": [1, 1], "item": [1, 2], "score": [0.1, 0.2]})
    with pytest.raises(SnapshotLoadError) as info:
        store.load_snapshot({"users": users_b(), "scores": dup}, snapshot_date=DAY_B, run_id="run-b")
    assert info.value.transient is False
    assert "unique" in str(info.value).lower() or "duplicate" in str(info.value).lower()
    assert rows(store, "scores") == SCORES_A


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_a_snapshot_must_name_exactly_the_declared_tables(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store()
    with pytest.raises(SnapshotLoadError, match=r"missing \['scores'\], unknown \['other'\]"):
        store.load_snapshot({"users": users_a(), "other": scores_a()}, snapshot_date=DAY_A, run_id="r")


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_transient_failure_is_retried_with_replayable_inputs(
    make_store: Callable[..., SnapshotStore],
) -> None:
    slept: list[float] = []
    store = make_store(
        retry=RetryPolicy(max_attempts=3, initial_delay_s=0.5).executor(sleep=slept.append),
        is_transient=is_retryable,
    )
    calls = [0]

    def flaky_scores() -> pa.Table:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionResetError("peer reset while reading the input")
        return scores_a()

    result = store.load_snapshot(
        {"users": users_a(), "scores": flaky_scores}, snapshot_date=DAY_A, run_id="r"
    )
    assert (result.attempts, calls[0], slept) == (2, 2, [0.5])
    assert rows(store, "scores") == SCORES_A


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_one_shot_inputs_are_not_replayed(make_store: Callable[..., SnapshotStore]) -> None:
    store = make_store(
        retry=RetryPolicy(max_attempts=3, initial_delay_s=0).executor(sleep=lambda _s: None),
        is_transient=is_retryable,
    )

    def once() -> Iterator[pa.RecordBatch]:
        raise ConnectionResetError("dropped")
        yield  # pragma: no cover

    with pytest.raises(SnapshotLoadError, match="one-shot iterator"):
        store.load_snapshot({"users": users_a(), "scores": once()}, snapshot_date=DAY_A, run_id="r")
    assert store.served_snapshot() is None


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_loading_the_same_snapshot_twice_gives_identical_tables(
    make_store: Callable[..., SnapshotStore],
) -> None:
    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="r1")
    first = dump(store)
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="r2")
    second = dump(store)
    assert first == second
    if store.kind == "postgresql":
        assert second["scores"] == b"1\t1\t100\t0.5\n1\t2\t200\t0.25\n2\t1\t300\t1\n"
    else:
        assert second["scores"] == (
            b'INSERT INTO "scores" VALUES(1,1,100,0.5);\nINSERT INTO "scores" VALUES(1,2,200,0.25);\n'
            b'INSERT INTO "scores" VALUES(2,1,300,1.0);'
        )
    dupes = store.fetch_all(
        "SELECT count(*) AS n FROM "
        "(SELECT user_id, rank FROM scores GROUP BY user_id, rank HAVING count(*) > 1) d"
    )
    assert dupes == [{"n": 0}]
    assert [h.run_id for h in store.snapshot_history()] == ["r2", "r1"]


def dump(store: SnapshotStore) -> dict[str, bytes]:
    """Byte dumps of the served tables in key order (PostgreSQL COPY text; SQLite .dump lines)."""
    out: dict[str, bytes] = {}
    if store.kind == "postgresql":
        import psycopg

        with psycopg.connect(
            store.settings.url, options=f"-c search_path={store.settings.db_schema}"
        ) as conn:
            for table, key in (("users", "user_id"), ("scores", "user_id, rank")):
                buf = bytearray()
                with conn.cursor().copy(f"COPY (SELECT * FROM {table} ORDER BY {key}) TO STDOUT") as copy:
                    for block in copy:
                        buf += block
                out[table] = bytes(buf)
        return out
    import sqlite3

    with sqlite3.connect(store.settings.sqlite_path) as conn:
        lines = list(conn.iterdump())
    for table in ("users", "scores"):
        out[table] = "\n".join(ln for ln in lines if ln.startswith(f'INSERT INTO "{table}"')).encode()
    return out


@pytest.mark.parametrize("make_store", ENGINES, indirect=True)
def test_readers_see_one_whole_snapshot_or_the_other_during_swaps(
    make_store: Callable[..., SnapshotStore],
) -> None:
    loader, reader = make_store(), make_store()
    snapshots = [
        ({"users": users_a(), "scores": scores_a()}, DAY_A),
        ({"users": users_b(), "scores": scores_b()}, DAY_B),
    ]
    loader.load_snapshot(snapshots[0][0], snapshot_date=DAY_A, run_id="seed")
    seen: set[tuple[int, int, str]] = set()
    errors: list[BaseException] = []
    stop = threading.Event()
    query = (
        "SELECT (SELECT count(*) FROM users) AS nu, (SELECT count(*) FROM scores) AS ns, "
        "(SELECT max(item) FROM scores) AS top"
    )

    def read_forever() -> None:
        while not stop.is_set():
            try:
                row = reader.fetch_all(query)[0]
                seen.add((int(row["nu"]), int(row["ns"]), str(row["top"])))
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=read_forever)
    thread.start()
    try:
        for i in range(12):
            tables, day = snapshots[(i + 1) % 2]
            loader.load_snapshot(tables, snapshot_date=day, run_id=f"swap-{i}")
    finally:
        stop.set()
        thread.join(10)
    assert errors == []
    assert seen <= {(2, 3, "300"), (3, 1, "400")}  # never a mix, never an empty or partial table
    assert seen  # the reader did read


# -- PostgreSQL only -------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.parametrize("make_store", ["postgres"], indirect=True)
def test_connection_killed_during_copy_keeps_the_previous_snapshot(
    make_store: Callable[..., SnapshotStore],
) -> None:
    import psycopg

    store = make_store()
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    app = store.settings.application_name + ":load"

    def killed_mid_copy() -> Iterator[pa.RecordBatch]:
        yield scores_b().to_batches()[0]
        terminate_loader(store.settings.url, app)
        yield scores_b().to_batches()[0]

    with pytest.raises(SnapshotLoadError) as info:
        store.load_snapshot(
            {"users": users_b(), "scores": killed_mid_copy()}, snapshot_date=DAY_B, run_id="run-b"
        )
    err = info.value
    assert err.transient is True
    assert (err.table, err.phase) == ("scores", "copy")
    assert isinstance(err.__cause__, psycopg.OperationalError)
    served = store.served_snapshot()
    assert served is not None and (served.snapshot_date, served.run_id) == (DAY_A, "run-a")
    assert rows(store, "scores") == SCORES_A
    assert table_names(store) == {"users", "scores", "snapshot_meta"}


def terminate_loader(dsn: str, application_name: str) -> None:
    """Kill the loader's backend from a second connection and wait until it is gone."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s) k",
            (application_name,),
        ).fetchone()
        assert killed == (1,)
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "the loader backend did not go away"
            time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.parametrize("make_store", ["postgres"], indirect=True)
def test_dropped_connection_is_retried_and_the_load_recovers(
    make_store: Callable[..., SnapshotStore],
) -> None:
    slept: list[float] = []
    store = make_store(
        retry=RetryPolicy(max_attempts=3, initial_delay_s=0.25).executor(sleep=slept.append),
        is_transient=is_retryable,
    )
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    app = store.settings.application_name + ":load"
    opened = [0]

    def scores_killing_the_first_attempt() -> Iterator[pa.RecordBatch]:
        opened[0] += 1
        yield from scores_b().to_batches()
        if opened[0] == 1:
            terminate_loader(store.settings.url, app)
            yield from scores_b().to_batches()

    result = store.load_snapshot(
        {"users": users_b(), "scores": scores_killing_the_first_attempt}, snapshot_date=DAY_B, run_id="run-b"
    )
    assert (result.attempts, opened[0], slept) == (2, 2, [0.25])
    assert rows(store, "scores") == [{"user_id": 3, "rank": 1, "item": 400, "score": 0.75}]


@pytest.mark.postgres
@pytest.mark.parametrize("make_store", ["postgres"], indirect=True)
def test_a_reader_holding_a_table_makes_the_swap_time_out_not_hang(
    make_store: Callable[..., SnapshotStore],
) -> None:
    import psycopg

    store = make_store(lock_timeout_s=0.3)
    store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
    with psycopg.connect(store.settings.url, options=f"-c search_path={store.settings.db_schema}") as reader:
        reader.execute("SELECT count(*) FROM scores").fetchone()  # open transaction holds ACCESS SHARE
        with pytest.raises(SnapshotLoadError) as info:
            store.load_snapshot(
                {"users": users_b(), "scores": scores_b()}, snapshot_date=DAY_B, run_id="run-b"
            )
        assert (info.value.phase, info.value.transient) == ("swap", True)
        assert reader.execute("SELECT count(*) FROM scores").fetchone() == (3,)
        reader.rollback()
    store.load_snapshot({"users": users_b(), "scores": scores_b()}, snapshot_date=DAY_B, run_id="run-b")
    assert rows(store, "scores") == [{"user_id": 3, "rank": 1, "item": 400, "score": 0.75}]


@pytest.mark.postgres
@pytest.mark.parametrize("make_store", ["postgres"], indirect=True)
def test_concurrent_loads_are_serialised(make_store: Callable[..., SnapshotStore]) -> None:
    first, second = make_store(), make_store()
    errors: list[BaseException] = []

    def load(store: SnapshotStore, run_id: str) -> None:
        try:
            store.load_snapshot(
                {"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id=run_id
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(s, f"run-{i}")) for i, s in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(h.run_id for h in first.snapshot_history()) == ["run-0", "run-1"]
    assert rows(first, "scores") == SCORES_A


@pytest.mark.postgres
def test_unreachable_postgres_is_a_transient_unavailable_error() -> None:
    store = open_store(StoreSettings(url="postgresql://nobody@127.0.0.1:1/none", pool_timeout_s=0.3), TABLES)
    try:
        with pytest.raises(StoreUnavailableError, match="unavailable") as info:
            store.fetch_all("SELECT 1")
        assert info.value.transient is True
        with pytest.raises(SnapshotLoadError) as load_info:
            store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="r")
        assert (load_info.value.phase, load_info.value.transient) == ("connect", True)
    finally:
        store.close()


# -- pure functions --------------------------------------------------------------------------------
def test_binary_copy_encoding_matches_the_postgres_format() -> None:
    spec = TableSpec(
        "t",
        (
            Column("a", "int32"),
            Column("b", "int64"),
            Column("c", "float64"),
            Column("d", "bool"),
            Column("e", "date"),
        ),
    )
    batch = pa.record_batch(
        [
            pa.array([7], pa.int32()),
            pa.array([-1], pa.int64()),
            pa.array([0.5]),
            pa.array([True]),
            pa.array([date(2000, 1, 2)], pa.date32()),
        ],
        schema=spec.arrow_schema(),
    )
    expected = bytes.fromhex(
        "0005000000040000000700000008ffffffffffffffff000000083fe000000000000000000001010000000400000001"
    )
    assert encode_binary_rows(batch, spec) == expected
    assert encode_rows_with_nulls(batch, spec) == expected
    nullable = TableSpec("t", (Column("a", "int32"), Column("e", "date", nullable=True)))
    with_null = pa.record_batch(
        [pa.array([7], pa.int32()), pa.array([None], pa.date32())], schema=nullable.arrow_schema()
    )
    assert encode_rows_with_nulls(with_null, nullable) == bytes.fromhex("00020000000400000007ffffffff")


def test_named_placeholders_become_pyformat() -> None:
    sql = "SELECT a::int, b FROM t WHERE x = :x AND y LIKE '5%' AND z IN (:z_1, :z_1)"
    assert (
        to_pyformat(sql)
        == "SELECT a::int, b FROM t WHERE x = %(x)s AND y LIKE '5%%' AND z IN (%(z_1)s, %(z_1)s)"
    )


def test_password_never_stays_in_the_url() -> None:
    s = StoreSettings(url="postgresql://app:s3cr%40t@db:5432/serving?sslmode=require")
    assert s.url == "postgresql://app@db:5432/serving?sslmode=require"
    assert s.password is not None and s.password.get_secret_value() == "s3cr@t"
    assert "s3cr" not in repr(s) and "s3cr" not in s.model_dump_json() and "s3cr" not in s.describe()
    q = StoreSettings(url="postgresql://app@db/serving?password=pw2&sslmode=disable")
    assert (q.url, q.password.get_secret_value() if q.password else None) == (
        "postgresql://app@db/serving?sslmode=disable",
        "pw2",
    )
    with pytest.raises(ValidationError, match="given twice"):
        StoreSettings(url="postgresql://app:a@db/x", password="b")


def test_store_urls() -> None:
    assert StoreSettings(url="sqlite:///data/serving/x.db").sqlite_path == Path("data/serving/x.db")
    assert StoreSettings(url="sqlite:////tmp/x.db").sqlite_path == Path("/tmp/x.db")
    assert StoreSettings(url="postgres://h/db").kind == "postgresql"
    with pytest.raises(ConfigError, match="unsupported serving store url"):
        open_store("mysql://h/db", TABLES)


def test_table_specs_refuse_bad_declarations() -> None:
    with pytest.raises(ValueError, match="bad identifier"):
        TableSpec("Bad-Name", (Column("a", "int32"),))
    with pytest.raises(ValueError, match="unknown columns"):
        TableSpec("t", (Column("a", "int32"),), primary_key=("b",))
    with pytest.raises(ValueError, match="cannot be nullable"):
        TableSpec("t", (Column("a", "int32", nullable=True),), primary_key=("a",))


# -- the load_recommendations job -------------------------------------------------------------------
def write_gold(root: Path, day: date, *, titles: tuple[str, ...] = ("Toy Story", "Heat", "Alien")) -> None:
    """A hand-made gold snapshot of the four served tables."""
    tables = {
        "items": pa.table(
            {
                "item_id": pa.array([1, 2, 3], pa.int32()),
                "title": list(titles),
                "year": pa.array([1995, 1995, None], pa.int32()),
                "genres": ["Animation", "Action", "Sci-Fi"],
            }
        ),
        "recommendations": pa.table(
            {
                "user_id": pa.array([7, 7], pa.int32()),
                "item_id": pa.array([3, 2], pa.int32()),
                "score": [0.9, 0.4],
                "rank": pa.array([1, 2], pa.int32()),
                "source": ["item_knn", "item_knn"],
            }
        ),
        "similar_items": pa.table(
            {
                "item_id": pa.array([1], pa.int32()),
                "similar_item_id": pa.array([3], pa.int32()),
                "score": [0.8],
                "rank": pa.array([1], pa.int32()),
            }
        ),
        "popular_items": pa.table(
            {
                "item_id": pa.array([2, 1], pa.int32()),
                "score": [20.0, 10.0],
                "rank": pa.array([1, 2], pa.int32()),
            }
        ),
    }
    for name, table in tables.items():
        part = root / name / f"snapshot_date={day.isoformat()}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, part / "part-00000.parquet")
        (part / "_SUCCESS").write_text("")


def run_load(gold: Path, url: str, day: date, *extra: str, environ: dict[str, str] | None = None) -> Any:
    request = RunRequest(
        job="load_recommendations",
        conf_dir=ROOT / "conf",
        has_spark=False,
        event_date=day,
        params=[f"gold_path={gold}", f"store.url={url}", *extra],
    )
    runs = {"SPARKJOBS__OBSERVABILITY__RUNS_DIR": str(gold.parent / "runs")}  # run reports stay in tmp
    return execute(prepare(request, {**runs, **(environ or {})}))


def test_job_loads_a_gold_snapshot_without_spark(tmp_path: Path) -> None:
    from recommendations.store import RecommendationStore

    gold, url = tmp_path / "gold", f"sqlite:///{tmp_path}/serving.db"
    write_gold(gold, DAY_A)
    result = run_load(gold, url, DAY_A)
    assert (result["status"], result["snapshot_date"], result["previous_snapshot_date"]) == (
        "loaded",
        "2024-05-01",
        None,
    )
    assert result["row_counts"] == {"items": 3, "recommendations": 2, "similar_items": 1, "popular_items": 2}
    with RecommendationStore.open(url) as store:
        assert store.recommendations(7, 10) == [
            {"item_id": 3, "title": "Alien", "score": 0.9, "rank": 1, "source": "item_knn"},
            {"item_id": 2, "title": "Heat", "score": 0.4, "rank": 2, "source": "item_knn"},
        ]
        served = store.served_snapshot()
        assert served is not None and (served["snapshot_date"], served["run_id"]) == (
            "2024-05-01",
            result["run_id"],
        )


def test_job_rerun_is_idempotent_and_an_older_date_is_skipped(tmp_path: Path) -> None:
    import sqlite3

    gold, url = tmp_path / "gold", f"sqlite:///{tmp_path}/serving.db"
    write_gold(gold, DAY_A)
    write_gold(gold, DAY_B, titles=("Toy Story 2", "Heat", "Alien"))
    run_load(gold, url, DAY_B)

    def data_dump() -> list[str]:
        with sqlite3.connect(tmp_path / "serving.db") as conn:
            return [
                ln
                for ln in conn.iterdump()
                if ln.startswith("INSERT") and "snapshot_meta" not in ln and "sqlite_stat" not in ln
            ]

    before = data_dump()
    assert run_load(gold, url, DAY_B)["status"] == "loaded"
    assert data_dump() == before
    assert "INSERT INTO \"items\" VALUES(1,'Toy Story 2',1995,'Animation');" in before

    skipped = run_load(gold, url, DAY_A)
    assert (skipped["status"], skipped["served_snapshot_date"]) == ("skipped", "2024-05-02")
    assert data_dump() == before
    with pytest.raises(JobFailedError, match="newer snapshot") as info:
        run_load(gold, url, DAY_A, "on_older_snapshot=fail")
    assert isinstance(info.value.cause, DataError)
    assert run_load(gold, url, DAY_A, "on_older_snapshot=load")["status"] == "loaded"
    assert "INSERT INTO \"items\" VALUES(1,'Toy Story',1995,'Animation');" in data_dump()


def test_job_refuses_a_missing_or_too_small_snapshot(tmp_path: Path) -> None:
    gold, url = tmp_path / "gold", f"sqlite:///{tmp_path}/serving.db"
    write_gold(gold, DAY_A)
    run_load(gold, url, DAY_A)
    with pytest.raises(
        JobFailedError, match=r"no gold snapshot 2024-05-02 .*run build_recommendations"
    ) as info:
        run_load(gold, url, DAY_B)
    assert isinstance(info.value.cause, DataError)
    write_gold(gold, DAY_B)
    empty = pa.table(
        {
            "user_id": pa.array([], pa.int32()),
            "item_id": pa.array([], pa.int32()),
            "score": pa.array([], pa.float64()),
            "rank": pa.array([], pa.int32()),
            "source": pa.array([], pa.string()),
        }
    )
    pq.write_table(empty, gold / "recommendations" / "snapshot_date=2024-05-02" / "part-00000.parquet")
    with pytest.raises(JobFailedError, match=r"recommendations has 0 rows \(min 1\)"):
        run_load(gold, url, DAY_B)
    from recommendations.store import RecommendationStore

    with RecommendationStore.open(url) as store:
        served = store.served_snapshot()
        assert served is not None and served["snapshot_date"] == "2024-05-01"


def test_job_store_password_is_a_secret_everywhere(tmp_path: Path) -> None:
    request = RunRequest(
        job="load_recommendations",
        conf_dir=ROOT / "conf",
        has_spark=False,
        event_date=DAY_A,
        params=["store.url=postgresql://loader:inline-pw@db.example/serving"],
    )
    with pytest.raises(ConfigError, match="given twice"):
        prepare(request, {"SPARKJOBS__JOBS__LOAD_RECOMMENDATIONS__STORE__PASSWORD": "env-pw"})
    prepared = prepare(request, {})
    assert prepared.config.store.password.get_secret_value() == "inline-pw"
    assert prepared.config.store.url == "postgresql://loader@db.example/serving"
    assert "inline-pw" not in str(prepared.plan())
    from_env = prepare(
        RunRequest(job="load_recommendations", conf_dir=ROOT / "conf", has_spark=False, event_date=DAY_A),
        {"SPARKJOBS__JOBS__LOAD_RECOMMENDATIONS__STORE__PASSWORD": "env-pw"},
    )
    assert from_env.config.store.password.get_secret_value() == "env-pw"
    assert "env-pw" not in str(from_env.plan()) and "env-pw" not in repr(from_env.config)


# -- one classifier: the store's verdicts are sparkjobs.resilience.classify's -----------------------
def _raising(exc: BaseException) -> Callable[[], pa.Table]:
    def source() -> pa.Table:
        raise exc

    return source


@pytest.mark.parametrize(
    ("make_exc", "transient"),
    [
        pytest.param(lambda: psycopg_errors().DiskFull("No space left on device"), False, id="53100"),
        pytest.param(lambda: psycopg_errors().OutOfMemory("out of memory"), False, id="53200"),
        pytest.param(
            lambda: psycopg_errors().ConfigurationLimitExceeded("too many files"), False, id="53400"
        ),
        pytest.param(lambda: psycopg_errors().InsufficientResources("resources"), True, id="53000"),
        pytest.param(lambda: psycopg_errors().TooManyConnections("too many clients"), True, id="53300"),
        pytest.param(lambda: psycopg_errors().AdminShutdown("terminating connection"), True, id="57P01"),
        pytest.param(lambda: psycopg_errors().ConnectionFailure("server closed"), True, id="08006"),
        pytest.param(lambda: sqlite3.OperationalError("database is locked"), True, id="sqlite-locked"),
        pytest.param(lambda: sqlite3.OperationalError("database table is busy"), True, id="sqlite-busy"),
        pytest.param(lambda: sqlite3.OperationalError("no such column: x"), False, id="sqlite-sql"),
    ],
)
def test_a_store_without_an_injected_classifier_uses_resilience_classify(
    tmp_path: Path, make_exc: Callable[[], BaseException], transient: bool
) -> None:
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path}/serve.db"), TABLES)
    with pytest.raises(SnapshotLoadError) as info:
        store.load_snapshot(
            {"users": users_a(), "scores": _raising(make_exc())}, snapshot_date=DAY_A, run_id="r"
        )
    assert info.value.transient is transient
    assert is_retryable(info.value.__cause__) is transient  # the same verdict as the one classifier


def psycopg_errors() -> Any:
    import psycopg.errors

    return psycopg.errors
