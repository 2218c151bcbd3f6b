"""Where a serving store lives and how to talk to it: :class:`StoreSettings` (``store:`` sections)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from sparkjobs.config.database import DatabaseSettings, DatabaseUrl, DatabaseUrlError, url_kind
from sparkjobs.errors import ConfigError


class StoreSettings(DatabaseSettings):
    """Where a serving store lives and how to talk to it.

    A secret is never kept in ``url``: a password written into the URL (``postgresql://u:pw@h/db``
    or ``?password=``) is moved into :attr:`password`, other libpq secrets (``?sslpassword=``) into
    :attr:`secret_options`, all ``SecretStr``\\ s masked in reprs, ``config show`` and run reports
    (see :mod:`sparkjobs.config.database`). Give them through the environment instead, e.g.
    ``SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__PASSWORD``.
    """

    url: str = Field(
        description="sqlite:///relative/path.db, sqlite:////abs/path.db or postgresql://user@host/db"
    )
    db_schema: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema holding the tables (default: public)",
    )
    pool_min_size: int = Field(1, ge=0, description="connections the read pool keeps open")
    pool_max_size: int = Field(8, ge=1, description="most connections the read pool opens")
    pool_timeout_s: float = Field(5.0, gt=0, description="wait at most this long for a pooled connection")
    connect_timeout_s: int = Field(5, ge=1, description="PostgreSQL connect timeout")
    statement_timeout_s: float = Field(10.0, ge=0, description="read query timeout (0 = none)")
    lock_timeout_s: float = Field(
        30.0, gt=0, description="wait this long for readers to release a table at swap"
    )
    batch_rows: int = Field(65_536, ge=1, description="rows per Arrow batch when a load source is a Table")
    application_name: str = Field("sparkjobs", description="shown in pg_stat_activity (':load' is appended)")

    @property
    def kind(self) -> Literal["sqlite", "postgresql"]:
        kind = url_kind(self.url)
        if kind is None:
            raise ConfigError(
                "unsupported serving store url",
                key="store.url",
                value=self.url,
                expected="sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
            )
        return kind

    @property
    def sqlite_path(self) -> Path:
        try:
            return DatabaseUrl.parse(self.url).sqlite_path
        except DatabaseUrlError:
            raise ConfigError(
                "bad sqlite url",
                key="store.url",
                value=self.url,
                expected="sqlite:///relative/path.db or sqlite:////absolute/path.db",
            ) from None

    def describe(self) -> str:
        """The target for messages: the URL (it never holds a secret) plus the schema."""
        return self.url + (f" (schema {self.db_schema})" if self.db_schema else "")
