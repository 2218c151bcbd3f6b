"""Record that the step ran (date, mode, run id) in the trace file."""

from __future__ import annotations

from typing import Any

from pipeline_jobs._trace import TraceConfig, TracingJob

from sparkjobs import AbstractJobFactory, make_main


class RecordFactory(AbstractJobFactory[TraceConfig]):
    config_model = TraceConfig

    def create_job(self, **kwargs: Any) -> TracingJob:
        return TracingJob(self.config, self.context)


main = make_main(RecordFactory)
