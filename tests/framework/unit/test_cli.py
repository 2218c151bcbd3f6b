"""Every `sparkjobs` option, exit codes 0/1/2, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli
from tests.framework.conftest import MODEL_JOB, PORTED_JOB


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    job_dir("legacy.echo", PORTED_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "staging").mkdir()
    (root / "base" / "jobs.yml").write_text("jobs:\n  square:\n    label: base\n")
    (root / "staging" / "jobs.yml").write_text("jobs:\n  square:\n    label: staging\n")
    return root


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_success_prints_result_json(runner: CliRunner, conf: Path) -> None:
    code, out, _ = run(runner, "run", "acme.jobs.square", "--conf-dir", str(conf), "--no-spark", "-p", "n=6")
    assert code == 0
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["status"] == "success" and payload["result"] == {"square": 36, "label": "base"}


def test_env_config_json_param_event_date_partitions_salt(
    runner: CliRunner, conf: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "x.json"
    extra.write_text(json.dumps({"jobs": {"square": {"ratio": 0.25}}}))
    code, out, err = run(
        runner,
        "run",
        "square",
        "--conf-dir",
        str(conf),
        "--env",
        "staging",
        "--config",
        str(extra),
        "--json",
        '{"n": 3, "tags": ["a"]}',
        "--param",
        "flag=true",
        "--partitions",
        "7",
        "--salt",
        "4",
        "--event-date",
        "2024-03-01",
        "--no-spark",
        "--dry-run",
        "--run-id",
        "run-42",
    )
    assert code == 2, err  # 'square' is not registered: only the dotted path resolves
    code, out, err = run(
        runner,
        "run",
        "acme.jobs.square",
        "--conf-dir",
        str(conf),
        "--env",
        "staging",
        "--config",
        str(extra),
        "--json",
        '{"n": 3, "tags": ["a"]}',
        "--param",
        "flag=true",
        "--partitions",
        "7",
        "--salt",
        "4",
        "--event-date",
        "2024-03-01",
        "--no-spark",
        "--dry-run",
        "--run-id",
        "run-42",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["run_id"] == "run-42" and plan["env"] == "staging" and plan["event_date"] == "2024-03-01"
    assert plan["has_spark"] is False and plan["salt_buckets"] == 4
    assert plan["params"]["label"] == "staging" and plan["params"]["ratio"] == 0.25
    assert plan["params"]["n"] == 3 and plan["params"]["tags"] == ["a"] and plan["params"]["flag"] is True


def test_dry_run_shows_spark_conf_from_partitions(runner: CliRunner, conf: Path) -> None:
    code, out, _ = run(
        runner,
        "run",
        "acme.jobs.square",
        "--conf-dir",
        str(conf),
        "-p",
        "n=1",
        "--partitions",
        "11",
        "--dry-run",
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["spark_conf"]["spark.sql.shuffle.partitions"] == "11"
    assert plan["master"] == "local[*]"


def test_service_provider_and_log_format(runner: CliRunner, conf: Path) -> None:
    code, out, err = run(
        runner,
        "run",
        "acme.jobs.square",
        "--conf-dir",
        str(conf),
        "-p",
        "n=1",
        "--service-provider",
        "emr",
        "--log-format",
        "json",
        "--dry-run",
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["service_provider"] == "emr" and plan["master"] == "(platform)"
    code, _, _ = run(runner, "run", "acme.jobs.square", "-p", "n=1", "--log-format", "xml", "--dry-run")
    assert code == 2


def test_job_failure_exits_1_naming_job_run_and_cause(runner: CliRunner, conf: Path) -> None:
    code, _, err = run(
        runner,
        "run",
        "acme.jobs.square",
        "--conf-dir",
        str(conf),
        "--no-spark",
        "-p",
        "n=-2",
        "--run-id",
        "r-9",
    )
    assert code == 1
    assert "job 'square' failed (run_id=r-9): ValueError: negative n -2" in err
    assert "next: fix the cause, then rerun the same logical date: sparkjobs run square --env dev" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "nosuch_job"], "unknown job 'nosuch_job'"),
        (["run", "helo_spark"], "did you mean: hello_spark?"),
        (["run", "acme.jobs.square", "-p", "n=x"], "jobs.square.n = 'x'"),
        (["run", "acme.jobs.square", "-p", "n=1", "-p", "nn=2"], "unknown parameter 'jobs.square.nn'"),
        (["run", "acme.jobs.square", "-p", "n"], "expected key.path=value"),
        (["run", "acme.jobs.square", "-p", "n=1", "--event-date", "2024-13-01"], "expected YYYY-MM-DD"),
        (
            ["run", "acme.jobs.square", "-p", "n=1", "--env", "nope"],
            "no configuration for environment 'nope'",
        ),
        (["run", "acme.jobs.square", "-p", "n=1", "--partitions", "0"], "--partitions must be"),
        (["run", "acme.jobs.square", "--json", "{"], "--json is not valid JSON"),
        (["run", "acme.jobs.square", "-p", "n=1", "--config", "/no/such.yml"], "config file not found"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    runner: CliRunner, conf: Path, args: list[str], needle: str
) -> None:
    code, _, err = run(runner, *args, "--conf-dir", str(conf), "--no-spark")
    assert code == 2
    assert needle in err


def test_click_usage_error_exits_2(runner: CliRunner) -> None:
    code, _, _ = run(runner, "run", "x", "--partitions", "many")
    assert code == 2


def test_list_filters(runner: CliRunner) -> None:
    code, out, _ = run(runner, "list", "--format", "json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert "hello_spark" in names
    code, out, _ = run(runner, "list", "--stage", "silver", "--capability", "incremental", "--format", "json")
    assert "hello_spark" in {row["name"] for row in json.loads(out)}
    code, out, _ = run(runner, "list", "--stage", "bronze", "--capability", "serving", "--format", "json")
    assert "hello_spark" not in {row["name"] for row in json.loads(out)}


def test_describe_lists_parameters(runner: CliRunner, conf: Path) -> None:
    code, out, _ = run(runner, "describe", "acme.jobs.square")
    assert code == 0
    assert "version:      2.1.0" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("n "))
    assert "int" in line and "(required)" in line and "the number to square" in line
    assert any(ln.strip().startswith("output.format") for ln in out.splitlines())


def test_config_show_and_schema(runner: CliRunner, conf: Path) -> None:
    code, out, _ = run(
        runner,
        "config",
        "show",
        "acme.jobs.square",
        "--conf-dir",
        str(conf),
        "--env",
        "staging",
        "-p",
        "n=2",
        "--format",
        "json",
    )
    assert code == 0
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["jobs.square.label"]["value"] == "staging"
    assert rows["jobs.square.label"]["source"] == str(conf / "staging" / "jobs.yml")
    assert rows["jobs.square.n"]["source"] == "--param"
    code, out, _ = run(runner, "config", "schema", "acme.jobs.square")
    schema = json.loads(out)
    assert schema["required"] == ["n"] and schema["properties"]["n"]["type"] == "integer"
    code, _, err = run(runner, "config", "schema", "legacy.echo")
    assert code == 2 and "declares no config model" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["list"],
        ["describe", "hello_spark"],
        ["run", "--help"],
        ["render", "--help"],
        ["init", "--help"],
        ["render", "hello_spark", "--target", "databricks", "-p", "rows=5"],
        ["init", "--help"],
        ["package", "--help"],
        ["doctor", "--help"],
    ],
)
def test_help_and_list_do_not_import_pyspark(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from sparkjobs.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = any(m == 'pyspark' or m.startswith('pyspark.') for m in sys.modules)\n"
        "print('PYSPARK_IMPORTED' if loaded else 'CLEAN')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "CLEAN", proc.stderr


EXITING_JOB = '''
"""A job that leaves in unusual ways."""
import sys
from typing import Any
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

HOOKS: list = []

class J(AbstractJob):
    def __init__(self, how: str) -> None:
        self.how = how
    def execute_job(self, **kwargs: Any) -> Any:
        if self.how == "interrupt":
            raise KeyboardInterrupt
        if self.how == "exit-none":
            sys.exit()
        sys.exit(int(self.how))
    def on_success(self, result: Any) -> None:
        HOOKS.append("on_success")
    def on_failure(self, error_message: str) -> None:
        HOOKS.append(error_message)

class F(AbstractJobFactory):
    def create_job(self, **kwargs: Any) -> J:
        return J(str(kwargs["how"]))

main = make_main(F)
'''


@pytest.mark.parametrize("how", ["0", "3", "exit-none"])
def test_sys_exit_inside_a_job_is_a_job_failure(
    runner: CliRunner, conf: Path, job_dir: Callable[[str, str], Path], how: str
) -> None:
    job_dir("acme.jobs.leaver", EXITING_JOB)
    code, out, err = run(
        runner,
        "run",
        "acme.jobs.leaver",
        "--conf-dir",
        str(conf),
        "--no-spark",
        "-p",
        f"how={how}",
        "--run-id",
        "r-7",
    )
    assert code == 1
    assert "job 'leaver' failed (run_id=r-7): JobContractError: the job called sys.exit(" in err
    assert "return a result or raise" in err
    assert '"status": "success"' not in out


def test_an_interrupted_job_exits_130_naming_the_run(
    runner: CliRunner, conf: Path, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("acme.jobs.leaver", EXITING_JOB)
    code, _, err = run(
        runner,
        "run",
        "acme.jobs.leaver",
        "--conf-dir",
        str(conf),
        "--no-spark",
        "-p",
        "how=interrupt",
        "--run-id",
        "r-8",
    )
    assert code == 130
    assert "job 'leaver' interrupted (run_id=r-8)" in err


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"base/a.yml": "jobs:\n  - square\n"}, "must be a mapping | key: jobs |"),
        ({"base/a.yml": "jobs:\n  square: 3\n"}, "must be a mapping | key: jobs.square |"),
        ({"base/a.yml": "jobs:\n  square:\n    n: [1\n"}, "invalid YAML"),
        ({"base/a.toml": "[jobs.square\n"}, "invalid TOML"),
        ({"base/a.json": '{"jobs": }'}, "invalid JSON"),
        (
            {"base/a.yml": "jobs:\n  square:\n    n: 1\n", "base/b.json": '{"jobs": {"square": {"n": 2}}}'},
            "two files",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["run", "acme.jobs.square", "--dry-run"], ["config", "show", "acme.jobs.square"]]
)
def test_bad_conf_files_exit_2_naming_the_file(
    runner: CliRunner,
    tmp_path: Path,
    job_dir: Callable[[str, str], Path],
    files: dict[str, str],
    needle: str,
    command: list[str],
) -> None:
    job_dir("acme.jobs.square", MODEL_JOB)
    root = tmp_path / "badconf"
    (root / "base").mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    code, _, err = run(runner, *command, "--conf-dir", str(root), "-p", "n=1")
    assert code == 2, err
    assert needle in err and str(root / "base") in err
    assert "Traceback" not in err


def test_describe_shows_clean_types_aliases_and_json_defaults(
    runner: CliRunner, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir(
        "acme.jobs.described",
        '''
"""Describe me."""
from pathlib import Path
from typing import Any, Optional
from pydantic import BaseModel, Field, SecretStr
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Sink(BaseModel):
    path: str = "out"

class Cfg(BaseModel):
    input_path: str = Field("in", alias="input-path", description="where to read")
    root: Path = Path("/data")
    limit: Optional[int] = None
    token: SecretStr | None = None
    sink: Sink | None = None

class F(AbstractJobFactory[Cfg]):
    config_model = Cfg
    def create_job(self, **kwargs: Any) -> AbstractJob:
        raise NotImplementedError

main = make_main(F)
''',
    )
    code, out, _ = run(runner, "describe", "acme.jobs.described")
    assert code == 0
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()[9:] if ln.strip()}
    assert rows["input-path"][1:3] == ["str", '"in"']
    assert rows["root"][1:3] == ["Path", '"/data"']
    assert rows["limit"][1:3] == ["int", "|"] and rows["limit"][3:5] == ["None", "null"]
    assert rows["token"][1:5] == ["SecretStr", "|", "None", "null"]
    assert rows["sink.path"][1:3] == ["str", '"out"']


def test_run_help_documents_exit_codes_and_env_vars(runner: CliRunner) -> None:
    code, out, _ = run(runner, "run", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "0 success, 1 the job failed, 2 usage or config error, 130 interrupted" in flat
    assert "SPARKJOBS_ENV" in flat and "SPARKJOBS_CONF_DIR" in flat
    assert "--log-format [auto|json|console] log line format" in flat


def test_describe_shows_the_jobs_own_defaults_of_nested_settings() -> None:
    """A job whose retry default is its own policy shows that policy's values, not RetryPolicy's
    class defaults (issue 9: describe load_recommendations showed 1 s / 60 s for 2 s / 30 s)."""
    from pydantic import BaseModel, Field

    from sparkjobs.describe import parameter_rows
    from sparkjobs.resilience import RetryPolicy

    class LoaderConfig(BaseModel):
        retry: RetryPolicy = Field(
            default_factory=lambda: RetryPolicy(max_attempts=3, initial_delay_s=2.0, max_delay_s=30.0)
        )

    defaults = {key: default for key, _type, default, _doc in parameter_rows(LoaderConfig)}
    assert defaults["retry.initial_delay_s"] == "2.0" and defaults["retry.max_delay_s"] == "30.0"
    assert defaults["retry.max_attempts"] == "3" and defaults["retry"] == "(see retry.*)"


def test_a_param_may_be_given_by_the_full_key_path_every_error_prints(runner: CliRunner, conf: Path) -> None:
    base = ("run", "acme.jobs.square", "--conf-dir", str(conf), "--no-spark")
    code, out, err = run(runner, *base, "-p", "jobs.square.n=4", "-p", "output.format=csv")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["result"] == {"square": 16, "label": "base"}
    code, _, err = run(runner, *base, "-p", "jobs.square.nn=4")
    assert code == 2 and "unknown parameter 'jobs.square.nn'" in err
