"""``sparkjobs pipeline ...`` and ``sparkjobs schedule``: run, resume, backfill, inspect, schedule.

Exit codes: 0 success; 1 a run failed (the message names the step and the resume command);
2 bad usage or configuration, or the pipeline is already running for that date;
130/143 a run stopped by SIGINT/SIGTERM (``schedule`` exits 0 after a clean stop).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click

from sparkjobs.cli_options import workspace_options
from sparkjobs.context import yesterday_utc
from sparkjobs.errors import SparkJobsError, UsageError
from sparkjobs.observability.failures import EXIT_INTERRUPTED, exit_code_of, failure_text
from sparkjobs.observability.tracing import Tracing
from sparkjobs.pipeline.ledger import RESUMABLE, RunLedger, RunRecord
from sparkjobs.pipeline.model import MODES, PipelineSpec
from sparkjobs.pipeline.runner import PipelineRunner, RunOutcome, RunReporter, StopToken
from sparkjobs.pipeline.scheduler import Scheduler, crontab_entry, scheduled_logical_date
from sparkjobs.pipeline.workspace import Invocation, Workspace

log = logging.getLogger("sparkjobs.pipeline")

#: a backfill longer than this is almost always a typo in --from/--to
MAX_BACKFILL_DAYS = 3660


# -- shared plumbing ------------------------------------------------------------------------------------
def _fail(exc: BaseException) -> None:
    click.echo(failure_text(exc), err=True)
    sys.exit(exit_code_of(exc))


def _invocation(
    env: str | None, conf_dir: Path | None, config_files: tuple[Path, ...], provider: str = "local"
) -> Invocation:
    return Invocation(env=env, conf_dir=conf_dir, config_files=tuple(config_files), service_provider=provider)


def _load(inv: Invocation) -> Workspace:
    try:
        return Workspace.load(inv)
    except SparkJobsError as exc:
        _fail(exc)
        raise  # unreachable: _fail exits


def _setup_logging(ws: Workspace, fmt: str | None, *, live: bool = False) -> None:
    from sparkjobs.observability.logging import configure_logging

    obs = ws.settings.observability
    chosen = fmt or obs.log_format
    if live and chosen == "auto":  # under the live display stderr is rich's proxy, not a tty: stay readable
        chosen = "console"
    configure_logging(chosen, obs.log_level)


def _parse_date(value: str, option: str) -> date:
    text = value.strip().lower()
    today = datetime.now(UTC).date()
    if text == "yesterday":
        return yesterday_utc()
    if text == "today":
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"bad {option} {value!r}: expected YYYY-MM-DD, 'yesterday' or 'today'") from None


@contextmanager
def _signals(stop: StopToken) -> Iterator[dict[str, int]]:
    """First SIGTERM/SIGINT: stop after the current step. Second: abort now (KeyboardInterrupt)."""
    received: dict[str, int] = {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.requested:
            log.warning("%s again: aborting now", name)
            raise KeyboardInterrupt
        received["signum"] = signum
        stop.request(name)
        log.warning("%s received: stopping after the current step (send it again to abort now)", name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _is_tty() -> bool:
    return sys.stderr.isatty()


def _console() -> Any:
    from rich.console import Console

    # off a terminal rich would wrap tables at 80 columns; a log file or pipe wants whole rows
    return Console() if sys.stdout.isatty() else Console(width=200, no_color=True)


def _fmt_ts(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


# -- the group ------------------------------------------------------------------------------------------
@click.group("pipeline", context_settings={"help_option_names": ["-h", "--help"]})
def pipeline_group() -> None:
    """Run, resume, backfill and inspect pipelines declared under `pipelines:` in conf/."""


@pipeline_group.command("list")
@workspace_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(env: str | None, conf_dir: Path | None, config_files: tuple[Path, ...], fmt: str) -> None:
    """Configured pipelines with their steps and schedules."""
    ws = _load(_invocation(env, conf_dir, config_files))
    rows: list[dict[str, Any]] = []
    for name, spec in ws.pipelines():
        if isinstance(spec, PipelineSpec):
            sched = spec.schedule
            rows.append(
                {
                    "name": name,
                    "steps": spec.order(),
                    "schedule": f"{sched.cron} ({sched.timezone})" if sched else None,
                    "description": spec.description,
                }
            )
        else:
            rows.append({"name": name, "error": str(spec)})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no pipelines configured (declare them under `pipelines:` in conf/base/*.yml)", err=True)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        if "error" in r:
            click.echo(f"{r['name']:<{width}}  BROKEN: {r['error']}")
        else:
            when = r["schedule"] or "unscheduled"
            click.echo(f"{r['name']:<{width}}  {when:<22}  {' → '.join(r['steps'])}")


# -- run --------------------------------------------------------------------------------------------------
def _dates(date_: str | None, from_: str | None, to: str | None) -> list[date] | None:
    if date_ and (from_ or to):
        raise UsageError("use either --date or --from/--to, not both")
    if bool(from_) != bool(to):
        raise UsageError("--from and --to go together (a backfill needs both ends)")
    if from_ and to:
        start, end = _parse_date(from_, "--from"), _parse_date(to, "--to")
        if start > end:
            raise UsageError(f"--from {start} is after --to {end}")
        days = (end - start).days + 1
        if days > MAX_BACKFILL_DAYS:
            raise UsageError(
                f"--from/--to spans {days} days (more than {MAX_BACKFILL_DAYS}); split the backfill"
            )
        return [start + timedelta(days=i) for i in range(days)]
    if date_:
        return [_parse_date(date_, "--date")]
    return None


def _reporter_context(use_rich: bool) -> Any:
    if use_rich:
        from sparkjobs.pipeline.progress import RichProgress

        return RichProgress()
    return nullcontext(None)


def _print_outcomes(outcomes: list[RunOutcome]) -> None:
    """A readable line per run on a terminal; one JSON line per run for scripts and pipes."""
    if sys.stdout.isatty():
        for o in outcomes:
            click.echo(
                f"{o.pipeline} {o.logical_date}: {o.status} in {_fmt_s(o.duration_s)} (run {o.run_id})"
            )
        return
    for o in outcomes:
        click.echo(json.dumps(o.to_dict(), default=str))


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
@workspace_options
@click.option("--service-provider", default="local", help="where this runs: local, container, emr, ...")
@click.option("--dry-run", is_flag=True, help="prepare and validate every step, print the plan, run nothing")
@click.option("--log-format", type=click.Choice(["auto", "json", "console"]), default=None)
def run_command(
    name: str,
    mode: str | None,
    date_: str | None,
    from_: str | None,
    to: str | None,
    scheduled: bool,
    resume_id: str | None,
    resume_last: bool,
    env: str | None,
    conf_dir: Path | None,
    config_files: tuple[Path, ...],
    service_provider: str,
    dry_run: bool,
    log_format: str | None,
) -> None:
    """Run pipeline NAME for one logical date, a backfill range, or resume a failed run."""
    inv = _invocation(env, conf_dir, config_files, service_provider)
    ws = _load(inv)
    try:
        spec = ws.pipeline(name)
        dates = _dates(date_, from_, to)
        if resume_id and resume_last:
            raise UsageError("use either --resume RUN_ID or --resume-last")
        resuming = bool(resume_id or resume_last)
        if resuming and (from_ or (date_ and resume_id)):
            raise UsageError("--resume continues one recorded run; it takes no --date/--from/--to")
        if resuming and mode:
            raise UsageError("a resumed run keeps the mode it started with; drop --mode")
        if scheduled:
            if dates or resuming:
                raise UsageError(
                    "--scheduled computes the date itself; it takes no --date/--from/--to/--resume"
                )
            if spec.schedule is None:
                raise UsageError(f"pipeline {name!r} has no schedule; --scheduled needs one")
            dates = [scheduled_logical_date(spec.schedule, datetime.now(UTC))]
        if dry_run and resuming:
            raise UsageError("--dry-run plans a new run; it cannot be combined with --resume")
        state = ws.state()
    except SparkJobsError as exc:
        _fail(exc)
        return
    run_mode: Any = mode
    if dry_run:
        runner = PipelineRunner(spec, ledger=_NoLedger(), settings=ws.settings, state=state, invocation=inv)
        try:
            plans = {str(d): runner.plan(d, mode=run_mode) for d in (dates or [yesterday_utc()])}
        except SparkJobsError as exc:
            _fail(exc)
            return
        click.echo(
            json.dumps({"pipeline": name, "order": spec.order(), "plans": plans}, indent=2, default=str)
        )
        return

    tty = _is_tty()
    stop = StopToken()
    outcomes: list[RunOutcome] = []
    tracing = Tracing.from_environ()
    with _signals(stop) as received, _reporter_context(tty) as live:
        _setup_logging(ws, log_format, live=live is not None)
        try:
            ledger = ws.open_ledger()
            reporter: RunReporter | None = live
            runner = PipelineRunner(
                spec,
                ledger=ledger,
                settings=ws.settings,
                state=state,
                invocation=inv,
                reporter=reporter,
                stop=stop,
                tracing=tracing,
            )
            if resume_id:
                outcomes = [runner.resume(resume_id)]
            elif resume_last:
                outcomes = [runner.resume_last(dates[0] if dates else None)]
            elif dates and len(dates) > 1:
                outcomes = runner.backfill(dates, mode=run_mode)
            else:
                trigger = "cron" if scheduled else "manual"
                outcomes = [
                    runner.run(dates[0] if dates else yesterday_utc(), mode=run_mode, trigger=trigger)
                ]
        except SparkJobsError as exc:
            _fail(exc)
            return
        except KeyboardInterrupt:
            click.echo(
                "error: aborted; the run is recorded as stopped (resume it with --resume-last)", err=True
            )
            sys.exit(EXIT_INTERRUPTED)
        finally:
            tracing.shutdown()
    _print_outcomes(outcomes)
    last = outcomes[-1] if outcomes else None
    if last is None:
        click.echo("error: stopped before the first run started", err=True)
        sys.exit(128 + received.get("signum", signal.SIGTERM))
    if not last.ok:
        message = failure_text(_failure_of(last))
        if dates and len(dates) > 1 and last.logical_date < dates[-1]:
            rest_from = last.logical_date + timedelta(days=1)
            message += (
                f"\n  backfill stopped at {last.logical_date}; after resuming, continue with: "
                f"sparkjobs pipeline run {name} --from {rest_from} --to {dates[-1]}"
                + "".join(f" {f}" for f in inv.cli_flags())
            )
        click.echo(message, err=True)
        if last.status == "stopped":
            sys.exit(128 + received.get("signum", signal.SIGTERM))
        sys.exit(1)
    if dates and len(dates) > 1 and len(outcomes) < len(dates):  # stopped between dates
        done_to = outcomes[-1].logical_date
        click.echo(
            f"error: backfill stopped after {done_to}; continue with: sparkjobs pipeline run {name} "
            f"--from {done_to + timedelta(days=1)} --to {dates[-1]}",
            err=True,
        )
        sys.exit(128 + received.get("signum", signal.SIGTERM))


def _failure_of(outcome: RunOutcome) -> SparkJobsError:
    try:
        outcome.raise_for_status()
    except SparkJobsError as exc:
        return exc
    raise AssertionError("outcome did not fail")


class _NoLedger(RunLedger):
    """``--dry-run`` touches no store: preparing steps needs none."""

    @property
    def where(self) -> str:
        return "(dry run: no ledger)"

    def _connect(self) -> Any:
        raise UsageError("a dry run does not open the run ledger")

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise UsageError("a dry run does not write the run ledger")
        yield

    def _sql(self, sql: str) -> str:
        return sql

    def _to_db(self, value: Any) -> Any:
        return value

    def _create_schema(self) -> None:
        return None


# -- inspection ------------------------------------------------------------------------------------------
def _open(ws: Workspace) -> RunLedger:
    try:
        return ws.open_ledger()
    except SparkJobsError as exc:
        _fail(exc)
        raise


def _steps_summary(run: RunRecord) -> str:
    total = len(run.steps)
    ok = sum(1 for s in run.steps if s.status == "success")
    if run.failed_step:
        step = run.step(run.failed_step)
        attempts = f", {step.attempts} attempt(s)" if step and step.attempts else ""
        return f"{ok}/{total} ok; {run.status} at {run.failed_step}{attempts}"
    return f"{ok}/{total} ok"


@pipeline_group.command("status")
@click.argument("name")
@workspace_options
@click.option("--limit", default=20, show_default=True, help="how many recent runs")
@click.option("--date", "date_", default=None, metavar="YYYY-MM-DD", help="only runs of this logical date")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status_command(
    name: str,
    env: str | None,
    conf_dir: Path | None,
    config_files: tuple[Path, ...],
    limit: int,
    date_: str | None,
    fmt: str,
) -> None:
    """Recent runs of pipeline NAME, newest first, and any lock currently held."""
    from rich.table import Table

    ws = _load(_invocation(env, conf_dir, config_files))
    try:
        ws.pipeline(name)  # a typo gets "did you mean", not an empty table
        ledger = _open(ws)
        day = _parse_date(date_, "--date") if date_ else None
        runs = ledger.list_runs(name, limit=limit, logical_date=day)
        locks = ledger.locks(name)
    except SparkJobsError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "pipeline": name,
                    "runs": [r.to_dict() for r in runs],
                    "locks": [
                        {
                            "logical_date": str(lk.logical_date),
                            "run_id": lk.run_id,
                            "holder": lk.holder,
                            "acquired_at": lk.acquired_at.isoformat(),
                            "heartbeat_at": lk.heartbeat_at.isoformat(),
                        }
                        for lk in locks
                    ],
                },
                indent=2,
            )
        )
        return
    console = _console()
    if not runs:
        console.print(f"no runs of {name} recorded in {ledger.where}")
        return
    table = Table(title=f"{name}: last {len(runs)} run(s)", title_justify="left")
    for col in (
        "run id",
        "date",
        "mode",
        "trigger",
        "status",
        "started (UTC)",
        "duration",
        "steps",
        "resumes",
    ):
        table.add_column(col, no_wrap=col in {"run id", "date", "started (UTC)"})
    colours = {
        "success": "green",
        "failed": "red",
        "running": "yellow",
        "stopped": "magenta",
        "abandoned": "red",
    }
    for r in runs:
        colour = colours.get(r.status, "white")
        table.add_row(
            r.run_id,
            str(r.logical_date),
            r.mode,
            r.trigger,
            f"[{colour}]{r.status}[/]",
            _fmt_ts(r.started_at),
            _fmt_s(r.duration_s),
            _steps_summary(r),
            str(r.resumes),
        )
    console.print(table)
    for lk in locks:
        console.print(
            f"[yellow]lock[/] {lk.logical_date}: run {lk.run_id} ({lk.holder}) "
            f"since {_fmt_ts(lk.acquired_at)}, heartbeat {_fmt_ts(lk.heartbeat_at)}"
        )


@pipeline_group.group("runs")
def runs_group() -> None:
    """Look at single recorded runs."""


@runs_group.command("show")
@click.argument("run_id")
@workspace_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def runs_show(
    run_id: str, env: str | None, conf_dir: Path | None, config_files: tuple[Path, ...], fmt: str
) -> None:
    """One run in detail: its steps, every attempt, timings and errors."""
    from rich.table import Table

    inv = _invocation(env, conf_dir, config_files)
    ws = _load(inv)
    try:
        ledger = _open(ws)
        run = ledger.get_run(run_id)
        lock = ledger.get_lock(run.pipeline, run.logical_date) if run.status == "running" else None
    except SparkJobsError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), indent=2))
        return
    console = _console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key, value in (
        ("run", run.run_id),
        ("pipeline", run.pipeline),
        ("logical date", str(run.logical_date)),
        ("mode", run.mode),
        ("trigger", run.trigger),
        ("env", run.env),
        ("status", run.status),
        ("host / pid", f"{run.host} / {run.pid}"),
        ("started (UTC)", _fmt_ts(run.started_at)),
        ("finished (UTC)", _fmt_ts(run.finished_at)),
        ("duration", _fmt_s(run.duration_s)),
        ("resumes", str(run.resumes)),
    ):
        head.add_row(key, value)
    if run.failed_step:
        head.add_row("failed step", run.failed_step)
    if run.error:
        head.add_row("error", run.error)
    if lock is not None:
        head.add_row("lock", f"held by {lock.holder}, heartbeat {_fmt_ts(lock.heartbeat_at)}")
    console.print(head)
    steps = Table(title="steps", title_justify="left")
    for col in ("#", "step", "job", "status", "attempts", "started (UTC)", "duration", "error"):
        steps.add_column(col, overflow="fold")
    for s in run.steps:
        steps.add_row(
            str(s.position + 1),
            s.step,
            s.job,
            s.status,
            str(s.attempts),
            _fmt_ts(s.started_at),
            _fmt_s(s.duration_s),
            s.error or "",
        )
    console.print(steps)
    if run.attempts:
        attempts = Table(title="attempts", title_justify="left")
        for col in ("step", "attempt", "status", "started (UTC)", "duration", "error"):
            attempts.add_column(col, overflow="fold")
        for a in run.attempts:
            attempts.add_row(
                a.step, str(a.attempt), a.status, _fmt_ts(a.started_at), _fmt_s(a.duration_s), a.error or ""
            )
        console.print(attempts)
    if run.status in RESUMABLE:
        flags = "".join(f" {f}" for f in inv.cli_flags())
        console.print(f"resume with: sparkjobs pipeline run {run.pipeline} --resume {run.run_id}{flags}")


@pipeline_group.command("graph")
@click.argument("name")
@workspace_options
@click.option("--direction", type=click.Choice(["LR", "TD", "RL", "BT"]), default="LR", show_default=True)
@click.option(
    "--run", "run_id", default=None, metavar="RUN_ID", help="colour the steps by this run's statuses"
)
@click.option("--fence", is_flag=True, help="wrap in a ```mermaid code fence for Markdown")
def graph_command(
    name: str,
    env: str | None,
    conf_dir: Path | None,
    config_files: tuple[Path, ...],
    direction: str,
    run_id: str | None,
    fence: bool,
) -> None:
    """Print the DAG of pipeline NAME as Mermaid text (paste it into docs)."""
    ws = _load(_invocation(env, conf_dir, config_files))
    try:
        spec = ws.pipeline(name)
        statuses = None
        if run_id:
            run = _open(ws).get_run(run_id)
            statuses = {s.step: s.status for s in run.steps}
    except SparkJobsError as exc:
        _fail(exc)
        return
    text = spec.mermaid(statuses=statuses, direction=direction)
    click.echo(f"```mermaid\n{text}```" if fence else text, nl=False)
    if fence:
        click.echo()


@pipeline_group.command("unlock")
@click.argument("name")
@click.option("--date", "date_", required=True, metavar="YYYY-MM-DD", help="logical date of the lock")
@click.option("--force", is_flag=True, help="remove it even when its holder looks alive")
@workspace_options
def unlock_command(
    name: str, date_: str, force: bool, env: str | None, conf_dir: Path | None, config_files: tuple[Path, ...]
) -> None:
    """Remove the run lock of NAME for a date whose holder died (marks that run abandoned)."""
    ws = _load(_invocation(env, conf_dir, config_files))
    try:
        day = _parse_date(date_, "--date")
        ledger = _open(ws)
        held = ledger.get_lock(name, day)
        if held is None:
            click.echo(f"no lock held for {name} on {day}")
            return
        reason = ledger.stale_reason(held, ws.state().stale_after_s)
        if reason is None and not force:
            raise UsageError(
                f"run {held.run_id} ({held.holder}) still looks alive "
                f"(heartbeat {_fmt_ts(held.heartbeat_at)}); "
                "stop it first, or pass --force if you are sure it is gone"
            )
        removed = ledger.force_unlock(name, day)
    except SparkJobsError as exc:
        _fail(exc)
        return
    if removed is not None:
        click.echo(
            f"removed the lock of run {removed.run_id} ({removed.holder}); resume it with: "
            f"sparkjobs pipeline run {name} --resume {removed.run_id}"
        )


# -- schedule -------------------------------------------------------------------------------------------
@click.command("schedule")
@click.argument("name")
@workspace_options
@click.option("--service-provider", default="local", help="where this runs: local, container, emr, ...")
@click.option("--print-crontab", is_flag=True, help="print the equivalent crontab line instead of running")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="with --print-crontab: where cron appends the output (default logs/<NAME>.log)",
)
@click.option("--max-fires", type=int, default=None, help="stop after this many scheduled fires")
@click.option("--log-format", type=click.Choice(["auto", "json", "console"]), default=None)
def schedule_command(
    name: str,
    env: str | None,
    conf_dir: Path | None,
    config_files: tuple[Path, ...],
    service_provider: str,
    print_crontab: bool,
    log_file: Path | None,
    max_fires: int | None,
    log_format: str | None,
) -> None:
    """Run pipeline NAME on its cron schedule in the foreground (SIGTERM/SIGINT stop it cleanly)."""
    inv = _invocation(env, conf_dir, config_files, service_provider)
    ws = _load(inv)
    try:
        spec = ws.pipeline(name)
        if spec.schedule is None:
            raise UsageError(
                f"pipeline {name!r} has no schedule; add `schedule: {{cron: '0 2 * * *', timezone: UTC}}` "
                f"under pipelines.{name}"
            )
        if print_crontab:
            cwd = Path.cwd()
            exe = shutil.which("sparkjobs") or str(Path(sys.argv[0]).resolve())
            target = (log_file or Path("logs") / f"{name}.log").expanduser()
            target = target if target.is_absolute() else cwd / target
            flags = _absolute_flags(inv, cwd)
            click.echo(crontab_entry(spec, executable=exe, workdir=cwd, log_file=target, extra_flags=flags))
            return
        state = ws.state()
        ledger = ws.open_ledger()
    except SparkJobsError as exc:
        _fail(exc)
        return
    stop = StopToken()
    with _signals(stop):
        _setup_logging(ws, log_format)
        tracing = Tracing.from_environ()
        runner = PipelineRunner(
            spec, ledger=ledger, settings=ws.settings, state=state, invocation=inv, stop=stop, tracing=tracing
        )
        assert spec.schedule is not None
        sched_mode = spec.schedule.mode

        def trigger(day: date, kind: str) -> RunOutcome:
            return runner.run(day, mode=sched_mode, trigger=kind)

        try:
            report = Scheduler(spec, trigger, ledger, stop=stop, max_fires=max_fires).serve()
        except KeyboardInterrupt:
            click.echo("error: scheduler aborted; the interrupted run is recorded as stopped", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except SparkJobsError as exc:
            _fail(exc)
            return
        finally:
            tracing.shutdown()
    click.echo(
        json.dumps(
            {
                "pipeline": name,
                "runs": len(report.runs),
                "failed": [o.run_id for o in report.failed],
                "skipped_fires": report.skipped_fires,
                "stopped_by": stop.reason or None,
            }
        )
    )


def _absolute_flags(inv: Invocation, cwd: Path) -> list[str]:
    """Flags for a cron line: paths made absolute (cron starts in $HOME)."""
    flags: list[str] = []
    if inv.env:
        flags += ["--env", inv.env]
    if inv.conf_dir:
        flags += ["--conf-dir", str(inv.conf_dir if inv.conf_dir.is_absolute() else cwd / inv.conf_dir)]
    for file in inv.config_files:
        flags += ["--config", str(file if file.is_absolute() else cwd / file)]
    if inv.service_provider != "local":
        flags += ["--service-provider", inv.service_provider]
    return flags
