"""docs/getting-started.md, executed: every `run` block's commands and every file it writes, in order.

The page marks its blocks with ``<!-- getting-started: run -->``, ``<!-- getting-started: write
PATH -->`` and ``<!-- getting-started: insert PATH after LINE -->``. Commands run in real
processes, in the directory the page's ``cd`` lines choose. sparkjobs itself is this checkout's
wheel (``sparkjobs_site``): ``pip install 'sparkjobs[spark]' pytest`` is that installation, and
``pip install -e '.[dev]'`` installs the project into a target directory without dependencies
(this venv has them; no index is needed). Any other command the page shows fails the test, so
the page cannot show a command that is not run here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.framework.e2e.conftest import ROOT, clean_env, pip_target

pytestmark = pytest.mark.e2e

PAGE = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"<!-- getting-started: (?P<action>[^>]*?) -->\s*```[a-z]*\n(?P<body>.*?)```", re.S)


@dataclass
class Step:
    action: str  # "run", "write PATH", "insert PATH after LINE"
    body: str


def steps() -> list[Step]:
    return [Step(m["action"].strip(), m["body"]) for m in BLOCK.finditer(PAGE.read_text())]


def test_the_page_has_the_steps_this_test_expects() -> None:
    kinds = [s.action.split()[0] for s in steps()]
    assert kinds == ["run", "run", "write", "insert", "write", "write", "write", "run"]
    assert "write conf/base/catalog.yml" in [s.action for s in steps()]


class Reader:
    """Runs the page's steps like a reader would, keeping every command's output."""

    def __init__(self, home: Path, sparkjobs_site: Path) -> None:
        self.cwd = home
        self.sparkjobs_site = sparkjobs_site
        self.project_site = home / "project-site"
        self.outputs: dict[str, list[subprocess.CompletedProcess[str]]] = {}

    def env(self) -> dict[str, str]:
        return clean_env(self.project_site, self.sparkjobs_site)

    def command(self, line: str) -> None:
        argv = shlex.split(line, comments=True)
        if not argv:
            return
        if argv[0] == "cd":
            self.cwd = self.cwd / argv[1]
            return
        if argv == ["pip", "install", "sparkjobs[spark]", "pytest"]:
            return  # sparkjobs_site is this installation
        if argv == ["pip", "install", "-e", ".[dev]"]:
            pip_target(self.cwd, self.project_site)
            return
        if argv[0] == "sparkjobs":
            full = [sys.executable, "-m", "sparkjobs.cli", *argv[1:]]
        elif argv == ["pytest"]:
            full = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        else:
            pytest.fail(f"docs/getting-started.md shows a command this test does not run: {line!r}")
        proc = subprocess.run(full, capture_output=True, text=True, timeout=900, env=self.env(), cwd=self.cwd)
        failed = f"{line!r} in {self.cwd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        assert proc.returncode == 0, failed
        self.outputs.setdefault(" ".join(argv[:3]), []).append(proc)

    def apply(self, step: Step) -> None:
        words = step.action.split()
        if words[0] == "run":
            for line in step.body.splitlines():
                self.command(line)
        elif words[0] == "write":
            target = self.cwd / words[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.body)
        elif words[0] == "insert":
            path, anchor = self.cwd / words[1], step.action.split(" after ", 1)[1]
            lines = path.read_text().splitlines(keepends=True)
            at = [i for i, text in enumerate(lines) if text.strip() == anchor]
            assert len(at) == 1, f"{path} has no single line {anchor!r}"
            lines[at[0] + 1 : at[0] + 1] = [step.body]
            path.write_text("".join(lines))
        else:
            pytest.fail(f"unknown getting-started step {step.action!r}")


# a wheel build, two installs and two or three JVM starts: minutes on a loaded machine
@pytest.mark.timeout(1800)
def test_getting_started_runs_as_written(sparkjobs_site: Path, tmp_path: Path) -> None:
    reader = Reader(tmp_path, sparkjobs_site)
    for step in steps():
        reader.apply(step)
    project = tmp_path / "acme-orders"
    assert reader.cwd == project

    first, second = reader.outputs["pytest"]
    assert "2 passed" in first.stdout and "3 passed" in second.stdout
    (run,) = reader.outputs["sparkjobs run clean_orders"]
    assert json.loads(run.stdout.strip().splitlines()[-1])["result"] == {
        "rows_read": 10, "rows_written": 9, "rejected": {"bad_amount": 1},
    }  # fmt: skip
    _, revenue_config = reader.outputs["sparkjobs config show"]
    bound = r'jobs\.daily_revenue\.orders_path\s+"[^"]*/data/dev/orders"\s+# catalog\.orders\.path'
    assert re.search(bound, revenue_config.stdout), revenue_config.stdout
    (listed,) = reader.outputs["sparkjobs list"]
    assert re.search(r"clean_orders\s+silver", listed.stdout)
    assert re.search(r"daily_revenue\s+gold", listed.stdout)

    import pyarrow.parquet as pq

    table = pq.read_table(project / "data/dev/daily_revenue/event_date=2024-01-31")
    columns = (table[name].to_pylist() for name in ("country", "revenue", "orders"))
    revenue = sorted(zip(*columns, strict=True))
    assert revenue == [("DE", 41.1, 3), ("FR", 64.25, 4), ("US", 20.8, 2)]
    # the page's table says the same
    shown = re.findall(r"^\| (FR|DE|US) \| ([\d.]+) \| (\d+) \|$", PAGE.read_text(), re.M)
    assert sorted((c, float(r), int(n)) for c, r, n in shown) == revenue
