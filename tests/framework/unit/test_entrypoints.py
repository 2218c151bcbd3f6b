"""Platform entry points: each argument style → RunRequest → the executor, on a pure-Python job (no JVM)."""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.entrypoints import container, databricks, glue, spark_submit
from sparkjobs.entrypoints.arguments import Platform, json_flag_names_job, parse_args, tokenize
from sparkjobs.entrypoints.launcher import run_entrypoint, script_main
from sparkjobs.entrypoints.pyfiles import build_pyfiles
from sparkjobs.errors import ConfigError, UsageError
from tests.framework.conftest import PORTED_JOB

ROOT = Path(__file__).resolve().parents[3]

#: a pure-Python job that reports its parameters and the context the entry point injected
CONTEXT_JOB = '''
"""Report parameters and the injected context (pure Python, never touches Spark)."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Config(BaseModel):
    rows: int = 1
    label: str = "x"
    ratio: float = 0.5

class ContextJob(AbstractJob):
    def __init__(self, config, context):
        self.config, self.context = config, context

    def execute_job(self, **kwargs: Any) -> Any:
        if self.config.label == "boom":
            raise RuntimeError("boom requested")
        ctx = self.context
        spark = ctx.settings.spark
        return {
            "rows": self.config.rows, "label": self.config.label, "ratio": self.config.ratio,
            "service_provider": ctx.service_provider, "has_spark": ctx.has_spark, "run_id": ctx.run_id,
            "env": ctx.env, "event_date": ctx.event_date.isoformat(),
            "partitions": spark.shuffle_partitions, "salt": spark.salt_buckets,
            "master": spark.resolved_master(ctx.service_provider),
        }

    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class ContextFactory(AbstractJobFactory[Config]):
    config_model = Config

    def create_job(self, **kwargs: Any) -> ContextJob:
        return ContextJob(self.config, self.context)

main = make_main(ContextFactory)
'''

PLATFORMS = {
    "container": container.PLATFORM,
    "spark-submit": spark_submit.PLATFORM,
    "databricks": databricks.PLATFORM,
    "glue": glue.PLATFORM,
}


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The entry points configure the sparkjobs loggers; leave them as found for other tests."""
    saved = {}
    for name in ("sparkjobs", "recommendations"):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def jobs(job_dir: Callable[[str, str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Job modules on sys.path, an empty conf dir, and no SPARKJOBS_* variables from the outside."""
    job_dir("acme.jobs.ctx_echo", CONTEXT_JOB)
    job_dir("legacy.echo", PORTED_JOB)
    for key in list(os.environ):
        if key.startswith("SPARKJOBS"):
            monkeypatch.delenv(key)
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return conf


def run(main: Callable[..., Any], argv: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    """Call an entry point in-process; return (exit code, the success JSON line or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    platform = {
        container.main: container.PLATFORM,
        spark_submit.main: spark_submit.PLATFORM,
        databricks.main: databricks.PLATFORM,
        glue.main: glue.PLATFORM,
    }[main]
    code = run_entrypoint(argv, platform, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    payload = json.loads(lines[-1]) if code == 0 and lines and lines[-1].startswith("{") else None
    return code, payload, err.getvalue()


# -- tokenizer ------------------------------------------------------------------------------------
def test_tokenize_splits_equals_space_bare_flags_and_positionals() -> None:
    options, positionals = tokenize(
        [
            "--a=b=c",
            "--x",
            "1",
            "--dry_run",
            "hello",
            "--has_spark",
            "false",
            "--no-spark",
            "k=v",
            "--",
            "--raw",
        ]
    )
    assert options == [
        ("a", "b=c"),
        ("x", "1"),
        ("dry_run", None),
        ("has_spark", "false"),
        ("no-spark", None),
    ]
    assert positionals == ["hello", "k=v", "--raw"]


def test_tokenize_negative_number_is_a_value_not_an_option() -> None:
    assert tokenize(["--threshold", "-1"]) == ([("threshold", "-1")], [])


# -- each platform's style → RunRequest -----------------------------------------------------------
def test_container_seeds_style() -> None:
    parsed = parse_args(
        [
            "--module_name",
            "dwh.jobs.filter_images.filter_images_job_factory",
            "--filter_images_job",
            '{"base_path": "s3://bucket/x", "timezone": "UTC"}',
            "--has_spark",
            "true",
            "--partitions",
            "17",
            "--salt",
            "24",
        ],
        container.PLATFORM,
    )
    req = parsed.request
    assert req.job == "dwh.jobs.filter_images.filter_images_job_factory"
    assert req.json_config == {"base_path": "s3://bucket/x", "timezone": "UTC"}
    assert (req.has_spark, req.partitions, req.salt, req.service_provider) == (True, 17, 24, "container")
    assert parsed.json_flag == "--filter_images_job"
    assert req.params == ()


@pytest.mark.parametrize(
    ("platform", "argv"),
    [
        (container.PLATFORM, ["--module_name", "acme.jobs.ctx_echo", "--engine", "duckdb"]),
        (spark_submit.PLATFORM, ["--job", "acme.jobs.ctx_echo", "--engine=duckdb"]),
        (databricks.PLATFORM, ["acme.jobs.ctx_echo", "--engine=duckdb"]),
        (glue.PLATFORM, ["--JOB_NAME", "n", "--module_name", "acme.jobs.ctx_echo", "--engine", "duckdb"]),
    ],
)
def test_every_platform_takes_the_engine(platform: Any, argv: list[str]) -> None:
    assert parse_args(argv, platform).request.engine == "duckdb"
    without = [a for a in argv if a not in {"--engine", "duckdb", "--engine=duckdb"}]
    assert parse_args(without, platform).request.engine is None  # the configuration's engine.use
    wrong = [a.replace("duckdb", "flink") for a in argv]
    with pytest.raises(UsageError, match="--engine expects one of spark, duckdb, auto, got 'flink'"):
        parse_args(wrong, platform)


def test_glue_style_tolerates_glue_arguments_and_takes_its_run_id() -> None:
    argv = [
        "--JOB_ID",
        "j_0123",
        "--JOB_RUN_ID",
        "jr_abc",
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--TempDir",
        "s3://tmp/glue",
        "--enable-glue-datacatalog",
        "--enable-metrics",
        "",
        "--continuous-log-logGroup",
        "/aws-glue/jobs",
        "--JOB_NAME",
        "nightly-ingest",
        "--module_name",
        "acme.jobs.ctx_echo",
        "--has_spark",
        "false",
        "--env",
        "prod",
        "--rows",
        "12",
        "--label",
        "from-glue",
    ]
    parsed = parse_args(argv, glue.PLATFORM)
    req = parsed.request
    assert (req.job, req.service_provider, req.has_spark, req.env) == (
        "acme.jobs.ctx_echo",
        "glue",
        False,
        "prod",
    )
    assert req.run_id == "jr_abc"
    assert req.params == ("rows=12", "label=from-glue")
    assert parsed.platform_args == {
        "JOB_ID": "j_0123",
        "JOB_RUN_ID": "jr_abc",
        "job-bookmark-option": "job-bookmark-disable",
        "TempDir": "s3://tmp/glue",
        "enable-glue-datacatalog": None,
        "enable-metrics": "",
        "continuous-log-logGroup": "/aws-glue/jobs",
        "JOB_NAME": "nightly-ingest",
    }


def test_glue_explicit_run_id_wins_over_job_run_id() -> None:
    parsed = parse_args(["--JOB_RUN_ID", "jr_1", "--job", "x", "--run_id", "mine"], glue.PLATFORM)
    assert parsed.request.run_id == "mine"


def test_glue_arguments_are_job_parameters_elsewhere() -> None:
    """Only the Glue entry point knows Glue's arguments; elsewhere they would be (rejected) job params."""
    parsed = parse_args(["--job", "x", "--TempDir", "s3://t"], container.PLATFORM)
    assert parsed.request.params == ("TempDir=s3://t",)


def test_databricks_named_parameters_style() -> None:
    argv = [
        "--module_name=acme.jobs.ctx_echo",
        "--has_spark=true",
        '--ctx_echo_job={"rows": 3}',
        "--label=dbx",
    ]
    req = parse_args(argv, databricks.PLATFORM).request
    assert (req.job, req.service_provider, req.has_spark) == ("acme.jobs.ctx_echo", "databricks", True)
    assert req.json_config == {"rows": 3}
    assert req.params == ("label=dbx",)


def test_databricks_positional_parameters_style() -> None:
    argv = ["acme.jobs.ctx_echo", '{"rows": 4}', "label=pos", "ratio=0.25", "--no_spark"]
    req = parse_args(argv, databricks.PLATFORM).request
    assert (req.job, req.json_config, req.has_spark) == ("acme.jobs.ctx_echo", {"rows": 4}, False)
    assert req.params == ("label=pos", "ratio=0.25")


def test_spark_submit_style_and_its_providers() -> None:
    argv = ["--job", "hello_spark", "--service_provider", "emr", "--event_date", "2024-03-10", "--dry-run"]
    req = parse_args(argv, spark_submit.PLATFORM).request
    assert (req.job, req.service_provider, req.event_date, req.dry_run) == (
        "hello_spark",
        "emr",
        "2024-03-10",
        True,
    )
    with pytest.raises(UsageError, match=r"'standalone' is not valid for the spark-submit entry point"):
        parse_args(["--job", "x", "--service_provider", "standalone"], spark_submit.PLATFORM)


def test_dash_and_underscore_spellings_are_the_same_option() -> None:
    a = parse_args(
        ["--module-name", "x", "--has-spark", "no", "--conf-dir", "c", "--run-id", "r"], container.PLATFORM
    )
    b = parse_args(
        ["--module_name", "x", "--has_spark", "no", "--conf_dir", "c", "--run_id", "r"], container.PLATFORM
    )
    assert a.request == b.request
    assert (a.request.has_spark, str(a.request.conf_dir), a.request.run_id) == (False, "c", "r")


def test_config_files_repeatable_and_comma_separated() -> None:
    req = parse_args(["--job", "x", "--config", "a.yml,b.json", "--config", "c.toml"], glue.PLATFORM).request
    assert [str(p) for p in req.config_files] == ["a.yml", "b.json", "c.toml"]


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (["--has_spark", "true"], UsageError, "no job given: pass --module_name"),
        (
            ["--job", "x", "--has_spark", "maybe"],
            UsageError,
            "--has_spark expects true or false, got 'maybe'",
        ),
        (["--job", "x", "--partitions", "many"], UsageError, "--partitions expects an integer, got 'many'"),
        (["--job", "x", "--master", "local[2]"], UsageError, "--master is not an application argument"),
        (["--job", "x", "--x_job", "{oops"], ConfigError, "--x_job is not valid JSON"),
        (["--job", "x", "--job_config", "[1, 2]"], ConfigError, "--job_config must be a JSON object"),
        (
            ["--job", "x", "--a_job", "{}", "{}"],
            UsageError,
            "two JSON job configs given: --a_job and positional",
        ),
        (["--job", "x", "--rows", "1", "--param", "rows=2"], UsageError, "job parameter 'rows' given twice"),
        (["--job", "x", "--job", "y"], UsageError, "two jobs given: 'x' (--job) and 'y' (--job)"),
        (["x", "y"], UsageError, "unexpected positional argument 2 'y'"),
        (["--job", "x", "--rows"], UsageError, "--rows needs a value"),
        (["--job", "x", "--param", "novalue"], UsageError, "bad --param 'novalue': expected key.path=value"),
        (["--job", "x", "--env", "a", "--env", "b"], UsageError, "--env given twice with different values"),
        (
            ["--job", "x", "--log_format", "xml"],
            UsageError,
            "--log_format expects one of auto, json, console",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(argv: list[str], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        parse_args(argv, container.PLATFORM)
    assert message in str(info.value)


def test_json_flag_must_name_the_job() -> None:
    names = ["filter_images", "filter_images_job_factory", "dwh.jobs.filter_images.filter_images_job_factory"]
    assert json_flag_names_job("--filter_images_job", names)
    assert json_flag_names_job("--filter-images-job", names)
    assert json_flag_names_job("--job_config", names)
    assert not json_flag_names_job("--hello_spark_job", names)


# -- through the executor, on a pure-Python job ---------------------------------------------------
@pytest.mark.parametrize(
    ("main", "extra", "provider"),
    [
        (container.main, [], "container"),
        (spark_submit.main, ["--service_provider", "yarn"], "yarn"),
        (databricks.main, [], "databricks"),
        (glue.main, ["--JOB_NAME", "nightly", "--JOB_RUN_ID", "jr_77", "--enable-metrics"], "glue"),
    ],
)
def test_each_entry_point_injects_context_and_runs_the_job(
    jobs: Path, main: Callable[..., Any], extra: list[str], provider: str
) -> None:
    argv = [
        "--module_name",
        "acme.jobs.ctx_echo",
        "--ctx_echo_job",
        '{"rows": 7, "label": "seed"}',
        "--ratio",
        "0.125",
        "--has_spark",
        "false",
        "--conf_dir",
        str(jobs),
        "--event_date",
        "2024-02-29",
        "--partitions",
        "5",
        "--salt",
        "3",
        *extra,
    ]
    code, payload, err = run(main, argv)
    assert code == 0, err
    assert payload is not None and payload["status"] == "success" and payload["job"] == "ctx_echo"
    result = payload["result"]
    assert (result["rows"], result["label"], result["ratio"]) == (7, "seed", 0.125)
    assert (result["service_provider"], result["has_spark"], payload["service_provider"]) == (
        provider,
        False,
        provider,
    )
    assert (result["event_date"], result["partitions"], result["salt"]) == ("2024-02-29", 5, 3)
    assert result["run_id"] == payload["run_id"]
    if provider == "glue":
        assert result["run_id"] == "jr_77"
    # Spark local mode off-cluster; the platform's own master on one
    assert result["master"] == ("local[*]" if provider == "container" else None)


@pytest.mark.parametrize("main", [container.main, spark_submit.main, databricks.main, glue.main])
def test_project_dir_roots_the_run_report_not_the_cwd(
    jobs: Path, tmp_path: Path, main: Callable[..., Any]
) -> None:
    """``--project_dir``, the platform spelling of ``sparkjobs run --project-dir``: relative runs go there."""
    project = tmp_path / "project"
    project.mkdir()
    argv = ["--module_name", "acme.jobs.ctx_echo", "--has_spark", "false", "--conf_dir", str(jobs)]
    code, payload, err = run(main, [*argv, "--project_dir", str(project), "--run_id", "r-proj"])
    assert code == 0, err
    assert payload is not None and payload["run_id"] == "r-proj"
    assert (project / "runs" / "r-proj.json").is_file()
    assert not (tmp_path / "runs").exists()  # the cwd (tmp_path) is not the project root here
    assert parse_args([*argv, "--project-dir", "p"], container.PLATFORM).request.project_dir == Path("p")


def test_seeds_ported_job_without_model_gets_yaml_typed_params(jobs: Path) -> None:
    argv = [
        "--module_name",
        "legacy.echo",
        "--echo_job",
        '{"a": "x"}',
        "--n",
        "21",
        "--flag",
        "true",
        "--has_spark",
        "false",
        "--conf_dir",
        str(jobs),
    ]
    code, payload, err = run(glue.main, argv)
    assert code == 0, err
    assert payload is not None and payload["result"] == {"a": "x", "n": 21, "flag": True}


def test_unknown_job_parameter_is_exit_2_naming_it(jobs: Path) -> None:
    code, payload, err = run(databricks.main, ["acme.jobs.ctx_echo", "rowz=3", "--conf_dir", str(jobs)])
    assert code == 2 and payload is None
    assert "unknown parameter 'jobs.ctx_echo.rowz'" in err and "did you mean 'rows'" in err


def test_badly_typed_parameter_is_exit_2(jobs: Path) -> None:
    code, _, err = run(
        container.main, ["--job", "acme.jobs.ctx_echo", "--rows", "seven", "--conf_dir", str(jobs)]
    )
    assert code == 2 and "rows" in err


def test_an_error_quoting_a_dsn_is_printed_masked(jobs: Path) -> None:
    argv = ["--job", "acme.jobs.ctx_echo", "--partitions", "postgresql://u:hunter22pw@db/x"]
    code, _, err = run(container.main, [*argv, "--conf_dir", str(jobs)])
    assert code == 2
    assert "--partitions expects an integer, got 'postgresql://u:********@db/x'" in err
    assert "hunter22pw" not in err


def test_unknown_job_is_exit_2(jobs: Path) -> None:
    code, _, err = run(spark_submit.main, ["--job", "no_such_job_anywhere", "--conf_dir", str(jobs)])
    assert code == 2 and "unknown job 'no_such_job_anywhere'" in err


def test_json_flag_for_another_job_is_exit_2(jobs: Path) -> None:
    argv = [
        "--module_name",
        "acme.jobs.ctx_echo",
        "--hello_spark_job",
        '{"rows": 1}',
        "--conf_dir",
        str(jobs),
    ]
    code, _, err = run(container.main, argv)
    assert code == 2
    assert "--hello_spark_job does not name job 'ctx_echo'" in err and "--ctx_echo_job" in err


def test_job_failure_is_exit_1_naming_job_run_and_cause(jobs: Path) -> None:
    argv = [
        "--job",
        "acme.jobs.ctx_echo",
        "--label",
        "boom",
        "--run_id",
        "run-42",
        "--no_spark",
        "--conf_dir",
        str(jobs),
    ]
    code, payload, err = run(glue.main, argv)
    assert code == 1 and payload is None
    assert "job 'ctx_echo' failed (run_id=run-42): RuntimeError: boom requested" in err


def test_cluster_providers_never_get_a_configured_master(jobs: Path) -> None:
    (jobs / "base" / "spark.yml").write_text("spark:\n  master: local[3]\n")
    argv = ["--job", "acme.jobs.ctx_echo", "--no_spark", "--conf_dir", str(jobs)]
    code, payload, err = run(glue.main, argv)
    assert code == 0, err
    assert payload is not None and payload["result"]["master"] is None
    assert "ignoring spark.master='local[3]'" in err
    code, payload, err = run(container.main, argv)
    assert code == 0, err
    assert payload is not None and payload["result"]["master"] == "local[3]"


@pytest.mark.parametrize(("main", "closes"), [(container.main, 1), (glue.main, 1), (databricks.main, 0)])
def test_only_databricks_keeps_the_platform_session_open(
    jobs: Path, monkeypatch: pytest.MonkeyPatch, main: Callable[..., Any], closes: int
) -> None:
    from sparkjobs.engines.session import SessionProvider

    calls: list[str] = []
    monkeypatch.setattr(SessionProvider, "close", lambda self: calls.append("close"))
    code, _, err = run(main, ["--job", "acme.jobs.ctx_echo", "--no_spark", "--conf_dir", str(jobs)])
    assert code == 0, err
    assert len(calls) == closes


def test_dry_run_prints_the_plan_and_runs_nothing(jobs: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--job", "acme.jobs.ctx_echo", "--label", "boom", "--dry_run", "--conf_dir", str(jobs)]
    code = run_entrypoint(argv, spark_submit.PLATFORM, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    plan = json.loads(out.getvalue())
    assert (plan["service_provider"], plan["master"], plan["params"]["label"]) == (
        "spark-submit",
        "(platform)",
        "boom",
    )


def test_help_is_exit_0(jobs: Path) -> None:
    out = io.StringIO()
    assert run_entrypoint(["--help"], glue.PLATFORM, stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue().startswith("usage: sparkjobs-glue --module_name MODULE|--job NAME")


def test_run_raises_system_exit_only_on_failure(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert databricks.run(["acme.jobs.ctx_echo", "--no_spark", "--conf_dir", str(jobs)]) is None
    with pytest.raises(SystemExit) as info:
        databricks.run(["acme.jobs.ctx_echo", "label=boom", "--no_spark", "--conf_dir", str(jobs)])
    assert info.value.code == 1


def test_script_main_drops_the_script_folder_from_sys_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "entrypoints"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), "/elsewhere", str(folder) + "/"])
    seen: list[list[str]] = []

    def fake_main(argv: Any) -> int:
        seen.append(list(sys.path))
        return 2

    with pytest.raises(SystemExit) as info:
        script_main(fake_main, str(folder / "glue.py"))
    assert info.value.code == 2
    assert seen == [["/elsewhere"]]


def test_entry_point_file_runs_as_a_script_without_shadowing(jobs: Path, tmp_path: Path) -> None:
    """``python .../glue.py``, as Glue and spark-submit run files: the entrypoints folder is off sys.path."""
    probe = tmp_path / "site" / "probe_job.py"
    probe.write_text(
        "import sys\n"
        "def main(**kwargs):\n"
        "    ctx = kwargs.pop('context')\n"
        "    shadow = [p for p in sys.path if p.rstrip('/').endswith('sparkjobs/entrypoints')]\n"
        "    return {'shadow': shadow, 'provider': ctx.service_provider, 'kwargs': kwargs}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS")}
    # the probe job, then whatever the caller put first (a worktree's src/ over the installed package)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p
    )
    script = ROOT / "src" / "sparkjobs" / "entrypoints" / "glue.py"
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            "--JOB_NAME",
            "g",
            "--module_name",
            "probe_job",
            "--who",
            "glue",
            "--has_spark",
            "false",
            "--conf_dir",
            str(jobs),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    kwargs = {"who": "glue", "has_spark": False, "service_provider": "glue"}  # seed 002: both in kwargs
    assert payload["result"] == {"shadow": [], "provider": "glue", "kwargs": kwargs}


# -- --py-files zip -------------------------------------------------------------------------------
def test_pyfiles_zip_carries_the_package_and_its_job_registrations(tmp_path: Path) -> None:
    extra = tmp_path / "extra_jobs.py"
    extra.write_text("def main(**kwargs):\n    return 1\n")
    dest = build_pyfiles(tmp_path / "dist" / "sparkjobs.zip", ["sparkjobs"], [extra])
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
    assert {"sparkjobs/__init__.py", "sparkjobs/entrypoints/spark_submit.py", "extra_jobs.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    found = list(importlib.metadata.distributions(path=[str(dest)]))
    assert [d.metadata["Name"] for d in found] == ["sparkjobs"]
    registered = {ep.name: ep.value for ep in found[0].entry_points if ep.group == "sparkjobs.jobs"}
    assert registered["hello_spark"] == "sparkjobs.examples.hello_spark"
    again = build_pyfiles(tmp_path / "again.zip", ["sparkjobs"], [extra])
    assert again.read_bytes() == dest.read_bytes()  # reproducible


def test_pyfiles_unknown_distribution_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="distribution 'no-such-dist' is not installed"):
        build_pyfiles(tmp_path / "x.zip", ["no-such-dist"])


def test_platform_table_is_consistent() -> None:
    for name, platform in PLATFORMS.items():
        assert isinstance(platform, Platform)
        assert platform.default_provider in platform.providers, name
