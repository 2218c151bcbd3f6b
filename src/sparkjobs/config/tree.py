"""Plain-data helpers for configuration trees: paths, deep merge with provenance, scalar parsing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml

Path_ = tuple[str, ...]


def split_key(key: str) -> Path_:
    """``"a.b.c"`` → ``("a", "b", "c")``; empty segments are an error."""
    parts = tuple(key.split("."))
    if not key or any(not p for p in parts):
        raise ValueError(f"bad key path {key!r}: expected dot-separated names like 'output.path'")
    return parts


def join_key(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def iter_leaves(tree: Mapping[str, Any], prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every (path, value) whose value is not a non-empty mapping."""
    for key, value in tree.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from iter_leaves(value, path)
        else:
            yield path, value


def set_path(tree: dict[str, Any], path: Path_, value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def get_path(tree: Mapping[str, Any], path: Path_, default: Any = None) -> Any:
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def nest(path: Path_, value: Any) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    set_path(tree, path, value)
    return tree


def deep_merge(
    base: dict[str, Any],
    override: Mapping[str, Any],
    sources: dict[Path_, str] | None = None,
    source: str | None = None,
    prefix: Path_ = (),
) -> dict[str, Any]:
    """Merge ``override`` into ``base`` in place (mappings merge, everything else replaces).

    When ``sources`` is given, every leaf written records ``source`` as where it came from, and
    leaves under a replaced subtree lose their old provenance.
    """
    for key, value in override.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value, sources, source, path)
            continue
        if sources is not None and source is not None:
            for stale in [p for p in sources if p[: len(path)] == path]:
                del sources[stale]
            if isinstance(value, Mapping) and value:
                for leaf, _ in iter_leaves(value, path):
                    sources[leaf] = source
            else:
                sources[path] = source
        base[key] = _copy(value)
    return base


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def parse_scalar(text: str) -> Any:
    """Parse a command-line or environment value as a YAML scalar or flow list.

    ``"21"`` → 21, ``"true"`` → True, ``"[1, 2]"`` → [1, 2], ``"a=b:c"`` → ``"a=b:c"``. Text that
    YAML would read as a mapping (``"a: b"``) stays a string: a mapping comes from ``--json``.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, dict) or (value is None and text.strip() not in {"null", "~", ""}):
        return text
    return value
