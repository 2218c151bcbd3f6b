"""``AbstractJobFactory.run(**kwargs)``: validate config, build dependencies, create the job, run it."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from sparkjobs.capabilities import DECLARED
from sparkjobs.catalog import DataCatalog
from sparkjobs.config.coerce import type_raw_values
from sparkjobs.config.tree import Path_
from sparkjobs.config.validate import validate_model
from sparkjobs.context import PLATFORM_KWARGS, RESERVED_KWARGS, JobContext
from sparkjobs.errors import JobContractError
from sparkjobs.job import AbstractJob
from sparkjobs.metadata import JobMetadata
from sparkjobs.sql import engine_scope

C = TypeVar("C", bound=BaseModel)


class AbstractJobFactory(ABC, Generic[C]):
    """Base of every job factory.

    Declare ``config_model`` (a pydantic model) to get validated, typed parameters: an unknown or
    misspelled key is an error naming it. A factory without a model (a job ported as-is) passes
    its parameters through unchanged.

    Inside :meth:`create_job`, ``self.context``, ``self.config``, ``self.spark`` (built lazily by
    the session factory), ``self.metrics``, ``self.logger`` and ``self.catalog`` (the datasets named
    in :attr:`inputs` / :attr:`outputs`) are ready to inject.
    """

    config_model: ClassVar[type[BaseModel] | None] = None
    metadata: ClassVar[JobMetadata] = JobMetadata()
    #: the name used under ``jobs:`` in config and in metrics; defaults to the module's last part
    job_name: ClassVar[str | None] = None
    #: datasets the job reads / writes: names, or ``{parameter: dataset}`` (see sparkjobs.catalog.declare)
    inputs: ClassVar[Sequence[str] | Mapping[str, str]] = ()
    outputs: ClassVar[Sequence[str] | Mapping[str, str]] = ()

    def __init__(self, **_ignored: Any) -> None:
        # The seeds construct factories as ``Factory(**kwargs)``; parameters are taken by run().
        self._context: JobContext | None = None
        self._config: Any = None

    # -- dependencies available to create_job ---------------------------------------------------
    @property
    def context(self) -> JobContext:
        if self._context is None:
            raise JobContractError("the factory's context exists only inside run()")
        return self._context

    @property
    def config(self) -> C:
        return self._config

    @property
    def spark(self) -> Any:
        return self.context.spark

    @property
    def metrics(self) -> Any:
        return self.context.metrics

    @property
    def logger(self) -> Any:
        return self.context.logger

    @property
    def catalog(self) -> DataCatalog:
        """``load(name)`` / ``save(df, name)`` for the datasets in :attr:`inputs` / :attr:`outputs`."""
        return self.context.catalog

    # -- contract -------------------------------------------------------------------------------
    @classmethod
    def name(cls) -> str:
        return cls.job_name or cls.__module__.rsplit(".", 1)[-1]

    @classmethod
    def validate_config(
        cls,
        params: Mapping[str, Any],
        *,
        sources: Mapping[Path_, str] | None = None,
        raw_paths: set[Path_] | None = None,
    ) -> Any:
        """The validated config: a model instance, or the params as given when no model is declared."""
        data = type_raw_values(cls.config_model, dict(params), set(raw_paths or ()))
        if cls.config_model is None:
            return data
        return validate_model(
            cls.config_model,
            data,
            sources=sources,
            prefix=("jobs", cls.name()),
            what=f"config for job {cls.name()!r}",
        )

    @classmethod
    def requirements(cls, config: Any) -> dict[str, str]:
        """What this run of the job requires of its engine, each with why: the metadata's
        ``requires``, plus what a setting needs (e.g. a model trained with Spark MLlib). The
        engine choice (``engine: auto``, or the check of an explicit engine) uses this."""
        metadata = getattr(cls, "metadata", None)
        declared = metadata.requires if metadata is not None else frozenset()
        return dict.fromkeys(sorted(declared), DECLARED)

    @classmethod
    def input_paths(cls, config: Any) -> Sequence[str]:
        """The paths the job reads, measured by ``engine: auto`` to choose between an in-process
        engine and Spark (:mod:`sparkjobs.engines.registry`). Default: none (a small job)."""
        return ()

    @classmethod
    def job_kwargs(cls, config: Any) -> dict[str, Any]:
        """What ``create_job`` and ``job.run`` receive: the validated top-level fields."""
        if isinstance(config, BaseModel):
            return {name: getattr(config, name) for name in type(config).model_fields}
        return dict(config)

    @classmethod
    def _model_keys(cls) -> set[str]:
        """Top-level keys the model accepts: field names and their aliases."""
        if cls.config_model is None:
            return set()
        keys: set[str] = set()
        for name, info in cls.config_model.model_fields.items():
            keys.add(name)
            for alias in (info.alias, info.validation_alias):
                if isinstance(alias, str):
                    keys.add(alias)
        return keys

    def _validated(self, context: JobContext, params: dict[str, Any]) -> Any:
        """The executor's validated config when ``params`` are exactly its fields, else a fresh validation.

        Validating twice would re-run before-validators on their own output and, for a model with
        aliases, reject the field names that the first validation produced.
        """
        given = context.config
        model = self.config_model
        if model is not None and isinstance(given, model) and params == self.job_kwargs(given):
            return given
        return self.validate_config(params)

    def run(self, **kwargs: Any) -> Any:
        """Validate → build the context → ``create_job(**params)`` → ``job.run(**params)``.

        Called with a ``context`` (by the executor, or a caller who built one), every other kwarg is
        a job parameter, except ``has_spark`` and ``service_provider`` (the executor passes them for
        hand-written seed-style modules; the context carries them) unless the model declares them.
        Called seeds-style without one, the reserved kwargs (``env``, ``has_spark``,
        ``event_date``, ``partitions`` ...) build the context; one that the config model also
        declares is given to the model as well, so it is never dropped.
        """
        context = kwargs.pop("context", None)
        owns_context = context is None
        if context is None:
            context = JobContext.from_kwargs(self.name(), kwargs)
        reserved = RESERVED_KWARGS if owns_context else PLATFORM_KWARGS
        keys = self._model_keys()
        params = {k: v for k, v in kwargs.items() if k not in reserved or k in keys}
        self._context = context
        self._config = self._validated(context, params)
        job_kwargs = self.job_kwargs(self._config)
        metrics = context.metrics
        metrics.attempts.labels(metrics.job).inc()
        started = time.perf_counter()
        # the observer times, traces and exports the run (textfile, Pushgateway, report) whatever the outcome
        with context.observer.observe_run(self._config):
            try:
                job = self.create_job(**job_kwargs)
                if not isinstance(job, AbstractJob):
                    got = type(job).__name__
                    raise JobContractError(
                        f"{type(self).__qualname__}.create_job() returned {got}, expected an AbstractJob"
                    )
                with engine_scope(context.engine):  # F, T, Window of sparkjobs.sql: this run's engine
                    result = job.run(**job_kwargs)
            except BaseException:
                metrics.record_outcome(False, time.perf_counter() - started)
                raise
            else:
                metrics.record_outcome(True, time.perf_counter() - started)
                context.observer.record_result(result)
                return result
            finally:
                if owns_context:
                    context.session.close()

    @abstractmethod
    def create_job(self, **kwargs: Any) -> AbstractJob:
        """Assemble the job with its dependencies (readers, writers, Spark...) and return it."""


def make_main(factory_cls: type[AbstractJobFactory[Any]]) -> Callable[..., Any]:
    """Write the module contract: ``main = make_main(MyFactory)``."""

    def main(**kwargs: Any) -> Any:
        return factory_cls(**kwargs).run(**kwargs)

    main.factory = factory_cls  # type: ignore[attr-defined]
    main.__doc__ = f"Run {factory_cls.__qualname__} (sparkjobs job module contract: main(**kwargs))."
    return main
