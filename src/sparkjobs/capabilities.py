"""What jobs can offer and require, and what each engine provides: plain constants, no imports.

``sparkjobs list`` reads these to show which engines can run each job without importing pydantic
or an engine (tests/framework/unit/test_cli_imports.py); :class:`sparkjobs.metadata.JobMetadata`
validates against them and :class:`sparkjobs.engines.registry.EngineRegistry` builds on them.
"""

from __future__ import annotations

from collections.abc import Iterable

#: what a job says it offers (``JobMetadata.capabilities``)
KNOWN_CAPABILITIES = frozenset(
    {"incremental", "initial_load", "distributed", "validation", "backfill", "idempotent", "serving"}
)
#: what an engine can provide and a job can require (``JobMetadata.requires``)
ENGINE_CAPABILITIES: dict[str, str] = {
    "dataframe": "the PySpark DataFrame API (functions, windows, joins) and the sparkjobs IO layer",
    "spark": "real Spark: Python UDFs, RDDs, MLlib, functions SQLFrame lacks",
    "distributed": "runs across several machines (a cluster)",
    "streaming": "Structured Streaming",
    "in_process": "runs inside the Python process: no JVM, no Java needed",
}
SPARK_PROVIDES = frozenset({"dataframe", "spark", "distributed", "streaming"})
DUCKDB_PROVIDES = frozenset({"dataframe", "in_process"})
#: why a job requires a capability its metadata declares (a setting may add others, with its reason)
DECLARED = "declared in the job's metadata"
#: the default engines in order of preference (the first is the cheapest to run)
DEFAULT_ENGINES: tuple[tuple[str, frozenset[str]], ...] = (
    ("duckdb", DUCKDB_PROVIDES),
    ("spark", SPARK_PROVIDES),
)


def able_engines(requires: Iterable[str]) -> list[str]:
    """The default engines that provide every capability in ``requires``, cheapest first."""
    needed = set(requires)
    return [name for name, provides in DEFAULT_ENGINES if needed <= provides]


def engines_providing(capability: str) -> list[str]:
    """The default engines that provide ``capability``."""
    return [name for name, provides in DEFAULT_ENGINES if capability in provides]
