"""No secret of a database URL ever reaches an output channel (issue 9, "Secrets").

The repros of the issue first (``config show`` with ``sslpassword``, ``pipeline status`` with an
empty-user DSN, an unencoded ``@`` inside a password), then a property test: hypothesis writes
URLs with random secrets in every position — the password of the user info, ``?password=``,
``?sslpassword=``, ``?oauth_client_secret=``, percent-encoded or with raw ``@`` and ``:`` — next to
random users, and no piece of a secret may appear on stdout, stderr, in a log line, a run report,
``config show``, ``--dry-run``, a repr or an error message.
"""

from __future__ import annotations

import json
import logging
import shutil
import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkjobs.cli import cli
from sparkjobs.config.database import DatabaseUrl
from sparkjobs.config.secrets import mask, mask_text
from sparkjobs.observability.logging import JsonFormatter
from sparkjobs.observability.redact import Redactor, secrets_in
from sparkjobs.pipeline.model import StateSettings
from sparkjobs.serving.stores import StoreSettings, open_store
from sparkjobs.serving.stores.spec import Column, TableSpec

ROOT = Path(__file__).resolve().parents[3]
TABLES = (TableSpec("t", (Column("a", "int32"),)),)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's conf/ in a fresh working directory (runs/ and state/ land here)."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    for name in ("SPARKJOBS_ENV", "SPARKJOBS_CONF_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None) -> str:
    """stdout + stderr of one CLI call (logs go to stderr)."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.stdout + result.stderr


# -- the repros of the issue ----------------------------------------------------------------------
def test_config_show_never_prints_an_sslpassword(workspace: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/db?sslpassword=S3cr3t"
    for fmt in ("table", "json"):
        out = invoke("config", "show", "load_recommendations", "-p", f"store.url={url}", "--format", fmt)
        assert "store.url" in out or '"store.url' in out or "jobs.load_recommendations.store.url" in out
        assert "S3cr3t" not in out
        assert "postgresql://postgres@127.0.0.1:1/db" in out  # the rest of the URL is still shown


def test_a_failed_run_keeps_an_sslpassword_out_of_logs_and_the_run_report(workspace: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/db?sslpassword=S3cr3t"
    out = invoke(
        "run", "load_recommendations", "--event-date", "2024-05-01", "--log-format", "json",
        "-p", f"store.url={url}", "-p", "retry.max_attempts=1",
    )  # fmt: skip
    assert "load_recommendations" in out and "S3cr3t" not in out
    reports = list((workspace / "runs").glob("*.json"))
    assert len(reports) == 1 and "S3cr3t" not in reports[0].read_text()


def test_pipeline_status_never_prints_the_password_of_an_empty_user_dsn(workspace: Path) -> None:
    out = invoke(
        "pipeline", "status", "recommendations_daily",
        env={"SPARKJOBS__STATE__URL": "postgresql://:S3cr3t@127.0.0.1:1/x"},
    )  # fmt: skip
    assert "127.0.0.1" in out and "S3cr3t" not in out


def test_an_unencoded_at_inside_a_password_is_refused_without_quoting_any_part_of_it(
    workspace: Path,
) -> None:
    out = invoke(
        "pipeline", "status", "recommendations_daily",
        env={"SPARKJOBS__STATE__URL": "postgresql://postgres:S3cr3t@PW18@127.0.0.1:1/x"},
    )  # fmt: skip
    assert "%40" in out  # the message says how to write it
    assert "S3cr3t" not in out and "PW18" not in out


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("postgresql://postgres@h:1/db?sslpassword=S3cr3t", "S3cr3t"),
        ("postgresql://:S3cr3t@127.0.0.1:1/x", "S3cr3t"),
        ("postgresql://postgres:S3cr3t@PW18@host/db", "PW18"),
        ("host=h password='S3 cr3t' user=u", "cr3t"),
        ("dsn: user=u oauth_client_secret=S3cr3t host=h", "S3cr3t"),
    ],
)
def test_the_pattern_redactor_is_a_last_line_of_defence(text: str, hidden: str) -> None:
    assert hidden not in mask_text(text)


def test_database_urls_render_from_the_parsed_form() -> None:
    url = DatabaseUrl.parse("postgres://u%40x:p%3Aw@h1:5,h2:6/d%2Fb?sslpassword=k&sslmode=require")
    assert url.url() == "postgres:///d%2Fb?user=u%40x&host=h1%2Ch2&port=5%2C6&sslmode=require"
    assert url.connect_kwargs() == {"password": "p:w", "sslpassword": "k"}
    assert "p:w" not in repr(url) and "'k'" not in repr(url)
    assert DatabaseUrl.parse("postgresql://[::1]:5432/db").url() == "postgresql://[::1]:5432/db"
    assert DatabaseUrl.parse("sqlite:///x.db").url() == "sqlite:///x.db"


# -- the property ---------------------------------------------------------------------------------
#: secret pieces are long random tokens with a marker, so that finding one in an output is a leak
PIECE = st.text(alphabet=string.ascii_letters + string.digits, min_size=5, max_size=10).map(
    lambda s: f"Zk{s}"
)
RAW_SEPARATORS = st.sampled_from(["@", ":", "-", "_", "."])  # what a careless user types unencoded
ANY_SEPARATORS = st.sampled_from([*"@:/?&=#% +;,'\"\\", "é", "\t"])  # percent-encoded
USERS = st.text(alphabet=string.ascii_lowercase + "@:._-", min_size=0, max_size=8)
POSITIONS = ("userinfo", "password", "sslpassword", "oauth_client_secret")


@dataclass(frozen=True)
class Case:
    url: str
    pieces: tuple[str, ...]

    def leaks(self, text: str) -> list[str]:
        return [p for p in self.pieces if p in text]


@st.composite
def urls_with_secrets(draw: st.DrawFn) -> Case:
    positions = draw(st.lists(st.sampled_from(POSITIONS), min_size=1, max_size=4, unique=True))
    user = draw(USERS)
    encoded = draw(st.booleans())
    pieces: list[str] = []
    query: list[str] = []
    userinfo = quote(user, safe="")
    for position in positions:
        parts = draw(st.lists(PIECE, min_size=1, max_size=3))
        separators = [draw(ANY_SEPARATORS if encoded else RAW_SEPARATORS) for _ in parts[1:]]
        secret = parts[0] + "".join(s + p for s, p in zip(separators, parts[1:], strict=True))
        pieces += parts
        if position == "userinfo":
            # raw: an '@' inside the password is refused; the refusal must not quote a piece either
            userinfo += ":" + (quote(secret, safe="") if encoded else secret)
        else:
            query.append(f"{position}=" + (quote(secret, safe="") if encoded else secret))
    netloc = f"{userinfo}@127.0.0.1:1" if userinfo else "127.0.0.1:1"
    return Case(f"postgresql://{netloc}/db" + ("?" + "&".join(query) if query else ""), tuple(pieces))


def _in_process_outputs(case: Case) -> list[str]:
    """Everything the framework can show about a URL without running a command."""
    outputs: list[str] = []
    for model in (StoreSettings, StateSettings):
        try:
            settings_ = model(url=case.url)  # type: ignore[call-arg]
        except Exception as exc:  # a refused URL: its message is an output too
            outputs.append(str(exc))
            continue
        outputs += [repr(settings_), str(settings_), settings_.model_dump_json(), json.dumps(mask(settings_))]
        outputs.append(repr(settings_.database))
        redactor = Redactor(secrets_in(settings_))
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "connecting to %s", (case.url,), None)
        outputs.append(JsonFormatter(redactor).format(record))
        outputs.append(redactor(f"error: could not connect to {case.url}"))
    outputs.append(mask_text(case.url))
    return outputs


@settings(max_examples=150, deadline=None)
@given(case=urls_with_secrets())
def test_no_piece_of_a_secret_reaches_a_repr_a_dump_a_log_line_or_an_error(case: Case) -> None:
    for output in _in_process_outputs(case):
        assert not case.leaks(output), output


@settings(max_examples=25, deadline=None)
@given(case=urls_with_secrets())
def test_no_piece_of_a_secret_reaches_a_store_error(case: Case) -> None:
    try:
        store = open_store(StoreSettings(url=case.url, connect_timeout_s=1, pool_timeout_s=0.2), TABLES)
    except Exception as exc:
        assert not case.leaks(str(exc))
        return
    errors: list[BaseException] = []
    with store:
        try:
            store.fetch_all("SELECT 1")
        except Exception as exc:  # refused: port 1
            errors.append(exc)
        try:
            store.load_snapshot({"t": []}, snapshot_date=date(2024, 5, 1), run_id="r")
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    for exc in errors:
        assert not case.leaks(f"{exc!r} {exc} {exc.__cause__}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=urls_with_secrets())
def test_no_piece_of_a_secret_reaches_a_command_output_or_a_run_report(workspace: Path, case: Case) -> None:
    store = ("-p", f"store.url={case.url}")
    state = {"SPARKJOBS__STATE__URL": case.url}
    outputs = [
        invoke("config", "show", "load_recommendations", *store, "--format", "json"),
        invoke("run", "load_recommendations", "--dry-run", *store),
        invoke(
            "run",
            "load_recommendations",
            "--event-date",
            "2024-05-01",
            "--log-format",
            "json",
            *store,
            "-p",
            "retry.max_attempts=1",
        ),
        invoke("serve", "recommendations", "--dry-run", *store),
        invoke("pipeline", "status", "recommendations_daily", env=state),
        invoke(
            "pipeline", "run", "recommendations_daily", "--dry-run", env={"SPARKJOBS__STATE__URL": case.url}
        ),
    ]
    outputs += [p.read_text() for p in (workspace / "runs").glob("*.json")]  # run reports
    outputs += [p.read_text() for p in (workspace / "runs").glob("*.prom")]  # metrics textfiles
    for output in outputs:
        assert not case.leaks(output), output


def test_every_libpq_secret_of_state_url_reaches_the_ledger_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared URL model moves sslpassword out of ``state.url``; the ledger must still send it."""
    import psycopg

    from sparkjobs.pipeline.workspace import Invocation, Workspace

    config = tmp_path / "state.yml"
    config.write_text(
        "state:\n  url: 'postgresql://app@127.0.0.1:1/db?sslpassword=Ssl-S3cr3t-77&sslmode=require'\n"
        "  password: Pw-S3cr3t-88\n"
    )
    seen: dict[str, Any] = {}

    def fake_connect(url: str, **kwargs: Any) -> Any:
        seen.update(kwargs, url=url)
        raise psycopg.OperationalError("stop here")

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    workspace = Workspace.load(Invocation(conf_dir=tmp_path, config_files=(config,), environ={}))
    ledger = workspace.open_ledger(init=False)
    with pytest.raises(Exception, match="stop here"):
        ledger._connect()  # type: ignore[attr-defined]
    assert seen["sslpassword"] == "Ssl-S3cr3t-77" and seen["password"] == "Pw-S3cr3t-88"
    assert "S3cr3t" not in seen["url"] and "sslmode=require" in seen["url"]
