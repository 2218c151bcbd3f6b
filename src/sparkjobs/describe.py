"""Human-readable description of a job: metadata and parameters (types, defaults, docs)."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from sparkjobs.config.annotations import alternatives
from sparkjobs.config.secrets import MASK, mentions_secret
from sparkjobs.engines.registry import EngineRegistry
from sparkjobs.registry import resolve

_QUALIFIED = re.compile(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+([A-Za-z_][A-Za-z0-9_]*)")


def _type_name(annotation: Any) -> str:
    """``str | None``, ``dict[str, Sink]``, ``SecretStr``: short names, unions written with ``|``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None and args:
        name = getattr(origin, "__name__", None) or _QUALIFIED.sub(r"\1", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return _QUALIFIED.sub(r"\1", str(annotation))


def _default_text(annotation: Any, default: Any) -> str:
    """The default as it would be written in a config file (JSON), secrets masked."""
    if default and mentions_secret(annotation):
        return MASK
    try:
        return json.dumps(to_jsonable_python(default), ensure_ascii=False)
    except Exception:  # an exotic default pydantic cannot serialize: show its repr
        return repr(default)


def _key(name: str, field: FieldInfo) -> str:
    """The key a config file uses: the alias when the field declares one."""
    for alias in (field.validation_alias, field.alias):
        if isinstance(alias, str):
            return alias
    return name


def parameter_rows(
    model: type[BaseModel], prefix: str = "", instance: BaseModel | None = None
) -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) for every field, nested models (optional ones too) flattened with dots.

    A nested model's defaults are those of the enclosing default (a job's own ``RetryPolicy(...)``
    from a ``default_factory``), not the nested class's own defaults.
    """
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        key = f"{prefix}{_key(name, field)}"
        value: Any = PydanticUndefined
        if instance is not None:
            value = getattr(instance, name)
        elif field.default is not PydanticUndefined:
            value = field.default
        elif field.default_factory is not None:
            try:
                value = field.get_default(call_default_factory=True, validated_data={})
            except Exception:  # a factory that needs the other fields: say it is computed
                value = PydanticUndefined
        if value is PydanticUndefined:
            default = "(required)" if field.is_required() else "(computed)"
        elif isinstance(value, BaseModel):
            default = f"(see {key}.*)"
        else:
            default = _default_text(annotation, value)
        rows.append((key, _type_name(annotation), default, field.description or ""))
        for alt in alternatives(annotation):
            if isinstance(alt, type) and issubclass(alt, BaseModel):
                nested = value if isinstance(value, alt) else None
                rows.extend(parameter_rows(alt, key + ".", nested))
    return rows


def _engine_line(requires: frozenset[str]) -> str:
    """Which engines can run a job with these requirements, and which of them provide what."""
    registry = EngineRegistry.default()
    able = registry.able(requires)
    parts = [
        f"{e.name} {'✓' if e.name in able else '✗ lacks ' + ', '.join(e.missing(requires))}"
        for e in registry.engines
    ]
    if not able:
        auto = "no engine can run it"
    elif len(able) == 1:
        auto = f"auto: {able[0]}"
    else:
        auto = f"auto: {able[0]} while the input is ≤ engine.in_process_max_input_mb, else {able[-1]}"
    return f"{'; '.join(parts)} ({auto})"


def _datasets_text(names: Sequence[str], bindings: Mapping[str, str]) -> str:
    """``bronze_events (bronze_path), movies``: catalog datasets, with the parameter bound to each."""
    params = {dataset: param for param, dataset in bindings.items()}
    return ", ".join(f"{n} ({params[n]})" if n in params else n for n in names) or "-"


def describe_job(ref: str) -> str:
    spec = resolve(ref)
    meta = spec.metadata
    use = spec.datasets
    lines = [
        f"job:          {spec.name}",
        f"module:       {spec.module_name}  ({spec.origin})",
        f"config key:   jobs.{spec.config_name}",
        f"description:  {meta.description}",
        f"version:      {meta.version}",
        f"stage:        {meta.stage or '-'}",
        f"capabilities: {', '.join(sorted(meta.capabilities)) or '-'}",
        f"requires:     {', '.join(sorted(meta.requires)) or '-'}",
        f"engines:      {_engine_line(meta.requires)}",
        f"reads:        {_datasets_text(use.inputs, use.bindings)}",
        f"writes:       {_datasets_text(use.outputs, use.bindings)}",
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
