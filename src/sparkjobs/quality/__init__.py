"""Data quality checks declared in job config, all computed in one Spark aggregation pass.

Importing this package never imports pyspark.
"""

from sparkjobs.quality.checks import (
    AcceptedValues,
    Freshness,
    InRange,
    NotNull,
    QualityCheck,
    QualityChecks,
    RowCount,
    Severity,
    Unique,
)
from sparkjobs.quality.evaluate import parse_checks, run_checks
from sparkjobs.quality.report import CheckResult, QualityError, QualityReport

__all__ = [
    "AcceptedValues",
    "CheckResult",
    "Freshness",
    "InRange",
    "NotNull",
    "QualityCheck",
    "QualityChecks",
    "QualityError",
    "QualityReport",
    "RowCount",
    "Severity",
    "Unique",
    "parse_checks",
    "run_checks",
]
