"""Raw CSV and JSON-lines files read on the DuckDB engine, with the Spark reader's quarantine contract.

:class:`DuckDBRawFileReader` is :class:`~sparkjobs.io.readers.RawFileReader` for a SQLFrame DuckDB
session: it produces the same text frame (every field as text, ``_corrupt_record`` for a line that
does not split into the schema's columns, the source file, partition columns from ``col=value``
directories under ``base_path``) and the same rules (:func:`~sparkjobs.io.readers.check_record`)
give the same ``valid`` / ``rejected`` rows and reasons.

How it is read natively (SQLFrame's reader refuses Spark's ``mode``/``columnNameOfCorruptRecord``/
``basePath`` options):

- CSV: DuckDB's ``read_csv`` with every column as ``VARCHAR``, RFC 4180 quoting, no dialect
  sniffing (a short line would break it) and ``store_rejects``: lines with too few or too many
  fields land in a rejects table, and come back as rows with ``_corrupt_record`` = the line (its
  fields split on commas, as Spark keeps the tokens it found);
- JSON lines: each line as text; a line that is not a JSON object is malformed, the fields of an
  object are taken as text (``json_extract_string``), like Spark's reader with a string schema.

The result is materialised once into a temporary table: DuckDB logs rejected lines on every
evaluation of a lazy read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sparkjobs.errors import DataError
from sparkjobs.io.duckdb_tables import connection, quote_ident, quote_text, table
from sparkjobs.io.filesystem import LocalFileSystem, is_data_file
from sparkjobs.io.readers import CORRUPT_COLUMN, RawFileReader, ReadResult, check_record


class DuckDBRawFileReader(RawFileReader):
    """CSV (with a header line) or JSON lines on local paths, read by DuckDB into a :class:`ReadResult`."""

    def read(self, paths: str | Sequence[str], *, base_path: str | None = None) -> ReadResult:
        path_list = [paths] if isinstance(paths, str) else list(paths)
        files = self._files(path_list)
        names = self.schema.names
        text_ddl = ", ".join(f"{n} string" for n in [*names, CORRUPT_COLUMN, self.source_file_column])
        if not files:
            raw = self.spark.createDataFrame([], text_ddl)
            return ReadResult(check_record(raw, self.schema), self.schema, [], self.source_file_column)
        partitions = self._partition_columns(files, base_path)
        name, release = self._load(files)
        conn = connection(self.spark)
        source = quote_ident(self.source_file_column)
        extract = ", ".join(
            f"regexp_extract({source}, {quote_text('/' + c + '=([^/]+)/')}, 1) AS {quote_ident(c)}"
            for c in partitions
        )
        view = f"__sparkjobs_raw_{uuid.uuid4().hex[:12]}"
        conn.execute(
            f"CREATE VIEW {quote_ident(view)} AS SELECT *{', ' + extract if extract else ''} "
            f"FROM {quote_ident(name)}"
        )
        raw = table(self.spark, view)
        return ReadResult(
            check_record(raw, self.schema), self.schema, partitions, self.source_file_column, release
        )

    # -- files ---------------------------------------------------------------------------------------
    def _files(self, paths: list[str]) -> list[str]:
        fs = LocalFileSystem()
        files: list[str] = []
        for path in paths:
            if os.path.isfile(path):
                files.append(path)
            elif os.path.isdir(path):
                files.extend(self._walk(fs, path))
            else:
                raise DataError(f"cannot read {self.format} input {path}: no such file or directory")
        return files

    def _walk(self, fs: LocalFileSystem, root: str) -> list[str]:
        found = list(fs.list_files(root))
        for sub in fs.list_dirs(root):
            if is_data_file(sub):  # skips _temporary, .hidden (like Spark)
                found.extend(self._walk(fs, os.path.join(root, sub)))
        return found

    def _partition_columns(self, files: list[str], base_path: str | None) -> list[str]:
        if base_path is None:
            return []
        base = os.path.abspath(base_path)
        columns: list[str] = []
        for file in files:
            relative = os.path.relpath(os.path.dirname(os.path.abspath(file)), base)
            for part in relative.split(os.sep):
                if "=" in part:
                    column = part.split("=", 1)[0]
                    if column not in columns:
                        columns.append(column)
        return columns

    # -- the read ------------------------------------------------------------------------------------
    def _load(self, files: list[str]) -> tuple[str, Callable[[], None]]:
        """One table: the fields as text, ``_corrupt_record`` and the source file (as a URI); and
        the function that frees it (:meth:`ReadResult.unpersist` calls it).

        Written once: the good lines by the scan itself, the rejected lines appended after it
        (copying the scan into a second table, or updating the source column afterwards, rewrites
        every row; at 5M events that was 2-10 s). Freeing replaces the table by a view that reads
        the files again (as Spark does for an uncached frame), so that a session running many reads
        (a pipeline, a backfill) does not keep every read's rows in memory.
        """
        conn = connection(self.spark)
        name = f"__sparkjobs_read_{uuid.uuid4().hex[:12]}"
        listing = "[" + ", ".join(quote_text(os.path.abspath(f)) for f in files) + "]"
        fields = [quote_ident(n) for n in self.schema.names]
        if self.format == "csv":
            lazy = self._csv(conn, listing, fields, name)
        else:
            lazy = self._json(listing, fields)
            conn.execute(f"CREATE TABLE {quote_ident(name)} AS {lazy}")

        def release() -> None:
            conn.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
            conn.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {lazy}")

        return name, release

    def _csv(self, conn: Any, listing: str, fields: list[str], name: str) -> str:
        """Load the read into table ``name``; the query that reads the same rows from the files."""
        columns = ", ".join(f"{quote_text(n)}: 'VARCHAR'" for n in self.schema.names)
        scans, errors = f"{name}_scans", f"{name}_errors"
        rejected = f"__sparkjobs_rejected_{name.rsplit('_', 1)[-1]}"
        source = quote_ident(self.source_file_column)
        corrupt = quote_ident(CORRUPT_COLUMN)

        def good(rejects: str) -> str:
            # Spark names local files by URI, file:/abs/path: so does the source-file column here
            return (
                f"SELECT {', '.join(fields)}, NULL::VARCHAR AS {corrupt}, 'file:' || filename AS {source} "
                f"FROM read_csv({listing}, columns = {{{columns}}}, header = true, auto_detect = false, "
                "delim = ',', quote = '\"', escape = '\"', filename = true, null_padding = false, "
                f"strict_mode = true, {rejects}, all_varchar = true)"
            )

        conn.execute(
            f"CREATE TABLE {quote_ident(name)} AS "
            + good(
                f"store_rejects = true, rejects_scan = {quote_text(scans)}, "
                f"rejects_table = {quote_text(errors)}"
            )
        )
        tokens = ", ".join(
            f"NULLIF(string_split(e.csv_line, ',')[{i + 1}], '') AS {f}" for i, f in enumerate(fields)
        )
        # the rejected lines are few: kept in a table of their own, the scan's logs dropped
        conn.execute(
            f"CREATE TABLE {quote_ident(rejected)} AS "
            f"SELECT DISTINCT {tokens}, e.csv_line AS {corrupt}, 'file:' || s.file_path AS {source} "
            f"FROM {quote_ident(errors)} e JOIN {quote_ident(scans)} s USING (scan_id, file_id)"
        )
        conn.execute(f"DROP TABLE {quote_ident(errors)}")
        conn.execute(f"DROP TABLE {quote_ident(scans)}")
        conn.execute(f"INSERT INTO {quote_ident(name)} SELECT * FROM {quote_ident(rejected)}")
        # store_rejects implies ignore_errors: the same good lines, without logging the bad ones again
        return f"{good('ignore_errors = true')} UNION ALL SELECT * FROM {quote_ident(rejected)}"

    def _json(self, listing: str, fields: list[str]) -> str:
        source = quote_ident(self.source_file_column)
        extract = ", ".join(
            f"CASE WHEN is_object THEN json_extract_string(line, {quote_text('$.' + n)}) END "
            f"AS {quote_ident(n)}"
            for n in self.schema.names
        )
        lines = (
            "SELECT line, filename, "
            "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END "
            f"AS is_object FROM read_csv({listing}, columns = {{'line': 'VARCHAR'}}, header = false, "
            f"auto_detect = false, delim = '{chr(1)}', quote = '', escape = '', filename = true) "
            "WHERE trim(line) <> ''"
        )
        return (
            f"SELECT {extract}, CASE WHEN NOT is_object THEN line END AS {quote_ident(CORRUPT_COLUMN)}, "
            f"'file:' || filename AS {source} FROM ({lines})"
        )
