"""Where a serving store lives and how to talk to it: :class:`StoreSettings` (``store:`` sections)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from sparkjobs.errors import ConfigError

SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgresql", "postgres")


class StoreSettings(BaseModel):
    """Where a serving store lives and how to talk to it.

    A password is never kept in ``url``: one written into the URL (``postgresql://u:pw@h/db`` or
    ``?password=``) is moved into :attr:`password`, a ``SecretStr`` that is masked in reprs,
    ``config show`` and run reports. Give it through the environment instead, e.g.
    ``SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__PASSWORD``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description="sqlite:///relative/path.db, sqlite:////abs/path.db or postgresql://user@host/db"
    )
    password: SecretStr | None = Field(None, description="PostgreSQL password (kept out of the URL)")
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

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str):
            return data
        url, found = _split_password(data["url"])
        if found is None:
            return data
        if data.get("password") not in (None, ""):
            raise ValueError("the password is given twice (in url and in password); keep only `password`")
        return {**data, "url": url, "password": found}

    @property
    def kind(self) -> Literal["sqlite", "postgresql"]:
        scheme = urlsplit(self.url).scheme.lower()
        if scheme in SQLITE_SCHEMES:
            return "sqlite"
        if scheme in POSTGRES_SCHEMES:
            return "postgresql"
        raise ConfigError(
            "unsupported serving store url",
            key="store.url",
            value=self.url,
            expected="sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
        )

    @property
    def sqlite_path(self) -> Path:
        parts = urlsplit(self.url)
        if parts.netloc not in ("", "localhost") or not parts.path or parts.path == "/":
            raise ConfigError(
                "bad sqlite url",
                key="store.url",
                value=self.url,
                expected="sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return Path(unquote(parts.path[1:]))

    def describe(self) -> str:
        """The target for messages: the URL (it never holds the password) plus the schema."""
        return self.url + (f" (schema {self.db_schema})" if self.db_schema else "")


def _split_password(url: str) -> tuple[str, str | None]:
    """``(url without password, password or None)``; handles ``user:pw@`` and ``?password=``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        return url, None
    password: str | None = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, pw = userinfo.split(":", 1)
            password = unquote(pw)
            netloc = f"{user}@{hostinfo}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k != "password"]
    if len(kept) != len(query):
        password = password or next(v for k, v in query if k == "password")
    if password is None:
        return url, None
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment)), password
