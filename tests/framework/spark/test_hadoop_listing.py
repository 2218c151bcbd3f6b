"""HadoopFileSystem's listing through the Hadoop API (not the local shortcut), on the local file system.

A listing costs a fixed number of py4j round trips per directory, whatever it holds: the calls are
counted on the gateway client, for a directory of 3 entries and one of 60.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkjobs.io import HadoopFileSystem
from sparkjobs.io.filesystem import Entry

pytestmark = pytest.mark.spark


def make_tree(root: Path, dirs: list[str], files: list[str]) -> None:
    for name in dirs:
        (root / name).mkdir(parents=True)
    for name in files:
        (root / name).write_text("x")


@pytest.fixture
def hadoop_fs(spark: Any, monkeypatch: pytest.MonkeyPatch) -> HadoopFileSystem:
    """A HadoopFileSystem that sends local paths through Hadoop too."""
    fs = HadoopFileSystem(spark)
    monkeypatch.setattr(fs, "local_path", lambda path: None)
    return fs


class Calls:
    """Counts the py4j commands sent to the JVM."""

    def __init__(self, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        client = spark.sparkContext._gateway._gateway_client
        send = client.send_command

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return send(*args, **kwargs)

        monkeypatch.setattr(client, "send_command", counting)

    def of(self, fn: Any, *args: Any) -> tuple[Any, int]:
        before = self.n
        result = fn(*args)
        return result, self.n - before


ODD_NAMES = ["month=2024-01", "month=2024%2F02", "with space, comma", "ünï=çødé"]


def test_listing_through_hadoop_names_dirs_and_data_files(
    hadoop_fs: HadoopFileSystem, tmp_path: Path
) -> None:
    root = tmp_path / "t"
    make_tree(root, ODD_NAMES, ["part-0.parquet", "a, b.csv", "_SUCCESS", ".part-0.parquet.crc"])
    url = f"file://{root}"
    assert hadoop_fs.list_dirs(url) == sorted(ODD_NAMES)
    assert hadoop_fs.list_files(url) == [f"file:{root}/a, b.csv", f"file:{root}/part-0.parquet"]
    assert hadoop_fs.partitions(url, "month") == ["2024%2F02", "2024-01"]
    entries = {e.name: e for e in hadoop_fs.entries(url)}
    assert entries["with space, comma"] == Entry("with space, comma", f"file:{root}/with space, comma", True)
    assert entries["_SUCCESS"] == Entry("_SUCCESS", f"file:{root}/_SUCCESS", False)
    assert hadoop_fs.entries(f"file://{tmp_path}/absent") == []
    (tmp_path / "empty").mkdir()
    assert hadoop_fs.entries(f"file://{tmp_path}/empty") == []


def test_a_listing_costs_the_same_round_trips_for_3_entries_and_for_60(
    spark: Any, hadoop_fs: HadoopFileSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "small", ["d=1", "d=2"], ["part-0"])
    make_tree(tmp_path / "big", [f"d={i}" for i in range(40)], [f"part-{i}" for i in range(20)])
    calls = Calls(spark, monkeypatch)
    small, small_calls = calls.of(hadoop_fs.list_dirs, f"file://{tmp_path}/small")
    big, big_calls = calls.of(hadoop_fs.list_dirs, f"file://{tmp_path}/big")
    assert small == ["d=1", "d=2"] and len(big) == 40
    assert big_calls == small_calls  # was ~4 per entry: 240 for the big directory
    files, file_calls = calls.of(hadoop_fs.list_files, f"file://{tmp_path}/big")
    assert len(files) == 20 and file_calls == small_calls


def test_texts_that_do_not_parse_fall_back_to_reading_entries_one_by_one(
    hadoop_fs: HadoopFileSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "t"
    make_tree(root, ODD_NAMES, ["part-0.parquet", "_SUCCESS"])
    url = f"file://{root}"
    expected = sorted(hadoop_fs.entries(url), key=lambda e: e.name)
    monkeypatch.setattr(hadoop_fs, "_joined", lambda array, count: "not what the JVM prints")
    assert sorted(hadoop_fs.entries(url), key=lambda e: e.name) == expected
    assert hadoop_fs.list_dirs(url) == sorted(ODD_NAMES)
