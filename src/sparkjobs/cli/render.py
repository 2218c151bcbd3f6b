"""Everything the commands print: job and pipeline lists, config rows, run outcomes, rich tables, lock JSON.

Tables go through rich; off a terminal (a pipe, a log file) rows are not wrapped and colours are
off. Scripts get JSON from every listing command (``--format json``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sparkjobs.pipeline.ledger import LockInfo, RunRecord
    from sparkjobs.pipeline.model import PipelineSpec
    from sparkjobs.pipeline.outcomes import RunOutcome

#: colour of a run status in tables
STATUS_COLOURS = {
    "success": "green",
    "failed": "red",
    "running": "yellow",
    "stopped": "magenta",
    "abandoned": "red",
}


def console() -> Any:
    from rich.console import Console

    # off a terminal rich would wrap tables at 80 columns; a log file or pipe wants whole rows
    return Console() if sys.stdout.isatty() else Console(width=200, no_color=True)


def fmt_ts(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def echo_json(value: Any, *, indent: int | None = 2) -> None:
    click.echo(json.dumps(value, indent=indent, default=str))


# -- jobs -----------------------------------------------------------------------------------------------
def job_rows(listing: Iterable[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """``sparkjobs list`` rows from :func:`sparkjobs.registry.list_jobs` (a broken job keeps its error)."""
    from sparkjobs.capabilities import able_engines

    rows: list[dict[str, Any]] = []
    for spec, meta in listing:
        if isinstance(meta, Exception):
            rows.append(
                {"name": spec.name, "module": spec.module_name, "error": f"{type(meta).__name__}: {meta}"}
            )
            continue
        rows.append(
            {
                "name": spec.name,
                "module": spec.module_name,
                "stage": meta.stage or "",
                "version": meta.version,
                "capabilities": sorted(meta.capabilities),
                "requires": sorted(meta.requires),
                "engines": able_engines(meta.requires),
                "description": meta.description,
            }
        )
    return rows


def job_table(rows: Sequence[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in rows)
    stage_width = max([6, *(len(r.get("stage") or "") for r in rows)])
    for r in rows:
        if "error" in r:
            click.echo(f"{r['name']:<{width}}  BROKEN: {r['error']}")
            continue
        caps = ",".join(r["capabilities"])
        click.echo(
            f"{r['name']:<{width}}  {r['stage'] or '-':<{stage_width}}  v{r['version']:<7} {r['description']}"
            + (f"  [{caps}]" if caps else "")
            + f"  engines: {','.join(r['engines']) or 'none'}"
        )


def config_rows(rows: Sequence[tuple[str, Any, str]], fmt: str) -> None:
    """``config show``: one line per key with its value and the layer it came from."""
    if fmt == "json":
        echo_json([{"key": k, "value": v, "source": s} for k, v, s in rows])
        return
    width = max((len(k) for k, _, _ in rows), default=10)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {json.dumps(value, default=str):<30}  # {source}")


# -- pipelines ------------------------------------------------------------------------------------------
def pipeline_rows(listing: Iterable[tuple[str, PipelineSpec | Exception]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, spec in listing:
        if isinstance(spec, Exception):
            rows.append({"name": name, "error": str(spec)})
            continue
        sched = spec.schedule
        rows.append(
            {
                "name": name,
                "steps": spec.order(),
                "schedule": f"{sched.cron} ({sched.timezone})" if sched else None,
                "description": spec.description,
            }
        )
    return rows


def pipeline_table(rows: Sequence[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        if "error" in r:
            click.echo(f"{r['name']:<{width}}  BROKEN: {r['error']}")
        else:
            when = r["schedule"] or "unscheduled"
            click.echo(f"{r['name']:<{width}}  {when:<22}  {' → '.join(r['steps'])}")


def outcomes(items: Sequence[RunOutcome]) -> None:
    """A readable line per run on a terminal; one JSON line per run for scripts and pipes."""
    if sys.stdout.isatty():
        for o in items:
            click.echo(f"{o.pipeline} {o.logical_date}: {o.status} in {fmt_s(o.duration_s)} (run {o.run_id})")
        return
    for o in items:
        click.echo(json.dumps(o.to_dict(), default=str))


def lock_json(lock: LockInfo) -> dict[str, Any]:
    return {
        "logical_date": str(lock.logical_date),
        "run_id": lock.run_id,
        "holder": lock.holder,
        "acquired_at": lock.acquired_at.isoformat(),
        "heartbeat_at": lock.heartbeat_at.isoformat(),
    }


def steps_summary(run: RunRecord) -> str:
    total = len(run.steps)
    ok = sum(1 for s in run.steps if s.status == "success")
    if run.failed_step:
        step = run.step(run.failed_step)
        attempts = f", {step.attempts} attempt(s)" if step and step.attempts else ""
        return f"{ok}/{total} ok; {run.status} at {run.failed_step}{attempts}"
    return f"{ok}/{total} ok"


def status(name: str, runs: Sequence[RunRecord], locks: Sequence[LockInfo], where: str, fmt: str) -> None:
    """``pipeline status``: recent runs, newest first, and the locks held."""
    if fmt == "json":
        echo_json(
            {"pipeline": name, "runs": [r.to_dict() for r in runs], "locks": [lock_json(lk) for lk in locks]}
        )
        return
    from rich.table import Table

    out = console()
    if not runs:
        out.print(f"no runs recorded of {name} in {where}")
        return
    table = Table(title=f"{name}: last {len(runs)} run(s)", title_justify="left")
    columns = ("run id", "date", "mode", "trigger", "status", "started (UTC)", "duration", "steps", "resumes")
    for col in columns:
        table.add_column(col, no_wrap=col in {"run id", "date", "started (UTC)"})
    for r in runs:
        colour = STATUS_COLOURS.get(r.status, "white")
        table.add_row(
            r.run_id,
            str(r.logical_date),
            r.mode,
            r.trigger,
            f"[{colour}]{r.status}[/]",
            fmt_ts(r.started_at),
            fmt_s(r.duration_s),
            steps_summary(r),
            str(r.resumes),
        )
    out.print(table)
    for lk in locks:
        out.print(
            f"[yellow]lock[/] {lk.logical_date}: run {lk.run_id} ({lk.holder}) "
            f"since {fmt_ts(lk.acquired_at)}, heartbeat {fmt_ts(lk.heartbeat_at)}"
        )


def run_detail(run: RunRecord, lock: LockInfo | None, resume_command: str | None, fmt: str) -> None:
    """``pipeline runs show``: one run, its steps and every attempt."""
    if fmt == "json":
        echo_json(run.to_dict())
        return
    from rich.table import Table

    out = console()
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
        ("started (UTC)", fmt_ts(run.started_at)),
        ("finished (UTC)", fmt_ts(run.finished_at)),
        ("duration", fmt_s(run.duration_s)),
        ("resumes", str(run.resumes)),
    ):
        head.add_row(key, value)
    if run.failed_step:
        head.add_row("failed step", run.failed_step)
    if run.error:
        head.add_row("error", run.error)
    if lock is not None:
        head.add_row("lock", f"held by {lock.holder}, heartbeat {fmt_ts(lock.heartbeat_at)}")
    out.print(head)
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
            fmt_ts(s.started_at),
            fmt_s(s.duration_s),
            s.error or "",
        )
    out.print(steps)
    if run.attempts:
        attempts = Table(title="attempts", title_justify="left")
        for col in ("step", "attempt", "status", "started (UTC)", "duration", "error"):
            attempts.add_column(col, overflow="fold")
        for a in run.attempts:
            attempts.add_row(
                a.step, str(a.attempt), a.status, fmt_ts(a.started_at), fmt_s(a.duration_s), a.error or ""
            )
        out.print(attempts)
    if resume_command:
        out.print(f"resume with: {resume_command}")
