"""Human-readable description of a job: metadata and parameters (types, defaults, docs)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sparkjobs.config.secrets import MASK
from sparkjobs.registry import resolve


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def parameter_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(name, type, default, doc) for every field, nested models flattened with dots."""
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        key = f"{prefix}{name}"
        if field.is_required():
            default = "(required)"
        elif field.default is not PydanticUndefined:
            default = MASK if "Secret" in _type_name(annotation) and field.default else repr(field.default)
        else:
            default = "(computed)"
        rows.append((key, _type_name(annotation), default, field.description or ""))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(parameter_rows(annotation, key + "."))
    return rows


def describe_job(ref: str) -> str:
    spec = resolve(ref)
    meta = spec.metadata
    lines = [
        f"job:          {spec.name}",
        f"module:       {spec.module_name}  ({spec.origin})",
        f"config key:   jobs.{spec.config_name}",
        f"description:  {meta.description}",
        f"version:      {meta.version}",
        f"stage:        {meta.stage or '-'}",
        f"capabilities: {', '.join(sorted(meta.capabilities)) or '-'}",
        f"requires:     {', '.join(sorted(meta.requires)) or '-'}",
    ]
    model = spec.config_model
    if model is None:
        lines.append("parameters:   (no config model: parameters are passed to the job as given)")
        return "\n".join(lines)
    rows = parameter_rows(model)
    lines.append("parameters:")
    w = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    for name, typ, default, doc in rows:
        lines.append(f"  {name:<{w[0]}}  {typ:<{w[1]}}  {default:<{w[2]}}  {doc}")
    return "\n".join(lines)
