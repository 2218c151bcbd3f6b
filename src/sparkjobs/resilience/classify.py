"""Transient or terminal? One function that knows the real exception types we meet.

``classify(exc)`` reads, in order:

1. the sparkjobs mark: every :class:`~sparkjobs.errors.SparkJobsError` says whether it is transient;
2. the third-party types (psycopg, sqlite3, py4j/pyspark, httpx, urllib) — looked up only in ``sys.modules``,
   so classifying never imports pyspark or psycopg (an exception of a library that was never
   imported cannot exist);
3. the built-in network errors (``ConnectionError``, ``TimeoutError``, network ``OSError``\\ s);
4. otherwise terminal — programming and data errors fail fast — after looking once through an
   explicit ``raise ... from cause`` chain, so a library wrapper around a dropped connection stays
   transient.

:func:`explain` returns the same verdict with the reason, for logs and error messages.
"""

from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass
from typing import Any, Literal

from sparkjobs.errors import JobFailedError, SparkJobsError

Kind = Literal["transient", "terminal"]
TRANSIENT: Kind = "transient"
TERMINAL: Kind = "terminal"

#: HTTP statuses worth retrying: timeout, throttling, and the gateway/unavailable family
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 502, 503, 504})

#: OSError errnos that mean "the network or the peer hiccupped"
NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNRESET",
        "ECONNREFUSED",
        "ECONNABORTED",
        "ETIMEDOUT",
        "EHOSTUNREACH",
        "EHOSTDOWN",
        "ENETUNREACH",
        "ENETDOWN",
        "ENETRESET",
        "EPIPE",
        "EAGAIN",
        "EWOULDBLOCK",
        "EBUSY",
        "ENOTCONN",
    )
    if hasattr(errno, name)
)

#: SQLSTATE classes/codes of PostgreSQL that a retry (usually on a new connection) can fix
PG_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53")  # connection exception, tx rollback, resources
PG_TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown (pg_terminate_backend, server restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting up)
        "57014",  # query_canceled (statement_timeout)
        "55P03",  # lock_not_available
        "55006",  # object_in_use
        "58000",  # system_error
        "58030",  # io_error
    }
)
#: class 53 codes a retry in seconds will not fix (53000 insufficient_resources and 53300
#: too_many_connections stay transient: another client lets go soon)
PG_TERMINAL_SQLSTATES = frozenset(
    {
        "53100",  # disk_full: a retry will not free the disk
        "53200",  # out_of_memory: the same query asks for the same memory again
        "53400",  # configuration_limit_exceeded: a server setting, fixed only by its admin
    }
)
#: SQLite error texts that mean "another connection holds the lock" (a retry waits its turn)
SQLITE_TRANSIENT_MARKERS = ("database is locked", "database table is locked", "is busy")

#: connection-time messages of libpq that no retry can fix (they come without a SQLSTATE)
PG_TERMINAL_CONNECT_MARKERS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # database or role
    "no pg_hba.conf entry",
    "not permitted to log in",
    "invalid connection option",
    "invalid dsn",
    "invalid integer value",
    "certificate",
)

#: Java exceptions (as seen in a Py4J/PySpark error text) that mean a network hiccup
JAVA_TRANSIENT_MARKERS = (
    "java.net.ConnectException",
    "java.net.SocketTimeoutException",
    "java.net.SocketException",
    "java.net.NoRouteToHostException",
    "java.io.IOException: Connection reset",
    "java.io.IOException: Broken pipe",
    "org.apache.spark.shuffle.FetchFailedException",
    "java.util.concurrent.TimeoutException",
)

_FILESYSTEM_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
_MAX_CHAIN = 5


@dataclass(frozen=True)
class Classification:
    """The verdict on one exception and why."""

    kind: Kind
    reason: str

    @property
    def transient(self) -> bool:
        return self.kind == TRANSIENT


def classify(exc: BaseException) -> Kind:
    """``"transient"`` when retrying the same call may succeed, else ``"terminal"``."""
    return explain(exc).kind


def is_retryable(exc: BaseException) -> bool:
    return explain(exc).transient


def explain(exc: BaseException) -> Classification:
    """:func:`classify` with the reason (``"psycopg OperationalError sqlstate 57P01"``...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if current is None or id(current) in seen:
            break
        seen.add(id(current))
        verdict = _explain_one(current)
        if verdict is not None:
            if current is not exc:
                return Classification(verdict.kind, f"{verdict.reason} (cause of {type(exc).__name__})")
            return verdict
        current = current.__cause__
    return Classification(TERMINAL, f"{_name(exc)} is not a known transient error")


def _name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")


def _module(name: str) -> Any:
    """The module if it is already imported, else None (classification never imports libraries)."""
    return sys.modules.get(name)


def _explain_one(exc: BaseException) -> Classification | None:
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit, GeneratorExit
        return Classification(TERMINAL, f"{_name(exc)} stops the process")
    if isinstance(exc, JobFailedError):  # its mark only reads the cause's mark; classify the cause
        inner = explain(exc.cause)
        return Classification(inner.kind, f"{inner.reason} (cause of JobFailedError)")
    if isinstance(exc, SparkJobsError):
        kind: Kind = TRANSIENT if exc.transient else TERMINAL
        return Classification(kind, f"{type(exc).__name__} is marked {kind}")
    for check in (_psycopg, _sqlite, _py4j_and_pyspark, _httpx, _urllib, _builtin):
        verdict = check(exc)
        if verdict is not None:
            return verdict
    return None


def _psycopg(exc: Exception) -> Classification | None:
    psycopg = _module("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    label = f"psycopg {type(exc).__name__}" + (f" sqlstate {sqlstate}" if sqlstate else "")
    if sqlstate:
        if sqlstate in PG_TERMINAL_SQLSTATES:
            return Classification(TERMINAL, label)
        if sqlstate in PG_TRANSIENT_SQLSTATES or sqlstate[:2] in PG_TRANSIENT_SQLSTATE_CLASSES:
            return Classification(TRANSIENT, label)
        return Classification(TERMINAL, label)  # data, integrity, syntax, auth (28xxx), limits (54xxx)
    if isinstance(exc, psycopg.OperationalError):
        text = str(exc).lower()
        for marker in PG_TERMINAL_CONNECT_MARKERS:
            if marker in text:
                return Classification(TERMINAL, f"{label}: {marker}")
        return Classification(TRANSIENT, f"{label} (connection lost, refused or timed out)")
    return Classification(TERMINAL, label)  # ProgrammingError, DataError, IntegrityError, InterfaceError


def _sqlite(exc: Exception) -> Classification | None:
    sqlite3 = _module("sqlite3")
    if sqlite3 is None or not isinstance(exc, sqlite3.Error):
        return None
    label = f"sqlite3 {type(exc).__name__}"
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        for marker in SQLITE_TRANSIENT_MARKERS:
            if marker in text:
                return Classification(TRANSIENT, f"{label}: {marker}")
    return None  # SQL, schema and data errors: look at the cause, then terminal


def _py4j_and_pyspark(exc: Exception) -> Classification | None:
    protocol = _module("py4j.protocol")
    if protocol is not None:
        if isinstance(exc, protocol.Py4JNetworkError):
            return Classification(TRANSIENT, "py4j Py4JNetworkError (lost the JVM gateway connection)")
        if isinstance(exc, protocol.Py4JJavaError):
            return _java_text(exc, "py4j Py4JJavaError")
    errors = _module("pyspark.errors")
    if errors is not None:
        if isinstance(exc, errors.AnalysisException):
            return Classification(TERMINAL, f"pyspark {type(exc).__name__} (query/schema error)")
        if isinstance(exc, errors.PySparkException):
            return _java_text(exc, f"pyspark {type(exc).__name__}")
    return None


def _java_text(exc: Exception, label: str) -> Classification:
    text = str(exc)
    for marker in JAVA_TRANSIENT_MARKERS:
        if marker in text:
            return Classification(TRANSIENT, f"{label}: {marker}")
    return Classification(TERMINAL, label)


def _httpx(exc: Exception) -> Classification | None:
    httpx = _module("httpx")
    if httpx is None:
        return None
    if isinstance(exc, httpx.HTTPStatusError):
        return _http_status(exc.response.status_code, "httpx HTTPStatusError")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Classification(TERMINAL, f"httpx {type(exc).__name__} (a bad request of ours)")
    if isinstance(exc, httpx.TransportError):
        return Classification(TRANSIENT, f"httpx {type(exc).__name__} (transport)")
    if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
        return Classification(TERMINAL, f"httpx {type(exc).__name__}")
    return None


def _urllib(exc: Exception) -> Classification | None:
    error = _module("urllib.error")
    if error is not None and isinstance(exc, error.HTTPError):
        return _http_status(exc.code, "urllib HTTPError")
    return None


def _http_status(status: int, label: str) -> Classification:
    kind: Kind = TRANSIENT if status in TRANSIENT_HTTP_STATUSES else TERMINAL
    return Classification(kind, f"{label} status {status}")


def _builtin(exc: Exception) -> Classification | None:
    if isinstance(exc, ConnectionError | TimeoutError):
        return Classification(TRANSIENT, f"{_name(exc)} (network)")
    if isinstance(exc, socket.gaierror):
        if exc.errno == socket.EAI_AGAIN:
            return Classification(TRANSIENT, "socket.gaierror EAI_AGAIN (temporary DNS failure)")
        return Classification(TERMINAL, f"socket.gaierror {exc.errno} (unknown host)")
    if isinstance(exc, _FILESYSTEM_ERRORS):
        return Classification(TERMINAL, f"{_name(exc)} (filesystem)")
    if isinstance(exc, OSError):
        if exc.errno is not None and exc.errno in NETWORK_ERRNOS:
            code = errno.errorcode.get(exc.errno, str(exc.errno))
            return Classification(TRANSIENT, f"{_name(exc)} errno {code}")
        return None  # look at the cause, then terminal
    if isinstance(
        exc,
        TypeError
        | ValueError
        | KeyError
        | IndexError
        | AttributeError
        | NameError
        | NotImplementedError
        | AssertionError
        | ArithmeticError
        | LookupError
        | ImportError,
    ):
        return Classification(TERMINAL, f"{_name(exc)} (programming or data error)")
    return None
