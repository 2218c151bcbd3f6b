"""The error tree drawn in the :mod:`sparkjobs.errors` docstring is the real class tree."""

from __future__ import annotations

import inspect
import re

from sparkjobs import errors


def drawn_tree() -> set[tuple[str, str | None]]:
    """(class, parent) pairs from the ``* Name`` lines of the module docstring, nested by indent."""
    assert errors.__doc__ is not None
    pairs: set[tuple[str, str | None]] = set()
    parents: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        match = re.match(r"^(\s*)\* (\w+)", line)
        if match is None:
            continue
        indent, name = len(match.group(1)), match.group(2)
        while parents and parents[-1][0] >= indent:
            parents.pop()
        pairs.add((name, parents[-1][1] if parents else None))
        parents.append((indent, name))
    return pairs


def real_tree() -> set[tuple[str, str | None]]:
    pairs: set[tuple[str, str | None]] = set()
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if cls.__module__ == errors.__name__ and issubclass(cls, errors.SparkJobsError):
            (base,) = cls.__bases__
            pairs.add((name, None if cls is errors.SparkJobsError else base.__name__))
    return pairs


def test_the_drawn_tree_is_the_class_tree() -> None:
    assert drawn_tree() == real_tree()


def test_the_drawing_is_not_empty() -> None:
    assert ("ConfigError", "UsageError") in drawn_tree()
    assert ("SparkJobsError", None) in drawn_tree()
