"""``sparkjobs pipeline ...``: run, resume, backfill, inspect and unlock pipelines declared in conf/.

Exit codes: 0 success; 1 a run failed (the message names the step and the resume command);
2 bad usage or configuration, or the pipeline is already running for that date;
130/143 a run stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from sparkjobs.cli import render
from sparkjobs.cli.options import format_option, log_format_option, logical_dates, parse_date
from sparkjobs.cli.workspace import pipeline_workspace, setup_logging
from sparkjobs.context import yesterday_utc
from sparkjobs.errors import SparkJobsError, UsageError
from sparkjobs.observability.export import safe_name
from sparkjobs.observability.failures import EXIT_INTERRUPTED, failure_text
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.errors import NoLedgerError
from sparkjobs.pipeline.ledger import RESUMABLE
from sparkjobs.pipeline.model import MODES, Mode, PipelineSpec
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.planning import SessionFactory, StepPlanner, default_session_factory
from sparkjobs.pipeline.runner import PipelineRunner
from sparkjobs.pipeline.scheduler import scheduled_logical_date
from sparkjobs.pipeline.signals import ReceivedSignal, stop_on_signals
from sparkjobs.pipeline.stop import StopToken
from sparkjobs.pipeline.workspace import Workspace


@click.group("pipeline", context_settings={"help_option_names": ["-h", "--help"]})
def pipeline_group() -> None:
    """Run, resume, backfill and inspect pipelines declared under `pipelines:` in conf/."""


@pipeline_group.command("list")
@pipeline_workspace()
@format_option
def list_command(ws: Workspace, fmt: str) -> None:
    """Configured pipelines with their steps and schedules."""
    rows = render.pipeline_rows(ws.pipelines())
    if fmt == "json":
        render.echo_json(rows)
    elif not rows:
        click.echo("no pipelines configured (declare them under `pipelines:` in conf/base/*.yml)", err=True)
    else:
        render.pipeline_table(rows)


# -- run --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """What ``pipeline run``'s options ask for, checked against each other."""

    spec: PipelineSpec
    dates: list[date] | None
    mode: Mode | None
    resume_id: str | None
    resume_last: bool
    scheduled: bool

    @property
    def is_backfill(self) -> bool:
        return self.dates is not None and len(self.dates) > 1


def _run_plan(
    spec: PipelineSpec,
    mode: Any,
    date_: str | None,
    from_: str | None,
    to: str | None,
    scheduled: bool,
    resume_id: str | None,
    resume_last: bool,
    dry_run: bool,
) -> RunPlan:
    dates = logical_dates(date_, from_, to)
    if resume_id and resume_last:
        raise UsageError("use either --resume RUN_ID or --resume-last")
    resuming = bool(resume_id or resume_last)
    if resuming and (from_ or (date_ and resume_id)):
        raise UsageError("--resume continues one recorded run; it takes no --date/--from/--to")
    if resuming and mode:
        raise UsageError("a resumed run keeps the mode it started with; drop --mode")
    if scheduled:
        if dates or resuming:
            raise UsageError("--scheduled computes the date itself; it takes no --date/--from/--to/--resume")
        if spec.schedule is None:
            raise UsageError(f"pipeline {spec.name!r} has no schedule; --scheduled needs one")
        dates = [scheduled_logical_date(spec.schedule, datetime.now(UTC))]
    if dry_run and resuming:
        raise UsageError("--dry-run plans a new run; it cannot be combined with --resume")
    return RunPlan(spec, dates, mode, resume_id, resume_last, scheduled)


def _dry_run(ws: Workspace, plan: RunPlan) -> None:
    """Prepare and validate every step for every date; no ledger, no job runs."""
    planner = StepPlanner(plan.spec, settings=ws.settings, invocation=ws.invocation)
    days = plan.dates or [yesterday_utc()]
    plans = {str(d): planner.plan(d, mode=plan.mode) for d in days}
    render.echo_json({"pipeline": plan.spec.name, "order": plan.spec.order(), "plans": plans})


def _live_display(use_rich: bool) -> Any:
    if use_rich:
        from sparkjobs.cli.progress import RichProgress

        return RichProgress()
    return nullcontext(None)


def _execute(runner: PipelineRunner, plan: RunPlan) -> list[RunOutcome]:
    if plan.resume_id:
        return [runner.resume(plan.resume_id)]
    if plan.resume_last:
        return [runner.resume_last(plan.dates[0] if plan.dates else None)]
    if plan.dates and plan.is_backfill:
        return runner.backfill(plan.dates, mode=plan.mode)
    trigger = "cron" if plan.scheduled else "manual"
    return [runner.run(plan.dates[0] if plan.dates else yesterday_utc(), mode=plan.mode, trigger=trigger)]


def _session_factory(ws: Workspace, plan: RunPlan, live: bool, verbose: bool) -> SessionFactory | None:
    """Under the live display the JVM's stderr goes to ``<runs_dir>/<pipeline>.jvm.log`` (its lines
    would break into the table) unless ``--verbose``; otherwise it stays this process's stderr."""
    if not live or verbose:
        return None
    target = ws.settings.observability.runs_dir / f"{safe_name(plan.spec.name)}.jvm.log"
    return functools.partial(default_session_factory, jvm_stderr=target)


def _run(
    ws: Workspace, plan: RunPlan, log_format: str | None, verbose: bool
) -> tuple[list[RunOutcome], ReceivedSignal]:
    """Run under signal handling and the live display (on a terminal); the ledger records it."""
    stop = StopToken()
    tracing = Tracing.from_environ()
    with stop_on_signals(stop) as received, _live_display(sys.stderr.isatty()) as live:
        setup_logging(ws, log_format, live=live is not None)
        try:
            runner = PipelineRunner(
                plan.spec,
                ledger=ws.open_ledger(),
                settings=ws.settings,
                state=ws.state(),
                invocation=ws.invocation,
                reporter=live,
                stop=stop,
                tracing=tracing,
                session_factory=_session_factory(ws, plan, live is not None, verbose),
            )
            return _execute(runner, plan), received
        except KeyboardInterrupt:
            click.echo(
                "error: aborted; the run is recorded as stopped (resume it with --resume-last)", err=True
            )
            sys.exit(EXIT_INTERRUPTED)
        finally:
            tracing.shutdown()


def _failure_of(outcome: RunOutcome) -> SparkJobsError:
    try:
        outcome.raise_for_status()
    except SparkJobsError as exc:
        return exc
    raise AssertionError("outcome did not fail")


def _exit_for(ws: Workspace, plan: RunPlan, outcomes: Sequence[RunOutcome], received: ReceivedSignal) -> None:
    """Exit non-zero when the last run did not succeed or a backfill stopped early, saying how to go on."""
    name = plan.spec.name
    last = outcomes[-1] if outcomes else None
    if last is None:
        click.echo("error: stopped before the first run started", err=True)
        sys.exit(received.exit_code())
    dates = plan.dates or []
    if not last.ok:
        message = failure_text(_failure_of(last))
        if plan.is_backfill and last.logical_date < dates[-1]:
            rest_from = last.logical_date + timedelta(days=1)
            message += (
                f"\n  backfill stopped at {last.logical_date}; after resuming, continue with: "
                f"sparkjobs pipeline run {name} --from {rest_from} --to {dates[-1]}"
                + "".join(f" {f}" for f in ws.invocation.cli_flags())
            )
        click.echo(message, err=True)
        sys.exit(received.exit_code() if last.status == "stopped" else 1)
    if plan.is_backfill and len(outcomes) < len(dates):  # stopped between dates
        done_to = last.logical_date
        click.echo(
            f"error: backfill stopped after {done_to}; continue with: sparkjobs pipeline run {name} "
            f"--from {done_to + timedelta(days=1)} --to {dates[-1]}",
            err=True,
        )
        sys.exit(received.exit_code())


@pipeline_group.command("run")
@click.argument("name")
@click.option("--mode", type=click.Choice(list(MODES)), default=None, help="default: the pipeline's mode")
@click.option(
    "--date", "date_", default=None, metavar="YYYY-MM-DD", help="logical date (default: yesterday, UTC)"
)
@click.option("--from", "from_", default=None, metavar="YYYY-MM-DD", help="backfill: first logical date")
@click.option("--to", default=None, metavar="YYYY-MM-DD", help="backfill: last logical date (inclusive)")
@click.option(
    "--scheduled",
    is_flag=True,
    help="logical date of the schedule's latest fire (the day before, in its time zone); for cron lines",
)
@click.option(
    "--resume", "resume_id", default=None, metavar="RUN_ID", help="rerun RUN_ID from its failed step"
)
@click.option("--resume-last", is_flag=True, help="resume the most recent run (of --date, if given)")
@pipeline_workspace(runs_steps=True)
@click.option("--dry-run", is_flag=True, help="prepare and validate every step, print the plan, run nothing")
@click.option(
    "--verbose",
    is_flag=True,
    help="show the JVM's own output (on a terminal it goes to <runs_dir>/<pipeline>.jvm.log otherwise)",
)
@log_format_option
def run_command(
    ws: Workspace,
    name: str,
    mode: str | None,
    date_: str | None,
    from_: str | None,
    to: str | None,
    scheduled: bool,
    resume_id: str | None,
    resume_last: bool,
    dry_run: bool,
    verbose: bool,
    log_format: str | None,
) -> None:
    """Run pipeline NAME for one logical date, a backfill range, or resume a failed run."""
    spec = ws.pipeline(name)
    plan = _run_plan(spec, mode, date_, from_, to, scheduled, resume_id, resume_last, dry_run)
    ws.state()  # a bad state store section is a config error, in a dry run too
    if dry_run:
        _dry_run(ws, plan)
        return
    outcomes, received = _run(ws, plan, log_format, verbose)
    render.outcomes(outcomes)
    _exit_for(ws, plan, outcomes, received)


# -- inspection ------------------------------------------------------------------------------------------
@pipeline_group.command("status")
@click.argument("name")
@pipeline_workspace()
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="how many recent runs"
)
@click.option("--date", "date_", default=None, metavar="YYYY-MM-DD", help="only runs of this logical date")
@format_option
def status_command(ws: Workspace, name: str, limit: int, date_: str | None, fmt: str) -> None:
    """Recent runs of pipeline NAME, newest first, and any lock currently held."""
    ws.pipeline(name)  # a typo gets "did you mean", not an empty table
    day = parse_date(date_, "--date") if date_ else None
    try:
        ledger = ws.open_ledger(read_only=True)  # a look never creates a ledger
    except NoLedgerError as missing:
        render.status(name, [], [], f"{missing.where} (no ledger yet)", fmt)
        return
    runs = ledger.list_runs(name, limit=limit, logical_date=day)
    render.status(name, runs, ledger.locks(name), ledger.where, fmt)


@pipeline_group.group("runs")
def runs_group() -> None:
    """Look at single recorded runs."""


@runs_group.command("show")
@click.argument("run_id")
@pipeline_workspace()
@format_option
def runs_show(ws: Workspace, run_id: str, fmt: str) -> None:
    """One run in detail: its steps, every attempt, timings and errors."""
    ledger = ws.open_ledger(read_only=True)
    run = ledger.get_run(run_id)
    lock = ledger.get_lock(run.pipeline, run.logical_date) if run.status == "running" else None
    resume = None
    if run.status in RESUMABLE:
        flags = "".join(f" {f}" for f in ws.invocation.cli_flags())
        resume = f"sparkjobs pipeline run {run.pipeline} --resume {run.run_id}{flags}"
    render.run_detail(run, lock, resume, fmt)


@pipeline_group.command("graph")
@click.argument("name")
@pipeline_workspace()
@click.option("--direction", type=click.Choice(["LR", "TD", "RL", "BT"]), default="LR", show_default=True)
@click.option(
    "--run", "run_id", default=None, metavar="RUN_ID", help="colour the steps by this run's statuses"
)
@click.option("--fence", is_flag=True, help="wrap in a ```mermaid code fence for Markdown")
@click.option(
    "--datasets/--no-datasets",
    default=True,
    show_default=True,
    help="draw the catalog datasets the steps read and write",
)
def graph_command(
    ws: Workspace, name: str, direction: str, run_id: str | None, fence: bool, datasets: bool
) -> None:
    """Print the DAG of pipeline NAME as Mermaid text (paste it into docs)."""
    spec = ws.pipeline(name)
    statuses = None
    if run_id:
        run = ws.open_ledger(read_only=True).get_run(run_id)
        statuses = {s.step: s.status for s in run.steps}
    text = spec.mermaid(statuses=statuses, direction=direction, datasets=datasets)
    click.echo(f"```mermaid\n{text}```" if fence else text, nl=False)
    if fence:
        click.echo()


@pipeline_group.command("unlock")
@click.argument("name")
@click.option("--date", "date_", required=True, metavar="YYYY-MM-DD", help="logical date of the lock")
@click.option("--force", is_flag=True, help="remove it even when its holder looks alive")
@pipeline_workspace()
def unlock_command(ws: Workspace, name: str, date_: str, force: bool) -> None:
    """Remove the run lock of NAME for a date whose holder died (marks that run abandoned)."""
    day = parse_date(date_, "--date")
    try:
        ledger = ws.open_ledger(read_only=True)
    except NoLedgerError as missing:
        click.echo(f"no lock held for {name} on {day} (no ledger at {missing.where})")
        return
    held = ledger.get_lock(name, day)
    if held is None:
        click.echo(f"no lock held for {name} on {day}")
        return
    if ledger.stale_reason(held, ws.state().stale_after_s) is None and not force:
        raise UsageError(
            f"run {held.run_id} ({held.holder}) still looks alive "
            f"(heartbeat {render.fmt_ts(held.heartbeat_at)}); "
            "stop it first, or pass --force if you are sure it is gone"
        )
    removed = ledger.force_unlock(name, day)
    if removed is not None:
        click.echo(
            f"removed the lock of run {removed.run_id} ({removed.holder}); resume it with: "
            f"sparkjobs pipeline run {name} --resume {removed.run_id}"
        )
