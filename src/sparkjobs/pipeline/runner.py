"""Run a pipeline: every step through the same path as ``sparkjobs run``, recorded in the run ledger.

For one logical date the runner

1. prepares every step up front (:class:`~sparkjobs.pipeline.planning.StepPlanner`), so a config
   error in the last step is reported before the first one runs;
2. takes the (pipeline, date) lock in the state store (a second run gets exit code 2), keeps it
   alive with a heartbeat thread and records the run's start and end
   (:class:`~sparkjobs.pipeline.bookkeeping.RunBookkeeper`);
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
from datetime import date, datetime
from typing import Any

from sparkjobs.context import new_run_id
from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import UsageError
from sparkjobs.observability.logging import ContextAdapter
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.bookkeeping import RunBookkeeper, RunEnding, RunExecution
from sparkjobs.pipeline.errors import StopRequestedError
from sparkjobs.pipeline.ledger import RESUMABLE, RunLedger, RunRecord, utc_now
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
        """Prepare every step, open the execution in the ledger, run the steps, record the end."""
        done = {s.step for s in record.steps if s.status == "success"} if resumed else set()
        provider = session or self.planner.new_session(True)
        steps = self.planner.prepare(record.run_id, record.logical_date, record.mode, provider, done)
        book = RunBookkeeper(
            self.ledger, self._record, self.state, self.reporter, self.clock, self.timer, self.resume_command
        )
        execution = book.open(
            record,
            steps,
            resumed=resumed,
            done=done,
            provider=provider,
            owns_session=session is None,
            log=self._log(record),
        )
        run_span = self.tracing.span(
            f"pipeline {self.pipeline.name}",
            {
                "sparkjobs.pipeline": self.pipeline.name,
                "sparkjobs.run_id": execution.record.run_id,
                "sparkjobs.event_date": execution.record.logical_date.isoformat(),
                "sparkjobs.mode": execution.record.mode,
                "sparkjobs.resumed": resumed,
            },
        )
        try:
            span = run_span.__enter__()
            ending = self._run_steps(execution)
        except BaseException as exc:  # KeyboardInterrupt (second Ctrl-C), a ledger failure...
            run_span.__exit__(type(exc), exc, exc.__traceback__)
            book.abort(execution, exc)
            raise
        span.set_attribute("sparkjobs.status", ending.status)
        run_span.__exit__(None, None, None)
        result = book.finish(execution, ending)
        result.error_transient = ending.transient
        result.took_over = execution.took_over
        self.reporter.run_finished(result)
        return result

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

    def _run_steps(self, execution: RunExecution) -> RunEnding:
        """The steps in order until one fails, a stop is requested or the lock is lost."""
        tasks = self._task_environment()
        for step in execution.steps:
            if step.prepared is None:
                self._skip(execution, step)
                continue
            if self.stop.requested or execution.keeper.lost:
                if self.stop.requested:
                    reason = f"stopped before step {step.name!r} ({self.stop.reason})"
                    return RunEnding("stopped", step.name, reason)
                return RunEnding("failed", step.name, "lost the run lock to another process")
            execution.current = step.name
            with self.tracing.span(
                f"step {step.name}", {"sparkjobs.step": step.name, "sparkjobs.job": step.job}
            ):
                task = StepTask(
                    step,
                    execution.record.run_id,
                    tasks,
                    execution.log,
                    execution.previous_attempts.get(step.name, 0),
                )
                outcome = task.run()
            execution.current = None
            execution.outcomes[step.name] = outcome
            if outcome.status != "success":
                status = "stopped" if isinstance(outcome.result, StopRequestedError) else "failed"
                transient = bool(getattr(outcome.result, "transient", False))
                return RunEnding(status, step.name, outcome.error, transient)
        return RunEnding()

    def _skip(self, execution: RunExecution, step: PlannedStep) -> None:
        outcome = StepOutcome(
            step.name, step.job, "skipped", attempts=execution.previous_attempts.get(step.name, 0)
        )
        execution.outcomes[step.name] = outcome
        execution.log.info(
            "step %s skipped: it succeeded in an earlier attempt of this run",
            step.name,
            extra={"step": step.name},
        )
        self.reporter.step_finished(step.name, outcome)

    def _retry_sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            if self.stop.requested:
                raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")
            return
        if self.stop.wait(seconds):
            raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")
