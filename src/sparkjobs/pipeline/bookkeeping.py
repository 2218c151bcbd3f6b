"""The ledger side of one execution of a run: take the lock, record the start, keep the heartbeat,
record the end and release the lock — and log both ends. The runner decides what runs; this
module only writes down what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import UsageError
from sparkjobs.observability.logging import ContextAdapter
from sparkjobs.pipeline.heartbeat import LockKeeper
from sparkjobs.pipeline.ledger import LockInfo, RunLedger, RunRecord, StepRecord
from sparkjobs.pipeline.model import StateSettings
from sparkjobs.pipeline.outcomes import RunOutcome, StepOutcome
from sparkjobs.pipeline.planning import PlannedStep
from sparkjobs.pipeline.recorder import LedgerRecorder
from sparkjobs.pipeline.reporters import RunReporter


@dataclass
class RunExecution:
    """One execution of a run, from taking its lock to releasing it."""

    record: RunRecord
    steps: list[PlannedStep]
    log: ContextAdapter
    provider: SessionProvider
    owns_session: bool
    keeper: LockKeeper
    done: set[str]
    previous_attempts: dict[str, int]
    #: time spent in earlier executions of a resumed run (the ledger keeps the total)
    earlier_s: float = 0.0
    took_over: LockInfo | None = None
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    current: str | None = None
    t0: float = 0.0


@dataclass
class RunEnding:
    """How the steps of an execution ended."""

    status: str = "success"
    failed_step: str | None = None
    error: str | None = None
    transient: bool = False


class RunBookkeeper:
    """Writes one execution's start and end to the ledger; every write goes through ``record``."""

    def __init__(
        self,
        ledger: RunLedger,
        record: LedgerRecorder,
        state: StateSettings,
        reporter: RunReporter,
        clock: Callable[[], datetime],
        timer: Callable[[], float],
        resume_command: Callable[[str], str],
    ) -> None:
        self.ledger = ledger
        self.record = record
        self.state = state
        self.reporter = reporter
        self.clock = clock
        self.timer = timer
        self.resume_command = resume_command

    def open(
        self,
        record: RunRecord,
        steps: list[PlannedStep],
        *,
        resumed: bool,
        done: set[str],
        provider: SessionProvider,
        owns_session: bool,
        log: ContextAdapter,
    ) -> RunExecution:
        """Take the lock, record the run (new or reopened), start the heartbeat, announce it."""
        took_over = self.ledger.acquire_lock(
            record.pipeline,
            record.logical_date,
            record.run_id,
            stale_after_s=self.state.stale_after_s,
            hint="wait for that run to finish. If its process is gone, the lock is taken over "
            f"automatically once its heartbeat is older than {self.state.stale_after_s:g}s; "
            "to remove it now: "
            f"sparkjobs pipeline unlock {record.pipeline} --date {record.logical_date}",
        )
        previous_attempts = {s.step: s.attempts for s in record.steps}
        earlier_s = (record.duration_s or 0.0) if resumed else 0.0
        try:
            record = self._record_start(record, steps, resumed, done)
        except BaseException:
            self.record(self.ledger.release_lock, record.pipeline, record.logical_date, record.run_id)
            raise
        keeper = LockKeeper(
            self.ledger, record.pipeline, record.logical_date, record.run_id, self.state.heartbeat_s, log
        ).start()
        execution = RunExecution(
            record,
            steps,
            log,
            provider,
            owns_session=owns_session,
            keeper=keeper,
            done=done,
            previous_attempts=previous_attempts,
            earlier_s=earlier_s,
            took_over=took_over,
            t0=self.timer(),
        )
        self._announce(execution, resumed)
        return execution

    def _record_start(
        self, record: RunRecord, steps: list[PlannedStep], resumed: bool, done: set[str]
    ) -> RunRecord:
        step_records = [StepRecord(s.name, s.job, i) for i, s in enumerate(steps)]
        if not resumed:
            record.steps = step_records
            self.record(self.ledger.create_run, record)
            return record
        # re-read under the lock: another process may have resumed it since we looked
        fresh = self.ledger.get_run(record.run_id)
        fresh_done = {s.step for s in fresh.steps if s.status == "success"}
        if fresh.status == "success" or fresh_done != done:
            raise UsageError(
                f"run {record.run_id} changed while this command started (now {fresh.status}); "
                "look at it with `sparkjobs pipeline runs show` and try again"
            )
        self.record(self.ledger.reopen_run, record.run_id, step_records)
        return self.ledger.get_run(record.run_id)

    def _announce(self, execution: RunExecution, resumed: bool) -> None:
        record, done = execution.record, execution.done
        order = [s.name for s in execution.steps]
        execution.log.info(
            "pipeline %s run %s %s for %s (mode %s): %s%s",
            record.pipeline,
            record.run_id,
            "resumed" if resumed else "started",
            record.logical_date,
            record.mode,
            " → ".join(order),
            f"; already succeeded: {', '.join(sorted(done))}" if done else "",
            extra={"fields": {"mode": record.mode, "trigger": record.trigger, "resumed": resumed}},
        )
        self.reporter.run_started(record, order, done)

    def abort(self, execution: RunExecution, exc: BaseException) -> None:
        """Record the end of an execution interrupted by ``exc`` (which the caller re-raises)."""
        status = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        run_id, current = execution.record.run_id, execution.current
        try:
            if current is not None:
                self.record(self.ledger.finish_step, run_id, current, "failed", self.clock(), 0.0, error)
            self.finish(execution, RunEnding(status, current, error))
        except Exception as inner:  # keep the original error; the stale-lock rules recover the lock
            execution.log.error("could not record the end of run %s: %s", run_id, inner)

    def finish(self, execution: RunExecution, ending: RunEnding) -> RunOutcome:
        """Close the session, stop the heartbeat, record the end and release the lock."""
        record, log = execution.record, execution.log
        duration = self.timer() - execution.t0
        try:
            if execution.owns_session:
                execution.provider.close()
        except Exception as exc:
            log.warning("closing the SparkSession failed: %s", exc)
        execution.keeper.stop()
        outcomes = [
            execution.outcomes.get(s.name) or StepOutcome(s.name, s.job, "pending") for s in execution.steps
        ]
        try:
            self.record(
                self.ledger.finish_run,
                record.run_id,
                ending.status,
                self.clock(),
                execution.earlier_s + duration,
                failed_step=ending.failed_step,
                error=ending.error,
            )
        finally:
            self.record(self.ledger.release_lock, record.pipeline, record.logical_date, record.run_id)
        self._log_end(execution, ending, outcomes, duration)
        return RunOutcome(
            pipeline=record.pipeline,
            run_id=record.run_id,
            logical_date=record.logical_date,
            mode=record.mode,
            status=ending.status,
            duration_s=duration,
            steps=outcomes,
            resume_command=self.resume_command(record.run_id),
            failed_step=ending.failed_step,
            error=ending.error,
        )

    def _log_end(
        self, execution: RunExecution, ending: RunEnding, outcomes: list[StepOutcome], duration: float
    ) -> None:
        record = execution.record
        fields = {
            "status": ending.status,
            "duration_s": round(duration, 3),
            "failed_step": ending.failed_step,
        }
        if ending.status == "success":
            execution.log.info(
                "pipeline %s run %s succeeded for %s in %.2fs (%d step(s) run, %d skipped)",
                record.pipeline,
                record.run_id,
                record.logical_date,
                duration,
                sum(1 for o in outcomes if o.status == "success"),
                sum(1 for o in outcomes if o.status == "skipped"),
                extra={"fields": fields},
            )
            return
        execution.log.error(
            "pipeline %s run %s %s at step %s for %s after %.2fs: %s | resume with: %s",
            record.pipeline,
            record.run_id,
            "was stopped" if ending.status == "stopped" else "failed",
            ending.failed_step,
            record.logical_date,
            duration,
            ending.error,
            self.resume_command(record.run_id),
            extra={"fields": fields},
        )
