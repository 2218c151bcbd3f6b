"""A real Spark standalone cluster (master + 2 workers from the pyspark wheel) and spark-submit through
the spark_submit entry point: the distributed path, end to end.

One cluster serves the module; it is started by deploy/spark-standalone/start-cluster.sh and always
stopped by stop-cluster.sh in the fixture's finalizer (with a SIGKILL fallback by PID).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.entrypoints.pyfiles import build_pyfiles

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy" / "spark-standalone"
ENTRYPOINT = ROOT / "src" / "sparkjobs" / "entrypoints" / "spark_submit.py"
VENV_BIN = Path(sys.executable).parent
WORKERS = 2

#: shipped to the cluster in the --py-files zip only: the executors can import it from nowhere else
CLUSTER_JOB = '''
"""Salted join on the cluster; Python tasks report where they ran and where sparkjobs came from."""
import os
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main
from sparkjobs.spark.salting import salted_join

class ClusterConfig(BaseModel):
    rows: int = 1200
    keys: int = 6
    probe_partitions: int = 4

def where_am_i(rows):
    """Runs in an executor's Python worker."""
    import sparkjobs
    seen = sum(1 for _ in rows)
    yield os.getcwd(), os.path.dirname(os.path.dirname(sparkjobs.__file__)), seen

class ClusterJob(AbstractJob):
    def __init__(self, spark, config, context):
        self.spark, self.config, self.context = spark, config, context

    def execute_job(self, **kwargs: Any) -> Any:
        from pyspark.sql import functions as F
        cfg, spark = self.config, self.spark
        left = spark.range(cfg.rows).select((F.col("id") % cfg.keys).alias("key"), F.col("id").alias("value"))
        right = spark.range(cfg.keys).select(F.col("id").alias("key"), (F.col("id") * 10).alias("weight"))
        joined = salted_join(left, right, "key", buckets=self.context.settings.spark.salt_buckets)
        stats = joined.groupBy("key").agg(F.count("*").alias("n"), F.sum("weight").alias("total")).collect()
        probes = left.rdd.repartition(cfg.probe_partitions).mapPartitions(where_am_i).collect()
        sc = spark.sparkContext
        return {
            "per_key": {str(r["key"]): [r["n"], r["total"]] for r in stats},
            "python_tasks": [list(p) for p in probes],
            "app_id": sc.applicationId, "master": sc.master,
            "salt_buckets": self.context.settings.spark.salt_buckets,
            "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        }

    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class ClusterFactory(AbstractJobFactory[ClusterConfig]):
    config_model = ClusterConfig

    def create_job(self, **kwargs: Any) -> ClusterJob:
        return ClusterJob(self.spark, self.config, self.context)

main = make_main(ClusterFactory)
'''


@dataclass
class Cluster:
    dir: Path
    master_url: str
    webui: str
    worker_webuis: list[str]
    env: dict[str, str]  # for spark-submit: venv first on PATH, SPARK_HOME, PYSPARK_PYTHON ...


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        socks = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def free_port_run(count: int) -> int:
    """A first port such that ``count`` consecutive ports are free (worker i's web UI is base + i - 1)."""
    for _ in range(50):
        base = free_ports(1)[0]
        with ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    stack.enter_context(closing(socket.socket())).bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def eventually(url: str, check: Any, timeout: float = 60.0) -> Any:
    """Poll a JSON endpoint until ``check(state)`` holds (the master and workers update asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        state = get_json(url)
        if check(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def result_line(stdout: str) -> Any:
    """The entry point's success line (the driver's logs share spark-submit's stdout)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith('{"job"'):
            return json.loads(line)
    return None


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKJOBS", "PYSPARK", "SPARK_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _kill_leftovers(pids: list[int]) -> None:
    """Last resort if stop-cluster.sh failed: SIGKILL the daemons we started, by PID."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"org.apache.spark.deploy" not in f.read():
                    continue
            os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            continue


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("standalone")
    master_port, master_webui = free_ports(2)
    worker_webui = free_port_run(WORKERS)
    env = base_env()
    env.update(
        SPARKJOBS_CLUSTER_DIR=str(root / "cluster"),
        PYTHON=sys.executable,
        SPARK_MASTER_HOST="127.0.0.1",
        SPARK_MASTER_PORT=str(master_port),
        SPARK_MASTER_WEBUI_PORT=str(master_webui),
        SPARK_WORKER_INSTANCES=str(WORKERS),
        SPARK_WORKER_CORES="1",
        SPARK_WORKER_MEMORY="1g",
        SPARK_WORKER_WEBUI_PORT=str(worker_webui),
        SPARKJOBS_CLUSTER_TIMEOUT="180",
    )
    pids: list[int] = []
    try:
        start = subprocess.run(
            [str(DEPLOY / "start-cluster.sh")], env=env, capture_output=True, text=True, timeout=300, cwd=root
        )
        pid_dir = root / "cluster" / "pids"
        pids = [int(p.read_text()) for p in pid_dir.glob("*.pid")] if pid_dir.is_dir() else []
        if start.returncode != 0:
            pytest.fail(f"start-cluster.sh failed ({start.returncode}):\n{start.stdout}\n{start.stderr}")
        spark_env = base_env()
        for line in (root / "cluster" / "cluster.env").read_text().splitlines():
            if line.startswith("export ") and "$" not in line:
                key, value = line[len("export ") :].split("=", 1)
                spark_env[key] = value
        yield Cluster(
            dir=root / "cluster",
            master_url=f"spark://127.0.0.1:{master_port}",
            webui=f"http://127.0.0.1:{master_webui}",
            worker_webuis=[f"http://127.0.0.1:{worker_webui + i}" for i in range(WORKERS)],
            env=spark_env,
        )
    finally:
        subprocess.run(
            [str(DEPLOY / "stop-cluster.sh")], env=env, capture_output=True, text=True, timeout=120, cwd=root
        )
        _kill_leftovers(pids)


def spark_submit(
    cluster: Cluster, args: list[str], cwd: Path, py_files: Path | None = None
) -> tuple[int, str, str]:
    cmd = [
        str(VENV_BIN / "spark-submit"),
        "--master",
        cluster.master_url,
        "--conf",
        "spark.executor.memory=512m",
        "--conf",
        "spark.driver.memory=512m",
        "--conf",
        "spark.ui.showConsoleProgress=false",
    ]
    if py_files is not None:
        cmd += ["--py-files", str(py_files)]
    cmd += [str(ENTRYPOINT), *args]
    proc = subprocess.Popen(
        cmd,
        env=cluster.env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"spark-submit timed out:\n{err[-3000:]}")
    return proc.returncode, out, err


def test_spark_submit_runs_a_distributed_job_from_a_py_files_zip(cluster: Cluster, tmp_path: Path) -> None:
    module = tmp_path / "e2e_cluster_job.py"
    module.write_text(textwrap.dedent(CLUSTER_JOB))
    zip_path = build_pyfiles(tmp_path / "dist" / "app.zip", ["sparkjobs"], [module])
    module.unlink()  # the job now exists only inside the zip
    (tmp_path / "conf").mkdir()
    code, out, err = spark_submit(
        cluster,
        [
            "--job",
            "e2e_cluster_job",
            "--e2e_cluster_job",
            '{"rows": 1200, "keys": 6}',
            "--salt",
            "3",
            "--partitions",
            "4",
            "--has_spark",
            "true",
            "--conf_dir",
            str(tmp_path / "conf"),
            "--run_id",
            "e2e-standalone",
        ],
        cwd=tmp_path,
        py_files=zip_path,
    )
    assert code == 0, (out + err)[-4000:]
    payload = result_line(out)
    assert (payload["status"], payload["run_id"], payload["service_provider"]) == (
        "success",
        "e2e-standalone",
        "spark-submit",
    )
    result = payload["result"]
    # the platform's master, never a local one
    assert result["master"] == cluster.master_url
    assert (result["salt_buckets"], result["shuffle_partitions"]) == (3, "4")
    # 1200 ids over 6 keys: 200 rows per key; weight = key * 10, so total = 200 * 10 * key
    assert result["per_key"] == {str(k): [200, 2000 * k] for k in range(6)}
    # every Python task ran in an executor's work dir on a worker, importing sparkjobs from the zip
    app_id = result["app_id"]
    tasks = result["python_tasks"]
    assert sum(t[2] for t in tasks) == 1200 and len(tasks) == 4
    work = cluster.dir / "work"
    for cwd, sparkjobs_from, _ in tasks:
        executor_dir = Path(cwd)
        assert executor_dir.parent.name == app_id and executor_dir.parent.parent.parent == work
        assert sparkjobs_from.endswith("app.zip")
    # the driver imported sparkjobs from the zip too (spark-submit merges the driver's stderr into stdout)
    assert f"sparkjobs from {zip_path}/sparkjobs" in out
    # the master saw the application finish, and each worker hosted one of its executors
    master = eventually(f"{cluster.webui}/json/", lambda m: app_id in {a["id"] for a in m["completedapps"]})
    apps = {a["id"]: a for a in master["completedapps"]}
    assert apps[app_id]["state"] == "FINISHED" and apps[app_id]["name"] == "sparkjobs:e2e_cluster_job"
    assert master["aliveworkers"] == WORKERS
    for ui in cluster.worker_webuis:
        worker = eventually(f"{ui}/json/", lambda w: bool(w["finishedexecutors"]) and not w["executors"])
        assert [e["appid"] for e in worker["finishedexecutors"]] == [app_id]


def test_spark_submit_usage_error_exits_2_with_the_venv_package(cluster: Cluster, tmp_path: Path) -> None:
    """No --py-files: the file imports sparkjobs from the venv; a misspelled parameter is exit code 2."""
    (tmp_path / "conf").mkdir()
    code, out, err = spark_submit(
        cluster, ["--job", "hello_spark", "--rowz", "5", "--conf_dir", str(tmp_path / "conf")], cwd=tmp_path
    )
    assert code == 2, (out + err)[-3000:]
    assert "unknown parameter 'jobs.hello_spark.rowz' (did you mean 'rows'?)" in out
    assert result_line(out) is None
