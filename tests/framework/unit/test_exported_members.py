"""``sparkjobs.__all__`` is the public API: every public name of the package, sorted, and nothing else."""

from __future__ import annotations

import importlib.metadata
import tomllib
import types
from pathlib import Path

import sparkjobs

PUBLIC_API = [
    "AbstractJob",
    "AbstractJobFactory",
    "ConfigError",
    "DataError",
    "JobContext",
    "JobContractError",
    "JobFailedError",
    "JobMetadata",
    "JobNotFoundError",
    "LoadError",
    "ObservabilitySettings",
    "Settings",
    "SparkJobsError",
    "SparkSettings",
    "SparkUnavailableError",
    "TerminalError",
    "TransientError",
    "UsageError",
    "make_main",
]


def test_all_is_the_pinned_public_api() -> None:
    assert sparkjobs.__all__ == PUBLIC_API


def test_all_imports_are_exported() -> None:
    for name in sparkjobs.__all__:  # the package imports its names on first use
        getattr(sparkjobs, name)
    public = [
        name
        for name, value in vars(sparkjobs).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    assert sparkjobs.__all__ == sorted(public)


def test_one_version_source() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sparkjobs.__version__"}
    assert importlib.metadata.version("sparkjobs") == sparkjobs.__version__
