"""Fail with a terminal data error until the file ``fixed_by`` exists (the "fix" a user deploys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_jobs._trace import TraceConfig, TracingJob

from sparkjobs import AbstractJobFactory, DataError, make_main


class BrokenConfig(TraceConfig):
    fixed_by: str


class BrokenJob(TracingJob):
    def work(self) -> Any:
        if not Path(self.config.fixed_by).exists():
            raise DataError(f"column 'rating' is missing in the input for {self.context.event_date}")
        return None


class BrokenFactory(AbstractJobFactory[BrokenConfig]):
    config_model = BrokenConfig

    def create_job(self, **kwargs: Any) -> BrokenJob:
        return BrokenJob(self.config, self.context)


main = make_main(BrokenFactory)
