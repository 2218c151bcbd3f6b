"""One run as each platform hands it to its entry point: argv, Glue job arguments, a Databricks task.

``sparkjobs render JOB --target T`` takes the options of ``sparkjobs run`` and prints what the
platform must pass so that its entry point (:mod:`sparkjobs.entrypoints`) runs the same job with the
same validated configuration:

=================  ===============================================================================
target             rendered as
=================  ===============================================================================
``spark-submit``   argv: ``spark-submit <main file> --job JOB ...`` (spark options go before the file)
``container``      argv: ``sparkjobs-container --job JOB ...``
``glue``           ``aws glue start-job-run --arguments``: ``{"--module_name": "JOB", ...}``
``databricks``     a job task: ``python_wheel_task`` (default) or ``spark_python_task``
=================  ===============================================================================

The options become the entry points' own argument style (:mod:`sparkjobs.entrypoints.arguments`),
so the parser reads back exactly the request rendered here (a test round-trips every target). Glue
takes a JSON object, where a key cannot repeat: job parameters are rendered as ``--KEY VALUE``
there, and a parameter whose name the parser would read as a framework or Glue option is refused.

:func:`write_scripts` writes the seeds' layout ``<dir>/<platform>/generic_entry.py``: thin files for
platforms that deploy a script file rather than a console script.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sparkjobs.entrypoints import container, databricks, glue, spark_submit
from sparkjobs.entrypoints.arguments import Platform, is_framework_option
from sparkjobs.errors import UsageError
from sparkjobs.executor import RunRequest

#: target name → the entry point module that reads it
ENTRY_MODULES: dict[str, ModuleType] = {
    "spark-submit": spark_submit,
    "glue": glue,
    "databricks": databricks,
    "container": container,
}
TARGETS = tuple(ENTRY_MODULES)
DATABRICKS_TASKS = ("python_wheel", "spark_python")
#: the console scripts (``[project.scripts]`` of the sparkjobs distribution)
CONTAINER_SCRIPT = "sparkjobs-container"
DATABRICKS_PACKAGE = "sparkjobs"
DATABRICKS_ENTRY_POINT = "sparkjobs-databricks"
#: the seeds' layout: ``scripts/<folder>/generic_entry.py``
SCRIPT_FOLDERS = {
    "container": "container",
    "databricks": "databricks",
    "glue": "glue",
    "spark-submit": "spark_submit",
}
SCRIPT_NAME = "generic_entry.py"


def platform_of(target: str) -> Platform:
    if target not in ENTRY_MODULES:
        raise UsageError(f"unknown --target {target!r}; choose one of: {', '.join(TARGETS)}")
    platform: Platform = ENTRY_MODULES[target].PLATFORM
    return platform


@dataclass(frozen=True)
class Rendered:
    """What one target needs: ``argv`` for spark-submit and container, ``document`` (JSON) otherwise."""

    target: str
    argv: tuple[str, ...] | None = None
    document: dict[str, Any] | None = None

    def app_args(self) -> list[str]:
        """The tokens the entry point's parser receives (what the platform puts after the program)."""
        if self.argv is not None:
            return list(self.argv[2:] if self.target == "spark-submit" else self.argv[1:])
        doc = self.document or {}
        if self.target == "glue":  # Glue hands its arguments over as --key value pairs
            return [token for key, value in doc.items() for token in (key, value)]
        task = doc.get("python_wheel_task") or doc.get("spark_python_task") or {}
        return list(task.get("parameters", []))


def _run_options(
    request: RunRequest, service_provider: str | None, log_format: str | None, job_flag: str
) -> list[tuple[str, str]]:
    """The framework options of ``request`` as ``(flag, value)`` pairs, in a fixed order."""
    pairs: list[tuple[str, str]] = [(job_flag, request.job)]
    if request.env is not None:
        pairs.append(("--env", request.env))
    if request.conf_dir is not None:
        pairs.append(("--conf_dir", str(request.conf_dir)))
    if request.project_dir is not None:
        pairs.append(("--project_dir", str(request.project_dir)))
    if request.config_files:
        files = [str(p) for p in request.config_files]
        bad = [f for f in files if "," in f]
        if bad:
            raise UsageError(
                f"--config {bad[0]!r}: the entry points split --config at commas; rename the file"
            )
        pairs.append(("--config", ",".join(files)))
    if request.event_date is not None:
        pairs.append(("--event_date", str(request.event_date)))
    if request.partitions is not None:
        pairs.append(("--partitions", str(request.partitions)))
    if request.salt is not None:
        pairs.append(("--salt", str(request.salt)))
    if request.run_id is not None:
        pairs.append(("--run_id", request.run_id))
    pairs.append(("--has_spark", "true" if request.has_spark else "false"))
    if service_provider is not None:
        pairs.append(("--service_provider", service_provider))
    if request.json_config is not None:
        text = request.json_config
        pairs.append(("--job_config", text if isinstance(text, str) else json.dumps(dict(text))))
    if request.dry_run:
        pairs.append(("--dry_run", "true"))
    if log_format is not None:
        pairs.append(("--log_format", log_format))
    return pairs


def _tokens(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """``--flag value``, or ``--flag=value`` when the value would read as an option of its own."""
    out: list[str] = []
    for flag, value in pairs:
        out.extend([f"{flag}={value}"] if value.startswith("--") else [flag, value])
    return out


def _param_pairs(params: Sequence[str]) -> list[tuple[str, str]]:
    return [("--param", text) for text in params]


def _glue_arguments(
    pairs: Sequence[tuple[str, str]], params: Sequence[str], platform: Platform
) -> dict[str, str]:
    for flag, value in pairs:
        if value.startswith("--"):
            raise UsageError(
                f"{flag} {value!r} cannot be a Glue argument: Glue passes the value as a token of its "
                "own, which the entry point would read as an option"
            )
    args = dict(pairs)
    for text in params:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"bad --param {text!r}: expected key.path=value")
        why = None
        if is_framework_option(key) or platform.is_own_argument(key):
            why = "the entry point would read it as its own option"
        elif key.endswith("_job") and value.lstrip().startswith("{"):
            why = "the entry point would read it as the job's JSON config"
        elif value.startswith("--"):
            why = "Glue passes it as a separate token, which the entry point reads as an option"
        elif f"--{key}" in args:
            why = "it is given twice"
        if why:
            raise UsageError(
                f"job parameter {key!r} cannot be a Glue argument ({why}); pass it inside --json instead"
            )
        args[f"--{key}"] = value
    return args


def _task_key(job: str) -> str:
    return re.sub(r"[^\w-]", "_", job)[:100]


def render(
    target: str,
    request: RunRequest,
    *,
    service_provider: str | None = None,
    log_format: str | None = None,
    script: str | None = None,
    databricks_task: str = "python_wheel",
) -> Rendered:
    """``request`` as ``target``'s entry point receives it.

    ``service_provider`` defaults to the platform's (not rendered then); ``script`` is the file a
    platform runs: spark-submit's main file (default: the installed ``spark_submit.py``) or a
    ``spark_python_task``'s ``python_file`` (default: ``scripts/databricks/generic_entry.py``).
    """
    platform = platform_of(target)
    if service_provider is not None and service_provider not in platform.providers:
        raise UsageError(
            f"--service-provider {service_provider!r} is not valid for --target {target}; "
            f"choose one of: {', '.join(sorted(platform.providers))}"
        )
    if databricks_task not in DATABRICKS_TASKS:
        raise UsageError(
            f"unknown Databricks task {databricks_task!r}; choose one of: {', '.join(DATABRICKS_TASKS)}"
        )
    # on Glue --module_name: a script's own getResolvedOptions (argparse) would take --job for an
    # abbreviation of --job-bookmark-option
    job_flag = "--module_name" if target == "glue" else "--job"
    pairs = _run_options(request, service_provider, log_format, job_flag)
    if target == "glue":
        return Rendered(target, document=_glue_arguments(pairs, request.params, platform))
    tokens = _tokens([*pairs, *_param_pairs(request.params)])
    if target == "spark-submit":
        return Rendered(target, argv=("spark-submit", script or str(Path(spark_submit.__file__)), *tokens))
    if target == "container":
        return Rendered(target, argv=(CONTAINER_SCRIPT, *tokens))
    if databricks_task == "python_wheel":
        task = {
            "package_name": DATABRICKS_PACKAGE,
            "entry_point": DATABRICKS_ENTRY_POINT,
            "parameters": tokens,
        }
        return Rendered(target, document={"task_key": _task_key(request.job), "python_wheel_task": task})
    python_file = script or f"scripts/{SCRIPT_FOLDERS[target]}/{SCRIPT_NAME}"
    task = {"python_file": python_file, "parameters": tokens}
    return Rendered(target, document={"task_key": _task_key(request.job), "spark_python_task": task})


# -- the seeds' script layout -----------------------------------------------------------------------
_SCRIPT_TEMPLATE = '''"""{title}, written by `sparkjobs render --scripts`.

The seeds' scripts/{folder}/{name}: a thin file for deployments that run a script rather than
a console script. Parsing, validation and the run are sparkjobs.entrypoints.{module}'s, as for
    {command}
Regenerate it with `sparkjobs render --scripts DIR` rather than editing it. Example:
    {example}
"""

import sys

INSTALL_HINT = (
{hint}
)

try:
    from sparkjobs.entrypoints.{module} import ENTRY_POINT
except ImportError as exc:
    sys.exit(f"error: cannot import sparkjobs ({{exc}}); {{INSTALL_HINT}}")

if __name__ == "__main__":
    ENTRY_POINT.script(__file__)
'''

_SCRIPT_FACTS: Mapping[str, tuple[str, str]] = {
    "container": ("Container / local entry script", "python {path} --job hello_spark --rows 1000"),
    "databricks": ("Databricks spark_python_task file", '"spark_python_task": {{"python_file": "{path}"}}'),
    "glue": ("AWS Glue job script", "ScriptLocation: s3://bucket/{path}"),
    "spark-submit": (
        "spark-submit main file",
        "spark-submit --master spark://host:7077 {path} --job hello_spark",
    ),
}


def script_text(target: str) -> str:
    """The ``generic_entry.py`` of ``target`` (lines within 100 characters)."""
    platform = platform_of(target)
    module = ENTRY_MODULES[target]
    folder = SCRIPT_FOLDERS[target]
    title, example = _SCRIPT_FACTS[target]
    chunks = textwrap.wrap(module.INSTALL_HINT, 80, drop_whitespace=False)
    return _SCRIPT_TEMPLATE.format(
        title=title,
        folder=folder,
        name=SCRIPT_NAME,
        module=module.__name__.rsplit(".", 1)[-1],
        command=platform.command,
        example=example.format(path=f"scripts/{folder}/{SCRIPT_NAME}"),
        hint="\n".join(f"    {json.dumps(chunk)}" for chunk in chunks),
    )


def write_scripts(dest: Path, *, force: bool = False) -> list[Path]:
    """Write ``dest/<platform>/generic_entry.py`` for every target (a file that differs needs ``force``)."""
    planned = [(dest / SCRIPT_FOLDERS[t] / SCRIPT_NAME, script_text(t)) for t in TARGETS]
    if not force:
        for path, text in planned:
            if path.exists() and path.read_text() != text:
                raise UsageError(
                    f"{path} exists and differs from what sparkjobs would write (edited by hand?); "
                    "pass --force to overwrite it"
                )
    written: list[Path] = []
    for path, text in planned:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
