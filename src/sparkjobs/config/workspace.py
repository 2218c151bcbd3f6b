"""Where a command's configuration comes from: the environment name, the conf dir and the layers.

One rule set for every command and entry point (``run``, ``config``, ``pipeline``, ``schedule``,
``serve``, the platform entry points):

* the environment is ``--env``, else ``$SPARKJOBS_ENV``, else ``dev``; it must be a plain name
  (it names ``conf/<env>/``), and a non-default environment must have its directory;
* the conf dir is ``--conf-dir``, else ``$SPARKJOBS_CONF_DIR``, else ``./conf``; only the default
  may be absent (model defaults only), an explicit one must be a directory;
* the layers are built by :func:`sparkjobs.config.layers.load_layers` (precedence written there).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sparkjobs.config.layers import LayeredConfig, load_layers
from sparkjobs.errors import ConfigError, UsageError

DEFAULT_ENV = "dev"
DEFAULT_CONF_DIR = Path("conf")
ENV_VARIABLE = "SPARKJOBS_ENV"
CONF_DIR_VARIABLE = "SPARKJOBS_CONF_DIR"
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


def resolve_conf_dir(conf_dir: Path | None, environ: Mapping[str, str]) -> Path:
    """``conf_dir``, else ``$SPARKJOBS_CONF_DIR``, else ``./conf``; only the default may be absent."""
    explicit = conf_dir or environ.get(CONF_DIR_VARIABLE)
    if not explicit:
        return DEFAULT_CONF_DIR
    path = Path(explicit)
    if not path.is_dir():
        raise ConfigError(
            "configuration directory not found" if not path.exists() else "not a directory",
            file=str(path),
            expected=f"a directory holding base/, <env>/ and local/ (--conf-dir or {CONF_DIR_VARIABLE})",
        )
    return path


@dataclass(frozen=True)
class ConfigWorkspace:
    """A resolved environment and conf dir, the extra ``--config`` files and the environment variables."""

    env: str
    conf_dir: Path
    config_files: tuple[Path, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(
        cls,
        *,
        env: str | None = None,
        conf_dir: Path | None = None,
        config_files: Sequence[Path] = (),
        environ: Mapping[str, str] | None = None,
    ) -> ConfigWorkspace:
        """Apply the rules above; raises :class:`UsageError` / :class:`ConfigError` (exit code 2)."""
        env_map = dict(os.environ if environ is None else environ)
        return cls(
            env=resolve_env(env, env_map),
            conf_dir=resolve_conf_dir(conf_dir, env_map),
            config_files=tuple(Path(f) for f in config_files),
            environ=env_map,
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
