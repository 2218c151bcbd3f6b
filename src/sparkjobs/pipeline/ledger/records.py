"""What the ledger stores: runs, their steps and attempts, and run locks (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

RUN_STATUSES = ("running", "success", "failed", "stopped", "abandoned")
STEP_STATUSES = ("pending", "running", "success", "failed")
#: run statuses ``--resume`` accepts
RESUMABLE = frozenset({"failed", "stopped", "abandoned"})


@dataclass(frozen=True)
class LockInfo:
    pipeline: str
    logical_date: date
    run_id: str
    host: str
    node: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime

    @property
    def holder(self) -> str:
        return f"pid {self.pid} on {self.host}"


@dataclass
class AttemptRecord:
    step: str
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass
class StepRecord:
    step: str
    job: str
    position: int
    status: str = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass
class RunRecord:
    run_id: str
    pipeline: str
    logical_date: date
    mode: str
    status: str
    trigger: str
    env: str
    host: str
    pid: int
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    failed_step: str | None = None
    error: str | None = None
    resumes: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, date | datetime) else value

        out = {k: plain(v) for k, v in self.__dict__.items() if k not in {"steps", "attempts"}}
        out["steps"] = [{k: plain(v) for k, v in s.__dict__.items()} for s in self.steps]
        out["attempts"] = [{k: plain(v) for k, v in a.__dict__.items()} for a in self.attempts]
        return out
