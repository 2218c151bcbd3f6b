"""AbstractJobFactory.run: validation, dependency building, create_job → job.run."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sparkjobs import AbstractJob, AbstractJobFactory, ConfigError, JobContext, JobContractError, make_main
from sparkjobs.errors import SparkUnavailableError
from tests.framework.conftest import MODEL_JOB, PORTED_JOB


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs called without conf/ write their run report under ./runs: keep it out of the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def square(job_dir: Callable[[str, str], Path]) -> Any:
    job_dir("acme.jobs.square", MODEL_JOB)
    module = importlib.import_module("acme.jobs.square")
    module.CALLS.clear()
    return module


def _samples(ctx: JobContext) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = ctx.metrics.exposition().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_seed_style_main_validates_types_and_calls_in_order(square: Any) -> None:
    result = square.main(n="7", label="seven", has_spark=False, service_provider="container")
    assert result == {"square": 49, "label": "seven"}
    names = [c[0] for c in square.CALLS]
    assert names == ["create_job", "execute_job", "on_success"]
    assert square.CALLS[0][1] == ["flag", "label", "n", "output", "password", "ratio", "tags"]
    executed = square.CALLS[1][1]
    assert executed["n"] == 7 and executed["label"] == "seven" and executed["ratio"] == 0.5


def test_context_carries_reserved_kwargs(square: Any) -> None:
    ctx = JobContext(
        job_name="square",
        env="prod",
        service_provider="emr",
        has_spark=False,
        event_date=date(2024, 2, 29),
        run_id="r-1",
    )
    square.main(n=2, context=ctx)
    assert ctx.metrics.job == "square"
    samples = _samples(ctx)
    assert samples[("sparkjobs_job_attempts_total", (("job", "square"),))] == 1.0
    assert samples[("sparkjobs_job_success", (("job", "square"),))] == 1.0


def test_unknown_parameter_is_named_with_a_suggestion(square: Any) -> None:
    with pytest.raises(ConfigError) as info:
        square.main(n=1, lable="typo", has_spark=False)
    msg = str(info.value)
    assert "unknown parameter 'jobs.square.lable'" in msg
    assert "did you mean 'label'" in msg
    assert square.CALLS == []  # nothing ran


def test_nested_unknown_and_bad_type_are_both_reported(square: Any) -> None:
    with pytest.raises(ConfigError) as info:
        square.main(n="many", output={"path": "x", "fromat": "csv"}, has_spark=False)
    msg = str(info.value)
    assert "2 errors" in msg
    assert "jobs.square.n = 'many'" in msg and "valid integer" in msg
    assert "unknown parameter 'jobs.square.output.fromat'" in msg and "did you mean 'format'" in msg


def test_missing_required_parameter(square: Any) -> None:
    with pytest.raises(ConfigError, match=r"missing required parameter 'jobs\.square\.n'"):
        square.main(has_spark=False)


def test_failure_is_reraised_and_recorded(square: Any) -> None:
    ctx = JobContext(job_name="square", has_spark=False)
    with pytest.raises(ValueError, match="negative n -3"):
        square.main(n=-3, context=ctx)
    assert [c[0] for c in square.CALLS] == ["create_job", "execute_job", "on_failure"]
    assert square.CALLS[2][1] == "ValueError: negative n -3"
    assert _samples(ctx)[("sparkjobs_job_success", (("job", "square"),))] == 0.0


def test_ported_job_without_model_gets_params_as_given(job_dir: Callable[[str, str], Path]) -> None:
    job_dir("legacy.filter_images", PORTED_JOB)
    module = importlib.import_module("legacy.filter_images")
    out = module.main(base_path="s3://b/x", year=2024, has_spark="true", service_provider="glue")
    assert out == {"base_path": "s3://b/x", "year": 2024}
    assert module.SEEN == {"base_path": "s3://b/x", "year": 2024}


def test_spark_is_refused_when_has_spark_is_false() -> None:
    class NeedsSpark(AbstractJobFactory):
        def create_job(self, **kwargs: Any) -> AbstractJob:
            self.spark  # noqa: B018
            raise AssertionError("unreachable")

    with pytest.raises(SparkUnavailableError, match="--no-spark"):
        make_main(NeedsSpark)(has_spark=False)


def test_create_job_must_return_a_job() -> None:
    class Broken(AbstractJobFactory):
        def create_job(self, **kwargs: Any) -> AbstractJob:
            return "not a job"  # type: ignore[return-value]

    with pytest.raises(JobContractError, match="returned str, expected an AbstractJob"):
        make_main(Broken)(has_spark=False)


def test_partitions_and_salt_reach_the_settings_explicitly() -> None:
    seen: dict[str, int] = {}

    class Probe(AbstractJobFactory):
        def create_job(self, **kwargs: Any) -> AbstractJob:
            seen["partitions"] = self.context.settings.spark.shuffle_partitions
            seen["salt"] = self.context.settings.spark.salt_buckets
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError):
        make_main(Probe)(has_spark=False, partitions=17, salt=24)
    assert seen == {"partitions": 17, "salt": 24}


ALIASED_JOB = '''
"""A job whose model uses an alias, a before-validator and a field named like a reserved kwarg."""
from typing import Any
from pydantic import BaseModel, Field, SecretStr, field_validator
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

VALIDATIONS: list = []

class Cfg(BaseModel):
    input_path: str = Field("in", alias="input-path")
    items: list[str] = []
    env: str = "field-default"
    event_date: str = "not-a-date"
    token: SecretStr = SecretStr("default-token")

    @field_validator("items", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        VALIDATIONS.append(value)
        return value.split(",") if isinstance(value, str) else value

class J(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        return {k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in kwargs.items()}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Cfg]):
    config_model = Cfg
    def create_job(self, **kwargs: Any) -> J:
        return J()

main = make_main(F)
'''


@pytest.fixture
def aliased(job_dir: Callable[[str, str], Path]) -> Any:
    job_dir("acme.jobs.aliased", ALIASED_JOB)
    module = importlib.import_module("acme.jobs.aliased")
    module.VALIDATIONS.clear()
    return module


def test_executor_validates_once_and_aliases_survive(aliased: Any, tmp_path: Path) -> None:
    from sparkjobs.executor import RunRequest, execute, prepare

    request = RunRequest(
        job="acme.jobs.aliased",
        conf_dir=tmp_path,
        has_spark=False,
        params=("input-path=s3://b/in", "items=a,b", "token=s3cr3t-value"),
    )
    result = execute(prepare(request, environ={}))
    assert result == {
        "input_path": "s3://b/in",
        "items": ["a", "b"],
        "env": "field-default",
        "event_date": "not-a-date",
        "token": "s3cr3t-value",
    }
    assert aliased.VALIDATIONS == ["a,b"]  # the executor's validation is reused, not repeated


def test_a_field_named_like_a_reserved_kwarg_is_not_dropped(aliased: Any, tmp_path: Path) -> None:
    from sparkjobs.executor import RunRequest, execute, prepare

    request = RunRequest(
        job="acme.jobs.aliased",
        env="dev",
        conf_dir=tmp_path,
        has_spark=False,
        event_date="2024-05-06",
        params=("env=from-param", "event_date=also-a-param"),
    )
    prepared = prepare(request, environ={})
    result = execute(prepared)
    assert result["env"] == "from-param" and result["event_date"] == "also-a-param"
    assert prepared.context.env == "dev" and prepared.context.event_date == date(2024, 5, 6)


def test_seed_style_call_gives_a_reserved_name_to_context_and_model(aliased: Any) -> None:
    result = aliased.main(env="staging", has_spark=False)
    assert result["env"] == "staging"


def test_seed_style_bad_partitions_is_a_usage_error(square: Any) -> None:
    from sparkjobs.errors import UsageError

    with pytest.raises(UsageError, match="partitions"):
        square.main(n=1, has_spark=False, partitions="many")
    with pytest.raises(UsageError, match="partitions"):
        square.main(n=1, has_spark=False, partitions=0)


def test_unknown_key_suggests_the_alias_users_write(aliased: Any) -> None:
    with pytest.raises(ConfigError) as info:
        aliased.main(input_pth="x", has_spark=False)
    assert "did you mean 'input-path'" in str(info.value)
