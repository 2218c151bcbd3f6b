"""``sparkjobs render``: one run as a platform's arguments, and the seeds' ``scripts/<platform>/`` files.

The arguments are checked first (the job resolves, its parameters validate against its model and
this machine's conf/), then rendered by :mod:`sparkjobs.entrypoints.render`.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import click

from sparkjobs.cli import render as out
from sparkjobs.cli.options import config_options, log_format_option, run_options
from sparkjobs.entrypoints.render import DATABRICKS_TASKS, TARGETS, platform_of, render, write_scripts
from sparkjobs.errors import UsageError


@click.command("render")
@click.argument("job", required=False)
@click.option("--target", type=click.Choice(TARGETS), default=None, help="the platform to render for")
@config_options
@run_options
@click.option(
    "--service-provider",
    default=None,
    help="override the target's default provider (spark-submit: emr, yarn, kubernetes; container: local)",
)
@log_format_option
@click.option(
    "--databricks-task",
    type=click.Choice(DATABRICKS_TASKS),
    default="python_wheel",
    help="Databricks task: python_wheel_task (the sparkjobs-databricks entry point) or spark_python_task",
)
@click.option(
    "--script",
    default=None,
    metavar="PATH",
    help="the file the platform runs: spark-submit's main file (default: the installed spark_submit.py) "
    "or a spark_python_task's python_file (default: scripts/databricks/generic_entry.py)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="argv as text or JSON"
)
@click.option(
    "--scripts",
    "scripts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="write DIR/<platform>/generic_entry.py for every platform (the seeds' scripts/ layout) and exit",
)
@click.option("--force", is_flag=True, help="with --scripts: overwrite files that differ")
def render_command(
    job: str | None,
    target: str | None,
    service_provider: str | None,
    log_format: str | None,
    databricks_task: str,
    script: str | None,
    fmt: str,
    scripts_dir: Path | None,
    force: bool,
    **kw: Any,
) -> None:
    """Print what a platform must pass to run JOB with these options (nothing runs).

    \b
    spark-submit  argv: spark-submit <main file> --job JOB ... (put --master, --py-files before the file)
    container     argv: sparkjobs-container --job JOB ...
    glue          the JSON for `aws glue start-job-run --arguments`
    databricks    a task's JSON: python_wheel_task (default) or spark_python_task

    \b
    Examples:
      sparkjobs render hello_spark --target glue --env prod -p rows=1000
      sparkjobs render hello_spark --target databricks --databricks-task spark_python
      sparkjobs render --scripts scripts/

    Exit codes: 0 rendered, 2 usage or config error (unknown job, bad parameter, ...).
    """
    if scripts_dir is not None:
        if job is not None or target is not None:
            raise UsageError("--scripts writes the script files only; drop JOB and --target")
        for path in write_scripts(scripts_dir, force=force):
            click.echo(f"wrote {path}")
        return
    if job is None or target is None:
        raise UsageError("render needs JOB and --target (or --scripts DIR to write the script files)")

    from sparkjobs.executor import RunRequest, prepare

    request = RunRequest(job=job, **kw)
    rendered = render(
        target,
        request,
        service_provider=service_provider,
        log_format=log_format,
        script=script,
        databricks_task=databricks_task,
    )
    provider = service_provider or platform_of(target).default_provider
    prepare(dataclasses.replace(request, service_provider=provider))  # the same checks as a run
    if rendered.argv is None:
        out.echo_json(rendered.document)
    elif fmt == "json":
        out.echo_json(list(rendered.argv))
    else:
        click.echo(shlex.join(rendered.argv))
