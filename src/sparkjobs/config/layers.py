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
(see :func:`sparkjobs.config.typing.type_raw_values`).
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


@dataclass
class LayeredConfig:
    """The merged tree, where each leaf came from, and which leaves are still untyped text."""

    tree: dict[str, Any] = field(default_factory=dict)
    sources: dict[Path_, str] = field(default_factory=dict)
    raw_paths: set[Path_] = field(default_factory=set)

    def apply(self, data: Mapping[str, Any], source: str, *, raw: bool = False) -> None:
        for path, _ in iter_leaves(data):
            if raw:
                self.raw_paths.add(path)
            else:
                self.raw_paths.discard(path)
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


def _merge_directory(directory: Path) -> tuple[dict[str, Any], dict[Path_, str]]:
    """Merge every config file of one layer directory; a key set by two files is an error."""
    merged: dict[str, Any] = {}
    owners: dict[Path_, str] = {}
    for path in layer_files(directory):
        data = read_config_file(path)
        for leaf, _ in iter_leaves(data):
            for owned, owner in owners.items():
                n = min(len(owned), len(leaf))
                if owned[:n] == leaf[:n]:
                    raise ConfigError(
                        f"key set by two files in the same layer ({owner} and {path}); "
                        "keep it in one of them or move the override to a later layer",
                        key=join_key(leaf if len(leaf) <= len(owned) else owned),
                        file=f"{owner}, {path}",
                    )
        for leaf, _ in iter_leaves(data):
            owners[leaf] = str(path)
        deep_merge(merged, data)
    return merged, owners


def env_overrides(environ: Mapping[str, str]) -> list[tuple[Path_, str, str]]:
    """``SPARKJOBS__SPARK__MASTER=local[2]`` → ``(("spark", "master"), "local[2]", "env SPARKJOBS__...")``."""
    found = []
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
        merged, owners = _merge_directory(directory)
        for leaf, owner in owners.items():
            cfg.sources[leaf] = owner
        deep_merge(cfg.tree, merged)
        # provenance already recorded leaf by leaf; drop stale owners under replaced leaves
        for leaf in list(cfg.sources):
            if leaf not in owners and any(leaf[: len(o)] == o and len(leaf) > len(o) for o in owners):
                del cfg.sources[leaf]
        for leaf in owners:
            cfg.raw_paths.discard(leaf)
    for path, value, source in env_overrides(environ):
        cfg.apply(nest(path, value), source, raw=True)
    for file in config_files:
        cfg.apply(read_config_file(Path(file)), f"--config {file}")
    return cfg
