"""Run every quality check of a DataFrame in ONE Spark aggregation (one action, one scan).

Each check contributes aggregate expressions (null counts, a distinct count, min/max...) to a
single action — ``df.agg(...)``, or ``df.observe(...).agg(distinct counts)`` when there are unique
checks; the one result row is then judged check by check. pyspark is imported inside the
functions, so importing :mod:`sparkjobs.quality` never starts or needs a JVM.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from pydantic import TypeAdapter, ValidationError

from sparkjobs.errors import ConfigError, DataError
from sparkjobs.observability.metrics import get_or_create, registry_of
from sparkjobs.quality.checks import (
    AcceptedValues,
    Freshness,
    InRange,
    NotNull,
    QualityCheck,
    QualityChecks,
    RowCount,
    Unique,
    _Check,
)
from sparkjobs.quality.report import CheckResult, QualityReport

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

Logger = logging.Logger | logging.LoggerAdapter
ROWS = "__rows"
OBSERVED_METRIC = "sparkjobs_quality_observed"
PASSED_METRIC = "sparkjobs_quality_check_passed"
SCORE_METRIC = "sparkjobs_quality_score"

_CHECKS_ADAPTER: TypeAdapter[list[QualityCheck]] = TypeAdapter(QualityChecks)


def parse_checks(raw: Sequence[Mapping[str, Any] | _Check]) -> list[_Check]:
    """Check models from config dicts (models pass through); errors name the bad entry."""
    if all(isinstance(c, _Check) for c in raw):
        return list(raw)  # type: ignore[arg-type]
    try:
        return list(
            _CHECKS_ADAPTER.validate_python([c.model_dump() if isinstance(c, _Check) else c for c in raw])
        )
    except ValidationError as exc:
        raise ConfigError(
            f"invalid quality checks: {exc}", expected="a list of {check: <kind>, ...}"
        ) from None


@dataclass
class _Compiled:
    check: _Check
    exprs: dict[str, Column]
    judge: Callable[[Mapping[str, Any], int], CheckResult]
    #: distinct aggregates (unique checks): computed by the aggregation proper, the rest by observe()
    distinct: dict[str, Column] = field(default_factory=dict)


def run_checks(
    df: DataFrame,
    checks: Iterable[Mapping[str, Any] | _Check],
    *,
    dataset: str = "dataset",
    metrics: Any = None,
    logger: Logger | None = None,
    now: datetime | None = None,
    observer: Any = None,
) -> QualityReport:
    """Compute all ``checks`` on ``df`` in one aggregation; log, count and return the results.

    ``metrics`` is a ``RunMetrics`` or a ``CollectorRegistry``; ``observer`` anything with
    ``record_quality(report)`` (the run's observer, which puts the results in the run report);
    ``now`` is the reference time of freshness checks (default: the current time, UTC).
    Raises nothing for failed checks: call :meth:`QualityReport.raise_on_failure`.
    """
    parsed = parse_checks(list(checks))
    report = QualityReport(dataset)
    if parsed:
        _check_names(parsed, dataset)
        _check_columns(df, parsed, dataset)
        reference = _as_utc(now or datetime.now(UTC))
        compiled = [_compile(c, i, df, reference) for i, c in enumerate(parsed)]
        row = _aggregate(df, compiled)
        rows = int(row[ROWS])
        report.rows = rows
        report.results = [c.judge(row, rows) for c in compiled]
    _log(report, logger or logging.getLogger("sparkjobs.quality"))
    _export(report, metrics)
    if observer is not None:
        observer.record_quality(report)
    return report


def _aggregate(df: DataFrame, compiled: list[_Compiled]) -> dict[str, Any]:
    """ONE action computing every aggregate (on DuckDB, which has no ``observe``, always one ``agg``).

    Without unique checks: one ``df.agg(...)``. With them, the distinct counts are the aggregation
    and every other aggregate rides along as ``df.observe(...)`` metrics, computed while the rows
    stream through the scan stage. (Putting them all in one ``agg`` makes Spark carry every other
    aggregate's buffer through the distinct-key shuffle — measured 1.5-2x slower than two actions.)
    """
    from sparkjobs.sql import F, current_engine

    exprs: dict[str, Column] = {ROWS: F.count(F.lit(1))}
    distinct: dict[str, Column] = {}
    for c in compiled:
        exprs.update(c.exprs)
        distinct.update(c.distinct)
    regular = [expr.alias(name) for name, expr in exprs.items()]
    if not distinct or current_engine() != "spark":  # DuckDB has no observe(): one aggregation
        (row,) = df.agg(*regular, *[e.alias(n) for n, e in distinct.items()]).collect()
        return row.asDict()
    from pyspark.sql import Observation

    observation = Observation(f"sparkjobs_quality_{uuid.uuid4().hex}")
    (row,) = df.observe(observation, *regular).agg(*[e.alias(n) for n, e in distinct.items()]).collect()
    return {**observation.get, **row.asDict()}


def _check_names(checks: list[_Check], dataset: str) -> None:
    seen: set[str] = set()
    for c in checks:
        if c.label in seen:
            raise ConfigError(
                f"two quality checks on {dataset!r} are named {c.label!r}",
                expected="a unique `name` per check",
            )
        seen.add(c.label)


def _check_columns(df: DataFrame, checks: list[_Check], dataset: str) -> None:
    present = set(df.columns)
    for c in checks:
        missing = [col for col in c.columns_used() if "." not in col and col not in present]
        if missing:
            raise DataError(
                f"quality check {c.label!r} on {dataset!r} names missing column(s) {missing}; "
                f"columns are {sorted(present)}"
            )


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _result(
    check: _Check, violated: bool, observed: Any, threshold: str, message: str, **details: Any
) -> CheckResult:
    status = check.severity if violated else "pass"
    return CheckResult(
        name=check.label,
        check=type(check).model_fields["check"].default,
        severity=check.severity,
        status=status,
        observed=_plain(observed),
        threshold=threshold,
        message=message,
        details={k: _plain(v) for k, v in details.items()},
    )


def _plain(value: Any) -> Any:
    """JSON-friendly values for the report."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _compile(check: _Check, index: int, df: DataFrame, now: datetime) -> _Compiled:
    from sparkjobs.sql import F

    key = f"q{index}"
    if isinstance(check, NotNull):
        return _not_null(check, key)
    if isinstance(check, Unique):
        distinct = F.count_distinct(F.struct(*[F.col(c) for c in check.columns]))
        return _Compiled(
            check, {}, lambda row, rows: _judge_unique(check, row, rows, key), {f"{key}_distinct": distinct}
        )
    if isinstance(check, AcceptedValues):
        col = F.col(check.column)
        bad = col.isNotNull() & ~col.isin(list(check.values))
        exprs = {
            f"{key}_bad": F.count(F.when(bad, 1)),
            f"{key}_bad_min": F.min(F.when(bad, col)),
            f"{key}_bad_max": F.max(F.when(bad, col)),
        }
        return _Compiled(check, exprs, lambda row, rows: _judge_accepted(check, row, key))
    if isinstance(check, InRange):
        col = F.col(check.column)
        outside = F.lit(False)
        if check.min is not None:
            outside = outside | (col < F.lit(check.min))
        if check.max is not None:
            outside = outside | (col > F.lit(check.max))
        exprs = {
            f"{key}_out": F.count(F.when(outside, 1)),
            f"{key}_min": F.min(col),
            f"{key}_max": F.max(col),
        }
        return _Compiled(check, exprs, lambda row, rows: _judge_range(check, row, key))
    if isinstance(check, RowCount):
        return _Compiled(check, {}, lambda row, rows: _judge_row_count(check, rows))
    if isinstance(check, Freshness):
        latest = F.max(_epoch_seconds(df, check.column))
        return _Compiled(
            check, {f"{key}_latest": latest}, lambda row, rows: _judge_fresh(check, row, key, now)
        )
    raise ConfigError(f"unknown quality check type {type(check).__name__}")


def _not_null(check: NotNull, key: str) -> _Compiled:
    from sparkjobs.sql import F

    exprs = {f"{key}_null_{i}": F.count(F.when(F.col(c).isNull(), 1)) for i, c in enumerate(check.columns)}

    def judge(row: Mapping[str, Any], rows: int) -> CheckResult:
        counts = {c: int(row[f"{key}_null_{i}"]) for i, c in enumerate(check.columns)}
        ratios = {c: (n / rows if rows else 0.0) for c, n in counts.items()}
        worst = max(ratios, key=lambda c: ratios[c])
        bad = {c: r for c, r in ratios.items() if r > check.max_null_ratio}
        threshold = f"null ratio <= {check.max_null_ratio:g}"
        if bad:
            parts = ", ".join(f"{c} {r:.4g} ({counts[c]} of {rows} rows)" for c, r in bad.items())
            message = f"null ratio above {check.max_null_ratio:g}: {parts}"
        else:
            message = f"null ratios within {check.max_null_ratio:g} (worst {worst} {ratios[worst]:.4g})"
        return _result(
            check, bool(bad), ratios[worst], threshold, message, null_counts=counts, null_ratios=ratios
        )

    return _Compiled(check, exprs, judge)


def _judge_unique(check: Unique, row: Mapping[str, Any], rows: int, key: str) -> CheckResult:
    duplicates = rows - int(row[f"{key}_distinct"])
    cols = ",".join(check.columns)
    message = (
        f"{duplicates} duplicate row(s) on ({cols}): {rows} rows, {rows - duplicates} distinct"
        if duplicates
        else f"all {rows} rows unique on ({cols})"
    )
    return _result(check, duplicates > 0, duplicates, "duplicates == 0", message, distinct=rows - duplicates)


def _judge_accepted(check: AcceptedValues, row: Mapping[str, Any], key: str) -> CheckResult:
    bad = int(row[f"{key}_bad"])
    examples = sorted({str(row[f"{key}_bad_min"]), str(row[f"{key}_bad_max"])}) if bad else []
    accepted = ", ".join(map(str, check.values))
    message = (
        f"{bad} row(s) of {check.column} not in [{accepted}] (e.g. {', '.join(examples)})"
        if bad
        else f"every {check.column} value is accepted"
    )
    return _result(check, bad > 0, bad, f"0 values outside [{accepted}]", message, examples=examples)


def _judge_range(check: InRange, row: Mapping[str, Any], key: str) -> CheckResult:
    out = int(row[f"{key}_out"])
    low = "-inf" if check.min is None else str(check.min)
    high = "+inf" if check.max is None else str(check.max)
    lo, hi = row[f"{key}_min"], row[f"{key}_max"]
    message = (
        f"{out} row(s) of {check.column} outside [{low}, {high}] (observed min {lo}, max {hi})"
        if out
        else f"{check.column} within [{low}, {high}] (observed min {lo}, max {hi})"
    )
    return _result(check, out > 0, out, f"0 rows outside [{low}, {high}]", message, min=lo, max=hi)


def _judge_row_count(check: RowCount, rows: int) -> CheckResult:
    low = "0" if check.min is None else str(check.min)
    high = "inf" if check.max is None else str(check.max)
    violated = (check.min is not None and rows < check.min) or (check.max is not None and rows > check.max)
    message = f"{rows} rows {'outside' if violated else 'within'} [{low}, {high}]"
    return _result(check, violated, rows, f"{low} <= rows <= {high}", message)


def _judge_fresh(check: Freshness, row: Mapping[str, Any], key: str, now: datetime) -> CheckResult:
    latest = row[f"{key}_latest"]
    limit = check.max_age.total_seconds()
    threshold = f"age <= {limit:g}s ({check.max_age})"
    if latest is None:
        return _result(
            check, True, None, threshold, f"no non-null {check.column} value: cannot judge freshness"
        )
    newest = datetime.fromtimestamp(float(latest), UTC)
    age = round(now.timestamp() - float(latest), 3)
    violated = age > limit
    message = (
        f"newest {check.column} is {newest.isoformat()}, {timedelta(seconds=age)} old "
        f"({'older than' if violated else 'within'} {check.max_age}) at {now.isoformat()}"
    )
    return _result(check, violated, age, threshold, message, newest=newest, reference=now)


_NUMERIC = frozenset({"tinyint", "smallint", "int", "bigint", "float", "double"})


def _epoch_seconds(df: DataFrame, column: str) -> Column:
    """Seconds since the epoch of a timestamp, date, numeric (Unix seconds) or string column."""
    from sparkjobs.sql import F

    col = F.col(column)
    # by type name: SQLFrame has neither schema[name] nor NumericType
    kind = next((f.dataType.simpleString() for f in df.schema.fields if f.name == column), "")
    if kind == "date":
        return F.unix_date(col).cast("double") * 86400.0
    if kind in _NUMERIC or kind.startswith("decimal"):
        return col.cast("double")
    if kind == "string":
        return F.unix_micros(F.to_timestamp(col)) / 1_000_000.0
    return F.unix_micros(col.cast("timestamp")) / 1_000_000.0


def _log(report: QualityReport, logger: Logger) -> None:
    levels = {"pass": logging.INFO, "warn": logging.WARNING, "fail": logging.ERROR}
    for r in report.results:
        logger.log(
            levels[r.status],
            "quality %s %s on %s: %s (observed %s, threshold %s)",
            r.status.upper(),
            r.name,
            report.dataset,
            r.message,
            r.observed,
            r.threshold,
            extra={
                "fields": {
                    "dataset": report.dataset,
                    "check": r.name,
                    "status": r.status,
                    "severity": r.severity,
                    "observed": r.observed,
                    "threshold": r.threshold,
                }
            },
        )
    if report.results:
        logger.info(
            "quality on %s: %d passed, %d warned, %d failed (%s rows)",
            report.dataset,
            sum(r.passed for r in report.results),
            len(report.warnings),
            len(report.failures),
            report.rows,
        )


def _export(report: QualityReport, metrics: Any) -> None:
    registry = registry_of(metrics)
    if registry is None or not report.results:
        return
    observed = get_or_create(
        registry, Gauge, OBSERVED_METRIC, "Observed value of a data quality check", ("dataset", "check")
    )
    passed = get_or_create(
        registry,
        Gauge,
        PASSED_METRIC,
        "1 when a data quality check passed, 0 when it did not",
        ("dataset", "check", "severity"),
    )
    score = get_or_create(registry, Gauge, SCORE_METRIC, "Share of quality checks that passed", ("dataset",))
    for r in report.results:
        if isinstance(r.observed, int | float) and not isinstance(r.observed, bool):
            observed.labels(report.dataset, r.name).set(r.observed)
        passed.labels(report.dataset, r.name, r.severity).set(1 if r.passed else 0)
    score.labels(report.dataset).set(report.score)
