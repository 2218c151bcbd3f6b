"""Pipelines end to end through real `sparkjobs` processes and a real run ledger.

Jobs are the small modules of tests/framework/e2e/pipeline_jobs (pure Python, no JVM) except the
backfill test, which runs the bundled hello_spark job (one JVM start). Every test writes its own
conf/ and ledger under tmp_path, runs the CLI in that directory, and kills nothing it did not start.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkjobs.pipeline.ledger import RunLedger, open_ledger

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
SPARKJOBS = str(Path(sys.executable).parent / "sparkjobs")
D1 = "2024-03-01"


class Project:
    """A temp project: conf/, a ledger, the trace file, and helpers to run the CLI in it."""

    def __init__(self, root: Path, state_url: str | None = None, pg_schema: str | None = None) -> None:
        self.root = root
        self.conf = root / "conf"
        (self.conf / "base").mkdir(parents=True)
        self.trace = root / "trace.jsonl"
        self.state: dict[str, Any] = {
            "url": state_url or "sqlite:///state/ledger.db",
            "heartbeat_s": 1,
            "stale_after_s": 60,
        }
        if pg_schema:
            self.state["pg_schema"] = pg_schema
        self.env = {
            **os.environ,
            # the jobs, then whatever the caller put first (a worktree's src/ over the installed package)
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "tests" / "framework" / "e2e"), os.environ.get("PYTHONPATH", "")) if p
            ),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
        }
        self.env.pop("SPARKJOBS_ENV", None)
        self.procs: list[subprocess.Popen[str]] = []

    def p(self, name: str) -> str:
        return str(self.root / name)

    def step(self, job: str, label: str, **params: Any) -> dict[str, Any]:
        return {"job": f"pipeline_jobs.{job}", "params": {"trace": str(self.trace), "label": label, **params}}

    def write(self, pipelines: dict[str, Any], **extra: Any) -> None:
        doc = {"state": self.state, "pipelines": pipelines, **extra}
        (self.conf / "base" / "pipelines.yml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SPARKJOBS, *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [SPARKJOBS, *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def traced(self) -> list[tuple[str, str]]:
        if not self.trace.exists():
            return []
        return [(r["step"], r["date"]) for r in map(json.loads, self.trace.read_text().splitlines())]

    def ledger(self) -> RunLedger:
        return open_ledger(self.state["url"], pg_schema=self.state.get("pg_schema"), base_dir=self.root)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


def wait_for(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    proj = Project(tmp_path)
    yield proj
    proj.cleanup()


def linear(project: Project, middle: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    return {
        "defaults": {"has_spark": False, **defaults},
        "steps": {
            "first": project.step("record", "first"),
            "middle": {**middle, "depends_on": ["first"]},
            "last": {**project.step("record", "last"), "depends_on": ["middle"]},
        },
    }


# -- retries and resume ------------------------------------------------------------------------------------
def test_a_transiently_failing_middle_step_is_retried_and_the_run_succeeds(project: Project) -> None:
    middle = project.step("flaky", "middle", counter=project.p("counter"), fail_times=2)
    retry = {"strategy": "fixed", "max_attempts": 3, "initial_delay_s": 0.2}
    project.write({"demo": linear(project, middle, retry=retry)})
    result = project.run("pipeline", "run", "demo", "--date", D1)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [(s["step"], s["status"], s["attempts"]) for s in summary["steps"]] == [
        ("first", "success", 1),
        ("middle", "success", 3),
        ("last", "success", 1),
    ]
    assert project.traced() == [("first", D1), ("middle", D1), ("last", D1)]
    run = project.ledger().get_run(summary["run_id"])
    assert [(a.step, a.attempt, a.status) for a in run.attempts if a.step == "middle"] == [
        ("middle", 1, "failed"),
        ("middle", 2, "failed"),
        ("middle", 3, "success"),
    ]
    # each step's start, end, duration and outcome are logged (JSON lines off a terminal)
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    ends = [r for r in logs if r.get("logger") == "sparkjobs.pipeline" and r.get("status") == "success"]
    assert [r.get("step") for r in ends] == ["first", "middle", "last", None]  # None: the run's total
    assert all(isinstance(r["duration_s"], float) for r in ends)


def test_a_permanent_failure_stops_the_run_and_resume_completes_it(project: Project) -> None:
    middle = project.step("broken", "middle", fixed_by=project.p("fixed"))
    project.write({"demo": linear(project, middle)})
    failed = project.run("pipeline", "run", "demo", "--date", D1)
    assert failed.returncode == 1
    run_id = json.loads(failed.stdout)["run_id"]
    assert f"pipeline 'demo' failed at step 'middle' (run_id={run_id}, date={D1})" in failed.stderr
    assert "DataError: column 'rating' is missing" in failed.stderr
    resume_line = next(line for line in failed.stderr.splitlines() if line.strip().startswith("resume with:"))
    command = shlex.split(resume_line.split("resume with:", 1)[1])
    assert command == ["sparkjobs", "pipeline", "run", "demo", "--resume", run_id]
    assert project.traced() == [("first", D1)]
    recorded = project.ledger().get_run(run_id)
    assert (recorded.status, recorded.failed_step) == ("failed", "middle")

    Path(project.p("fixed")).touch()
    resumed = project.run(*command[1:])  # exactly the printed command
    assert resumed.returncode == 0, resumed.stderr
    assert project.traced() == [("first", D1), ("middle", D1), ("last", D1)]  # first did not run again
    run = project.ledger().get_run(run_id)
    assert (run.status, run.resumes) == ("success", 1)
    assert [(s.step, s.status, s.attempts) for s in run.steps] == [
        ("first", "success", 1),
        ("middle", "success", 2),
        ("last", "success", 1),
    ]


# -- backfill (the Spark test) -------------------------------------------------------------------------------
def test_backfill_over_three_dates_writes_three_partitions_and_three_runs(project: Project) -> None:
    out = project.root / "lake" / "hello"
    project.write(
        {
            "hello": {
                "steps": {
                    "announce": {**project.step("record", "announce"), "has_spark": False},
                    "count": {
                        "job": "hello_spark",
                        "depends_on": ["announce"],
                        "params": {"output_path": str(out), "rows": 200, "items": 5, "days": 1},
                    },
                }
            }
        },
        spark={"master": "local[1]", "shuffle_partitions": 2, "ui_enabled": False},
    )
    result = project.run(
        "pipeline", "run", "hello", "--from", "2024-02-28", "--to", "2024-03-01", timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [json.loads(line)["logical_date"] for line in result.stdout.splitlines()] == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    partitions = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert partitions == ["event_date=2024-02-28", "event_date=2024-02-29", "event_date=2024-03-01"]
    runs = project.ledger().list_runs("hello")
    assert sorted((r.logical_date, r.status, r.trigger) for r in runs) == [
        (date(2024, 2, 28), "success", "backfill"),
        (date(2024, 2, 29), "success", "backfill"),
        (date(2024, 3, 1), "success", "backfill"),
    ]


# -- one run per pipeline and date ---------------------------------------------------------------------------
def hold_pipeline(project: Project) -> dict[str, Any]:
    hold = project.step("hold", "hold", started=project.p("started"), release=project.p("release"))
    return {
        "defaults": {"has_spark": False},
        "steps": {"hold": hold, "after": {**project.step("record", "after"), "depends_on": ["hold"]}},
    }


def test_two_concurrent_runs_of_the_same_date_one_is_refused(project: Project) -> None:
    project.write({"demo": hold_pipeline(project)})
    first = project.start("pipeline", "run", "demo", "--date", D1)
    wait_for(
        lambda: Path(project.p("started")).exists() or first.poll() is not None, "the first run to start"
    )
    second = project.run("pipeline", "run", "demo", "--date", D1)
    assert second.returncode == 2
    assert f"pipeline 'demo' is already running for {D1}: run " in second.stderr
    assert f"pid {first.pid} on" in second.stderr
    # another date is not blocked
    other = project.run("pipeline", "run", "demo", "--date", "2024-03-02", "--dry-run")
    assert other.returncode == 0
    Path(project.p("release")).touch()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    runs = project.ledger().list_runs("demo")
    assert [(r.logical_date, r.status) for r in runs] == [(date(2024, 3, 1), "success")]
    assert project.ledger().get_lock("demo", date(2024, 3, 1)) is None


def test_a_killed_holder_lock_is_taken_over_and_its_run_is_resumable(project: Project) -> None:
    project.write({"demo": hold_pipeline(project)})
    first = project.start("pipeline", "run", "demo", "--date", D1)
    wait_for(lambda: Path(project.p("started")).exists(), "the first run to start")
    first.kill()  # SIGKILL: no chance to release the lock
    first.communicate(timeout=30)
    lock = project.ledger().get_lock("demo", date(2024, 3, 1))
    assert lock is not None and lock.pid == first.pid
    dead_run = lock.run_id

    Path(project.p("release")).touch()
    second = project.run("pipeline", "run", "demo", "--date", D1)
    assert second.returncode == 0, second.stderr
    assert f"took over the stale lock of pipeline demo for {D1} from run {dead_run}" in second.stderr
    assert f"its process (pid {first.pid} on" in second.stderr
    abandoned = project.ledger().get_run(dead_run)
    assert abandoned.status == "abandoned"
    resumed = project.run("pipeline", "run", "demo", "--resume", dead_run)
    assert resumed.returncode == 0, resumed.stderr
    assert project.ledger().get_run(dead_run).status == "success"


# -- signals ------------------------------------------------------------------------------------------------
def test_sigterm_stops_a_run_after_the_current_step(project: Project) -> None:
    project.write({"demo": hold_pipeline(project)})
    proc = project.start("pipeline", "run", "demo", "--date", D1)
    wait_for(lambda: Path(project.p("started")).exists(), "the hold step to start")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert proc.poll() is None  # still finishing the current step
    Path(project.p("release")).touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    summary = json.loads(out)
    assert summary["status"] == "stopped"
    assert [(s["step"], s["status"]) for s in summary["steps"]] == [("hold", "success"), ("after", "pending")]
    assert "was stopped at step 'after'" in err
    assert project.traced() == [("hold", D1)]
    resumed = project.run("pipeline", "run", "demo", "--resume-last")
    assert resumed.returncode == 0, resumed.stderr
    assert project.traced() == [("hold", D1), ("after", D1)]


def test_the_scheduler_fires_on_a_per_second_cron_and_stops_cleanly_on_sigterm(project: Project) -> None:
    tick = hold_pipeline(project)
    tick["steps"]["hold"]["params"]["waiting"] = project.p("waiting")
    tick["schedule"] = {"cron": "* * * * * */1", "timezone": "UTC"}
    project.write({"tick": tick})
    Path(project.p("release")).touch()  # runs go straight through at first
    proc = project.start("schedule", "tick")
    ledger = project.ledger()

    def succeeded() -> int:
        return sum(1 for r in ledger.list_runs("tick") if r.status == "success")

    wait_for(lambda: succeeded() >= 2 or proc.poll() is not None, "two scheduled runs", timeout=90)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    # hold the next run inside its first step, then ask the scheduler to stop
    Path(project.p("release")).unlink()
    wait_for(
        lambda: Path(project.p("waiting")).exists(), "a scheduled run waiting in its hold step", timeout=30
    )
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    Path(project.p("release")).touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out.splitlines()[-1])
    assert report["stopped_by"] == "SIGTERM"
    runs = ledger.list_runs("tick")
    assert runs[0].status == "stopped"
    assert [(s.step, s.status) for s in runs[0].steps] == [("hold", "success"), ("after", "pending")]
    assert all(r.trigger == "schedule" for r in runs)
    assert all(r.logical_date == runs[0].logical_date for r in runs)  # every fire of the day: yesterday
    assert sum(1 for r in runs if r.status == "success") == report["runs"] - 1
    assert "scheduler for tick stopped (SIGTERM)" in err
    assert ledger.locks("tick") == []


# -- the ledger in PostgreSQL, shared by two processes ----------------------------------------------
@pytest.mark.postgres
def test_concurrent_runs_against_a_postgresql_ledger(tmp_path: Path, pg_dsn: str) -> None:
    schema = f"e2e_ledger_{uuid.uuid4().hex[:10]}"
    project = Project(tmp_path, state_url=pg_dsn, pg_schema=schema)
    try:
        project.write({"demo": hold_pipeline(project)})
        first = project.start("pipeline", "run", "demo", "--date", D1)
        wait_for(lambda: Path(project.p("started")).exists() or first.poll() is not None, "the first run")
        second = project.run("pipeline", "run", "demo", "--date", D1)
        assert second.returncode == 2
        assert "is already running for 2024-03-01" in second.stderr
        Path(project.p("release")).touch()
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        status = project.run("pipeline", "status", "demo", "--format", "json")
        runs = json.loads(status.stdout)["runs"]
        assert [(r["logical_date"], r["status"]) for r in runs] == [(D1, "success")]
        assert [s["attempts"] for s in runs[0]["steps"]] == [1, 1]
    finally:
        project.cleanup()
        import psycopg

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
