"""Layered configuration: precedence, provenance, file formats, errors that name things, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sparkjobs.config import parse_scalar
from sparkjobs.config.files import read_config_file
from sparkjobs.config_show import show_config
from sparkjobs.errors import ConfigError, UsageError
from sparkjobs.executor import RunRequest, prepare
from tests.framework.conftest import MODEL_JOB, PORTED_JOB


@pytest.fixture
def conf(tmp_path: Path, job_dir: Callable[[str, str], Path]) -> Path:
    job_dir("acme.jobs.square", MODEL_JOB)
    job_dir("legacy.echo", PORTED_JOB)
    root = tmp_path / "conf"
    for layer in ("base", "prod", "local"):
        (root / layer).mkdir(parents=True)
    return root


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def req(conf: Path, job: str = "acme.jobs.square", **kw: Any) -> RunRequest:
    return RunRequest(job=job, conf_dir=conf, has_spark=False, **kw)


def test_precedence_base_env_local_envvar_configfile_cli(conf: Path, tmp_path: Path) -> None:
    write(
        conf / "base" / "jobs.yml",
        "jobs:\n  square:\n    n: 1\n    label: base\n    ratio: 0.1\n    tags: [b]\n"
        "    output: {path: base/out}\nspark:\n  shuffle_partitions: 3\n",
    )
    write(conf / "prod" / "jobs.json", json.dumps({"jobs": {"square": {"n": 2, "label": "prod"}}}))
    write(conf / "local" / "me.toml", "[jobs.square]\nn = 3\n")
    extra = write(tmp_path / "extra.yml", "jobs:\n  square:\n    ratio: 0.9\n")
    environ = {"SPARKJOBS__JOBS__SQUARE__LABEL": "from-env", "SPARKJOBS__SPARK__SHUFFLE_PARTITIONS": "5"}
    prepared = prepare(req(conf, env="prod", config_files=[extra], params=["n=4"]), environ)
    cfg = prepared.config
    # a relative path is taken from the project root (the folder holding the conf dir), not the cwd
    out = str(tmp_path / "base" / "out")
    assert (cfg.n, cfg.label, cfg.ratio, cfg.tags, cfg.output.path) == (4, "from-env", 0.9, ["b"], out)
    assert prepared.context.settings.spark.shuffle_partitions == 5
    rows = {
        k: (v, s)
        for k, v, s in show_config(req(conf, env="prod", config_files=[extra], params=["n=4"]), environ)
    }
    assert rows["jobs.square.n"] == (4, "--param")
    assert rows["jobs.square.label"] == ("from-env", "env SPARKJOBS__JOBS__SQUARE__LABEL")
    assert rows["jobs.square.ratio"] == (0.9, f"--config {extra}")
    assert rows["jobs.square.tags"] == (["b"], str(conf / "base" / "jobs.yml"))
    assert rows["jobs.square.output.format"] == ("parquet", "default")
    assert rows["spark.shuffle_partitions"] == (5, "env SPARKJOBS__SPARK__SHUFFLE_PARTITIONS")


def test_cli_flags_win_over_every_file_layer(conf: Path) -> None:
    write(conf / "base" / "spark.yml", "spark:\n  shuffle_partitions: 3\n  salt_buckets: 2\n")
    prepared = prepare(req(conf, params=["n=1"], partitions=17, salt=24), {})
    assert prepared.context.settings.spark.shuffle_partitions == 17
    assert prepared.context.settings.spark.salt_buckets == 24
    assert prepared.layered.source_of(("spark", "shuffle_partitions")) == "--partitions"


def test_json_config_then_params(conf: Path) -> None:
    prepared = prepare(
        req(conf, json_config='{"n": 5, "label": "j", "output": {"format": "csv"}}', params=["label=p"]), {}
    )
    assert (prepared.config.n, prepared.config.label, prepared.config.output.format) == (5, "p", "csv")


def test_same_key_in_two_files_of_one_layer_names_both(conf: Path) -> None:
    a = write(conf / "base" / "a.yml", "jobs:\n  square:\n    n: 1\n")
    b = write(conf / "base" / "b.yml", "jobs:\n  square:\n    n: 2\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf), {})
    assert str(a) in str(info.value) and str(b) in str(info.value)
    assert info.value.key == "jobs.square.n"


def test_different_keys_in_two_files_of_one_layer_merge(conf: Path) -> None:
    write(conf / "base" / "a.yml", "jobs:\n  square:\n    n: 1\n")
    write(conf / "base" / "b.yml", "jobs:\n  square:\n    label: b\n")
    assert prepare(req(conf), {}).config.label == "b"


def test_validation_error_names_file_key_value_expected(conf: Path) -> None:
    bad = write(conf / "base" / "jobs.yml", "jobs:\n  square:\n    n: lots\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf), {})
    err = info.value
    assert err.file == str(bad) and err.key == "jobs.square.n" and err.value == "lots"
    assert "integer" in (err.expected or "")
    assert str(bad) in str(err)


def test_unknown_top_level_section_is_named(conf: Path) -> None:
    bad = write(conf / "base" / "x.yml", "sprak:\n  master: local\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, params=["n=1"]), {})
    assert "unknown parameter 'sprak.master'" in str(info.value) or "unknown parameter 'sprak'" in str(
        info.value
    )
    assert str(bad) in str(info.value)


def test_invalid_yaml_names_file_and_line(conf: Path) -> None:
    bad = write(conf / "base" / "broken.yml", "jobs:\n  square:\n    n: [1, 2\n")
    with pytest.raises(ConfigError, match=rf"{bad}:\d+:\d+"):
        prepare(req(conf), {})


def test_duplicate_key_inside_one_yaml_file(conf: Path) -> None:
    write(conf / "base" / "dup.yml", "jobs:\n  square:\n    n: 1\n    n: 2\n")
    with pytest.raises(ConfigError, match="duplicate key 'n'"):
        prepare(req(conf), {})


def test_unknown_env_is_an_error_listing_known_ones(conf: Path) -> None:
    with pytest.raises(ConfigError, match=r"no configuration for environment 'prdo'.*\['prod'\]"):
        prepare(req(conf, env="prdo", params=["n=1"]), {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21", 21),
        ("true", True),
        ("1.5", 1.5),
        ("[1, 2]", [1, 2]),
        ("a=b:c", "a=b:c"),
        ("x: y", "x: y"),
        ("null", None),
        ("s3://bucket/k=v/x", "s3://bucket/k=v/x"),
        ("2024-01-02", __import__("datetime").date(2024, 1, 2)),
    ],
)
def test_parse_scalar(text: str, expected: Any) -> None:
    assert parse_scalar(text) == expected


def test_params_are_typed_by_the_model(conf: Path) -> None:
    prepared = prepare(
        req(conf, params=["n=21", "label=1.10", "flag=true", "tags=[a, b]", "output.path=s3://b/k=v:1"]), {}
    )
    cfg = prepared.config
    assert cfg.n == 21 and cfg.label == "1.10" and cfg.flag is True and cfg.tags == ["a", "b"]
    assert cfg.output.path == "s3://b/k=v:1"


def test_env_values_are_typed_by_the_model(conf: Path) -> None:
    environ = {
        "SPARKJOBS__JOBS__SQUARE__N": "8",
        "SPARKJOBS__JOBS__SQUARE__LABEL": "007",
        "SPARKJOBS__JOBS__SQUARE__TAGS": "[x]",
    }
    cfg = prepare(req(conf), environ).config
    assert (cfg.n, cfg.label, cfg.tags) == (8, "007", ["x"])


def test_ported_job_params_are_yaml_scalars(conf: Path) -> None:
    prepared = prepare(req(conf, job="legacy.echo", params=["year=21", "dry=true", "where=a=b:c"]), {})
    assert prepared.params == {"year": 21, "dry": True, "where": "a=b:c"}


def test_bad_param_syntax(conf: Path) -> None:
    with pytest.raises(UsageError, match=r"expected key\.path=value"):
        prepare(req(conf, params=["n"]), {})
    with pytest.raises(UsageError, match="bad key path"):
        prepare(req(conf, params=["a..b=1"]), {})


def test_bad_json_config(conf: Path) -> None:
    with pytest.raises(ConfigError, match="--json is not valid JSON"):
        prepare(req(conf, json_config="{n: 1}"), {})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        prepare(req(conf, json_config="[1]"), {})


def test_secrets_are_masked_everywhere(conf: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "hunter2-very-secret"
    environ = {"SPARKJOBS__JOBS__SQUARE__PASSWORD": secret}
    prepared = prepare(req(conf, params=["n=1"]), environ)
    assert isinstance(prepared.config.password, SecretStr)
    assert prepared.config.password.get_secret_value() == secret
    assert secret not in repr(prepared.config)
    assert secret not in json.dumps(prepared.plan(), default=str)
    rows = show_config(req(conf, params=["n=1"]), environ)
    assert secret not in repr(rows)
    assert ("jobs.square.password", "**********", "env SPARKJOBS__JOBS__SQUARE__PASSWORD") in rows or any(
        k == "jobs.square.password" and v != secret for k, v, _ in rows
    )
    # a DSN with a password in a log message is masked by our formatters
    from sparkjobs.observability.logging import JsonFormatter

    record = logging.LogRecord(
        "sparkjobs.x",
        logging.INFO,
        __file__,
        1,
        "connecting to postgresql://app:%s@db:5432/x",
        (secret,),
        None,
    )
    assert secret not in JsonFormatter().format(record)


def test_secret_named_keys_are_masked_for_jobs_without_model(conf: Path) -> None:
    rows = show_config(req(conf, job="legacy.echo", params=["db_password=s3cr3t", "user=bob"]), {})
    values = {k: v for k, v, _ in rows}
    assert values["jobs.echo.db_password"] == "********"
    assert values["jobs.echo.user"] == "bob"


def test_read_config_file_rejects_non_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        read_config_file(path)
    with pytest.raises(ConfigError, match="unsupported config file type"):
        read_config_file(write(tmp_path / "x.ini", "a=1"))


SECRET_TYPED_JOB = '''
"""A job whose secrets do not have secret-looking names."""
from typing import Any
from pydantic import BaseModel, Field, SecretStr
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Cfg(BaseModel):
    conn: SecretStr | None = None
    pin: SecretStr = Field(SecretStr("0000-0000"), min_length=8)
    keys: list[SecretStr] = []
    creds: dict[str, SecretStr] = {}

class J(AbstractJob):
    def __init__(self, config: Cfg) -> None:
        self.config = config
    def execute_job(self, **kwargs: Any) -> Any:
        raise RuntimeError(f"login refused for {self.config.pin.get_secret_value()}")
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class F(AbstractJobFactory[Cfg]):
    config_model = Cfg
    def create_job(self, **kwargs: Any) -> J:
        return J(self.config)

main = make_main(F)
'''


@pytest.mark.parametrize(
    ("source", "secret"),
    [
        ("file", "123456789"),
        ("param pin", "short-1"),
        ("param keys", "[987654321]"),
        ("json creds", "555554444"),
    ],
)
def test_a_bad_value_for_a_secret_field_is_never_shown(
    conf: Path, job_dir: Callable[[str, str], Path], source: str, secret: str
) -> None:
    job_dir("acme.jobs.vault", SECRET_TYPED_JOB)
    params: list[str] = []
    json_config: str | None = None
    if source == "file":
        write(conf / "base" / "jobs.yml", f"jobs:\n  vault:\n    conn: {secret}\n")
    elif source == "param pin":
        params = [f"pin={secret}"]
    elif source == "param keys":
        params = ["keys=[ok-ok-ok-ok, {x: 987654321}]"]
        secret = "987654321"
    else:
        json_config = '{"creds": {"db": 555554444}}'
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, job="acme.jobs.vault", params=params, json_config=json_config), {})
    assert secret not in str(info.value)
    assert secret not in repr(info.value.value)
    assert info.value.value == "********"


def test_job_failure_message_masks_the_runs_secret_values_and_dsn_passwords(
    conf: Path, job_dir: Callable[[str, str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparkjobs.errors import JobFailedError
    from sparkjobs.executor import execute

    monkeypatch.chdir(tmp_path)  # the run report goes to ./runs

    job_dir("acme.jobs.vault", SECRET_TYPED_JOB)
    with pytest.raises(JobFailedError) as info:
        execute(prepare(req(conf, job="acme.jobs.vault", params=["pin=pin-4711-4711"]), {}))
    assert "pin-4711-4711" not in str(info.value)
    assert "login refused for ********" in str(info.value)


def test_spark_conf_secrets_are_masked_in_the_plan_and_config_show(conf: Path) -> None:
    write(
        conf / "base" / "spark.yml",
        "spark:\n  conf:\n    spark.hadoop.fs.s3a.secret.key: s3a-secret-value\n"
        "    spark.hadoop.fs.s3a.endpoint: http://minio:9000\n",
    )
    prepared = prepare(RunRequest(job="acme.jobs.square", conf_dir=conf, params=["n=1"]), {})
    plan = prepared.plan()
    assert plan["spark_conf"]["spark.hadoop.fs.s3a.secret.key"] == "********"
    assert plan["spark_conf"]["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    rows = {k: v for k, v, _ in show_config(req(conf, params=["n=1"]), {})}
    assert rows["spark.conf.spark.hadoop.fs.s3a.secret.key"] == "********"


def test_a_config_file_that_is_not_utf8_is_a_config_error(conf: Path) -> None:
    bad = conf / "base" / "latin1.yml"
    bad.write_bytes("jobs:\n  square:\n    label: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, params=["n=1"]), {})
    assert str(bad) in str(info.value) and "UTF-8" in str(info.value)


def test_unicode_values_and_a_bom_are_read(conf: Path) -> None:
    (conf / "base" / "jobs.yml").write_bytes("\ufeffjobs:\n  square:\n    label: café ✓\n".encode())
    (conf / "base" / "more.json").write_bytes('\ufeff{"jobs": {"square": {"n": 2}}}'.encode())
    cfg = prepare(req(conf), {}).config
    assert (cfg.label, cfg.n) == ("café ✓", 2)


def test_duplicate_key_inside_one_json_file(conf: Path) -> None:
    bad = write(conf / "base" / "dup.json", '{"jobs": {"square": {"n": 1, "n": 2}}}')
    with pytest.raises(ConfigError, match="duplicate key 'n'") as info:
        prepare(req(conf), {})
    assert str(bad) in str(info.value)


def test_a_non_string_key_is_named_with_its_file(conf: Path) -> None:
    bad = write(conf / "base" / "keys.yml", "jobs:\n  square:\n    n: 1\n    1: one\n")
    with pytest.raises(ConfigError) as info:
        prepare(req(conf), {})
    assert str(bad) in str(info.value)
    assert info.value.key == "jobs.square.1" and "quote" in (info.value.expected or "")


def test_a_later_empty_mapping_keeps_the_earlier_values_and_their_source(conf: Path) -> None:
    base = write(
        conf / "base" / "jobs.yml", "jobs:\n  square:\n    n: 1\n    output:\n      path: /lake/base/out\n"
    )
    write(conf / "prod" / "jobs.yml", "jobs:\n  square:\n    output: {}\n")
    rows = {k: (v, s) for k, v, s in show_config(req(conf, env="prod"), {})}
    assert rows["jobs.square.output.path"] == ("/lake/base/out", str(base))


def test_a_later_scalar_replacing_a_mapping_is_reported_as_that_scalar(conf: Path) -> None:
    environ = {"SPARKJOBS__JOBS__SQUARE__OUTPUT__FORMAT": "csv"}
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, params=["n=1"], json_config='{"output": "s3://x"}'), environ)
    assert info.value.key == "jobs.square.output" and info.value.value == "s3://x"
    assert info.value.file == "--json"


def test_later_mapping_replacing_a_scalar_gets_the_new_source(conf: Path, tmp_path: Path) -> None:
    write(conf / "base" / "jobs.yml", "jobs:\n  square:\n    output: s3://legacy\n")
    extra = write(tmp_path / "x.yml", "jobs:\n  square:\n    output:\n      path: /lake/new/out\n")
    rows = {k: (v, s) for k, v, s in show_config(req(conf, params=["n=1"], config_files=[extra]), {})}
    assert rows["jobs.square.output.path"] == ("/lake/new/out", f"--config {extra}")
    assert rows["jobs.square.output.format"] == ("parquet", "default")


def test_two_env_vars_setting_a_key_and_its_parent_conflict(conf: Path) -> None:
    environ = {
        "SPARKJOBS__JOBS__SQUARE__OUTPUT": "s3://x",
        "SPARKJOBS__JOBS__SQUARE__OUTPUT__FORMAT": "csv",
    }
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, params=["n=1"]), environ)
    msg = str(info.value)
    assert (
        "SPARKJOBS__JOBS__SQUARE__OUTPUT " in msg + " " and "SPARKJOBS__JOBS__SQUARE__OUTPUT__FORMAT" in msg
    )


def test_sibling_env_vars_do_not_conflict(conf: Path) -> None:
    environ = {
        "SPARKJOBS__JOBS__SQUARE__OUTPUT__PATH": "/p",
        "SPARKJOBS__JOBS__SQUARE__OUTPUT__FORMAT": "csv",
    }
    cfg = prepare(req(conf, params=["n=1"]), environ).config
    assert (cfg.output.path, cfg.output.format) == ("/p", "csv")


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_an_explicit_conf_dir_must_be_a_directory(conf: Path, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nope"
    if kind == "a file":
        target.write_text("x")
    with pytest.raises(ConfigError) as info:
        prepare(req(target, params=["n=1"]), {})
    assert str(target) in str(info.value)
    with pytest.raises(ConfigError):
        prepare(RunRequest(job="acme.jobs.square", params=["n=1"]), {"SPARKJOBS_CONF_DIR": str(target)})


def test_the_default_conf_dir_may_be_absent(
    job_dir: Callable[[str, str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_dir("acme.jobs.square", MODEL_JOB)
    monkeypatch.chdir(tmp_path)
    assert prepare(RunRequest(job="acme.jobs.square", params=["n=3"]), {}).config.n == 3


@pytest.mark.parametrize("env", ["", "../base", "a/b", " prod"])
def test_an_env_name_must_be_a_plain_name(conf: Path, env: str) -> None:
    with pytest.raises(UsageError, match="environment name"):
        prepare(req(conf, env=env, params=["n=1"]), {})


TYPED_JOB = '''
"""Parameters of many types, set from text."""
from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal
from pydantic import BaseModel
from sparkjobs import AbstractJob, AbstractJobFactory, make_main

class Level(IntEnum):
    LOW = 1
    HIGH = 2

class Sink(BaseModel):
    path: str = "out"
    mode: Literal["append", "overwrite"] = "append"

class Cfg(BaseModel):
    level_lit: Literal[1, 2, 3] = 1
    strict_flag: Literal[True] | None = None
    mixed: Literal["auto", 0] = "auto"
    level: Level = Level.LOW
    day: date | None = None
    where: Path = Path("/tmp")
    maybe: int | None = 5
    sinks: dict[str, Sink] = {}
    chain: list[Sink] = []

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


def test_params_are_typed_for_literals_enums_dates_paths_and_nested_models(
    conf: Path, job_dir: Callable[[str, str], Path]
) -> None:
    from datetime import date

    job_dir("acme.jobs.typed", TYPED_JOB)
    params = [
        "level_lit=3",
        "strict_flag=true",
        "mixed=0",
        "level=2",
        "day=2024-02-29",
        "where=/data/x=1:y",
        "maybe=null",
        "sinks.gold.mode=overwrite",
        "chain=[{path: a}, {path: b, mode: overwrite}]",
    ]
    cfg = prepare(req(conf, job="acme.jobs.typed", params=params), {}).config
    assert (cfg.level_lit, cfg.strict_flag, cfg.mixed, int(cfg.level)) == (3, True, 0, 2)
    assert (cfg.day, cfg.where, cfg.maybe) == (date(2024, 2, 29), Path("/data/x=1:y"), None)
    assert (cfg.sinks["gold"].path, cfg.sinks["gold"].mode) == ("out", "overwrite")
    assert [(s.path, s.mode) for s in cfg.chain] == [("a", "append"), ("b", "overwrite")]
    cfg = prepare(req(conf, job="acme.jobs.typed", params=["mixed=auto"]), {}).config
    assert cfg.mixed == "auto"
    with pytest.raises(ConfigError, match=r"jobs\.typed\.level_lit = '4'.*1, 2 or 3"):
        prepare(req(conf, job="acme.jobs.typed", params=["level_lit=4"]), {})


def test_an_emptied_section_neither_wipes_nor_conflicts(conf: Path) -> None:
    write(conf / "base" / "jobs.yml", "jobs:\n  square:\n    n: 1\n    label: base\n")
    write(conf / "base" / "more.yml", "jobs:\n  # square:\n  #   n: 2\n")
    write(conf / "prod" / "jobs.yml", "jobs:\n  square:\n    # label: prod\n")
    cfg = prepare(req(conf, env="prod"), {}).config
    assert (cfg.n, cfg.label) == (1, "base")


def test_a_scalar_section_in_an_env_var_is_named(conf: Path) -> None:
    with pytest.raises(ConfigError) as info:
        prepare(req(conf, params=["n=1"]), {"SPARKJOBS__JOBS__SQUARE": "3"})
    assert info.value.key == "jobs.square" and info.value.file == "env SPARKJOBS__JOBS__SQUARE"
