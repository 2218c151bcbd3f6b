"""``sparkjobs render``: a run → each platform's arguments → that entry point's parser → the same config.

No JVM: the job is pure Python. The generated ``scripts/<platform>/generic_entry.py`` files are run
as real processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.entrypoints.arguments import parse_args
from sparkjobs.entrypoints.render import TARGETS, platform_of, render, script_text, write_scripts
from sparkjobs.errors import UsageError
from sparkjobs.executor import PreparedRun, RunRequest, prepare

ROOT = Path(__file__).resolve().parents[3]

TYPED_JOB = '''
"""A pure-Python job with typed, nested parameters; returns its config and context facts."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Output(BaseModel):
    path: str = "out"
    format: str = "parquet"

class Config(BaseModel):
    rows: int = 1
    label: str = "x"
    ratio: float = 0.5
    tags: list[str] = []
    output: Output = Output()

class J(AbstractJob):
    def __init__(self, config, context):
        self.config, self.context = config, context
    def execute_job(self, **kwargs: Any) -> Any:
        ctx = self.context
        return {"config": self.config.model_dump(), "env": ctx.env, "provider": ctx.service_provider,
                "has_spark": ctx.has_spark, "event_date": ctx.event_date.isoformat()}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Config]):
    config_model = Config
    def create_job(self, **kwargs: Any) -> J:
        return J(self.config, self.context)

main = make_main(F)
'''

#: the validated config the request below must give on every platform (written out by hand)
EXPECTED_CONFIG = {
    "rows": 12,
    "label": "from staging",
    "ratio": 0.25,
    "tags": ["a", "b"],
    "output": {"path": "s3://lake/x=1", "format": "csv"},
}


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SPARKJOBS"):
            monkeypatch.delenv(key)
    job_dir("acme.jobs.typed", TYPED_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "staging").mkdir()
    (root / "base" / "jobs.yml").write_text("jobs:\n  typed:\n    label: from base\n")
    (root / "staging" / "jobs.yml").write_text("jobs:\n  typed:\n    label: from staging\n")
    (tmp_path / "extra.yml").write_text("jobs:\n  typed:\n    output:\n      format: csv\n")
    monkeypatch.chdir(tmp_path)
    return root


def _request(conf: Path) -> RunRequest:
    return RunRequest(
        job="acme.jobs.typed",
        env="staging",
        conf_dir=conf,
        config_files=(conf.parent / "extra.yml",),
        params=("rows=12", "tags=[a, b]", "output.path=s3://lake/x=1"),
        json_config='{"ratio": 0.25}',
        partitions=7,
        salt=3,
        has_spark=False,
        event_date="2024-03-01",
    )


def _facts(prepared: PreparedRun) -> dict[str, Any]:
    ctx = prepared.context
    return {
        "job": prepared.spec.module_name,
        "config": prepared.config.model_dump(),
        "env": ctx.env,
        "service_provider": ctx.service_provider,
        "has_spark": ctx.has_spark,
        "event_date": ctx.event_date.isoformat(),
        "partitions": ctx.settings.spark.shuffle_partitions,
        "salt": ctx.settings.spark.salt_buckets,
    }


@pytest.mark.parametrize(
    ("target", "task"),
    [("spark-submit", "python_wheel"), ("container", "python_wheel"), ("glue", "python_wheel"),
     ("databricks", "python_wheel"), ("databricks", "spark_python")],
)  # fmt: skip
def test_render_round_trips_through_the_entry_points_parser(conf: Path, target: str, task: str) -> None:
    request = _request(conf)
    platform = platform_of(target)
    args = render(target, request, databricks_task=task).app_args()
    if target == "glue":  # what Glue itself adds to the job's arguments
        args = ["--JOB_NAME", "nightly", "--JOB_RUN_ID", "jr_0123", *args, "--enable-metrics", ""]
    parsed = parse_args(args, platform)
    direct = prepare(dataclasses.replace(request, service_provider=platform.default_provider))
    via_platform = prepare(parsed.request)
    assert _facts(via_platform) == _facts(direct)
    assert _facts(via_platform) == {
        "job": "acme.jobs.typed",
        "config": EXPECTED_CONFIG,
        "env": "staging",
        "service_provider": platform.default_provider,
        "has_spark": False,
        "event_date": "2024-03-01",
        "partitions": 7,
        "salt": 3,
    }
    if target == "glue":
        assert via_platform.context.run_id == "jr_0123"


def test_glue_arguments_are_the_start_job_run_object(conf: Path) -> None:
    doc = render("glue", _request(conf)).document
    assert doc == {
        "--module_name": "acme.jobs.typed",
        "--env": "staging",
        "--conf_dir": str(conf),
        "--config": str(conf.parent / "extra.yml"),
        "--event_date": "2024-03-01",
        "--partitions": "7",
        "--salt": "3",
        "--has_spark": "false",
        "--job_config": '{"ratio": 0.25}',
        "--rows": "12",
        "--tags": "[a, b]",
        "--output.path": "s3://lake/x=1",
    }


def test_spark_submit_argv_and_databricks_tasks(conf: Path) -> None:
    request = RunRequest(job="acme.jobs.typed", params=("rows=2",), run_id="r1")
    argv = render("spark-submit", request, service_provider="emr", script="s3://b/generic_entry.py").argv
    assert argv == (
        "spark-submit", "s3://b/generic_entry.py", "--job", "acme.jobs.typed", "--run_id", "r1",
        "--has_spark", "true", "--service_provider", "emr", "--param", "rows=2",
    )  # fmt: skip
    default_main = render("spark-submit", request).argv
    assert default_main is not None
    assert default_main[1] == str(ROOT / "src" / "sparkjobs" / "entrypoints" / "spark_submit.py")
    tokens = ["--job", "acme.jobs.typed", "--run_id", "r1", "--has_spark", "true", "--param", "rows=2"]
    assert render("databricks", request).document == {
        "task_key": "acme_jobs_typed",
        "python_wheel_task": {
            "package_name": "sparkjobs",
            "entry_point": "sparkjobs-databricks",
            "parameters": tokens,
        },
    }
    assert render("databricks", request, databricks_task="spark_python").document == {
        "task_key": "acme_jobs_typed",
        "spark_python_task": {"python_file": "scripts/databricks/generic_entry.py", "parameters": tokens},
    }


def test_a_value_that_looks_like_an_option_is_kept_as_a_value(conf: Path) -> None:
    request = RunRequest(
        job="acme.jobs.typed", params=("label=--loud",), has_spark=False, conf_dir=conf, run_id="--r1"
    )
    args = render("container", request).app_args()
    assert "--run_id=--r1" in args and args[-2:] == ["--param", "label=--loud"]
    prepared = prepare(parse_args(args, platform_of("container")).request)
    assert (prepared.config.label, prepared.context.run_id) == ("--loud", "--r1")


@pytest.mark.parametrize(
    ("param", "why"),
    [
        ("env=x", "the entry point would read it as its own option"),
        ("TempDir=x", "the entry point would read it as its own option"),  # Glue's own argument
        ('daily_job={"a": 1}', "read it as the job's JSON config"),
        ("label=--loud", "Glue passes it as a separate token"),
    ],
)
def test_glue_refuses_a_parameter_it_cannot_carry(param: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as info:
        render("glue", RunRequest(job="acme.jobs.typed", params=(param,)))
    assert "pass it inside --json instead" in str(info.value)


def test_glue_refuses_an_option_value_that_reads_as_an_option() -> None:
    with pytest.raises(UsageError, match=r"--run_id '--r1' cannot be a Glue argument"):
        render("glue", RunRequest(job="acme.jobs.typed", run_id="--r1"))


def test_a_provider_outside_the_target_is_refused() -> None:
    with pytest.raises(UsageError, match=r"'emr' is not valid for --target glue; choose one of: glue"):
        render("glue", RunRequest(job="j"), service_provider="emr")
    with pytest.raises(UsageError, match="unknown --target 'emr'"):
        render("emr", RunRequest(job="j"))


# -- the command ------------------------------------------------------------------------------------
def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_render_prints_each_target(conf: Path) -> None:
    common = ["acme.jobs.typed", "--conf-dir", str(conf), "--no-spark", "-p", "rows=5"]
    code, out, err = _cli("render", *common, "--target", "glue")
    assert code == 0, err
    assert json.loads(out) == {
        "--module_name": "acme.jobs.typed",
        "--conf_dir": str(conf),
        "--has_spark": "false",
        "--rows": "5",
    }
    code, out, _ = _cli("render", *common, "--target", "container")
    assert (
        out.strip()
        == f"sparkjobs-container --job acme.jobs.typed --conf_dir {conf} --has_spark false --param rows=5"
    )
    code, out, _ = _cli("render", *common, "--target", "container", "--format", "json")
    assert json.loads(out)[:3] == ["sparkjobs-container", "--job", "acme.jobs.typed"]
    code, out, _ = _cli("render", *common, "--target", "spark-submit", "--service-provider", "yarn")
    assert code == 0 and "--service_provider yarn --param rows=5" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-p", "rowz=5", "--target", "glue"], "unknown parameter 'jobs.typed.rowz' (did you mean 'rows'?)"),
        (["-p", "env=5", "--target", "glue"], "job parameter 'env' cannot be a Glue argument"),
        (["--target", "glue", "--service-provider", "emr"], "'emr' is not valid for --target glue"),
        (["--partitions", "0", "--target", "container"], "--partitions must be ≥ 1"),
        ([], "render needs JOB and --target"),
    ],
)
def test_cli_render_bad_input_exits_2(conf: Path, args: list[str], needle: str) -> None:
    code, _, err = _cli("render", "acme.jobs.typed", "--conf-dir", str(conf), *args)
    assert code == 2
    assert needle in err


# -- the seeds' scripts/<platform>/generic_entry.py -------------------------------------------------
def test_cli_writes_the_script_layout_and_protects_edits(tmp_path: Path) -> None:
    dest = tmp_path / "scripts"
    code, out, err = _cli("render", "--scripts", str(dest))
    assert code == 0, err
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py"))
    assert files == [
        "container/generic_entry.py",
        "databricks/generic_entry.py",
        "glue/generic_entry.py",
        "spark_submit/generic_entry.py",
    ]
    assert out.count("wrote ") == 4
    assert _cli("render", "--scripts", str(dest))[0] == 0  # unchanged files: rewritten, no complaint
    glue_file = dest / "glue" / "generic_entry.py"
    glue_file.write_text(glue_file.read_text() + "# local edit\n")
    code, _, err = _cli("render", "--scripts", str(dest))
    assert code == 2 and f"{glue_file} exists and differs" in err and "--force" in err
    assert _cli("render", "--scripts", str(dest), "--force")[0] == 0
    assert glue_file.read_text() == script_text("glue")
    code, _, err = _cli("render", "hello_spark", "--scripts", str(dest))
    assert code == 2 and "drop JOB and --target" in err


def _python(args: list[str], cwd: Path, *, isolated: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKJOBS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    flags = ["-I", "-S"] if isolated else []  # no site-packages, no PYTHONPATH: sparkjobs cannot import
    return subprocess.run(
        [sys.executable, *flags, *args], capture_output=True, text=True, timeout=90, env=env, cwd=cwd
    )


def test_generated_scripts_run_jobs_through_the_real_entry_points(conf: Path, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    write_scripts(scripts)
    seed = "tests.framework.unit.seed_style.echo_platform_job_factory"
    # the container script runs a rendered container command (its program swapped for the script)
    rendered = render("container", RunRequest(job=seed, has_spark=False, conf_dir=conf, params=("who=box",)))
    proc = _python([str(scripts / "container" / "generic_entry.py"), *rendered.app_args()], tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (line["service_provider"], line["status"]) == ("container", "success")
    assert line["result"]["main_saw"] == {"has_spark": False, "service_provider": "container", "who": "box"}
    # the Glue script, with the arguments Glue adds itself
    glue_args = render("glue", RunRequest(job=seed, has_spark=False, conf_dir=conf)).app_args()
    proc = _python([str(scripts / "glue" / "generic_entry.py"), "--JOB_RUN_ID", "jr_9", *glue_args], tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (line["service_provider"], line["run_id"]) == ("glue", "jr_9")


@pytest.mark.parametrize("target", TARGETS)
def test_each_generated_script_parses_through_its_platform(tmp_path: Path, target: str) -> None:
    write_scripts(tmp_path / "scripts")
    folder = {
        "container": "container",
        "databricks": "databricks",
        "glue": "glue",
        "spark-submit": "spark_submit",
    }
    script = tmp_path / "scripts" / folder[target] / "generic_entry.py"
    proc = _python([str(script), "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {platform_of(target).command} --module_name MODULE|--job NAME")
    proc = _python([str(script), "--job", "no.such.job_module", "--no_spark"], tmp_path)
    assert proc.returncode == 2 and "no.such.job_module" in proc.stderr
    proc = _python([str(script), "--help"], tmp_path, isolated=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot import sparkjobs (No module named 'sparkjobs'); ")


def test_generated_scripts_pass_the_project_linter(tmp_path: Path) -> None:
    """Users keep the files in their repositories: they lint clean with this project's ruff rules."""
    pytest.importorskip("ruff")
    write_scripts(tmp_path / "scripts")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache",
         str(tmp_path / "scripts")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
