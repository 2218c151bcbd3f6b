"""Step order from data: a step that reads a dataset runs after the step that writes it.

Each step reads and writes named catalog datasets — its own ``inputs`` / ``outputs`` in the
pipeline file, else what its job declares (``inputs`` / ``outputs`` on the factory). The edges
found this way are added to the explicit ``depends_on`` ones. A dataset no step writes is an
input from outside the pipeline (raw files) and adds no edge; a step that reads what it writes
itself (an incremental table) adds none either. Two steps writing one dataset, or edges that form
a cycle, are configuration errors that name the steps and the datasets.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sparkjobs.errors import ConfigError
from sparkjobs.pipeline.dag import find_cycle


@dataclass(frozen=True)
class StepDatasets:
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


def writers(datasets: Mapping[str, StepDatasets], *, where: str = "pipeline") -> dict[str, str]:
    """dataset → the one step that writes it; a dataset written by two steps is an error."""
    found: dict[str, str] = {}
    for step, use in datasets.items():
        for name in use.outputs:
            other = found.get(name)
            if other is not None and other != step:
                raise ConfigError(
                    f"steps {other!r} and {step!r} both write dataset {name!r}: the order between "
                    "them and their readers is ambiguous",
                    key=f"{where}.steps.{step}.outputs",
                    value=name,
                    expected="one writer per dataset (give one of them its own dataset)",
                )
            found[name] = step
    return found


def inferred_dependencies(datasets: Mapping[str, StepDatasets]) -> dict[str, dict[str, list[str]]]:
    """step → {upstream step: [datasets it reads from that step]}."""
    writer = writers(datasets)
    out: dict[str, dict[str, list[str]]] = {}
    for step, use in datasets.items():
        ups: dict[str, list[str]] = {}
        for name in use.inputs:
            producer = writer.get(name)
            if producer is not None and producer != step:
                ups.setdefault(producer, []).append(name)
        out[step] = ups
    return out


def merged_dependencies(
    explicit: Mapping[str, Sequence[str]], datasets: Mapping[str, StepDatasets]
) -> dict[str, list[str]]:
    """``depends_on`` first, then the inferred upstream steps in the order their datasets are read."""
    inferred = inferred_dependencies(datasets)
    merged: dict[str, list[str]] = {}
    for step, upstream in explicit.items():
        extra = [s for s in inferred.get(step, {}) if s not in upstream]
        merged[step] = [*upstream, *extra]
    return merged


def check_inferred(
    explicit: Mapping[str, Sequence[str]], datasets: Mapping[str, StepDatasets], *, where: str
) -> None:
    """One writer per dataset, and no cycle once the inferred edges join ``depends_on``."""
    writers(datasets, where=where)
    merged = merged_dependencies(explicit, datasets)
    cycle = find_cycle(merged)
    if not cycle:
        return
    inferred = inferred_dependencies(datasets)
    reasons = []
    for downstream, upstream in itertools.pairwise(cycle):  # cycle follows depends_on edges
        if upstream in explicit.get(downstream, ()):
            reasons.append(f"{downstream} depends_on {upstream}")
        else:
            read = ", ".join(inferred[downstream][upstream])
            reasons.append(f"{downstream} reads {read} written by {upstream}")
    raise ConfigError(
        f"the steps form a cycle: {' -> '.join(cycle)} ({'; '.join(reasons)})",
        key=f"{where}.steps",
        expected="a directed acyclic graph: remove a depends_on entry, or let one step of the cycle "
        "write a different dataset",
    )
