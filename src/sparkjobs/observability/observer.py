"""The run observer: spans, phase timings, quality results, and the export at the end of every run.

``JobContext`` holds one :class:`RunObserver`. ``AbstractJobFactory.run`` and
``executor.execute`` wrap the run in :meth:`RunObserver.observe_run` (re-entrant: the outermost
call does the work), so every run — succeeded or failed — ends with

* a node-exporter textfile ``<textfile_dir or runs_dir>/sparkjobs_<job>.prom`` (atomic),
* a Pushgateway push when ``observability.pushgateway_url`` is set (grouping key job/pipeline/env;
  with ``pushgateway_delete_on_success`` a successful run deletes its group instead),
* a JSON run report ``<runs_dir>/<run_id>.json`` (params with secrets masked, the job's result,
  phase timings, metrics, quality results, error, the run's log file),
* the run's own log lines in ``<runs_dir>/<run_id>.log`` (:mod:`sparkjobs.observability.runlog`);
  attempt N > 1 of a pipeline step writes ``<run_id>.attempt-N.json`` / ``.log`` beside them,

and a "job … started" log line at the start of every run,

and a ``job <name>`` span (phases are its children). Export problems are logged, never raised:
telemetry must not fail a job.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import Gauge

from sparkjobs.config.secrets import mask
from sparkjobs.observability.export import (
    delete_metrics,
    push_metrics,
    registry_samples,
    safe_name,
    textfile_name,
    write_json,
    write_textfile,
)
from sparkjobs.observability.logging import log_redactors
from sparkjobs.observability.metrics import RunMetrics
from sparkjobs.observability.redact import Redactor, secrets_in, secrets_in_environ
from sparkjobs.observability.runlog import RunLogFile, log_finished, log_started
from sparkjobs.observability.tracing import Tracing

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from sparkjobs.observability.settings import ObservabilitySettings

Logger = logging.Logger | logging.LoggerAdapter
Status = Literal["running", "succeeded", "failed"]
REPORT_VERSION = 1


@dataclass
class PhaseTiming:
    name: str
    started_at: str
    duration_s: float
    status: Literal["succeeded", "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 6),
            "status": self.status,
        }


@dataclass
class RunArtifacts:
    """What the export produced (paths) or why a part failed."""

    textfile: Path | None = None
    report: Path | None = None
    log_file: Path | None = None
    pushed: bool = False
    deleted: bool = False
    errors: list[str] = field(default_factory=list)


class RunObserver:
    """Observes one job run; see the module docstring. Build one per ``JobContext``."""

    def __init__(
        self,
        *,
        job: str,
        run_id: str,
        env: str,
        settings: ObservabilitySettings,
        metrics: RunMetrics,
        event_date: date | None = None,
        service_provider: str = "local",
        tracing: Tracing | None = None,
        pipeline: str | None = None,
        step: str | None = None,
        logger: Logger | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.job = job
        self.run_id = run_id
        self.env = env
        self.settings = settings
        self.metrics = metrics
        self.event_date = event_date
        self.service_provider = service_provider
        self.pipeline = pipeline
        self.step = step
        self.logger: Logger = logger or logging.getLogger("sparkjobs.observability")
        self._environ = environ
        self._owns_tracing = tracing is None
        self.tracing = tracing or Tracing.disabled()
        self.clock = clock
        self.timer = timer
        self.redactor = Redactor()
        self.attempt = 0
        self._depth = 0
        self._reset()

    def _reset(self) -> None:
        self.status: Status = "running"
        self.params: Any = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.duration_s: float | None = None
        self.phases: list[PhaseTiming] = []
        self.quality: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.result: Any = None
        self.trace_id: str | None = None
        self.artifacts = RunArtifacts()

    # -- the run -----------------------------------------------------------------------------------
    @contextmanager
    def observe_run(self, params: Any = None, *, attempt: int | None = None) -> Iterator[RunObserver]:
        """Span, timing and export around one run; nested calls (factory inside executor) pass through.

        ``attempt``: the number the caller keeps (a pipeline's ledger counts across resumes); by
        default the executions of this observer are counted.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        self._reset()
        self.attempt = attempt if attempt is not None else self.attempt + 1
        self.params = params
        environ = os.environ if self._environ is None else self._environ
        secrets = secrets_in(params) | secrets_in_environ(environ)
        self.redactor = Redactor(secrets)
        sinks = log_redactors()
        for sink in sinks:
            sink.add(secrets)
        if self._owns_tracing:
            self.tracing = Tracing.from_environ(environ)
        self.started_at = self.clock()
        t0 = self.timer()
        files = ExitStack()
        try:
            self._open_log_file(files)
            log_started(self.logger, self, self.event_date)
            with self.tracing.span(f"job {self.job}", self.span_attributes()) as span:
                self.trace_id = Tracing.trace_id(span)
                try:
                    yield self
                except BaseException as exc:
                    self.error = exc
                    raise
        finally:
            self.duration_s = self.timer() - t0
            self.finished_at = self.clock()
            self.status = "failed" if self.error is not None else "succeeded"
            self.metrics.record_outcome(self.error is None, self.duration_s, now=self.finished_at)
            log_finished(self.logger, self.job, self.duration_s, self.error, self.redactor)
            try:
                self.export()
            finally:
                files.close()
                if self._owns_tracing:
                    self.tracing.shutdown()
                for sink in sinks:
                    sink.discard(secrets)
                self._depth = 0

    def record_result(self, result: Any) -> None:
        """Keep the job's return value for the run report (as JSON; anything else as its text)."""
        try:
            self.result = json.loads(json.dumps(result, default=str, allow_nan=False))
        except (TypeError, ValueError):  # NaN, a circular structure: keep its text
            self.result = str(result)

    def _open_log_file(self, files: ExitStack) -> None:
        if not (self.settings.write_log_file and self.settings.write_report):
            return  # the log file sits next to the report: no report, no log file
        target = self.settings.runs_dir / f"{self.file_stem()}.log"
        try:
            files.enter_context(RunLogFile(target, self.run_id, self.redactor))
        except OSError as exc:
            self.artifacts.errors.append(self.redactor(f"log file: {exc}"))
            self.logger.warning("could not open the run's log file %s: %s", target, exc)
            return
        self.artifacts.log_file = target

    def span_attributes(self) -> dict[str, str | int | None]:
        return {
            "sparkjobs.job": self.job,
            "sparkjobs.run_id": self.run_id,
            "sparkjobs.env": self.env,
            "sparkjobs.event_date": self.event_date.isoformat() if self.event_date else None,
            "sparkjobs.pipeline": self.pipeline,
            "sparkjobs.step": self.step,
            "sparkjobs.attempt": self.attempt or None,
        }

    def phase(self, name: str) -> AbstractContextManager[Span]:
        """Time and trace a phase: ``with context.phase("extract"): ...`` (repeatable; times add up)."""
        return self._phase(name)

    @contextmanager
    def _phase(self, name: str) -> Iterator[Span]:
        started = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        t0 = self.timer()
        status: Literal["succeeded", "failed"] = "failed"
        try:
            with self.tracing.span(
                f"phase {name}",
                {"sparkjobs.phase": name, "sparkjobs.job": self.job, "sparkjobs.run_id": self.run_id},
            ) as span:
                yield span
            status = "succeeded"
        finally:
            seconds = self.timer() - t0
            self.phases.append(PhaseTiming(name, started, seconds, status))
            self.metrics.record_phase(name, seconds)
            self.logger.info(
                "phase %s %s in %.3fs",
                name,
                status,
                seconds,
                extra={"fields": {"phase": name, "duration_s": round(seconds, 3), "status": status}},
            )

    def record_quality(self, report: Any) -> None:
        """Keep a quality report (anything with ``to_dict()``) for the run report."""
        self.quality.append(report.to_dict())

    # -- export --------------------------------------------------------------------------------------
    def export(self) -> RunArtifacts:
        """Textfile, Pushgateway, JSON report — each independently; failures are logged, not raised."""
        s = self.settings
        artifacts = self.artifacts
        self._info_metric()
        if s.write_textfile:
            target = (s.textfile_dir or s.runs_dir) / textfile_name(self.job)
            self._attempt(
                artifacts,
                "textfile",
                lambda: setattr(artifacts, "textfile", write_textfile(self.metrics.registry, target)),
            )
        if s.pushgateway_url:
            self._attempt(artifacts, "pushgateway", self._push)
        if s.write_report:
            target = s.runs_dir / f"{self.file_stem()}.json"
            self._attempt(
                artifacts, "report", lambda: setattr(artifacts, "report", write_json(target, self.report()))
            )
        return artifacts

    def file_stem(self) -> str:
        """``<run_id>`` for a first attempt, ``<run_id>.attempt-N`` after: a retry or a resume of a
        pipeline step never overwrites the report (and log) of the attempt that failed."""
        stem = safe_name(self.run_id)
        return stem if self.attempt <= 1 else f"{stem}.attempt-{self.attempt}"

    def _attempt(self, artifacts: RunArtifacts, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            text = self.redactor(f"{what}: {type(exc).__name__}: {exc}")
            artifacts.errors.append(text)
            self.logger.warning("could not export the run's %s", text)

    def grouping_key(self) -> dict[str, str]:
        key = {"env": self.env}
        if self.pipeline:
            key["pipeline"] = self.pipeline
        return key

    def _push(self) -> None:
        s = self.settings
        assert s.pushgateway_url is not None
        if self.status == "succeeded" and s.pushgateway_delete_on_success:
            delete_metrics(s.pushgateway_url, self.job, self.grouping_key(), s.pushgateway_timeout_s)
            self.artifacts.deleted = True
        else:
            push_metrics(
                s.pushgateway_url,
                self.job,
                self.metrics.registry,
                self.grouping_key(),
                s.pushgateway_timeout_s,
            )
            self.artifacts.pushed = True

    def _info_metric(self) -> None:
        labels = ("job", "run_id", "env", "pipeline", "step", "event_date", "status")
        registry = self.metrics.registry
        info = registry._names_to_collectors.get("sparkjobs_run_info")
        if info is None:
            info = Gauge(
                "sparkjobs_run_info", "The run these metrics describe (always 1)", labels, registry=registry
            )
        assert isinstance(info, Gauge)
        info.clear()
        info.labels(
            self.job,
            self.run_id,
            self.env,
            self.pipeline or "",
            self.step or "",
            self.event_date.isoformat() if self.event_date else "",
            self.status,
        ).set(1)

    def report(self) -> dict[str, Any]:
        """The JSON run report: who, when, params (masked), phases, metrics, quality, error."""
        error: dict[str, Any] | None = None
        if self.error is not None:
            exc = self.error
            error = {
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
                "message": self.redactor(str(exc)),
                "transient": bool(getattr(exc, "transient", False)),
                "traceback": self.redactor("".join(traceback.format_exception(exc))),
            }
        params = self.params
        if hasattr(params, "model_dump"):
            params = params.model_dump(mode="json")
        return {
            "report_version": REPORT_VERSION,
            "run_id": self.run_id,
            "job": self.job,
            "env": self.env,
            "pipeline": self.pipeline,
            "step": self.step,
            "event_date": self.event_date.isoformat() if self.event_date else None,
            "service_provider": self.service_provider,
            "attempt": self.attempt,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 6),
            "trace_id": self.trace_id,
            "params": self.redactor.value(mask(params)) if params is not None else None,
            "result": self.redactor.value(mask(self.result)) if self.result is not None else None,
            "phases": [p.to_dict() for p in self.phases],
            "metrics": registry_samples(self.metrics.registry),
            "quality": self.quality,
            "error": error,
            "artifacts": {
                "textfile": str(self.artifacts.textfile) if self.artifacts.textfile else None,
                "log_file": str(self.artifacts.log_file) if self.artifacts.log_file else None,
                "pushgateway": bool(self.settings.pushgateway_url),
            },
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
