"""Fail with a transient error the first ``fail_times`` calls (counted in a file), then succeed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_jobs._trace import TraceConfig, TracingJob

from sparkjobs import AbstractJobFactory, TransientError, make_main


class FlakyConfig(TraceConfig):
    counter: str
    fail_times: int = 1


class FlakyJob(TracingJob):
    def work(self) -> Any:
        counter = Path(self.config.counter)
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls <= self.config.fail_times:
            raise TransientError(
                f"simulated dropped connection (failing call {calls} of {self.config.fail_times})"
            )
        return {"calls": calls}


class FlakyFactory(AbstractJobFactory[FlakyConfig]):
    config_model = FlakyConfig

    def create_job(self, **kwargs: Any) -> FlakyJob:
        return FlakyJob(self.config, self.context)


main = make_main(FlakyFactory)
