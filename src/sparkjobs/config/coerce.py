"""Coerce text values (from ``--param`` and environment variables) by the model that will validate them."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from sparkjobs.config.annotations import alternatives, annotation_at
from sparkjobs.config.tree import Path_, get_path, parse_scalar, set_path

_CONTAINERS = (list, dict, tuple, set, frozenset)
_NULLS = {"null", "~", "none", "None"}


def _wants_structure(annotation: Any) -> bool:
    for alt in alternatives(annotation):
        origin = typing.get_origin(alt) or alt
        if origin in _CONTAINERS or (isinstance(origin, type) and issubclass(origin, BaseModel)):
            return True
        if alt is Any:
            return True
    return False


def type_raw_value(model: type[BaseModel] | None, path: Path_, text: Any) -> Any:
    """Text for a field typed by ``model``: containers are parsed, scalars left for pydantic.

    Without a model (a job ported as-is) values are parsed as YAML scalars: ``21`` → 21.
    """
    if not isinstance(text, str):
        return text
    if model is None:
        return parse_scalar(text)
    annotation = annotation_at(model, path)
    if annotation is None:
        return parse_scalar(text)  # unknown key: validation will name it
    if text.strip() in _NULLS and type(None) in typing.get_args(annotation):
        return None
    if _wants_structure(annotation):
        return parse_scalar(text)
    return _literal_value(annotation, text)  # str, int, date, SecretStr ... pydantic coerces the text itself


def _literal_value(annotation: Any, text: str) -> Any:
    """``Literal[1, 2]`` and ``Literal[True]`` refuse text: give them the parsed scalar if it is a choice."""
    choices = [
        value
        for alt in alternatives(annotation)
        if typing.get_origin(alt) is typing.Literal
        for value in typing.get_args(alt)
    ]
    if not choices or text in choices:
        return text
    parsed = parse_scalar(text)
    if any(type(parsed) is type(choice) and parsed == choice for choice in choices):
        return parsed
    return text


def type_raw_values(
    model: type[BaseModel] | None, tree: dict[str, Any], raw_paths: set[Path_]
) -> dict[str, Any]:
    """Return ``tree`` with every raw text leaf typed by ``model`` (in place)."""
    for path in sorted(raw_paths):
        value = get_path(tree, path)
        set_path(tree, path, type_raw_value(model, path, value))
    return tree
