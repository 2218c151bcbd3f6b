"""sparkjobs — one entry point and one job contract for PySpark batch jobs.

Importing this package never imports pyspark.
"""

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
