"""``sparkjobs`` command line. The only module that wires every layer together.

Lazy: ``sparkjobs --help`` and ``sparkjobs list`` never import pyspark; heavy subcommands
(pipeline, schedule, serve) are imported only when invoked.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any

import click

from sparkjobs.cli_options import workspace_options
from sparkjobs.errors import SparkJobsError
from sparkjobs.observability.failures import EXIT_INTERRUPTED, exit_code_of, failure_text

LAZY_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "pipeline": ("sparkjobs.pipeline.cli:pipeline_group", "Run, resume, backfill and inspect pipelines."),
    "schedule": ("sparkjobs.pipeline.cli:schedule_command", "Run a pipeline on its cron schedule."),
    "serve": ("sparkjobs.serve:serve_command", "Serve a registered HTTP service (e.g. recommendations)."),
}


class LazyGroup(click.Group):
    """A click group whose heavy subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_SUBCOMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_SUBCOMMANDS:
            target = LAZY_SUBCOMMANDS[cmd_name][0]
            module_name, attr = target.split(":")
            module = importlib.import_module(module_name)
            return getattr(module, attr)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            if name in LAZY_SUBCOMMANDS:
                rows.append((name, LAZY_SUBCOMMANDS[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=70)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def fail(exc: BaseException, code: int | None = None) -> None:
    """Print the redacted error and exit with its code (or ``code``)."""
    click.echo(failure_text(exc), err=True)
    sys.exit(exit_code_of(exc) if code is None else code)


def _setup_logging(fmt: str | None = None, level: str | None = None) -> None:
    from sparkjobs.observability.logging import configure_logging

    configure_logging(fmt or "auto", level or "INFO")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparkjobs")
def cli() -> None:
    """sparkjobs — one entry point and one contract for PySpark batch jobs."""


# -- shared options -------------------------------------------------------------------------------
def config_options(func: Any) -> Any:
    func = workspace_options(func)
    func = click.option(
        "--param",
        "-p",
        "params",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help="set one job parameter, typed by the job's model (the value may hold '=' and ':'; "
        "lists as [a, b]); repeatable",
    )(func)
    func = click.option(
        "--json", "json_config", default=None, metavar="JSON", help="the whole job config as JSON"
    )(func)
    return func


def _request(job: str, **kw: Any) -> Any:
    from sparkjobs.executor import RunRequest

    return RunRequest(job=job, **kw)


@cli.command("run")
@click.argument("job")
@config_options
@click.option("--partitions", type=int, default=None, help="spark.sql.shuffle.partitions for this run")
@click.option("--salt", type=int, default=None, help="salt bucket count for salted joins")
@click.option("--has-spark/--no-spark", "has_spark", default=True, help="whether the run may use Spark")
@click.option(
    "--event-date", default=None, metavar="YYYY-MM-DD", help="logical date (default: yesterday, UTC)"
)
@click.option("--dry-run", is_flag=True, help="validate and print the resolved plan; touch nothing")
@click.option("--service-provider", default="local", help="where this runs: local, container, emr, ...")
@click.option("--run-id", default=None, help="use this run id instead of a generated one")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default=None,
    help="log line format (default: observability.log_format; auto = JSON off a terminal)",
)
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

    try:
        prepared = prepare(_request(job, **kw))
    except SparkJobsError as exc:
        fail(exc)
        return
    ctx = prepared.context
    _setup_logging(log_format or ctx.settings.observability.log_format, ctx.settings.observability.log_level)
    if kw["dry_run"]:
        click.echo(json.dumps(prepared.plan(), indent=2, default=str))
        return
    started = time.perf_counter()
    try:
        result = execute(prepared)
    except SparkJobsError as exc:
        fail(exc)
        return
    except KeyboardInterrupt:
        click.echo(
            f"error: job {prepared.spec.name!r} interrupted (run_id={ctx.run_id}); "
            "rerun it with the same --event-date to redo that date",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    elapsed = time.perf_counter() - started
    click.echo(
        json.dumps(
            {
                "job": prepared.spec.name,
                "run_id": ctx.run_id,
                "status": "success",
                "duration_s": round(elapsed, 3),
                "result": result,
            },
            default=str,
        )
    )


@cli.command("list")
@click.option("--stage", type=click.Choice(["bronze", "silver", "gold"]), default=None)
@click.option("--capability", default=None, help="e.g. incremental, distributed, validation")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(stage: str | None, capability: str | None, fmt: str) -> None:
    """Registered jobs with one-line descriptions."""
    from sparkjobs.registry import list_jobs

    rows: list[dict[str, Any]] = []
    for spec, meta in list_jobs(stage, capability):
        if isinstance(meta, Exception):
            rows.append(
                {"name": spec.name, "module": spec.module_name, "error": f"{type(meta).__name__}: {meta}"}
            )
        else:
            rows.append(
                {
                    "name": spec.name,
                    "module": spec.module_name,
                    "stage": meta.stage or "",
                    "version": meta.version,
                    "capabilities": sorted(meta.capabilities),
                    "description": meta.description,
                }
            )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no jobs match" if (stage or capability) else "no registered jobs", err=True)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        if "error" in r:
            click.echo(f"{r['name']:<{width}}  BROKEN: {r['error']}")
        else:
            caps = ",".join(r["capabilities"])
            click.echo(
                f"{r['name']:<{width}}  {r['stage'] or '-':<6}  v{r['version']:<7} {r['description']}"
                + (f"  [{caps}]" if caps else "")
            )


@cli.command("describe")
@click.argument("job")
def describe_command(job: str) -> None:
    """A job's metadata and parameters with types, defaults and docs."""
    from sparkjobs.describe import describe_job

    try:
        click.echo(describe_job(job))
    except SparkJobsError as exc:
        fail(exc)


@cli.group("config")
def config_group() -> None:
    """Inspect the merged configuration of a job."""


@config_group.command("show")
@click.argument("job")
@config_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def config_show(job: str, fmt: str, **kw: Any) -> None:
    """Merged config of JOB, each value with the layer it came from (secrets masked)."""
    from sparkjobs.executor import show_config

    try:
        rows = show_config(_request(job, **kw))
    except SparkJobsError as exc:
        fail(exc)
        return
    if fmt == "json":
        click.echo(
            json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows], indent=2, default=str)
        )
        return
    width = max((len(k) for k, _, _ in rows), default=10)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {json.dumps(value, default=str):<30}  # {source}")


@config_group.command("schema")
@click.argument("job")
def config_schema(job: str) -> None:
    """JSON Schema of JOB's config model."""
    from sparkjobs.registry import resolve

    try:
        spec = resolve(job)
        model = spec.config_model
    except SparkJobsError as exc:
        fail(exc)
        return
    if model is None:
        fail(SparkJobsError(f"job {job!r} declares no config model; its parameters are passed as given"), 2)
        return
    click.echo(json.dumps(model.model_json_schema(), indent=2))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sparkjobs")


if __name__ == "__main__":  # pragma: no cover
    main()
