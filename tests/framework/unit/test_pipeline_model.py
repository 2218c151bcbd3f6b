"""Pipeline definitions: validation with clear errors, DAG order, Mermaid text, schedules, state settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.config.layers import load_layers
from sparkjobs.errors import ConfigError
from sparkjobs.pipeline.dag import check_dependencies, downstream_of, find_cycle, topological_order
from sparkjobs.pipeline.errors import PipelineNotFoundError
from sparkjobs.pipeline.model import (
    DEFAULT_STEP_RETRY,
    PipelineSpec,
    ScheduleSpec,
    StateSettings,
    iter_pipelines,
    load_pipeline,
    load_state_settings,
)
from sparkjobs.pipeline.workspace import Invocation, Workspace

ROOT = Path(__file__).resolve().parents[3]


def spec(steps: dict[str, Any], **extra: Any) -> PipelineSpec:
    return PipelineSpec.model_validate({"name": "p", "steps": steps, **extra})


# -- DAG -------------------------------------------------------------------------------------------
def test_order_puts_dependencies_first_and_keeps_declaration_order_among_ready_steps() -> None:
    deps = {"load": ["build"], "ingest": [], "build": ["ingest", "items"], "items": [], "report": []}
    assert topological_order(deps) == ["ingest", "items", "build", "load", "report"]


def test_diamond_order() -> None:
    deps = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert topological_order(deps) == ["a", "b", "c", "d"]
    assert downstream_of(deps, "b") == {"d"}
    assert downstream_of(deps, "a") == {"b", "c", "d"}


def test_cycle_is_reported_with_its_path() -> None:
    deps = {"a": ["c"], "b": ["a"], "c": ["b"], "d": []}
    assert find_cycle(deps) == ["a", "c", "b", "a"]
    with pytest.raises(ConfigError) as err:
        check_dependencies(deps, where="pipelines.daily")
    assert "cycle: a -> c -> b -> a" in str(err.value)
    assert err.value.key == "pipelines.daily.steps"


def test_unknown_dependency_names_the_step_and_suggests_a_close_name() -> None:
    with pytest.raises(ConfigError) as err:
        spec({"ingest_events": {}, "build": {"depends_on": ["ingest_event"]}})
    message = str(err.value)
    assert "step 'build' depends on unknown step 'ingest_event'" in message
    assert "did you mean 'ingest_events'" in message
    assert err.value.key == "pipelines.p.steps.build.depends_on"


def test_self_dependency_and_duplicates_are_errors() -> None:
    with pytest.raises(ConfigError, match="step 'a' depends on itself"):
        spec({"a": {"depends_on": ["a"]}})
    with pytest.raises(ConfigError, match="lists 'a' twice"):
        spec({"a": {}, "b": {"depends_on": ["a", "a"]}})


def test_a_cycle_in_config_is_a_config_error_not_a_pydantic_dump() -> None:
    with pytest.raises(ConfigError, match=r"cycle: x -> y -> x"):
        spec({"x": {"depends_on": ["y"]}, "y": {"depends_on": ["x"]}})


# -- the model -------------------------------------------------------------------------------------
def test_step_defaults_and_overrides() -> None:
    p = spec(
        {
            "ingest": {},
            "load": {
                "job": "acme.load",
                "depends_on": ["ingest"],
                "timeout_s": 30,
                "has_spark": False,
                "retry": {"strategy": "fixed", "max_attempts": 5, "initial_delay_s": 2},
            },
        },
        defaults={"timeout_s": 600, "retry": {"max_attempts": 2}},
    )
    assert p.job_of("ingest") == "ingest"
    assert p.job_of("load") == "acme.load"
    assert p.timeout_of("ingest") == 600
    assert p.timeout_of("load") == 30
    assert p.has_spark_of("ingest") is True
    assert p.has_spark_of("load") is False
    assert p.retry_of("ingest").max_attempts == 2
    assert (p.retry_of("load").strategy, p.retry_of("load").max_attempts) == ("fixed", 5)
    assert p.mode == "incremental"


def test_default_retry_retries_only_transient_errors() -> None:
    p = spec({"a": {}})
    assert p.retry_of("a") == DEFAULT_STEP_RETRY
    assert DEFAULT_STEP_RETRY.retry_on == "transient"
    assert DEFAULT_STEP_RETRY.max_attempts == 3


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [
        ({}, "steps"),
        ({"a": {"jobb": "x"}}, "unknown parameter 'pipelines.p.steps.a.jobb'"),
        ({"a": {"timeout_s": 0}}, "timeout_s"),
        ({"bad name": {}}, "bad step name 'bad name'"),
        ({"a": {"retry": {"strategy": "sometimes"}}}, "strategy"),
    ],
)
def test_invalid_definitions_name_the_key(steps: dict[str, Any], fragment: str, tmp_path: Path) -> None:
    base = tmp_path / "conf" / "base"
    base.mkdir(parents=True)
    import yaml

    (base / "pipelines.yml").write_text(yaml.safe_dump({"pipelines": {"p": {"steps": steps}}}))
    layered = load_layers(tmp_path / "conf", "dev", environ={})
    with pytest.raises(ConfigError) as err:
        load_pipeline(layered, "p")
    assert fragment in str(err.value)


def test_mermaid_graph() -> None:
    p = spec(
        {
            "ingest": {},
            "build": {"depends_on": ["ingest"]},
            "load": {"job": "x.load", "depends_on": ["build"]},
        }
    )
    assert p.mermaid() == (
        "flowchart LR\n"
        '    ingest["ingest"]\n'
        '    build["build"]\n'
        '    load["load<br/>job: x.load"]\n'
        "    ingest --> build\n"
        "    build --> load\n"
    )


def test_mermaid_with_run_statuses() -> None:
    p = spec({"a": {}, "b-2": {"depends_on": ["a"]}})
    text = p.mermaid(statuses={"a": "success", "b-2": "failed"}, direction="TD")
    assert text.splitlines()[0] == "flowchart TD"
    assert "    a --> b_2" in text
    assert "    class a success" in text
    assert "    class b_2 failed" in text
    assert "    classDef failed fill:#f9d0d0,stroke:#c62828" in text


# -- schedules -------------------------------------------------------------------------------------
def test_schedule_validation() -> None:
    with pytest.raises(ValueError, match="not a valid cron expression"):
        ScheduleSpec(cron="0 25 * * *")
    with pytest.raises(ValueError, match="not a valid cron expression"):
        ScheduleSpec(cron="* * *")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        ScheduleSpec(cron="0 2 * * *", timezone="Mars/Olympus")
    assert ScheduleSpec(cron="  0   2 * * *").cron == "0 2 * * *"


def test_logical_date_is_the_day_before_the_fire_in_the_schedule_zone() -> None:
    utc = ScheduleSpec(cron="0 2 * * *")
    fire = utc.next_fire(datetime(2024, 3, 10, 1, 0, tzinfo=UTC))
    assert fire == datetime(2024, 3, 10, 2, 0, tzinfo=UTC)
    assert utc.logical_date(fire) == date(2024, 3, 9)
    # 00:30 in Berlin is 23:30 UTC the day before: the logical date follows the schedule's zone
    berlin = ScheduleSpec(cron="30 0 * * *", timezone="Europe/Berlin")
    fire = berlin.next_fire(datetime(2024, 3, 9, 22, 0, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2024, 3, 9, 23, 30, tzinfo=UTC)
    assert berlin.logical_date(fire) == date(2024, 3, 9)


def test_prev_fire_includes_an_exact_fire_time() -> None:
    s = ScheduleSpec(cron="0 2 * * *")
    assert s.prev_fire(datetime(2024, 3, 10, 2, 0, tzinfo=UTC)) == datetime(2024, 3, 10, 2, 0, tzinfo=UTC)
    assert s.prev_fire(datetime(2024, 3, 10, 1, 59, tzinfo=UTC)) == datetime(2024, 3, 9, 2, 0, tzinfo=UTC)


def test_seconds_field_cron() -> None:
    s = ScheduleSpec(cron="* * * * * */2")
    assert s.has_seconds
    start = datetime(2024, 3, 10, 12, 0, 1, tzinfo=UTC)
    assert s.next_fire(start) == datetime(2024, 3, 10, 12, 0, 2, tzinfo=UTC)
    assert s.logical_date(s.next_fire(start)) == date(2024, 3, 9)


# -- state settings and loading from conf/ ---------------------------------------------------------
def test_state_settings_defaults_and_checks() -> None:
    state = StateSettings()
    assert state.url == "sqlite:///state/pipeline.db"
    with pytest.raises(ValueError, match="at least twice heartbeat_s"):
        StateSettings(heartbeat_s=60, stale_after_s=90)
    with pytest.raises(ValueError, match="expected sqlite"):
        StateSettings(url="mysql://x")


def test_loading_from_layers_with_env_override_and_env_variables(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "prod").mkdir()
    (conf / "base" / "pipelines.yml").write_text(
        "state:\n  url: sqlite:///state/x.db\n"
        "pipelines:\n  daily:\n    steps:\n      a: {}\n      b: {depends_on: [a], timeout_s: 10}\n"
    )
    (conf / "prod" / "pipelines.yml").write_text(
        "pipelines:\n  daily:\n    steps:\n      b: {timeout_s: 99}\n"
    )
    environ = {"SPARKJOBS__STATE__HEARTBEAT_S": "5", "SPARKJOBS__PIPELINES__DAILY__STEPS__A__TIMEOUT_S": "7"}
    layered = load_layers(conf, "prod", environ=environ)
    daily = load_pipeline(layered, "daily")
    assert daily.timeout_of("b") == 99
    assert daily.timeout_of("a") == 7
    assert daily.steps["b"].depends_on == ["a"]
    state = load_state_settings(layered)
    assert (state.url, state.heartbeat_s) == ("sqlite:///state/x.db", 5.0)


def test_unknown_pipeline_suggests_names(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "p.yml").write_text("pipelines:\n  recommendations_daily:\n    steps: {a: {}}\n")
    layered = load_layers(conf, "dev", environ={})
    with pytest.raises(PipelineNotFoundError, match="did you mean: recommendations_daily"):
        load_pipeline(layered, "recommendation_daily")
    with pytest.raises(PipelineNotFoundError, match="configured pipelines: recommendations_daily"):
        load_pipeline(layered, "zzz")


def test_a_broken_pipeline_does_not_hide_the_others(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base" / "p.yml").write_text(
        "pipelines:\n  good:\n    steps: {a: {}}\n  bad:\n    steps: {a: {depends_on: [nope]}}\n"
    )
    found = dict(iter_pipelines(load_layers(conf, "dev", environ={})))
    assert isinstance(found["good"], PipelineSpec)
    assert isinstance(found["bad"], ConfigError)


def test_the_reference_pipeline_in_conf_base() -> None:
    layered = load_layers(ROOT / "conf", "dev", environ={})
    p = Workspace.load(Invocation(conf_dir=ROOT / "conf", environ={})).pipeline("recommendations_daily")
    assert p.order() == ["ingest_events", "build_recommendations", "load_recommendations"]
    # no depends_on in conf/base/pipelines.yml: the order comes from the catalog datasets
    assert p.explicit_dependencies == {name: [] for name in p.steps}
    assert p.dependencies == {
        "ingest_events": [],
        "build_recommendations": ["ingest_events"],  # reads bronze_events
        "load_recommendations": ["build_recommendations"],  # reads gold
    }
    assert p.steps["load_recommendations"].inputs == ["gold"]
    assert p.schedule is not None
    assert (p.schedule.cron, p.schedule.timezone) == ("0 2 * * *", "UTC")
    assert p.retry_of("load_recommendations").max_attempts == 5
    assert p.retry_of("ingest_events").retry_on == "transient"
    assert load_state_settings(layered).url == "sqlite:///state/pipeline.db"
