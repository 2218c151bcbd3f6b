"""The run ledger: pipeline runs, their steps and attempts, recorded and read on top of the lock table."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sparkjobs.pipeline.errors import RunNotFoundError
from sparkjobs.pipeline.ledger.locks import LockTable
from sparkjobs.pipeline.ledger.records import AttemptRecord, RunRecord, StepRecord
from sparkjobs.pipeline.ledger.tables import ATTEMPT_COLS, RUN_COLS, STEP_COLS, clip

log = logging.getLogger("sparkjobs.pipeline.ledger")


class RunLedger(LockTable):
    """Runs, steps, attempts and locks in a SQL store. Thread-safe: one connection per operation."""

    def create_run(self, run: RunRecord) -> None:
        with self._write("recording a new run") as cur:
            self._exec(
                cur,
                f"INSERT INTO pipeline_runs ({RUN_COLS}) VALUES ({', '.join('?' * 15)})",
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
                clip(run.error),
                run.resumes,
            )
            for s in run.steps:
                self._insert_step(cur, run.run_id, s)

    def _insert_step(self, cur: Any, run_id: str, s: StepRecord) -> None:
        self._exec(
            cur,
            f"INSERT INTO pipeline_steps ({STEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_id,
            s.step,
            s.job,
            s.position,
            s.status,
            s.attempts,
            s.started_at,
            s.finished_at,
            s.duration_s,
            clip(s.error),
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
                f"INSERT INTO pipeline_attempts ({ATTEMPT_COLS}) "
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
                clip(error),
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
                clip(error),
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
                clip(error),
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
            f"SELECT {STEP_COLS} FROM pipeline_steps WHERE run_id IN ({marks}) ORDER BY position",
            *by_id,
        ):
            by_id[row[0]].steps.append(self._step(row))
        if attempts:
            for row in self._query(
                "reading attempts",
                f"SELECT {ATTEMPT_COLS} FROM pipeline_attempts WHERE run_id IN ({marks}) "
                "ORDER BY started_at, attempt",
                *by_id,
            ):
                by_id[row[0]].attempts.append(self._attempt(row))
        return runs

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._query("reading a run", f"SELECT {RUN_COLS} FROM pipeline_runs WHERE run_id = ?", run_id)
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
        sql = f"SELECT {RUN_COLS} FROM pipeline_runs WHERE pipeline = ?"
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
