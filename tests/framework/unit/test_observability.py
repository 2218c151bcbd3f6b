"""End-of-run export (textfile, Pushgateway, JSON report), spans, phases, structured logs without secrets."""

from __future__ import annotations

import base64
import io
import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, SecretStr

from sparkjobs import AbstractJob, AbstractJobFactory, JobContext
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.observability.logging import ConsoleFormatter, configure_logging, log_redactors
from sparkjobs.observability.redact import Redactor, secrets_in, secrets_in_environ
from sparkjobs.observability.settings import ObservabilitySettings
from sparkjobs.observability.tracing import Tracing
from sparkjobs.settings import Settings

SECRET_PW = "s3cr3t-pw-4711"
SECRET_TOKEN = "tok-env-8d2f19"
SECRET_DSN_PW = "dsn-pw-0x5e"


# -- a job to observe ---------------------------------------------------------------------------


class EtlConfig(BaseModel):
    rows: int = 100
    fail_in: str | None = None  # phase that raises
    password: SecretStr = SecretStr(SECRET_PW)
    store_url: str = f"postgresql://app:{SECRET_DSN_PW}@db:5432/recs"
    leak: bool = False  # log the secrets in free text, and put them in the error


class EtlJob(AbstractJob):
    def __init__(self, config: EtlConfig, context: JobContext) -> None:
        self.config, self.context = config, context

    def execute_job(self, **kwargs: Any) -> dict[str, int]:
        ctx, cfg = self.context, self.config
        if cfg.leak:
            import os

            ctx.logger.info(
                "connecting with %s and %s", cfg.password.get_secret_value(), os.environ["API_TOKEN"]
            )
        with ctx.phase("extract"):
            ctx.metrics.rows_read(cfg.rows)
            self._maybe_fail("extract")
        with ctx.phase("transform"):
            ctx.metrics.rows_rejected(cfg.rows // 10)
            self._maybe_fail("transform")
        with ctx.phase("load"):
            ctx.metrics.rows_written(cfg.rows - cfg.rows // 10)
            ctx.metrics.counter("etl_batches", "Batches loaded").inc(3)
            self._maybe_fail("load")
        return {"written": cfg.rows - cfg.rows // 10}

    def _maybe_fail(self, phase: str) -> None:
        if self.config.fail_in == phase:
            detail = f" (password {self.config.password.get_secret_value()})" if self.config.leak else ""
            raise ValueError(f"{phase} broke{detail}")

    def on_success(self, result: Any) -> None:
        self.context.logger.info("wrote %s rows", result["written"])

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error("etl failed: %s", error_message)


class EtlFactory(AbstractJobFactory[EtlConfig]):
    config_model = EtlConfig
    job_name = "etl"

    def create_job(self, **kwargs: Any) -> EtlJob:
        return EtlJob(self.config, self.context)


class FakeTime:
    """Wall clock and perf timer that advance by a fixed step at every reading."""

    def __init__(self, start: float = 1_700_000_000.0, step: float = 0.5) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


def make_context(tmp_path: Path, *, tracing: Tracing | None = None, **obs: Any) -> JobContext:
    settings = Settings(observability=ObservabilitySettings(runs_dir=tmp_path / "runs", **obs))
    ctx = JobContext(
        job_name="etl",
        run_id="20240301T000000Z-abc",
        env="prod",
        has_spark=False,
        event_date=date(2024, 2, 29),
        settings=settings,
        tracing=tracing,
    )
    return ctx


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def job_labels(**extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"job": "etl", **extra}.items()))


# -- textfile -------------------------------------------------------------------------------------


def test_textfile_is_written_atomically_and_parses_value_by_value(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.observer.timer = FakeTime(start=0.0, step=0.25)  # every reading advances 0.25 s
    EtlFactory().run(context=ctx, rows=200)

    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [
        "20240301T000000Z-abc.json",
        "20240301T000000Z-abc.log",  # the run's own log lines, next to its report
        "sparkjobs_etl.prom",
    ]
    got = samples((runs / "sparkjobs_etl.prom").read_text())
    assert got[("sparkjobs_job_success", job_labels())] == 1
    assert got[("sparkjobs_job_attempts_total", job_labels())] == 1
    assert got[("sparkjobs_rows_total", job_labels(stage="extract", kind="read"))] == 200
    assert got[("sparkjobs_rows_total", job_labels(stage="transform", kind="rejected"))] == 20
    assert got[("sparkjobs_rows_total", job_labels(stage="load", kind="written"))] == 180
    assert got[("etl_batches_total", ())] == 3
    # timer readings: run start 0, then per phase start/end: 0.25/0.5, 0.75/1.0, 1.25/1.5, run end 1.75
    for phase in ("extract", "transform", "load"):
        assert got[("sparkjobs_job_phase_duration_seconds", job_labels(phase=phase))] == 0.25
    assert got[("sparkjobs_job_duration_seconds", job_labels())] == 1.75
    assert got[("sparkjobs_job_last_success_timestamp_seconds", job_labels())] > 1_600_000_000
    info = job_labels(
        run_id="20240301T000000Z-abc",
        env="prod",
        pipeline="",
        step="",
        event_date="2024-02-29",
        status="succeeded",
    )
    assert got[("sparkjobs_run_info", info)] == 1


def test_a_failed_run_exports_too(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    with pytest.raises(ValueError, match="transform broke"):
        EtlFactory().run(context=ctx, fail_in="transform")
    got = samples((tmp_path / "runs" / "sparkjobs_etl.prom").read_text())
    assert got[("sparkjobs_job_success", job_labels())] == 0
    assert ("sparkjobs_job_last_success_timestamp_seconds", job_labels()) not in got
    assert ("sparkjobs_job_phase_duration_seconds", job_labels(phase="load")) not in got
    report = json.loads((tmp_path / "runs" / "20240301T000000Z-abc.json").read_text())
    assert report["status"] == "failed"
    assert [(p["name"], p["status"]) for p in report["phases"]] == [
        ("extract", "succeeded"),
        ("transform", "failed"),
    ]
    assert report["error"]["type"] == "ValueError"
    assert report["error"]["message"] == "transform broke"
    assert report["error"]["transient"] is False
    assert "in _maybe_fail" in report["error"]["traceback"]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)
def test_promtool_accepts_the_textfile(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.metrics.histogram("etl_batch_seconds", "Seconds per batch", buckets=[1, 5]).observe(2)
    ctx.metrics.summary("etl_batch_rows", "Rows per batch").observe(10)
    EtlFactory().run(context=ctx)
    text = (tmp_path / "runs" / "sparkjobs_etl.prom").read_text()
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout + done.stderr == ""  # no lint complaints either


def test_export_switches_and_a_separate_textfile_dir(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, write_report=False, textfile_dir=tmp_path / "node-exporter")
    EtlFactory().run(context=ctx)
    assert not (tmp_path / "runs").exists()
    assert [p.name for p in (tmp_path / "node-exporter").iterdir()] == ["sparkjobs_etl.prom"]

    quiet = make_context(tmp_path / "quiet", write_report=False, write_textfile=False)
    EtlFactory().run(context=quiet)
    assert not (tmp_path / "quiet").exists()


def test_an_export_failure_is_logged_and_never_fails_the_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs dir should be")
    ctx = make_context(tmp_path)
    caplog.set_level(logging.WARNING)
    assert EtlFactory().run(context=ctx) == {"written": 90}
    assert len(ctx.observer.artifacts.errors) == 3  # the run's log file, textfile and report
    warnings = [r.getMessage() for r in caplog.records if "could not export" in r.getMessage()]
    assert [w.split(":")[0] for w in warnings] == [
        "could not export the run's textfile",
        "could not export the run's report",
    ]


# -- JSON run report ------------------------------------------------------------------------------


class FakeQualityReport:
    def to_dict(self) -> dict[str, Any]:
        return {"dataset": "bronze", "ok": True, "results": [{"name": "row_count", "status": "pass"}]}


def test_run_report_has_params_masked_timings_metrics_and_quality(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.observer.clock = FakeTime(start=1_709_251_200.0, step=1.0)  # 2024-03-01T00:00:00Z
    ctx.observer.timer = FakeTime(start=0.0, step=0.125)
    ctx.observer.record_quality(FakeQualityReport())  # before the run: dropped by the run's reset
    factory = EtlFactory()

    class WithQuality(EtlJob):
        def execute_job(self, **kwargs: Any) -> dict[str, int]:
            self.context.observer.record_quality(FakeQualityReport())
            return super().execute_job(**kwargs)

    factory.create_job = lambda **kw: WithQuality(factory.config, factory.context)  # type: ignore[method-assign]
    factory.run(context=ctx, rows=10)
    report = json.loads((tmp_path / "runs" / "20240301T000000Z-abc.json").read_text())
    assert {
        k: report[k] for k in ("run_id", "job", "env", "event_date", "status", "attempt", "pipeline")
    } == {
        "run_id": "20240301T000000Z-abc",
        "job": "etl",
        "env": "prod",
        "event_date": "2024-02-29",
        "status": "succeeded",
        "attempt": 1,
        "pipeline": None,
    }
    assert report["started_at"] == "2024-03-01T00:00:00.000+00:00"
    assert report["params"] == {
        "rows": 10,
        "fail_in": None,
        "password": "********",
        "store_url": "postgresql://app@db:5432/recs?password=********",  # rendered from the parsed URL
        "leak": False,
    }
    assert report["phases"] == [
        {
            "name": "extract",
            "started_at": "2024-03-01T00:00:01.000+00:00",
            "duration_s": 0.125,
            "status": "succeeded",
        },
        {
            "name": "transform",
            "started_at": "2024-03-01T00:00:02.000+00:00",
            "duration_s": 0.125,
            "status": "succeeded",
        },
        {
            "name": "load",
            "started_at": "2024-03-01T00:00:03.000+00:00",
            "duration_s": 0.125,
            "status": "succeeded",
        },
    ]
    assert report["duration_s"] == 0.875
    assert report["quality"] == [FakeQualityReport().to_dict()]
    assert report["error"] is None
    metrics = {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in report["metrics"]}
    assert metrics[("sparkjobs_rows_total", job_labels(stage="extract", kind="read"))] == 10
    assert report["artifacts"] == {
        "textfile": str(tmp_path / "runs" / "sparkjobs_etl.prom"),
        "log_file": str(tmp_path / "runs" / "20240301T000000Z-abc.log"),
        "pushgateway": False,
    }


# -- Pushgateway ----------------------------------------------------------------------------------


class Gateway:
    """A tiny Pushgateway stand-in recording every request."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                gateway.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "raw": (raw := self.rfile.read(length)),
                        "body": raw.decode("utf-8", "replace"),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                self.send_response(status)
                self.end_headers()

            do_PUT = do_POST = do_DELETE = _record

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.close()


def test_metrics_are_pushed_with_the_grouping_key_and_basic_auth(tmp_path: Path, gateway: Gateway) -> None:
    ctx = make_context(tmp_path, pushgateway_url=f"http://pusher:{SECRET_DSN_PW}@127.0.0.1:{gateway.port}")
    ctx.observer.pipeline = "recommendations_daily"
    EtlFactory().run(context=ctx, rows=50)
    (request,) = gateway.requests
    assert (request["method"], request["path"]) == (
        "PUT",
        "/metrics/job/etl/env/prod/pipeline/recommendations_daily",
    )
    assert request["auth"] == "Basic " + base64.b64encode(f"pusher:{SECRET_DSN_PW}".encode()).decode()
    got = samples(request["body"])
    assert got[("sparkjobs_rows_total", job_labels(stage="extract", kind="read"))] == 50
    assert got[("sparkjobs_job_success", job_labels())] == 1
    report = json.loads((tmp_path / "runs" / "20240301T000000Z-abc.json").read_text())
    assert report["artifacts"]["pushgateway"] is True
    assert SECRET_DSN_PW not in json.dumps(report)


def test_delete_on_success_deletes_the_group_and_a_failure_still_pushes(
    tmp_path: Path, gateway: Gateway
) -> None:
    url = f"127.0.0.1:{gateway.port}"
    ok = make_context(tmp_path, pushgateway_url=url, pushgateway_delete_on_success=True)
    EtlFactory().run(context=ok)
    failing = make_context(tmp_path, pushgateway_url=url, pushgateway_delete_on_success=True)
    with pytest.raises(ValueError):
        EtlFactory().run(context=failing, fail_in="load")
    assert [(r["method"], r["path"]) for r in gateway.requests] == [
        ("DELETE", "/metrics/job/etl/env/prod"),
        ("PUT", "/metrics/job/etl/env/prod"),
    ]
    assert samples(gateway.requests[1]["body"])[("sparkjobs_job_success", job_labels())] == 0


def test_an_unreachable_pushgateway_is_logged_with_its_password_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = Gateway(status=500)
    port = down.port
    down.close()
    ctx = make_context(
        tmp_path, pushgateway_url=f"http://u:{SECRET_DSN_PW}@127.0.0.1:{port}", pushgateway_timeout_s=2
    )
    caplog.set_level(logging.WARNING)
    assert EtlFactory().run(context=ctx) == {"written": 90}
    (error,) = ctx.observer.artifacts.errors
    assert error.startswith("pushgateway: URLError")
    assert SECRET_DSN_PW not in " ".join(r.getMessage() for r in caplog.records)


# -- spans ------------------------------------------------------------------------------------------


def test_job_and_phase_spans_form_a_tree_with_run_attributes(tmp_path: Path) -> None:
    tracing, exporter = Tracing.in_memory()
    ctx = make_context(tmp_path, tracing=tracing)
    EtlFactory().run(context=ctx)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["job etl", "phase extract", "phase load", "phase transform"]
    job = spans["job etl"]
    assert job.parent is None
    assert dict(job.attributes or {}) == {
        "sparkjobs.job": "etl",
        "sparkjobs.run_id": "20240301T000000Z-abc",
        "sparkjobs.env": "prod",
        "sparkjobs.event_date": "2024-02-29",
        "sparkjobs.attempt": 1,
    }
    for name in ("phase extract", "phase transform", "phase load"):
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == job.context.span_id
        assert spans[name].attributes["sparkjobs.phase"] == name.split()[1]  # type: ignore[index]
    report = json.loads((tmp_path / "runs" / "20240301T000000Z-abc.json").read_text())
    assert report["trace_id"] == format(job.context.trace_id, "032x")


def test_a_failed_job_marks_its_spans_as_errors(tmp_path: Path) -> None:
    tracing, exporter = Tracing.in_memory()
    with pytest.raises(ValueError):
        EtlFactory().run(context=make_context(tmp_path, tracing=tracing), fail_in="extract")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["job etl", "phase extract"]
    for span in spans.values():
        assert span.status.status_code == StatusCode.ERROR
        assert [e.name for e in span.events] == ["exception"]


def test_pipeline_step_job_phase_tree_through_the_executor(
    tmp_path: Path, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir(
        "obsdemo.etl",
        "from tests.framework.unit.test_observability import EtlFactory\n"
        "from sparkjobs import make_main\nmain = make_main(EtlFactory)\n",
    )
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "sparkjobs.yml").write_text(
        f"observability:\n  runs_dir: {tmp_path / 'runs'}\n"
    )
    tracing, exporter = Tracing.in_memory()
    with (
        tracing.span("pipeline recommendations_daily", {"sparkjobs.pipeline": "recommendations_daily"}),
        tracing.span("step ingest", {"sparkjobs.step": "ingest"}),
    ):
        request = RunRequest(
            job="obsdemo.etl",
            conf_dir=tmp_path / "conf",
            has_spark=False,
            run_id="p1.ingest",
            tracing=tracing,
            event_date="2024-02-29",
        )
        prepared = prepare(request, environ={})
        # a pipeline runs steps in worker threads: bind() carries the step span across
        worker = threading.Thread(target=tracing.bind(lambda: execute(prepared)))
        worker.start()
        worker.join()
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    parent_of = {
        name: next(
            (p for p, s in by_name.items() if span.parent and s.context.span_id == span.parent.span_id), None
        )
        for name, span in by_name.items()
    }
    assert parent_of == {
        "pipeline recommendations_daily": None,
        "step ingest": "pipeline recommendations_daily",
        "job etl": "step ingest",
        "phase extract": "job etl",
        "phase transform": "job etl",
        "phase load": "job etl",
    }
    assert len({s.context.trace_id for s in by_name.values()}) == 1
    # executor and factory both observe: the outer one exports once, one job span
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.suffix == ".json"] == ["p1.ingest.json"]


def test_tracing_is_off_by_default_and_then_allocates_nothing() -> None:
    off = Tracing.from_environ({})
    assert not off.enabled
    assert off.span("a") is off.span("b")  # one shared null context: no span objects at all
    fn = lambda: 1  # noqa: E731
    assert off.bind(fn) is fn
    assert not Tracing.from_environ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}).enabled
    assert not Tracing.from_environ({"OTEL_TRACES_EXPORTER": "none"}).enabled


def test_exporters_are_chosen_by_otel_variables(caplog: pytest.LogCaptureFixture) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    def exporters(env: dict[str, str]) -> list[str]:
        tracing = Tracing.from_environ(env)
        try:
            if tracing.provider is None:
                return []
            processors = tracing.provider._active_span_processor._span_processors
            return [type(p.span_exporter).__name__ for p in processors]  # type: ignore[attr-defined]
        finally:
            tracing.shutdown()

    assert exporters({"OTEL_TRACES_EXPORTER": "console"}) == [ConsoleSpanExporter.__name__]
    assert exporters({"OTEL_TRACES_EXPORTER": "otlp,console"}) == [
        OTLPSpanExporter.__name__,
        "ConsoleSpanExporter",
    ]
    caplog.set_level(logging.WARNING)
    assert exporters({"OTEL_TRACES_EXPORTER": "zipkin"}) == []
    assert "OTEL_TRACES_EXPORTER=zipkin is not supported" in caplog.text
    named = Tracing.from_environ(
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_SERVICE_NAME": "recs-batch",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod",
        }
    )
    assert named.provider is not None
    attributes = named.provider.resource.attributes
    assert (attributes["service.name"], attributes["deployment.environment"]) == ("recs-batch", "prod")
    named.shutdown()


def test_otlp_export_reaches_a_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    collector = Gateway()
    try:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.port}")
        ctx = make_context(tmp_path)  # no tracing injected: built from the OTEL_* variables for this run
        EtlFactory().run(context=ctx)
        assert not ctx.observer.tracing.enabled  # the run's own provider was shut down (flushed) at its end
    finally:
        collector.close()
    names = []
    for request in collector.requests:
        assert (request["method"], request["path"]) == ("POST", "/v1/traces")
        message = ExportTraceServiceRequest()
        message.ParseFromString(request["raw"])
        names += [s.name for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted(names) == ["job etl", "phase extract", "phase load", "phase transform"]


# -- structured logs and secrets -------------------------------------------------------------------


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging into a buffer; the logging tree is restored afterwards (caplog keeps working)."""
    saved = {}
    for name in ("sparkjobs", "recommendations"):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield stream
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_json_lines_carry_the_run_context(tmp_path: Path, log_stream: io.StringIO) -> None:
    EtlFactory().run(context=make_context(tmp_path))
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    done = next(line for line in lines if line["message"] == "wrote 90 rows")
    assert {k: done[k] for k in ("level", "run_id", "job", "env", "event_date", "logger")} == {
        "level": "info",
        "run_id": "20240301T000000Z-abc",
        "job": "etl",
        "env": "prod",
        "event_date": "2024-02-29",
        "logger": "sparkjobs.run.etl",
    }
    phases = [line for line in lines if line["message"].startswith("phase ")]
    assert [(p["phase"], p["status"]) for p in phases] == [
        ("extract", "succeeded"),
        ("transform", "succeeded"),
        ("load", "succeeded"),
    ]


def test_secrets_from_config_and_env_never_reach_logs_reports_or_metrics(
    tmp_path: Path, log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("SPARKJOBS__JOBS__ETL__PASSWORD", SECRET_PW)
    ctx = make_context(tmp_path)
    with pytest.raises(ValueError) as info:
        EtlFactory().run(context=ctx, leak=True, fail_in="load")
    assert SECRET_PW in str(info.value)  # the job really put it in its error and its log call
    logged = log_stream.getvalue()
    assert "connecting with ******** and ********" in logged
    assert '"message": "etl failed: ValueError: load broke (password ********)"' in logged
    artefacts = "".join(p.read_text() for p in (tmp_path / "runs").iterdir())
    for secret in (SECRET_PW, SECRET_TOKEN, SECRET_DSN_PW):
        assert secret not in logged
        assert secret not in artefacts
    report = json.loads((tmp_path / "runs" / "20240301T000000Z-abc.json").read_text())
    assert report["error"]["message"] == "load broke (password ********)"
    # the run's secrets are forgotten by the log redactor when the run ends
    (redactor,) = log_redactors()
    assert len(redactor) == 0


def test_redactor_collects_secret_values() -> None:
    class Nested(BaseModel):
        api_key: str = "key-123456"
        token: SecretStr = SecretStr("nested-token-1")

    class Cfg(BaseModel):
        password: SecretStr = SecretStr("pw-abcdef")
        url: str = "postgresql://u:dsnpass99@h/db"
        nested: Nested = Nested()
        short_secret: str = "abc"  # too short to redact safely
        name: str = "not-a-secret"

    assert secrets_in(Cfg()) == {"pw-abcdef", "dsnpass99", "key-123456", "nested-token-1"}
    assert secrets_in_environ(
        {
            "PGPASSWORD": "pg-pass-1",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-2",
            "HOME": "/root",
            "DATABASE_URL": "postgres://a:url-pass-3@h/d",
            "GITHUB_TOKEN": "ghp_4444",
        }
    ) == {"pg-pass-1", "aws-secret-2", "url-pass-3", "ghp_4444"}
    redactor = Redactor({"pw-abcdef", "pw-abcdef-longer"})
    assert (
        redactor("a pw-abcdef-longer b pw-abcdef c password=x1")
        == "a ******** b ******** c password=********"
    )
    redactor.discard({"pw-abcdef"})
    assert redactor("pw-abcdef") == "pw-abcdef"


def test_console_lines_on_a_terminal_are_coloured_and_redacted() -> None:
    record = logging.LogRecord(
        "sparkjobs.run.etl", logging.WARNING, __file__, 1, "using %s", (SECRET_PW,), None
    )
    record.job, record.run_id = "etl", "r1"
    line = ConsoleFormatter(color=True, redactor=Redactor({SECRET_PW})).format(record)
    assert line.endswith("\x1b[33mWARNING\x1b[0m using ********  [job=etl run_id=r1]")
