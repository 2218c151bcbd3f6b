"""The lock protocol: who runs a pipeline for a logical date, and when a lock may be taken over.

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
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sparkjobs.pipeline.errors import PipelineLockedError
from sparkjobs.pipeline.ledger.base import LedgerStore
from sparkjobs.pipeline.ledger.records import LockInfo
from sparkjobs.pipeline.ledger.tables import LOCK_COLS

log = logging.getLogger("sparkjobs.pipeline.ledger")


class LockTable(LedgerStore):
    """Taking, refreshing, taking over and releasing run locks (``pipeline_locks``)."""

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
                    f"INSERT INTO pipeline_locks ({LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
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
                f"INSERT INTO pipeline_locks ({LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
            f"SELECT {LOCK_COLS} FROM pipeline_locks WHERE pipeline = ? AND logical_date = ?",
            pipeline,
            logical_date,
        )
        return self._lock(rows[0]) if rows else None

    def locks(self, pipeline: str | None = None) -> list[LockInfo]:
        sql = f"SELECT {LOCK_COLS} FROM pipeline_locks"
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
