"""Keep secrets out of logs and run reports: pattern masking plus the run's own secret values.

Pattern masking (:func:`sparkjobs.config.secrets.mask_text`) catches ``scheme://user:pw@host`` and
``password=...``. A secret printed in free text has no pattern, so a :class:`Redactor` also knows
the literal secret values of the run — the ``SecretStr`` fields and secret-named keys of its
config, and the values of secret-named environment variables — and replaces them wherever they
appear. Values shorter than :data:`MIN_SECRET_LENGTH` are not replaced (they would mangle
ordinary words); keep real secrets longer than that.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, SecretBytes, SecretStr

from sparkjobs.config.database import DatabaseUrl, DatabaseUrlError, url_kind
from sparkjobs.config.secrets import DSN_PASSWORD_RE, KV_PASSWORD_RE, MASK, is_secret_key, mask_text

MIN_SECRET_LENGTH = 4
#: environment variable names that hold secrets (PGPASSWORD, AWS_SECRET_ACCESS_KEY, API_TOKEN...)
SECRET_ENV_RE = re.compile(
    r"(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)", re.I
)


def _dsn_passwords(text: str) -> set[str]:
    """The secrets inside a DSN/URL-like text, as written and percent-decoded.

    A whole database URL is parsed (libpq rules) so that its real secrets are known exactly; the
    patterns add what they find in any text (a URL inside a sentence, ``sslpassword=`` pairs).
    """
    found = {m["pw"] for m in DSN_PASSWORD_RE.finditer(text)}
    found |= {m["pw"].strip("'") for m in KV_PASSWORD_RE.finditer(text)}
    if url_kind(text.strip()) == "postgresql":
        with contextlib.suppress(DatabaseUrlError):  # unreadable: the patterns above are all we have
            found |= set(DatabaseUrl.parse(text.strip()).connect_kwargs().values())
    return found | {unquote(s) for s in found}


def secrets_in(value: Any, key: str = "") -> set[str]:
    """The literal secret values inside a config value (model, mapping, list or string)."""
    found: set[str] = set()
    if isinstance(value, SecretStr):
        found.add(value.get_secret_value())
    elif isinstance(value, SecretBytes):
        found.add(value.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= secrets_in(getattr(value, name), name)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            found |= secrets_in(v, str(k))
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            found |= secrets_in(v, key)
    elif isinstance(value, str):
        if key and is_secret_key(key):
            found.add(value)
        found |= _dsn_passwords(value)
    elif key and is_secret_key(key) and value is not None:
        found.add(str(value))
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH}


def secrets_in_environ(environ: Mapping[str, str]) -> set[str]:
    """Values of secret-named variables, and passwords inside any DSN-valued variable."""
    found: set[str] = set()
    for name, value in environ.items():
        if SECRET_ENV_RE.search(name):
            found.add(value)
        found |= _dsn_passwords(value)
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH}


class Redactor:
    """``redactor(text)`` masks DSN/password patterns and every registered secret value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._ordered: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for s in secrets:
                if len(s) >= MIN_SECRET_LENGTH:
                    self._counts[s] = self._counts.get(s, 0) + 1
            self._reorder()

    def discard(self, secrets: Iterable[str]) -> None:
        """Undo one :meth:`add` of these values (secrets registered by two runs stay until both end)."""
        with self._lock:
            for s in secrets:
                if s in self._counts:
                    self._counts[s] -= 1
                    if self._counts[s] <= 0:
                        del self._counts[s]
            self._reorder()

    def _reorder(self) -> None:
        self._ordered = tuple(sorted(self._counts, key=len, reverse=True))  # longest first

    def __len__(self) -> int:
        return len(self._ordered)

    def __call__(self, text: str) -> str:
        text = mask_text(text)
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """Redact strings inside a JSON-like value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
