"""Paths on any Hadoop-compatible file system (local, ``hdfs://``, ``s3a://``, ``abfss://``) via Spark's JVM.

The lake writers and readers need a handful of file-system operations Spark's DataFrame API does
not offer: does a table exist yet, which partition directories does it have, delete one partition
directory. They go through Hadoop's ``FileSystem`` of the running session, so they work wherever
Spark can read and write, with the same credentials.

Paths on the local file system (``file:`` URIs, and scheme-less paths when the session's default
file system is local) are served by the operating system directly: every Hadoop call from Python
is a py4j round trip, and a lake table with a few hundred partitions turned each write into
thousands of them. On the other file systems a directory listing costs a fixed number of round
trips whatever it holds (:meth:`HadoopFileSystem.entries`): one ``listStatus``, then the JVM joins
the entries' paths and their ``FileStatus`` texts into two strings, instead of Python walking the
Java ``FileStatus[]`` with about four calls per entry.

:class:`LocalFileSystem` offers the same calls on local paths without a JVM.

Also here: :func:`driver_side_listing`, which makes Spark list many small partition directories on
the driver instead of launching a distributed listing job (one task per directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Spark lists input paths with a distributed job when there are more paths than this
LISTING_THRESHOLD_KEY = "spark.sql.sources.parallelPartitionDiscovery.threshold"


#: characters Spark percent-escapes in partition directory names (ExternalCatalogUtils.charToEscape)
_ESCAPED = frozenset(chr(c) for c in range(0x01, 0x20)) | frozenset("\"#%'*/:=?\\\x7f{[]^")


def partition_value(value: Any) -> str:
    """How Spark spells a partition value in a directory name (dates as ISO text, escaped)."""
    if isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in text)


def partition_dir(root: str, spec: Mapping[str, Any]) -> str:
    """``root/col=value/...`` for one partition spec (keys in the table's partition order)."""
    parts = [f"{name}={partition_value(value)}" for name, value in spec.items()]
    return "/".join([root.rstrip("/"), *parts])


def is_data_file(name: str) -> bool:
    """Spark skips files starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` checksums)."""
    return not name.startswith(("_", "."))


def partition_values(dir_names: list[str], column: str) -> list[str]:
    """The values of the ``column=value`` names among ``dir_names`` (in their order)."""
    prefix = f"{column}="
    return [name[len(prefix) :] for name in dir_names if name.startswith(prefix)]


@dataclass(frozen=True)
class Entry:
    """One entry of a directory listing: its name, its full path as Hadoop spells it, and its kind."""

    name: str
    path: str
    is_dir: bool


#: what separates the entries in the JVM's joined texts (Spark escapes it in partition names)
_SEPARATOR = "\n"


def parse_listing(joined_paths: str, joined_statuses: str, count: int) -> list[Entry] | None:
    """Entries from the two texts the JVM joined (``count`` entries); None when they do not parse.

    ``joined_paths``: the entries' ``Path.toString()`` joined by ``\\n``; ``joined_statuses``: their
    ``FileStatus.toString()``, which spells ``path=<path>; isDirectory=<true|false>``. A name with
    the separator in it, or a ``FileStatus`` subclass that prints itself otherwise, gives None.
    """
    if count == 0:
        return []
    paths = joined_paths.split(_SEPARATOR)
    statuses = joined_statuses.split(_SEPARATOR)
    if len(paths) != count or len(statuses) != count:
        return None
    entries = []
    for path, status in zip(paths, statuses, strict=True):
        if f"path={path}; isDirectory=true" in status:
            is_dir = True
        elif f"path={path}; isDirectory=false" in status:
            is_dir = False
        else:
            return None
        entries.append(Entry(path.rsplit("/", 1)[-1], path, is_dir))
    return entries


class HadoopFileSystem:
    """The few file-system calls the lake needs, on the session's Hadoop configuration.

    Local paths skip the JVM (see the module docstring); every other scheme goes through Hadoop.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        jvm = spark.sparkContext._jvm
        assert jvm is not None, "HadoopFileSystem needs a classic (non-Connect) SparkSession"
        self._jvm: Any = jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        # resolved once: each step of ``jvm.org.apache...`` is a round trip of its own
        self._path_class: Any = jvm.org.apache.hadoop.fs.Path
        self._file_util: Any = jvm.org.apache.hadoop.fs.FileUtil
        self._join: Any = jvm.org.apache.hadoop.util.StringUtils.join
        self._as_list: Any = jvm.java.util.Arrays.asList
        self._arraycopy: Any = jvm.java.lang.System.arraycopy
        self._object_class: Any = jvm.java.lang.Object
        self._gateway: Any = spark.sparkContext._gateway
        default_fs = str(self._conf.get("fs.defaultFS") or "file:///")
        self._default_is_local = default_fs.startswith("file:")
        self._os = LocalFileSystem()

    def local_path(self, path: str) -> str | None:
        """The operating-system path of ``path`` when it is on the local file system, else None."""
        parts = urlsplit(path)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            return parts.path
        if not parts.scheme and self._default_is_local:
            return path
        return None

    def _path(self, path: str) -> tuple[Any, Any]:
        jpath = self._path_class(path)
        return jpath.getFileSystem(self._conf), jpath

    def exists(self, path: str) -> bool:
        local = self.local_path(path)
        if local is not None:
            return self._os.exists(local)
        fs, jpath = self._path(path)
        return bool(fs.exists(jpath))

    def is_dir(self, path: str) -> bool:
        local = self.local_path(path)
        if local is not None:
            return self._os.is_dir(local)
        fs, jpath = self._path(path)
        return bool(fs.exists(jpath) and fs.getFileStatus(jpath).isDirectory())

    def entries(self, path: str) -> list[Entry]:
        """The entries directly under ``path`` (in listing order); an absent path has none.

        A fixed number of py4j round trips per directory, whatever it holds (see the module
        docstring); should the JVM's texts not parse, the entries are read one by one instead.
        """
        fs, jpath = self._path(path)
        if not fs.exists(jpath):
            return []
        statuses = fs.listStatus(jpath)
        count = len(statuses)
        if count == 0:
            return []
        parsed = parse_listing(
            self._joined(self._file_util.stat2Paths(statuses), count),
            self._joined(statuses, count),
            count,
        )
        if parsed is not None:
            return parsed
        out = []
        for status in statuses:  # about four round trips per entry
            jstatus_path = status.getPath()
            out.append(
                Entry(str(jstatus_path.getName()), str(jstatus_path.toString()), bool(status.isDirectory()))
            )
        return out

    def _joined(self, array: Any, count: int) -> str:
        """The ``toString()`` of each element of a Java array, joined by the separator, in the JVM.

        py4j does not pass a ``Path[]`` where a method takes ``Object[]`` (``Arrays.asList``), so
        the elements are first copied into an ``Object[]`` by ``System.arraycopy``, whose
        parameters are plain ``Object``\\ s.
        """
        objects = self._gateway.new_array(self._object_class, count)
        self._arraycopy(array, 0, objects, 0, count)
        return str(self._join(_SEPARATOR, self._as_list(objects)))

    def list_dirs(self, path: str) -> list[str]:
        """Names of the sub-directories of ``path`` (sorted); an absent path has none."""
        local = self.local_path(path)
        if local is not None:
            return self._os.list_dirs(local)
        return sorted(e.name for e in self.entries(path) if e.is_dir)

    def list_files(self, path: str) -> list[str]:
        """Full paths of the data files directly under ``path`` (hidden ``_``/``.`` files skipped)."""
        local = self.local_path(path)
        if local is not None:
            return self._os.list_files(local)
        return sorted(e.path for e in self.entries(path) if not e.is_dir and is_data_file(e.name))

    def partitions(self, root: str, column: str) -> list[str]:
        """Values of the ``column=value`` directories directly under ``root`` (sorted)."""
        return partition_values(self.list_dirs(root), column)

    def delete(self, path: str) -> bool:
        """Delete ``path`` recursively; False when it did not exist."""
        local = self.local_path(path)
        if local is not None:
            return self._os.delete(local)
        fs, jpath = self._path(path)
        if not fs.exists(jpath):
            return False
        return bool(fs.delete(jpath, True))

    def make_dirs(self, path: str) -> None:
        """Create ``path`` and its parents (nothing happens when it exists)."""
        local = self.local_path(path)
        if local is not None:
            self._os.make_dirs(local)
            return
        fs, jpath = self._path(path)
        fs.mkdirs(jpath)

    def rename(self, source: str, target: str) -> None:
        """Move ``source`` to ``target`` (which must not exist); its parent is created if needed."""
        local_source, local_target = self.local_path(source), self.local_path(target)
        if local_source is not None and local_target is not None:
            self._os.rename(local_source, local_target)
            return
        fs, jsource = self._path(source)
        _, jtarget = self._path(target)
        fs.mkdirs(jtarget.getParent())
        if not fs.rename(jsource, jtarget):
            raise OSError(f"cannot rename {source} to {target}")

    def write_text(self, path: str, text: str) -> None:
        """Write (replace) a small text file, e.g. a report next to the data it describes."""
        local = self.local_path(path)
        if local is not None:
            self._os.write_text(local, text)
            return
        fs, jpath = self._path(path)
        stream = fs.create(jpath, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def read_text(self, path: str) -> str:
        local = self.local_path(path)
        if local is not None:
            return self._os.read_text(local)
        fs, jpath = self._path(path)
        stream = fs.open(jpath)
        reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        try:
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(str(line))
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            reader.close()


class LocalFileSystem:
    """The same calls on local paths, without a JVM (for pure-Python tools and tests)."""

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def list_dirs(self, path: str) -> list[str]:
        if not os.path.isdir(path):
            return []
        return sorted(e.name for e in os.scandir(path) if e.is_dir())

    def list_files(self, path: str) -> list[str]:
        if not os.path.isdir(path):
            return []
        return sorted(
            os.path.join(path, e.name) for e in os.scandir(path) if e.is_file() and is_data_file(e.name)
        )

    def partitions(self, root: str, column: str) -> list[str]:
        return partition_values(self.list_dirs(root), column)

    def delete(self, path: str) -> bool:
        if os.path.isdir(path):
            shutil.rmtree(path)
            return True
        if os.path.exists(path):
            os.remove(path)
            return True
        return False

    def make_dirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rename(self, source: str, target: str) -> None:
        if os.path.exists(target):
            raise OSError(f"cannot rename {source} to {target}: the target exists")
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        os.rename(source, target)

    def write_text(self, path: str, text: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def read_text(self, path: str) -> str:
        with open(path, encoding="utf-8") as handle:
            return handle.read()


@contextmanager
def driver_side_listing(spark: SparkSession, max_paths: int | None) -> Iterator[None]:
    """List up to ``max_paths`` input paths on the driver while the block runs.

    Spark starts a distributed listing job (one task per directory) when a read names more than
    32 paths. For thousands of small directories on a local or HDFS file system listing them on
    the driver is several times faster; on object stores with very many directories the parallel
    job can win, so this is opt-in per read. ``None`` leaves Spark's setting alone. The previous
    value is restored afterwards (Spark lists the files when the DataFrame is created, inside the
    block).
    """
    if max_paths is None:
        yield
        return
    conf = spark.conf
    previous = conf.get(LISTING_THRESHOLD_KEY, None)
    conf.set(LISTING_THRESHOLD_KEY, str(max_paths))
    try:
        yield
    finally:
        if previous is None:
            conf.unset(LISTING_THRESHOLD_KEY)
        else:
            conf.set(LISTING_THRESHOLD_KEY, previous)
