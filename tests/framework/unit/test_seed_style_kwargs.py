"""A hand-written seed-style ``main(**kwargs)`` reads ``kwargs["has_spark"]`` and the provider.

Seed 002: the entry points add ``service_provider`` and ``has_spark`` to the job parameters. The module
under test (``seed_style/echo_platform_job_factory.py``) is written by hand the seeds' way, not with
``make_main``: its factory's ``__init__`` indexes both keys, so it fails with ``KeyError`` unless the
executor passes them in kwargs next to ``context``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.entrypoints import container, glue
from sparkjobs.entrypoints.arguments import Platform
from sparkjobs.entrypoints.launcher import run_entrypoint
from sparkjobs.errors import UsageError
from sparkjobs.executor import RunRequest, prepare
from tests.framework.unit.seed_style import echo_platform_job_factory

SEED_MODULE = "tests.framework.unit.seed_style.echo_platform_job_factory"

#: a model that declares has_spark itself, with a default the run may contradict
MODEL_WITH_HAS_SPARK = """
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Config(BaseModel):
    has_spark: bool = False
    rows: int = 1

class J(AbstractJob):
    def __init__(self, config):
        self.config = config
    def execute_job(self, **kwargs: Any) -> Any:
        return {"model_has_spark": self.config.has_spark, "kwargs": sorted(kwargs)}
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Config]):
    config_model = Config
    def create_job(self, **kwargs: Any) -> J:
        return J(self.config)

main = make_main(F)
"""


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SPARKJOBS"):
            monkeypatch.delenv(key)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return root


def _entry(platform: Platform, argv: list[str]) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_entrypoint(argv, platform, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    return code, (json.loads(lines[-1])["result"] if code == 0 else None), err.getvalue()


def test_glue_entry_point_passes_has_spark_and_service_provider_in_kwargs(conf: Path) -> None:
    argv = ["--JOB_NAME", "nightly", "--module_name", SEED_MODULE, "--who", "glue", "--has_spark", "false"]
    code, result, err = _entry(glue.PLATFORM, [*argv, "--conf_dir", str(conf)])
    assert code == 0, err
    assert result == {
        "factory_has_spark": False,
        "factory_service_provider": "glue",
        "main_saw": {"has_spark": False, "service_provider": "glue", "who": "glue"},
        # the job itself gets its parameters only: has_spark/service_provider live on the context
        "job_params": {"who": "glue"},
    }


def test_container_entry_point_with_its_local_provider(conf: Path) -> None:
    argv = ["--module_name", SEED_MODULE, "--service_provider", "local", "--no_spark"]
    argv += ["--conf_dir", str(conf)]
    code, result, err = _entry(container.PLATFORM, argv)
    assert code == 0, err
    assert result["main_saw"] == {"has_spark": False, "service_provider": "local"}
    assert (result["factory_has_spark"], result["factory_service_provider"]) == (False, "local")
    assert result["job_params"] == {}


def test_sparkjobs_run_passes_them_too(conf: Path) -> None:
    args = ["run", SEED_MODULE, "--no-spark", "--service-provider", "container", "-p", "n=3"]
    result = CliRunner().invoke(cli, [*args, "--conf-dir", str(conf)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout.strip().splitlines()[-1])["result"]
    assert payload["main_saw"] == {"has_spark": False, "n": 3, "service_provider": "container"}
    assert payload["job_params"] == {"n": 3}


def test_called_seeds_style_without_a_context_gives_the_same_answer() -> None:
    """The seeds' own entry point calls ``main(**kwargs)`` with the reserved keys and no context."""
    result = echo_platform_job_factory.main(has_spark=False, service_provider="glue", who="glue")
    assert result == {
        "factory_has_spark": False,
        "factory_service_provider": "glue",
        "main_saw": {"has_spark": False, "service_provider": "glue", "who": "glue"},
        "job_params": {"who": "glue"},
    }


def test_a_model_field_named_has_spark_must_agree_with_the_run(
    conf: Path, job_dir: Callable[[str, str], Path]
) -> None:
    job_dir("acme.jobs.declares_has_spark", MODEL_WITH_HAS_SPARK)
    with pytest.raises(UsageError, match=r"parameter has_spark=False, but this run has has_spark=True"):
        prepare(RunRequest(job="acme.jobs.declares_has_spark", conf_dir=conf))
    argv = ["acme.jobs.declares_has_spark", "--no_spark", "--conf_dir", str(conf)]
    code, result, err = _entry(container.PLATFORM, argv)
    assert code == 0, err
    # the model declares it, so the model gets it (once) and the job sees it among its parameters
    assert result == {"model_has_spark": False, "kwargs": ["has_spark", "rows"]}
