"""Run a pipeline: every step through the same path as ``sparkjobs run``, recorded in the run ledger.

For one logical date the runner

1. prepares every step up front (``RunRequest`` → :func:`sparkjobs.executor.prepare`), so a config
   error in the last step is reported before the first one runs;
2. takes the (pipeline, date) lock in the state store (a second run gets exit code 2) and keeps it
   alive with a heartbeat thread;
3. runs the steps in dependency order, in this process, sharing ONE SparkSession provider (closed at
   the end of the run); each attempt runs in a worker thread so that a per-step timeout can cancel
   its Spark jobs (``SparkContext.cancelAllJobs``) and mark the step failed with a timeout error;
4. retries each step by its :class:`~sparkjobs.resilience.RetryPolicy` (transient errors only by
   default) and records every attempt;
5. stops at the first failed step; the error names the step and the exact ``--resume`` command.

A stop request (SIGTERM/SIGINT through :class:`StopToken`) lets the current step finish and then
ends the run as ``stopped`` (resumable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sparkjobs.context import new_run_id
from sparkjobs.errors import JobFailedError, SparkJobsError, UsageError
from sparkjobs.executor import PreparedRun, RunRequest, execute, prepare
from sparkjobs.observability.logging import ContextAdapter
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.errors import (
    LedgerError,
    PipelineFailedError,
    StepTimeoutError,
    StopRequestedError,
)
from sparkjobs.pipeline.ledger import RESUMABLE, LockInfo, RunLedger, RunRecord, StepRecord, utc_now
from sparkjobs.pipeline.model import Mode, PipelineSpec, StateSettings
from sparkjobs.pipeline.workspace import Invocation
from sparkjobs.registry import resolve
from sparkjobs.resilience import RetryEvent, RetryPolicy, explain
from sparkjobs.settings import Settings
from sparkjobs.spark.session import SessionProvider

T = TypeVar("T")

#: seconds a timed-out attempt gets to wind down after its Spark jobs were cancelled
CANCEL_GRACE_S = 10.0
#: key in ``JobContext.extras`` of a ``threading.Event`` set when the step times out or must stop
CANCEL_EXTRA = "cancel_event"
#: how the runner retries its own writes to the run ledger (a briefly unreachable database)
LEDGER_RETRY = RetryPolicy(strategy="exponential", max_attempts=5, initial_delay_s=0.5, max_delay_s=8.0)


# -- stop requests ----------------------------------------------------------------------------------
class StopToken:
    """Set by a signal handler (or a test); the runner checks it between steps and while waiting."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop is requested."""
        return self._event.wait(max(0.0, seconds))


# -- live display -------------------------------------------------------------------------------------
class RunReporter(Protocol):
    """What a live display hears about a run (the runner logs the same events anyway)."""

    def run_started(self, run: RunRecord, order: Sequence[str], done: set[str]) -> None: ...

    def step_started(self, step: str, attempt: int, max_attempts: int) -> None: ...

    def step_retrying(self, step: str, event: RetryEvent) -> None: ...

    def step_finished(self, step: str, outcome: StepOutcome) -> None: ...

    def run_finished(self, outcome: RunOutcome) -> None: ...


class NullReporter:
    """No live display (off a terminal the log lines are the display)."""

    def run_started(self, run: RunRecord, order: Sequence[str], done: set[str]) -> None:
        return None

    def step_started(self, step: str, attempt: int, max_attempts: int) -> None:
        return None

    def step_retrying(self, step: str, event: RetryEvent) -> None:
        return None

    def step_finished(self, step: str, outcome: StepOutcome) -> None:
        return None

    def run_finished(self, outcome: RunOutcome) -> None:
        return None


# -- outcomes -----------------------------------------------------------------------------------------
@dataclass
class StepOutcome:
    step: str
    job: str
    #: success | failed | pending (not reached) | skipped (succeeded in an earlier attempt of this run)
    status: str
    attempts: int = 0
    duration_s: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    result: Any = None


@dataclass
class RunOutcome:
    pipeline: str
    run_id: str
    logical_date: date
    mode: str
    status: str  # success | failed | stopped
    duration_s: float
    steps: list[StepOutcome]
    resume_command: str
    failed_step: str | None = None
    error: str | None = None
    error_transient: bool = False
    took_over: LockInfo | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def raise_for_status(self) -> RunOutcome:
        if not self.ok:
            raise PipelineFailedError(
                self.pipeline,
                self.run_id,
                self.logical_date,
                self.failed_step,
                self.error or self.status,
                self.resume_command,
                status=self.status,
                cause_transient=self.error_transient,
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "logical_date": self.logical_date.isoformat(),
            "mode": self.mode,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "failed_step": self.failed_step,
            "error": self.error,
            "steps": [
                {
                    "step": s.step,
                    "job": s.job,
                    "status": s.status,
                    "attempts": s.attempts,
                    "duration_s": round(s.duration_s, 3),
                    "error": s.error,
                }
                for s in self.steps
            ],
            **({"resume_command": self.resume_command} if not self.ok else {}),
        }


class StepFailedError(SparkJobsError):
    """One attempt of a step failed; transient by the classification of the job's own error."""

    def __init__(self, step: str, error: BaseException) -> None:
        self.step = step
        self.error = error
        root = error.cause if isinstance(error, JobFailedError) else error
        self.root = root
        verdict = explain(root)
        self.transient = verdict.transient
        self.kind = verdict.kind
        super().__init__(f"{type(root).__name__}: {root}")


# -- the lock's heartbeat ----------------------------------------------------------------------------
class LockKeeper:
    """Refreshes the run lock every ``interval_s`` in a daemon thread; notices when it was lost."""

    def __init__(
        self, ledger: RunLedger, pipeline: str, logical_date: date, run_id: str, interval_s: float, log: Any
    ) -> None:
        self.ledger = ledger
        self.key = (pipeline, logical_date, run_id)
        self.interval_s = interval_s
        self.log = log
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sparkjobs-lock-{pipeline}", daemon=True)

    def start(self) -> LockKeeper:
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self.ledger.heartbeat(*self.key):
                    self.lost = True
                    self.log.error(
                        "lost the run lock of %s for %s: another process took it over; "
                        "stopping after this step",
                        self.key[0],
                        self.key[1],
                    )
                    return
            except SparkJobsError as exc:  # a missed heartbeat is not fatal; staleness takes minutes
                self.log.warning("could not refresh the run lock: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- the runner ---------------------------------------------------------------------------------------
@dataclass
class _Step:
    name: str
    job: str
    prepared: PreparedRun | None  # None when it already succeeded (resume)
    retry: RetryPolicy
    timeout_s: float | None
    has_spark: bool


@dataclass
class _RunState:
    record: RunRecord
    steps: list[_Step]
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    current: str | None = None
    #: time spent in earlier executions of a resumed run (the ledger keeps the total)
    earlier_s: float = 0.0
    owns_session: bool = True


#: ``factory(settings, app_suffix, has_spark, service_provider)`` → the provider steps share
SessionFactory = Callable[[Settings, str, bool, str], SessionProvider]


def default_session_factory(
    settings: Settings, app_suffix: str, has_spark: bool, service_provider: str
) -> SessionProvider:
    """The run's provider. Spark's console progress bar is off unless configured: the runner's own
    display and log lines report progress, and the bar would garble both."""
    spark = settings.spark
    if "spark.ui.showConsoleProgress" not in spark.conf:
        spark = spark.model_copy(update={"conf": {**spark.conf, "spark.ui.showConsoleProgress": "false"}})
    return SessionProvider(
        spark, service_provider=service_provider, app_suffix=app_suffix, has_spark=has_spark
    )


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
        self.session_factory = session_factory or default_session_factory
        self.base_log = logger or logging.getLogger("sparkjobs.pipeline")
        self.cancel_grace_s = cancel_grace_s
        self.tracing = tracing or Tracing.disabled()
        self.ledger_retry = ledger_retry

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
        session = self._new_session(True)
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
        """What ``--dry-run`` prints: every step prepared (validated) and resolved, nothing run."""
        provider = self._new_session(True)
        out = []
        for step in self._prepare(
            new_run_id(self.clock()), logical_date, mode or self.pipeline.mode, provider, set()
        ):
            assert step.prepared is not None
            out.append(
                {
                    "step": step.name,
                    "depends_on": self.pipeline.steps[step.name].depends_on,
                    "retry": step.retry.model_dump(mode="json"),
                    "timeout_s": step.timeout_s,
                    **step.prepared.plan(),
                }
            )
        return out

    # -- internals -------------------------------------------------------------------------------------
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

    def _prepare(
        self, run_id: str, logical_date: date, mode: str, provider: SessionProvider, done: set[str]
    ) -> list[_Step]:
        steps: list[_Step] = []
        no_spark = self._new_session(False)
        for name in self.pipeline.order():
            job = self.pipeline.job_of(name)
            retry = self.pipeline.retry_of(name)
            timeout = self.pipeline.timeout_of(name)
            has_spark = self.pipeline.has_spark_of(name)
            if name in done:
                steps.append(_Step(name, job, None, retry, timeout, has_spark))
                continue
            try:
                prepared = self._prepare_step(
                    name, job, run_id, logical_date, mode, has_spark, provider, no_spark
                )
            except SparkJobsError as exc:
                exc.add_note(
                    f"while preparing step {name!r} of pipeline {self.pipeline.name!r} (job {job!r})"
                )
                raise
            steps.append(_Step(name, job, prepared, retry, timeout, has_spark))
        return steps

    def _prepare_step(
        self,
        name: str,
        job: str,
        run_id: str,
        logical_date: date,
        mode: str,
        has_spark: bool,
        provider: SessionProvider,
        no_spark: SessionProvider,
    ) -> PreparedRun:
        """The step's RunRequest (params layered over jobs.<job>, the run's mode) → executor.prepare."""
        inv = self.invocation
        params = dict(self.pipeline.steps[name].params)
        model = resolve(job).config_model
        if model is not None and "mode" in model.model_fields:
            params["mode"] = mode
        request = RunRequest(
            job=job,
            env=inv.env,
            conf_dir=inv.conf_dir,
            config_files=inv.config_files,
            has_spark=has_spark,
            event_date=logical_date,
            service_provider=inv.service_provider,
            run_id=f"{run_id}.{name}",
            extra_params=params,
            session=provider if has_spark else no_spark,
            tracing=self.tracing,
        )
        return prepare(request, inv.environ)

    def _execute(
        self, record: RunRecord, *, resumed: bool, session: SessionProvider | None = None
    ) -> RunOutcome:
        pipeline = self.pipeline
        log = self._log(record)
        done = {s.step for s in record.steps if s.status == "success"} if resumed else set()
        provider = session or self._new_session(True)
        owns_session = session is None
        steps = self._prepare(record.run_id, record.logical_date, record.mode, provider, done)
        resume_hint = self.resume_command(record.run_id)

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
            step_records = [StepRecord(s.name, s.job, i) for i, s in enumerate(steps)]
            if resumed:
                # re-read under the lock: another process may have resumed it since we looked
                fresh = self.ledger.get_run(record.run_id)
                fresh_done = {s.step for s in fresh.steps if s.status == "success"}
                if fresh.status == "success" or fresh_done != done:
                    raise UsageError(
                        f"run {record.run_id} changed while this command started (now {fresh.status}); "
                        "look at it with `sparkjobs pipeline runs show` and try again"
                    )
                self._record(self.ledger.reopen_run, record.run_id, step_records)
                record = self.ledger.get_run(record.run_id)
            else:
                record.steps = step_records
                self._record(self.ledger.create_run, record)
        except BaseException:
            self._record(self.ledger.release_lock, pipeline.name, record.logical_date, record.run_id)
            raise
        keeper = LockKeeper(
            self.ledger, pipeline.name, record.logical_date, record.run_id, self.state.heartbeat_s, log
        ).start()

        state = _RunState(record, steps, earlier_s=earlier_s, owns_session=owns_session)
        t0 = self.timer()
        order = [s.name for s in steps]
        verb = "resumed" if resumed else "started"
        log.info(
            "pipeline %s run %s %s for %s (mode %s): %s%s",
            pipeline.name,
            record.run_id,
            verb,
            record.logical_date,
            record.mode,
            " → ".join(order),
            f"; already succeeded: {', '.join(sorted(done))}" if done else "",
            extra={"fields": {"mode": record.mode, "trigger": record.trigger, "resumed": resumed}},
        )
        self.reporter.run_started(record, order, done)
        status, failed_step, error, transient = "success", None, None, False
        run_span = self.tracing.span(
            f"pipeline {pipeline.name}",
            {
                "sparkjobs.pipeline": pipeline.name,
                "sparkjobs.run_id": record.run_id,
                "sparkjobs.event_date": record.logical_date.isoformat(),
                "sparkjobs.mode": record.mode,
                "sparkjobs.resumed": resumed,
            },
        )
        try:
            span = run_span.__enter__()
            for step in steps:
                if step.prepared is None:
                    outcome = StepOutcome(
                        step.name, step.job, "skipped", attempts=previous_attempts.get(step.name, 0)
                    )
                    state.outcomes[step.name] = outcome
                    log.info(
                        "step %s skipped: it succeeded in an earlier attempt of this run",
                        step.name,
                        extra={"step": step.name},
                    )
                    self.reporter.step_finished(step.name, outcome)
                    continue
                if self.stop.requested or keeper.lost:
                    status = "stopped" if self.stop.requested else "failed"
                    error = (
                        f"stopped before step {step.name!r} ({self.stop.reason})"
                        if self.stop.requested
                        else "lost the run lock to another process"
                    )
                    failed_step = step.name
                    break
                state.current = step.name
                with self.tracing.span(
                    f"step {step.name}", {"sparkjobs.step": step.name, "sparkjobs.job": step.job}
                ):
                    outcome = self._run_step(state, step, log, previous_attempts.get(step.name, 0))
                state.current = None
                state.outcomes[step.name] = outcome
                if outcome.status != "success":
                    status, failed_step, error = "failed", step.name, outcome.error
                    transient = bool(getattr(outcome.result, "transient", False))
                    if isinstance(outcome.result, StopRequestedError):
                        status = "stopped"
                    break
        except BaseException as exc:  # KeyboardInterrupt (second Ctrl-C), a ledger failure...
            run_span.__exit__(type(exc), exc, exc.__traceback__)
            status = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            failed_step = state.current or failed_step
            try:
                if state.current is not None:
                    self._record(
                        self.ledger.finish_step,
                        record.run_id,
                        state.current,
                        "failed",
                        self.clock(),
                        0.0,
                        error,
                    )
                self._finish(state, status, failed_step, error, t0, log, keeper, provider)
            except Exception as inner:  # keep the original error; the stale-lock rules recover the lock
                log.error("could not record the end of run %s: %s", record.run_id, inner)
            raise
        span.set_attribute("sparkjobs.status", status)
        run_span.__exit__(None, None, None)
        result = self._finish(state, status, failed_step, error, t0, log, keeper, provider)
        result.error_transient = transient
        result.took_over = took_over
        result.resume_command = resume_hint
        self.reporter.run_finished(result)
        return result

    def _finish(
        self,
        state: _RunState,
        status: str,
        failed_step: str | None,
        error: str | None,
        t0: float,
        log: ContextAdapter,
        keeper: LockKeeper,
        provider: SessionProvider,
    ) -> RunOutcome:
        record = state.record
        duration = self.timer() - t0
        try:
            if state.owns_session:
                provider.close()
        except Exception as exc:
            log.warning("closing the SparkSession failed: %s", exc)
        keeper.stop()
        outcomes = [state.outcomes.get(s.name) or StepOutcome(s.name, s.job, "pending") for s in state.steps]
        try:
            self._record(
                self.ledger.finish_run,
                record.run_id,
                status,
                self.clock(),
                state.earlier_s + duration,
                failed_step=failed_step,
                error=error,
            )
        finally:
            self._record(self.ledger.release_lock, record.pipeline, record.logical_date, record.run_id)
        ran = sum(1 for o in outcomes if o.status == "success")
        skipped = sum(1 for o in outcomes if o.status == "skipped")
        fields = {"status": status, "duration_s": round(duration, 3), "failed_step": failed_step}
        if status == "success":
            log.info(
                "pipeline %s run %s succeeded for %s in %.2fs (%d step(s) run, %d skipped)",
                record.pipeline,
                record.run_id,
                record.logical_date,
                duration,
                ran,
                skipped,
                extra={"fields": fields},
            )
        else:
            log.error(
                "pipeline %s run %s %s at step %s for %s after %.2fs: %s | resume with: %s",
                record.pipeline,
                record.run_id,
                "was stopped" if status == "stopped" else "failed",
                failed_step,
                record.logical_date,
                duration,
                error,
                self.resume_command(record.run_id),
                extra={"fields": fields},
            )
        return RunOutcome(
            pipeline=record.pipeline,
            run_id=record.run_id,
            logical_date=record.logical_date,
            mode=record.mode,
            status=status,
            duration_s=duration,
            steps=outcomes,
            resume_command=self.resume_command(record.run_id),
            failed_step=failed_step,
            error=error,
        )

    # -- one step ------------------------------------------------------------------------------------
    def _run_step(
        self, state: _RunState, step: _Step, log: ContextAdapter, attempts_before: int
    ) -> StepOutcome:
        run_id = state.record.run_id
        slog = log.bind(step=step.name)
        started_at = self.clock()
        t0 = self.timer()
        self._record(self.ledger.start_step, run_id, step.name, started_at)
        counter = [attempts_before]
        policy = step.retry

        def one_attempt() -> Any:
            counter[0] += 1
            attempt = counter[0]
            in_run = attempt - attempts_before
            slog.info(
                "step %s started (job %s, attempt %d/%d)",
                step.name,
                step.job,
                in_run,
                policy.max_attempts,
                extra={"fields": {"attempt": attempt, "job": step.job}},
            )
            self.reporter.step_started(step.name, in_run, policy.max_attempts)
            a_started = self.clock()
            a0 = self.timer()
            self._record(self.ledger.start_attempt, run_id, step.name, attempt, a_started)
            try:
                result = self._attempt(step)
            except BaseException as exc:
                failure = (
                    exc
                    if isinstance(exc, StepFailedError | StepTimeoutError)
                    else StepFailedError(step.name, exc)
                )
                text = str(failure)
                self._record(
                    self.ledger.finish_attempt,
                    run_id,
                    step.name,
                    attempt,
                    "failed",
                    self.clock(),
                    self.timer() - a0,
                    text,
                )
                if not isinstance(exc, Exception):
                    raise
                raise failure from exc
            self._record(
                self.ledger.finish_attempt,
                run_id,
                step.name,
                attempt,
                "success",
                self.clock(),
                self.timer() - a0,
            )
            return result

        def on_retry(event: RetryEvent) -> None:
            self.reporter.step_retrying(step.name, event)

        executor = policy.executor(
            operation=f"step {step.name}", sleep=self._retry_sleep, logger=slog, on_retry=on_retry
        )
        try:
            result = executor.call(one_attempt)
        except Exception as exc:
            duration = self.timer() - t0
            error = str(exc)
            if isinstance(exc, StepFailedError | StepTimeoutError):
                error = f"{error} ({counter[0] - attempts_before} attempt(s); {explain(exc).kind})"
            self._record(self.ledger.finish_step, run_id, step.name, "failed", self.clock(), duration, error)
            slog.error(
                "step %s failed after %d attempt(s) in %.2fs: %s",
                step.name,
                counter[0] - attempts_before,
                duration,
                error,
                extra={
                    "fields": {"status": "failed", "attempts": counter[0], "duration_s": round(duration, 3)}
                },
            )
            outcome = StepOutcome(
                step.name,
                step.job,
                "failed",
                counter[0],
                duration,
                started_at,
                self.clock(),
                error,
                result=exc,
            )
            self.reporter.step_finished(step.name, outcome)
            return outcome
        duration = self.timer() - t0
        self._record(self.ledger.finish_step, run_id, step.name, "success", self.clock(), duration)
        slog.info(
            "step %s succeeded in %.2fs (%d attempt(s))",
            step.name,
            duration,
            counter[0] - attempts_before,
            extra={"fields": {"status": "success", "attempts": counter[0], "duration_s": round(duration, 3)}},
        )
        outcome = StepOutcome(
            step.name, step.job, "success", counter[0], duration, started_at, self.clock(), result=result
        )
        self.reporter.step_finished(step.name, outcome)
        return outcome

    def _new_session(self, has_spark: bool) -> SessionProvider:
        return self.session_factory(
            self.settings, self.pipeline.name, has_spark, self.invocation.service_provider
        )

    def _record(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A ledger write, retried on transient errors; giving up is terminal, never a step retry.

        A bookkeeping failure after a step succeeded must not make the step's retry policy run the
        job again: the final error is marked terminal and ends the run.
        """
        try:
            return self.ledger_retry.call(
                write, *args, logger=self.base_log, operation="run ledger write", **kwargs
            )
        except LedgerError as exc:
            tries = self.ledger_retry.max_attempts
            raise LedgerError(f"{exc} (gave up after {tries} tries)", transient=False) from exc

    def _retry_sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            if self.stop.requested:
                raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")
            return
        if self.stop.wait(seconds):
            raise StopRequestedError(f"stop requested ({self.stop.reason}) while waiting to retry")

    def _attempt(self, step: _Step) -> Any:
        """One attempt in a worker thread, bounded by the step's timeout."""
        prepared = step.prepared
        assert prepared is not None
        cancel = threading.Event()
        prepared.context.extras[CANCEL_EXTRA] = cancel
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = execute(prepared)
            except BaseException as exc:
                box["error"] = exc

        # the job's spans nest under this step's span although they run in another thread
        worker = threading.Thread(
            target=self.tracing.bind(target), name=f"sparkjobs-step-{step.name}", daemon=True
        )
        worker.start()
        deadline = None if step.timeout_s is None else self.timer() + step.timeout_s
        while worker.is_alive():
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - self.timer()))
            worker.join(wait)
            if deadline is not None and worker.is_alive() and self.timer() >= deadline:
                assert step.timeout_s is not None
                raise self._time_out(step, worker, cancel, step.timeout_s)
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _time_out(
        self, step: _Step, worker: threading.Thread, cancel: threading.Event, timeout_s: float
    ) -> StepTimeoutError:
        cancel.set()
        cancelled = False
        prepared = step.prepared
        provider = prepared.context.session if prepared is not None else None
        if step.has_spark and provider is not None and provider.started:
            try:
                provider.get().sparkContext.cancelAllJobs()
                cancelled = True
            except Exception as exc:
                self.base_log.warning("could not cancel the Spark jobs of step %s: %s", step.name, exc)
        worker.join(self.cancel_grace_s)
        return StepTimeoutError(
            step.name, timeout_s, still_running=worker.is_alive(), cancelled_spark=cancelled
        )
