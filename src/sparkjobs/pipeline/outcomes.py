"""What a run and each of its steps came to: the values the runner returns and the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sparkjobs.pipeline.errors import PipelineFailedError
from sparkjobs.pipeline.ledger import LockInfo


@dataclass
class StepOutcome:
    step: str
    job: str
    #: success | failed | pending (not reached) | skipped (succeeded in an earlier attempt of this run)
    status: str
    attempts: int = 0
    duration_s: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    result: Any = None


@dataclass
class RunOutcome:
    pipeline: str
    run_id: str
    logical_date: date
    mode: str
    status: str  # success | failed | stopped
    duration_s: float
    steps: list[StepOutcome]
    resume_command: str
    failed_step: str | None = None
    error: str | None = None
    error_transient: bool = False
    took_over: LockInfo | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def raise_for_status(self) -> RunOutcome:
        if not self.ok:
            raise PipelineFailedError(
                self.pipeline,
                self.run_id,
                self.logical_date,
                self.failed_step,
                self.error or self.status,
                self.resume_command,
                status=self.status,
                cause_transient=self.error_transient,
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "logical_date": self.logical_date.isoformat(),
            "mode": self.mode,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "failed_step": self.failed_step,
            "error": self.error,
            "steps": [
                {
                    "step": s.step,
                    "job": s.job,
                    "status": s.status,
                    "attempts": s.attempts,
                    "duration_s": round(s.duration_s, 3),
                    "error": s.error,
                }
                for s in self.steps
            ],
            **({"resume_command": self.resume_command} if not self.ok else {}),
        }
