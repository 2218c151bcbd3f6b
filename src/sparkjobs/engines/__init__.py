"""Engines that run PySpark DataFrame jobs: Spark, and DuckDB in-process through SQLFrame.

- :mod:`sparkjobs.engines.settings`: the ``engine:`` configuration section (``spark | duckdb | auto``).
- :mod:`sparkjobs.engines.registry`: what each engine provides and :meth:`EngineRegistry.select`,
  the choice for a job from its ``requires`` and input size.
- :mod:`sparkjobs.engines.session`: the session factory, the one place that knows the engine.
- :mod:`sparkjobs.engines.functions`: ``F``, ``Window`` and ``types`` for the engine of the run.

Importing this package imports neither pyspark nor duckdb.
"""

from sparkjobs.engines.errors import EngineCapabilityError
from sparkjobs.engines.registry import Engine, EngineChoice, EngineRegistry
from sparkjobs.engines.settings import DuckDBSettings, EngineSettings

__all__ = [
    "DuckDBSettings",
    "Engine",
    "EngineCapabilityError",
    "EngineChoice",
    "EngineRegistry",
    "EngineSettings",
]
