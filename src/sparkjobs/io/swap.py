"""Swap partitions of a lake table so that a killed process leaves the old or the new data, never none.

Spark's dynamic partition overwrite deletes each live partition and then renames the new one in;
a process killed between the two leaves the partition missing. Here the swap is a small journaled
protocol that the next writer (or reader) of the table completes:

1. the caller writes the complete new partitions to ``<table>/_swap/<txn>/new/<partition>``
   (a Spark job that has committed; nothing live has changed yet);
2. ``<table>/_swap/<txn>/JOURNAL.json`` names the partitions to move in and to delete; it is
   written to a temporary name and renamed, so it exists completely or not at all. Its existence
   is the commit point;
3. for each partition, the live directory is renamed to ``<table>/_swap/<txn>/old/<partition>``
   and the new one renamed into place; a partition to delete is only renamed away;
4. ``<table>/_swap/<txn>`` (the replaced data with it) is deleted.

:func:`recover` finishes what a killed process left: a transaction with a journal is rolled forward
(each step is skipped when already done), one without a journal is rolled back (its staged data is
deleted; the live table was never touched). Renames of directories are atomic on local file
systems and HDFS; on object stores (S3, GCS) a rename is a copy, so there the guarantee is only
that a rerun repairs the table, not that a reader never sees a gap.

One writer per table at a time (the pipeline's locks ensure it): recovery assumes that no other
process is in the middle of a swap on the same table.

Directories starting with ``_`` are ignored by Spark's partition discovery, so ``_swap`` is never
read as data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

SWAP_DIR = "_swap"
JOURNAL = "JOURNAL.json"

#: called with the name of each protocol step just completed (fault-injection tests kill there)
StepHook = Callable[[str], None]


class SwapFileSystem(Protocol):
    """The file-system calls the protocol needs (:class:`~sparkjobs.io.filesystem.HadoopFileSystem`
    and :class:`~sparkjobs.io.filesystem.LocalFileSystem` both provide them)."""

    def exists(self, path: str) -> bool: ...

    def list_dirs(self, path: str) -> list[str]: ...

    def delete(self, path: str) -> bool: ...

    def rename(self, source: str, target: str) -> None: ...

    def write_text(self, path: str, text: str) -> None: ...

    def read_text(self, path: str) -> str: ...


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts))


@dataclass(frozen=True)
class Swap:
    """One transaction on the table at ``root``: where its new partitions are staged."""

    root: str
    txn: str

    @classmethod
    def begin(cls, root: str) -> Swap:
        return cls(root.rstrip("/"), uuid.uuid4().hex)

    @property
    def home(self) -> str:
        return _join(self.root, SWAP_DIR, self.txn)

    @property
    def staging(self) -> str:
        """Write the new partitions under here, laid out exactly as under the table root."""
        return _join(self.home, "new")

    def commit(
        self,
        fs: SwapFileSystem,
        *,
        moves: Sequence[str],
        deletes: Sequence[str] = (),
        on_step: StepHook | None = None,
    ) -> None:
        """Swap in the staged ``moves`` and remove the live ``deletes`` (partition paths such as
        ``event_date=2024-01-01``, relative to the table root)."""
        step = on_step or (lambda _name: None)
        step("staged")
        journal = json.dumps({"moves": list(moves), "deletes": list(deletes)})
        fs.write_text(_join(self.home, JOURNAL + ".tmp"), journal)
        fs.rename(_join(self.home, JOURNAL + ".tmp"), _join(self.home, JOURNAL))
        step("journal")
        self._roll_forward(fs, list(moves), list(deletes), step)

    def _roll_forward(self, fs: SwapFileSystem, moves: list[str], deletes: list[str], step: StepHook) -> None:
        for partition in moves:
            live, new, old = (
                _join(self.root, partition),
                _join(self.staging, partition),
                _join(self.home, "old", partition),
            )
            if not fs.exists(new):
                continue  # moved in by an earlier attempt
            if _move_aside(fs, live, old):
                step(f"moved-out:{partition}")
            fs.rename(new, live)
            step(f"moved-in:{partition}")
        for partition in deletes:
            live, old = _join(self.root, partition), _join(self.home, "old", partition)
            if _move_aside(fs, live, old):
                step(f"deleted:{partition}")
        fs.delete(self.home)
        _drop_if_empty(fs, _join(self.root, SWAP_DIR))
        step("cleaned")

    def abort(self, fs: SwapFileSystem) -> None:
        """Drop the staged data of a transaction that did not reach its commit point."""
        fs.delete(self.home)
        _drop_if_empty(fs, _join(self.root, SWAP_DIR))


def _move_aside(fs: SwapFileSystem, live: str, old: str) -> bool:
    """Rename the live partition into the transaction's ``old/``; False when there is none.

    An ``old`` copy already there cannot come from one run; the live copy seen now is kept.
    """
    if not fs.exists(live):
        return False
    if fs.exists(old):
        fs.delete(old)
    fs.rename(live, old)
    return True


def _drop_if_empty(fs: SwapFileSystem, path: str) -> None:
    if fs.exists(path) and not fs.list_dirs(path):
        fs.delete(path)


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover` did: transactions rolled forward and rolled back."""

    rolled_forward: list[str]
    rolled_back: list[str]


def recover(fs: SwapFileSystem, root: str) -> Recovered:
    """Complete or undo every swap a killed process left on the table at ``root``."""
    forward: list[str] = []
    back: list[str] = []
    for txn in fs.list_dirs(_join(root, SWAP_DIR)):
        swap = Swap(root.rstrip("/"), txn)
        journal = _join(swap.home, JOURNAL)
        if fs.exists(journal):
            plan = json.loads(fs.read_text(journal))
            swap._roll_forward(fs, list(plan["moves"]), list(plan["deletes"]), lambda _name: None)
            forward.append(txn)
        else:
            swap.abort(fs)
            back.append(txn)
    return Recovered(forward, back)
