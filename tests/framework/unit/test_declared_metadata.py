"""``sparkjobs list`` reads literal job metadata from source; anything else falls back to an import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sparkjobs.declared import DeclaredMetadata, declared_metadata
from sparkjobs.registry import registered


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write(root: Path, name: str, text: str) -> str:
    (root / f"{name}.py").write_text(text)
    sys.modules.pop(name, None)
    return name


def test_the_factory_named_by_make_main_gives_the_metadata(module_dir: Path) -> None:
    name = write(
        module_dir,
        "declared_job_a",
        '"""Docstring line.\n\nMore."""\n'
        "class Other:\n    metadata = JobMetadata(description='not me')\n"
        "class Factory:\n    metadata = JobMetadata(version='2.0.0', stage='gold',\n"
        "        capabilities=frozenset({'incremental', 'backfill'}))\n"
        "main = make_main(Factory)\n",
    )
    assert declared_metadata(name) == DeclaredMetadata(
        description="Docstring line.",
        version="2.0.0",
        stage="gold",
        capabilities=frozenset({"incremental", "backfill"}),
    )
    assert name not in sys.modules  # read, not imported


@pytest.mark.parametrize(
    "body",
    [
        "class F:\n    metadata = JobMetadata(description=DESCRIPTION)\nmain = make_main(F)\n",
        "class F:\n    metadata = JobMetadata(colour='red')\nmain = make_main(F)\n",
        "class F:\n    metadata = JobMetadata(stage='platinum')\nmain = make_main(F)\n",
        "class F:\n    metadata = JobMetadata(**OPTIONS)\nmain = make_main(F)\n",
        "class F:\n    metadata = build()\nmain = make_main(F)\n",
        "def main(**kwargs):\n    return None\n",
    ],
)
def test_metadata_that_is_not_a_plain_literal_is_not_guessed(module_dir: Path, body: str) -> None:
    assert declared_metadata(write(module_dir, "declared_job_b", body)) is None


def test_every_bundled_job_is_read_the_same_as_by_importing_it() -> None:
    for spec in registered().values():
        declared = declared_metadata(spec.module_name)
        assert declared is not None, spec.module_name
        imported = spec.metadata
        assert declared == DeclaredMetadata(
            description=imported.description,
            version=imported.version,
            stage=imported.stage,
            capabilities=imported.capabilities,
            requires=imported.requires,
        )
