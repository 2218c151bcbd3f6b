"""Run a pipeline: every step through the same path as ``sparkjobs run``, recorded in the run ledger.

For one logical date the runner

1. prepares every step up front (:class:`~sparkjobs.pipeline.planning.StepPlanner`), so a config
   error in the last step is reported before the first one runs;
2. takes the (pipeline, date) lock in the state store (a second run gets exit code 2) and keeps it
   alive with a heartbeat thread (:class:`~sparkjobs.pipeline.heartbeat.LockKeeper`);
3. runs the steps in dependency order, in this process, sharing ONE SparkSession provider (closed at
   the end of the run); one step's attempts, retries and timeout are
   :class:`~sparkjobs.pipeline.task.StepTask`'s business;
4. stops at the first failed step; the error names the step and the exact ``--resume`` command.

A stop request (SIGTERM/SIGINT through :class:`~sparkjobs.pipeline.stop.StopToken`) lets the
current step finish and then ends the run as ``stopped`` (resumable).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sparkjobs.context import new_run_id
from sparkjobs.errors import UsageError
from sparkjobs.observability.logging import ContextAdapter
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.errors import StopRequestedError
from sparkjobs.pipeline.heartbeat import LockKeeper
from sparkjobs.pipeline.ledger import RESUMABLE, LockInfo, RunLedger, RunRecord, StepRecord, utc_now
from sparkjobs.pipeline.model import Mode, PipelineSpec, StateSettings
from sparkjobs.pipeline.outcomes import RunOutcome, StepOutcome
from sparkjobs.pipeline.planning import PlannedStep, SessionFactory, StepPlanner
from sparkjobs.pipeline.recorder import LEDGER_RETRY, LedgerRecorder
from sparkjobs.pipeline.reporters import NullReporter, RunReporter
from sparkjobs.pipeline.stop import StopToken
from sparkjobs.pipeline.task import CANCEL_GRACE_S, StepTask, TaskEnvironment
from sparkjobs.pipeline.workspace import Invocation
from sparkjobs.resilience import RetryPolicy
from sparkjobs.settings import Settings
from sparkjobs.spark.session import SessionProvider


@dataclass
class _RunState:
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
class _Ending:
    status: str = "success"
    failed_step: str | None = None
    error: str | None = None
    transient: bool = False


class PipelineRunner:
    """Runs one pipeline definition; every collaborator comes in through the constructor."""

    def __init__(
        self,
        pipeline: PipelineSpec,
        *,
        ledger: RunLedger,
        settings: Settings,
        state: StateSettings | None = None,
        invocation: Invocation | None = None,
        reporter: RunReporter | None = None,
        stop: StopToken | None = None,
        clock: Callable[[], datetime] = utc_now,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] | None = None,
        session_factory: SessionFactory | None = None,
        logger: logging.Logger | None = None,
        cancel_grace_s: float = CANCEL_GRACE_S,
        tracing: Tracing | None = None,
        ledger_retry: RetryPolicy = LEDGER_RETRY,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.settings = settings
        self.state = state or StateSettings()
        self.invocation = invocation or Invocation()
        self.reporter: RunReporter = reporter or NullReporter()
        self.stop = stop or StopToken()
        self.clock = clock
        self.timer = timer
        self._sleep = sleep
        self.base_log = logger or logging.getLogger("sparkjobs.pipeline")
        self.tracing = tracing or Tracing.disabled()
        self.planner = StepPlanner(
            pipeline,
            settings=settings,
            invocation=self.invocation,
            session_factory=session_factory,
            tracing=self.tracing,
            clock=clock,
        )
        self.cancel_grace_s = cancel_grace_s
        self._record = LedgerRecorder(ledger_retry, self.base_log)

    # -- public entry points ------------------------------------------------------------------------
    def resume_command(self, run_id: str) -> str:
        flags = " ".join(self.invocation.cli_flags())
        return f"sparkjobs pipeline run {self.pipeline.name} --resume {run_id}" + (
            f" {flags}" if flags else ""
        )

    def run(
        self,
        logical_date: date,
        *,
        mode: Mode | None = None,
        trigger: str = "manual",
        session: SessionProvider | None = None,
    ) -> RunOutcome:
        """A new run of the pipeline for ``logical_date``.

        ``session``: a provider owned by the caller (a backfill shares one across its dates); by
        default the run builds its own and closes it at its end.
        """
        run_id = new_run_id(self.clock())
        record = RunRecord(
            run_id=run_id,
            pipeline=self.pipeline.name,
            logical_date=logical_date,
            mode=mode or self.pipeline.mode,
            status="running",
            trigger=trigger,
            env=self.invocation.resolved_env(),
            host=self.ledger.holder.host,
            pid=self.ledger.holder.pid,
            started_at=self.clock(),
        )
        return self._execute(record, resumed=False, session=session)

    def resume(self, run_id: str) -> RunOutcome:
        """Rerun a failed/stopped/abandoned run from its first step that did not succeed."""
        record = self.ledger.get_run(run_id)
        if record.pipeline != self.pipeline.name:
            raise UsageError(
                f"run {run_id} belongs to pipeline {record.pipeline!r}, not {self.pipeline.name!r}; "
                f"resume it with: sparkjobs pipeline run {record.pipeline} --resume {run_id}"
            )
        if record.status == "success":
            raise UsageError(
                f"run {run_id} of {record.pipeline} for {record.logical_date} succeeded; nothing to resume "
                f"(start a fresh run with --date {record.logical_date})"
            )
        if record.status not in RESUMABLE and record.status != "running":
            raise UsageError(f"run {run_id} has status {record.status!r}, which cannot be resumed")
        # a 'running' record is resumable only if its holder is gone: acquire_lock decides
        return self._execute(record, resumed=True)

    def resume_last(self, logical_date: date | None = None) -> RunOutcome:
        """Resume the most recent run (for ``logical_date`` when given) if it did not succeed."""
        latest = self.ledger.latest_run(self.pipeline.name, logical_date)
        if latest is None:
            where = f" for {logical_date}" if logical_date else ""
            raise UsageError(f"pipeline {self.pipeline.name!r} has no recorded run{where}; nothing to resume")
        return self.resume(latest.run_id)

    def backfill(self, dates: Sequence[date], *, mode: Mode | None = None) -> list[RunOutcome]:
        """One run per date, in order; stops at the first run that does not succeed.

        The dates share one SparkSession (a new SparkContext per date costs seconds), closed at the end.
        """
        outcomes: list[RunOutcome] = []
        session = self.planner.new_session(True)
        try:
            for day in dates:
                if self.stop.requested:
                    break
                outcome = self.run(day, mode=mode, trigger="backfill", session=session)
                outcomes.append(outcome)
                if not outcome.ok:
                    break
        finally:
            session.close()
        return outcomes

    def plan(self, logical_date: date, *, mode: Mode | None = None) -> list[dict[str, Any]]:
        """What ``--dry-run`` prints (:meth:`StepPlanner.plan`); the ledger is not touched."""
        return self.planner.plan(logical_date, mode=mode)

    # -- one execution of a run: start, steps, finish ------------------------------------------------
    def _log(self, record: RunRecord) -> ContextAdapter:
        return ContextAdapter(
            self.base_log,
            {
                "pipeline": record.pipeline,
                "run_id": record.run_id,
                "event_date": record.logical_date.isoformat(),
                "env": record.env,
            },
        )

    def _execute(
        self, record: RunRecord, *, resumed: bool, session: SessionProvider | None = None
    ) -> RunOutcome:
        state = self._start(record, resumed, session)
        run_span = self.tracing.span(
            f"pipeline {self.pipeline.name}",
            {
                "sparkjobs.pipeline": self.pipeline.name,
                "sparkjobs.run_id": state.record.run_id,
                "sparkjobs.event_date": state.record.logical_date.isoformat(),
                "sparkjobs.mode": state.record.mode,
                "sparkjobs.resumed": resumed,
            },
        )
        try:
            span = run_span.__enter__()
            ending = self._run_steps(state)
        except BaseException as exc:  # KeyboardInterrupt (second Ctrl-C), a ledger failure...
            run_span.__exit__(type(exc), exc, exc.__traceback__)
            self._abort(state, exc)
            raise
        span.set_attribute("sparkjobs.status", ending.status)
        run_span.__exit__(None, None, None)
        result = self._finish(state, ending)
        result.error_transient = ending.transient
        result.took_over = state.took_over
        self.reporter.run_finished(result)
        return result

    def _start(self, record: RunRecord, resumed: bool, session: SessionProvider | None) -> _RunState:
        """Prepare every step, take the lock, record the run (new or reopened), start the heartbeat."""
        pipeline = self.pipeline
        log = self._log(record)
        done = {s.step for s in record.steps if s.status == "success"} if resumed else set()
        provider = session or self.planner.new_session(True)
        steps = self.planner.prepare(record.run_id, record.logical_date, record.mode, provider, done)
        took_over = self.ledger.acquire_lock(
            pipeline.name,
            record.logical_date,
            record.run_id,
            stale_after_s=self.state.stale_after_s,
            hint="wait for that run to finish. If its process is gone, the lock is taken over "
            f"automatically once its heartbeat is older than {self.state.stale_after_s:g}s; "
            "to remove it now: "
            f"sparkjobs pipeline unlock {pipeline.name} --date {record.logical_date}",
        )
        previous_attempts = {s.step: s.attempts for s in record.steps}
        earlier_s = (record.duration_s or 0.0) if resumed else 0.0
        try:
            record = self._record_start(record, steps, resumed, done)
        except BaseException:
            self._record(self.ledger.release_lock, pipeline.name, record.logical_date, record.run_id)
            raise
        keeper = LockKeeper(
            self.ledger, pipeline.name, record.logical_date, record.run_id, self.state.heartbeat_s, log
        ).start()
        state = _RunState(
            record,
            steps,
            log,
            provider,
            owns_session=session is None,
            keeper=keeper,
            done=done,
            previous_attempts=previous_attempts,
            earlier_s=earlier_s,
            took_over=took_over,
            t0=self.timer(),
        )
        self._announce(state, resumed)
        return state

    def _record_start(
        self, record: RunRecord, steps: list[PlannedStep], resumed: bool, done: set[str]
    ) -> RunRecord:
        step_records = [StepRecord(s.name, s.job, i) for i, s in enumerate(steps)]
        if not resumed:
            record.steps = step_records
            self._record(self.ledger.create_run, record)
            return record
        # re-read under the lock: another process may have resumed it since we looked
        fresh = self.ledger.get_run(record.run_id)
        fresh_done = {s.step for s in fresh.steps if s.status == "success"}
        if fresh.status == "success" or fresh_done != done:
            raise UsageError(
                f"run {record.run_id} changed while this command started (now {fresh.status}); "
                "look at it with `sparkjobs pipeline runs show` and try again"
            )
        self._record(self.ledger.reopen_run, record.run_id, step_records)
        return self.ledger.get_run(record.run_id)

    def _announce(self, state: _RunState, resumed: bool) -> None:
        record, done = state.record, state.done
        order = [s.name for s in state.steps]
        state.log.info(
            "pipeline %s run %s %s for %s (mode %s): %s%s",
            self.pipeline.name,
            record.run_id,
            "resumed" if resumed else "started",
            record.logical_date,
            record.mode,
            " → ".join(order),
            f"; already succeeded: {', '.join(sorted(done))}" if done else "",
            extra={"fields": {"mode": record.mode, "trigger": record.trigger, "resumed": resumed}},
        )
        self.reporter.run_started(record, order, done)

    def _task_environment(self) -> TaskEnvironment:
        return TaskEnvironment(
            ledger=self.ledger,
            record=self._record,
            reporter=self.reporter,
            clock=self.clock,
            timer=self.timer,
            retry_sleep=self._retry_sleep,
            tracing=self.tracing,
            base_log=self.base_log,
            cancel_grace_s=self.cancel_grace_s,
        )

    def _run_steps(self, state: _RunState) -> _Ending:
        """The steps in order until one fails, a stop is requested or the lock is lost."""
        tasks = self._task_environment()
        for step in state.steps:
            if step.prepared is None:
                self._skip(state, step)
                continue
            if self.stop.requested or state.keeper.lost:
                if self.stop.requested:
                    reason = f"stopped before step {step.name!r} ({self.stop.reason})"
                    return _Ending("stopped", step.name, reason)
                return _Ending("failed", step.name, "lost the run lock to another process")
            state.current = step.name
            with self.tracing.span(
                f"step {step.name}", {"sparkjobs.step": step.name, "sparkjobs.job": step.job}
            ):
                task = StepTask(
                    step,
                    state.record.run_id,
                    tasks,
                    state.log,
                    state.previous_attempts.get(step.name, 0),
                )
                outcome = task.run()
            state.current = None
            state.outcomes[step.name] = outcome
            if outcome.status != "success":
                status = "stopped" if isinstance(outcome.result, StopRequestedError) else "failed"
                transient = bool(getattr(outcome.result, "transient", False))
                return _Ending(status, step.name, outcome.error, transient)
        return _Ending()

    def _skip(self, state: _RunState, step: PlannedStep) -> None:
        outcome = StepOutcome(
            step.name, step.job, "skipped", attempts=state.previous_attempts.get(step.name, 0)
        )
        state.outcomes[step.name] = outcome
        state.log.info(
            "step %s skipped: it succeeded in an earlier attempt of this run",
            step.name,
            extra={"step": step.name},
        )
        self.reporter.step_finished(step.name, outcome)

    def _abort(self, state: _RunState, exc: BaseException) -> None:
        """Record the end of a run interrupted by an exception; the exception itself is re-raised."""
        status = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            if state.current is not None:
                self._record(
                    self.ledger.finish_step,
                    state.record.run_id,
                    state.current,
                    "failed",
                    self.clock(),
                    0.0,
                    error,
                )
            self._finish(state, _Ending(status, state.current, error))
        except Exception as inner:  # keep the original error; the stale-lock rules recover the lock
            state.log.error("could not record the end of run %s: %s", state.record.run_id, inner)

    def _finish(self, state: _RunState, ending: _Ending) -> RunOutcome:
        """Close the session, stop the heartbeat, record the end and release the lock."""
        record, log = state.record, state.log
        duration = self.timer() - state.t0
        try:
            if state.owns_session:
                state.provider.close()
        except Exception as exc:
            log.warning("closing the SparkSession failed: %s", exc)
        state.keeper.stop()
        outcomes = [state.outcomes.get(s.name) or StepOutcome(s.name, s.job, "pending") for s in state.steps]
        try:
            self._record(
                self.ledger.finish_run,
                record.run_id,
                ending.status,
                self.clock(),
                state.earlier_s + duration,
                failed_step=ending.failed_step,
                error=ending.error,
            )
        finally:
            self._record(self.ledger.release_lock, record.pipeline, record.logical_date, record.run_id)
        self._log_end(state, ending, outcomes, duration)
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
        self, state: _RunState, ending: _Ending, outcomes: list[StepOutcome], duration: float
    ) -> None:
        record = state.record
        fields = {
            "status": ending.status,
            "duration_s": round(duration, 3),
            "failed_step": ending.failed_step,
        }
        if ending.status == "success":
            state.log.info(
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
        state.log.error(
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

    def _retry_sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            if self.stop.requested:
                raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")
            return
        if self.stop.wait(seconds):
            raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")
