"""The plugin's `spark` fixture and run_job on it: one session, test settings, put back after a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkjobs.testing import run_job

pytestmark = pytest.mark.spark


def test_the_session_has_the_test_settings(spark: Any) -> None:
    conf = spark.conf
    assert spark.sparkContext.master == "local[2]"
    assert (conf.get("spark.sql.shuffle.partitions"), conf.get("spark.ui.enabled")) == ("2", "false")
    assert conf.get("spark.ui.showConsoleProgress") == "false"


def test_run_job_reuses_the_session_and_puts_its_settings_back(spark: Any, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "spark.yml").write_text(
        "spark:\n  session_time_zone: America/New_York\n  shuffle_partitions: 13\n"
    )
    out = tmp_path / "out"
    params = {"output_path": str(out), "rows": 100, "items": 5, "days": 2}
    run = run_job("hello_spark", params, event_date="2024-01-31", tmp_path=tmp_path, conf_dir=conf)
    # 100 ids over 5 items x 2 days: id mod 10 fixes both, so all 10 (day, item) pairs occur
    assert run.result == {"rows_in": 100, "rows_out": 10, "output_path": str(out)}
    assert run.report["status"] == "succeeded" and run.report["params"]["rows"] == 100
    assert spark.sparkContext._jsc is not None  # the job did not stop the shared session
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "event_date=2024-01-30",
        "event_date=2024-01-31",
    ]
