"""The pipeline runner in-process: order, retries, resume, timeouts, stop requests, locks, backfill.

Steps are the small pure-Python jobs of tests/framework/e2e/pipeline_jobs (no JVM); every job appends a
line to a trace file, so each test knows exactly which steps ran, for which date and in which mode.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.engines.session import SessionProvider
from sparkjobs.errors import JobNotFoundError, UsageError
from sparkjobs.pipeline.errors import LedgerError, PipelineFailedError, PipelineLockedError
from sparkjobs.pipeline.heartbeat import LockKeeper
from sparkjobs.pipeline.ledger import Holder, SQLiteLedger
from sparkjobs.pipeline.model import PipelineSpec, StateSettings
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.runner import PipelineRunner
from sparkjobs.pipeline.stop import StopToken
from sparkjobs.pipeline.workspace import Invocation
from sparkjobs.resilience import RetryPolicy
from sparkjobs.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
D1 = date(2024, 3, 1)

PLAIN_JOB = '''
"""A job ported as-is: a hand-written main(**kwargs) without a config model."""
import json
import logging
from pathlib import Path

def main(**kwargs):
    context = kwargs.pop("context")
    Path(kwargs["out"]).write_text(json.dumps(sorted(kwargs)))
    return {"keys": sorted(kwargs), "date": context.event_date.isoformat()}
'''

PROBE_JOB = '''
"""Write which session provider the step got (the fake providers carry a tag)."""
from pathlib import Path

def main(**kwargs):
    context = kwargs.pop("context")
    with Path(kwargs["out"]).open("a") as fh:
        fh.write(f"{context.job_name}:{context.session.tag}:{context.has_spark}\\n")
'''


@dataclass
class Env:
    root: Path
    ledger: SQLiteLedger
    sleeps: list[float] = field(default_factory=list)

    @property
    def trace(self) -> Path:
        return self.root / "trace.jsonl"

    def p(self, name: str) -> str:
        return str(self.root / name)

    def traced(self) -> list[tuple[str, str, str]]:
        if not self.trace.exists():
            return []
        rows = [json.loads(line) for line in self.trace.read_text().splitlines()]
        return [(r["step"], r["date"], r["mode"]) for r in rows]

    def step(self, job: str, label: str, **params: Any) -> dict[str, Any]:
        return {"job": f"pipeline_jobs.{job}", "params": {"trace": str(self.trace), "label": label, **params}}

    def runner(
        self, steps: dict[str, Any], *, defaults: dict[str, Any] | None = None, **kwargs: Any
    ) -> PipelineRunner:
        spec = PipelineSpec.model_validate(
            {
                "name": "demo",
                "steps": steps,
                "defaults": {
                    "has_spark": False,
                    "retry": {"strategy": "fixed", "max_attempts": 3, "initial_delay_s": 5},
                    **(defaults or {}),
                },
            }
        )
        kwargs.setdefault("sleep", self.sleeps.append)
        return PipelineRunner(
            spec,
            ledger=self.ledger,
            settings=Settings(),
            state=StateSettings(heartbeat_s=0.05, stale_after_s=60),
            invocation=Invocation(conf_dir=self.root / "conf", environ={}),
            **kwargs,
        )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "framework" / "e2e"))
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "observability.yml").write_text(
        f"observability:\n  runs_dir: {tmp_path}/runs\n"
    )
    ledger = SQLiteLedger(tmp_path / "state" / "ledger.db")
    ledger.init_schema()
    return Env(tmp_path, ledger)


def three_steps(env: Env, middle: dict[str, Any]) -> dict[str, Any]:
    return {
        "first": env.step("record", "first"),
        "middle": {**middle, "depends_on": ["first"]},
        "last": {**env.step("record", "last"), "depends_on": ["middle"]},
    }


def statuses(outcome: RunOutcome) -> list[tuple[str, str, int]]:
    return [(s.step, s.status, s.attempts) for s in outcome.steps]


# -- happy path ------------------------------------------------------------------------------------
def test_steps_run_in_dependency_order_with_the_date_and_mode(env: Env) -> None:
    steps = {
        "load": {**env.step("record", "load"), "depends_on": ["build"]},
        "ingest": env.step("record", "ingest"),
        "build": {**env.step("record", "build"), "depends_on": ["ingest"]},
    }
    outcome = env.runner(steps).run(D1, mode="initial_load")
    assert outcome.ok
    assert env.traced() == [
        ("ingest", "2024-03-01", "initial_load"),
        ("build", "2024-03-01", "initial_load"),
        ("load", "2024-03-01", "initial_load"),
    ]
    run = env.ledger.get_run(outcome.run_id)
    assert (run.status, run.mode, run.logical_date, run.trigger) == ("success", "initial_load", D1, "manual")
    assert [(s.step, s.status, s.attempts) for s in run.steps] == [
        ("ingest", "success", 1),
        ("build", "success", 1),
        ("load", "success", 1),
    ]
    assert env.ledger.get_lock("demo", D1) is None  # released


def test_mode_is_not_passed_to_a_job_whose_config_has_no_mode(
    env: Env, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("legacy_jobs.plain", PLAIN_JOB)
    out = env.root / "kwargs.json"
    outcome = env.runner({"plain": {"job": "legacy_jobs.plain", "params": {"out": str(out)}}}).run(
        D1, mode="initial_load"
    )
    assert outcome.ok
    keys = ["has_spark", "out", "service_provider"]  # no "mode"; the platform kwargs of seed 002 are there
    assert json.loads(out.read_text()) == keys
    assert outcome.steps[0].result == {"keys": keys, "date": "2024-03-01"}


# -- retries ---------------------------------------------------------------------------------------
def test_a_transient_failure_is_retried_and_the_run_succeeds(env: Env) -> None:
    middle = env.step("flaky", "middle", counter=env.p("counter"), fail_times=2)
    outcome = env.runner(three_steps(env, middle)).run(D1)
    assert outcome.ok
    assert statuses(outcome) == [("first", "success", 1), ("middle", "success", 3), ("last", "success", 1)]
    assert env.sleeps == [5.0, 5.0]  # two retries, fixed 5 s policy, slept through the injected sleep
    assert [s for s, _, _ in env.traced()] == ["first", "middle", "last"]
    run = env.ledger.get_run(outcome.run_id)
    assert [(a.step, a.attempt, a.status) for a in run.attempts] == [
        ("first", 1, "success"),
        ("middle", 1, "failed"),
        ("middle", 2, "failed"),
        ("middle", 3, "success"),
        ("last", 1, "success"),
    ]
    assert "simulated dropped connection (failing call 1 of 2)" in (run.attempts[1].error or "")


def test_transient_failures_beyond_max_attempts_fail_the_run(env: Env) -> None:
    middle = env.step("flaky", "middle", counter=env.p("counter"), fail_times=10)
    outcome = env.runner(three_steps(env, middle)).run(D1)
    assert (outcome.status, outcome.failed_step) == ("failed", "middle")
    assert statuses(outcome) == [("first", "success", 1), ("middle", "failed", 3), ("last", "pending", 0)]
    assert outcome.error is not None and "(3 attempt(s); transient)" in outcome.error
    with pytest.raises(PipelineFailedError) as err:
        outcome.raise_for_status()
    assert err.value.transient is True
    assert f"resume with: sparkjobs pipeline run demo --resume {outcome.run_id}" in str(err.value)


def test_a_terminal_failure_is_not_retried(env: Env) -> None:
    middle = env.step("broken", "middle", fixed_by=env.p("fixed"))
    outcome = env.runner(three_steps(env, middle)).run(D1)
    assert statuses(outcome) == [("first", "success", 1), ("middle", "failed", 1), ("last", "pending", 0)]
    assert env.sleeps == []
    message = str(_failure(outcome))
    assert "pipeline 'demo' failed at step 'middle'" in message
    assert "DataError: column 'rating' is missing in the input for 2024-03-01" in message
    assert "terminal" in message
    run = env.ledger.get_run(outcome.run_id)
    assert (run.status, run.failed_step) == ("failed", "middle")
    assert [(s.step, s.status) for s in run.steps] == [
        ("first", "success"),
        ("middle", "failed"),
        ("last", "pending"),
    ]


def _failure(outcome: RunOutcome) -> PipelineFailedError:
    try:
        outcome.raise_for_status()
    except PipelineFailedError as exc:
        return exc
    raise AssertionError("expected a failure")


# -- resume ----------------------------------------------------------------------------------------
def test_resume_reruns_from_the_failed_step_without_rerunning_the_first(env: Env) -> None:
    middle = env.step("broken", "middle", fixed_by=env.p("fixed"))
    runner = env.runner(three_steps(env, middle))
    failed = runner.run(D1)
    assert failed.status == "failed"
    Path(env.p("fixed")).touch()  # the user fixes the input
    resumed = runner.resume(failed.run_id)
    assert resumed.ok and resumed.run_id == failed.run_id
    assert statuses(resumed) == [("first", "skipped", 1), ("middle", "success", 2), ("last", "success", 1)]
    assert [s for s, _, _ in env.traced()] == ["first", "middle", "last"]  # first ran once, overall
    run = env.ledger.get_run(failed.run_id)
    assert (run.status, run.resumes, run.failed_step, run.error) == ("success", 1, None, None)
    assert [(a.step, a.attempt, a.status) for a in run.attempts] == [
        ("first", 1, "success"),
        ("middle", 1, "failed"),
        ("middle", 2, "success"),
        ("last", 1, "success"),
    ]


def test_resume_last_picks_the_latest_run(env: Env) -> None:
    middle = env.step("broken", "middle", fixed_by=env.p("fixed"))
    runner = env.runner(three_steps(env, middle))
    runner.run(date(2024, 3, 1))
    second = runner.run(date(2024, 3, 2))
    Path(env.p("fixed")).touch()
    resumed = runner.resume_last()
    assert resumed.run_id == second.run_id and resumed.ok
    with pytest.raises(UsageError, match="succeeded; nothing to resume"):
        runner.resume_last(date(2024, 3, 2))
    assert runner.resume_last(date(2024, 3, 1)).ok
    with pytest.raises(UsageError, match="has no recorded run for 2024-03-09"):
        runner.resume_last(date(2024, 3, 9))


def test_resume_refuses_a_run_of_another_pipeline(env: Env) -> None:
    outcome = env.runner({"a": env.step("record", "a")}).run(D1)
    other = PipelineRunner(
        PipelineSpec.model_validate({"name": "other", "steps": {"a": env.step("record", "a")}}),
        ledger=env.ledger,
        settings=Settings(),
    )
    with pytest.raises(UsageError, match="belongs to pipeline 'demo'"):
        other.resume(outcome.run_id)


# -- validation before anything runs ---------------------------------------------------------------
def test_a_bad_step_is_reported_before_any_step_runs(env: Env) -> None:
    steps = {
        "first": env.step("record", "first"),
        "bad": {"job": "pipeline_jobs.no_such_job", "depends_on": ["first"]},
    }
    with pytest.raises(JobNotFoundError) as err:
        env.runner(steps).run(D1)
    assert "while preparing step 'bad' of pipeline 'demo'" in err.value.__notes__[0]
    assert env.traced() == []
    assert env.ledger.list_runs("demo") == []
    assert env.ledger.get_lock("demo", D1) is None


def test_a_bad_step_param_is_reported_before_any_step_runs(env: Env) -> None:
    steps = {"first": env.step("record", "first"), "flaky": env.step("flaky", "x", counter=1, typo=2)}
    with pytest.raises(UsageError, match=r"unknown parameter 'jobs\.flaky\.typo'"):
        env.runner(steps).run(D1)
    assert env.traced() == []


def test_a_typo_in_a_steps_params_names_the_pipeline_file_and_the_steps_key_path(env: Env) -> None:
    from sparkjobs.pipeline.model import load_pipeline
    from sparkjobs.pipeline.workspace import Workspace

    (env.root / "conf" / "base" / "pipelines.yml").write_text(
        "pipelines:\n  demo:\n    defaults: {has_spark: false}\n    steps:\n"
        "      flaky:\n        job: pipeline_jobs.flaky\n"
        f"        params: {{trace: {env.trace}, counter: c, topn: 2}}\n"
    )
    ws = Workspace.load(Invocation(conf_dir=env.root / "conf", environ={}))
    runner = PipelineRunner(
        load_pipeline(ws.layered, "demo"), ledger=env.ledger, settings=ws.settings, invocation=ws.invocation
    )
    with pytest.raises(UsageError) as err:
        runner.run(D1)
    pipelines_file = str(env.root / "conf" / "base" / "pipelines.yml")
    assert (
        f"unknown parameter 'jobs.flaky.topn' from {pipelines_file} (pipelines.demo.steps.flaky.params.topn)"
        in str(err.value)
    )
    assert "entry point" not in str(err.value)


def test_dry_run_plan(env: Env) -> None:
    plan = env.runner(three_steps(env, env.step("record", "middle"))).plan(D1, mode="initial_load")
    assert [p["step"] for p in plan] == ["first", "middle", "last"]
    assert plan[1]["depends_on"] == ["first"]
    assert plan[1]["event_date"] == "2024-03-01"
    assert plan[1]["params"]["mode"] == "initial_load"
    assert env.traced() == []


# -- timeouts --------------------------------------------------------------------------------------
def test_a_step_over_its_timeout_fails_with_a_timeout_and_is_not_retried(env: Env) -> None:
    hold = env.step("hold", "slow", started=env.p("started"), release=env.p("never"), honour_cancel=True)
    steps = {
        "slow": {**hold, "timeout_s": 0.3},
        "after": {**env.step("record", "after"), "depends_on": ["slow"]},
    }
    outcome = env.runner(steps, cancel_grace_s=5).run(D1)
    assert statuses(outcome) == [("slow", "failed", 1), ("after", "pending", 0)]
    assert outcome.error is not None
    assert outcome.error.startswith("step 'slow' timed out after 0.3s")
    assert "still running" not in outcome.error  # the job honoured the cancel event
    assert env.sleeps == []


def test_a_timed_out_step_that_ignores_cancellation_is_reported_as_still_running(env: Env) -> None:
    hold = env.step("hold", "slow", started=env.p("started"), release=env.p("never"), max_wait_s=3)
    outcome = env.runner({"slow": {**hold, "timeout_s": 0.2}}, cancel_grace_s=0.1).run(D1)
    assert outcome.error is not None and "its Python code was still running" in outcome.error


# -- stop requests ---------------------------------------------------------------------------------
def test_a_stop_lets_the_current_step_finish_then_ends_the_run_as_stopped(env: Env) -> None:
    stop = StopToken()
    hold = env.step("hold", "first", started=env.p("started"), release=env.p("release"))
    steps = {"first": hold, "second": {**env.step("record", "second"), "depends_on": ["first"]}}
    runner = env.runner(steps, stop=stop)

    def stop_while_first_runs() -> None:
        while not Path(env.p("started")).exists():
            time.sleep(0.02)
        stop.request("SIGTERM")
        Path(env.p("release")).touch()

    helper = threading.Thread(target=stop_while_first_runs)
    helper.start()
    outcome = runner.run(D1)
    helper.join()
    assert (outcome.status, outcome.failed_step) == ("stopped", "second")
    assert statuses(outcome) == [("first", "success", 1), ("second", "pending", 0)]
    assert [s for s, _, _ in env.traced()] == ["first"]
    assert env.ledger.get_run(outcome.run_id).status == "stopped"
    assert "was stopped at step 'second'" in str(_failure(outcome))
    # a stopped run resumes from where it stopped
    resumed = env.runner(steps).resume(outcome.run_id)
    assert statuses(resumed) == [("first", "skipped", 1), ("second", "success", 1)]


def test_a_stop_during_a_retry_wait_stops_the_run(env: Env) -> None:
    stop = StopToken()

    def sleep_then_stop(seconds: float) -> None:
        env.sleeps.append(seconds)
        stop.request("SIGINT")

    middle = env.step("flaky", "middle", counter=env.p("counter"), fail_times=5)
    outcome = env.runner(three_steps(env, middle), stop=stop, sleep=sleep_then_stop).run(D1)
    assert (outcome.status, outcome.failed_step) == ("stopped", "middle")
    assert env.sleeps == [5.0]


# -- locks -----------------------------------------------------------------------------------------
def test_a_dead_local_holder_is_taken_over_and_a_live_remote_holder_refuses(env: Env) -> None:
    me = Holder.current()
    other = SQLiteLedger(env.ledger.path, holder=Holder(me.host, me.node, me.pid + 100000))
    other.acquire_lock("demo", D1, "other-run", stale_after_s=60)
    runner = env.runner({"a": env.step("record", "a")})
    # that pid does not exist on this machine: the lock is stale at once and taken over
    outcome = runner.run(D1)
    assert outcome.ok and outcome.took_over is not None and outcome.took_over.run_id == "other-run"
    # a holder on another machine with a fresh heartbeat keeps its lock
    SQLiteLedger(env.ledger.path, holder=Holder("elsewhere", "n", 7)).acquire_lock(
        "demo", D1, "remote-run", stale_after_s=60
    )
    with pytest.raises(PipelineLockedError) as err:
        runner.run(D1)
    assert "remote-run" in str(err.value) and "sparkjobs pipeline unlock demo --date 2024-03-01" in str(
        err.value
    )
    assert [s for s, _, _ in env.traced()] == ["a"]


def test_the_lock_keeper_notices_a_lost_lock(env: Env) -> None:
    env.ledger.acquire_lock("demo", D1, "run-1", stale_after_s=60)
    keeper = LockKeeper(env.ledger, "demo", D1, "run-1", 0.02, _NullLog()).start()
    env.ledger.force_unlock("demo", D1)
    deadline = time.monotonic() + 5
    while not keeper.lost and time.monotonic() < deadline:
        time.sleep(0.01)
    keeper.stop()
    assert keeper.lost is True


class _NullLog:
    def error(self, *args: Any, **kwargs: Any) -> None: ...

    def warning(self, *args: Any, **kwargs: Any) -> None: ...


# -- backfill --------------------------------------------------------------------------------------
def test_backfill_runs_each_date_in_order_one_run_per_date(env: Env) -> None:
    out = env.root / "lake"
    steps = {"write": env.step("partition", "write", out_dir=str(out))}
    days = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    outcomes = env.runner(steps).backfill(days, mode="initial_load")
    assert [(o.logical_date, o.status) for o in outcomes] == [(d, "success") for d in days]
    assert sorted(p.name for p in out.iterdir()) == [
        "event_date=2024-02-28",
        "event_date=2024-02-29",
        "event_date=2024-03-01",
    ]
    runs = env.ledger.list_runs("demo")
    assert sorted((r.logical_date, r.trigger, r.status) for r in runs) == [
        (d, "backfill", "success") for d in days
    ]


def test_backfill_stops_at_the_first_failed_date(env: Env) -> None:
    steps = {"flaky": env.step("flaky", "f", counter=env.p("counter"), fail_times=100)}
    days = [date(2024, 2, 28), date(2024, 2, 29)]
    outcomes = env.runner(steps, defaults={"retry": {"max_attempts": 1}}).backfill(days)
    assert [(o.logical_date, o.status) for o in outcomes] == [(date(2024, 2, 28), "failed")]


# -- one SparkSession per pipeline run -------------------------------------------------------------
class TaggedProvider(SessionProvider):
    def __init__(self, tag: str, has_spark: bool, closed: list[str]) -> None:
        super().__init__(Settings().spark, has_spark=has_spark)
        self.tag = tag
        self.closed = closed

    def close(self) -> None:
        self.closed.append(self.tag)
        super().close()


def test_spark_steps_share_one_session_provider_closed_at_the_end(
    env: Env, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("probe_jobs.session", PROBE_JOB)
    made: list[TaggedProvider] = []
    closed: list[str] = []

    def factory(settings: Settings, app: str, has_spark: bool, provider: str) -> SessionProvider:
        provider = TaggedProvider(f"{'spark' if has_spark else 'nospark'}-{len(made)}", has_spark, closed)
        made.append(provider)
        return provider

    out = env.p("sessions.txt")
    steps = {
        "a": {"job": "probe_jobs.session", "params": {"out": out}, "has_spark": True},
        "b": {"job": "probe_jobs.session", "params": {"out": out}, "has_spark": False, "depends_on": ["a"]},
        "c": {"job": "probe_jobs.session", "params": {"out": out}, "has_spark": True, "depends_on": ["b"]},
    }
    outcome = env.runner(steps, session_factory=factory).run(D1)
    assert outcome.ok
    assert Path(out).read_text().splitlines() == [
        "session:spark-0:True",
        "session:nospark-1:False",
        "session:spark-0:True",
    ]
    assert closed == ["spark-0"]  # the shared provider is closed once, by the runner, at the end


def test_a_backfill_shares_one_session_across_its_dates(
    env: Env, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("probe_jobs.session", PROBE_JOB)
    made: list[TaggedProvider] = []
    closed: list[str] = []

    def factory(settings: Settings, app: str, has_spark: bool, provider: str) -> SessionProvider:
        provider = TaggedProvider(f"{'spark' if has_spark else 'nospark'}-{len(made)}", has_spark, closed)
        made.append(provider)
        return provider

    out = env.p("sessions.txt")
    steps = {"a": {"job": "probe_jobs.session", "params": {"out": out}, "has_spark": True}}
    outcomes = env.runner(steps, session_factory=factory).backfill([date(2024, 3, 1), date(2024, 3, 2)])
    assert [o.status for o in outcomes] == ["success", "success"]
    assert Path(out).read_text().splitlines() == ["session:spark-0:True", "session:spark-0:True"]
    assert closed == ["spark-0"]


def test_steps_are_traced_under_the_pipeline_span(env: Env) -> None:
    from sparkjobs.observability.tracing import Tracing

    tracing, exporter = Tracing.in_memory()
    middle = env.step("flaky", "middle", counter=env.p("counter"), fail_times=1)
    outcome = env.runner(three_steps(env, middle), tracing=tracing).run(D1)
    assert outcome.ok
    spans = {s.name: s for s in exporter.get_finished_spans()}
    run_span = spans["pipeline demo"]
    assert run_span.attributes is not None and run_span.attributes["sparkjobs.status"] == "success"
    for step in ("first", "middle", "last"):
        assert spans[f"step {step}"].parent is not None
        assert spans[f"step {step}"].parent.span_id == run_span.context.span_id
    # the jobs' own spans (opened by the executor in the worker thread) nest under their step
    names = {s.context.span_id: s.name for s in exporter.get_finished_spans()}
    job_spans = sorted(
        (s.name, names[s.parent.span_id])
        for s in exporter.get_finished_spans()
        if s.name.startswith("job ") and s.parent is not None
    )
    assert job_spans == [
        ("job flaky", "step middle"),
        ("job flaky", "step middle"),
        ("job record", "step first"),
        ("job record", "step last"),
    ]


class FlakyLedger(SQLiteLedger):
    """Fails ``finish_attempt`` with a transient ledger error ``failures`` times."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def finish_attempt(self, *args: Any, **kwargs: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise LedgerError("run ledger at postgresql://db: connection reset", transient=True)
        super().finish_attempt(*args, **kwargs)


FAST_LEDGER_RETRY = RetryPolicy(strategy="fixed", max_attempts=3, initial_delay_s=0.01)


def test_a_briefly_failing_ledger_write_is_retried_without_rerunning_the_job(env: Env) -> None:
    runner = env.runner({"a": env.step("record", "a")}, ledger_retry=FAST_LEDGER_RETRY)
    runner.ledger = FlakyLedger(env.ledger.path, failures=2)
    outcome = runner.run(D1)
    assert outcome.ok
    assert env.traced() == [("a", "2024-03-01", "incremental")]  # the job ran once
    assert [(a.attempt, a.status) for a in env.ledger.get_run(outcome.run_id).attempts] == [(1, "success")]


def test_a_ledger_write_that_keeps_failing_fails_the_run_without_rerunning_the_job(env: Env) -> None:
    runner = env.runner({"a": env.step("record", "a")}, ledger_retry=FAST_LEDGER_RETRY)
    runner.ledger = FlakyLedger(env.ledger.path, failures=100)
    outcome = runner.run(D1)
    assert statuses(outcome) == [("a", "failed", 1)]  # not retried as a step failure
    assert outcome.error is not None
    assert outcome.error.endswith("connection reset (gave up after 3 tries)")
    assert outcome.error_transient is False
    assert env.traced() == [("a", "2024-03-01", "incremental")]  # the job ran once
    assert env.ledger.get_run(outcome.run_id).status == "failed"


def test_the_default_session_factory() -> None:
    from sparkjobs.pipeline.planning import default_session_factory

    settings = Settings.model_validate({"spark": {"conf": {"spark.sql.files.openCostInBytes": "65536"}}})
    provider = default_session_factory(settings, "daily", True, "yarn")
    assert provider.service_provider == "yarn" and provider.app_suffix == "daily" and provider.has_spark
    assert provider.settings.conf == {
        "spark.sql.files.openCostInBytes": "65536",
        "spark.ui.showConsoleProgress": "false",
    }
    assert settings.spark.conf == {"spark.sql.files.openCostInBytes": "65536"}  # not changed in place
    mine = Settings.model_validate({"spark": {"conf": {"spark.ui.showConsoleProgress": "true"}}})
    assert (
        default_session_factory(mine, "daily", True, "local").settings.conf["spark.ui.showConsoleProgress"]
        == "true"
    )


# -- what a step's run says about itself: pipeline, step, the ledger's attempt ----------------------
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Any:
    handler = _Records()
    logger = logging.getLogger("sparkjobs")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _report(env: Env, name: str) -> dict[str, Any]:
    return dict(json.loads((env.root / "runs" / name).read_text()))


def test_a_step_report_and_metrics_name_the_pipeline_step_and_attempt(env: Env, records: Any) -> None:
    middle = env.step("flaky", "middle", counter=env.p("counter"), fail_times=1)
    outcome = env.runner(three_steps(env, middle)).run(D1)
    assert outcome.ok
    run = outcome.run_id
    first = _report(env, f"{run}.middle.json")
    second = _report(env, f"{run}.middle.attempt-2.json")
    assert (first["pipeline"], first["step"], first["attempt"], first["status"]) == (
        "demo",
        "middle",
        1,
        "failed",
    )
    assert "simulated dropped connection" in first["error"]["traceback"]
    assert (second["pipeline"], second["step"], second["attempt"], second["status"]) == (
        "demo",
        "middle",
        2,
        "succeeded",
    )
    prom = (env.root / "runs" / "sparkjobs_flaky.prom").read_text()
    assert 'pipeline="demo"' in prom and 'step="middle"' in prom
    job_lines = [r for r in records if r.name == "sparkjobs.run.flaky"]
    assert job_lines, "the job logged nothing"
    assert {(getattr(r, "pipeline", None), getattr(r, "step", None)) for r in job_lines} == {
        ("demo", "middle")
    }


def test_a_resumed_attempt_keeps_the_failed_attempts_report_and_logs_the_ledgers_number(
    env: Env, records: Any
) -> None:
    middle = env.step("broken", "middle", fixed_by=env.p("fixed"))
    runner = env.runner(three_steps(env, middle))
    failed = runner.run(D1)
    Path(env.p("fixed")).touch()
    records.clear()
    resumed = runner.resume(failed.run_id)
    assert resumed.ok
    kept = _report(env, f"{failed.run_id}.middle.json")
    assert (kept["attempt"], kept["status"]) == (1, "failed")
    assert "column 'rating' is missing" in kept["error"]["traceback"]
    again = _report(env, f"{failed.run_id}.middle.attempt-2.json")
    assert (again["attempt"], again["status"], again["step"]) == (2, "succeeded", "middle")
    started = [r.getMessage() for r in records if r.getMessage().startswith("step middle started")]
    assert started == ["step middle started (job pipeline_jobs.broken, attempt 2/4)"]
    ledger_attempts = [a.attempt for a in env.ledger.get_run(failed.run_id).attempts if a.step == "middle"]
    assert ledger_attempts == [1, 2]
