"""Planning a pipeline run: every step prepared (validated, resolved) up front, without a ledger.

A config error in the last step is reported before the first one runs. ``pipeline run --dry-run``
prints :meth:`StepPlanner.plan`; the runner executes what :meth:`StepPlanner.prepare` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sparkjobs.context import new_run_id
from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import SparkJobsError
from sparkjobs.executor import PreparedRun, RunRequest, prepare
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.model import Mode, PipelineSpec
from sparkjobs.pipeline.workspace import Invocation
from sparkjobs.registry import resolve
from sparkjobs.resilience import RetryPolicy
from sparkjobs.settings import Settings

#: ``factory(settings, app_suffix, has_spark, service_provider)`` → the provider steps share
SessionFactory = Callable[[Settings, str, bool, str], SessionProvider]


def default_session_factory(
    settings: Settings,
    app_suffix: str,
    has_spark: bool,
    service_provider: str,
    *,
    jvm_stderr: Path | None = None,
) -> SessionProvider:
    """The run's provider. Spark's console progress bar is off unless configured: the runner's own
    display and log lines report progress, and the bar would garble both. ``jvm_stderr``: a file
    for the JVM's stderr (the live display passes one, so that the JVM never writes into it)."""
    spark = settings.spark
    if "spark.ui.showConsoleProgress" not in spark.conf:
        spark = spark.model_copy(update={"conf": {**spark.conf, "spark.ui.showConsoleProgress": "false"}})
    return SessionProvider(
        spark,
        service_provider=service_provider,
        app_suffix=app_suffix,
        has_spark=has_spark,
        duckdb=settings.engine.duckdb,
        jvm_stderr=jvm_stderr,
    )


@dataclass
class PlannedStep:
    """One step of a run, ready to execute."""

    name: str
    job: str
    prepared: PreparedRun | None  # None when it already succeeded (resume)
    retry: RetryPolicy
    timeout_s: float | None
    has_spark: bool


class StepPlanner:
    """Turns a pipeline definition and a logical date into prepared steps; touches no state store."""

    def __init__(
        self,
        pipeline: PipelineSpec,
        *,
        settings: Settings,
        invocation: Invocation | None = None,
        session_factory: SessionFactory | None = None,
        tracing: Tracing | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.invocation = invocation or Invocation()
        self.session_factory = session_factory or default_session_factory
        self.tracing = tracing or Tracing.disabled()
        self.clock = clock

    def new_session(self, has_spark: bool) -> SessionProvider:
        return self.session_factory(
            self.settings, self.pipeline.name, has_spark, self.invocation.service_provider
        )

    def plan(self, logical_date: date, *, mode: Mode | None = None) -> list[dict[str, Any]]:
        """What ``--dry-run`` prints: every step prepared (validated) and resolved, nothing run."""
        run_id = new_run_id(self.clock() if self.clock else None)
        steps = self.prepare(run_id, logical_date, mode or self.pipeline.mode, self.new_session(True), set())
        out = []
        for step in steps:
            assert step.prepared is not None
            out.append(
                {
                    "step": step.name,
                    "depends_on": self.pipeline.steps[step.name].depends_on,
                    "runs_after": self.pipeline.dependencies[step.name],
                    "retry": step.retry.model_dump(mode="json"),
                    "timeout_s": step.timeout_s,
                    **step.prepared.plan(),
                }
            )
        return out

    def prepare(
        self, run_id: str, logical_date: date, mode: str, provider: SessionProvider, done: set[str]
    ) -> list[PlannedStep]:
        """Every step in dependency order; those in ``done`` (succeeded earlier) are not prepared."""
        steps: list[PlannedStep] = []
        no_spark = self.new_session(False)
        for name in self.pipeline.order():
            job = self.pipeline.job_of(name)
            retry = self.pipeline.retry_of(name)
            timeout = self.pipeline.timeout_of(name)
            has_spark = self.pipeline.has_spark_of(name)
            if name in done:
                steps.append(PlannedStep(name, job, None, retry, timeout, has_spark))
                continue
            session = provider if has_spark else no_spark
            try:
                prepared = self._prepare_step(name, job, run_id, logical_date, mode, has_spark, session)
            except SparkJobsError as exc:
                exc.add_note(
                    f"while preparing step {name!r} of pipeline {self.pipeline.name!r} (job {job!r})"
                )
                raise
            steps.append(PlannedStep(name, job, prepared, retry, timeout, has_spark))
        return steps

    def _prepare_step(
        self,
        name: str,
        job: str,
        run_id: str,
        logical_date: date,
        mode: str,
        has_spark: bool,
        session: SessionProvider,
    ) -> PreparedRun:
        """The step's RunRequest (params layered over jobs.<job>, the run's mode) → executor.prepare."""
        inv = self.invocation
        params = dict(self.pipeline.steps[name].params)
        sources = {key: self.pipeline.param_source(name, key) for key in params}
        model = resolve(job).config_model
        if model is not None and "mode" in model.model_fields:
            params["mode"] = mode
        request = RunRequest(
            job=job,
            env=inv.env,
            conf_dir=inv.conf_dir,
            project_dir=inv.project_dir,
            config_files=inv.config_files,
            has_spark=has_spark,
            event_date=logical_date,
            service_provider=inv.service_provider,
            run_id=f"{run_id}.{name}",
            engine=self.pipeline.engine_of(name, inv.engine),
            extra_params=params,
            extra_sources=sources,
            session=session,
            tracing=self.tracing,
            pipeline=self.pipeline.name,
            step=name,
        )
        return prepare(request, inv.environ)
