"""The run ledger contract, run against SQLite (unit) and the real PostgreSQL (``postgres`` marker)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sparkjobs.pipeline.errors import LedgerError, PipelineLockedError, RunNotFoundError
from sparkjobs.pipeline.ledger import (
    Holder,
    PostgresLedger,
    RunLedger,
    RunRecord,
    SQLiteLedger,
    StepRecord,
    open_ledger,
    pid_alive,
)

D1 = date(2024, 3, 1)
D2 = date(2024, 3, 2)
T0 = datetime(2024, 3, 2, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """``make_ledger(clock, holder=..., process_alive=...)``: ledgers that share one store."""
    schema = f"test_ledger_{uuid.uuid4().hex[:10]}"
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None

    def make(clock: Clock, **kwargs: object) -> RunLedger:
        if dsn is not None:
            ledger: RunLedger = PostgresLedger(dsn, schema=schema, clock=clock, **kwargs)  # type: ignore[arg-type]
        else:
            ledger = SQLiteLedger(tmp_path / "state" / "ledger.db", clock=clock, **kwargs)  # type: ignore[arg-type]
        ledger.init_schema()
        return ledger

    yield make
    if dsn is not None:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_run(run_id: str, day: date = D1, *, started: datetime = T0, status: str = "running") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        pipeline="daily",
        logical_date=day,
        mode="incremental",
        status=status,
        trigger="manual",
        env="dev",
        host="h",
        pid=1,
        started_at=started,
        steps=[StepRecord("ingest", "ingest_events", 0), StepRecord("build", "build_recs", 1)],
    )


# -- locks -----------------------------------------------------------------------------------------
def test_second_acquire_for_the_same_pipeline_and_date_is_refused(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    first = make_ledger(clock)
    other = make_ledger(clock, holder=Holder("host-b", "node-b", 4242))
    assert first.acquire_lock("daily", D1, "run-1", stale_after_s=120) is None
    with pytest.raises(PipelineLockedError) as err:
        other.acquire_lock("daily", D1, "run-2", stale_after_s=120, hint="wait")
    assert err.value.exit_code == 2
    assert err.value.holder_run_id == "run-1"
    assert "already running for 2024-03-01: run run-1" in str(err.value)
    # another date and another pipeline are independent
    assert other.acquire_lock("daily", D2, "run-3", stale_after_s=120) is None
    assert other.acquire_lock("weekly", D1, "run-4", stale_after_s=120) is None
    assert [(lk.pipeline, lk.logical_date, lk.run_id) for lk in first.locks()] == [
        ("daily", D1, "run-1"),
        ("daily", D2, "run-3"),
        ("weekly", D1, "run-4"),
    ]


def test_release_frees_the_lock_only_for_its_holder(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    assert ledger.release_lock("daily", D1, "someone-else") is False
    assert ledger.get_lock("daily", D1) is not None
    assert ledger.release_lock("daily", D1, "run-1") is True
    assert ledger.get_lock("daily", D1) is None
    assert ledger.acquire_lock("daily", D1, "run-2", stale_after_s=120) is None


def test_heartbeat_keeps_a_lock_fresh(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    holder = make_ledger(clock, holder=Holder("host-a", "node-a", 10))
    other = make_ledger(clock, holder=Holder("host-b", "node-b", 20))
    holder.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    for _ in range(5):  # 5 x 60 s, beating each time: never stale
        clock.advance(60)
        assert holder.heartbeat("daily", D1, "run-1") is True
        with pytest.raises(PipelineLockedError):
            other.acquire_lock("daily", D1, "run-2", stale_after_s=120)
    lock = holder.get_lock("daily", D1)
    assert lock is not None and lock.heartbeat_at == T0 + timedelta(seconds=300)


def test_a_lock_without_heartbeat_is_taken_over_and_its_run_marked_abandoned(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    dead = make_ledger(clock, holder=Holder("host-a", "node-a", 10))
    dead.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    dead.create_run(new_run("run-1"))
    dead.start_step("run-1", "ingest", T0)
    dead.start_attempt("run-1", "ingest", 1, T0)
    other = make_ledger(clock, holder=Holder("host-b", "node-b", 20))
    clock.advance(119)
    with pytest.raises(PipelineLockedError):
        other.acquire_lock("daily", D1, "run-2", stale_after_s=120)
    clock.advance(2)  # 121 s without a heartbeat
    taken = other.acquire_lock("daily", D1, "run-2", stale_after_s=120)
    assert taken is not None and taken.run_id == "run-1"
    lock = other.get_lock("daily", D1)
    assert lock is not None and (lock.run_id, lock.host, lock.pid) == ("run-2", "host-b", 20)
    old = other.get_run("run-1")
    assert old.status == "abandoned"
    assert old.error is not None and "no heartbeat for 121s" in old.error
    assert old.step("ingest").status == "failed"  # type: ignore[union-attr]
    assert [a.status for a in old.attempts] == ["failed"]
    # the dead holder cannot refresh a lock it lost
    assert dead.heartbeat("daily", D1, "run-1") is False


def test_a_lock_of_a_dead_process_on_this_machine_is_taken_over_at_once(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    me = Holder.current()
    gone = make_ledger(clock, holder=Holder(me.host, me.node, dead_pid()))
    gone.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    mine = make_ledger(clock)
    taken = mine.acquire_lock("daily", D1, "run-2", stale_after_s=120)  # heartbeat is fresh, pid is gone
    assert taken is not None and taken.run_id == "run-1"


def test_a_live_process_on_this_machine_keeps_its_lock(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    me = Holder.current()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alive = make_ledger(clock, holder=Holder(me.host, me.node, proc.pid))
        alive.acquire_lock("daily", D1, "run-1", stale_after_s=120)
        with pytest.raises(PipelineLockedError):
            make_ledger(clock).acquire_lock("daily", D1, "run-2", stale_after_s=120)
    finally:
        proc.kill()
        proc.wait()


def test_pid_check_is_not_used_across_machines(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    elsewhere = make_ledger(clock, holder=Holder("other-host", "other-node", dead_pid()))
    elsewhere.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    with pytest.raises(PipelineLockedError):  # that pid means nothing here: only the heartbeat counts
        make_ledger(clock).acquire_lock("daily", D1, "run-2", stale_after_s=120)


def test_only_one_of_two_takeovers_wins(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    make_ledger(clock, holder=Holder("a", "na", 1)).acquire_lock("daily", D1, "run-1", stale_after_s=120)
    clock.advance(500)
    b = make_ledger(clock, holder=Holder("b", "nb", 2))
    c = make_ledger(clock, holder=Holder("c", "nc", 3))
    stale = b.get_lock("daily", D1)
    assert stale is not None
    assert b._take_over(stale, "run-b", "test") is True
    assert c._take_over(stale, "run-c", "test") is False  # the row it judged stale is gone
    lock = c.get_lock("daily", D1)
    assert lock is not None and lock.run_id == "run-b"


def test_force_unlock_removes_the_lock_and_abandons_the_run(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.acquire_lock("daily", D1, "run-1", stale_after_s=120)
    ledger.create_run(new_run("run-1"))
    removed = ledger.force_unlock("daily", D1)
    assert removed is not None and removed.run_id == "run-1"
    assert ledger.get_lock("daily", D1) is None
    assert ledger.get_run("run-1").status == "abandoned"
    assert ledger.force_unlock("daily", D1) is None


# -- runs ------------------------------------------------------------------------------------------
def test_run_steps_and_attempts_are_recorded(make_ledger) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    ledger = make_ledger(clock)
    ledger.create_run(new_run("run-1"))
    ledger.start_step("run-1", "ingest", T0)
    ledger.start_attempt("run-1", "ingest", 1, T0)
    ledger.finish_attempt(
        "run-1", "ingest", 1, "failed", T0 + timedelta(seconds=1), 1.0, "TransientError: boom"
    )
    ledger.start_attempt("run-1", "ingest", 2, T0 + timedelta(seconds=3))
    ledger.finish_attempt("run-1", "ingest", 2, "success", T0 + timedelta(seconds=5), 2.0)
    ledger.finish_step("run-1", "ingest", "success", T0 + timedelta(seconds=5), 5.0)
    ledger.start_step("run-1", "build", T0 + timedelta(seconds=5))
    ledger.start_attempt("run-1", "build", 1, T0 + timedelta(seconds=5))
    ledger.finish_attempt("run-1", "build", 1, "failed", T0 + timedelta(seconds=6), 1.0, "DataError: bad")
    ledger.finish_step("run-1", "build", "failed", T0 + timedelta(seconds=6), 1.0, "DataError: bad")
    ledger.finish_run(
        "run-1", "failed", T0 + timedelta(seconds=6), 6.0, failed_step="build", error="DataError: bad"
    )

    run = ledger.get_run("run-1")
    assert (run.status, run.failed_step, run.error, run.duration_s) == (
        "failed",
        "build",
        "DataError: bad",
        6.0,
    )
    assert run.logical_date == D1
    assert run.started_at == T0
    assert [(s.step, s.status, s.attempts, s.duration_s) for s in run.steps] == [
        ("ingest", "success", 2, 5.0),
        ("build", "failed", 1, 1.0),
    ]
    assert [(a.step, a.attempt, a.status, a.error) for a in run.attempts] == [
        ("ingest", 1, "failed", "TransientError: boom"),
        ("ingest", 2, "success", None),
        ("build", 1, "failed", "DataError: bad"),
    ]
    assert run.to_dict()["steps"][0]["started_at"] == "2024-03-02T02:00:00+00:00"


def test_reopen_keeps_succeeded_steps_and_adds_new_ones(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.create_run(new_run("run-1"))
    ledger.finish_step("run-1", "ingest", "success", T0, 1.0)
    ledger.finish_step("run-1", "build", "failed", T0, 1.0, "boom")
    ledger.finish_run("run-1", "failed", T0, 2.0, failed_step="build", error="boom")
    steps = [
        StepRecord("ingest", "ingest_events", 0),
        StepRecord("build", "build_recs", 1),
        StepRecord("load", "l", 2),
    ]
    ledger.reopen_run("run-1", steps)
    run = ledger.get_run("run-1")
    assert (run.status, run.resumes, run.error, run.failed_step) == ("running", 1, None, None)
    assert [(s.step, s.status) for s in run.steps] == [
        ("ingest", "success"),
        ("build", "pending"),
        ("load", "pending"),
    ]


def test_listing_and_dates(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.create_run(new_run("a", D1, started=T0, status="failed"))
    ledger.create_run(new_run("b", D1, started=T0 + timedelta(minutes=5), status="success"))
    ledger.create_run(new_run("c", D2, started=T0 + timedelta(minutes=9), status="success"))
    ledger.create_run(new_run("d", date(2024, 3, 5), started=T0 + timedelta(minutes=10), status="failed"))
    assert [r.run_id for r in ledger.list_runs("daily")] == ["d", "c", "b", "a"]
    assert [r.run_id for r in ledger.list_runs("daily", limit=2)] == ["d", "c"]
    assert [r.run_id for r in ledger.list_runs("daily", logical_date=D1)] == ["b", "a"]
    assert [r.run_id for r in ledger.list_runs("daily", statuses=["failed"])] == ["d", "a"]
    assert [s.step for s in ledger.list_runs("daily", limit=1)[0].steps] == ["ingest", "build"]
    latest = ledger.latest_run("daily", D1)
    assert latest is not None and latest.run_id == "b"
    assert ledger.latest_run("weekly") is None
    assert ledger.run_dates("daily", D1, date(2024, 3, 31)) == {D1, D2, date(2024, 3, 5)}
    assert ledger.run_dates("daily", D2, D2, statuses=["success"]) == {D2}
    assert ledger.last_run_date("daily") == date(2024, 3, 5)
    assert ledger.last_run_date("daily", statuses=["success"]) == D2
    assert ledger.last_run_date("weekly") is None


def test_unknown_run(make_ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RunNotFoundError, match="no pipeline run 'nope'"):
        make_ledger(Clock()).get_run("nope")


def test_long_errors_are_clipped_and_secrets_masked(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.create_run(new_run("run-1"))
    ledger.finish_run("run-1", "failed", T0, 1.0, error="postgresql://app:hunter2@db/x refused " + "x" * 9000)
    error = ledger.get_run("run-1").error
    assert error is not None
    assert "hunter2" not in error and "app:********@db" in error
    assert len(error) == 4000 and error.endswith("...[truncated]")


def test_schema_creation_is_idempotent(make_ledger) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(Clock())
    ledger.create_run(new_run("run-1"))
    ledger.init_schema()
    assert ledger.get_run("run-1").run_id == "run-1"


# -- helpers ---------------------------------------------------------------------------------------
def test_open_ledger_by_url(tmp_path: Path) -> None:
    ledger = open_ledger("sqlite:///state/p.db", base_dir=tmp_path)
    assert isinstance(ledger, SQLiteLedger)
    assert ledger.path == tmp_path / "state" / "p.db"
    assert ledger.path.exists()
    absolute = open_ledger(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SQLiteLedger) and absolute.path == tmp_path / "abs.db"
    pg = open_ledger("postgresql://u:secret@h:5/db", init=False)
    assert isinstance(pg, PostgresLedger) and "secret" not in pg.where
    with pytest.raises(LedgerError, match="unsupported state store url"):
        open_ledger("redis://x")


def test_unreachable_postgres_is_a_transient_ledger_error() -> None:
    ledger = PostgresLedger("postgresql://nobody@127.0.0.1:1/none", connect_timeout_s=2)
    with pytest.raises(LedgerError) as err:
        ledger.init_schema()
    assert err.value.transient is True
    assert "creating the ledger tables failed" in str(err.value)


def test_pid_alive() -> None:
    import os

    assert pid_alive(os.getpid()) is True
    assert pid_alive(dead_pid()) is False
    assert pid_alive(0) is False
