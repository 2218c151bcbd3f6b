"""``Job(glue_context)`` with ``init(job_name, args)`` and ``commit()``, recorded."""

from typing import Any

from awsglue import CALLS, FAIL


class Job:
    def __init__(self, glue_context: Any) -> None:
        CALLS.append(("Job", glue_context))
        self.glue_context = glue_context

    def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
        CALLS.append(("Job.init", (job_name, dict(args or {}))))
        if "init" in FAIL:
            raise RuntimeError(FAIL["init"])

    def commit(self) -> None:
        CALLS.append(("Job.commit", None))
        if "commit" in FAIL:
            raise RuntimeError(FAIL["commit"])
