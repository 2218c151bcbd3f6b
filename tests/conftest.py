"""Shared fixtures: one SparkSession for the whole run (sparkjobs.testing.plugin), the PostgreSQL DSN.

Tiers: the folder is the tier (``tests/<framework|app>/<unit|spark|postgres|e2e>/``) and gives each
test its marker: unit (no marker: no JVM, no database), ``spark``, ``postgres``, ``e2e``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The one SparkSession of the run is the `spark` fixture of sparkjobs' own pytest plugin (the one
# users get from the pytest11 entry point). Listed here too so the suite gets it from this
# checkout's sources even when the installed metadata predates the entry point; the entry point
# carries the module's name, so pytest registers the plugin once either way.
pytest_plugins = ("sparkjobs.testing.plugin",)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# process set-up for the JVM and its Python workers (UDFs must run this interpreter, with pyarrow)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


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
    from sparkjobs.testing import spark_session

    spark_session()  # the active session's spark.sql.* options back to the test settings


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


TIERS = ("unit", "spark", "postgres", "e2e")
#: tier markers a test may carry in each tier folder (e2e tests may need Spark and PostgreSQL too)
ALLOWED = {"unit": set(), "spark": {"spark"}, "postgres": {"postgres"}, "e2e": {"spark", "postgres", "e2e"}}


def folder_tier(item: pytest.Item) -> str:
    """``tests/<framework|app>/<tier>/...``: the folder is the tier."""
    parts = Path(str(item.path)).relative_to(ROOT / "tests").parts
    if len(parts) < 3 or parts[0] not in {"framework", "app"} or parts[1] not in TIERS:
        raise pytest.UsageError(f"{item.nodeid}: tests live in tests/<framework|app>/<{'|'.join(TIERS)}>/")
    return parts[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The folder gives every test its tier marker; a test whose own markers or fixtures need a
    heavier tier than its folder is an error (so ``-m "not spark and not postgres and not e2e"`` is
    exactly the unit folders). Then run the cheap tiers first: unit → spark → postgres → e2e."""
    wrong: list[str] = []
    for item in items:
        tier = folder_tier(item)
        own = {m.name for m in item.iter_markers() if m.name in TIERS}
        needs = own | ({"spark"} if "spark" in getattr(item, "fixturenames", ()) else set())
        needs |= {"postgres"} if "pg_dsn" in getattr(item, "fixturenames", ()) and tier == "unit" else set()
        if not needs <= ALLOWED[tier]:
            wrong.append(
                f"{item.nodeid}: needs {sorted(needs - ALLOWED[tier])} but lives in a {tier}/ folder"
            )
        if tier != "unit":
            item.add_marker(getattr(pytest.mark, tier))
    if wrong:
        raise pytest.UsageError("tests in the wrong tier folder:\n  " + "\n  ".join(wrong))
    order = {name: rank for rank, name in enumerate(TIERS)}
    items.sort(key=lambda item: order[folder_tier(item)])
