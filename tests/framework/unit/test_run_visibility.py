"""What a run tells about itself: a "started" line, its result and log file in the report, one log
file per run next to its report, and ``config show`` on a partial config."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.errors import JobFailedError
from sparkjobs.executor import RunRequest, execute, prepare
from sparkjobs.observability.logging import configure_logging
from tests.framework.conftest import MODEL_JOB

REQUIRED_JOB = '''
"""A job with two required keys, one of them nested."""
from typing import Any

from pydantic import BaseModel

from sparkjobs import AbstractJob, AbstractJobFactory, make_main


class Source(BaseModel):
    path: str
    format: str = "csv"


class Config(BaseModel):
    source: Source
    top_n: int
    label: str = "x"


class NeedsJob(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        return kwargs

    def on_success(self, result: Any) -> None:
        return None

    def on_failure(self, error_message: str) -> None:
        return None


class NeedsFactory(AbstractJobFactory[Config]):
    config_model = Config

    def create_job(self, **kwargs: Any) -> NeedsJob:
        return NeedsJob()


main = make_main(NeedsFactory)
'''


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "base" / "jobs.yml").write_text(
        f"jobs:\n  square:\n    label: base\n    password: hunter2secret\n"
        f"observability:\n  runs_dir: {tmp_path / 'runs'}\n"
    )
    return root


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[Path]:
    """The CLI's logging set-up (JSON lines) into a file; handlers restored afterwards."""
    trees = [logging.getLogger(n) for n in ("sparkjobs", "recommendations")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in trees]
    target = tmp_path / "stderr.jsonl"
    with target.open("w") as stream:
        configure_logging("json", "INFO", stream)
        yield target
    for lg, (handlers, level, propagate) in zip(trees, saved, strict=True):
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def test_every_run_logs_a_started_line_and_reports_its_result_and_log_file(
    conf: Path, tmp_path: Path, json_logs: Path
) -> None:
    prepared = prepare(RunRequest(job="acme.jobs.square", conf_dir=conf, has_spark=False, params=["n=5"]), {})
    assert execute(prepared) == {"square": 25, "label": "base"}
    run_id = prepared.context.run_id
    lines = [json.loads(line) for line in json_logs.read_text().splitlines()]
    started = [entry for entry in lines if entry["message"].startswith("job square started")]
    assert len(started) == 1 and started[0]["run_id"] == run_id
    assert "event date" in started[0]["message"]
    report = json.loads((tmp_path / "runs" / f"{run_id}.json").read_text())
    assert report["result"] == {"square": 25, "label": "base"}
    log_file = tmp_path / "runs" / f"{run_id}.log"
    assert report["artifacts"]["log_file"] == str(log_file)
    own = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert own[0]["message"].startswith("job square started")
    assert {entry["run_id"] for entry in own} == {run_id}
    assert "hunter2secret" not in log_file.read_text()


def test_two_runs_get_two_log_files_and_a_failed_run_keeps_its_lines(
    conf: Path, tmp_path: Path, json_logs: Path
) -> None:
    ok = prepare(RunRequest(job="acme.jobs.square", conf_dir=conf, has_spark=False, params=["n=2"]), {})
    bad = prepare(RunRequest(job="acme.jobs.square", conf_dir=conf, has_spark=False, params=["n=-1"]), {})
    execute(ok)
    with pytest.raises(JobFailedError):
        execute(bad)
    ok_lines = (tmp_path / "runs" / f"{ok.context.run_id}.log").read_text()
    bad_lines = (tmp_path / "runs" / f"{bad.context.run_id}.log").read_text()
    assert bad.context.run_id not in ok_lines and ok.context.run_id not in bad_lines
    assert "negative n -1" in bad_lines
    report = json.loads((tmp_path / "runs" / f"{bad.context.run_id}.json").read_text())
    assert report["result"] is None and report["status"] == "failed"


def test_config_show_marks_the_missing_keys_instead_of_refusing(
    tmp_path: Path, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("acme.jobs.needs", REQUIRED_JOB)
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "jobs.yml").write_text("jobs:\n  needs:\n    label: mine\n")
    result = CliRunner().invoke(
        cli, ["config", "show", "acme.jobs.needs", "--conf-dir", str(tmp_path / "conf"), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    rows = {row["key"]: (row["value"], row["source"]) for row in json.loads(result.stdout)}
    assert rows["jobs.needs.label"] == ("mine", str(tmp_path / "conf" / "base" / "jobs.yml"))
    assert rows["jobs.needs.top_n"] == ("<missing>", "required: set it in conf/ or with -p")
    assert rows["jobs.needs.source"] == ("<missing>", "required: set it in conf/ or with -p")
    assert "2 required key(s) not set: jobs.needs.source, jobs.needs.top_n" in result.stderr
    bad = CliRunner().invoke(
        cli, ["config", "show", "acme.jobs.needs", "--conf-dir", str(tmp_path / "conf"), "-p", "top_n=x"]
    )
    assert bad.exit_code == 2  # a wrong value is still an error, not a partial config


def test_a_result_json_cannot_hold_is_kept_as_its_text() -> None:
    from sparkjobs.context import JobContext

    observer = JobContext(job_name="x").observer
    observer.record_result({"rows": 3, "when": Path("/lake/x")})
    assert observer.result == {"rows": 3, "when": "/lake/x"}
    observer.record_result({"ratio": float("nan")})
    assert observer.result == "{'ratio': nan}"
