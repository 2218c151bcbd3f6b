"""The sparkjobs pytest plugin (entry point ``pytest11``): a session-scoped ``spark`` fixture.

Loaded automatically once sparkjobs is installed. The session is built once per test run with
:func:`sparkjobs.testing.spark_settings_for_tests` (``local[2]``, 2 shuffle partitions, UI and
progress bar off) and stopped at the end; jobs run through :func:`sparkjobs.testing.run_job`
reuse it. A project that defines its own ``spark`` fixture overrides this one (pytest's usual
rule), so only one JVM starts. Disable the plugin with ``-p no:sparkjobs.testing.plugin``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The one SparkSession of the test run (reused if one is already active; stopped only if
    this fixture started it)."""
    from sparkjobs.spark.session import build_session
    from sparkjobs.testing import spark_settings_for_tests

    # process set-up for the JVM and its Python workers: UDFs run this interpreter, on loopback
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session, created = build_session(spark_settings_for_tests())
    yield session
    if created:
        session.stop()
