"""The recommendation API over httpx (FastAPI's TestClient) against an SQLite store built by hand.

Expected items, titles, scores and ranks are written out from the tiny snapshot below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pyarrow as pa
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from recommendations.api import ApiSettings, build_service, create_app
from recommendations.store import RecommendationStore
from sparkjobs import Settings
from sparkjobs.errors import ConfigError, UsageError
from sparkjobs.serving.service import prepare_service
from sparkjobs.serving.stores import StoreSettings

SNAPSHOT_DAY = date(2024, 5, 1)
LOADED_AT = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 5, 11, 0, 0, tzinfo=UTC)  # 10 days after the snapshot, 12 h after the load


def snapshot() -> dict[str, pa.Table]:
    i32 = pa.int32()
    return {
        "items": pa.table(
            {
                "item_id": pa.array([1, 2, 3, 4, 5], i32),
                "title": ["Toy Story (1995)", "Heat (1995)", "Alien (1979)", "Up (2009)", "Orphan (2009)"],
                "year": pa.array([1995, 1995, 1979, 2009, None], i32),
                "genres": ["Animation|Children", "Action|Crime", "Horror|Sci-Fi", "Animation", None],
            }
        ),
        "recommendations": pa.table(
            {
                "user_id": pa.array([10, 10, 10, 11], i32),
                "item_id": pa.array([3, 2, 5, 1], i32),
                "score": [0.9, 0.5, 0.25, 0.7],
                "rank": pa.array([1, 2, 3, 1], i32),
                "source": ["item_knn", "item_knn", "item_knn", "popular"],
            }
        ),
        "similar_items": pa.table(
            {
                "item_id": pa.array([1, 1, 2], i32),
                "similar_item_id": pa.array([4, 2, 3], i32),
                "score": [0.8, 0.3, 0.6],
                "rank": pa.array([1, 2, 1], i32),
            }
        ),
        "popular_items": pa.table(
            {
                "item_id": pa.array([2, 1, 3], i32),
                "score": [30.0, 20.0, 10.0],
                "rank": pa.array([1, 2, 3], i32),
            }
        ),
    }


class SyncClient:
    """httpx.AsyncClient on the app's ASGI interface, driven from sync tests through an anyio portal."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self.portal, self.client = portal, client

    def get(self, url: str) -> httpx.Response:
        return self.portal.call(self.client.get, url)

    def request(self, method: str, url: str) -> httpx.Response:
        return self.portal.call(self.client.request, method, url)


@contextmanager
def api_client(app: FastAPI) -> Iterator[SyncClient]:
    """Run the app's lifespan (startup/shutdown) around an httpx client on ASGITransport."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")
        try:
            yield SyncClient(portal, client)
        finally:
            portal.call(client.aclose)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecommendationStore]:
    with RecommendationStore.open(f"sqlite:///{tmp_path}/serving.db", clock=lambda: LOADED_AT) as s:
        s.load_snapshot(snapshot(), snapshot_date=SNAPSHOT_DAY, run_id="run-42")
        yield s


@pytest.fixture
def client(store: RecommendationStore) -> Iterator[SyncClient]:
    with api_client(create_app(store, ApiSettings(), clock=lambda: NOW)) as c:
        yield c


# -- recommendations --------------------------------------------------------------------------------
def test_known_user_gets_their_items_with_titles_in_rank_order(client: SyncClient) -> None:
    response = client.get("/recommendations/10")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": 10,
        "fallback": False,
        "items": [
            {"item_id": 3, "title": "Alien (1979)", "score": 0.9, "rank": 1, "source": "item_knn"},
            {"item_id": 2, "title": "Heat (1995)", "score": 0.5, "rank": 2, "source": "item_knn"},
            {"item_id": 5, "title": "Orphan (2009)", "score": 0.25, "rank": 3, "source": "item_knn"},
        ],
    }


def test_limit_cuts_the_list(client: SyncClient) -> None:
    assert [i["item_id"] for i in client.get("/recommendations/10?limit=2").json()["items"]] == [3, 2]
    assert [i["item_id"] for i in client.get("/recommendations/10?limit=100").json()["items"]] == [3, 2, 5]


def test_a_user_with_only_popular_recommendations_is_not_a_fallback(client: SyncClient) -> None:
    assert client.get("/recommendations/11").json() == {
        "user_id": 11,
        "fallback": False,
        "items": [{"item_id": 1, "title": "Toy Story (1995)", "score": 0.7, "rank": 1, "source": "popular"}],
    }


def test_unknown_user_gets_popular_items_marked_as_fallback(client: SyncClient) -> None:
    response = client.get("/recommendations/999?limit=2")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": 999,
        "fallback": True,
        "items": [
            {"item_id": 2, "title": "Heat (1995)", "score": 30.0, "rank": 1, "source": "popular"},
            {"item_id": 1, "title": "Toy Story (1995)", "score": 20.0, "rank": 2, "source": "popular"},
        ],
    }


@pytest.mark.parametrize(
    ("url", "parameter", "words"),
    [
        ("/recommendations/abc", "user_id", "valid integer"),
        ("/recommendations/1.5", "user_id", "valid integer"),
        ("/recommendations/-1", "user_id", "greater than or equal to 0"),
        ("/recommendations/99999999999", "user_id", "less than or equal to 2147483647"),
        ("/recommendations/10?limit=0", "limit", "greater than or equal to 1"),
        ("/recommendations/10?limit=101", "limit", "less than or equal to 100"),
        ("/recommendations/10?limit=ten", "limit", "valid integer"),
        ("/items/x/similar", "item_id", "valid integer"),
        ("/items/1/similar?limit=500", "limit", "less than or equal to 100"),
    ],
)
def test_bad_ids_and_limits_are_422_with_a_clear_message(
    client: SyncClient, url: str, parameter: str, words: str
) -> None:
    response = client.get(url)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid request"
    assert [p["parameter"] for p in body["problems"]] == [parameter]
    assert body["detail"].startswith(f"{parameter} (")
    assert words in body["detail"]


# -- similar items ----------------------------------------------------------------------------------
def test_similar_items_of_a_known_item(client: SyncClient) -> None:
    assert client.get("/items/1/similar").json() == {
        "item_id": 1,
        "title": "Toy Story (1995)",
        "items": [
            {"item_id": 4, "title": "Up (2009)", "score": 0.8, "rank": 1},
            {"item_id": 2, "title": "Heat (1995)", "score": 0.3, "rank": 2},
        ],
    }
    assert client.get("/items/1/similar?limit=1").json()["items"] == [
        {"item_id": 4, "title": "Up (2009)", "score": 0.8, "rank": 1}
    ]


def test_a_known_item_without_neighbours_has_an_empty_list(client: SyncClient) -> None:
    response = client.get("/items/5/similar")
    assert (response.status_code, response.json()) == (
        200,
        {"item_id": 5, "title": "Orphan (2009)", "items": []},
    )


def test_unknown_item_is_404(client: SyncClient) -> None:
    response = client.get("/items/77/similar")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "detail": "item 77 is not in the served catalog"}


# -- health -----------------------------------------------------------------------------------------
def test_health_reports_the_served_snapshot(client: SyncClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "snapshot_date": "2024-05-01",
        "snapshot_age_days": 10,
        "loaded_at": "2024-05-10T12:00:00Z",
        "loaded_age_seconds": 43200.0,
        "load_seconds": response.json()["load_seconds"],
        "row_counts": {"items": 5, "recommendations": 4, "similar_items": 3, "popular_items": 3},
        "run_id": "run-42",
    }
    assert response.json()["load_seconds"] >= 0


def test_no_snapshot_is_503_everywhere(tmp_path: Path) -> None:
    with (
        RecommendationStore.open(f"sqlite:///{tmp_path}/empty.db") as empty,
        api_client(create_app(empty)) as c,
    ):
        health = c.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "no snapshot is loaded" in health.json()["reason"]
        recs = c.get("/recommendations/10")
        assert recs.status_code == 503
        assert recs.json()["error"] == "service unavailable"
        assert recs.headers["retry-after"] == "5"
        assert c.get("/items/1/similar").status_code == 503


def test_a_too_old_snapshot_is_unhealthy_when_a_limit_is_set(store: RecommendationStore) -> None:
    app = create_app(store, ApiSettings(max_snapshot_age_days=5), clock=lambda: NOW)
    with api_client(app) as c:
        response = c.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "served snapshot 2024-05-01 is 10 days old (max 5)",
        "snapshot_date": "2024-05-01",
    }


def test_an_unreachable_postgres_is_503_with_the_reason() -> None:
    settings = StoreSettings(url="postgresql://nobody@127.0.0.1:1/none", pool_timeout_s=0.3, pool_min_size=0)
    with RecommendationStore.open(settings) as down, api_client(create_app(down)) as c:
        health = c.get("/health")
        assert health.status_code == 503
        assert "is unavailable: no connection within 0.3s" in health.json()["reason"]
        assert c.get("/recommendations/1").status_code == 503


def test_build_service_opens_a_breaker_that_fails_fast() -> None:
    settings = Settings(
        services={
            "recommendations": {
                "store": {
                    "url": "postgresql://nobody@127.0.0.1:1/none",
                    "pool_timeout_s": 0.2,
                    "pool_min_size": 0,
                },
                "breaker": {"fail_max": 2, "reset_timeout_s": 60},
            }
        }
    )
    with api_client(build_service(settings, "test")) as c:
        reasons = [c.get("/health").json()["reason"] for _ in range(3)]
        metrics = c.get("/metrics").text
    assert "no connection within" in reasons[0] and "no connection within" in reasons[1]
    assert "circuit breaker for 'serving-store' is open after 2 consecutive failure(s)" in reasons[2]
    assert (
        'sparkjobs_circuit_breaker_state{service="serving-store",sparkjobs_circuit_breaker_state="open"} 1.0'
        in metrics
    )


def test_build_service_rejects_an_unknown_key() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown parameter 'services.recommendations.stor' \(did you mean 'store'"
    ):
        build_service(Settings(services={"recommendations": {"stor": {}}}), "dev")


def test_the_app_closes_a_store_it_owns(tmp_path: Path, store: RecommendationStore) -> None:
    with api_client(create_app(store, owns_store=True)) as c:
        assert c.get("/recommendations/10").status_code == 200
    with pytest.raises(Exception, match="closed"):
        store.recommendations(10)


# -- metrics ----------------------------------------------------------------------------------------
def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_per_route_in_a_registry_of_the_app(
    client: SyncClient, store: RecommendationStore
) -> None:
    client.get("/recommendations/10")
    client.get("/recommendations/999")
    client.get("/recommendations/10?limit=0")
    client.get("/items/77/similar")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    route = "/recommendations/{user_id}"
    assert (
        got[("recommendations_api_requests_total", (("method", "GET"), ("route", route), ("status", "200")))]
        == 2
    )
    assert (
        got[("recommendations_api_requests_total", (("method", "GET"), ("route", route), ("status", "422")))]
        == 1
    )
    assert (
        got[
            (
                "recommendations_api_requests_total",
                (("method", "GET"), ("route", "/items/{item_id}/similar"), ("status", "404")),
            )
        ]
        == 1
    )
    assert got[("recommendations_api_request_duration_seconds_count", (("route", route),))] == 3
    assert got[("recommendations_api_fallbacks_total", ())] == 1
    assert got[("recommendations_serving_up", ())] == 1
    assert got[("recommendations_serving_snapshot_age_days", ())] == 10
    assert got[("recommendations_serving_snapshot_loaded_timestamp_seconds", ())] == LOADED_AT.timestamp()
    assert {k[1][0][1]: v for k, v in got.items() if k[0] == "recommendations_serving_rows"} == {
        "items": 5,
        "recommendations": 4,
        "similar_items": 3,
        "popular_items": 3,
    }
    with api_client(create_app(store, clock=lambda: NOW)) as other:  # a second app starts from zero
        fresh = samples(other.get("/metrics").text)
    assert not any(k[0] == "recommendations_api_requests_total" for k in fresh)


def test_a_request_that_raises_past_every_handler_is_counted_as_500(
    store: RecommendationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug in the store")

    monkeypatch.setattr(store, "recommend", broken)
    app = create_app(store, ApiSettings(), clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def calls() -> tuple[httpx.Response, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
            failed = await c.get("/recommendations/10")
            return failed, (await c.get("/metrics")).text

    failed, text = anyio.run(calls)
    assert failed.status_code == 500
    assert failed.json()["error"] == "internal error"
    got = samples(text)
    key = (("method", "GET"), ("route", "/recommendations/{user_id}"), ("status", "500"))
    assert got[("recommendations_api_requests_total", key)] == 1
    assert (
        got[
            ("recommendations_api_request_duration_seconds_count", (("route", "/recommendations/{user_id}"),))
        ]
        == 1
    )


def test_the_openapi_schema_still_names_the_response_models(client: SyncClient) -> None:
    # the handlers return pre-encoded JSON (no second validation); the schema must not lose them
    schema = client.get("/openapi.json").json()
    for path, model in (
        ("/recommendations/{user_id}", "RecommendationsResponse"),
        ("/items/{item_id}/similar", "SimilarItemsResponse"),
    ):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}
    response = client.get("/recommendations/10")
    assert response.headers["content-type"] == "application/json"


# -- hostile requests (issue 9) ---------------------------------------------------------------------
def test_metric_labels_come_from_a_closed_set_whatever_the_method_or_path(client: SyncClient) -> None:
    import random
    import string

    rng = random.Random(7)

    def hammer(rounds: int) -> None:
        for n in range(rounds):
            method = "".join(rng.choices(string.ascii_uppercase, k=4096))
            client.request(method, f"/no/such/path/{n}")
            client.request(method, "/recommendations/10")

    hammer(5)
    client.get("/metrics")
    after_few = len(client.get("/metrics").content)
    hammer(300)
    text = client.get("/metrics").text
    got = samples(text)
    methods = {dict(k[1]).get("method") for k in got if k[0] == "recommendations_api_requests_total"}
    routes = {dict(k[1]).get("route") for k in got if k[0] == "recommendations_api_requests_total"}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}
    assert "other" in methods and "unmatched" in routes
    # 600 more requests with random 4 KB methods add no series: only counter values grow (a few digits)
    assert len(text.encode()) - after_few < 200


def test_a_422_echoes_a_huge_input_only_in_part(client: SyncClient) -> None:
    huge = "9" * 60_000
    response = client.get(f"/recommendations/{huge}")
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert "60000 characters" in response.json()["detail"]


def test_head_on_health_answers_like_get(client: SyncClient) -> None:
    response = client.request("HEAD", "/health")
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    ("method", "url", "status", "error"),
    [("GET", "/nope", 404, "not found"), ("POST", "/recommendations/10", 405, "method not allowed")],
)
def test_404_and_405_use_the_documented_error_shape(
    client: SyncClient, method: str, url: str, status: int, error: str
) -> None:
    response = client.request(method, url)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == error
    if status == 405:
        assert response.headers["allow"] == "GET"


# -- sparkjobs serve --------------------------------------------------------------------------------
@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    base = tmp_path / "conf" / "base"
    base.mkdir(parents=True)
    (base / "serving.yml").write_text(
        "services:\n"
        "  recommendations:\n"
        "    store: {url: 'sqlite:///from-base.db'}\n"
        "    server: {host: 0.0.0.0, port: 9001}\n"
    )
    (tmp_path / "conf" / "prod").mkdir()
    (tmp_path / "conf" / "prod" / "serving.yml").write_text(
        "services:\n  recommendations:\n    store: {url: 'postgresql://api@db/serving'}\n"
    )
    return tmp_path / "conf"


def test_serve_layers_the_config_and_splits_off_the_server(conf_dir: Path) -> None:
    prepared = prepare_service("recommendations", conf_dir=conf_dir, environ={})
    assert (prepared.server.host, prepared.server.port) == ("0.0.0.0", 9001)
    # a relative SQLite file is the project root's (the folder holding conf/), not the cwd's
    root = conf_dir.parent
    assert prepared.settings.services["recommendations"] == {
        "store": {"url": f"sqlite:///{root}/from-base.db"}
    }
    assert prepared.origin == "recommendations.api:build_service"

    overridden = prepare_service(
        "recommendations",
        conf_dir=conf_dir,
        env="prod",
        port=8123,
        host="127.0.0.1",
        params=["default_limit=5"],
        environ={"SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__PASSWORD": "pw-from-env"},
    )
    assert (overridden.server.host, overridden.server.port) == ("127.0.0.1", 8123)
    section: dict[str, Any] = overridden.settings.services["recommendations"]
    assert section["store"] == {"url": "postgresql://api@db/serving", "password": "pw-from-env"}
    assert section["default_limit"] == "5"
    assert "pw-from-env" not in str(overridden.plan())


def test_serve_errors_name_what_is_wrong(conf_dir: Path) -> None:
    with pytest.raises(
        UsageError, match=r"unknown service 'recomendations' \(did you mean: recommendations\?\)"
    ):
        prepare_service("recomendations", conf_dir=conf_dir, environ={})
    with pytest.raises(ConfigError, match=r"services.recommendations.server.prot"):
        prepare_service("recommendations", conf_dir=conf_dir, params=["server.prot=1"], environ={})
    with pytest.raises(ConfigError, match="no configuration for environment 'staging'"):
        prepare_service("recommendations", conf_dir=conf_dir, env="staging", environ={})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "../x"], "bad environment name '../x'"),
        (["-p", "default_limit=0"], "default_limit"),
        (["-p", "storee.url=x"], "storee"),
        (["-p", "server.log_level=LOUD"], "unknown log level 'LOUD'"),
    ],
)
def test_serve_dry_run_refuses_what_a_real_start_refuses(
    conf_dir: Path, args: list[str], message: str
) -> None:
    """Issue 9: a dry run validates exactly what serving validates (the service's own settings too)."""
    from click.testing import CliRunner

    from sparkjobs.cli import cli

    result = CliRunner().invoke(
        cli, ["serve", "recommendations", "--dry-run", "--conf-dir", str(conf_dir), *args], env={}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_serve_refuses_a_callable_that_is_not_a_service_factory(conf_dir: Path) -> None:
    from click.testing import CliRunner

    from sparkjobs.cli import cli

    result = CliRunner().invoke(cli, ["serve", "os:system", "--dry-run", "--conf-dir", str(conf_dir)], env={})
    assert result.exit_code == 2 and "is not a service factory" in result.output, result.output


def test_serve_on_a_port_in_use_is_exit_2_naming_the_port(conf_dir: Path, tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from sparkjobs.cli import cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            [
                "serve",
                "recommendations",
                "--conf-dir",
                str(conf_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={"SPARKJOBS__SERVICES__RECOMMENDATIONS__STORE__URL": f"sqlite:///{tmp_path}/s.db"},
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_the_source_field_names_every_servable_model_and_the_fallback() -> None:
    from typing import get_args

    from recommendations.api.models import RecommendedItem
    from recommendations.models import ModelName

    description = RecommendedItem.model_json_schema()["properties"]["source"]["description"]
    for source in (*get_args(ModelName), "popular"):
        assert source in description, source
