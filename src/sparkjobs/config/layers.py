"""Layered configuration with provenance. The precedence is written down once, here.

Later layers win:

1. defaults declared in the pydantic models (source ``default``)
2. ``conf/base/``            every *.yml/*.yaml/*.json/*.toml file in it, merged
3. ``conf/<env>/``           same, for the chosen environment
4. ``conf/local/``           same; git-ignored, for one machine
5. environment variables     ``SPARKJOBS__SECTION__KEY=value``  (→ ``section.key``)
6. ``--config FILE``         in the order given (a later file wins over an earlier one)
7. the command line          ``--param``, ``--json`` and flags such as ``--partitions``

Inside one directory layer, two files that set the same key are an error naming both files.
Values from environment variables and ``--param`` arrive as text; they are typed by the model
(see :func:`sparkjobs.config.coerce.type_raw_values`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkjobs.config.files import layer_files, read_config_file
from sparkjobs.config.tree import Path_, deep_merge, get_path, iter_leaves, join_key, nest
from sparkjobs.errors import ConfigError

ENV_PREFIX = "SPARKJOBS__"
DEFAULT_SOURCE = "default"
#: top-level sections whose every entry is itself a mapping (one per job, pipeline, service or dataset)
NAMED_SECTIONS = frozenset({"jobs", "pipelines", "services", "catalog"})


def normalize_sections(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check the shape every layer shares: top-level sections (and ``jobs.<name>``...) are mappings.

    An empty section (``jobs:`` followed only by comments reads as null) is dropped: null can never
    be a valid section, so this changes no valid configuration. Any other non-mapping is an error
    naming the layer, caught here so that a later layer cannot silently paper over it.
    """

    def check(path: Path_, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(
                "a configuration section must be a mapping",
                key=join_key(path),
                file=source,
                value=value,
                expected=f"keys under {join_key(path)}: (e.g. jobs:\n  my_job:\n    key: value)",
            )
        return value

    out: dict[str, Any] = {}
    for key, value in data.items():
        section = check((key,), value)
        if section is None:
            continue
        if key in NAMED_SECTIONS:
            section = {
                name: entry for name, entry in section.items() if check((key, str(name)), entry) is not None
            }
        out[key] = section
    return out


@dataclass
class LayeredConfig:
    """The merged tree, where each leaf came from, and which leaves are still untyped text."""

    tree: dict[str, Any] = field(default_factory=dict)
    sources: dict[Path_, str] = field(default_factory=dict)
    raw_paths: set[Path_] = field(default_factory=set)

    def apply(self, data: Mapping[str, Any], source: str, *, raw: bool = False) -> None:
        """Merge one layer's data (mappings merge, anything else replaces) and record its source."""
        data = normalize_sections(data, source)
        for path, value in iter_leaves(data):
            if isinstance(value, Mapping) and isinstance(get_path(self.tree, path), dict):
                continue  # an empty mapping merges into the existing one: nothing is replaced
            # whatever this leaf replaces (a subtree, or a scalar it now nests under) is no longer raw text
            self.raw_paths = {p for p in self.raw_paths if p[: len(path)] != path and path[: len(p)] != p}
            if raw:
                self.raw_paths.add(path)
        deep_merge(self.tree, data, self.sources, source)

    def section(self, path: Path_) -> tuple[dict[str, Any], dict[Path_, str], set[Path_]]:
        """A subtree with its provenance and raw paths re-rooted at ``path``."""
        sub = get_path(self.tree, path, {})
        if not isinstance(sub, dict):
            raise ConfigError(
                "expected a mapping", key=join_key(path), value=sub, file=self.sources.get(path)
            )
        n = len(path)
        sources = {p[n:]: s for p, s in self.sources.items() if p[:n] == path and len(p) > n}
        raw = {p[n:] for p in self.raw_paths if p[:n] == path and len(p) > n}
        return sub, sources, raw

    def source_of(self, path: Path_) -> str:
        return self.sources.get(path, DEFAULT_SOURCE)


def _conflict(owners: Mapping[Path_, str], leaf: Path_) -> tuple[Path_, str] | None:
    """An owned key that ``leaf`` would also set: the same key, or one nested in the other."""
    for owned, owner in owners.items():
        n = min(len(owned), len(leaf))
        if owned[:n] == leaf[:n]:
            return owned, owner
    return None


def _read_directory(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every config file of one layer directory; a key set by two of its files is an error."""
    found: list[tuple[Path, dict[str, Any]]] = []
    owners: dict[Path_, str] = {}
    for path in layer_files(directory):
        data = normalize_sections(read_config_file(path), str(path))
        leaves = [leaf for leaf, _ in iter_leaves(data)]
        for leaf in leaves:
            clash = _conflict(owners, leaf)
            if clash is not None:
                owned, owner = clash
                raise ConfigError(
                    f"key set by two files in the same layer ({owner} and {path}); "
                    "keep it in one of them or move the override to a later layer",
                    key=join_key(leaf if len(leaf) <= len(owned) else owned),
                    file=f"{owner}, {path}",
                )
        owners.update(dict.fromkeys(leaves, str(path)))
        found.append((path, data))
    return found


def env_overrides(environ: Mapping[str, str]) -> list[tuple[Path_, str, str]]:
    """``SPARKJOBS__SPARK__MASTER=local[2]`` → ``(("spark", "master"), "local[2]", "env SPARKJOBS__...")``."""
    found = []
    owners: dict[Path_, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split("__"))
        if not parts or any(not p for p in parts):
            raise ConfigError(
                "bad configuration environment variable name",
                key=name,
                expected="SPARKJOBS__SECTION__KEY (double underscores between names)",
            )
        clash = _conflict(owners, parts)
        if clash is not None:  # e.g. ..._OUTPUT=x and ..._OUTPUT__FORMAT=y: which one wins is not obvious
            key = join_key(min(clash[0], parts, key=len))
            raise ConfigError(
                f"environment variables {clash[1]} and {name} both set {key}",
                key=key,
                file="environment",
                expected="one variable per key; unset one of them",
            )
        owners[parts] = name
        found.append((parts, environ[name], f"env {name}"))
    return found


def available_envs(conf_dir: Path) -> list[str]:
    if not conf_dir.is_dir():
        return []
    return sorted(p.name for p in conf_dir.iterdir() if p.is_dir() and p.name not in {"base", "local"})


def load_layers(
    conf_dir: Path,
    env: str,
    *,
    environ: Mapping[str, str],
    config_files: Sequence[Path] = (),
    require_env_dir: bool = False,
) -> LayeredConfig:
    """Layers 2-6 (everything but the model defaults and the command line)."""
    cfg = LayeredConfig()
    if require_env_dir and env not in {"base", "local"} and not (conf_dir / env).is_dir():
        raise ConfigError(
            f"no configuration for environment {env!r}",
            file=str(conf_dir / env),
            expected=f"one of {available_envs(conf_dir) or ['(none)']} under {conf_dir}",
        )
    directories = [conf_dir / "base"]
    if env not in {"base", "local"}:
        directories.append(conf_dir / env)
    directories.append(conf_dir / "local")
    for directory in directories:
        # files of one layer never set the same key (checked), so their order does not matter
        for file_path, data in _read_directory(directory):
            cfg.apply(data, str(file_path))
    for path, value, source in env_overrides(environ):
        cfg.apply(nest(path, value), source, raw=True)
    for file in config_files:
        cfg.apply(read_config_file(Path(file)), f"--config {file}")
    return cfg
