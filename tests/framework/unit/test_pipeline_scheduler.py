"""The scheduler on a fake clock: fire times, logical dates, missed-fire policies, stop, crontab lines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sparkjobs.errors import UsageError
from sparkjobs.pipeline.errors import PipelineLockedError
from sparkjobs.pipeline.ledger import RunRecord, SQLiteLedger
from sparkjobs.pipeline.model import PipelineSpec
from sparkjobs.pipeline.outcomes import RunOutcome
from sparkjobs.pipeline.scheduler import Scheduler, crontab_entry, scheduled_logical_date
from sparkjobs.pipeline.stop import StopToken


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ClockStop(StopToken):
    """Waiting moves the fake clock instead of sleeping; ``stop_after`` waits, a stop is requested."""

    def __init__(self, clock: FakeClock, stop_after: int | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []
        self.stop_after = stop_after

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.stop_after is not None and len(self.waits) > self.stop_after:
            self.request("SIGTERM")
            return True
        self.clock.now += timedelta(seconds=max(seconds, 0.0))
        return self.requested


def pipeline(cron: str = "0 2 * * *", **schedule: Any) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {"name": "daily", "schedule": {"cron": cron, **schedule}, "steps": {"a": {}}}
    )


class Recorder:
    """A trigger that records (date, kind, fire clock) and writes a run into the ledger."""

    def __init__(self, ledger: SQLiteLedger, clock: FakeClock, status: str = "success") -> None:
        self.ledger = ledger
        self.clock = clock
        self.status = status
        self.calls: list[tuple[date, str]] = []
        self.at: list[datetime] = []
        self.raise_locked = False

    def __call__(self, day: date, kind: str) -> RunOutcome:
        self.calls.append((day, kind))
        self.at.append(self.clock.now)
        if self.raise_locked:
            raise PipelineLockedError(
                "daily", day, "r0", "pid 1 on h", self.clock.now, self.clock.now, "wait"
            )
        run_id = f"run-{len(self.calls)}"
        add_run(self.ledger, day, self.status, run_id)
        return RunOutcome("daily", run_id, day, "incremental", self.status, 1.0, [], "resume")


def add_run(ledger: SQLiteLedger, day: date, status: str, run_id: str | None = None) -> None:
    ledger.create_run(
        RunRecord(
            run_id=run_id or f"seed-{day}",
            pipeline="daily",
            logical_date=day,
            mode="incremental",
            status=status,
            trigger="seed",
            env="dev",
            host="h",
            pid=1,
            started_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )


@pytest.fixture
def ledger(tmp_path: Path) -> SQLiteLedger:
    led = SQLiteLedger(tmp_path / "ledger.db")
    led.init_schema()
    return led


def test_fires_at_cron_times_for_the_day_before(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 10, 1, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    stop = ClockStop(clock)
    report = Scheduler(pipeline(), rec, ledger, stop=stop, clock=clock, max_fires=3).serve()
    assert rec.calls == [
        (date(2024, 3, 9), "schedule"),
        (date(2024, 3, 10), "schedule"),
        (date(2024, 3, 11), "schedule"),
    ]
    assert rec.at == [datetime(2024, 3, d, 2, 0, tzinfo=UTC) for d in (10, 11, 12)]
    assert stop.waits == [3600.0, 86400.0, 86400.0]
    assert len(report.runs) == 3 and report.failed == []


def test_per_second_cron(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 10, 12, 0, 3, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    Scheduler(pipeline("* * * * * */5"), rec, ledger, stop=ClockStop(clock), clock=clock, max_fires=2).serve()
    assert rec.at == [
        datetime(2024, 3, 10, 12, 0, 5, tzinfo=UTC),
        datetime(2024, 3, 10, 12, 0, 10, tzinfo=UTC),
    ]
    assert rec.calls == [(date(2024, 3, 9), "schedule")] * 2


def test_time_zone_of_the_schedule_decides_the_logical_date(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 9, 22, 0, tzinfo=UTC))  # 23:00 in Berlin
    rec = Recorder(ledger, clock)
    spec = pipeline("30 0 * * *", timezone="Europe/Berlin")
    Scheduler(spec, rec, ledger, stop=ClockStop(clock), clock=clock, max_fires=1).serve()
    assert rec.at == [datetime(2024, 3, 9, 23, 30, tzinfo=UTC)]  # 00:30 on the 10th in Berlin
    assert rec.calls == [(date(2024, 3, 9), "schedule")]


def test_catch_up_runs_missed_dates_oldest_first_then_waits(ledger: SQLiteLedger) -> None:
    add_run(ledger, date(2024, 3, 5), "success")
    clock = FakeClock(datetime(2024, 3, 9, 3, 0, tzinfo=UTC))  # fires of the 6th..9th were missed
    rec = Recorder(ledger, clock)
    spec = pipeline(missed_fires="catch_up")
    Scheduler(spec, rec, ledger, stop=ClockStop(clock), clock=clock, max_fires=1).serve()
    assert rec.calls == [
        (date(2024, 3, 6), "catch_up"),
        (date(2024, 3, 7), "catch_up"),
        (date(2024, 3, 8), "catch_up"),
        (date(2024, 3, 9), "schedule"),
    ]


def test_catch_up_is_capped_and_reports_the_rest(ledger: SQLiteLedger) -> None:
    add_run(ledger, date(2024, 3, 1), "success")
    clock = FakeClock(datetime(2024, 3, 9, 3, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    spec = pipeline(missed_fires="catch_up", max_catch_up=2)
    report = Scheduler(spec, rec, ledger, stop=ClockStop(clock, stop_after=0), clock=clock).serve()
    assert rec.calls == [(date(2024, 3, 7), "catch_up"), (date(2024, 3, 8), "catch_up")]
    assert report.skipped_dates == [date(2024, 3, d) for d in (2, 3, 4, 5, 6)]


def test_skip_policy_runs_nothing_missed(ledger: SQLiteLedger) -> None:
    add_run(ledger, date(2024, 3, 5), "success")
    clock = FakeClock(datetime(2024, 3, 9, 3, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    report = Scheduler(pipeline(), rec, ledger, stop=ClockStop(clock), clock=clock, max_fires=1).serve()
    assert rec.calls == [(date(2024, 3, 9), "schedule")]
    assert report.skipped_dates == [date(2024, 3, 6), date(2024, 3, 7), date(2024, 3, 8)]


def test_a_failed_date_is_not_missed_and_a_fresh_ledger_misses_nothing(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 9, 3, 0, tzinfo=UTC))
    sched = Scheduler(
        pipeline(missed_fires="catch_up"), Recorder(ledger, clock), ledger, stop=StopToken(), clock=clock
    )
    assert sched.missed_dates(clock()) == []  # nothing ever ran: nothing was missed
    add_run(ledger, date(2024, 3, 6), "success")
    add_run(ledger, date(2024, 3, 7), "failed")
    assert sched.missed_dates(clock()) == [date(2024, 3, 8)]


def test_a_run_that_outlasts_the_next_fire_is_caught_up_by_date(ledger: SQLiteLedger) -> None:
    add_run(ledger, date(2024, 3, 8), "success")
    clock = FakeClock(datetime(2024, 3, 9, 3, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)

    def slow(day: date, kind: str) -> RunOutcome:
        outcome = rec(day, kind)
        if len(rec.calls) == 1:
            clock.now += timedelta(days=2)  # the first run takes two days
        return outcome

    spec = pipeline(missed_fires="catch_up")
    Scheduler(spec, slow, ledger, stop=ClockStop(clock, stop_after=1), clock=clock).serve()
    assert rec.calls == [
        (date(2024, 3, 9), "schedule"),
        (date(2024, 3, 10), "catch_up"),
        (date(2024, 3, 11), "catch_up"),
    ]


def test_stop_while_waiting_returns_without_running(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 10, 1, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    stop = ClockStop(clock, stop_after=0)
    report = Scheduler(pipeline(), rec, ledger, stop=stop, clock=clock).serve()
    assert rec.calls == [] and report.runs == []
    assert stop.reason == "SIGTERM"


def test_a_locked_date_is_skipped_and_the_schedule_goes_on(ledger: SQLiteLedger) -> None:
    clock = FakeClock(datetime(2024, 3, 10, 1, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    rec.raise_locked = True
    report = Scheduler(pipeline(), rec, ledger, stop=ClockStop(clock), clock=clock, max_fires=2).serve()
    assert len(rec.calls) == 2
    assert report.skipped_fires == 2 and report.runs == []


def test_a_pipeline_without_schedule_cannot_be_scheduled(ledger: SQLiteLedger) -> None:
    spec = PipelineSpec.model_validate({"name": "adhoc", "steps": {"a": {}}})
    with pytest.raises(UsageError, match="pipeline 'adhoc' has no schedule"):
        Scheduler(spec, Recorder(ledger, FakeClock(datetime.now(UTC))), ledger, stop=StopToken())


def test_scheduled_logical_date() -> None:
    spec = pipeline()
    assert spec.schedule is not None
    assert scheduled_logical_date(spec.schedule, datetime(2024, 3, 10, 2, 0, 30, tzinfo=UTC)) == date(
        2024, 3, 9
    )
    assert scheduled_logical_date(spec.schedule, datetime(2024, 3, 10, 1, 59, tzinfo=UTC)) == date(2024, 3, 8)


def test_crontab_entry() -> None:
    text = crontab_entry(
        pipeline(),
        executable="/opt/venv/bin/sparkjobs",
        workdir=Path("/srv/app"),
        log_file=Path("/var/log/sparkjobs/daily.log"),
        extra_flags=["--env", "prod"],
    )
    lines = text.splitlines()
    assert lines[-2] == "CRON_TZ=UTC"
    assert lines[-1] == (
        "0 2 * * * cd /srv/app && mkdir -p /var/log/sparkjobs && /opt/venv/bin/sparkjobs pipeline run daily "
        "--scheduled --env prod >> /var/log/sparkjobs/daily.log 2>&1"
    )
    assert all(line.startswith("#") for line in lines[:-2])


def test_crontab_entry_quotes_paths_and_escapes_percent() -> None:
    text = crontab_entry(
        pipeline(),
        executable="/opt/bin/sparkjobs",
        workdir=Path("/srv/my app"),
        log_file=Path("/logs/100%.log"),
    )
    assert "cd '/srv/my app' &&" in text
    assert text.endswith(r">> /logs/100\%.log 2>&1")


def test_crontab_refuses_a_seconds_schedule() -> None:
    with pytest.raises(UsageError, match="crontab has minute resolution"):
        crontab_entry(pipeline("*/5 * * * * *"), executable="x", workdir=Path("/"), log_file=Path("/l"))


def test_a_ledger_outage_does_not_stop_the_scheduler(ledger: SQLiteLedger) -> None:
    from sparkjobs.pipeline.errors import LedgerError

    class FlakyLedger(SQLiteLedger):
        down = True

        def last_run_date(self, pipeline: str, *, statuses: Any = ()) -> date | None:
            if self.down:
                raise LedgerError("run ledger at postgresql://db: connection refused", transient=True)
            return super().last_run_date(pipeline, statuses=statuses)

    flaky = FlakyLedger(ledger.path)
    clock = FakeClock(datetime(2024, 3, 10, 1, 0, tzinfo=UTC))
    rec = Recorder(ledger, clock)
    report = Scheduler(pipeline(missed_fires="catch_up"), rec, flaky, stop=ClockStop(clock), clock=clock,
                       max_fires=2).serve()  # fmt: skip
    assert rec.calls == [(date(2024, 3, 9), "schedule"), (date(2024, 3, 10), "schedule")]
    assert len(report.runs) == 2
