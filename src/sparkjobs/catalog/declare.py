"""What a job says it reads and writes: ``inputs`` / ``outputs`` on its factory (or its module).

Two forms, which may be mixed between ``inputs`` and ``outputs``::

    class DailyRevenueFactory(AbstractJobFactory[Config]):
        inputs = ["clean_orders"]                 # read with self.catalog.load("clean_orders")
        outputs = ["daily_revenue"]               # written with self.catalog.save(df, "daily_revenue")

    class IngestFactory(AbstractJobFactory[Config]):
        inputs = {"raw_path": "raw_events"}       # parameter → dataset: raw_path defaults to the
        outputs = {"bronze_path": "bronze_events"}  # dataset's path (a value set in config wins)

A hand-written ``main(**kwargs)`` module declares ``INPUTS`` / ``OUTPUTS`` the same way. The
pipeline orders its steps by these names: a step that reads a dataset runs after the step that
writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparkjobs.errors import JobContractError


@dataclass(frozen=True)
class DatasetUse:
    """The datasets a job reads and writes, and which parameters default to their paths."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    #: parameter → dataset whose path it defaults to
    bindings: Mapping[str, str] = field(default_factory=dict)

    @property
    def declared(self) -> bool:
        return bool(self.inputs or self.outputs)


def _names(value: Any, what: str, owner: str) -> tuple[tuple[str, ...], dict[str, str]]:
    if value is None:
        return (), {}
    if isinstance(value, Mapping):
        items = list(value.items())
        bad = [(k, v) for k, v in items if not (isinstance(k, str) and isinstance(v, str) and k and v)]
        if bad:
            raise JobContractError(
                f"{owner}.{what}: a mapping must be parameter name → dataset name (text), got {bad[0]!r}"
            )
        return tuple(dict.fromkeys(v for _, v in items)), dict(items)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise JobContractError(
            f"{owner}.{what} must be a list of dataset names or a mapping parameter → dataset, "
            f"got {value!r}" + (f" (write [{value!r}])" if isinstance(value, str) else "")
        )
    bad_items = [v for v in value if not isinstance(v, str) or not v]
    if bad_items:
        raise JobContractError(f"{owner}.{what}: dataset names must be non-empty text, got {bad_items[0]!r}")
    twice = sorted({v for v in value if list(value).count(v) > 1})
    if twice:
        raise JobContractError(f"{owner}.{what} lists {twice} twice")
    return tuple(value), {}


def declared_datasets(inputs: Any, outputs: Any, *, owner: str) -> DatasetUse:
    """Normalize a job's ``inputs`` / ``outputs`` declarations; a malformed one names the job."""
    ins, in_bindings = _names(inputs, "inputs", owner)
    outs, out_bindings = _names(outputs, "outputs", owner)
    both = sorted(set(in_bindings) & set(out_bindings))
    if both:
        raise JobContractError(f"{owner}: parameter(s) {both} bound in both inputs and outputs")
    return DatasetUse(ins, outs, {**in_bindings, **out_bindings})
