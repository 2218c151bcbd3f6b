"""Executing ONE step of a run (kedro ``runner/task.py``): attempts, retries, timeout, cancellation.

Each attempt runs the prepared job (:func:`sparkjobs.executor.execute`) in a worker thread so that
the step's timeout can cancel its Spark jobs (``SparkContext.cancelAllJobs``) and mark the step
failed with a timeout error. The step's :class:`~sparkjobs.resilience.RetryPolicy` decides which
failures are retried (transient ones by default); every attempt is recorded in the ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sparkjobs.executor import execute
from sparkjobs.observability.logging import ContextAdapter
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.errors import StepFailedError, StepTimeoutError
from sparkjobs.pipeline.ledger import RunLedger
from sparkjobs.pipeline.outcomes import StepOutcome
from sparkjobs.pipeline.planning import PlannedStep
from sparkjobs.pipeline.recorder import LedgerRecorder
from sparkjobs.pipeline.reporters import RunReporter
from sparkjobs.resilience import RetryEvent, explain

#: seconds a timed-out attempt gets to wind down after its Spark jobs were cancelled
CANCEL_GRACE_S = 10.0
#: key in ``JobContext.extras`` of a ``threading.Event`` set when the step times out or must stop
CANCEL_EXTRA = "cancel_event"


@dataclass
class TaskEnvironment:
    """What every step of a run shares: the ledger and its writer, the display, clocks, tracing."""

    ledger: RunLedger
    record: LedgerRecorder
    reporter: RunReporter
    clock: Callable[[], datetime]
    timer: Callable[[], float]
    #: sleeps between retries; raises StopRequestedError when a stop arrives meanwhile
    retry_sleep: Callable[[float], None]
    tracing: Tracing
    base_log: Any
    cancel_grace_s: float = CANCEL_GRACE_S


class StepTask:
    """One step of one run: :meth:`run` returns its outcome; job failures never escape it."""

    def __init__(
        self, step: PlannedStep, run_id: str, env: TaskEnvironment, log: ContextAdapter, attempts_before: int
    ) -> None:
        self.step = step
        self.run_id = run_id
        self.env = env
        self.log = log.bind(step=step.name)
        self.attempts_before = attempts_before
        self.attempts = attempts_before  # counted across resumes of the run, as the ledger keeps them

    @property
    def attempts_in_run(self) -> int:
        return self.attempts - self.attempts_before

    def run(self) -> StepOutcome:
        env, step = self.env, self.step
        started_at = env.clock()
        t0 = env.timer()
        env.record(env.ledger.start_step, self.run_id, step.name, started_at)

        def on_retry(event: RetryEvent) -> None:  # numbered like the ledger, across resumes
            numbered = replace(
                event,
                attempt=self.attempts_before + event.attempt,
                max_attempts=self.attempts_before + event.max_attempts,
            )
            env.reporter.step_retrying(step.name, numbered)

        executor = step.retry.executor(
            operation=f"step {step.name}", sleep=env.retry_sleep, logger=self.log, on_retry=on_retry
        )
        try:
            result = executor.call(self._one_attempt)
        except Exception as exc:
            return self._failed(exc, started_at, env.timer() - t0)
        return self._succeeded(result, started_at, env.timer() - t0)

    # -- the step's end ------------------------------------------------------------------------------
    def _succeeded(self, result: Any, started_at: datetime, duration: float) -> StepOutcome:
        env, step = self.env, self.step
        env.record(env.ledger.finish_step, self.run_id, step.name, "success", env.clock(), duration)
        self.log.info(
            "step %s succeeded in %.2fs (%d attempt(s))",
            step.name,
            duration,
            self.attempts_in_run,
            extra={
                "fields": {"status": "success", "attempts": self.attempts, "duration_s": round(duration, 3)}
            },
        )
        outcome = StepOutcome(
            step.name, step.job, "success", self.attempts, duration, started_at, env.clock(), result=result
        )
        env.reporter.step_finished(step.name, outcome)
        return outcome

    def _failed(self, exc: Exception, started_at: datetime, duration: float) -> StepOutcome:
        env, step = self.env, self.step
        error = str(exc)
        if isinstance(exc, StepFailedError | StepTimeoutError):
            error = f"{error} ({self.attempts_in_run} attempt(s); {explain(exc).kind})"
        env.record(env.ledger.finish_step, self.run_id, step.name, "failed", env.clock(), duration, error)
        self.log.error(
            "step %s failed after %d attempt(s) in %.2fs: %s",
            step.name,
            self.attempts_in_run,
            duration,
            error,
            extra={
                "fields": {"status": "failed", "attempts": self.attempts, "duration_s": round(duration, 3)}
            },
        )
        outcome = StepOutcome(
            step.name, step.job, "failed", self.attempts, duration, started_at, env.clock(), error, result=exc
        )
        env.reporter.step_finished(step.name, outcome)
        return outcome

    # -- one attempt ---------------------------------------------------------------------------------
    def _one_attempt(self) -> Any:
        env, step = self.env, self.step
        self.attempts += 1
        attempt = self.attempts  # the ledger's number: counted across resumes of the run
        # the last attempt this execution may make: a resume gets the step's policy afresh
        last = self.attempts_before + step.retry.max_attempts
        self.log.info(
            "step %s started (job %s, attempt %d/%d)",
            step.name,
            step.job,
            attempt,
            last,
            extra={"fields": {"attempt": attempt, "job": step.job}},
        )
        env.reporter.step_started(step.name, attempt, last)
        a_started = env.clock()
        a0 = env.timer()
        env.record(env.ledger.start_attempt, self.run_id, step.name, attempt, a_started)
        try:
            result = self._in_worker(attempt)
        except BaseException as exc:
            failure = (
                exc
                if isinstance(exc, StepFailedError | StepTimeoutError)
                else StepFailedError(step.name, exc)
            )
            env.record(
                env.ledger.finish_attempt,
                self.run_id,
                step.name,
                attempt,
                "failed",
                env.clock(),
                env.timer() - a0,
                str(failure),
            )
            if not isinstance(exc, Exception):
                raise
            raise failure from exc
        env.record(
            env.ledger.finish_attempt,
            self.run_id,
            step.name,
            attempt,
            "success",
            env.clock(),
            env.timer() - a0,
        )
        return result

    def _in_worker(self, attempt: int) -> Any:
        """One attempt in a worker thread, bounded by the step's timeout."""
        step, timer = self.step, self.env.timer
        prepared = step.prepared
        assert prepared is not None
        cancel = threading.Event()
        prepared.context.extras[CANCEL_EXTRA] = cancel
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = execute(prepared, attempt=attempt)
            except BaseException as exc:
                box["error"] = exc

        # the job's spans nest under this step's span although they run in another thread
        worker = threading.Thread(
            target=self.env.tracing.bind(target), name=f"sparkjobs-step-{step.name}", daemon=True
        )
        worker.start()
        deadline = None if step.timeout_s is None else timer() + step.timeout_s
        while worker.is_alive():
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - timer()))
            worker.join(wait)
            if deadline is not None and worker.is_alive() and timer() >= deadline:
                assert step.timeout_s is not None
                raise self._time_out(worker, cancel, step.timeout_s)
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _time_out(
        self, worker: threading.Thread, cancel: threading.Event, timeout_s: float
    ) -> StepTimeoutError:
        step = self.step
        cancel.set()
        cancelled = False
        provider = step.prepared.context.session if step.prepared is not None else None
        if step.has_spark and provider is not None and provider.started_engine("spark"):
            try:
                provider.get("spark").sparkContext.cancelAllJobs()
                cancelled = True
            except Exception as exc:
                self.env.base_log.warning("could not cancel the Spark jobs of step %s: %s", step.name, exc)
        worker.join(self.env.cancel_grace_s)
        return StepTimeoutError(
            step.name, timeout_s, still_running=worker.is_alive(), cancelled_spark=cancelled
        )
