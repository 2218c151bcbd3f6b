"""End to end through real processes: ``sparkjobs run load_recommendations`` → PostgreSQL →
``sparkjobs serve recommendations`` (uvicorn on 127.0.0.1) → httpx.

Expected answers are written by hand from the gold snapshots this file writes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommendations.store import RecommendationStore
from sparkjobs.serving.stores import SnapshotLoadError, StoreSettings

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[3]
DAY_1, DAY_2, DAY_BAD = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)
DAY_NEW = date(2024, 5, 4)  # a sequel title AND other neighbours: an answer mixing two snapshots shows


def sparkjobs_cmd() -> list[str]:
    script = Path(sys.executable).with_name("sparkjobs")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sparkjobs.cli"]


def write_gold(
    root: Path, day: date, *, sequel: bool = False, duplicate_rank: bool = False, regrouped: bool = False
) -> None:
    i32 = pa.int32()
    titles = [
        "Toy Story 2 (1999)" if sequel else "Toy Story (1995)",
        "Heat (1995)",
        "Alien (1979)",
        "Up (2009)",
    ]
    recs = {"user_id": [7, 7, 8], "item_id": [3, 2, 4], "score": [0.9, 0.4, 0.6], "rank": [1, 2, 1]}
    if duplicate_rank:  # a broken build: two rows for (user 7, rank 1)
        recs = {"user_id": [7, 7, 8], "item_id": [3, 2, 4], "score": [0.9, 0.4, 0.6], "rank": [1, 1, 1]}
    tables = {
        "items": pa.table(
            {
                "item_id": pa.array([1, 2, 3, 4], i32),
                "title": titles,
                "year": pa.array([1995, 1995, 1979, 2009], i32),
                "genres": ["Animation", "Action", "Sci-Fi", "Animation"],
            }
        ),
        "recommendations": pa.table(
            {
                "user_id": pa.array(recs["user_id"], i32),
                "item_id": pa.array(recs["item_id"], i32),
                "score": recs["score"],
                "rank": pa.array(recs["rank"], i32),
                "source": ["item_knn"] * 3,
            }
        ),
        "similar_items": pa.table(
            {
                "item_id": pa.array([1] if regrouped else [1, 1], i32),
                "similar_item_id": pa.array([2] if regrouped else [4, 3], i32),
                "score": [0.5] if regrouped else [0.8, 0.2],
                "rank": pa.array([1] if regrouped else [1, 2], i32),
            }
        ),
        "popular_items": pa.table(
            {
                "item_id": pa.array([2, 1], i32),
                "score": [50.0, 40.0],
                "rank": pa.array([1, 2], i32),
            }
        ),
    }
    for name, table in tables.items():
        part = root / name / f"snapshot_date={day.isoformat()}"
        part.mkdir(parents=True)
        pq.write_table(table, part / "part-00000.parquet")


@dataclass
class Serving:
    url: str
    schema: str
    config: Path
    gold: Path
    base_url: str
    log: Path

    def load(self, day: date) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *sparkjobs_cmd(),
                "run",
                "load_recommendations",
                "--no-spark",
                "--conf-dir",
                str(ROOT / "conf"),
                "--config",
                str(self.config),
                "--event-date",
                day.isoformat(),
                "-p",
                f"gold_path={self.gold}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=child_env(),
        )


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS__")}
    env["SPARKJOBS_ENV"] = "dev"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serving(pg_dsn: str, tmp_path: Path) -> Iterator[Serving]:
    schema = f"t_e2e_{uuid.uuid4().hex[:10]}"
    config = tmp_path / "serving-e2e.yml"
    config.write_text(
        f"observability: {{runs_dir: '{tmp_path / 'runs'}'}}\n"
        "jobs:\n  load_recommendations:\n"
        f"    store: {{url: '{pg_dsn}', db_schema: {schema}}}\n"
        "    retry: {max_attempts: 1}\n"
        "services:\n  recommendations:\n"
        f"    store: {{url: '{pg_dsn}', db_schema: {schema}, pool_timeout_s: 2}}\n"
        "    server: {access_log: false}\n"
    )
    gold = tmp_path / "gold"
    write_gold(gold, DAY_1)
    write_gold(gold, DAY_2, sequel=True)
    write_gold(gold, DAY_BAD, duplicate_rank=True)
    write_gold(gold, DAY_NEW, sequel=True, regrouped=True)
    port = free_port()
    log = tmp_path / "server.log"
    serving = Serving(pg_dsn, schema, config, gold, f"http://127.0.0.1:{port}", log)
    first = serving.load(DAY_1)
    assert first.returncode == 0, first.stderr
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *sparkjobs_cmd(),
                "serve",
                "recommendations",
                "--conf-dir",
                str(ROOT / "conf"),
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=tmp_path,
        )
    try:
        wait_until_listening(serving.base_url, proc, log)
        yield serving
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
        import psycopg

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert code in (0, -signal.SIGTERM), log.read_text()  # uvicorn re-raises SIGTERM after draining
    assert "Application shutdown complete" in log.read_text()


def wait_until_listening(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"{base_url}/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not listen within 60 s:\n{log.read_text()}")


def test_loader_store_and_api_over_real_http(serving: Serving) -> None:
    with httpx.Client(base_url=serving.base_url, timeout=10) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["snapshot_date"] == "2024-05-01"
        assert health.json()["row_counts"] == {
            "items": 4,
            "recommendations": 3,
            "similar_items": 2,
            "popular_items": 2,
        }

        assert http.get("/recommendations/7").json() == {
            "user_id": 7,
            "fallback": False,
            "items": [
                {"item_id": 3, "title": "Alien (1979)", "score": 0.9, "rank": 1, "source": "item_knn"},
                {"item_id": 2, "title": "Heat (1995)", "score": 0.4, "rank": 2, "source": "item_knn"},
            ],
        }
        assert http.get("/recommendations/12345?limit=1").json() == {
            "user_id": 12345,
            "fallback": True,
            "items": [{"item_id": 2, "title": "Heat (1995)", "score": 50.0, "rank": 1, "source": "popular"}],
        }
        assert http.get("/items/1/similar").json() == {
            "item_id": 1,
            "title": "Toy Story (1995)",
            "items": [
                {"item_id": 4, "title": "Up (2009)", "score": 0.8, "rank": 1},
                {"item_id": 3, "title": "Alien (1979)", "score": 0.2, "rank": 2},
            ],
        }
        assert http.get("/items/99/similar").status_code == 404
        bad = http.get("/recommendations/seven?limit=1000")
        assert bad.status_code == 422
        assert {p["parameter"] for p in bad.json()["problems"]} == {"user_id", "limit"}
        metrics = http.get("/metrics").text
        assert 'recommendations_serving_rows{table="recommendations"} 3.0' in metrics
        assert "recommendations_api_fallbacks_total 1.0" in metrics


def test_32_clients_during_snapshot_swaps_get_no_error_and_never_a_mix(serving: Serving) -> None:
    """Issue 9: 32 clients hammer the API while new snapshots are loaded and swapped in. Every answer
    is 200 and comes wholly from one snapshot (title and neighbours of item 1 change together)."""
    import threading

    old = {"title": "Toy Story (1995)", "neighbours": [4, 3]}
    new = {"title": "Toy Story 2 (1999)", "neighbours": [2]}
    answers: list[tuple[int, dict[str, object] | None]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=serving.base_url, timeout=30) as http:
            while not stop.is_set():
                response = http.get("/items/1/similar")
                body = response.json() if response.status_code == 200 else None
                seen = (
                    {"title": body["title"], "neighbours": [i["item_id"] for i in body["items"]]}
                    if body
                    else None
                )
                answers.append((response.status_code, seen))

    threads = [threading.Thread(target=client) for _ in range(32)]
    for thread in threads:
        thread.start()
    try:
        for day in (DAY_NEW, DAY_1, DAY_NEW, DAY_1):
            done = serving.load(day)
            assert done.returncode == 0, done.stderr
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    statuses = {status for status, _ in answers}
    assert statuses == {200}, f"{len(answers)} answers, statuses {statuses}"
    mixed = [seen for _, seen in answers if seen not in (old, new)]
    assert not mixed, f"{len(mixed)} of {len(answers)} answers mix two snapshots, e.g. {mixed[0]}"
    assert {str(seen) for _, seen in answers} == {str(old), str(new)}  # both snapshots were served


def test_failed_loads_keep_serving_the_previous_snapshot(serving: Serving) -> None:
    with httpx.Client(base_url=serving.base_url, timeout=10) as http:
        before = http.get("/recommendations/7").json()

        # 1. a broken build (duplicate key) fails the job with a clear message and exit code 1
        failed = serving.load(DAY_BAD)
        assert failed.returncode == 1
        assert "previous snapshot is still served" in failed.stderr
        assert "load_recommendations" in failed.stderr
        health = http.get("/health")
        assert (health.status_code, health.json()["snapshot_date"]) == (200, "2024-05-01")
        assert http.get("/recommendations/7").json() == before

        # 2. the connection drops in the middle of the COPY while the API keeps serving
        settings = StoreSettings(
            url=serving.url, db_schema=serving.schema, application_name=f"e2e{uuid.uuid4().hex[:6]}"
        )
        with RecommendationStore.open(settings) as store:
            with pytest.raises(SnapshotLoadError) as info:
                store.load_snapshot(
                    killed_mid_copy(serving, settings.application_name + ":load"),
                    snapshot_date=DAY_2,
                    run_id="killed",
                )
            assert (info.value.transient, info.value.phase) == (True, "copy")
        health = http.get("/health")
        assert (health.status_code, health.json()["snapshot_date"]) == (200, "2024-05-01")
        assert http.get("/recommendations/7").json() == before

        # 3. a good load is served at once, without restarting the API
        ok = serving.load(DAY_2)
        assert ok.returncode == 0, ok.stderr
        health = http.get("/health")
        assert (health.status_code, health.json()["snapshot_date"]) == (200, "2024-05-02")
        assert http.get("/items/1/similar").json()["title"] == "Toy Story 2 (1999)"


def killed_mid_copy(serving: Serving, application_name: str) -> dict[str, object]:
    import psycopg

    def items() -> Iterator[pa.RecordBatch]:
        table = pq.read_table(serving.gold / "items" / f"snapshot_date={DAY_2.isoformat()}")
        yield from table.to_batches()
        with psycopg.connect(serving.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            )
            deadline = time.monotonic() + 10
            while admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
            ).fetchone() != (0,):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        yield from table.to_batches()

    day = f"snapshot_date={DAY_2.isoformat()}"
    return {
        "items": items(),
        "recommendations": pq.read_table(serving.gold / "recommendations" / day),
        "similar_items": pq.read_table(serving.gold / "similar_items" / day),
        "popular_items": pq.read_table(serving.gold / "popular_items" / day),
    }


# -- the real MovieLens sample: sample_data → pipeline (Spark) → PostgreSQL → API ----------------------
ML_DAY = "2016-10-16"  # the last day of the MovieLens sample
ML_USER = 73  # hand-picked: 1,610 ratings, all inside the 10-year window, personal (item_knn) recommendations
ML_ITEM = 1  # Toy Story (1995)


def pg_dump(dsn: str, schema: str) -> dict[str, bytes]:
    import psycopg

    keys = {
        "items": "item_id",
        "recommendations": "user_id, rank",
        "similar_items": "item_id, rank",
        "popular_items": "item_id",
    }
    out = {}
    with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
        for table, key in keys.items():
            buf = bytearray()
            with conn.cursor().copy(f"COPY (SELECT * FROM {table} ORDER BY {key}) TO STDOUT") as copy:
                for block in copy:
                    buf += block
            out[table] = bytes(buf)
    return out


def test_movielens_pipeline_to_postgres_to_api(pg_dsn: str, tmp_path: Path) -> None:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    schema = f"t_e2e_ml_{uuid.uuid4().hex[:8]}"
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    config = tmp_path / "movielens.json"
    store = {"url": pg_dsn, "db_schema": schema}
    config.write_text(
        json.dumps(
            {
                "state": {"url": f"sqlite:///{tmp_path}/state/pipeline.db"},
                "observability": {"runs_dir": str(tmp_path / "runs")},
                "spark": {"master": "local[2]", "shuffle_partitions": 2, "ui_enabled": False},
                "jobs": {
                    "ingest_events": {
                        "raw_path": f"{raw}/events",
                        "bronze_path": f"{lake}/bronze/events",
                        "quarantine_path": f"{lake}/quarantine/events",
                    },
                    "build_recommendations": {
                        "bronze_path": f"{lake}/bronze/events",
                        "catalog_path": f"{raw}/catalog/movies.csv",
                        "silver_path": f"{lake}/silver",
                        "gold_path": f"{lake}/gold",
                        "catalog_quarantine_path": f"{lake}/quarantine/catalog",
                        "window_days": 3650,  # ten years: most users keep their whole history in the window
                    },
                    "load_recommendations": {"gold_path": f"{lake}/gold", "store": store},
                },
                "services": {"recommendations": {"store": store, "server": {"access_log": False}}},
            }
        )
    )
    env = {**child_env(), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    sample = subprocess.run(
        [sys.executable, "-m", "recommendations.sample_data", "--out", str(raw)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert sample.returncode == 0, sample.stderr

    def pipeline(mode: str) -> None:
        done = subprocess.run(
            [
                *sparkjobs_cmd(),
                "pipeline",
                "run",
                "recommendations_daily",
                "--mode",
                mode,
                "--date",
                ML_DAY,
                "--conf-dir",
                str(ROOT / "conf"),
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    port = free_port()
    log = tmp_path / "server.log"
    proc = None
    try:
        pipeline("initial_load")
        first_dump = pg_dump(pg_dsn, schema)
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    *sparkjobs_cmd(),
                    "serve",
                    "recommendations",
                    "--conf-dir",
                    str(ROOT / "conf"),
                    "--config",
                    str(config),
                    "--port",
                    str(port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=tmp_path,
            )
        base_url = f"http://127.0.0.1:{port}"
        wait_until_listening(base_url, proc, log)

        # expectations straight from the files: gold Parquet and the raw catalog and ratings
        gold = lake / "gold"
        part = f"snapshot_date={ML_DAY}"
        recs = ds.dataset(gold / "recommendations" / part).to_table()
        sims = ds.dataset(gold / "similar_items" / part).to_table()
        popular = ds.dataset(gold / "popular_items" / part).to_table().sort_by("rank")
        catalog = pacsv.read_csv(raw / "catalog" / "movies.csv")
        titles = dict(zip(catalog["item_id"].to_pylist(), catalog["title"].to_pylist(), strict=True))
        ratings = ds.dataset(raw / "events", format="csv", partitioning="hive").to_table(
            columns=["user_id", "item_id"], filter=pc.field("user_id") == ML_USER
        )
        rated = set(ratings["item_id"].to_pylist())
        assert len(rated) == 1610

        mine = pc.filter(recs, pc.equal(recs["user_id"], ML_USER)).sort_by("rank").to_pylist()
        expected_items = [
            {
                "item_id": r["item_id"],
                "title": titles[r["item_id"]],
                "score": r["score"],
                "rank": r["rank"],
                "source": r["source"],
            }
            for r in mine
        ]
        with httpx.Client(base_url=base_url, timeout=10) as http:
            health = http.get("/health").json()
            assert health["snapshot_date"] == ML_DAY
            assert health["row_counts"] == {
                name: ds.dataset(gold / name / part).count_rows()
                for name in ("items", "recommendations", "similar_items", "popular_items")
            }
            got = http.get(f"/recommendations/{ML_USER}?limit=100").json()
            assert got == {"user_id": ML_USER, "fallback": False, "items": expected_items}
            assert [i["rank"] for i in got["items"]] == list(range(1, 21))
            assert {i["item_id"] for i in got["items"]}.isdisjoint(rated)  # nothing the user already rated
            assert http.get(f"/recommendations/{ML_USER}?limit=5").json()["items"] == expected_items[:5]

            unknown = http.get("/recommendations/999999?limit=3").json()
            assert unknown == {
                "user_id": 999999,
                "fallback": True,
                "items": [
                    {
                        "item_id": r["item_id"],
                        "title": titles[r["item_id"]],
                        "score": r["score"],
                        "rank": r["rank"],
                        "source": "popular",
                    }
                    for r in popular.slice(0, 3).to_pylist()
                ],
            }
            neighbours = pc.filter(sims, pc.equal(sims["item_id"], ML_ITEM)).sort_by("rank").slice(0, 10)
            assert http.get(f"/items/{ML_ITEM}/similar").json() == {
                "item_id": ML_ITEM,
                "title": titles[ML_ITEM],
                "items": [
                    {
                        "item_id": r["similar_item_id"],
                        "title": titles[r["similar_item_id"]],
                        "score": r["score"],
                        "rank": r["rank"],
                    }
                    for r in neighbours.to_pylist()
                ],
            }

            # the same date again (incremental run: re-ingest the day, rebuild, reload) while serving
            pipeline("incremental")
            again = http.get("/health").json()
            assert again["snapshot_date"] == ML_DAY and again["run_id"] != health["run_id"]
            assert again["row_counts"] == health["row_counts"]
            assert http.get(f"/recommendations/{ML_USER}?limit=100").json() == got
        assert pg_dump(pg_dsn, schema) == first_dump  # byte for byte, no duplicates
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        import psycopg

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
