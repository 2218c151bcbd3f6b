"""``sparkjobs.config.database``: libpq parsing, rendering from the parsed form, secrets apart."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import ValidationError

from sparkjobs.config.database import DatabaseUrl, DatabaseUrlError
from sparkjobs.pipeline.model import StateSettings
from sparkjobs.serving.stores import StoreSettings

TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + "@:/?&=#% +;,'\"\\é-_.", min_size=1, max_size=12
)
HOSTS = st.one_of(
    st.sampled_from(["db", "127.0.0.1", "::1", "/var/run/postgresql", "h1,h2"]),
    st.text(alphabet=string.ascii_lowercase + "-.", min_size=1, max_size=10),
)


@st.composite
def libpq_options(draw: st.DrawFn) -> dict[str, str]:
    options: dict[str, str] = {}
    if draw(st.booleans()):
        options["user"] = draw(TEXT)
    host = draw(st.none() | HOSTS)
    if host is not None:
        options["host"] = host
        if draw(st.booleans()):
            options["port"] = "5432,5433" if "," in host else str(draw(st.integers(1, 65535)))
    if draw(st.booleans()):
        options["dbname"] = draw(TEXT)
    if draw(st.booleans()):
        options["application_name"] = draw(TEXT)
    if draw(st.booleans()):
        options["sslmode"] = draw(st.sampled_from(["disable", "require", "verify-full"]))
    return options


@settings(max_examples=300, deadline=None)
@given(options=libpq_options(), password=st.none() | TEXT, sslpassword=st.none() | TEXT)
def test_a_rendered_url_reads_back_as_the_same_options_without_the_secrets(
    options: dict[str, str], password: str | None, sslpassword: str | None
) -> None:
    secrets = {k: v for k, v in {"password": password, "sslpassword": sslpassword}.items() if v is not None}
    parsed = DatabaseUrl.parse(
        "postgresql://?" + "&".join(f"{k}={_q(v)}" for k, v in {**options, **secrets}.items())
    )
    assert parsed.connect_kwargs() == secrets
    assert dict(parsed.options) == options
    # rendered from the parsed form: every option survives, no secret is in it
    assert conninfo_to_dict(parsed.url()) == options


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def test_the_two_settings_share_one_url_model() -> None:
    url = "postgresql://app:p%40ss@db:5432/x?sslpassword=k3y-pass&sslmode=require"
    for model in (StoreSettings, StateSettings):
        s = model(url=url)  # type: ignore[call-arg]
        assert s.url == "postgresql://app@db:5432/x?sslmode=require"
        assert s.database.connect_kwargs() == {"password": "p@ss", "sslpassword": "k3y-pass"}
        with pytest.raises(ValidationError, match="sslpassword is given twice"):
            model(url=url.replace(":p%40ss", ""), secret_options={"sslpassword": "other"})  # type: ignore[call-arg]
    assert conninfo_to_dict(make_conninfo(StateSettings(url=url).url)) == {
        "user": "app", "host": "db", "port": "5432", "dbname": "x", "sslmode": "require",
    }  # fmt: skip


def test_unreadable_urls_are_refused_without_quoting_them() -> None:
    with pytest.raises(DatabaseUrlError) as info:
        DatabaseUrl.parse("postgresql://u:S3cr3t@PW18@db/x")
    assert "S3cr3t" not in str(info.value) and "PW18" not in str(info.value)
    with pytest.raises(DatabaseUrlError, match="unsupported database url"):
        DatabaseUrl.parse("mysql://u:S3cr3t@db/x")
    assert DatabaseUrl.parse("sqlite:////tmp/x.db").sqlite_path.as_posix() == "/tmp/x.db"
