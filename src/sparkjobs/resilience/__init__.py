"""Retry policies, error classification, circuit breaker and bulk operations.

Importing this package never imports pyspark, psycopg or httpx: classification looks their
exception types up only when those libraries are already loaded.
"""

from sparkjobs.errors import TerminalError, TransientError
from sparkjobs.resilience.breaker import BreakerSettings, CircuitBreaker, CircuitOpenError
from sparkjobs.resilience.bulk import BulkFailedError, BulkResult, ItemFailure, ItemSuccess, run_bulk
from sparkjobs.resilience.classify import Classification, Kind, classify, explain, is_retryable
from sparkjobs.resilience.retry import Retrier, RetryEvent, RetryPolicy

__all__ = [
    "BreakerSettings",
    "BulkFailedError",
    "BulkResult",
    "CircuitBreaker",
    "CircuitOpenError",
    "Classification",
    "ItemFailure",
    "ItemSuccess",
    "Kind",
    "Retrier",
    "RetryEvent",
    "RetryPolicy",
    "TerminalError",
    "TransientError",
    "classify",
    "explain",
    "is_retryable",
    "run_bulk",
]
