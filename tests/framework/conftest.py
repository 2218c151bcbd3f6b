"""Fixtures that write job modules and third-party 'distributions' into a temp dir on sys.path."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MODEL_JOB = '''
"""Square a number (a job with a config model)."""
from typing import Any, Literal
from pydantic import BaseModel, Field, SecretStr
from sparkjobs import AbstractJob, AbstractJobFactory, JobMetadata, make_main

class Output(BaseModel):
    path: str = "out/default"
    format: Literal["parquet", "csv"] = "parquet"

class SquareConfig(BaseModel):
    n: int = Field(..., description="the number to square")
    label: str = Field("x", description="a text label")
    ratio: float = 0.5
    flag: bool = False
    tags: list[str] = []
    output: Output = Output()
    password: SecretStr | None = None

CALLS: list = []

class SquareJob(AbstractJob):
    def __init__(self, config, context):
        self.config, self.context = config, context
    def execute_job(self, **kwargs: Any) -> Any:
        CALLS.append(("execute_job", kwargs))
        if self.config.n < 0:
            raise ValueError(f"negative n {self.config.n}")
        return {"square": self.config.n ** 2, "label": self.config.label}
    def on_success(self, result: Any) -> None:
        CALLS.append(("on_success", result))
    def on_failure(self, error_message: str) -> None:
        CALLS.append(("on_failure", error_message))

class SquareFactory(AbstractJobFactory[SquareConfig]):
    config_model = SquareConfig
    metadata = JobMetadata(description="Square a number", version="2.1.0", stage="silver",
                           capabilities=frozenset({"incremental", "validation"}))
    def create_job(self, **kwargs: Any) -> SquareJob:
        CALLS.append(("create_job", sorted(kwargs)))
        return SquareJob(self.config, self.context)

main = make_main(SquareFactory)
'''

PORTED_JOB = '''
"""A job ported as-is from the seeds: no config model, hand-written main."""
from typing import Any
from sparkjobs import AbstractJob, AbstractJobFactory

SEEN: dict = {}

class EchoJob(AbstractJob):
    def execute_job(self, **kwargs: Any) -> Any:
        SEEN.clear(); SEEN.update(kwargs)
        return dict(kwargs)
    def on_success(self, result: Any) -> None: ...
    def on_failure(self, error_message: str) -> None: ...

class EchoJobFactory(AbstractJobFactory):
    def create_job(self, **kwargs: Any) -> EchoJob:
        return EchoJob()

def main(**kwargs):
    factory = EchoJobFactory(**kwargs)
    return factory.run(**kwargs)
'''

NO_MAIN = '''
"""A module that forgot the contract."""
def run(**kwargs):
    return 1
'''


@pytest.fixture
def job_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], Path]]:
    """Write modules (dotted name → source) under a temp dir that is on sys.path."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    written: list[str] = []

    def write(dotted: str, source: str) -> Path:
        parts = dotted.split(".")
        pkg = root
        for part in parts[:-1]:
            pkg = pkg / part
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").touch()
        path = pkg / f"{parts[-1]}.py"
        path.write_text(textwrap.dedent(source))
        written.append(dotted)
        importlib.invalidate_caches()
        return path

    yield write
    for name in list(sys.modules):
        if any(
            name == w or name.startswith(w.split(".")[0] + ".") or name == w.split(".")[0] for w in written
        ):
            del sys.modules[name]


@pytest.fixture
def plugin(job_dir: Callable[[str, str], Path], tmp_path: Path) -> Callable[[str, dict[str, str]], Path]:
    """Install a fake third-party distribution that registers jobs via entry points."""

    def make(dist: str, jobs: dict[str, str]) -> Path:
        # the directory name carries the normalized name (importlib.metadata dedupes distributions by it)
        info = tmp_path / "site" / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{name} = {module}" for name, module in jobs.items())
        (info / "entry_points.txt").write_text(f"[sparkjobs.jobs]\n{lines}\n")
        importlib.invalidate_caches()
        return info

    return make
