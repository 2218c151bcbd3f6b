"""``sparkjobs schedule NAME``: run a pipeline on its cron schedule in the foreground, or print its cron line.

SIGTERM/SIGINT stop it cleanly (exit 0 after the current run); a second signal aborts now (130).
"""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import click

from sparkjobs.cli import render
from sparkjobs.cli.options import log_format_option
from sparkjobs.cli.workspace import pipeline_workspace, setup_logging
from sparkjobs.errors import UsageError
from sparkjobs.observability.failures import EXIT_INTERRUPTED
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.model import PipelineSpec
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.runner import PipelineRunner
from sparkjobs.pipeline.scheduler import Scheduler, crontab_entry
from sparkjobs.pipeline.signals import stop_on_signals
from sparkjobs.pipeline.stop import StopToken
from sparkjobs.pipeline.workspace import Invocation, Workspace


def absolute_flags(inv: Invocation, cwd: Path) -> list[str]:
    """Flags for a cron line: paths made absolute (cron starts in $HOME)."""
    flags: list[str] = []
    if inv.env:
        flags += ["--env", inv.env]
    if inv.project_dir:
        flags += [
            "--project-dir",
            str(inv.project_dir if inv.project_dir.is_absolute() else cwd / inv.project_dir),
        ]
    if inv.conf_dir:
        flags += ["--conf-dir", str(inv.conf_dir if inv.conf_dir.is_absolute() else cwd / inv.conf_dir)]
    for file in inv.config_files:
        flags += ["--config", str(file if file.is_absolute() else cwd / file)]
    if inv.service_provider != "local":
        flags += ["--service-provider", inv.service_provider]
    return flags


def _print_crontab(ws: Workspace, spec: PipelineSpec, log_file: Path | None) -> None:
    cwd = Path.cwd()
    exe = shutil.which("sparkjobs") or str(Path(sys.argv[0]).resolve())
    target = (log_file or Path("logs") / f"{spec.name}.log").expanduser()
    target = target if target.is_absolute() else cwd / target
    flags = absolute_flags(ws.invocation, cwd)
    click.echo(crontab_entry(spec, executable=exe, workdir=cwd, log_file=target, extra_flags=flags))


@click.command("schedule")
@click.argument("name")
@pipeline_workspace(runs_steps=True)
@click.option("--print-crontab", is_flag=True, help="print the equivalent crontab line instead of running")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="with --print-crontab: where cron appends the output (default logs/<NAME>.log)",
)
@click.option(
    "--max-fires", type=click.IntRange(min=1), default=None, help="stop after this many scheduled fires"
)
@log_format_option
def schedule_command(
    ws: Workspace,
    name: str,
    print_crontab: bool,
    log_file: Path | None,
    max_fires: int | None,
    log_format: str | None,
) -> None:
    """Run pipeline NAME on its cron schedule in the foreground (SIGTERM/SIGINT stop it cleanly)."""
    spec = ws.pipeline(name)
    schedule = spec.schedule
    if schedule is None:
        raise UsageError(
            f"pipeline {name!r} has no schedule; add `schedule: {{cron: '0 2 * * *', timezone: UTC}}` "
            f"under pipelines.{name}"
        )
    if print_crontab:
        _print_crontab(ws, spec, log_file)
        return
    state = ws.state()
    ledger = ws.open_ledger()
    stop = StopToken()
    with stop_on_signals(stop):
        setup_logging(ws, log_format)
        tracing = Tracing.from_environ()
        runner = PipelineRunner(
            spec,
            ledger=ledger,
            settings=ws.settings,
            state=state,
            invocation=ws.invocation,
            stop=stop,
            tracing=tracing,
        )

        def trigger(day: date, kind: str) -> RunOutcome:
            return runner.run(day, mode=schedule.mode, trigger=kind)

        try:
            report = Scheduler(spec, trigger, ledger, stop=stop, max_fires=max_fires).serve()
        except KeyboardInterrupt:
            click.echo("error: scheduler aborted; the interrupted run is recorded as stopped", err=True)
            sys.exit(EXIT_INTERRUPTED)
        finally:
            tracing.shutdown()
    render.echo_json(
        {
            "pipeline": name,
            "runs": len(report.runs),
            "failed": [o.run_id for o in report.failed],
            "skipped_fires": report.skipped_fires,
            "stopped_by": stop.reason or None,
        },
        indent=None,
    )
