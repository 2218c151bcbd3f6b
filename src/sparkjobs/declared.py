"""A job's metadata read from its source file, without importing the job (for ``sparkjobs list``).

Importing a job module imports what the job needs to run (pydantic config models, the framework's
context, metrics, logging): a third of a second per job before anything is printed. ``list``
only needs the few literals of ``metadata = JobMetadata(...)``, so they are read from the syntax
tree: the factory that ``main = make_main(Factory)`` names, or a module-level ``JOB_METADATA``.
Anything that is not a plain literal (a name, a call other than ``frozenset(...)``, an unknown
keyword) makes :func:`declared_metadata` return None, and the caller imports the module instead,
so the result is never a guess.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from typing import Any

_FIELDS = ("description", "version", "stage", "capabilities", "requires")
_STAGES = (None, "bronze", "silver", "gold")


@dataclass(frozen=True)
class DeclaredMetadata:
    """The fields of :class:`~sparkjobs.metadata.JobMetadata` that ``list`` shows, as declared."""

    description: str = ""
    version: str = "0.1.0"
    stage: str | None = None
    capabilities: frozenset[str] = frozenset()
    requires: frozenset[str] = frozenset()


def _literal(node: ast.expr) -> Any:
    """A literal value, with ``frozenset({...})``/``frozenset([...])`` allowed; ValueError otherwise."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "frozenset":
        if node.keywords or len(node.args) > 1:
            raise ValueError("frozenset with unexpected arguments")
        return frozenset(ast.literal_eval(node.args[0])) if node.args else frozenset()
    return ast.literal_eval(node)


def _metadata_call(tree: ast.Module) -> ast.Call | None:
    """The ``JobMetadata(...)`` call of the module: ``JOB_METADATA`` or the ``make_main`` factory's."""
    factory: str | None = None
    classes: dict[str, ast.ClassDef] = {}
    module_level: ast.expr | None = None
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            classes[stmt.name] = stmt
        elif (
            isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        ):
            target, value = stmt.targets[0].id, stmt.value
            if target == "JOB_METADATA":
                module_level = value
            elif (
                target == "main"
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "make_main"
                and len(value.args) == 1
                and isinstance(value.args[0], ast.Name)
            ):
                factory = value.args[0].id
    candidate: ast.expr | None = module_level
    if candidate is None and factory in classes:
        for stmt in classes[factory].body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == "metadata" for t in targets):
                    candidate = stmt.value
    if (
        isinstance(candidate, ast.Call)
        and isinstance(candidate.func, ast.Name)
        and candidate.func.id == "JobMetadata"
        and not candidate.args
    ):
        return candidate
    return None


def declared_metadata(module_name: str) -> DeclaredMetadata | None:
    """The literal metadata of job module ``module_name``; None when it cannot be read statically."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        with open(spec.origin, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), spec.origin)
    except (OSError, SyntaxError, ValueError):
        return None
    call = _metadata_call(tree)
    if call is None:
        return None
    values: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg not in _FIELDS:
            return None  # an unknown or ** keyword: JobMetadata itself must judge it
        try:
            values[keyword.arg] = _literal(keyword.value)
        except (ValueError, TypeError, SyntaxError):
            return None
    if values.get("stage") not in _STAGES:
        return None
    for name in ("capabilities", "requires"):
        if name in values:
            if not isinstance(values[name], frozenset | set | list | tuple):
                return None
            values[name] = frozenset(values[name])
    if not all(isinstance(values.get(n, ""), str) for n in ("description", "version")):
        return None
    if not values.get("description"):
        doc = (ast.get_docstring(tree) or "").strip().splitlines()
        values["description"] = doc[0] if doc else ""
    return DeclaredMetadata(**values)
