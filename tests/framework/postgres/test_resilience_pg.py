"""Retry and breaker against the real PostgreSQL: a killed backend is retried and recovers; terminal
errors are not retried."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest

from sparkjobs.observability.metrics import RunMetrics
from sparkjobs.resilience import CircuitBreaker, CircuitOpenError, RetryEvent, RetryPolicy, classify

pytestmark = pytest.mark.postgres

ROWS = [(1, "a"), (2, "b"), (3, "c")]
FAST = RetryPolicy(strategy="fixed", initial_delay_s=0.05, max_attempts=3)


@pytest.fixture
def table(pg_dsn: str) -> Iterator[str]:
    name = f"resilience_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"create table {name} (id int primary key, label text not null)")
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists {name}")


def _terminate_when_busy(dsn: str, pid: int, needle: str, done: threading.Event) -> None:
    """From a second connection: wait until backend ``pid`` runs ``needle``, then terminate it."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            row = admin.execute("select state, query from pg_stat_activity where pid = %s", (pid,)).fetchone()
            if row is not None and row[0] == "active" and needle in row[1]:
                admin.execute("select pg_terminate_backend(%s)", (pid,))
                done.set()
                return
            time.sleep(0.02)


def _rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"select id, label from {table} order by id").fetchall()


def test_a_backend_killed_mid_load_is_retried_and_the_load_recovers(pg_dsn: str, table: str) -> None:
    attempts: list[int] = []
    errors: list[BaseException] = []
    killed = threading.Event()

    def load() -> int:
        attempts.append(len(attempts) + 1)
        with psycopg.connect(pg_dsn) as conn:
            with conn.cursor() as cur:
                cur.executemany(f"insert into {table} (id, label) values (%s, %s)", ROWS)
                if len(attempts) == 1:  # the first attempt is killed in the middle of its transaction
                    pid = conn.info.backend_pid
                    killer = threading.Thread(
                        target=_terminate_when_busy, args=(pg_dsn, pid, "pg_sleep", killed)
                    )
                    killer.start()
                    try:
                        cur.execute("select pg_sleep(15)")
                    finally:
                        killer.join()
            conn.commit()
        return len(ROWS)

    metrics = RunMetrics("load_recommendations")
    result = FAST.call(load, metrics=metrics, operation="copy", on_retry=lambda e: errors.append(e.error))
    assert result == 3
    assert killed.is_set()
    assert attempts == [1, 2]
    (error,) = errors
    assert isinstance(error, psycopg.OperationalError)
    assert classify(error) == "transient"
    # the killed transaction left nothing behind; the retry loaded everything exactly once
    assert _rows(pg_dsn, table) == [(1, "a"), (2, "b"), (3, "c")]
    registry = metrics.registry
    assert (
        registry.get_sample_value("sparkjobs_retry_attempts_total", {"operation": "copy", "outcome": "retry"})
        == 1
    )
    assert (
        registry.get_sample_value(
            "sparkjobs_retry_attempts_total", {"operation": "copy", "outcome": "success"}
        )
        == 1
    )


def test_a_connection_killed_while_idle_in_transaction_fails_the_commit_and_is_retried(
    pg_dsn: str, table: str
) -> None:
    attempts: list[int] = []
    events: list[RetryEvent] = []

    def load() -> None:
        attempts.append(len(attempts) + 1)
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(f"insert into {table} (id, label) values (%s, %s)", ROWS[0])
            if len(attempts) == 1:
                with psycopg.connect(pg_dsn, autocommit=True) as admin:
                    admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
            conn.commit()

    FAST.call(load, on_retry=events.append)
    assert attempts == [1, 2]
    assert [e.classification.kind for e in events] == ["transient"]
    assert _rows(pg_dsn, table) == [(1, "a")]


def test_terminal_database_errors_are_not_retried(pg_dsn: str, table: str) -> None:
    calls: list[str] = []
    metrics = RunMetrics("load_recommendations")

    def query_missing_table() -> None:
        calls.append("missing")
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("select * from no_such_table_here")

    with pytest.raises(psycopg.errors.UndefinedTable) as info:
        FAST.call(query_missing_table, metrics=metrics, operation="query")
    assert calls == ["missing"]
    assert "not retried: terminal error (psycopg UndefinedTable sqlstate 42P01)" in info.value.__notes__[0]

    def insert_duplicate() -> None:
        calls.append("duplicate")
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(f"insert into {table} (id, label) values (1, 'x'), (1, 'y')")

    with pytest.raises(psycopg.errors.UniqueViolation):
        FAST.call(insert_duplicate, metrics=metrics, operation="query")
    assert calls == ["missing", "duplicate"]

    def connect_to_missing_database() -> None:
        calls.append("nodb")
        base = pg_dsn.rsplit("/", 1)[0]
        psycopg.connect(f"{base}/no_such_database_{uuid.uuid4().hex[:6]}", connect_timeout=5).close()

    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        FAST.call(connect_to_missing_database, metrics=metrics, operation="query")
    assert calls == ["missing", "duplicate", "nodb"]
    assert (
        metrics.registry.get_sample_value(
            "sparkjobs_retry_attempts_total", {"operation": "query", "outcome": "terminal"}
        )
        == 3
    )


def test_the_breaker_opens_on_a_refused_database_and_fails_fast(pg_dsn: str) -> None:
    refused = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    now = [0.0]
    breaker = CircuitBreaker("postgres", fail_max=2, reset_timeout_s=30, clock=lambda: now[0])
    for _ in range(2):
        with pytest.raises(psycopg.OperationalError, match="refused"):
            breaker.call(psycopg.connect, refused, connect_timeout=5)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError, match="circuit breaker for 'postgres' is open"):
        breaker.call(psycopg.connect, pg_dsn)
    now[0] = 30.0  # half-open: the trial call goes to the real server and closes the breaker
    breaker.call(lambda: psycopg.connect(pg_dsn).close())
    assert breaker.state == "closed"
