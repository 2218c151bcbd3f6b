"""Engines, what each provides, and the choice of the engine that runs a job.

The seeds' ``create_best_processor(required_capabilities)`` as a documented, tested function of
the registry: :meth:`EngineRegistry.select`.

Rule (``engine: auto``), written down once here:

1. the candidates are the engines that provide **every** capability the job requires and are
   installed (their Python packages importable: ``sqlframe`` and ``duckdb`` for DuckDB, ``pyspark``
   for Spark), in the registry's order of preference (cheapest first: DuckDB in-process, then
   Spark); ``has_spark=false`` (``--no-spark``) removes the engines that need a JVM;
2. the first candidate whose input limit covers the job's input size wins (DuckDB's limit is
   ``engine.in_process_max_input_mb``; Spark has none). An input of unknown size (a remote
   path that is not measured) is covered only by an engine without a limit;
3. when no candidate's limit covers the input, the candidate with the largest limit runs it (a
   warning-worthy choice that the reason says);
4. no candidate at all: :class:`~sparkjobs.engines.errors.EngineCapabilityError` (or, when an
   able engine is only missing its packages, a usage error naming the ``pip install`` to run).

An explicit engine (``spark`` or ``duckdb``) is used as asked, after checking that it provides
what the job requires; if not, the error names the job, the missing capability and the engine.
An explicit engine that is not installed fails with the ``pip install`` that adds it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sparkjobs.capabilities import DECLARED, DUCKDB_PROVIDES, ENGINE_CAPABILITIES, SPARK_PROVIDES
from sparkjobs.engines.errors import EngineCapabilityError
from sparkjobs.engines.settings import ENGINE_CHOICES, EngineSettings
from sparkjobs.errors import ConfigError, UsageError


@dataclass(frozen=True)
class Engine:
    """An engine that runs PySpark DataFrame jobs, and what it provides."""

    name: str
    provides: frozenset[str]
    description: str
    needs_jvm: bool
    #: largest input (bytes) this engine should take; None: no limit
    max_input_bytes: int | None = None
    #: the Python packages the engine imports (all must be installed)
    modules: tuple[str, ...] = ()
    #: what installs them
    install_hint: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(self.provides - set(ENGINE_CAPABILITIES))
        if unknown:
            raise ValueError(f"engine {self.name!r} provides unknown capabilities {unknown}")

    def missing(self, requires: Iterable[str]) -> list[str]:
        return sorted(set(requires) - self.provides)

    def installed(self, find_spec: Callable[[str], object | None] = importlib.util.find_spec) -> bool:
        """Whether every package of :attr:`modules` can be imported (nothing is imported)."""
        return all(find_spec(m) is not None for m in self.modules)

    def covers(self, input_bytes: int | None) -> bool:
        if self.max_input_bytes is None:
            return True
        return input_bytes is not None and input_bytes <= self.max_input_bytes


@dataclass(frozen=True)
class EngineChoice:
    """The engine a run uses and why (shown by ``--dry-run`` and logged)."""

    engine: str
    requested: str
    reason: str
    input_bytes: int | None = None


def _reasons(missing: Sequence[str], why: Mapping[str, str] | None) -> str:
    """Why the job needs the ``missing`` capabilities, where a setting (not the metadata) says so."""
    told = [(why or {}).get(c, "") for c in missing]
    return "; ".join(t for t in told if t and t != DECLARED)


def _size(input_bytes: int | None) -> str:
    if input_bytes is None:
        return "unknown"
    return f"{input_bytes / 1024 / 1024:,.1f} MiB"


class EngineRegistry:
    """The engines in order of preference (the first is the cheapest to run)."""

    def __init__(
        self,
        engines: Sequence[Engine],
        *,
        find_spec: Callable[[str], object | None] = importlib.util.find_spec,
    ) -> None:
        names = [e.name for e in engines]
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be unique, got {names}")
        self.engines = list(engines)
        self._find_spec = find_spec

    def installed(self, engine: Engine) -> bool:
        return engine.installed(self._find_spec)

    @classmethod
    def default(
        cls,
        settings: EngineSettings | None = None,
        *,
        find_spec: Callable[[str], object | None] = importlib.util.find_spec,
    ) -> EngineRegistry:
        """DuckDB (in-process, up to ``in_process_max_input_mb``), then Spark."""
        settings = settings or EngineSettings()
        return cls(
            [
                Engine(
                    "duckdb",
                    DUCKDB_PROVIDES,
                    "SQLFrame on DuckDB: the PySpark API in-process, no JVM (one machine)",
                    needs_jvm=False,
                    max_input_bytes=settings.in_process_max_input_bytes,
                    modules=("duckdb", "sqlframe"),
                    install_hint="pip install 'sparkjobs[duckdb]'",
                ),
                Engine(
                    "spark",
                    SPARK_PROVIDES,
                    "Apache Spark: local, standalone, YARN, Kubernetes, Databricks, Glue",
                    needs_jvm=True,
                    modules=("pyspark",),
                    install_hint="pip install 'sparkjobs[spark]'",
                ),
            ],
            find_spec=find_spec,
        )

    def get(self, name: str) -> Engine:
        for engine in self.engines:
            if engine.name == name:
                return engine
        raise ConfigError(
            f"unknown engine {name!r}",
            key="engine.use",
            value=name,
            expected=" | ".join(ENGINE_CHOICES),
        )

    def providing(self, capability: str) -> list[str]:
        """Names of the engines that provide ``capability``."""
        return [e.name for e in self.engines if capability in e.provides]

    def able(self, requires: Iterable[str]) -> list[str]:
        """Names of the engines that provide every capability in ``requires``."""
        needed = set(requires)
        return [e.name for e in self.engines if not e.missing(needed)]

    def select(
        self,
        job: str,
        requires: Iterable[str],
        *,
        requested: str = "auto",
        input_bytes: int | None = None,
        has_spark: bool = True,
        why: Mapping[str, str] | None = None,
    ) -> EngineChoice:
        """The engine that runs ``job`` (see the module docstring for the rule). ``why``: for a
        requirement a setting adds, the reason, which the refusal of an engine lacking it names."""
        needed = sorted(set(requires))
        if requested != "auto":
            engine = self.get(requested)
            missing = engine.missing(needed)
            if missing:
                raise EngineCapabilityError(
                    job, engine.name, missing, able=self.able(needed), reason=_reasons(missing, why)
                )
            if engine.needs_jvm and not has_spark and needed:  # a job requiring nothing builds no session
                raise UsageError(
                    f"job {job!r}: engine {engine.name!r} needs Spark but the run has has_spark=false "
                    "(--no-spark); drop --no-spark or choose --engine duckdb"
                )
            if (needed or has_spark) and not self.installed(engine):  # (no session, no packages needed)
                raise UsageError(
                    f"job {job!r}: engine {engine.name!r} is not installed (needs the Python packages "
                    f"{', '.join(engine.modules)}); {engine.install_hint}, or choose another --engine"
                )
            return EngineChoice(engine.name, requested, f"engine {engine.name} as asked", input_bytes)
        able = [e for e in self.engines if not e.missing(needed) and (has_spark or not e.needs_jvm)]
        candidates = [e for e in able if self.installed(e)]
        not_installed = [e for e in able if e not in candidates]
        if able and not candidates:
            hints = "; ".join(f"{e.name}: {e.install_hint}" for e in not_installed)
            raise UsageError(f"job {job!r}: no engine that can run it is installed ({hints})")
        if not candidates:
            best = min(self.engines, key=lambda e: len(e.missing(needed)))
            reason = "" if has_spark else "has_spark=false rules out the engines that need a JVM"
            raise EngineCapabilityError(
                job, best.name, best.missing(needed) or needed, able=[], reason=reason
            )
        needs = f"requires {', '.join(needed)}" if needed else "requires nothing special"
        for engine in candidates:
            if engine.covers(input_bytes):
                limit = f" ≤ {_size(engine.max_input_bytes)}" if engine.max_input_bytes is not None else ""
                skipped = [
                    e.name for e in self.engines[: self.engines.index(engine)] if e not in not_installed
                ]
                passed_over = f"; {', '.join(skipped)} cannot run it or is too small" if skipped else ""
                if not_installed:
                    passed_over += f"; {', '.join(e.name for e in not_installed)} not installed"
                return EngineChoice(
                    engine.name,
                    "auto",
                    f"auto: {needs}; input {_size(input_bytes)}{limit}{passed_over}",
                    input_bytes,
                )
        largest = max(candidates, key=lambda e: e.max_input_bytes or 0)
        return EngineChoice(
            largest.name,
            "auto",
            f"auto: {needs}; input {_size(input_bytes)} exceeds every able engine's limit, "
            f"{largest.name} has the largest",
            input_bytes,
        )
