"""``sparkjobs run | list | describe | config``: one job at a time.

Exit codes: 0 success, 1 the job failed, 2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from sparkjobs.cli import render
from sparkjobs.cli.options import (
    config_options,
    engine_option,
    format_option,
    log_format_option,
    run_options,
    service_provider_option,
)
from sparkjobs.errors import UsageError
from sparkjobs.observability.failures import EXIT_INTERRUPTED


def _request(job: str, **kw: Any) -> Any:
    from sparkjobs.executor import RunRequest

    return RunRequest(job=job, **kw)


@click.command("run")
@click.argument("job")
@config_options
@run_options
@service_provider_option
@engine_option
@log_format_option
def run_command(job: str, log_format: str | None, **kw: Any) -> None:
    """Run JOB: a registered name (see `sparkjobs list`) or a dotted module path.

    \b
    Configuration layers, later wins: model defaults < conf/base < conf/<env> < conf/local
    < SPARKJOBS__SECTION__KEY variables < --config files < --json < --param and flags.

    \b
    Examples:
      sparkjobs run hello_spark --dry-run
      sparkjobs run myproject.jobs.daily_ingest --env prod --event-date 2024-03-01 -p output.path=s3://b/x

    Exit codes: 0 success, 1 the job failed, 2 usage or config error, 130 interrupted.
    """
    from sparkjobs.executor import execute, prepare
    from sparkjobs.observability.logging import configure_logging

    prepared = prepare(_request(job, **kw))
    ctx = prepared.context
    observability = ctx.settings.observability
    configure_logging(log_format or observability.log_format or "auto", observability.log_level or "INFO")
    if kw["dry_run"]:
        render.echo_json(prepared.plan())
        return
    started = time.perf_counter()
    try:
        result = execute(prepared)
    except KeyboardInterrupt:
        click.echo(
            f"error: job {prepared.spec.name!r} interrupted (run_id={ctx.run_id}); "
            "rerun it with the same --event-date to redo that date",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    line = {
        "job": prepared.spec.name,
        "run_id": ctx.run_id,
        "status": "success",
        "duration_s": round(time.perf_counter() - started, 3),
        "result": result,
    }
    render.echo_json(line, indent=None)


@click.command("list")
@click.option("--stage", default=None, help="only jobs of this stage, e.g. bronze, silver, gold")
@click.option(
    "--capability",
    default=None,
    help="jobs offering it (incremental, validation...) or requiring it of their engine (spark, "
    "distributed...); also lists the engines that provide it",
)
@format_option
def list_command(stage: str | None, capability: str | None, fmt: str) -> None:
    """Registered jobs with one-line descriptions."""
    from sparkjobs.registry import list_jobs

    rows = render.job_rows(list_jobs(stage, capability))
    if fmt == "json":
        render.echo_json(rows)
        return
    if not rows:
        click.echo("no jobs match" if (stage or capability) else "no registered jobs", err=True)
    else:
        render.job_table(rows)
    if capability is None:
        return
    # imported only here: `list` without --capability imports no pydantic (tests/.../test_cli_imports.py)
    from sparkjobs.capabilities import ENGINE_CAPABILITIES, engines_providing

    if capability in ENGINE_CAPABILITIES:
        providers = engines_providing(capability)
        click.echo(f"engines providing {capability}: {', '.join(providers) or 'none'}")


@click.command("describe")
@click.argument("job")
def describe_command(job: str) -> None:
    """A job's metadata and parameters with types, defaults and docs."""
    from sparkjobs.describe import describe_job

    click.echo(describe_job(job))


@click.group("config")
def config_group() -> None:
    """Inspect the merged configuration of a job."""


@config_group.command("show")
@click.argument("job")
@config_options
@format_option
def config_show(job: str, fmt: str, **kw: Any) -> None:
    """Merged config of JOB, each value with the layer it came from (secrets masked).

    Required keys that no layer sets are listed as "<missing>" (a note on stderr names them).
    """
    from sparkjobs.config_show import show_config

    view = show_config(_request(job, **kw))
    render.config_rows(view.rows, fmt)
    if view.missing:
        click.echo(
            f"note: {len(view.missing)} required key(s) not set: {', '.join(view.missing)}; "
            f"`sparkjobs run {job}` refuses to start until they are",
            err=True,
        )


@config_group.command("schema")
@click.argument("job")
def config_schema(job: str) -> None:
    """JSON Schema of JOB's config model."""
    from sparkjobs.registry import resolve

    model = resolve(job).config_model
    if model is None:
        raise UsageError(f"job {job!r} declares no config model; its parameters are passed as given")
    render.echo_json(model.model_json_schema())
