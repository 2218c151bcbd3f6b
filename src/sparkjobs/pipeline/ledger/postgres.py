"""The ledger in PostgreSQL (psycopg 3), for several machines or containers sharing one store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from sparkjobs.config.secrets import mask_text
from sparkjobs.pipeline.ledger.runs import RunLedger
from sparkjobs.pipeline.ledger.tables import DDL


class PostgresLedger(RunLedger):
    """The same ledger in PostgreSQL (for several machines or containers sharing one store)."""

    types = {"date": "DATE", "ts": "TIMESTAMPTZ", "float": "DOUBLE PRECISION"}

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        secrets: Mapping[str, SecretStr] | None = None,
        connect_timeout_s: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.schema = schema
        #: libpq secrets kept out of the URL: password, sslpassword, oauth_client_secret
        self._secrets = dict(secrets or {})
        self.connect_timeout_s = connect_timeout_s

    @property
    def where(self) -> str:
        return mask_text(self.url) + (f" (schema {self.schema})" if self.schema else "")

    def _connect(self) -> Any:
        import psycopg
        from psycopg import sql

        extra: dict[str, Any] = {name: secret.get_secret_value() for name, secret in self._secrets.items()}
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s, **extra)
        if self.schema:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            with conn.transaction():
                yield conn.cursor()
        finally:
            conn.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _to_db(self, value: Any) -> Any:
        return value

    def _create_schema(self) -> None:
        from psycopg import sql

        conn = self._connect()
        try:
            with conn.transaction():
                # concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialize
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('sparkjobs.pipeline.ledger'))")
                if self.schema:
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                    )
                    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
                for statement in DDL.format(**self.types).split(";"):
                    if statement.strip():
                        conn.execute(statement)
        finally:
            conn.close()
