"""The partition swap protocol (sparkjobs.io.swap) under SIGKILL at every step, with real processes.

A child process stages new partitions and commits a swap on a local table, and kills itself with
SIGKILL right after one named step. The parent then runs recovery (what the next writer or reader
does) and checks every partition: old or new content, never missing, never a mix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparkjobs.io.filesystem import LocalFileSystem
from sparkjobs.io.swap import SWAP_DIR, Swap, recover

ROOT = Path(__file__).resolve().parents[3]
MOVES = ["d=2024-01-01", "d=2024-01-02", "d=2024-01-03"]  # 01 and 02 exist, 03 is new
DELETES = ["d=2023-12-31"]
STEPS = [
    "staged",
    "journal",
    "moved-out:d=2024-01-01",
    "moved-in:d=2024-01-01",
    "moved-out:d=2024-01-02",
    "moved-in:d=2024-01-02",
    "moved-in:d=2024-01-03",
    "deleted:d=2023-12-31",
    "cleaned",
]

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from sparkjobs.io.filesystem import LocalFileSystem
    from sparkjobs.io.swap import Swap

    root, kill_at = sys.argv[1], sys.argv[2]
    moves, deletes = json.loads(sys.argv[3]), json.loads(sys.argv[4])
    fs = LocalFileSystem()
    swap = Swap.begin(root)
    for partition in moves:
        fs.write_text(f"{swap.staging}/{partition}/part-0.txt", "new " + partition)

    def hook(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    swap.commit(fs, moves=moves, deletes=deletes, on_step=hook)
    """
)


def _table(root: Path) -> None:
    for partition in ["d=2023-12-31", "d=2024-01-01", "d=2024-01-02", "d=2023-12-30"]:
        (root / partition).mkdir(parents=True)
        (root / partition / "part-0.txt").write_text("old " + partition)


def _content(root: Path, partition: str) -> str | None:
    files = sorted((root / partition).glob("*.txt")) if (root / partition).is_dir() else []
    return " | ".join(f.read_text() for f in files) if files else None


def _run_child(root: Path, kill_at: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), kill_at, json.dumps(MOVES), json.dumps(DELETES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode


@pytest.mark.parametrize("kill_at", STEPS)
def test_a_swap_killed_at_any_step_leaves_old_or_new_never_missing(tmp_path: Path, kill_at: str) -> None:
    root = tmp_path / "table"
    _table(root)
    assert _run_child(root, kill_at) == -signal.SIGKILL

    recovered = recover(LocalFileSystem(), str(root))

    committed = kill_at != "staged"  # the journal is the commit point
    assert (recovered.rolled_forward if committed else recovered.rolled_back) or kill_at == "cleaned"
    for partition in MOVES:
        old = f"old {partition}" if partition != MOVES[2] else None  # 2024-01-03 did not exist before
        expected = f"new {partition}" if committed else old
        assert _content(root, partition) == expected, partition
    assert _content(root, "d=2023-12-31") == (None if committed else "old d=2023-12-31")
    assert _content(root, "d=2023-12-30") == "old d=2023-12-30"  # never named: never touched
    assert not (root / SWAP_DIR).exists()  # nothing left behind, not even an empty _swap


def test_recovery_is_idempotent_and_a_clean_table_needs_none(tmp_path: Path) -> None:
    root = tmp_path / "table"
    _table(root)
    assert _run_child(root, "moved-out:d=2024-01-02") == -signal.SIGKILL
    fs = LocalFileSystem()
    first = recover(fs, str(root))
    again = recover(fs, str(root))
    assert len(first.rolled_forward) == 1 and again.rolled_forward == again.rolled_back == []
    assert _content(root, "d=2024-01-02") == "new d=2024-01-02"


def test_an_aborted_swap_leaves_the_table_untouched(tmp_path: Path) -> None:
    root = tmp_path / "table"
    _table(root)
    fs = LocalFileSystem()
    swap = Swap.begin(str(root))
    fs.write_text(f"{swap.staging}/d=2024-01-01/part-0.txt", "never")
    swap.abort(fs)
    assert _content(root, "d=2024-01-01") == "old d=2024-01-01" and not (root / SWAP_DIR).exists()


def test_local_rename_refuses_an_existing_target(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(OSError, match="target exists"):
        LocalFileSystem().rename(str(tmp_path / "a"), str(tmp_path / "b"))
