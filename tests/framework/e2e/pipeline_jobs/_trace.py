"""Shared bits of the test jobs: the trace file and a base job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from sparkjobs import AbstractJob, JobContext


class TraceConfig(BaseModel):
    trace: str
    label: str = ""
    mode: Literal["initial_load", "incremental"] = "incremental"


def append_trace(path: str, **fields: Any) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as fh:
        fh.write(json.dumps(fields, sort_keys=True) + "\n")


class TracingJob(AbstractJob):
    """Runs ``work()`` then appends {step, date, mode, run_id} to the trace."""

    def __init__(self, config: Any, context: JobContext) -> None:
        self.config = config
        self.context = context

    def work(self) -> Any:
        return None

    def execute_job(self, **kwargs: Any) -> Any:
        result = self.work()
        append_trace(
            self.config.trace,
            step=self.config.label or self.context.job_name,
            date=self.context.event_date.isoformat(),
            mode=self.config.mode,
            run_id=self.context.run_id,
        )
        return result

    def on_success(self, result: Any) -> None:
        self.context.logger.info("%s done", self.context.job_name)

    def on_failure(self, error_message: str) -> None:
        self.context.logger.error("%s failed: %s", self.context.job_name, error_message)
