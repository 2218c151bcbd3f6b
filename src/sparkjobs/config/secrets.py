"""Secrets never appear in logs, reprs, ``config show`` or run reports."""

from __future__ import annotations

import contextlib
import re
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from sparkjobs.config.annotations import alternatives
from sparkjobs.config.database import DatabaseUrl, DatabaseUrlError, url_kind

MASK = "********"
#: keys treated as secret even when no model says so (jobs ported without a model)
SECRET_KEY_RE = re.compile(
    r"(pass(word|wd)?|secret|token|credential|(api|private|secret|access)[._-]?key)s?$", re.I
)
#: ``scheme://user:SECRET@host``: the user may be empty, the secret runs to the LAST ``@`` before the
#: path (an unencoded ``@`` or ``:`` inside a password is masked whole, however libpq would split it)
DSN_PASSWORD_RE = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^\s/]*)(?P<tail>@)", re.I)
#: ``password=``, ``sslpassword=``, ``oauth_client_secret=`` (libpq's secret options) in a query
#: string or a key=value DSN; a quoted value (``password='a b'``) is masked up to its closing quote
KV_PASSWORD_RE = re.compile(
    r"(?P<head>(?<![a-z0-9_])(?:ssl)?(?:password|passwd|pwd)\s*=\s*|(?<![a-z0-9_])oauth_client_secret\s*=\s*)"
    r"(?P<pw>'(?:[^'\\]|\\.)*'?|[^\s&]+)",
    re.I,
)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_RE.search(key))


def mask_text(text: str) -> str:
    """Mask passwords inside DSNs/URLs (``postgresql://u:pw@h``) and ``password=``-like pairs.

    The last line of defence for free text (log lines, exception messages): configuration values
    never need it, a database URL is parsed and shown without its secrets
    (:mod:`sparkjobs.config.database`).
    """
    text = DSN_PASSWORD_RE.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    return KV_PASSWORD_RE.sub(lambda m: f"{m['head']}{MASK}", text)


def mask(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with every secret replaced by the mask."""
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, BaseModel):
        return mask(model_to_plain(value))
    if isinstance(value, Mapping):
        return {
            k: (MASK if is_secret_key(str(k)) and v is not None else mask(v, str(k)))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v, key) for v in value]
    if isinstance(value, str):
        return MASK if key and is_secret_key(key) else mask_string(value)
    return value


def mask_string(text: str) -> str:
    """A config string for display: a PostgreSQL URL is rendered from its parsed form without its
    secrets (:meth:`~sparkjobs.config.database.DatabaseUrl.display`); other text, or a URL libpq
    cannot read, goes through the patterns of :func:`mask_text`."""
    if url_kind(text) == "postgresql":
        with contextlib.suppress(DatabaseUrlError):  # unreadable: the patterns are all we have
            return DatabaseUrl.parse(text).display(MASK)
    return mask_text(text)


def mentions_secret(annotation: Any) -> bool:
    """True when a type annotation is, or contains (``list[SecretStr]``, ``SecretStr | None``), a secret."""
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(mentions_secret(arg) for arg in typing.get_args(annotation))


def model_to_plain(model: BaseModel) -> dict[str, Any]:
    """``model_dump`` where secret fields are already masked (JSON-friendly)."""
    return model.model_dump(mode="json")  # SecretStr dumps as '**********'


def secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Paths of the SecretStr/SecretBytes fields of a model (nested models included)."""
    out: set[tuple[str, ...]] = set()
    for name, field in model.model_fields.items():
        for alt in alternatives(field.annotation):
            if alt in (SecretStr, SecretBytes):
                out.add((*prefix, name))
            elif isinstance(alt, type) and issubclass(alt, BaseModel):
                out |= secret_paths(alt, (*prefix, name))
    return out
