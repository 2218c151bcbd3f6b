"""Touch ``started``, then wait until ``release`` exists (or ``max_wait_s`` passes), then succeed.

Lets a test hold a pipeline run open at a known point: to start a second, concurrent run, or to
send SIGTERM while a step is running. With ``honour_cancel`` it stops waiting when the runner sets
the step's cancel event (a cooperative timeout).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline_jobs._trace import TraceConfig, TracingJob

from sparkjobs import AbstractJobFactory, TransientError, make_main


class HoldConfig(TraceConfig):
    started: str
    release: str
    waiting: str | None = None  # touched once the job is waiting for `release`
    max_wait_s: float = 60.0
    honour_cancel: bool = False


class HoldJob(TracingJob):
    def work(self) -> Any:
        Path(self.config.started).write_text(self.context.run_id)
        cancel = self.context.extras.get("cancel_event")
        deadline = time.monotonic() + self.config.max_wait_s
        while not Path(self.config.release).exists():
            if self.config.waiting:
                Path(self.config.waiting).touch()
            if self.config.honour_cancel and cancel is not None and cancel.is_set():
                raise TransientError("cancelled by the runner")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.config.release} did not appear within {self.config.max_wait_s}s")
            time.sleep(0.05)
        return None


class HoldFactory(AbstractJobFactory[HoldConfig]):
    config_model = HoldConfig

    def create_job(self, **kwargs: Any) -> HoldJob:
        return HoldJob(self.config, self.context)


main = make_main(HoldFactory)
