"""Read YAML, JSON and TOML configuration files; every error names the file (and line if known).

Config text can come from anyone who can write a file under ``conf/`` or pass ``--config`` /
``--json``, so reading it is bounded before anything is built from it: nesting deeper than
:data:`MAX_DEPTH` and YAML aliases that would expand to more than :data:`MAX_YAML_NODES` nodes
(a "billion laughs" bomb of nine anchors of nine aliases each) are refused with the file and the
limit, instead of a ``RecursionError`` traceback or a CLI that hangs in the duplicate-key walk.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from sparkjobs.errors import ConfigError

SUFFIXES = (".yml", ".yaml", ".json", ".toml")
#: deepest nesting of mappings/lists a config may have (real configs use fewer than 10 levels)
MAX_DEPTH = 64
#: most YAML nodes a file may expand to once its aliases are resolved (real configs: a few hundred)
MAX_YAML_NODES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key repeated inside one mapping (YAML would keep the last)."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    """Refuse a key written twice in one mapping; ``<<: *anchor`` merges still work (own keys win)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    loader.flatten_mapping(node)  # merged pairs first, then the mapping's own: later ones win
    return {
        loader.construct_object(key_node, deep=deep): loader.construct_object(value_node, deep=deep)
        for key_node, value_node in node.value
    }


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _too_deep(where: str, mark: Any = None, *, what: str = "mappings and lists") -> ConfigError:
    """The one refusal of too deep nesting (YAML marks give line and column)."""
    return ConfigError(
        f"nested deeper than {MAX_DEPTH} levels",
        file=f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else where,
        expected=f"at most {MAX_DEPTH} levels of {what}",
    )


def _check_yaml_budget(text: str, where: str) -> None:
    """Refuse deep nesting and alias bombs from the event stream, before any object is built.

    Each anchored node's expanded size and height are recorded when it closes; an alias counts as
    that many nodes, that many levels deeper. The walk is linear in the text and stops at the
    first node over a limit.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    stack: list[list[Any]] = []  # per open collection: [anchor, expanded nodes, height]
    total = 0

    def add(size: int, height: int, mark: Any) -> None:
        nonlocal total
        total += size
        if total > MAX_YAML_NODES:
            raise ConfigError(
                f"YAML expands to more than {MAX_YAML_NODES:,} nodes once its aliases are resolved "
                "(an alias bomb?)",
                file=where,
                expected="fewer aliases of large anchors, or write the values out",
            )
        if len(stack) + height > MAX_DEPTH:
            raise _too_deep(where, mark)
        if stack:
            stack[-1][1] += size
            stack[-1][2] = max(stack[-1][2], height + 1)

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            add(1, 1, event.start_mark)
            stack.append([event.anchor, 1, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size, height = stack.pop()
            if anchor is not None:
                anchors[anchor] = (size, height)
            if stack:  # the nodes are already in ``total``; only the parent's tally grows
                stack[-1][1] += size - 1
                stack[-1][2] = max(stack[-1][2], height + 1)
        elif isinstance(event, yaml.AliasEvent):
            size, height = anchors.get(event.anchor or "", (1, 0))
            add(size, height, event.start_mark)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
            add(1, 0, event.start_mark)


def _check_json_depth(text: str, where: str) -> None:
    """JSON nesting depth, counted outside strings (the C parser would raise RecursionError)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(where, what="objects and arrays")
        elif char in "]}":
            depth -= 1


def _check_depth(data: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise _too_deep(where, what="tables and arrays")
    children = data.values() if isinstance(data, dict) else data if isinstance(data, list) else ()
    for child in children:
        _check_depth(child, where, depth + 1)


def parse_json_text(text: str, where: str) -> Any:
    """Parse JSON the way config files are parsed: duplicate keys refused, depth bounded.

    Used for ``--json`` on the command line as well as for ``*.json`` files; ``where`` names the
    source in errors (a file path or ``--json``).
    """
    _check_json_depth(text, where)
    try:
        return json.loads(text, object_pairs_hook=_unique_json_object)
    except _DuplicateJsonKey as exc:
        raise ConfigError(f"invalid JSON: duplicate key {exc.key!r}", file=where) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", file=f"{where}:{exc.lineno}:{exc.colno}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """Return the mapping a config file holds (an empty file is an empty mapping)."""
    if not path.exists():
        raise ConfigError("config file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError("unsupported config file type", file=str(path), expected=", ".join(SUFFIXES))
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark (Windows editors) is dropped
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", file=str(path), expected="a UTF-8 encoded file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", file=str(path)) from None
    try:
        if suffix in (".yml", ".yaml"):
            _check_yaml_budget(text, str(path))
            data = yaml.load(text, Loader=_UniqueKeyLoader)
        elif suffix == ".json":
            data = parse_json_text(text, str(path)) if text.strip() else None
        else:
            data = tomllib.loads(text)
            _check_depth(data, str(path))
    except RecursionError:
        raise ConfigError(
            f"nested deeper than {MAX_DEPTH} levels", file=str(path), expected="a flatter file"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", file=where) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "a config file must hold a mapping at the top level",
            file=str(path),
            value=type(data).__name__,
            expected="keys such as spark:, jobs:, pipelines:",
        )
    _check_keys(data, (), path)
    return data


class _DuplicateJsonKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON keeps the last of two equal keys; like the YAML loader, refuse them instead."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(key)
        out[key] = value
    return out


def _check_keys(data: Any, prefix: tuple[str, ...], path: Path) -> None:
    """Every mapping key is text: YAML reads ``1:``, ``yes:`` or ``2024-01-01:`` as other types."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = (*prefix, str(key))
            if not isinstance(key, str):
                raise ConfigError(
                    f"a key must be text, not {type(key).__name__}",
                    file=str(path),
                    key=".".join(where),
                    expected=f"a string key (quote it: '{key}':)",
                )
            _check_keys(value, where, path)
    elif isinstance(data, list):
        for item in data:
            _check_keys(item, prefix, path)


def layer_files(directory: Path) -> list[Path]:
    """Config files directly inside ``directory``, in a stable (sorted) order."""
    try:
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    except PermissionError as exc:
        raise ConfigError(
            f"cannot read config directory: {exc.strerror or exc}",
            file=str(directory),
            expected="a directory this user may list (check its permissions)",
        ) from None
