"""Results of quality checks: one :class:`CheckResult` per check, gathered in a :class:`QualityReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sparkjobs.errors import DataError

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    """One check on one dataset: what was observed, against which threshold, and the verdict."""

    name: str
    check: str
    severity: Literal["warn", "fail"]
    status: Status
    observed: float | int | str | None
    threshold: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check,
            "severity": self.severity,
            "status": self.status,
            "observed": self.observed,
            "threshold": self.threshold,
            "message": self.message,
            "details": self.details,
        }


class QualityError(DataError):
    """At least one ``severity: fail`` check failed; lists every failed check."""

    def __init__(self, dataset: str, failures: list[CheckResult]) -> None:
        self.dataset = dataset
        self.failures = failures
        lines = "\n".join(f"  - {r.name}: {r.message}" for r in failures)
        super().__init__(f"{len(failures)} quality check(s) failed on {dataset!r}:\n{lines}")


@dataclass
class QualityReport:
    """All check results of one dataset, computed in one pass."""

    dataset: str
    results: list[CheckResult] = field(default_factory=list)
    rows: int | None = None

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "warn"]

    @property
    def ok(self) -> bool:
        """No ``fail`` check failed (warnings allowed)."""
        return not self.failures

    @property
    def score(self) -> float:
        """Share of checks that passed (1.0 when there are none)."""
        return sum(r.passed for r in self.results) / len(self.results) if self.results else 1.0

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check named {name!r} in {[r.name for r in self.results]}")

    def raise_on_failure(self) -> QualityReport:
        """Raise :class:`QualityError` (a DataError) listing every failed ``fail`` check."""
        if self.failures:
            raise QualityError(self.dataset, self.failures)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rows": self.rows,
            "score": self.score,
            "ok": self.ok,
            "results": [r.to_dict() for r in self.results],
        }
