"""A pipeline step on Spark that times out has its Spark jobs cancelled; the shared session survives.

(The runner's other tests are pure Python: ``tests/framework/unit/test_pipeline_runner.py``, whose
``env`` fixture this file reuses.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.framework.unit.test_pipeline_runner import D1, Env, env

__all__ = ["env"]  # the fixture, imported so pytest finds it here

SLOW_SPARK_JOB = '''
"""A Spark action that takes ~25 s unless cancelled."""
import time
from pathlib import Path

def main(**kwargs):
    context = kwargs.pop("context")
    spark = context.spark
    Path(kwargs["started"]).touch()
    return spark.sparkContext.parallelize(range(1000), 2).map(lambda x: time.sleep(0.05) or x).count()
'''


def test_a_timed_out_spark_step_has_its_jobs_cancelled(
    env: Env, job_dir: Callable[[str, str], Path], spark: Any
) -> None:
    job_dir("spark_jobs_probe.slow", SLOW_SPARK_JOB)
    started = env.root / "started"
    steps = {"slow": {"job": "spark_jobs_probe.slow", "params": {"started": str(started)}, "has_spark": True,
                      "timeout_s": 4}}  # fmt: skip
    t0 = time.monotonic()
    outcome = env.runner(steps, cancel_grace_s=20).run(D1)
    elapsed = time.monotonic() - t0
    assert started.exists()
    assert outcome.error is not None
    assert outcome.error.startswith("step 'slow' timed out after 4s; its Spark jobs were cancelled")
    assert "still running" not in outcome.error  # the cancelled action returned within the grace period
    assert elapsed < 24  # far less than the uncancelled action needs (~25 s of sleeps on 2 cores)
    # the shared session outlives the step: the fixture's session still works
    assert spark.range(3).count() == 3
