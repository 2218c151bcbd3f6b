"""Shared fixtures. One SparkSession for the whole test session; PostgreSQL from SPARKJOBS_TEST_PG_DSN.

Tiers (markers): unit (no marker: no JVM, no database), ``spark``, ``postgres``, ``e2e``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# process set-up for the JVM and its Python workers (UDFs must run this interpreter, with pyarrow)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def _test_spark_settings() -> object:
    from sparkjobs.spark.settings import SparkSettings

    return SparkSettings(
        app_name="sparkjobs-tests",
        master="local[2]",
        shuffle_partitions=2,
        ui_enabled=False,
        conf={
            "spark.default.parallelism": "2",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.adaptive.coalescePartitions.enabled": "false",
        },
    )


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The one SparkSession of the test run, built by our own session factory."""
    from sparkjobs.spark.session import build_session

    session, created = build_session(_test_spark_settings())  # type: ignore[arg-type]
    yield session
    if created:
        session.stop()


@pytest.fixture(autouse=True)
def _restore_spark_sql_conf(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every Spark test runs on the shared session (started first, so that no job builds and stops
    a JVM of its own). Jobs apply their own spark.sql.* settings to it; put the suite's back after
    each test so that tests do not depend on their order (and stay on 2 shuffle partitions)."""
    if request.node.get_closest_marker("spark") is None:
        yield
        return
    request.getfixturevalue("spark")
    yield
    from sparkjobs.spark.session import build_session

    build_session(_test_spark_settings())  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the test PostgreSQL. In CI a missing DSN or server is a failure, never a skip."""
    dsn = os.environ.get("SPARKJOBS_TEST_PG_DSN")
    if not dsn:
        if IN_CI:
            pytest.fail("SPARKJOBS_TEST_PG_DSN is not set in CI; .ci/run must export it")
        pytest.skip("SPARKJOBS_TEST_PG_DSN not set (export it to run the postgres tier)")
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("select 1")
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at SPARKJOBS_TEST_PG_DSN is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return dsn


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the cheap tiers first: unit → spark → postgres → e2e (one JVM, started once)."""
    order = {"unit": 0, "spark": 1, "postgres": 2, "e2e": 3}

    def tier(item: pytest.Item) -> int:
        marks = {m.name for m in item.iter_markers()}
        return max((order[m] for m in marks if m in order), default=0)

    items.sort(key=tier)
