"""sparkjobs.testing.run_job without Spark: the real executor, the test's layers, the run report in tmp."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sparkjobs.errors import ConfigError, JobFailedError
from sparkjobs.testing import run_job
from tests.framework.conftest import MODEL_JOB


@pytest.fixture
def square(job_dir: Callable[[str, str], Path], tmp_path: Path) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "dev").mkdir()
    (conf / "base" / "jobs.yml").write_text("jobs:\n  square:\n    n: 3\n    label: base\n")
    (conf / "dev" / "jobs.yml").write_text("jobs:\n  square:\n    label: dev\n")
    return conf


def test_run_job_returns_the_result_and_the_report_written_under_tmp(square: Path, tmp_path: Path) -> None:
    run = run_job(
        "acme.jobs.square", {"n": 4}, tmp_path=tmp_path / "t", conf_dir=square, has_spark=False,
        event_date="2024-01-31",
    )  # fmt: skip
    assert run.result == {"square": 16, "label": "dev"}  # n from params, label from conf/dev over conf/base
    assert run.succeeded and run.error is None
    assert run.runs_dir == tmp_path / "t" / "runs"
    assert run.report_path == run.runs_dir / f"{run.run_id}.json"
    report = run.report
    assert (report["job"], report["status"], report["event_date"], report["env"]) == (
        "square", "succeeded", "2024-01-31", "dev"
    )  # fmt: skip
    assert (report["params"]["n"], report["params"]["label"]) == (4, "dev")
    assert (run.runs_dir / "sparkjobs_square.prom").is_file()


def test_run_job_with_check_false_returns_the_failure_and_its_report(square: Path, tmp_path: Path) -> None:
    run = run_job(
        "acme.jobs.square", {"n": -2}, tmp_path=tmp_path, conf_dir=square, has_spark=False, check=False
    )
    assert run.result is None and not run.succeeded
    assert isinstance(run.error, JobFailedError) and "negative n -2" in str(run.error)
    assert run.report["status"] == "failed"
    assert (run.report["error"]["type"], run.report["error"]["message"]) == ("ValueError", "negative n -2")


def test_run_job_raises_a_failure_by_default(square: Path, tmp_path: Path) -> None:
    with pytest.raises(JobFailedError, match="negative n -5"):
        run_job("acme.jobs.square", {"n": -5}, tmp_path=tmp_path, conf_dir=square, has_spark=False)
    (report,) = (tmp_path / "runs").glob("*.json")  # written before the error reached the test
    assert '"status": "failed"' in report.read_text()


def test_a_bad_parameter_names_run_job_as_its_source(square: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        run_job("acme.jobs.square", {"nn": 4}, tmp_path=tmp_path, conf_dir=square, has_spark=False)
    assert "unknown parameter 'jobs.square.nn' (did you mean 'n'" in str(info.value)
    assert "from run_job(params=...)" in str(info.value)


def test_run_job_reads_no_environment_variable_unless_given(
    square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKJOBS__JOBS__SQUARE__N", "5")
    monkeypatch.setenv("SPARKJOBS_ENV", "prod")  # conf/prod does not exist: read, it would fail
    quiet = run_job("acme.jobs.square", tmp_path=tmp_path, conf_dir=square, has_spark=False)
    assert quiet.result == {"square": 9, "label": "dev"}  # n: 3 from conf/base
    given = run_job(
        "acme.jobs.square", tmp_path=tmp_path, conf_dir=square, has_spark=False,
        environ={"SPARKJOBS__JOBS__SQUARE__N": "5"},
    )  # fmt: skip
    assert given.result == {"square": 25, "label": "dev"}


def test_a_report_that_could_not_be_written_is_an_error_naming_the_runs_dir(
    square: Path, tmp_path: Path
) -> None:
    (tmp_path / "runs").write_text("a file where the runs directory should be")
    with pytest.raises(
        RuntimeError, match=r"the run report was not written under .*runs: .*report: FileExistsError"
    ):
        run_job("acme.jobs.square", {"n": 2}, tmp_path=tmp_path, conf_dir=square, has_spark=False)
