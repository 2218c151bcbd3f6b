"""The reference pipeline on a real Spark standalone cluster (master + 2 workers of 1 core, 1 GiB each).

``sparkjobs package`` → ``sparkjobs doctor --bundle`` → ingest_events → build_recommendations →
load_recommendations through the ``spark_submit`` entry point (``--master spark://127.0.0.1:PORT``,
the packed venv shipped with ``--archives``), on a MovieLens slice; the bronze, gold and serving
tables must equal a local-mode run's (``pipeline run`` on ``local[2]``) row for row.

Two faults:

* a worker (its daemon and its executor JVM: a lost node) is SIGKILLed while a stage of
  build_recommendations has running tasks; the job still succeeds with the same outputs, and the
  Spark event log of the run records the lost executor and the failed tasks;
* the driver — ``sparkjobs pipeline run`` driving the cluster through the bundle's
  ``spark-cluster.yml`` — is SIGKILLed mid-build; ``pipeline run --resume RUN_ID`` completes the
  date with the same outputs, and the ledger shows the resumed run.

Everything is started by PID and stopped in finalizers (the cluster by stop-cluster.sh with a
SIGKILL fallback, drivers by their process group).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.framework.e2e.test_standalone_cluster import (
    Cluster,
    base_env,
    cluster,  # noqa: F401 - the module-scoped cluster fixture
    free_ports,
    get_json,
    result_line,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

ROOT = Path(__file__).resolve().parents[3]
PY = sys.executable
SLICE_FROM = "2016-09-16"  # the last month of MovieLens: 339 ratings, 31 daily deliveries
DAY = "2016-10-16"
WINDOW_DAYS = "31"
MAX_REJECTED_RATIO = "0.25"  # the 10 malformed lines of the sample are many for a month
PARTITIONS = "4"
GOLD_TABLES = ("items", "recommendations", "similar_items", "popular_items")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    def measure(self, name: str, started: float) -> None:
        self.seconds[name] = round(time.monotonic() - started, 1)
        log(f"{name}: {self.seconds[name]}s")


TIMINGS = Timings()


def app_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The same job settings for every run: slice window, rejected ratio, 4 shuffle partitions."""
    env = dict(base) if base is not None else base_env()
    env.update(
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=PY,
        SPARKJOBS__JOBS__BUILD_RECOMMENDATIONS__WINDOW_DAYS=WINDOW_DAYS,
        SPARKJOBS__JOBS__INGEST_EVENTS__MAX_REJECTED_RATIO=MAX_REJECTED_RATIO,
        SPARKJOBS__SPARK__SHUFFLE_PARTITIONS=PARTITIONS,
    )
    env.update(extra)
    return env


def workspace(root: Path, sample: Path) -> Path:
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(sample / "events", root / "data" / "raw" / "events")
    shutil.copytree(sample / "catalog", root / "data" / "raw" / "catalog")
    return root


def canonical(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")  # the same sums added in another order differ in the last bits
    return value.isoformat() if hasattr(value, "isoformat") else value


def sorted_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple((k, canonical(v)) for k, v in sorted(r.items())) for r in rows), key=repr)


def tables(ws: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Bronze, gold and serving tables of a workspace, as sorted canonical rows."""
    import pyarrow.dataset as ds

    lake = ws / "data" / "lake"
    found: dict[str, list[tuple[Any, ...]]] = {}
    found["bronze/events"] = sorted_rows(
        ds.dataset(lake / "bronze" / "events", format="parquet", partitioning="hive").to_table().to_pylist()
    )
    for table in GOLD_TABLES:
        folder = lake / "gold" / table
        found[f"gold/{table}"] = sorted_rows(
            ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()
        )
    with sqlite3.connect(ws / "data" / "serving" / "recommendations.db") as db:
        db.row_factory = sqlite3.Row
        for table in GOLD_TABLES:
            rows = [dict(r) for r in db.execute(f"select * from {table}")]
            found[f"serving/{table}"] = sorted_rows(rows)
    return found


def assert_same_tables(ws: Path, expected: dict[str, list[tuple[Any, ...]]]) -> None:
    got = tables(ws)
    assert sorted(got) == sorted(expected)
    for name, rows in expected.items():
        assert len(got[name]) == len(rows), f"{name}: {len(got[name])} rows, local run has {len(rows)}"
        assert got[name] == rows, f"{name} differs from the local run"
    assert len(expected["gold/recommendations"]) > 0 and len(expected["bronze/events"]) > 300


def start(cmd: list[str], cwd: Path, env: dict[str, str], name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=in_project(env, cwd),
        stdout=(cwd / f"{name}.out").open("w"),
        stderr=(cwd / f"{name}.err").open("w"),
        text=True,
        start_new_session=True,
    )


def in_project(env: dict[str, str], workspace: Path) -> dict[str, str]:
    """``env`` with the workspace as the project root: relative data paths, runs and the SQLite ledger
    resolve against it (by default the root is the folder holding ``--conf-dir``: the repo or the bundle)."""
    return {**env, "SPARKJOBS_PROJECT_DIR": str(workspace)}


def finish(proc: subprocess.Popen[str], cwd: Path, name: str, timeout: float = 900) -> tuple[int, str, str]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, (cwd / f"{name}.out").read_text(), (cwd / f"{name}.err").read_text()


def kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=60)


def wait_until(
    check: Callable[[], Any], what: str, timeout: float, proc: subprocess.Popen[str] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (OSError, ValueError):  # not up yet, or an HTML page while the UI starts
            found = None
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def running_stage(ui: str) -> dict[str, Any] | None:
    """An active stage of the driver's only application with at least one running task."""
    apps = get_json(f"{ui}/api/v1/applications")
    if not apps:
        return None
    stages = get_json(f"{ui}/api/v1/applications/{apps[0]['id']}/stages?status=active")
    return next((s for s in stages if s.get("numActiveTasks", 0) > 0), None)


def worker_tree(running: Cluster, worker: str) -> list[int]:
    """The worker daemon's PID and its executor JVMs' (children): a whole node."""
    pid = int((running.dir / "pids" / f"{worker}.pid").read_text())
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    executors = []
    for child in map(int, children):  # the worker also leaves a defunct launcher shell behind
        try:
            if b"org.apache.spark.executor" in Path(f"/proc/{child}/cmdline").read_bytes():
                executors.append(child)
        except FileNotFoundError:
            continue
    return [pid, *executors]


def event_log(folder: Path, app_id: str) -> list[dict[str, Any]]:
    """The application's Spark events: one file, or Spark 4's rolling ``eventlog_v2_<app>/events_N_<app>``."""
    [path] = [p for p in folder.iterdir() if p.name in (app_id, f"eventlog_v2_{app_id}")]
    files = (
        sorted(path.glob("events_*"), key=lambda p: int(p.name.split("_")[1])) if path.is_dir() else [path]
    )
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


@dataclass
class Stack:
    root: Path
    sample: Path
    cluster: Cluster
    bundle: Path
    local: Path
    package_out: str = ""
    doctor_out: str = ""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("cluster-pipeline")
    started = time.monotonic()
    full, sample = root / "full", root / "sample"
    subprocess.run(
        [
            PY,
            "-m",
            "recommendations.sample_data",
            "--out",
            str(full),
            "--resend-fraction",
            "0.01",
            "--malformed",
            "10",
        ],
        check=True,
        capture_output=True,
        env=app_env(),
        timeout=600,
    )
    (sample / "events").mkdir(parents=True)
    shutil.copytree(full / "catalog", sample / "catalog")
    for day in sorted((full / "events").iterdir()):
        if day.name.split("=")[1] >= SLICE_FROM:
            shutil.copytree(day, sample / "events" / day.name)
    TIMINGS.measure("sample slice", started)

    # the local-mode reference run goes in the background while the cluster starts
    local = workspace(root / "local", sample)
    local_cmd = [PY, "-m", "sparkjobs.cli", "pipeline", "run", "recommendations_daily"]
    local_cmd += ["--mode", "initial_load", "--date", DAY, "--conf-dir", str(ROOT / "conf")]
    local_started = time.monotonic()
    local_proc = start(local_cmd, local, app_env(SPARKJOBS__SPARK__MASTER="local[2]"), "local")
    try:
        started = time.monotonic()
        the_cluster: Cluster = request.getfixturevalue("cluster")
        TIMINGS.measure("cluster start (master + 2 workers)", started)

        started = time.monotonic()
        bundle = root / "dist"
        pkg = subprocess.run(
            [PY, "-m", "sparkjobs.cli", "package", "--out", str(bundle), "--project",
             str(ROOT / "apps" / "recommendations"), "--conf-dir", str(ROOT / "conf"),
             "--master", the_cluster.master_url, "--job", "build_recommendations"],
            capture_output=True, text=True, env=app_env(), timeout=600, cwd=root,
        )  # fmt: skip
        assert pkg.returncode == 0, pkg.stdout + pkg.stderr
        TIMINGS.measure("sparkjobs package", started)

        code, _, err = finish(local_proc, local, "local", timeout=1200)
        assert code == 0, err[-4000:]
        TIMINGS.measure("local-mode pipeline (in the background)", local_started)
        yield Stack(root, sample, the_cluster, bundle, local, package_out=pkg.stdout)
    finally:
        kill_group(local_proc)
        print(json.dumps(TIMINGS.seconds, indent=2))
        (root / "timings.json").write_text(json.dumps(TIMINGS.seconds, indent=2))


@pytest.fixture(scope="module")
def expected(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    return tables(stack.local)


def cluster_conf(stack: Stack, ws: Path, ui_port: int) -> list[str]:
    events = ws / "spark-events"
    events.mkdir(exist_ok=True)
    return [
        "--conf", "spark.executor.memory=512m",
        "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", f"spark.ui.port={ui_port}",
        "--conf", "spark.port.maxRetries=0",
        "--conf", "spark.eventLog.enabled=true",
        "--conf", "spark.eventLog.compress=false",
        "--conf", f"spark.eventLog.dir={events}",
    ]  # fmt: skip


def submit(stack: Stack, ws: Path, job: str, args: list[str], ui_port: int) -> subprocess.Popen[str]:
    manifest = json.loads((stack.bundle / "manifest.json").read_text())
    argv = manifest["spark_submit"]  # the command `sparkjobs package` printed, for this job
    argv = [str(Path(PY).with_name("spark-submit")), *argv[1:]]
    argv[argv.index("--job") + 1] = job
    main = argv.index(str(stack.bundle / "spark_submit.py"))
    argv[main:main] = cluster_conf(stack, ws, ui_port)
    args = [*args, "--event_date", DAY, "--partitions", PARTITIONS, "--run_id", f"{ws.name}-{job}"]
    env = app_env(stack.cluster.env, SPARKJOBS__SPARK__UI_ENABLED="true")
    return start([*argv, *args], ws, env, job)


def test_package_builds_a_packed_venv_and_doctor_passes_on_both_workers(stack: Stack) -> None:
    manifest = json.loads((stack.bundle / "manifest.json").read_text())
    assert (
        manifest["format"] == "venv" and manifest["python_bundle"] == "sparkjobs_recommendations-env.tar.gz"
    )
    names = {d["name"] for d in manifest["distributions"]}
    # the app's wheel plus the framework's, built from its editable install: two distributions
    assert {"sparkjobs", "pydantic", "pydantic-core", "pyyaml"} <= names
    assert {Path(w).name.split("-")[0] for w in manifest["wheels"]} >= {
        "sparkjobs",
        "sparkjobs_recommendations",
    }
    assert not names & {"pyspark", "py4j", "pytest", "ruff", "mypy", "hypothesis", "fastapi", "pandas"}
    assert f"--master {stack.cluster.master_url}" in stack.package_out.replace(" \\\n    ", " ")

    started = time.monotonic()
    doctor = subprocess.run(
        [PY, "-m", "sparkjobs.cli", "doctor", "--master", stack.cluster.master_url, "--format", "json",
         "--bundle", str(stack.bundle), "--conf-dir", str(stack.bundle / "conf"),
         "--conf", "spark.executor.memory=512m"],
        capture_output=True, text=True, env=app_env(stack.cluster.env), timeout=900, cwd=stack.root,
    )  # fmt: skip
    TIMINGS.measure("sparkjobs doctor", started)
    assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-3000:]
    report = json.loads(doctor.stdout[doctor.stdout.index("{") :])
    assert report["ok"] and report["problems"] == []
    assert report["master"] == stack.cluster.master_url
    work = stack.cluster.dir / "work"
    # both workers ran probe tasks, each in the packed venv unpacked into its executor's work dir
    assert sorted(Path(e["cwd"]).parent.parent.name for e in report["executors"]) == ["worker-1", "worker-2"]
    for ex in report["executors"]:
        assert ex["executable"] == str(Path(ex["cwd"]) / "environment" / "bin" / "python")
        assert Path(ex["cwd"]).is_relative_to(work)
    assert "recommendations.jobs.build_recommendations" in report["job_modules"]


def test_the_pipeline_through_spark_submit_equals_local_mode_and_survives_a_killed_worker(
    stack: Stack, expected: dict[str, list[tuple[Any, ...]]]
) -> None:
    ws = workspace(stack.root / "submit", stack.sample)
    ui_port = free_ports(1)[0]
    ui = f"http://127.0.0.1:{ui_port}"

    started = time.monotonic()
    code, out, err = finish(
        submit(stack, ws, "ingest_events", ["--mode", "initial_load"], ui_port), ws, "ingest_events"
    )
    assert code == 0, (out + err)[-4000:]
    assert result_line(out)["result"]["rows_written"] == len(expected["bronze/events"])
    TIMINGS.measure("spark-submit ingest_events", started)

    started = time.monotonic()
    build = submit(stack, ws, "build_recommendations", [], ui_port)
    try:

        def stage_with_both_executors() -> dict[str, Any] | None:
            both = len(worker_tree(stack.cluster, "worker-2")) == 2  # the daemon and the build's executor
            return running_stage(ui) if both else None

        stage = wait_until(stage_with_both_executors, "a running task of build_recommendations", 600, build)
        victims = worker_tree(stack.cluster, "worker-2")
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        log(
            f"SIGKILLed worker-2 and its executor {victims} during stage {stage['stageId']} ({stage['name']})"
        )
        code, out, err = finish(build, ws, "build_recommendations")
    finally:
        kill_group(build)
    assert code == 0, (out + err)[-4000:]
    TIMINGS.measure("spark-submit build_recommendations (worker killed)", started)
    payload = result_line(out)
    assert payload["status"] == "success"
    # the run's event log: the executor was removed mid-job and its tasks failed, yet the job succeeded
    apps = {a["name"]: a["id"] for a in get_json(f"{stack.cluster.webui}/json/")["completedapps"]}
    app_id = apps["sparkjobs:build_recommendations"]
    events = event_log(ws / "spark-events", app_id)
    removed = [e for e in events if e["Event"] == "SparkListenerExecutorRemoved"]
    assert removed, "the event log records no lost executor"
    lost = {e["Executor ID"] for e in removed}
    failed = [
        e for e in events
        if e["Event"] == "SparkListenerTaskEnd" and e["Task End Reason"]["Reason"] != "Success"
        and e["Task Info"]["Executor ID"] in lost
    ]  # fmt: skip
    jobs = [e for e in events if e["Event"] == "SparkListenerJobEnd"]
    assert all(j["Job Result"]["Result"] == "JobSucceeded" for j in jobs)
    log(
        f"event log: executor(s) {sorted(lost)} removed, {len(failed)} task(s) failed on them, "
        f"{len(jobs)} jobs succeeded"
    )

    started = time.monotonic()
    code, out, err = finish(
        submit(stack, ws, "load_recommendations", [], ui_port), ws, "load_recommendations"
    )
    assert code == 0, (out + err)[-4000:]
    TIMINGS.measure("spark-submit load_recommendations", started)
    assert_same_tables(ws, expected)


def test_a_killed_driver_is_resumed_by_pipeline_run_resume(
    stack: Stack, expected: dict[str, list[tuple[Any, ...]]]
) -> None:
    from sparkjobs.pipeline.ledger import open_ledger

    ws = workspace(stack.root / "resume", stack.sample)
    ui_port = free_ports(1)[0]
    ui = f"http://127.0.0.1:{ui_port}"
    extra = ws / "cluster-extra.yml"
    events = ws / "spark-events"
    events.mkdir()
    extra.write_text(
        "spark:\n  ui_enabled: true\n  conf:\n"
        f"    spark.ui.port: '{ui_port}'\n    spark.port.maxRetries: '0'\n    spark.executor.memory: 512m\n"
        f"    spark.eventLog.enabled: 'true'\n    spark.eventLog.compress: 'false'\n"
        f"    spark.eventLog.dir: {events}\n"
    )
    base = [PY, "-m", "sparkjobs.cli", "pipeline", "run", "recommendations_daily"]
    base += ["--conf-dir", str(stack.bundle / "conf"), "--config", str(stack.bundle / "spark-cluster.yml")]
    base += ["--config", str(extra)]
    env = app_env(stack.cluster.env, PYSPARK_PYTHON="./environment/bin/python")
    ledger = open_ledger("sqlite:///state/pipeline.db", base_dir=ws)

    def build_running() -> bool:
        runs = ledger.list_runs("recommendations_daily")
        step = ledger.get_run(runs[0].run_id).step("build_recommendations") if runs else None
        return step is not None and step.status == "running" and running_stage(ui) is not None

    started = time.monotonic()
    driver = start([*base, "--mode", "initial_load", "--date", DAY], ws, env, "driver")
    try:
        wait_until(build_running, "build_recommendations to run a stage on the cluster", 900, driver)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver: its Python process and its JVM
        driver.wait(timeout=60)
    finally:
        kill_group(driver)
    TIMINGS.measure("pipeline run until the driver was killed mid-build", started)
    [listed] = ledger.list_runs("recommendations_daily")
    run = ledger.get_run(listed.run_id)
    assert (run.status, run.step("ingest_events").status) == ("running", "success")
    # the killed driver's application leaves the master before the resume asks for executors
    wait_until(
        lambda: not get_json(f"{stack.cluster.webui}/json/")["activeapps"],
        "the killed driver's app to end",
        180,
    )

    started = time.monotonic()
    resumed = subprocess.run(
        [*base, "--resume", run.run_id],
        cwd=ws,
        env=in_project(env, ws),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    TIMINGS.measure("pipeline run --resume", started)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    final = ledger.get_run(run.run_id)
    assert (final.status, final.resumes) == ("success", 1)
    assert [s.status for s in final.steps] == ["success"] * 3
    build_attempts = [a for a in final.attempts if a.step == "build_recommendations"]
    assert len(build_attempts) == 2, build_attempts  # the killed one and the resumed one
    assert date.fromisoformat(DAY) == final.logical_date
    assert_same_tables(ws, expected)
