"""Engines and capabilities: the registry's choice (create_best_processor), the config, the CLI. No JVM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from sparkjobs.cli import cli
from sparkjobs.engines import EngineCapabilityError, EngineRegistry, EngineSettings
from sparkjobs.engines.registry import Engine
from sparkjobs.engines.size import input_bytes, local_path
from sparkjobs.errors import ConfigError, UsageError
from sparkjobs.executor import RunRequest, prepare
from sparkjobs.metadata import JobMetadata
from sparkjobs.pipeline.model import PipelineSpec

MiB = 1024 * 1024

SIZED_JOB = '''
"""Reads one folder (a job that declares its input)."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, JobMetadata, make_main

class Config(BaseModel):
    input_path: str = "in"

class Job(AbstractJob):
    def __init__(self, context):
        self.context = context
    def execute_job(self, **kwargs: Any) -> Any:
        return {"engine": self.context.engine}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class Factory(AbstractJobFactory[Config]):
    config_model = Config
    metadata = JobMetadata(description="sized", requires=frozenset({"dataframe"}))
    @classmethod
    def input_paths(cls, config):
        return [config.input_path]
    def create_job(self, **kwargs: Any) -> Job:
        return Job(self.context)

main = make_main(Factory)
'''

SPARK_ONLY_JOB = SIZED_JOB.replace('frozenset({"dataframe"})', 'frozenset({"spark"})')
#: needs Spark only with one setting (as build_recommendations with model: als)
CONFIG_DEPENDENT_JOB = SIZED_JOB.replace(
    'input_path: str = "in"', 'input_path: str = "in"\n    trainer: str = "numpy"'
).replace(
    "    def create_job(",
    """    @classmethod
    def requirements(cls, config):
        needs = super().requirements(config)
        if config.trainer == "mllib":
            return {**needs, "spark": "trainer: mllib is Spark MLlib"}
        return needs
    def create_job(""",
)


def registry(limit_mb: float = 1) -> EngineRegistry:
    return EngineRegistry.default(EngineSettings(in_process_max_input_mb=limit_mb))


# -- the choice ---------------------------------------------------------------------------------------
def test_auto_prefers_in_process_engine_for_small_input() -> None:
    choice = registry().select("j", {"dataframe"}, input_bytes=MiB // 2)
    assert choice.engine == "duckdb"
    assert "0.5 MiB" in choice.reason and "auto" in choice.reason


def test_auto_input_exactly_at_the_limit_stays_in_process() -> None:
    assert registry().select("j", (), input_bytes=MiB).engine == "duckdb"
    assert registry().select("j", (), input_bytes=MiB + 1).engine == "spark"


def test_auto_unknown_size_goes_to_the_engine_without_limit() -> None:
    assert registry().select("j", (), input_bytes=None).engine == "spark"


def test_auto_requirement_rules_out_an_engine_whatever_the_size() -> None:
    assert registry().select("j", {"spark"}, input_bytes=0).engine == "spark"
    assert registry().select("j", {"distributed"}, input_bytes=0).engine == "spark"


def test_auto_in_process_requirement_keeps_duckdb_even_over_the_limit() -> None:
    choice = registry().select("j", {"in_process"}, input_bytes=10 * MiB)
    assert choice.engine == "duckdb"
    assert "exceeds" in choice.reason


def test_auto_without_spark_picks_duckdb_and_fails_when_spark_is_required() -> None:
    assert registry().select("j", (), input_bytes=None, has_spark=False).engine == "duckdb"
    with pytest.raises(EngineCapabilityError) as info:
        registry().select("ingest", {"spark"}, has_spark=False)
    assert "has_spark=false" in str(info.value)


def test_explicit_engine_lacking_a_capability_names_job_capability_and_engine() -> None:
    with pytest.raises(EngineCapabilityError) as info:
        registry().select("ingest_events", {"spark", "dataframe"}, requested="duckdb")
    err = info.value
    assert (err.job, err.engine, err.missing, err.able) == ("ingest_events", "duckdb", ["spark"], ["spark"])
    assert str(err).startswith("job 'ingest_events' requires spark, which engine 'duckdb' does not provide")
    assert "--engine spark" in str(err)
    assert err.exit_code == 2


def test_explicit_engine_is_used_regardless_of_size() -> None:
    assert registry().select("j", (), requested="duckdb", input_bytes=10**12).engine == "duckdb"
    assert registry().select("j", (), requested="spark", input_bytes=0).engine == "spark"


def test_explicit_spark_with_no_spark_is_a_usage_error_for_a_job_needing_a_session() -> None:
    with pytest.raises(UsageError, match="has_spark=false"):
        registry().select("j", {"dataframe"}, requested="spark", has_spark=False)
    # a job that requires nothing (pure Python, pyarrow) builds no session: nothing to refuse
    assert registry().select("j", (), requested="spark", has_spark=False).engine == "spark"


def without(*missing: str) -> Callable[[str], object | None]:
    """A ``find_spec`` for an environment where the packages ``missing`` are not installed."""
    import importlib.util

    return lambda name: None if name in missing else importlib.util.find_spec(name)


def test_auto_only_picks_an_installed_engine() -> None:
    no_duckdb = EngineRegistry.default(EngineSettings(), find_spec=without("sqlframe"))
    choice = no_duckdb.select("j", {"dataframe"}, input_bytes=0)
    assert choice.engine == "spark" and "duckdb not installed" in choice.reason
    no_spark = EngineRegistry.default(EngineSettings(in_process_max_input_mb=1), find_spec=without("pyspark"))
    assert no_spark.select("j", {"dataframe"}, input_bytes=10 * MiB).engine == "duckdb"  # over the limit
    with pytest.raises(UsageError, match=r"no engine that can run it is installed \(spark: pip install"):
        no_spark.select("train", {"spark"})


def test_explicit_engine_that_is_not_installed_names_the_install() -> None:
    no_duckdb = EngineRegistry.default(EngineSettings(), find_spec=without("duckdb"))
    with pytest.raises(UsageError) as info:
        no_duckdb.select("ingest", {"dataframe"}, requested="duckdb")
    assert "engine 'duckdb' is not installed" in str(info.value)
    assert "pip install 'sparkjobs[duckdb]'" in str(info.value) and info.value.exit_code == 2
    # a --no-spark job requiring nothing builds no session: the packages do not matter
    assert no_duckdb.select("j", (), requested="duckdb", has_spark=False).engine == "duckdb"


def test_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'flink'"):
        registry().get("flink")


def test_no_engine_provides_the_requirement() -> None:
    only_duck = EngineRegistry([Engine("duckdb", frozenset({"dataframe"}), "d", needs_jvm=False)])
    with pytest.raises(EngineCapabilityError, match="no configured engine provides it"):
        only_duck.select("j", {"streaming"})


def test_registry_order_is_the_preference() -> None:
    spark_first = EngineRegistry(list(reversed(registry().engines)))
    assert spark_first.select("j", (), input_bytes=0).engine == "spark"


def test_engines_declare_what_they_provide() -> None:
    reg = registry()
    assert reg.providing("spark") == ["spark"]
    assert reg.providing("dataframe") == ["duckdb", "spark"]
    assert reg.providing("in_process") == ["duckdb"]
    assert reg.able({"dataframe"}) == ["duckdb", "spark"]
    with pytest.raises(ValueError, match="unknown capabilities"):
        Engine("x", frozenset({"gpu"}), "x", needs_jvm=False)


# -- metadata and settings ----------------------------------------------------------------------------
def test_job_metadata_refuses_unknown_names() -> None:
    with pytest.raises(ValidationError, match=r"unknown engine requirements \['sparkk'\]"):
        JobMetadata(requires=frozenset({"sparkk"}))
    with pytest.raises(ValidationError, match=r"unknown capabilities \['incremntal'\]"):
        JobMetadata(capabilities=frozenset({"incremntal"}))


def test_engine_settings_defaults_and_bounds() -> None:
    assert EngineSettings().use == "auto"
    with pytest.raises(ValidationError):
        EngineSettings.model_validate({"use": "flink"})
    with pytest.raises(ValidationError):
        EngineSettings.model_validate({"duckdb": {"threads": 0}})


def test_input_size_of_local_and_remote_paths(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_bytes(b"x" * 100)
    (tmp_path / "a" / "sub").mkdir()
    (tmp_path / "a" / "sub" / "y.csv").write_bytes(b"y" * 23)
    (tmp_path / "z.csv").write_bytes(b"z" * 7)
    assert input_bytes([str(tmp_path / "a"), str(tmp_path / "z.csv"), str(tmp_path / "missing")]) == 130
    assert input_bytes([f"file://{tmp_path / 'z.csv'}"]) == 7
    assert input_bytes([str(tmp_path / "a"), "s3://bucket/events"]) is None
    assert local_path("hdfs://nn/x") is None


# -- through the executor -----------------------------------------------------------------------------
@pytest.fixture
def jobs(job_dir: Callable[[str, str], Path]) -> None:
    job_dir("acme.engines.sized", SIZED_JOB)
    job_dir("acme.engines.spark_only", SPARK_ONLY_JOB)
    job_dir("acme.engines.trainer", CONFIG_DEPENDENT_JOB)
    job_dir("acme.engines.undeclared", SIZED_JOB.replace(', requires=frozenset({"dataframe"})', ""))


def test_prepare_auto_measures_the_declared_input(jobs: None, tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "part.csv").write_bytes(b"x" * (3 * MiB))
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "engine.yml").write_text("engine:\n  use: auto\n  in_process_max_input_mb: 2\n")
    params = [f"input_path={data}"]
    big = prepare(RunRequest("acme.engines.sized", conf_dir=conf, params=params))
    assert big.context.engine == "spark" and "3.0 MiB" in big.context.engine_reason
    (conf / "base" / "engine.yml").write_text("engine:\n  use: auto\n  in_process_max_input_mb: 4\n")
    small = prepare(RunRequest("acme.engines.sized", conf_dir=conf, params=params))
    assert small.context.engine == "duckdb"
    assert small.plan()["engine"] == "duckdb" and "auto" in small.plan()["engine_reason"]


def test_prepare_engine_flag_wins_over_config(jobs: None, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "engine.yml").write_text("engine:\n  use: spark\n")
    assert prepare(RunRequest("acme.engines.sized", conf_dir=conf)).context.engine == "spark"
    flagged = prepare(RunRequest("acme.engines.sized", conf_dir=conf, engine="duckdb"))
    assert flagged.context.engine == "duckdb"
    assert flagged.layered.source_of(("engine", "use")) == "--engine"


def test_prepare_refuses_an_engine_lacking_a_requirement_before_any_work(jobs: None, tmp_path: Path) -> None:
    with pytest.raises(EngineCapabilityError) as info:
        prepare(RunRequest("acme.engines.spark_only", conf_dir=tmp_path, engine="duckdb"))
    assert "'spark_only' requires spark" in str(info.value) and "'duckdb'" in str(info.value)


def test_a_requirement_that_depends_on_the_config(jobs: None, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "engine.yml").write_text("engine:\n  use: auto\n")
    job = "acme.engines.trainer"
    assert prepare(RunRequest(job, conf_dir=conf)).context.engine == "duckdb"
    mllib = prepare(RunRequest(job, conf_dir=conf, params=["trainer=mllib"]))
    assert mllib.context.engine == "spark" and "requires dataframe, spark" in mllib.context.engine_reason
    with pytest.raises(EngineCapabilityError) as info:
        prepare(RunRequest(job, conf_dir=conf, params=["trainer=mllib"], engine="duckdb"))
    message = str(info.value)
    assert "'trainer' requires spark" in message and "'duckdb'" in message
    assert "trainer: mllib is Spark MLlib" in message and "--engine spark" in message


def test_auto_is_the_default_and_a_run_that_targets_a_cluster_goes_to_spark(
    jobs: None, tmp_path: Path
) -> None:
    job = "acme.engines.sized"
    local = prepare(RunRequest(job, conf_dir=tmp_path))  # no engine configured: auto
    assert local.context.engine == "duckdb" and local.context.engine_reason.startswith("auto")
    cluster = prepare(RunRequest(job, conf_dir=tmp_path, params=[], service_provider="spark-submit"))
    assert cluster.context.engine == "spark" and "distributed" in cluster.context.engine_reason
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "spark.yml").write_text("spark:\n  master: spark://head:7077\n")
    assert prepare(RunRequest(job, conf_dir=conf)).context.engine == "spark"
    (conf / "base" / "spark.yml").write_text("spark:\n  master: local[2]\n")
    assert prepare(RunRequest(job, conf_dir=conf)).context.engine == "duckdb"
    # a job that declares no requirement may use Spark's API directly: auto keeps it on Spark
    undeclared = prepare(RunRequest("acme.engines.undeclared", conf_dir=tmp_path))
    assert undeclared.context.engine == "spark" and "declares no requires" in undeclared.context.engine_reason
    # an explicit engine is used as asked
    (conf / "base" / "spark.yml").write_text("spark:\n  master: spark://head:7077\n")
    assert prepare(RunRequest(job, conf_dir=conf, engine="duckdb")).context.engine == "duckdb"


def test_cli_run_engine_flag_and_failure_exit_code(jobs: None, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["run", "acme.engines.sized", "--conf-dir", str(tmp_path), "--engine", "duckdb"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1])["result"] == {"engine": "duckdb"}
    bad = runner.invoke(
        cli, ["run", "acme.engines.spark_only", "--conf-dir", str(tmp_path), "--engine", "flink"]
    )
    assert bad.exit_code == 2
    refused = runner.invoke(
        cli, ["run", "acme.engines.spark_only", "--conf-dir", str(tmp_path), "--engine", "duckdb"]
    )
    assert refused.exit_code == 2
    assert "requires spark, which engine 'duckdb' does not provide" in refused.stderr


def test_cli_list_capability_matches_requirements_and_names_engines() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "--capability", "spark", "--format", "json"])
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["hello_spark"]["requires"] == ["spark"] and rows["hello_spark"]["engines"] == ["spark"]
    table = runner.invoke(cli, ["list", "--capability", "in_process"])
    assert "engines providing in_process: duckdb" in table.stdout


def test_cli_describe_shows_both_sides() -> None:
    out = CliRunner().invoke(cli, ["describe", "hello_spark"]).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("engines:"))
    assert "duckdb ✗ lacks spark" in line and "spark ✓" in line and "auto: spark" in line


# -- pipelines ---------------------------------------------------------------------------------------
def test_pipeline_engine_per_step_per_run_and_default() -> None:
    spec = PipelineSpec.model_validate(
        {
            "name": "p",
            "defaults": {"engine": "duckdb"},
            "steps": {"a": {}, "b": {"engine": "spark", "depends_on": ["a"]}},
        }
    )
    assert spec.engine_of("a") == "duckdb"
    assert spec.engine_of("a", "auto") == "auto"  # pipeline run --engine over defaults
    assert spec.engine_of("b", "duckdb") == "spark"  # the step's own wins
    plain = PipelineSpec.model_validate({"name": "q", "steps": {"a": {}}})
    assert plain.engine_of("a") is None
    with pytest.raises(ValidationError):
        PipelineSpec.model_validate({"name": "r", "steps": {"a": {"engine": "flink"}}})
