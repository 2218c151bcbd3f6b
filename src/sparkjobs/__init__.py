"""sparkjobs — one entry point and one job contract for PySpark batch jobs.

Importing this package never imports pyspark, and imports nothing else either until a name is
used: ``from sparkjobs import AbstractJob`` loads what ``AbstractJob`` needs, while the CLI's
``--help`` (which imports :mod:`sparkjobs.cli`, hence this package) stays free of pydantic,
prometheus_client and yaml.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from sparkjobs.context import JobContext
    from sparkjobs.errors import (
        ConfigError,
        DataError,
        JobContractError,
        JobFailedError,
        JobNotFoundError,
        LoadError,
        SparkJobsError,
        SparkUnavailableError,
        TerminalError,
        TransientError,
        UsageError,
    )
    from sparkjobs.factory import AbstractJobFactory, make_main
    from sparkjobs.job import AbstractJob
    from sparkjobs.metadata import JobMetadata
    from sparkjobs.observability.settings import ObservabilitySettings
    from sparkjobs.settings import Settings
    from sparkjobs.spark.settings import SparkSettings

#: the one version source (pyproject reads it: ``[tool.setuptools.dynamic]``)
__version__ = "0.1.0"

#: public name → the module that defines it (imported on first use)
_EXPORTS = {
    "AbstractJob": "sparkjobs.job",
    "AbstractJobFactory": "sparkjobs.factory",
    "ConfigError": "sparkjobs.errors",
    "DataError": "sparkjobs.errors",
    "JobContext": "sparkjobs.context",
    "JobContractError": "sparkjobs.errors",
    "JobFailedError": "sparkjobs.errors",
    "JobMetadata": "sparkjobs.metadata",
    "JobNotFoundError": "sparkjobs.errors",
    "LoadError": "sparkjobs.errors",
    "ObservabilitySettings": "sparkjobs.observability.settings",
    "Settings": "sparkjobs.settings",
    "SparkJobsError": "sparkjobs.errors",
    "SparkSettings": "sparkjobs.spark.settings",
    "SparkUnavailableError": "sparkjobs.errors",
    "TerminalError": "sparkjobs.errors",
    "TransientError": "sparkjobs.errors",
    "UsageError": "sparkjobs.errors",
    "make_main": "sparkjobs.factory",
}

__all__ = [
    "AbstractJob",
    "AbstractJobFactory",
    "ConfigError",
    "DataError",
    "JobContext",
    "JobContractError",
    "JobFailedError",
    "JobMetadata",
    "JobNotFoundError",
    "LoadError",
    "ObservabilitySettings",
    "Settings",
    "SparkJobsError",
    "SparkSettings",
    "SparkUnavailableError",
    "TerminalError",
    "TransientError",
    "UsageError",
    "make_main",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sparkjobs' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
