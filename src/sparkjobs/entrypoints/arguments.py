"""Turn the argument style a platform hands to a Python entry point into one :class:`RunRequest`.

Every platform reduces to one grammar:

* ``--key value`` and ``--key=value`` — Glue job arguments, spark-submit application arguments,
  Databricks ``named_parameters`` (passed as ``--key=value``);
* positional tokens — Databricks ``parameters`` lists: the job, a JSON object (the whole job
  config) and ``key=value`` job parameters;
* the seeds' ``--module_name M --<name>_job '<json>' --has_spark true``.

Framework options are recognised by name (``-`` and ``_`` are interchangeable). Every other
``--key value`` is a *job parameter*, typed and validated by the job's config model exactly like
``sparkjobs run --param key=value``: a misspelled key is an error that names it, never dropped.
A platform may add arguments of its own (Glue's ``--JOB_RUN_ID``, ``--TempDir``, ``--enable-*``
...): those are tolerated and kept aside in :attr:`ParsedArgs.platform_args`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkjobs.engines.settings import ENGINE_CHOICES
from sparkjobs.entrypoints.lifecycle import NO_LIFECYCLE, RunLifecycle
from sparkjobs.errors import ConfigError, UsageError
from sparkjobs.executor import RunRequest

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})

#: options that may stand alone (``--dry_run``) or take a boolean (``--has_spark true``)
_FLAG_KEYS = frozenset({"dry_run", "has_spark", "no_spark", "help", "h"})
#: options that always stand alone and never consume the next token
_BARE_ONLY = frozenset({"no_spark", "help", "h"})
#: flags that take the next token only when it is true/false (``--dry_run JOB`` stays a bare flag)
_BOOL_WORD_ONLY = frozenset({"dry_run"})
_JOB_KEYS = frozenset({"module_name", "job"})
_JSON_KEYS = frozenset({"job_config", "json"})
_SINGLE_KEYS = frozenset(
    {
        "service_provider", "env", "conf_dir", "project_dir", "partitions", "salt", "event_date", "run_id",
        "log_format", "engine",
    }
)  # fmt: skip
_LOG_FORMATS = ("auto", "json", "console")


def _never(_key: str) -> bool:
    return False


@dataclass(frozen=True)
class Platform:
    """What one entry point knows about the platform that calls it."""

    name: str  # shown in messages and logs: "glue", "databricks", ...
    default_provider: str  # injected as service_provider unless --service_provider says otherwise
    providers: frozenset[str]  # what --service_provider may say on this platform
    command: str  # how users call it, for help and error messages
    #: arguments the platform adds on its own; tolerated, kept aside, never job parameters
    is_own_argument: Callable[[str], bool] = _never
    #: a platform argument whose value becomes the run id when --run_id is not given
    run_id_argument: str | None = None
    #: the SparkSession belongs to the platform and outlives the run (Databricks): never stop it
    keeps_session: bool = False
    #: what the platform does around a run (Glue: Job.init/commit); by default nothing
    lifecycle: RunLifecycle = NO_LIFECYCLE


@dataclass
class ParsedArgs:
    """The run request plus what the entry point itself needs."""

    request: RunRequest
    log_format: str | None = None
    #: the ``--<name>_job`` flag the JSON config came in (checked against the job once resolved)
    json_flag: str | None = None
    #: the platform's own arguments (e.g. Glue's JOB_NAME, JOB_RUN_ID), as given
    platform_args: dict[str, str | None] = field(default_factory=dict)
    help: bool = False


class _Collector:
    """Accumulates options; a framework option given twice with different values is an error."""

    def __init__(self) -> None:
        self.singles: dict[str, tuple[str, str]] = {}  # norm key -> (value, shown flag)
        self.job: tuple[str, str] | None = None
        self.json: tuple[str, dict[str, Any]] | None = None
        self.params: list[str] = []
        self.param_keys: dict[str, str] = {}
        self.config_files: list[Path] = []
        self.flags: dict[str, bool] = {}
        self.platform_args: dict[str, str | None] = {}

    def set_single(self, key: str, value: str, shown: str) -> None:
        old = self.singles.get(key)
        if old is not None and old[0] != value:
            raise UsageError(f"{shown} given twice with different values ({old[0]!r} and {value!r})")
        self.singles[key] = (value, shown)

    def set_job(self, value: str, shown: str) -> None:
        if self.job is not None and self.job[0] != value:
            raise UsageError(f"two jobs given: {self.job[0]!r} ({self.job[1]}) and {value!r} ({shown})")
        self.job = (value, shown)

    def set_json(self, text: str, shown: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{shown} is not valid JSON: {exc.msg} at char {exc.pos}", file=shown) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{shown} must be a JSON object", file=shown, value=data, expected="{...}")
        if self.json is not None:
            raise UsageError(f"two JSON job configs given: {self.json[0]} and {shown}; merge them into one")
        self.json = (shown, data)

    def add_param(self, text: str, shown: str) -> None:
        key, sep, _value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad {shown} {text!r}: expected key.path=value")
        key = key.strip()
        if key in self.param_keys:
            raise UsageError(f"job parameter {key!r} given twice ({self.param_keys[key]} and {shown})")
        self.param_keys[key] = shown
        self.params.append(text)

    def set_flag(self, key: str, value: bool, shown: str) -> None:
        if key in self.flags and self.flags[key] != value:
            raise UsageError(f"{shown} contradicts an earlier option")
        self.flags[key] = value


def is_framework_option(key: str) -> bool:
    """Whether ``--key`` is read by sparkjobs itself rather than taken as a job parameter."""
    norm = normalize(key)
    named = _FLAG_KEYS | _JOB_KEYS | _JSON_KEYS | _SINGLE_KEYS | {"param", "config", "master"}
    return norm in named


def normalize(key: str) -> str:
    """``--has-spark`` and ``--has_spark`` are the same option."""
    return key.replace("-", "_")


def parse_bool(value: str | None, shown: str) -> bool:
    if value is None:
        return True
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise UsageError(f"{shown} expects true or false, got {value!r}")


def _is_bool_word(token: str) -> bool:
    return token.strip().lower() in _TRUE | _FALSE


def _looks_like_json_object(value: str | None) -> bool:
    return value is not None and value.lstrip().startswith("{")


def tokenize(argv: Sequence[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """``(options, positionals)``: options as ``(key, value-or-None)`` in the order given."""
    options: list[tuple[str, str | None]] = []
    positionals: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            positionals.extend(argv[i:])
            break
        if token in ("-h", "--help"):
            options.append(("help", None))
            continue
        if not token.startswith("--") or len(token) == 2:
            positionals.append(token)
            continue
        body = token[2:]
        if "=" in body:
            key, value = body.split("=", 1)
            options.append((key, value))
            continue
        nxt = argv[i] if i < len(argv) else None
        norm = normalize(body)
        takes_value = nxt is not None and not nxt.startswith("--")
        if norm in _BARE_ONLY or (takes_value and norm in _BOOL_WORD_ONLY and not _is_bool_word(nxt or "")):
            takes_value = False
        if takes_value:
            options.append((body, nxt))
            i += 1
        else:
            options.append((body, None))
    return options, positionals


def _int(value: str, shown: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{shown} expects an integer, got {value!r}") from None


def _option(c: _Collector, key: str, value: str | None) -> None:
    shown = f"--{key}"
    norm = normalize(key)
    if norm in _FLAG_KEYS:
        if norm in ("help", "h"):
            c.set_flag("help", True, shown)
        elif norm == "no_spark":
            c.set_flag("has_spark", False, shown)
        else:
            c.set_flag(norm, parse_bool(value, shown), shown)
        return
    if norm == "master":
        raise UsageError(
            f"{shown} is not an application argument: on a cluster the platform (spark-submit --master, "
            "Databricks, Glue) sets the master; for local runs set spark.master in conf/ or "
            "SPARKJOBS__SPARK__MASTER"
        )
    if value is None:
        raise UsageError(f"{shown} needs a value ({shown} VALUE or {shown}=VALUE)")
    if norm in _JOB_KEYS:
        c.set_job(value, shown)
    elif norm in _JSON_KEYS or (norm.endswith("_job") and len(norm) > 4 and _looks_like_json_object(value)):
        c.set_json(value, shown)
    elif norm == "param":
        c.add_param(value, shown)
    elif norm == "config":
        c.config_files.extend(Path(p.strip()) for p in value.split(",") if p.strip())
    elif norm in _SINGLE_KEYS:
        c.set_single(norm, value, shown)
    else:  # a job parameter: typed and checked by the job's config model
        c.add_param(f"{norm}={value}", shown)


def _positional(c: _Collector, token: str, index: int) -> None:
    shown = f"positional argument {index + 1}"
    if _looks_like_json_object(token):
        c.set_json(token, shown)
    elif "=" in token:
        c.add_param(token, shown)
    elif c.job is None:
        c.set_job(token, shown)
    else:
        raise UsageError(
            f"unexpected {shown} {token!r}: after the job, positional arguments are a JSON object "
            "or key=value job parameters"
        )


def parse_args(argv: Sequence[str], platform: Platform) -> ParsedArgs:
    """Parse ``argv`` (without the program name) in ``platform``'s style."""
    c = _Collector()
    options, positionals = tokenize(argv)
    for key, value in options:
        if platform.is_own_argument(key):
            c.platform_args[key] = value
            continue
        _option(c, key, value)
    for index, token in enumerate(positionals):
        _positional(c, token, index)
    if c.flags.get("help"):
        return ParsedArgs(RunRequest(job=""), help=True)
    if c.job is None:
        raise UsageError(
            f"no job given: pass --module_name MODULE (or --job NAME), e.g. `{platform.command} "
            "--module_name sparkjobs.examples.hello_spark --has_spark true`"
        )

    provider = c.singles.get("service_provider", (platform.default_provider, ""))[0]
    if provider not in platform.providers:
        raise UsageError(
            f"--service_provider {provider!r} is not valid for the {platform.name} entry point; "
            f"choose one of: {', '.join(sorted(platform.providers))}"
        )
    log_format = c.singles.get("log_format", (None, ""))[0]
    if log_format is not None and log_format not in _LOG_FORMATS:
        raise UsageError(f"--log_format expects one of {', '.join(_LOG_FORMATS)}, got {log_format!r}")

    def single(key: str) -> str | None:
        entry = c.singles.get(key)
        return entry[0] if entry else None

    run_id = single("run_id")
    if run_id is None and platform.run_id_argument:
        run_id = c.platform_args.get(platform.run_id_argument) or None
    partitions = single("partitions")
    salt = single("salt")
    conf_dir = single("conf_dir")
    project_dir = single("project_dir")
    engine = single("engine")
    if engine is not None and engine not in ENGINE_CHOICES:
        raise UsageError(f"--engine expects one of {', '.join(ENGINE_CHOICES)}, got {engine!r}")
    request = RunRequest(
        job=c.job[0],
        engine=engine,
        env=single("env"),
        conf_dir=Path(conf_dir) if conf_dir else None,
        project_dir=Path(project_dir) if project_dir else None,
        config_files=tuple(c.config_files),
        params=tuple(c.params),
        json_config=c.json[1] if c.json else None,
        partitions=_int(partitions, "--partitions") if partitions is not None else None,
        salt=_int(salt, "--salt") if salt is not None else None,
        has_spark=c.flags.get("has_spark", True),
        event_date=single("event_date"),
        dry_run=c.flags.get("dry_run", False),
        service_provider=provider,
        run_id=run_id,
    )
    return ParsedArgs(
        request,
        log_format=log_format,
        json_flag=c.json[0] if c.json else None,
        platform_args=c.platform_args,
    )


def json_flag_names_job(flag: str, job_names: Sequence[str]) -> bool:
    """Whether ``--<name>_job`` plausibly belongs to the job (seeds: ``--filter_images_job``).

    ``job_names`` are the job's registered name, config name and dotted module path; the flag's
    ``<name>`` must be one of their dotted parts, with or without a ``_job``/``_job_factory`` suffix.
    """
    norm = normalize(flag.lstrip("-"))
    if not norm.endswith("_job") or norm in _JSON_KEYS:
        return True
    stem = norm[: -len("_job")]
    candidates: set[str] = set()
    for name in job_names:
        for part in name.split("."):
            candidates.add(part)
            for suffix in ("_job_factory", "_factory", "_job"):
                if part.endswith(suffix):
                    candidates.add(part[: -len(suffix)])
    return stem in candidates
