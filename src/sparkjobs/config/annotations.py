"""What a config model says about a key: the annotation at a path and its alternatives."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from sparkjobs.config.tree import Path_


def alternatives(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, without None and Annotated wrappers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return alternatives(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out.extend(alternatives(arg))
        return out
    return [annotation]


def annotation_at(model: type[BaseModel], path: Path_) -> Any:
    """The annotation a value at ``path`` will be validated against, or None if unknown."""
    current: Any = model
    i = 0
    while i < len(path):
        candidates = alternatives(current)
        nxt = None
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                field = cand.model_fields.get(path[i])
                if field is not None:
                    nxt = field.annotation
                    break
            elif typing.get_origin(cand) is dict:
                args = typing.get_args(cand)
                nxt = args[1] if len(args) == 2 else Any
                break
        if nxt is None:
            return None
        current = nxt
        i += 1
    return current
