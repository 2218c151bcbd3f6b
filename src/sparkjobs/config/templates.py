"""Run-time placeholders inside configuration values: ``raw/{event_date}/``, ``{event_date:%Y/%m/%d}``.

A job's parameters (``jobs.<job>``) and the data catalog's entries (``catalog.<dataset>``) are
rendered once per run, after every layer is merged and before the job's model validates them, so
``config show`` and ``--dry-run`` print the values the job will get. The names:

``event_date``
    the run's logical date (``--event-date``; default yesterday, UTC). A date: ``{event_date}`` is
    ``2024-01-31``, ``{event_date:%Y/%m/%d}`` is ``2024/01/31`` (any ``strftime`` pattern).
``window_start`` / ``window_end``
    only when the job's configuration has a ``window_days`` value (a whole number ≥ 1): the dates
    ``event_date - (window_days - 1)`` and ``event_date``, the inclusive window a job such as
    ``build_recommendations`` reads. Dates, formatted like ``event_date``.
``run_id``
    the run's id (``20240201T020000Z-1a2b3c4d``), e.g. for a per-run scratch folder.
``env``
    the configuration environment (``dev``, ``prod``...).
``job``
    the job's configuration name (the key under ``jobs:``).

``{{`` and ``}}`` stand for literal braces. Anything else in braces — an unknown name, an
attribute (``{event_date.year}``: write ``{event_date:%Y}``), a conversion (``!r``), a format that
is not a ``strftime`` pattern, or an unbalanced brace — is an error naming the file, the key, the
placeholder and the known names. Values under secret-named keys (``password``, ``token``...) are
never rendered: a password may hold braces.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from sparkjobs.config.secrets import is_secret_key, mask_text
from sparkjobs.config.tree import Path_, join_key
from sparkjobs.errors import ConfigError

#: every placeholder name, in the order the documentation lists them
TEMPLATE_NAMES = ("event_date", "window_start", "window_end", "run_id", "env", "job")
WINDOW_KEY = "window_days"
_FORMATTER = string.Formatter()


def template_vars(
    *, event_date: date, run_id: str, env: str, job: str, window_days: int | None = None
) -> dict[str, Any]:
    """The values of the placeholders for one run (``window_*`` only with a window)."""
    values: dict[str, Any] = {"event_date": event_date, "run_id": run_id, "env": env, "job": job}
    if window_days is not None:
        values["window_start"] = event_date - timedelta(days=window_days - 1)
        values["window_end"] = event_date
    return values


def window_days_of(value: Any, *, key: str, file: str) -> int | None:
    """The window length a job's ``window_days`` holds (text from ``--param`` too), or None."""
    if value is None:
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < 1:
        raise ConfigError(
            "window_days must be a whole number ≥ 1 (it defines {window_start} and {window_end})",
            key=key,
            file=file,
            value=value,
            expected="a whole number of days, e.g. 7",
        )
    return number


def _known(values: Mapping[str, Any]) -> str:
    names = [n for n in TEMPLATE_NAMES if n in values]
    missing = [n for n in TEMPLATE_NAMES if n not in values]
    text = ", ".join("{" + n + "}" for n in names)
    if "window_start" in missing:
        text += " ({window_start} and {window_end} need window_days in the job's configuration)"
    return text + "; write {{ and }} for literal braces"


def render_text(text: str, values: Mapping[str, Any], *, key: str, file: str) -> str:
    """``text`` with every placeholder replaced; errors name ``file``, ``key`` and the placeholder."""
    if "{" not in text and "}" not in text:
        return text

    def fail(message: str) -> ConfigError:
        return ConfigError(message, key=key, file=file, value=mask_text(text), expected=_known(values))

    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:  # "Single '}' encountered", "expected '}' before end of string"
        raise fail(f"bad placeholder syntax ({exc})") from None
    out: list[str] = []
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if conversion:
            raise fail(f"placeholder {shown} has a conversion; write {{{name}}} or {{{name}:FORMAT}}")
        if name not in values:
            base = name.split(".", 1)[0].split("[", 1)[0]
            if base in values and base != name:
                raise fail(
                    f"placeholder {shown}: attributes and indexes are not supported; "
                    f"use a format instead, e.g. {{{base}:%Y}}"
                )
            if base in ("window_start", "window_end"):
                raise fail(f"placeholder {shown} needs a window: set window_days in the job's configuration")
            close = difflib.get_close_matches(name, TEMPLATE_NAMES, n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join('{' + c + '}' for c in close)}?)" if close else ""
            raise fail(f"unknown placeholder {shown}{hint}")
        if spec and "{" in spec:
            raise fail(f"placeholder {shown}: a format cannot hold another placeholder")
        value = values[name]
        if not spec:
            out.append(value.isoformat() if isinstance(value, date) else str(value))
        elif isinstance(value, date):
            if "%" not in spec:
                raise fail(f"placeholder {shown}: the format must be a strftime pattern such as %Y/%m/%d")
            out.append(value.strftime(spec))
        else:
            raise fail(f"placeholder {shown}: only dates take a format ({{{name}}} is text)")
    return "".join(out)


def render_tree(
    tree: Any,
    values: Mapping[str, Any],
    *,
    sources: Mapping[Path_, str],
    prefix: Path_ = (),
    rendered: dict[Path_, str] | None = None,
    skip: Callable[[Path_], bool] | None = None,
    _path: Path_ = (),
) -> Any:
    """A copy of ``tree`` with every text leaf rendered (lists included, secret-named keys skipped).

    ``sources`` maps paths relative to the tree to the layer they came from (for the error);
    ``prefix`` is the tree's key path in the whole configuration. When ``rendered`` is given, it
    receives ``path → template`` for every leaf whose text changed. ``skip(path)`` true leaves a
    value as it is (the executor skips values its model types as secrets).
    """
    if skip is not None and _path and skip(_path):
        return tree
    if isinstance(tree, Mapping):
        return {
            k: v
            if is_secret_key(str(k))
            else render_tree(
                v,
                values,
                sources=sources,
                prefix=prefix,
                rendered=rendered,
                skip=skip,
                _path=(*_path, str(k)),
            )
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [
            render_tree(v, values, sources=sources, prefix=prefix, rendered=rendered, skip=skip, _path=_path)
            for v in tree
        ]
    if not isinstance(tree, str):
        return tree
    source = sources.get(_path) or next(
        (s for p, s in sources.items() if p[: len(_path)] == _path), "default"
    )
    out = render_text(tree, values, key=join_key((*prefix, *_path)), file=source)
    if rendered is not None and out != tree:
        rendered[_path] = tree
    return out
