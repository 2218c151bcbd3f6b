"""PostgreSQL restarted in the middle of a serving load (issue 9), on a cluster of the test's own.

A private cluster (``initdb`` + ``pg_ctl`` on a free port, never the shared server on 5432) is
restarted while a snapshot load streams its second table. The load's connection dies, the retry
policy replays the load once the server is back, and the store ends with the new snapshot
complete; between the restart and the retried commit, readers see the previous snapshot whole.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from sparkjobs.resilience import RetryPolicy, is_retryable
from sparkjobs.serving.stores import SnapshotStore, StoreSettings, open_store
from tests.framework.postgres.test_stores import (
    DAY_A,
    DAY_B,
    SCORES_A,
    TABLES,
    rows,
    scores_a,
    scores_b,
    users_a,
    users_b,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OwnServer:
    bindir: Path
    data: Path
    port: int
    as_postgres: bool

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.data.parent / "log"), "-w"]
        cmd += [*args, "-o", options]
        if self.as_postgres:  # PostgreSQL refuses to run as root
            cmd = ["su", "postgres", "-c", " ".join(f"'{c}'" for c in cmd)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        if IN_CI:
            pytest.fail("initdb not found in CI (Debian package postgresql)")
        pytest.skip("initdb not found (install the postgresql server package)")
    bindir = Path(found[-1]).parent
    root = os.geteuid() == 0
    # pytest's tmp folders are private to root; the server's user must reach its data folder
    home = Path(tempfile.mkdtemp(prefix="sparkjobs-pg-")) if root else tmp_path / "pg"
    home.mkdir(exist_ok=True)
    if root:
        os.chmod(home, 0o755)
        shutil.chown(home, "postgres")
    init = [str(bindir / "initdb"), "-D", str(home / "data"), "-A", "trust", "-U", "postgres"]
    if root:
        init = ["su", "postgres", "-c", " ".join(init)]
    subprocess.run(init, check=True, capture_output=True, timeout=120)
    server = OwnServer(bindir, home / "data", _free_port(), as_postgres=root)
    server.ctl("start")
    try:
        yield server
    finally:
        server.ctl("stop", "-m", "immediate")
        if root:
            shutil.rmtree(home, ignore_errors=True)


def test_a_server_restart_mid_load_is_retried_and_readers_keep_the_old_snapshot(
    own_server: OwnServer,
) -> None:
    store: SnapshotStore = open_store(
        StoreSettings(url=own_server.dsn, db_schema="serving", connect_timeout_s=2),
        TABLES,
        retry=RetryPolicy(max_attempts=6, initial_delay_s=0.5, max_delay_s=2).executor(),
        is_transient=is_retryable,
    )
    with store:
        store.load_snapshot({"users": users_a(), "scores": scores_a()}, snapshot_date=DAY_A, run_id="run-a")
        attempts = [0]
        seen_between: list[list[dict[str, object]]] = []
        restarted = threading.Event()

        def scores_with_a_restart() -> Iterator[pa.RecordBatch]:
            attempts[0] += 1
            yield from scores_b().to_batches()
            if attempts[0] == 1:  # the server goes away while this attempt's transaction is open
                own_server.ctl("restart", "-m", "fast")
                seen_between.append(rows(store, "scores"))  # back up, the load not yet committed
                restarted.set()
                time.sleep(0.2)
                yield from scores_b().to_batches()

        result = store.load_snapshot(
            {"users": users_b(), "scores": scores_with_a_restart}, snapshot_date=DAY_B, run_id="run-b"
        )
        assert restarted.is_set() and result.attempts >= 2 and attempts[0] == result.attempts
        assert seen_between == [SCORES_A]  # readers saw the previous snapshot, whole
        assert rows(store, "scores") == [{"user_id": 3, "rank": 1, "item": 400, "score": 0.75}]
        assert store.served_snapshot().run_id == "run-b"  # type: ignore[union-attr]
