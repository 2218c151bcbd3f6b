"""parse_listing: the texts the JVM joins for one directory listing (HadoopFileSystem.entries)."""

from __future__ import annotations

from sparkjobs.io.filesystem import Entry, parse_listing

ROOT = "hdfs://nn:8020/lake/t"


def status(path: str, is_dir: bool) -> str:
    """What Hadoop 3's FileStatus.toString() prints (abridged after the kind)."""
    rest = "" if is_dir else "; length=12; replication=3; blocksize=134217728"
    return f"FileStatus{{path={path}; isDirectory={str(is_dir).lower()}{rest}; modification_time=1; owner=o}}"


def test_paths_and_kinds_come_from_the_two_texts() -> None:
    paths = [f"{ROOT}/month=2024-01", f"{ROOT}/a, b; isDirectory=true.csv", f"{ROOT}/part-0"]
    kinds = [True, False, False]
    statuses = [status(p, k) for p, k in zip(paths, kinds, strict=True)]
    statuses[1] = "S3AFileStatus{" + statuses[1] + " isEmptyDirectory=FALSE}"  # subclasses wrap it
    assert parse_listing("\n".join(paths), "\n".join(statuses), 3) == [
        Entry("month=2024-01", paths[0], True),
        Entry("a, b; isDirectory=true.csv", paths[1], False),
        Entry("part-0", paths[2], False),
    ]
    assert parse_listing("", "", 0) == []


def test_texts_that_do_not_match_the_count_or_the_format_give_none() -> None:
    one = f"{ROOT}/line\nbreak"  # a name holding the separator: more parts than entries
    assert parse_listing(one, status(one, False), 1) is None
    assert parse_listing(f"{ROOT}/a", f"Other{{name={ROOT}/a, dir}}", 1) is None
    assert (
        parse_listing(f"{ROOT}/a\n{ROOT}/b", status(f"{ROOT}/a", True) + "\n" + status(f"{ROOT}/x", True), 2)
        is None
    )
