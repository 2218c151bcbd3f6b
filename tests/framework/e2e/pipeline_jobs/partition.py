"""Write one date partition ``<out_dir>/event_date=D/part-0.json`` (idempotent: a rerun replaces it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_jobs._trace import TraceConfig, TracingJob

from sparkjobs import AbstractJobFactory, make_main


class PartitionConfig(TraceConfig):
    out_dir: str


class PartitionJob(TracingJob):
    def work(self) -> Any:
        day = self.context.event_date.isoformat()
        target = Path(self.config.out_dir) / f"event_date={day}"
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / "part-0.json.tmp"
        tmp.write_text(json.dumps({"event_date": day, "mode": self.config.mode}))
        tmp.replace(target / "part-0.json")
        return {"partition": str(target)}


class PartitionFactory(AbstractJobFactory[PartitionConfig]):
    config_model = PartitionConfig

    def create_job(self, **kwargs: Any) -> PartitionJob:
        return PartitionJob(self.config, self.context)


main = make_main(PartitionFactory)
