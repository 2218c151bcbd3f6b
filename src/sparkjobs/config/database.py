"""Database URLs: one parsed type for every ``url:`` of a database (serving store, pipeline state).

:class:`DatabaseUrl` parses ``sqlite:///path`` and ``postgresql://...`` (``postgres://`` too). A
PostgreSQL URL is read with libpq's own conninfo rules (``psycopg.conninfo.conninfo_to_dict``,
imported only for PostgreSQL URLs, so SQLite configurations need no psycopg), and every secret
option (:data:`SECRET_OPTIONS`: ``password``, ``sslpassword``, ``oauth_client_secret``) is taken
out into a ``SecretStr``. :meth:`DatabaseUrl.url` renders the rest back from the parsed form —
never by editing the text — so it is both connectable and safe to show.

:class:`DatabaseSettings` is the pydantic base of every database section (``store:``,
``state:``): a secret written into ``url`` is moved into ``password`` or ``secret_options`` when
the section is validated, so ``url`` never holds one — not in reprs, ``config show``, run reports
or error messages. Give secrets through the environment instead, e.g.
``SPARKJOBS__STATE__PASSWORD`` or ``SPARKJOBS__STATE__SECRET_OPTIONS__SSLPASSWORD``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: libpq options whose value is a secret (the ones ``PQconndefaults`` marks for hiding)
SECRET_OPTIONS = ("password", "sslpassword", "oauth_client_secret")
#: the secret options other than ``password`` (which has a field of its own)
SecretOption = Literal["sslpassword", "oauth_client_secret"]

Kind = Literal["sqlite", "postgresql"]


class DatabaseUrlError(ValueError):
    """A database URL that cannot be read; the message never quotes the URL (it may hold a secret)."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL: its kind, its non-secret connection options and its secrets apart."""

    kind: Kind
    scheme: str
    #: PostgreSQL: libpq options except the secrets; SQLite: empty
    options: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    #: SQLite: the URL as written (it holds no secret)
    sqlite_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        kind = url_kind(text)
        scheme = urlsplit(text).scheme.lower()
        if kind == "sqlite":
            return cls("sqlite", scheme, sqlite_url=text)
        if kind is None:
            raise DatabaseUrlError(
                "unsupported database url: expected sqlite:///PATH or postgresql://user@host:port/dbname"
            )
        params = _conninfo_to_dict(text)
        if any(
            "@" in params.get(k, "") for k in ("host", "hostaddr", "port")
        ):  # libpq splits at the first '@'
            raise DatabaseUrlError(
                "the host or port of a postgresql url contains '@': write an '@' inside the user or "
                "the password as %40 (postgresql://user:p%40ss@host/db)"
            )
        secrets = {k: SecretStr(v) for k, v in params.items() if k in SECRET_OPTIONS}
        options = {k: v for k, v in params.items() if k not in SECRET_OPTIONS}
        return cls("postgresql", scheme, options, secrets)

    def with_secrets(self, secrets: Mapping[str, SecretStr | None]) -> DatabaseUrl:
        """This URL with more secrets (``None`` values are skipped)."""
        merged = {**self.secrets, **{k: v for k, v in secrets.items() if v is not None}}
        return DatabaseUrl(self.kind, self.scheme, self.options, merged, self.sqlite_url)

    def url(self) -> str:
        """The URL without its secrets, rendered from the parsed options (connectable, and safe to show)."""
        if self.sqlite_url is not None:
            return self.sqlite_url
        return _render_postgres(self.scheme, self.options)

    def display(self, mask: str = "********") -> str:
        """For humans: :meth:`url` plus each secret option as ``name=<mask>`` (a reader sees it is set)."""
        url = self.url()
        if not self.secrets:
            return url
        hidden = "&".join(f"{name}={mask}" for name in sorted(self.secrets))
        return url + ("&" if "?" in url else "?") + hidden

    def connect_kwargs(self) -> dict[str, str]:
        """The secrets as libpq keyword arguments (``psycopg.connect(url, **connect_kwargs)``)."""
        return {name: secret.get_secret_value() for name, secret in self.secrets.items()}

    @property
    def sqlite_path(self) -> Path:
        """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
        parts = urlsplit(self.sqlite_url or "")
        if self.kind != "sqlite" or parts.netloc not in ("", "localhost") or parts.path in ("", "/"):
            raise DatabaseUrlError(
                "bad sqlite url: expected sqlite:///relative/path.db or sqlite:////abs/path.db"
            )
        return Path(unquote(parts.path[1:]))

    def __str__(self) -> str:
        return self.url()

    def __repr__(self) -> str:
        hidden = f", secrets={sorted(self.secrets)}" if self.secrets else ""
        return f"DatabaseUrl({self.url()!r}{hidden})"


def url_kind(text: str) -> Kind | None:
    """``"sqlite"``, ``"postgresql"`` or None, from the scheme alone (nothing is parsed)."""
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in SQLITE_SCHEMES:
        return "sqlite"
    if scheme in POSTGRES_SCHEMES:
        return "postgresql"
    return None


def _conninfo_to_dict(text: str) -> dict[str, str]:
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise DatabaseUrlError(
            "reading a postgresql url needs psycopg: pip install 'sparkjobs[postgres]'"
        ) from None
    try:
        parsed = conninfo_to_dict(text)
    except Exception as exc:  # psycopg.ProgrammingError; its text quotes libpq, not the URL
        raise DatabaseUrlError(f"bad postgresql url: {type(exc).__name__}") from None
    return {k: str(v) for k, v in parsed.items() if v is not None}


def _render_postgres(scheme: str, options: Mapping[str, str]) -> str:
    """``scheme://user@host:port/dbname?other=options`` from libpq options (no secret among them).

    User, host and port go into the authority when they fit there (one host, no socket path);
    otherwise into the query, which libpq reads the same way.
    """
    rest = dict(options)
    user, host, port, dbname = (rest.pop(k, None) for k in ("user", "host", "port", "dbname"))
    netloc = ""
    if host is not None and "/" not in host and "," not in host and (port is None or "," not in port):
        netloc = f"[{host}]" if ":" in host else quote(host, safe="")
        if port is not None:
            netloc += f":{quote(port, safe='')}"
        if user:
            netloc = f"{quote(user, safe='')}@{netloc}"
    else:
        query_first = {"user": user, "host": host, "port": port}
        rest = {**{k: v for k, v in query_first.items() if v is not None}, **rest}
    path = "/" + quote(dbname, safe="") if dbname is not None else ""
    query = urlencode(rest, quote_via=quote) if rest else ""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


class DatabaseSettings(BaseModel):
    """The fields every database section shares; secrets in ``url`` move out when it is validated.

    A refused section never echoes its input in ``str(ValidationError)`` (the URL may hold the
    secret that made it invalid); ``validate_model`` shows the masked value instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(description="sqlite:///path.db or postgresql://user@host:port/dbname (no secrets)")
    password: SecretStr | None = Field(None, description="PostgreSQL password (kept out of the URL)")
    secret_options: dict[SecretOption, SecretStr] = Field(
        default_factory=dict,
        description="other libpq secrets (sslpassword, oauth_client_secret), kept out of the URL",
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str):
            return data
        if url_kind(data["url"]) != "postgresql":
            return data  # SQLite URLs hold no secret; an unknown scheme is the section's own error
        parsed = DatabaseUrl.parse(data["url"])
        if not parsed.secrets:
            return {**data, "url": parsed.url()}
        given = dict(data.get("secret_options") or {})
        out = {**data, "url": parsed.url(), "secret_options": given}
        for name, secret in parsed.secrets.items():
            key = "password" if name == "password" else f"secret_options.{name}"
            present = data.get("password") if name == "password" else given.get(name)
            if present not in (None, ""):
                raise ValueError(f"{name} is given twice (in url and in {key}); keep only `{key}`")
            if name == "password":
                out["password"] = secret
            else:
                given[name] = secret
        return out

    @property
    def database(self) -> DatabaseUrl:
        """The parsed URL with every secret of this section (what a connection needs)."""
        secrets: dict[str, SecretStr | None] = {"password": self.password}
        secrets.update({str(name): value for name, value in self.secret_options.items()})
        return DatabaseUrl.parse(self.url).with_secrets(secrets)
