"""The README's example job runs as written (STYLE #14: README examples are tested)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.errors import ConfigError
from sparkjobs.executor import RunRequest, execute, prepare

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.spark


def readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- readme-example: {name} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"README has no example block {name!r}"
    return match.group(1)


@pytest.fixture
def readme_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    pkg = tmp_path / "site" / "myproject" / "jobs"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").touch()
    (pkg / "__init__.py").touch()
    (pkg / "daily_totals.py").write_text(readme_block("daily_totals"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    yield "myproject.jobs.daily_totals"
    for mod in [m for m in sys.modules if m.startswith("myproject")]:
        del sys.modules[mod]


def test_readme_example_job_runs_and_reruns_idempotently(spark: Any, readme_job: str, tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("customer,amount\nann,10\nbob,5\nann,2.5\ncid,0.5\n")
    out = tmp_path / "totals"

    def run(day: str, min_amount: str) -> Any:
        request = RunRequest(
            job=readme_job,
            conf_dir=tmp_path,
            event_date=day,
            params=[f"input_path={sales}", f"output_path={out}", f"min_amount={min_amount}"],
        )
        return execute(prepare(request, {}))

    assert run("2024-01-31", "1") == {"customers": 2}
    assert run("2024-02-01", "0") == {"customers": 3}
    assert run("2024-01-31", "0") == {"customers": 3}  # rerun replaces only 2024-01-31
    rows = sorted((str(r.event_date), r.customer, r.total) for r in spark.read.parquet(str(out)).collect())
    assert rows == [
        ("2024-01-31", "ann", 12.5),
        ("2024-01-31", "bob", 5.0),
        ("2024-01-31", "cid", 0.5),
        ("2024-02-01", "ann", 12.5),
        ("2024-02-01", "bob", 5.0),
        ("2024-02-01", "cid", 0.5),
    ]


def test_readme_example_bad_params_error(readme_job: str, tmp_path: Path) -> None:
    request = RunRequest(job=readme_job, conf_dir=tmp_path, params=["input_path=x.csv", "output_pth=x"])
    with pytest.raises(ConfigError) as info:
        prepare(request, {})
    msg = str(info.value)
    assert "missing required parameter 'jobs.daily_totals.output_path'" in msg
    assert "unknown parameter 'jobs.daily_totals.output_pth' (did you mean 'output_path'" in msg
