"""Errors of the orchestration layer; each carries the facts a user needs to act on it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sparkjobs.errors import JobFailedError, SparkJobsError, TerminalError, UsageError
from sparkjobs.resilience import explain


class PipelineNotFoundError(UsageError):
    """No pipeline of that name in the merged configuration."""

    def __init__(self, name: str, known: Sequence[str], close: Sequence[str] = ()) -> None:
        self.name = name
        self.known = list(known)
        msg = f"unknown pipeline {name!r}"
        if close:
            msg += f" (did you mean: {', '.join(close)}?)"
        elif known:
            msg += f"; configured pipelines: {', '.join(sorted(known))}"
        else:
            msg += "; no pipelines are configured (declare them under `pipelines:` in conf/base/*.yml)"
        super().__init__(msg)


class RunNotFoundError(UsageError):
    """No run with that id in the ledger."""

    def __init__(self, run_id: str, where: str) -> None:
        self.run_id = run_id
        super().__init__(f"no pipeline run {run_id!r} in the run ledger at {where}")


class NoLedgerError(UsageError):
    """A read-only command found no run ledger: nothing has run here yet (or the project is wrong)."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(
            f"no run ledger at {where}: nothing has run in this project yet "
            "(check --project-dir / --conf-dir if runs were expected)"
        )


class PipelineLockedError(SparkJobsError):
    """Another run of the same pipeline and logical date holds the lock (exit code 2)."""

    exit_code = 2

    def __init__(
        self,
        pipeline: str,
        logical_date: date,
        holder_run_id: str,
        holder: str,
        since: datetime,
        heartbeat_at: datetime,
        hint: str,
    ) -> None:
        self.pipeline = pipeline
        self.logical_date = logical_date
        self.holder_run_id = holder_run_id
        self.holder = holder
        self.since = since
        self.heartbeat_at = heartbeat_at
        super().__init__(
            f"pipeline {pipeline!r} is already running for {logical_date.isoformat()}: run {holder_run_id} "
            f"({holder}) holds the lock since {since.isoformat(timespec='seconds')}, last heartbeat "
            f"{heartbeat_at.isoformat(timespec='seconds')}\n  next: {hint}"
        )


class LedgerError(SparkJobsError):
    """The state store could not be reached or written; transient when the cause is."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class StepTimeoutError(TerminalError, TimeoutError):
    """A step ran longer than its ``timeout_s``.

    Terminal by default: the timed-out attempt may still be running in its thread (Python cannot
    kill a thread), so a retry could overlap it. Set ``retry.retry_on: all`` to retry anyway.
    """

    def __init__(self, step: str, timeout_s: float, *, still_running: bool, cancelled_spark: bool) -> None:
        self.step = step
        self.timeout_s = timeout_s
        self.still_running = still_running
        self.cancelled_spark = cancelled_spark
        msg = f"step {step!r} timed out after {timeout_s:g}s"
        if cancelled_spark:
            msg += "; its Spark jobs were cancelled"
        if still_running:
            msg += "; its Python code was still running when the step was marked failed"
        super().__init__(msg)


class StopRequestedError(SparkJobsError):
    """A stop (SIGTERM/SIGINT) arrived while a step waited to retry."""


class PipelineFailedError(SparkJobsError):
    """A pipeline run failed at a step; says which, why, and the exact command to resume."""

    def __init__(
        self,
        pipeline: str,
        run_id: str,
        logical_date: date,
        step: str | None,
        cause: str,
        resume_command: str,
        *,
        status: str = "failed",
        cause_transient: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.logical_date = logical_date
        self.step = step
        self.cause = cause
        self.resume_command = resume_command
        self.status = status
        self._cause_transient = cause_transient
        where = f" at step {step!r}" if step else ""
        verb = "was stopped" if status == "stopped" else "failed"
        super().__init__(
            f"pipeline {pipeline!r} {verb}{where} (run_id={run_id}, date={logical_date.isoformat()}): {cause}"
            f"\n  resume with: {resume_command}"
        )

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self._cause_transient


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
