"""AWS Glue bookmarks: ``Job.init``/``Job.commit`` around the run where ``awsglue`` imports, else refused.

A **contract test**: ``fake_awsglue/awsglue`` is a stand-in that mirrors the signatures of Glue's
``getResolvedOptions``, ``GlueContext`` and ``Job`` and records the calls; it is put on ``sys.path``
by the ``awsglue`` fixture only. Nothing here ran on AWS Glue. The SparkSession is a stand-in too
(``build_session`` patched), so no JVM starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sparkjobs.engines import session as session_module  # the session factory calls build_session
from sparkjobs.entrypoints import glue
from sparkjobs.entrypoints.launcher import run_entrypoint
from sparkjobs.entrypoints.render import render
from sparkjobs.executor import RunRequest

FAKE_AWSGLUE = Path(__file__).parent / "fake_awsglue"

#: a job that notes, in the stand-in's call log, that it ran and what Glue objects it was given
PROBE_JOB = '''
"""Record the run among the Glue calls; fail on request."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Config(BaseModel):
    fail: bool = False

class J(AbstractJob):
    def __init__(self, config, context):
        self.config, self.context = config, context
    def execute_job(self, **kwargs: Any) -> Any:
        import sys
        extras = self.context.extras
        glue_context = extras.get("glue_context")
        awsglue = sys.modules.get("awsglue")
        if awsglue is not None:
            awsglue.CALLS.append(("job ran", type(glue_context).__name__))
        if self.config.fail:
            raise RuntimeError("the job failed on request")
        glue_job = extras.get("glue_job")
        return {"glue_context": type(glue_context).__name__, "glue_job": type(glue_job).__name__}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Config]):
    config_model = Config
    def create_job(self, **kwargs: Any) -> J:
        return J(self.config, self.context)

main = make_main(F)
'''


class FakeSparkContext:
    """What ``GlueContext`` is built on."""


class FakeSession:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.sparkContext = FakeSparkContext()
        self.log = log

    def stop(self) -> None:
        self.log.append(("session.stop", None))


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SPARKJOBS"):
            monkeypatch.delenv(key)
    job_dir("acme.jobs.glue_probe", PROBE_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def awsglue(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The stand-in ``awsglue`` on sys.path, for this test only; a fake SparkSession logging its stop."""
    monkeypatch.syspath_prepend(str(FAKE_AWSGLUE))
    importlib.invalidate_caches()
    module = importlib.import_module("awsglue")
    module.CALLS.clear()
    module.FAIL.clear()
    monkeypatch.setattr(session_module, "build_session", lambda *a, **k: (FakeSession(module.CALLS), True))
    yield module
    for name in [m for m in sys.modules if m == "awsglue" or m.startswith("awsglue.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _run(argv: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_entrypoint(argv, glue.PLATFORM, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    return code, (json.loads(lines[-1]) if code == 0 and lines else None), err.getvalue()


def _glue_args(conf: Path, *params: str) -> list[str]:
    """What Glue passes: its own arguments, then the job's rendered ones (which contain --module_name)."""
    request = RunRequest(job="acme.jobs.glue_probe", conf_dir=conf, params=params)
    return [
        "--JOB_NAME", "nightly", "--JOB_RUN_ID", "jr_42", "--job-bookmark-option", "job-bookmark-enable",
        "--TempDir", "s3://tmp/glue", "--enable-metrics", "",
        *render("glue", request).app_args(),
    ]  # fmt: skip


def test_on_glue_the_run_is_wrapped_in_job_init_and_commit(conf: Path, awsglue: ModuleType) -> None:
    code, line, err = _run(_glue_args(conf))
    assert code == 0, err
    assert line is not None
    assert (line["run_id"], line["result"]) == ("jr_42", {"glue_context": "GlueContext", "glue_job": "Job"})
    calls = awsglue.CALLS
    assert [what for what, _ in calls] == [
        "getResolvedOptions", "GlueContext", "Job", "Job.init", "job ran", "Job.commit", "session.stop",
    ]  # fmt: skip
    argv, options = calls[0][1]
    # only Glue's own arguments reach Glue's parser (its argparse would read --job as --job-bookmark-option)
    assert argv == [
        "glue", "--JOB_NAME", "nightly", "--JOB_RUN_ID", "jr_42",
        "--job-bookmark-option", "job-bookmark-enable", "--TempDir", "s3://tmp/glue", "--enable-metrics", "",
    ]  # fmt: skip
    assert options == ["JOB_NAME"]
    assert isinstance(calls[1][1], FakeSparkContext)  # GlueContext(spark.sparkContext)
    job_name, resolved = calls[3][1]
    assert job_name == "nightly"
    assert resolved == {
        "JOB_NAME": "nightly",
        "JOB_ID": None,
        "JOB_RUN_ID": "jr_42",
        "SECURITY_CONFIGURATION": None,
        "job_bookmark_option": "job-bookmark-enable",
    }


def test_a_failed_run_is_not_committed_and_the_session_still_closes(conf: Path, awsglue: ModuleType) -> None:
    code, _, err = _run(_glue_args(conf, "fail=true"))
    assert code == 1
    assert "the job failed on request" in err
    assert [what for what, _ in awsglue.CALLS][-3:] == ["Job.init", "job ran", "session.stop"]


def test_a_failed_commit_says_the_bookmark_did_not_advance(conf: Path, awsglue: ModuleType) -> None:
    awsglue.FAIL["commit"] = "throttled by the Glue API"
    code, _, err = _run(_glue_args(conf))
    assert code == 1
    assert "AWS Glue job.commit() failed for 'nightly': throttled by the Glue API" in err
    assert "the bookmark did not advance" in err
    assert [what for what, _ in awsglue.CALLS][-2:] == ["Job.commit", "session.stop"]


def test_a_failed_init_runs_nothing(conf: Path, awsglue: ModuleType) -> None:
    awsglue.FAIL["init"] = "no bookmark table"
    code, _, err = _run(_glue_args(conf))
    assert code == 1
    assert "AWS Glue job.init() failed for 'nightly': no bookmark table" in err
    assert "job ran" not in [what for what, _ in awsglue.CALLS]
    assert awsglue.CALLS[-1] == ("session.stop", None)


def test_glue_without_job_name_is_a_usage_error(conf: Path, awsglue: ModuleType) -> None:
    code, _, err = _run(["--module_name", "acme.jobs.glue_probe", "--conf_dir", str(conf)])
    assert code == 2
    assert "--JOB_NAME is missing" in err
    assert awsglue.CALLS == []


def test_a_python_shell_run_has_no_glue_context(conf: Path, awsglue: ModuleType) -> None:
    argv = ["--JOB_NAME", "shell", "--module_name", "acme.jobs.glue_probe", "--has_spark", "false"]
    code, line, err = _run([*argv, "--conf_dir", str(conf)])
    assert code == 0, err
    assert line is not None and line["result"] == {"glue_context": "NoneType", "glue_job": "NoneType"}
    assert awsglue.CALLS == [("job ran", "NoneType")]  # no Glue call at all
    code, _, err = _run([*argv, "--job-bookmark-option", "job-bookmark-enable", "--conf_dir", str(conf)])
    assert code == 2
    assert "needs a GlueContext, which needs Spark; this run has has_spark=false" in err


# -- where awsglue does not import (everywhere but Glue) -------------------------------------------
def test_this_python_has_no_real_awsglue() -> None:
    """The refusal tests below rely on it; a real awsglue here would make them test Glue instead."""
    assert importlib.util.find_spec("awsglue") is None


@pytest.mark.parametrize(
    "glue_args",
    [
        ["--job-bookmark-option", "job-bookmark-enable"],
        ["--job-bookmark-option", "job-bookmark-pause", "--job-bookmark-from", "1", "--job-bookmark-to", "2"],
        ["--continuation-option", "continuation-enabled"],
        ["--job-bookmark-option=job-bookmark-enable", "--dry_run"],
    ],
)
def test_bookmarks_are_refused_without_awsglue(conf: Path, glue_args: list[str]) -> None:
    argv = ["--JOB_NAME", "nightly", *glue_args, "--module_name", "acme.jobs.glue_probe", "--no_spark"]
    code, _, err = _run([*argv, "--conf_dir", str(conf)])
    assert code == 2
    assert "needs AWS Glue's job bookmarks, but this Python cannot import awsglue" in err
    assert "bookmarks are not ignored silently" in err
    assert f"--{glue_args[0].lstrip('-').split('=')[0]}" in err


@pytest.mark.parametrize(
    "glue_args",
    [["--job-bookmark-option", "job-bookmark-disable"], ["--continuation-option", "continuation-ignore"], []],
)
def test_options_that_ask_for_no_state_run_without_awsglue(conf: Path, glue_args: list[str]) -> None:
    argv = ["--JOB_NAME", "nightly", *glue_args, "--module_name", "acme.jobs.glue_probe", "--no_spark"]
    code, line, err = _run([*argv, "--conf_dir", str(conf)])
    assert code == 0, err
    assert line is not None and line["result"] == {"glue_context": "NoneType", "glue_job": "NoneType"}


def test_a_bookmark_value_glue_does_not_know_is_refused(conf: Path) -> None:
    argv = ["--job-bookmark-option", "job-bookmark-on", "--module_name", "acme.jobs.glue_probe"]
    code, _, err = _run([*argv, "--conf_dir", str(conf)])
    assert code == 2
    assert (
        "--job-bookmark-option 'job-bookmark-on' is not a Glue value; choose one of: job-bookmark-enable"
        in err
    )
