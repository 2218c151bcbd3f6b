"""Placeholders in config values: ``{event_date}``, ``{event_date:%Y/%m/%d}``, windows, escapes, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.config.templates import render_text, render_tree, template_vars
from sparkjobs.config_show import show_config
from sparkjobs.errors import ConfigError
from sparkjobs.executor import RunRequest, prepare
from tests.framework.conftest import MODEL_JOB, PORTED_JOB

DAY = date(2024, 1, 31)
VALUES = template_vars(event_date=DAY, run_id="R1", env="prod", job="square")
WINDOWED = template_vars(event_date=DAY, run_id="R1", env="prod", job="square", window_days=7)

WINDOW_JOB = '''
"""A job with a window."""
from typing import Any
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Cfg(BaseModel):
    window_days: int = 3
    source: str = "in"

class J(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        return kwargs
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Cfg]):
    config_model = Cfg
    def create_job(self, **kwargs: Any) -> J:
        return J()

main = make_main(F)
'''


def render(text: str, values: dict[str, Any] = VALUES) -> str:
    return render_text(text, values, key="jobs.square.path", file="conf/base/jobs.yml")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("raw/{event_date}/", "raw/2024-01-31/"),
        ("raw/{event_date:%Y/%m/%d}/part", "raw/2024/01/31/part"),
        ("dt={event_date:%Y%m%d}", "dt=20240131"),
        ("tmp/{env}/{job}/{run_id}", "tmp/prod/square/R1"),
        ("no placeholders", "no placeholders"),
        ("literal {{braces}} and {event_date}", "literal {braces} and 2024-01-31"),
        ("{{event_date}}", "{event_date}"),
    ],
)
def test_placeholders_render(template: str, expected: str) -> None:
    assert render(template) == expected


def test_window_placeholders_need_a_window() -> None:
    assert render("{window_start}..{window_end:%d}", WINDOWED) == "2024-01-25..31"
    with pytest.raises(ConfigError, match="needs a window: set window_days"):
        render("{window_start}")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("raw/{evnt_date}/", r"unknown placeholder \{evnt_date\} \(did you mean \{event_date\}\?\)"),
        ("raw/{today}/", r"unknown placeholder \{today\}"),
        ("{event_date.year}", r"attributes and indexes are not supported; use a format instead"),
        ("{event_date!r}", r"has a conversion"),
        ("{event_date:>12}", r"must be a strftime pattern"),
        ("{env:%Y}", r"only dates take a format"),
        ("raw/{event_date", r"bad placeholder syntax"),
        ("raw/}", r"bad placeholder syntax"),
        ("{}", r"unknown placeholder \{\}"),
    ],
)
def test_bad_placeholders_name_file_key_placeholder_and_known_names(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        render(template)
    err = info.value
    assert (err.key, err.file, err.value) == ("jobs.square.path", "conf/base/jobs.yml", template)
    assert err.expected is not None
    assert "{event_date}, {run_id}, {env}, {job}" in err.expected
    assert "write {{ and }} for literal braces" in err.expected


def test_tree_renders_nested_text_and_lists_but_not_secret_keys() -> None:
    rendered: dict[tuple[str, ...], str] = {}
    tree = {
        "input": {"path": "raw/{event_date}", "n": 3},
        "paths": ["a/{env}", "b"],
        "password": "p{w}d",
        "flag": True,
    }
    out = render_tree(tree, VALUES, sources={}, prefix=("jobs", "x"), rendered=rendered)
    assert out == {
        "input": {"path": "raw/2024-01-31", "n": 3},
        "paths": ["a/prod", "b"],
        "password": "p{w}d",
        "flag": True,
    }
    assert rendered == {("input", "path"): "raw/{event_date}", ("paths",): "a/{env}"}
    assert tree["input"]["path"] == "raw/{event_date}"  # the input is not changed


def test_tree_error_names_the_source_of_the_leaf() -> None:
    sources = {("input", "path"): "conf/prod/jobs.yml"}
    with pytest.raises(ConfigError) as info:
        render_tree({"input": {"path": "{nope}"}}, VALUES, sources=sources, prefix=("jobs", "x"))
    assert (info.value.key, info.value.file) == ("jobs.x.input.path", "conf/prod/jobs.yml")


# -- through prepare(): config show and --dry-run print rendered values ---------------------------------
@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    job_dir("legacy.echo", PORTED_JOB)
    job_dir("acme.jobs.windowed", WINDOW_JOB)
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    return root


def req(conf: Path, job: str = "acme.jobs.square", **kw: Any) -> RunRequest:
    return RunRequest(job=job, conf_dir=conf, has_spark=False, event_date="2024-01-31", **kw)


def test_prepare_renders_job_values_and_shows_the_template(conf: Path) -> None:
    (conf / "base" / "jobs.yml").write_text(
        "jobs:\n  square:\n    n: 2\n    output: {path: 'lake/{event_date:%Y/%m}/{env}'}\n"
    )
    prepared = prepare(req(conf, run_id="RID"), {})
    # rendered, then taken from the project root (the folder holding conf/)
    rendered = str(conf.parent / "lake/2024/01/dev")
    assert prepared.config.output.path == rendered
    plan = prepared.plan()
    assert plan["params"]["output"]["path"] == rendered
    assert plan["templates"] == {"event_date": "2024-01-31", "run_id": "RID", "env": "dev", "job": "square"}
    rows = {k: (v, s) for k, v, s in show_config(req(conf), {})}
    value, source = rows["jobs.square.output.path"]
    assert value == rendered
    assert source == f"{conf / 'base' / 'jobs.yml'}; rendered from 'lake/{{event_date:%Y/%m}}/{{env}}'"


def test_param_text_is_rendered_and_yaml_braces_are_not_placeholders(conf: Path) -> None:
    prepared = prepare(req(conf, params=["n=2", "label=in/{event_date}", "tags=[a, b]"]), {})
    assert (prepared.config.label, prepared.config.tags) == ("in/2024-01-31", ["a", "b"])
    ported = prepare(req(conf, job="legacy.echo", params=["opts=[1, '{env}']", "where=x/{job}"]), {})
    assert ported.params == {"opts": [1, "dev"], "where": "x/echo"}


def test_window_comes_from_the_config_or_the_model_default(conf: Path) -> None:
    (conf / "base" / "jobs.yml").write_text(
        "jobs:\n  windowed:\n    source: 'in/{window_start}_{window_end}'\n"
    )
    assert prepare(req(conf, job="acme.jobs.windowed"), {}).config.source == "in/2024-01-29_2024-01-31"
    seven = prepare(req(conf, job="acme.jobs.windowed", params=["window_days=7"]), {})
    assert seven.config.source == "in/2024-01-25_2024-01-31"
    with pytest.raises(ConfigError, match="window_days must be a whole number") as info:
        prepare(req(conf, job="acme.jobs.windowed", params=["window_days=0"]), {})
    assert (info.value.key, info.value.file) == ("jobs.windowed.window_days", "--param")


def test_unknown_placeholder_in_a_file_names_the_file_and_key(conf: Path) -> None:
    (conf / "base" / "jobs.yml").write_text("jobs:\n  square:\n    n: 2\n    label: 'in/{evnt_date}'\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf), {})
    err = info.value
    assert (err.key, err.file) == ("jobs.square.label", str(conf / "base" / "jobs.yml"))
    assert "unknown placeholder {evnt_date} (did you mean {event_date}?)" in err.message


def test_cli_dry_run_prints_rendered_values_and_a_bad_placeholder_exits_2(conf: Path) -> None:
    from click.testing import CliRunner

    from sparkjobs.cli import cli

    base = ["run", "acme.jobs.square", "--conf-dir", str(conf), "--event-date", "2024-01-31", "--dry-run"]
    ok = CliRunner().invoke(cli, [*base, "-p", "n=1", "-p", "label=day-{event_date:%d}"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["params"]["label"] == "day-31"
    bad = CliRunner().invoke(cli, [*base, "-p", "n=1", "-p", "label={nope}"])
    assert bad.exit_code == 2
    assert "unknown placeholder {nope} | key: jobs.square.label | source: --param" in bad.stderr
