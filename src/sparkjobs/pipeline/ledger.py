"""The run ledger: pipeline runs, their steps and attempts, and the one-run-per-date lock.

One interface, two stores: a SQLite file (default ``state/pipeline.db``) and PostgreSQL. The SQL is
written once; the two dialects differ only in how they connect, their placeholders and column
types.

Exactly one run per pipeline and logical date
    ``pipeline_locks`` has the primary key ``(pipeline, logical_date)``. Acquiring is
    ``INSERT ... ON CONFLICT DO NOTHING``: the store, not the process, decides who runs. The
    holder refreshes ``heartbeat_at`` every ``heartbeat_s`` seconds and deletes its row at the end.

Stale locks (the holder died without releasing)
    A lock is taken over only when its holder is provably gone, and the takeover says so:

    * same machine, same PID namespace (``node``: boot id + PID-namespace inode) and the holder's PID
      no longer exists (or is a zombie) → gone; or
    * the holder's heartbeat is older than ``stale_after_s`` (another machine or container).

    The takeover is a compare-and-swap (delete the exact row that was judged stale, then insert),
    so two processes that both see a stale lock cannot both win. The dead run is marked
    ``abandoned`` (resumable with ``--resume``). ``force_unlock`` is the explicit manual override.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sparkjobs.config.secrets import mask_text
from sparkjobs.pipeline.errors import LedgerError, PipelineLockedError, RunNotFoundError
from sparkjobs.resilience import explain

log = logging.getLogger("sparkjobs.pipeline.ledger")

RUN_STATUSES = ("running", "success", "failed", "stopped", "abandoned")
STEP_STATUSES = ("pending", "running", "success", "failed")
#: run statuses ``--resume`` accepts
RESUMABLE = frozenset({"failed", "stopped", "abandoned"})

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- who holds a lock -------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def process_node() -> str:
    """Identifies the PID namespace of this boot: equal nodes can check each other's PIDs."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = ""
    if not boot:  # not Linux: the host name is the best we have
        return f"host:{socket.gethostname()}"
    return f"{boot}:{pidns}"


def pid_alive(pid: int) -> bool:
    """True unless ``pid`` certainly does not run (gone, or a zombie waiting to be reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        state = stat.rsplit(")", 1)[-1].split()[:1]
        if state == ["Z"]:
            return False
    return True


@dataclass(frozen=True)
class Holder:
    """This process as a lock holder."""

    host: str
    node: str
    pid: int

    @classmethod
    def current(cls) -> Holder:
        return cls(socket.gethostname(), process_node(), os.getpid())


# -- records ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LockInfo:
    pipeline: str
    logical_date: date
    run_id: str
    host: str
    node: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime

    @property
    def holder(self) -> str:
        return f"pid {self.pid} on {self.host}"


@dataclass
class AttemptRecord:
    step: str
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass
class StepRecord:
    step: str
    job: str
    position: int
    status: str = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass
class RunRecord:
    run_id: str
    pipeline: str
    logical_date: date
    mode: str
    status: str
    trigger: str
    env: str
    host: str
    pid: int
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    failed_step: str | None = None
    error: str | None = None
    resumes: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, date | datetime) else value

        out = {k: plain(v) for k, v in self.__dict__.items() if k not in {"steps", "attempts"}}
        out["steps"] = [{k: plain(v) for k, v in s.__dict__.items()} for s in self.steps]
        out["attempts"] = [{k: plain(v) for k, v in a.__dict__.items()} for a in self.attempts]
        return out


# -- the SQL, written once ------------------------------------------------------------------------------
_DDL = """
CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id       TEXT PRIMARY KEY,
    pipeline     TEXT NOT NULL,
    logical_date {date} NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    run_trigger  TEXT NOT NULL,
    env          TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   {ts} NOT NULL,
    finished_at  {ts},
    duration_s   {float},
    failed_step  TEXT,
    error        TEXT,
    resumes      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pipeline_runs_by_date ON pipeline_runs (pipeline, logical_date, started_at);
CREATE TABLE IF NOT EXISTS pipeline_steps (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    job         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  {ts},
    finished_at {ts},
    duration_s  {float},
    error       TEXT,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS pipeline_attempts (
    run_id      TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  {ts} NOT NULL,
    finished_at {ts},
    duration_s  {float},
    error       TEXT,
    PRIMARY KEY (run_id, step, attempt)
);
CREATE TABLE IF NOT EXISTS pipeline_locks (
    pipeline     TEXT NOT NULL,
    logical_date {date} NOT NULL,
    run_id       TEXT NOT NULL,
    host         TEXT NOT NULL,
    node         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    acquired_at  {ts} NOT NULL,
    heartbeat_at {ts} NOT NULL,
    PRIMARY KEY (pipeline, logical_date)
)
"""

_RUN_COLS = (
    "run_id, pipeline, logical_date, mode, status, run_trigger, env, host, pid, started_at, finished_at, "
    "duration_s, failed_step, error, resumes"
)
_STEP_COLS = "run_id, step, job, position, status, attempts, started_at, finished_at, duration_s, error"
_ATTEMPT_COLS = "run_id, step, attempt, status, started_at, finished_at, duration_s, error"
_LOCK_COLS = "pipeline, logical_date, run_id, host, node, pid, acquired_at, heartbeat_at"

#: longest error text stored per step/attempt (full tracebacks belong in the logs)
MAX_ERROR_CHARS = 4000


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = mask_text(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 15] + " ...[truncated]"


class RunLedger(ABC):
    """Runs, steps, attempts and locks in a SQL store. Thread-safe: one connection per operation."""

    #: the dialect's column types for dates, timestamps and floats
    types: dict[str, str] = {}

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        holder: Holder | None = None,
        process_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.clock = clock
        self.holder = holder or Holder.current()
        self.process_alive = process_alive

    # -- dialect --------------------------------------------------------------------------------
    @property
    @abstractmethod
    def where(self) -> str:
        """Where the ledger lives, secrets masked (for messages)."""

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside a write transaction that commits on success."""

    @abstractmethod
    def _sql(self, sql: str) -> str:
        """Placeholders in our SQL are ``?``; turn them into the driver's."""

    @abstractmethod
    def _to_db(self, value: Any) -> Any: ...

    @abstractmethod
    def _create_schema(self) -> None: ...

    def _date_out(self, value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def _ts_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(self._to_db(p) for p in params)

    def _wrap(self, exc: Exception, doing: str) -> LedgerError:
        transient = explain(exc).transient or "locked" in str(exc).lower() or "busy" in str(exc).lower()
        return LedgerError(
            f"run ledger at {self.where}: {doing} failed: {type(exc).__name__}: {mask_text(str(exc))}",
            transient=transient,
        )

    def _exec(self, cur: Any, sql: str, *params: Any) -> Any:
        cur.execute(self._sql(sql), self._params(params))
        return cur

    @contextmanager
    def _write(self, doing: str) -> Iterator[Any]:
        try:
            with self._transaction() as cur:
                yield cur
        except (LedgerError, PipelineLockedError):
            raise
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._wrap(exc, doing) from exc
            raise

    def _query(self, doing: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            conn = self._connect()
            try:
                cur = conn.cursor()
                self._exec(cur, sql, *params)
                return list(cur.fetchall())
            finally:
                conn.close()
        except LedgerError:
            raise
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._wrap(exc, doing) from exc
            raise

    def init_schema(self) -> None:
        """Create the tables if they do not exist (safe to call from concurrent processes)."""
        try:
            self._create_schema()
        except LedgerError:
            raise
        except Exception as exc:
            if _is_driver_error(exc):
                raise self._wrap(exc, "creating the ledger tables") from exc
            raise

    # -- locks ----------------------------------------------------------------------------------
    def acquire_lock(
        self, pipeline: str, logical_date: date, run_id: str, *, stale_after_s: float, hint: str = ""
    ) -> LockInfo | None:
        """Take the lock of (pipeline, logical_date) for ``run_id``.

        Returns the stale lock that was taken over (None when the lock was free); raises
        :class:`PipelineLockedError` while a live holder has it.
        """
        held: LockInfo | None = None
        for _ in range(5):
            now = self.clock()
            with self._write("taking the run lock") as cur:
                self._exec(
                    cur,
                    f"INSERT INTO pipeline_locks ({_LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (pipeline, logical_date) DO NOTHING",
                    pipeline,
                    logical_date,
                    run_id,
                    self.holder.host,
                    self.holder.node,
                    self.holder.pid,
                    now,
                    now,
                )
                inserted = cur.rowcount == 1
            if inserted:
                return None
            held = self.get_lock(pipeline, logical_date)
            if held is None:
                continue  # released between our insert and our read: try again
            reason = self.stale_reason(held, stale_after_s)
            if reason is None:
                break
            if self._take_over(held, run_id, reason):
                log.warning(
                    "took over the stale lock of pipeline %s for %s from run %s (%s): %s; that run is now "
                    "marked abandoned",
                    pipeline,
                    logical_date,
                    held.run_id,
                    held.holder,
                    reason,
                    extra={"fields": {"pipeline": pipeline, "stale_run_id": held.run_id, "reason": reason}},
                )
                return held
        assert held is not None
        raise PipelineLockedError(
            pipeline,
            logical_date,
            held.run_id,
            held.holder,
            held.acquired_at,
            held.heartbeat_at,
            hint or f"wait for run {held.run_id} to finish",
        )

    def stale_reason(self, held: LockInfo, stale_after_s: float) -> str | None:
        """Why ``held`` may be taken over, or None while its holder may still be alive."""
        me = self.holder
        if held.node == me.node and held.pid != me.pid and not self.process_alive(held.pid):
            return f"its process (pid {held.pid} on {held.host}) no longer exists"
        age = (self.clock() - held.heartbeat_at).total_seconds()
        if age > stale_after_s:
            return f"no heartbeat for {age:.0f}s (stale after {stale_after_s:g}s)"
        return None

    def _take_over(self, held: LockInfo, run_id: str, reason: str) -> bool:
        now = self.clock()
        with self._write("taking over a stale run lock") as cur:
            self._exec(
                cur,
                "DELETE FROM pipeline_locks WHERE pipeline = ? AND logical_date = ? AND run_id = ? "
                "AND heartbeat_at = ?",
                held.pipeline,
                held.logical_date,
                held.run_id,
                held.heartbeat_at,
            )
            if cur.rowcount != 1:
                return False  # someone else changed it first
            self._exec(
                cur,
                f"INSERT INTO pipeline_locks ({_LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                held.pipeline,
                held.logical_date,
                run_id,
                self.holder.host,
                self.holder.node,
                self.holder.pid,
                now,
                now,
            )
            self._abandon(cur, held.run_id, f"abandoned: the run lock was taken over because {reason}", now)
        return True

    def _abandon(self, cur: Any, run_id: str, message: str, now: datetime) -> None:
        self._exec(
            cur,
            "UPDATE pipeline_runs SET status = 'abandoned', finished_at = ?, error = ? "
            "WHERE run_id = ? AND status = 'running'",
            now,
            message,
            run_id,
        )
        self._exec(
            cur,
            "UPDATE pipeline_steps SET status = 'failed', finished_at = ?, error = ? "
            "WHERE run_id = ? AND status = 'running'",
            now,
            message,
            run_id,
        )
        self._exec(
            cur,
            "UPDATE pipeline_attempts SET status = 'failed', finished_at = ?, error = ? "
            "WHERE run_id = ? AND status = 'running'",
            now,
            message,
            run_id,
        )

    def heartbeat(self, pipeline: str, logical_date: date, run_id: str) -> bool:
        """Refresh the lock; False when ``run_id`` no longer holds it (it was taken over)."""
        with self._write("refreshing the run lock") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_locks SET heartbeat_at = ? "
                "WHERE pipeline = ? AND logical_date = ? AND run_id = ?",
                self.clock(),
                pipeline,
                logical_date,
                run_id,
            )
            return bool(cur.rowcount == 1)

    def release_lock(self, pipeline: str, logical_date: date, run_id: str) -> bool:
        with self._write("releasing the run lock") as cur:
            self._exec(
                cur,
                "DELETE FROM pipeline_locks WHERE pipeline = ? AND logical_date = ? AND run_id = ?",
                pipeline,
                logical_date,
                run_id,
            )
            return bool(cur.rowcount == 1)

    def get_lock(self, pipeline: str, logical_date: date) -> LockInfo | None:
        rows = self._query(
            "reading the run lock",
            f"SELECT {_LOCK_COLS} FROM pipeline_locks WHERE pipeline = ? AND logical_date = ?",
            pipeline,
            logical_date,
        )
        return self._lock(rows[0]) if rows else None

    def locks(self, pipeline: str | None = None) -> list[LockInfo]:
        sql = f"SELECT {_LOCK_COLS} FROM pipeline_locks"
        rows = (
            self._query("listing run locks", sql + " WHERE pipeline = ? ORDER BY logical_date", pipeline)
            if pipeline
            else self._query("listing run locks", sql + " ORDER BY pipeline, logical_date")
        )
        return [self._lock(r) for r in rows]

    def force_unlock(self, pipeline: str, logical_date: date) -> LockInfo | None:
        """Delete the lock whatever its state (the explicit manual override); marks its run abandoned."""
        held = self.get_lock(pipeline, logical_date)
        if held is None:
            return None
        now = self.clock()
        with self._write("removing a run lock") as cur:
            self._exec(
                cur,
                "DELETE FROM pipeline_locks WHERE pipeline = ? AND logical_date = ? AND run_id = ?",
                pipeline,
                logical_date,
                held.run_id,
            )
            self._abandon(cur, held.run_id, "abandoned: its run lock was removed with `pipeline unlock`", now)
        return held

    def _lock(self, row: Sequence[Any]) -> LockInfo:
        acquired = self._ts_out(row[6])
        beat = self._ts_out(row[7])
        assert acquired is not None and beat is not None
        return LockInfo(row[0], self._date_out(row[1]), row[2], row[3], row[4], int(row[5]), acquired, beat)

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        with self._write("recording a new run") as cur:
            self._exec(
                cur,
                f"INSERT INTO pipeline_runs ({_RUN_COLS}) VALUES ({', '.join('?' * 15)})",
                run.run_id,
                run.pipeline,
                run.logical_date,
                run.mode,
                run.status,
                run.trigger,
                run.env,
                run.host,
                run.pid,
                run.started_at,
                run.finished_at,
                run.duration_s,
                run.failed_step,
                _clip(run.error),
                run.resumes,
            )
            for s in run.steps:
                self._insert_step(cur, run.run_id, s)

    def _insert_step(self, cur: Any, run_id: str, s: StepRecord) -> None:
        self._exec(
            cur,
            f"INSERT INTO pipeline_steps ({_STEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_id,
            s.step,
            s.job,
            s.position,
            s.status,
            s.attempts,
            s.started_at,
            s.finished_at,
            s.duration_s,
            _clip(s.error),
        )

    def reopen_run(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Mark a failed/stopped/abandoned run running again for ``--resume``.

        Steps that succeeded keep their record; the others go back to pending (their attempts are
        kept, numbering continues); steps added to the definition since are inserted.
        """
        now = self.clock()
        with self._write("reopening a run for resume") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_runs SET status = 'running', finished_at = NULL, duration_s = NULL, "
                "failed_step = NULL, error = NULL, resumes = resumes + 1, host = ?, pid = ? WHERE run_id = ?",
                self.holder.host,
                self.holder.pid,
                run_id,
            )
            existing = {
                row[0]: row[1]
                for row in self._exec(
                    cur, "SELECT step, status FROM pipeline_steps WHERE run_id = ?", run_id
                ).fetchall()
            }
            for s in steps:
                if s.step not in existing:
                    self._insert_step(cur, run_id, s)
                elif existing[s.step] != "success":
                    self._exec(
                        cur,
                        "UPDATE pipeline_steps SET status = 'pending', position = ?, job = ?, "
                        "finished_at = NULL, error = NULL WHERE run_id = ? AND step = ?",
                        s.position,
                        s.job,
                        run_id,
                        s.step,
                    )
        log.debug("reopened run %s at %s", run_id, now)

    def start_step(self, run_id: str, step: str, started_at: datetime) -> None:
        with self._write("recording a step start") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_steps SET status = 'running', started_at = ?, finished_at = NULL, "
                "duration_s = NULL, error = NULL WHERE run_id = ? AND step = ?",
                started_at,
                run_id,
                step,
            )

    def start_attempt(self, run_id: str, step: str, attempt: int, started_at: datetime) -> None:
        with self._write("recording an attempt start") as cur:
            self._exec(
                cur,
                f"INSERT INTO pipeline_attempts ({_ATTEMPT_COLS}) "
                "VALUES (?, ?, ?, 'running', ?, NULL, NULL, NULL)",
                run_id,
                step,
                attempt,
                started_at,
            )
            self._exec(
                cur,
                "UPDATE pipeline_steps SET attempts = ? WHERE run_id = ? AND step = ?",
                attempt,
                run_id,
                step,
            )

    def finish_attempt(
        self,
        run_id: str,
        step: str,
        attempt: int,
        status: str,
        finished_at: datetime,
        duration_s: float,
        error: str | None = None,
    ) -> None:
        with self._write("recording an attempt end") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_attempts SET status = ?, finished_at = ?, duration_s = ?, error = ? "
                "WHERE run_id = ? AND step = ? AND attempt = ?",
                status,
                finished_at,
                duration_s,
                _clip(error),
                run_id,
                step,
                attempt,
            )

    def finish_step(
        self,
        run_id: str,
        step: str,
        status: str,
        finished_at: datetime,
        duration_s: float,
        error: str | None = None,
    ) -> None:
        with self._write("recording a step end") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_steps SET status = ?, finished_at = ?, duration_s = ?, error = ? "
                "WHERE run_id = ? AND step = ?",
                status,
                finished_at,
                duration_s,
                _clip(error),
                run_id,
                step,
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        finished_at: datetime,
        duration_s: float,
        *,
        failed_step: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._write("recording a run end") as cur:
            self._exec(
                cur,
                "UPDATE pipeline_runs SET status = ?, finished_at = ?, duration_s = ?, failed_step = ?, "
                "error = ? WHERE run_id = ?",
                status,
                finished_at,
                duration_s,
                failed_step,
                _clip(error),
                run_id,
            )

    # -- reading --------------------------------------------------------------------------------
    def _run(self, row: Sequence[Any]) -> RunRecord:
        started = self._ts_out(row[9])
        assert started is not None
        return RunRecord(
            run_id=row[0],
            pipeline=row[1],
            logical_date=self._date_out(row[2]),
            mode=row[3],
            status=row[4],
            trigger=row[5],
            env=row[6],
            host=row[7],
            pid=int(row[8]),
            started_at=started,
            finished_at=self._ts_out(row[10]),
            duration_s=row[11],
            failed_step=row[12],
            error=row[13],
            resumes=int(row[14]),
        )

    def _step(self, row: Sequence[Any]) -> StepRecord:
        return StepRecord(
            step=row[1],
            job=row[2],
            position=int(row[3]),
            status=row[4],
            attempts=int(row[5]),
            started_at=self._ts_out(row[6]),
            finished_at=self._ts_out(row[7]),
            duration_s=row[8],
            error=row[9],
        )

    def _attempt(self, row: Sequence[Any]) -> AttemptRecord:
        started = self._ts_out(row[4])
        assert started is not None
        return AttemptRecord(
            step=row[1],
            attempt=int(row[2]),
            status=row[3],
            started_at=started,
            finished_at=self._ts_out(row[5]),
            duration_s=row[6],
            error=row[7],
        )

    def _with_steps(self, runs: list[RunRecord], *, attempts: bool) -> list[RunRecord]:
        if not runs:
            return runs
        by_id = {r.run_id: r for r in runs}
        marks = ", ".join("?" for _ in runs)
        for row in self._query(
            "reading steps",
            f"SELECT {_STEP_COLS} FROM pipeline_steps WHERE run_id IN ({marks}) ORDER BY position",
            *by_id,
        ):
            by_id[row[0]].steps.append(self._step(row))
        if attempts:
            for row in self._query(
                "reading attempts",
                f"SELECT {_ATTEMPT_COLS} FROM pipeline_attempts WHERE run_id IN ({marks}) "
                "ORDER BY started_at, attempt",
                *by_id,
            ):
                by_id[row[0]].attempts.append(self._attempt(row))
        return runs

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._query("reading a run", f"SELECT {_RUN_COLS} FROM pipeline_runs WHERE run_id = ?", run_id)
        if not rows:
            raise RunNotFoundError(run_id, self.where)
        return self._with_steps([self._run(rows[0])], attempts=True)[0]

    def list_runs(
        self,
        pipeline: str,
        *,
        limit: int = 20,
        logical_date: date | None = None,
        statuses: Sequence[str] = (),
    ) -> list[RunRecord]:
        """Most recent first (by start time)."""
        sql = f"SELECT {_RUN_COLS} FROM pipeline_runs WHERE pipeline = ?"
        params: list[Any] = [pipeline]
        if logical_date is not None:
            sql += " AND logical_date = ?"
            params.append(logical_date)
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        sql += " ORDER BY started_at DESC, run_id DESC LIMIT ?"
        params.append(int(limit))
        runs = [self._run(r) for r in self._query("listing runs", sql, *params)]
        return self._with_steps(runs, attempts=False)

    def latest_run(self, pipeline: str, logical_date: date | None = None) -> RunRecord | None:
        runs = self.list_runs(pipeline, limit=1, logical_date=logical_date)
        return runs[0] if runs else None

    def run_dates(self, pipeline: str, start: date, end: date, *, statuses: Sequence[str] = ()) -> set[date]:
        """Logical dates in [start, end] that have a run (with one of ``statuses``, when given)."""
        sql = (
            "SELECT DISTINCT logical_date FROM pipeline_runs WHERE pipeline = ? "
            "AND logical_date >= ? AND logical_date <= ?"
        )
        params: list[Any] = [pipeline, start, end]
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        return {self._date_out(r[0]) for r in self._query("reading run dates", sql, *params)}

    def last_run_date(self, pipeline: str, *, statuses: Sequence[str] = ()) -> date | None:
        """The latest logical date that has a run (with one of ``statuses``, when given)."""
        sql = "SELECT MAX(logical_date) FROM pipeline_runs WHERE pipeline = ?"
        params: list[Any] = [pipeline]
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        rows = self._query("reading the last run date", sql, *params)
        return self._date_out(rows[0][0]) if rows and rows[0][0] is not None else None


def _is_driver_error(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("psycopg")


# -- SQLite -------------------------------------------------------------------------------------------
class SQLiteLedger(RunLedger):
    """The default store: one SQLite file (WAL mode), safe for several processes on one machine."""

    types = {"date": "TEXT", "ts": "TEXT", "float": "REAL"}

    def __init__(self, path: Path | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)

    @property
    def where(self) -> str:
        return f"sqlite:///{self.path}"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.cursor()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _sql(self, sql: str) -> str:
        return sql

    def _to_db(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        if isinstance(value, date):
            return value.isoformat()
        return value

    def _create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _DDL.format(**self.types).split(";"):
                    if statement.strip():
                        conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


# -- PostgreSQL -----------------------------------------------------------------------------------------
class PostgresLedger(RunLedger):
    """The same ledger in PostgreSQL (for several machines or containers sharing one store)."""

    types = {"date": "DATE", "ts": "TIMESTAMPTZ", "float": "DOUBLE PRECISION"}

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        password: SecretStr | None = None,
        connect_timeout_s: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.schema = schema
        self._password = password
        self.connect_timeout_s = connect_timeout_s

    @property
    def where(self) -> str:
        return mask_text(self.url) + (f" (schema {self.schema})" if self.schema else "")

    def _connect(self) -> Any:
        import psycopg
        from psycopg import sql

        extra: dict[str, Any] = {}
        if self._password is not None:
            extra["password"] = self._password.get_secret_value()
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s, **extra)
        if self.schema:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            with conn.transaction():
                yield conn.cursor()
        finally:
            conn.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _to_db(self, value: Any) -> Any:
        return value

    def _create_schema(self) -> None:
        from psycopg import sql

        conn = self._connect()
        try:
            with conn.transaction():
                # concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialize
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('sparkjobs.pipeline.ledger'))")
                if self.schema:
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                    )
                    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
                for statement in _DDL.format(**self.types).split(";"):
                    if statement.strip():
                        conn.execute(statement)
        finally:
            conn.close()


def open_ledger(
    url: str,
    *,
    pg_schema: str | None = None,
    password: SecretStr | None = None,
    base_dir: Path | None = None,
    init: bool = True,
    **kwargs: Any,
) -> RunLedger:
    """The ledger at ``url``; relative SQLite paths are taken from ``base_dir`` (default: cwd)."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        ledger: RunLedger = SQLiteLedger(path, **kwargs)
    elif url.startswith(("postgresql://", "postgres://")):
        ledger = PostgresLedger(url, schema=pg_schema, password=password, **kwargs)
    else:
        raise LedgerError(
            f"unsupported state store url {mask_text(url)!r}: expected sqlite:///PATH or postgresql://..."
        )
    if init:
        ledger.init_schema()
    return ledger
