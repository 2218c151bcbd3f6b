"""Validate a config mapping against a pydantic model; errors name file, key, value and expectation."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sparkjobs.config.annotations import alternatives, annotation_at
from sparkjobs.config.secrets import MASK, is_secret_key, mask, mentions_secret
from sparkjobs.config.tree import Path_, join_key
from sparkjobs.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    annotation = annotation_at(model, tuple(str(p) for p in loc)) if loc else model
    for alt in alternatives(annotation):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            # the names a config file may use: the alias when a field declares one
            return [
                info.validation_alias
                if isinstance(info.validation_alias, str)
                else info.alias
                if isinstance(info.alias, str)
                else name
                for name, info in alt.model_fields.items()
            ]
    return []


def is_secret_location(model: type[BaseModel], loc: tuple[str, ...]) -> bool:
    """True when the value at ``loc`` (or the container holding it) is typed as a secret."""
    for end in range(len(loc), 0, -1):
        annotation = annotation_at(model, loc[:end])
        if annotation is not None:
            return mentions_secret(annotation)
    return False


def validate_model(
    model: type[M],
    data: Mapping[str, Any],
    *,
    sources: Mapping[Path_, str] | None = None,
    prefix: Path_ = (),
    what: str = "configuration",
) -> M:
    """``model.model_validate(data)`` with unknown keys forbidden and readable errors."""
    try:
        return model.model_validate(dict(data), extra="forbid")
    except ValidationError as exc:
        raise config_error_from(exc, model, sources or {}, prefix, what) from None


def config_error_from(
    exc: ValidationError,
    model: type[BaseModel],
    sources: Mapping[Path_, str],
    prefix: Path_,
    what: str,
) -> ConfigError:
    lines: list[str] = []
    missing: list[str] = []
    first: dict[str, Any] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) for p in err["loc"])
        key = join_key((*prefix, *loc))
        source = sources.get(loc) or next((s for p, s in sources.items() if p[: len(loc)] == loc), "default")
        secret = bool(loc) and (is_secret_key(loc[-1]) or is_secret_location(model, loc))
        # a structured bad value may hold secret-named keys or DSN passwords: mask those too
        value = MASK if secret else mask(err.get("input"))
        if err["type"] == "extra_forbidden":
            known = _field_names(model, loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=3, cutoff=0.6)
            expected = f"one of {sorted(known)}" if known else "no such key"
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            line = f"unknown parameter {key!r}{hint} from {source}; expected {expected}"
        elif err["type"] == "missing":
            line = f"missing required parameter {key!r}"
            missing.append(key)
            expected = "a value"
            value = None
        else:
            expected = err["msg"]
            line = f"{key} = {value!r} from {source}: {err['msg']}"
        lines.append(line)
        if not first:
            first = {"key": key, "file": source, "value": value, "expected": expected}
    count = len(lines)
    message = f"invalid {what}: {count} error{'s' if count > 1 else ''}\n  - " + "\n  - ".join(lines)
    err_obj = ConfigError(message)
    err_obj.key = first.get("key")
    err_obj.file = first.get("file")
    err_obj.value = first.get("value")
    err_obj.expected = first.get("expected")
    err_obj.missing = missing
    err_obj.problems = count
    return err_obj
