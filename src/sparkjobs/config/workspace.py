"""Where a command's configuration comes from: the environment name, the conf dir and the layers.

One rule set for every command and entry point (``run``, ``config``, ``pipeline``, ``schedule``,
``serve``, the platform entry points):

* the environment is ``--env``, else ``$SPARKJOBS_ENV``, else ``dev``; it must be a plain name
  (it names ``conf/<env>/``), and a non-default environment must have its directory;
* the project root is ``--project-dir``, else ``$SPARKJOBS_PROJECT_DIR``, else the folder holding an
  explicit conf dir, else the nearest folder at or above the cwd that holds ``conf/`` (found upward
  like git finds ``.git``), else the cwd — with a warning that no ``conf/`` was found;
* the conf dir is ``--conf-dir``, else ``$SPARKJOBS_CONF_DIR``, else ``<project root>/conf``; only the
  default may be absent (model defaults only), an explicit one must be a directory;
* relative paths in the configuration — the runs folder, a SQLite ledger, job parameters named
  ``path``/``dir`` or ``*_path``/``*_dir``, a ``url: sqlite:///relative.db`` in a job's or a
  service's settings — are taken from the project root, never from the cwd, so a command means
  the same from any folder of the project;
* the layers are built by :func:`sparkjobs.config.layers.load_layers` (precedence written there).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sparkjobs.config.layers import LayeredConfig, load_layers
from sparkjobs.config.tree import Path_
from sparkjobs.errors import ConfigError, UsageError

DEFAULT_ENV = "dev"
DEFAULT_CONF_DIR = Path("conf")
ENV_VARIABLE = "SPARKJOBS_ENV"
CONF_DIR_VARIABLE = "SPARKJOBS_CONF_DIR"
PROJECT_DIR_VARIABLE = "SPARKJOBS_PROJECT_DIR"
#: ``sqlite:///relative.db``: a file relative to the project root (``sqlite:////abs.db`` is absolute)
_SQLITE_PREFIX = "sqlite:///"
#: a path with a scheme (s3a://, hdfs://, file:/...) is never joined to the project root
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

log = logging.getLogger("sparkjobs.config")
_ENV_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def resolve_env(env: str | None, environ: Mapping[str, str]) -> str:
    """``env``, else ``$SPARKJOBS_ENV``, else ``dev``; a plain name, since it names ``conf/<env>/``."""
    name = env if env is not None else environ.get(ENV_VARIABLE, DEFAULT_ENV)
    if not _ENV_NAME_RE.fullmatch(name):
        raise UsageError(
            f"bad environment name {name!r}: expected a plain name such as dev, staging or prod "
            "(letters, digits, '-', '_', '.'; no path separators)"
        )
    return name


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a ``conf/`` folder (like git's ``.git``)."""
    for folder in (start, *start.parents):
        if (folder / DEFAULT_CONF_DIR).is_dir():
            return folder
    return None


def resolve_project(
    project_dir: Path | None, conf_dir: Path | None, environ: Mapping[str, str], cwd: Path
) -> tuple[Path, Path, bool]:
    """``(project root, conf dir, conf found)`` by the rules of the module docstring."""
    explicit_conf = conf_dir or environ.get(CONF_DIR_VARIABLE)
    explicit_root = project_dir or environ.get(PROJECT_DIR_VARIABLE)
    if explicit_root:
        root = Path(explicit_root).absolute()
        if not root.is_dir():
            raise ConfigError(
                "project directory not found" if not root.exists() else "not a directory",
                file=str(root),
                expected=f"the folder holding conf/ (--project-dir or {PROJECT_DIR_VARIABLE})",
            )
    elif explicit_conf:
        root = _explicit_conf_dir(Path(explicit_conf)).absolute().parent
    else:
        found = find_project_root(cwd)
        if found is None:
            log.warning(
                "no conf/ folder in %s or any folder above it: using the packaged defaults only, with "
                "paths relative to %s (pass --project-dir or --conf-dir, or run inside your project)",
                cwd,
                cwd,
            )
            return cwd, DEFAULT_CONF_DIR, False
        if found == cwd:  # standing in the project: file names stay as short as they were (conf/base/...)
            return cwd, DEFAULT_CONF_DIR, True
        root = found
    conf = _explicit_conf_dir(Path(explicit_conf)).absolute() if explicit_conf else root / DEFAULT_CONF_DIR
    if not conf.is_dir():
        log.warning("no conf/ folder in the project %s: using the packaged defaults only", root)
    return root, conf, conf.is_dir()


def _explicit_conf_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ConfigError(
            "configuration directory not found" if not path.exists() else "not a directory",
            file=str(path),
            expected=f"a directory holding base/, <env>/ and local/ (--conf-dir or {CONF_DIR_VARIABLE})",
        )
    return path


def is_path_key(key: str) -> bool:
    """Job parameters whose relative values are paths taken from the project root."""
    return key in {"path", "dir"} or key.endswith(("_path", "_dir"))


def _is_rooted(key: str, value: object) -> bool:
    """A value :func:`resolve_data_paths` takes from the project root: a path key's string, or a
    database ``url`` naming a SQLite file."""
    if not isinstance(value, str):
        return False
    return is_path_key(key) or (key == "url" and value.startswith(_SQLITE_PREFIX))


@dataclass(frozen=True)
class ConfigWorkspace:
    """A resolved environment, project root and conf dir, the extra ``--config`` files and the
    environment variables."""

    env: str
    conf_dir: Path
    config_files: tuple[Path, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: the folder relative paths are taken from (see the module docstring)
    project_dir: Path = field(default_factory=Path.cwd)
    #: False when no conf/ folder was found (packaged defaults only)
    conf_found: bool = True

    def resolve_path(self, value: str | Path) -> Path:
        """``value`` taken from the project root when it is relative."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.project_dir / path

    def resolve_sqlite_url(self, value: str) -> str:
        """``sqlite:///relative.db`` with its file taken from the project root; an absolute file
        (``sqlite:////abs.db``), ``:memory:`` and every other scheme as written."""
        rest = value[len(_SQLITE_PREFIX) :] if value.startswith(_SQLITE_PREFIX) else ""
        if not rest or rest.startswith(("/", ":memory:", "?")):
            return value
        return _SQLITE_PREFIX + str((self.project_dir / rest).absolute())

    def resolve_data_path(self, value: str) -> str:
        """A path-like config value: a relative local path joined to the project root; an absolute
        path or a URL (``s3a://``, ``hdfs://``, ``file:``) as written."""
        if not value or _SCHEME_RE.match(value) or Path(value).expanduser().is_absolute():
            return value
        return str(self.project_dir / value)

    @classmethod
    def resolve(
        cls,
        *,
        env: str | None = None,
        conf_dir: Path | None = None,
        config_files: Sequence[Path] = (),
        environ: Mapping[str, str] | None = None,
        project_dir: Path | None = None,
        cwd: Path | None = None,
    ) -> ConfigWorkspace:
        """Apply the rules above; raises :class:`UsageError` / :class:`ConfigError` (exit code 2)."""
        env_map = dict(os.environ if environ is None else environ)
        resolved_env = resolve_env(env, env_map)
        root, conf, found = resolve_project(project_dir, conf_dir, env_map, (cwd or Path.cwd()).absolute())
        return cls(
            env=resolved_env,
            conf_dir=conf,
            config_files=tuple(Path(f) for f in config_files),
            environ=env_map,
            project_dir=root,
            conf_found=found,
        )

    def layers(self) -> LayeredConfig:
        """Layers 2-6: conf/base → conf/<env> → conf/local → ``SPARKJOBS__*`` → ``--config`` files."""
        return load_layers(
            self.conf_dir,
            self.env,
            environ=self.environ,
            config_files=self.config_files,
            require_env_dir=self.env != DEFAULT_ENV,
        )


def resolve_data_paths(
    tree: Mapping[str, Any], raw: set[Path_], workspace: ConfigWorkspace
) -> dict[str, Any]:
    """A copy of a job's config tree with relative path values (keys per :func:`is_path_key`, and
    ``url: sqlite:///relative.db``) taken from the project root. ``raw`` (``--param`` text typed
    later) is resolved only when it reads as a string, so ``-p output.path=null`` stays null."""

    def walk(node: Any, path: Path_) -> Any:
        if isinstance(node, Mapping):
            return {k: walk(v, (*path, str(k))) for k, v in node.items()}
        key = path[-1] if path else ""
        if not _is_rooted(key, node):
            return node
        if path in raw and not isinstance(yaml.safe_load(node), str):
            return node
        if key == "url":
            return workspace.resolve_sqlite_url(node)
        return workspace.resolve_data_path(node)

    return dict(walk(tree, ()))


def with_path_defaults(model: type[BaseModel] | None, tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` with the model's relative path defaults written in (keys per :func:`is_path_key`), so
    that :func:`resolve_data_paths` takes a default such as ``output_path = "data/out"`` from the
    project root as well. Nested models are followed (their default instance's values win)."""
    out = dict(tree)
    if model is None:
        return out
    for name, info in model.model_fields.items():
        key = info.alias or name
        default = None if info.default is PydanticUndefined else info.default
        if default is None and info.default_factory is not None:
            try:  # what pydantic would build; a factory of the validated data has no default here
                default = info.default_factory()  # type: ignore[call-arg]
            except (TypeError, ValueError):
                default = None
        if _is_rooted(key, default) and key not in out and default:
            out[key] = default
            continue
        nested = info.annotation
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            continue
        if isinstance(out.get(key), Mapping):
            out[key] = with_path_defaults(nested, out[key])
        elif key not in out and isinstance(default, BaseModel):
            paths = {k: v for k, v in default.model_dump(by_alias=True).items() if _is_rooted(k, v)}
            if paths:  # only the path values: the rest keeps coming from the default instance's model
                out[key] = with_path_defaults(nested, {**default.model_dump(by_alias=True), **paths})
    return out
