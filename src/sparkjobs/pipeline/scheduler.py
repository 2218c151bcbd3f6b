"""A foreground scheduler: wait for the next cron fire, run the pipeline for its logical date, repeat.

* The logical date of a fire is the day before the fire time in the schedule's time zone
  (``date_offset_days``, default 1) — the seeds' ``EVENT_DATE=yesterday``.
* Missed fires (the scheduler was down): on start and after every run the scheduler looks for
  logical dates between the latest date that has a run in the ledger and the date of the latest
  fire that have no run at all. ``missed_fires: catch_up`` runs them oldest first (at most
  ``max_catch_up``; older ones are logged with the backfill command), ``skip`` logs them and waits.
  A date whose run *failed* is not "missed": it waits for ``--resume``.
* A stop request (SIGTERM/SIGINT) ends the wait at once, or lets the running step finish and ends
  the run as ``stopped``; then the scheduler returns.
* A fire whose date is already being run by someone else (the store's lock) is logged and skipped.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sparkjobs.errors import SparkJobsError, UsageError
from sparkjobs.pipeline.errors import PipelineLockedError
from sparkjobs.pipeline.ledger import RunLedger, utc_now
from sparkjobs.pipeline.model import PipelineSpec, ScheduleSpec
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.stop import StopToken

#: trigger(logical_date, kind) runs the pipeline once; kind is "schedule" or "catch_up"
Trigger = Callable[[date, str], RunOutcome]


@dataclass
class SchedulerReport:
    """What a scheduler session did (returned when it stops)."""

    runs: list[RunOutcome] = field(default_factory=list)
    skipped_fires: int = 0
    skipped_dates: list[date] = field(default_factory=list)

    @property
    def failed(self) -> list[RunOutcome]:
        return [r for r in self.runs if not r.ok]


class Scheduler:
    """Fires ``trigger`` on the pipeline's cron schedule until ``stop`` is requested."""

    def __init__(
        self,
        pipeline: PipelineSpec,
        trigger: Trigger,
        ledger: RunLedger,
        *,
        stop: StopToken,
        clock: Callable[[], datetime] = utc_now,
        logger: logging.Logger | None = None,
        max_fires: int | None = None,
    ) -> None:
        if pipeline.schedule is None:
            raise UsageError(
                f"pipeline {pipeline.name!r} has no schedule; add `schedule: {{cron: '0 2 * * *'}}` under "
                f"pipelines.{pipeline.name} in conf/"
            )
        self.pipeline = pipeline
        self.schedule: ScheduleSpec = pipeline.schedule
        self.trigger = trigger
        self.ledger = ledger
        self.stop = stop
        self.clock = clock
        self.log = logger or logging.getLogger("sparkjobs.pipeline.scheduler")
        self.max_fires = max_fires

    # -- missed fires --------------------------------------------------------------------------------
    def missed_dates(self, now: datetime) -> list[date]:
        """Logical dates up to the latest fire that have no run at all, after the latest run's date."""
        last = self.ledger.last_run_date(self.pipeline.name)
        if last is None:
            return []  # a fresh ledger: nothing was ever scheduled, so nothing was missed
        latest = self.schedule.logical_date(self.schedule.prev_fire(now))
        if latest <= last:
            return []
        candidates = [last + timedelta(days=i) for i in range(1, (latest - last).days + 1)]
        have = self.ledger.run_dates(self.pipeline.name, candidates[0], candidates[-1])
        return [d for d in candidates if d not in have]

    def _handle_missed(self, report: SchedulerReport) -> None:
        try:
            missed = self.missed_dates(self.clock())
        except (
            SparkJobsError
        ) as exc:  # e.g. the ledger's database is briefly down: try again after the next fire
            self.log.error("could not look for missed fires of %s: %s", self.pipeline.name, exc)
            return
        if not missed:
            return
        name = self.pipeline.name
        backfill = f"sparkjobs pipeline run {name} --from {missed[0]} --to {missed[-1]}"
        if self.schedule.missed_fires == "skip":
            self.log.warning(
                "skipping %d missed logical date(s) of %s (%s .. %s; missed_fires: skip); backfill with: %s",
                len(missed),
                name,
                missed[0],
                missed[-1],
                backfill,
            )
            report.skipped_dates.extend(missed)
            return
        dropped = missed[: -self.schedule.max_catch_up]
        keep = missed[-self.schedule.max_catch_up :]
        if dropped:
            self.log.warning(
                "%d missed date(s) are older than max_catch_up=%d and are not caught up (%s .. %s); "
                "backfill with: sparkjobs pipeline run %s --from %s --to %s",
                len(dropped),
                self.schedule.max_catch_up,
                dropped[0],
                dropped[-1],
                name,
                dropped[0],
                dropped[-1],
            )
            report.skipped_dates.extend(dropped)
        self.log.info("catching up %d missed date(s) of %s: %s", len(keep), name, ", ".join(map(str, keep)))
        for day in keep:
            if self.stop.requested:
                return
            self._fire(day, "catch_up", report)

    # -- the loop -------------------------------------------------------------------------------------
    def _fire(self, day: date, kind: str, report: SchedulerReport) -> None:
        try:
            outcome = self.trigger(day, kind)
        except PipelineLockedError as exc:
            report.skipped_fires += 1
            self.log.warning("fire for %s skipped: %s", day, str(exc).splitlines()[0])
            return
        except SparkJobsError as exc:  # config or ledger trouble: log it, keep the schedule alive
            report.skipped_fires += 1
            self.log.error("fire for %s could not run: %s", day, exc)
            return
        report.runs.append(outcome)

    def serve(self) -> SchedulerReport:
        """Run until a stop is requested (or ``max_fires`` fires, for tests and one-shot use)."""
        report = SchedulerReport()
        sched = self.schedule
        name = self.pipeline.name
        self.log.info(
            "scheduler for %s started: cron %r in %s, missed fires: %s",
            name,
            sched.cron,
            sched.timezone,
            sched.missed_fires,
        )
        self._handle_missed(report)
        cursor = self.clock()
        fires = 0
        while not self.stop.requested:
            if self.max_fires is not None and fires >= self.max_fires:
                break
            fire = sched.next_fire(cursor)
            day = sched.logical_date(fire)
            wait_s = (fire - self.clock()).total_seconds()
            self.log.info(
                "next run of %s at %s for logical date %s (in %.0fs)",
                name,
                fire.isoformat(timespec="seconds"),
                day,
                max(wait_s, 0.0),
            )
            if self.stop.wait(wait_s):
                break
            fires += 1
            self._fire(day, "schedule", report)
            # fires that fell inside a long run are handled as missed fires (by date)
            cursor = max(fire, self.clock())
            if not self.stop.requested:
                self._handle_missed(report)
        self.log.info(
            "scheduler for %s stopped (%s): %d run(s), %d failed, %d fire(s) skipped",
            name,
            self.stop.reason or "done",
            len(report.runs),
            len(report.failed),
            report.skipped_fires,
        )
        return report


def scheduled_logical_date(schedule: ScheduleSpec, now: datetime) -> date:
    """The logical date of the latest fire at or before ``now`` (what a cron-started run uses)."""
    return schedule.logical_date(schedule.prev_fire(now))


def crontab_entry(
    pipeline: PipelineSpec,
    *,
    executable: str,
    workdir: Path,
    log_file: Path,
    extra_flags: Sequence[str] = (),
) -> str:
    """The crontab lines that run ``pipeline`` on its schedule, appending output to ``log_file``."""
    sched = pipeline.schedule
    if sched is None:
        raise UsageError(f"pipeline {pipeline.name!r} has no schedule to turn into a crontab line")
    if sched.has_seconds:
        raise UsageError(
            f"the schedule of {pipeline.name!r} ({sched.cron!r}) has a seconds field; crontab has minute "
            f"resolution. Run `sparkjobs schedule {pipeline.name}` instead."
        )
    command = [executable, "pipeline", "run", pipeline.name, "--scheduled", *extra_flags]
    line = (
        f"{sched.cron} cd {shlex.quote(str(workdir))} && mkdir -p {shlex.quote(str(log_file.parent))} && "
        f"{' '.join(shlex.quote(c) for c in command)} >> {shlex.quote(str(log_file))} 2>&1"
    ).replace("%", r"\%")  # cron turns a bare % into a newline
    return "\n".join(
        [
            f"# sparkjobs pipeline {pipeline.name}: cron {sched.cron!r} in {sched.timezone}.",
            "# --scheduled runs the logical date of the latest fire (the day before, in that time zone).",
            "# CRON_TZ is honoured by cronie; Debian's cron ignores it and uses the system time zone.",
            f"CRON_TZ={sched.timezone}",
            line,
        ]
    )
