"""A job module written by hand the seeds' way (seed 002), not with ``make_main``.

``main(**kwargs)`` reads ``kwargs["has_spark"]`` and ``kwargs["service_provider"]`` (the seeds' entry
points add them to the job parameters), builds its factory with ``Factory(**kwargs)`` and calls
``factory.run(**kwargs)``. It never touches Spark.
"""

from __future__ import annotations

from typing import Any

from sparkjobs import AbstractJob, AbstractJobFactory


class EchoPlatformJob(AbstractJob):
    def __init__(self, has_spark: bool, service_provider: str, seen_by_main: dict[str, Any]) -> None:
        self.has_spark = has_spark
        self.service_provider = service_provider
        self.seen_by_main = seen_by_main

    def execute_job(self, **kwargs: Any) -> Any:
        return {
            "factory_has_spark": self.has_spark,
            "factory_service_provider": self.service_provider,
            "main_saw": self.seen_by_main,
            "job_params": dict(kwargs),
        }

    def on_success(self, result: Any) -> None:
        self.succeeded = result

    def on_failure(self, error_message: str) -> None:
        self.failed = error_message


class EchoPlatformJobFactory(AbstractJobFactory):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.has_spark = kwargs["has_spark"]
        self.service_provider = kwargs["service_provider"]
        self.seen_by_main = {k: kwargs[k] for k in sorted(kwargs) if k != "context"}

    def create_job(self, **kwargs: Any) -> EchoPlatformJob:
        return EchoPlatformJob(self.has_spark, self.service_provider, self.seen_by_main)


def main(**kwargs: Any) -> Any:
    factory = EchoPlatformJobFactory(**kwargs)
    return factory.run(**kwargs)
