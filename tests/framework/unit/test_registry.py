"""Resolving jobs by dotted path and by entry point; plugin metadata; clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sparkjobs.errors import JobContractError, JobNotFoundError
from sparkjobs.registry import list_jobs, resolve
from tests.framework.conftest import MODEL_JOB, NO_MAIN, PORTED_JOB


def test_dotted_module_path(job_dir: Callable[[str, str], Path]) -> None:
    job_dir("acme.jobs.square", MODEL_JOB)
    spec = resolve("acme.jobs.square")
    assert (spec.name, spec.module_name, spec.origin) == ("square", "acme.jobs.square", "module path")
    assert spec.metadata.version == "2.1.0"
    assert spec.config_model is not None and spec.config_model.__name__ == "SquareConfig"


def test_third_party_entry_points_register_jobs(
    job_dir: Callable[[str, str], Path], plugin: Callable
) -> None:
    job_dir("thirdparty.jobs.square", MODEL_JOB)
    job_dir("thirdparty.jobs.echo", PORTED_JOB)
    plugin("thirdparty-jobs", {"tp_square": "thirdparty.jobs.square", "tp_echo": "thirdparty.jobs.echo"})
    spec = resolve("tp_square")
    assert spec.module_name == "thirdparty.jobs.square"
    assert spec.origin == "entry point (thirdparty-jobs)"
    by_name = {s.name: m for s, m in list_jobs()}
    assert by_name["tp_square"].stage == "silver"
    # no metadata declared: the description is the module docstring's first line
    assert (
        by_name["tp_echo"].description
        == "A job ported as-is from the seeds: no config model, hand-written main."
    )
    silver_incremental = {s.name for s, _ in list_jobs(stage="silver", capability="incremental")}
    assert "tp_square" in silver_incremental and "tp_echo" not in silver_incremental
    assert "tp_square" not in {s.name for s, _ in list_jobs(stage="gold")}
    assert "tp_square" not in {s.name for s, _ in list_jobs(capability="distributed")}
    # a dotted path to a registered module keeps its registered name
    assert resolve("thirdparty.jobs.square").name == "tp_square"


def test_broken_plugin_is_listed_with_its_error(
    job_dir: Callable[[str, str], Path], plugin: Callable
) -> None:
    job_dir("brokenpkg.nomain", NO_MAIN)
    plugin("broken-jobs", {"broken_job": "brokenpkg.nomain"})
    found = dict((s.name, m) for s, m in list_jobs())
    assert isinstance(found["broken_job"], JobContractError)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(JobNotFoundError) as info:
        resolve("helo_spark")
    assert info.value.close_matches == ["hello_spark"]
    assert "did you mean: hello_spark?" in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_dotted_path() -> None:
    with pytest.raises(JobNotFoundError, match="no module 'nosuchpkg'"):
        resolve("nosuchpkg.jobs.daily")


def test_not_a_module_path() -> None:
    with pytest.raises(JobNotFoundError, match="not a registered name or a dotted module path"):
        resolve("my-job/v2")


def test_module_without_main(job_dir: Callable[[str, str], Path]) -> None:
    job_dir("acme.nomain", NO_MAIN)
    with pytest.raises(JobContractError, match=r"'acme.nomain' has no main\(\*\*kwargs\)"):
        resolve("acme.nomain")


def test_module_with_a_missing_dependency(job_dir: Callable[[str, str], Path]) -> None:
    job_dir("acme.needs", "import not_installed_lib_xyz\ndef main(**kw):\n    return 1\n")
    with pytest.raises(JobContractError, match="needs 'not_installed_lib_xyz', which is not installed"):
        resolve("acme.needs")


def test_two_distributions_registering_one_name_is_a_clear_error(
    job_dir: Callable[[str, str], Path], plugin: Callable
) -> None:
    job_dir("pkg_one.jobs.daily", MODEL_JOB)
    job_dir("pkg_two.jobs.daily", PORTED_JOB)
    plugin("pkg-one", {"daily": "pkg_one.jobs.daily"})
    plugin("pkg-two", {"daily": "pkg_two.jobs.daily"})
    with pytest.raises(JobContractError) as info:
        resolve("daily")
    msg = str(info.value)
    assert "pkg-one" in msg and "pkg-two" in msg
    assert "pkg_one.jobs.daily" in msg and "pkg_two.jobs.daily" in msg
    # the dotted path still picks one explicitly
    assert resolve("pkg_two.jobs.daily").module_name == "pkg_two.jobs.daily"
    listed = {s.name: m for s, m in list_jobs()}
    assert isinstance(listed["daily"], JobContractError)


def test_one_name_registered_twice_for_the_same_module_is_not_a_conflict(
    job_dir: Callable[[str, str], Path], plugin: Callable
) -> None:
    job_dir("pkg_same.jobs.daily", MODEL_JOB)
    plugin("pkg-same", {"same_daily": "pkg_same.jobs.daily"})
    plugin("pkg-same-copy", {"same_daily": "pkg_same.jobs.daily"})
    assert resolve("same_daily").module_name == "pkg_same.jobs.daily"


def test_any_plain_stage_name_is_listed_and_filtered(
    job_dir: Callable[[str, str], Path], plugin: Callable
) -> None:
    job_dir("martpkg.jobs.revenue", MODEL_JOB.replace('stage="silver"', 'stage="marts"'))
    plugin("mart-jobs", {"mart_revenue": "martpkg.jobs.revenue"})
    assert {s.name for s, _ in list_jobs(stage="marts")} == {"mart_revenue"}
    assert "mart_revenue" not in {s.name for s, _ in list_jobs(stage="silver")}


@pytest.mark.parametrize("bad", ["Gold", "", "raw data", "x" * 41, "9lives"])
def test_a_stage_must_be_a_plain_lower_case_name(bad: str) -> None:
    from pydantic import ValidationError

    from sparkjobs.metadata import JobMetadata

    with pytest.raises(ValidationError, match=r"bad stage .* such as bronze, silver, gold"):
        JobMetadata(stage=bad)
