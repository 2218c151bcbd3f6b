"""Dependency graphs of pipeline steps: validation, a stable topological order, Mermaid text."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Protocol

from sparkjobs.errors import ConfigError


def check_dependencies(deps: Mapping[str, Sequence[str]], *, where: str) -> None:
    """Every dependency names a declared step, no step depends on itself, no cycles.

    ``deps`` maps each step to the steps it depends on, in declaration order. ``where`` is the
    config key of the pipeline (``pipelines.NAME``) used in error messages.
    """
    names = list(deps)
    for step, upstream in deps.items():
        seen: set[str] = set()
        for dep in upstream:
            if dep == step:
                raise ConfigError(
                    f"step {step!r} depends on itself", key=f"{where}.steps.{step}.depends_on", value=dep
                )
            if dep not in deps:
                close = difflib.get_close_matches(dep, names, n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise ConfigError(
                    f"step {step!r} depends on unknown step {dep!r}{hint}",
                    key=f"{where}.steps.{step}.depends_on",
                    value=dep,
                    expected=f"one of {names}",
                )
            if dep in seen:
                raise ConfigError(
                    f"step {step!r} lists {dep!r} twice in depends_on",
                    key=f"{where}.steps.{step}.depends_on",
                    value=list(upstream),
                )
            seen.add(dep)
    cycle = find_cycle(deps)
    if cycle:
        raise ConfigError(
            f"the steps form a cycle: {' -> '.join(cycle)}",
            key=f"{where}.steps",
            expected="a directed acyclic graph (remove one of the depends_on entries in the cycle)",
        )


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle as ``[a, b, ..., a]`` (following depends_on edges), or ``[]`` when there is none."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = grey
        stack.append(node)
        for dep in deps.get(node, ()):
            if dep not in colour:
                continue
            if colour[dep] == grey:
                return [*stack[stack.index(dep) :], dep]
            if colour[dep] == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return []

    for node in deps:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return []


def topological_order(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm; among the steps that are ready, the one declared first runs first."""
    position = {name: i for i, name in enumerate(deps)}
    remaining = {name: set(upstream) for name, upstream in deps.items()}
    order: list[str] = []
    while remaining:
        ready = sorted((n for n, ups in remaining.items() if not ups), key=position.__getitem__)
        if not ready:
            raise ConfigError(f"the steps form a cycle: {' -> '.join(find_cycle(deps))}")
        step = ready[0]
        order.append(step)
        del remaining[step]
        for ups in remaining.values():
            ups.discard(step)
    return order


def downstream_of(deps: Mapping[str, Sequence[str]], step: str) -> set[str]:
    """Every step that depends on ``step`` directly or transitively."""
    found: set[str] = set()
    frontier = [step]
    while frontier:
        current = frontier.pop()
        for name, upstream in deps.items():
            if current in upstream and name not in found:
                found.add(name)
                frontier.append(name)
    return found


def _mermaid_id(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(
    deps: Mapping[str, Sequence[str]],
    *,
    labels: Mapping[str, str] | None = None,
    statuses: Mapping[str, str] | None = None,
    direction: str = "LR",
    datasets: Mapping[str, StepDatasetsLike] | None = None,
) -> str:
    """A Mermaid ``flowchart`` of the steps; optional per-step labels and statuses (as classes).

    With ``datasets`` (step → what it reads and writes), every dataset is a cylinder between its
    writer and its readers; a step-to-step arrow is drawn only for a dependency that no dataset
    explains (an explicit ``depends_on``).
    """
    labels = labels or {}
    lines = [f"flowchart {direction}"]
    for name in deps:
        label = labels.get(name, name)
        lines.append(f'    {_mermaid_id(name)}["{_mermaid_label(label)}"]')
    via_data: set[tuple[str, str]] = set()
    if datasets:
        lines.extend(_dataset_lines(deps, datasets, via_data))
    for name, upstream in deps.items():
        for dep in upstream:
            if (dep, name) not in via_data:
                lines.append(f"    {_mermaid_id(dep)} --> {_mermaid_id(name)}")
    if statuses:
        styles = {
            "success": "fill:#d4f7d4,stroke:#2e7d32",
            "failed": "fill:#f9d0d0,stroke:#c62828",
            "running": "fill:#fff3c4,stroke:#f9a825",
            "pending": "fill:#eeeeee,stroke:#9e9e9e",
        }
        used = sorted({s for s in statuses.values() if s in styles})
        for status in used:
            lines.append(f"    classDef {status} {styles[status]}")
        for name, status in statuses.items():
            if status in styles and name in deps:
                lines.append(f"    class {_mermaid_id(name)} {status}")
    return "\n".join(lines) + "\n"


class StepDatasetsLike(Protocol):
    @property
    def inputs(self) -> Sequence[str]: ...
    @property
    def outputs(self) -> Sequence[str]: ...


def _dataset_lines(
    deps: Mapping[str, Sequence[str]],
    datasets: Mapping[str, StepDatasetsLike],
    via_data: set[tuple[str, str]],
) -> list[str]:
    """Cylinder nodes ``ds_<name>`` and writer → dataset → reader arrows; fills ``via_data``."""
    names: list[str] = []
    writer: dict[str, str] = {}
    for step, use in datasets.items():
        for name in (*use.inputs, *use.outputs):
            if name not in names:
                names.append(name)
        for name in use.outputs:
            writer.setdefault(name, step)
    lines = [f'    ds_{_mermaid_id(n)}[("{_mermaid_label(n)}")]' for n in names]
    for step, use in datasets.items():
        for name in use.outputs:
            lines.append(f"    {_mermaid_id(step)} --> ds_{_mermaid_id(name)}")
    for step, use in datasets.items():
        for name in use.inputs:
            producer = writer.get(name)
            if producer == step:
                continue
            lines.append(f"    ds_{_mermaid_id(name)} --> {_mermaid_id(step)}")
            if producer is not None and producer in deps.get(step, ()):
                via_data.add((producer, step))
    if names:
        lines.append("    classDef dataset fill:#e8f0fe,stroke:#1a73e8")
        lines.append("    class " + ",".join(f"ds_{_mermaid_id(n)}" for n in names) + " dataset")
    return lines
