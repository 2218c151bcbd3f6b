"""Read YAML, JSON and TOML configuration files; every error names the file (and line if known)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from sparkjobs.errors import ConfigError

SUFFIXES = (".yml", ".yaml", ".json", ".toml")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key repeated inside one mapping (YAML would keep the last)."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


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
            data = yaml.load(text, Loader=_UniqueKeyLoader)
        elif suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_json_object) if text.strip() else None
        else:
            data = tomllib.loads(text)
    except _DuplicateJsonKey as exc:
        raise ConfigError(f"invalid JSON: duplicate key {exc.key!r}", file=str(path)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", file=where) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", file=f"{path}:{exc.lineno}:{exc.colno}") from exc
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
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
