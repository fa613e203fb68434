"""The fake's /models catalog (gating, ETag) and /wham/usage."""

from __future__ import annotations

import copy


def _get(client, path, **params):
    return client.http.get(client.fake.url + path, params=params, headers=client.headers())


def test_models_default_catalog(client):
    """/models lists the default catalog for a current client version, with an ETag."""
    response = _get(client, "/backend-api/codex/models", client_version="0.169.0")
    assert response.status_code == 200
    assert response.headers["etag"]
    models = {m["slug"]: m for m in response.json()["models"]}
    assert {"gpt-5.5", "gpt-5.4-mini", "gpt-5.3-codex-spark", "gpt-5.6-sol"} <= set(models)
    assert "gpt-5.9-preview" not in models
    assert models["gpt-5.3-codex-spark"]["visibility"] == "hide"
    assert models["gpt-5-internal"]["visibility"] == "none"
    lite = [m for m in models.values() if m.get("use_responses_lite")]
    assert len(lite) == 8 and "gpt-5.5" not in {m["slug"] for m in lite}
    assert models["gpt-6.1-terra"]["context_window"] == 500000
    assert models["gpt-6-luna"]["max_context_window"] == 872000
    assert [lv["effort"] for lv in models["gpt-6-sol"]["supported_reasoning_levels"]][-2:] == [
        "max",
        "ultra",
    ]
    big = models["gpt-5.5"]
    assert [lv["effort"] for lv in big["supported_reasoning_levels"]] == [
        "low",
        "medium",
        "high",
        "xhigh",
    ]
    assert big["support_verbosity"] is True
    assert big["service_tiers"][0]["id"] == "priority"
    assert big["supports_image_detail_original"] is True
    assert big["web_search_tool_type"] == "text_and_image"
    mini = models["gpt-5.4-mini"]
    assert mini["support_verbosity"] is False
    assert mini["service_tiers"] == []


def test_models_gated_by_client_version(client):
    """Older client versions see fewer models; no version sees only ungated ones."""
    path = "/backend-api/codex/models"
    old = [m["slug"] for m in _get(client, path, client_version="0.99.0").json()["models"]]
    assert "gpt-5.4-mini" in old
    assert "gpt-5.5" not in old
    assert _get(client, path).json()["models"] == []
    new = [m["slug"] for m in _get(client, path, client_version="9.0.0").json()["models"]]
    assert "gpt-5.9-preview" in new
    assert client.fake.requests[-1].query == {"client_version": "9.0.0"}


def test_models_etag_not_modified(client):
    """If-None-Match with the current ETag answers 304."""
    url = client.fake.base_url + "/models"
    first = client.http.get(url, params={"client_version": "0.169.0"}, headers=client.headers())
    again = client.http.get(
        url,
        params={"client_version": "0.169.0"},
        headers={**client.headers(), "if-none-match": first.headers["etag"]},
    )
    assert again.status_code == 304


def test_models_are_settable(client):
    """fake.models replaces the served catalog."""
    entry = copy.deepcopy(client.fake.models[0])
    entry["slug"] = "gpt-6"
    entry["minimal_client_version"] = None
    client.fake.models = [entry]
    models = _get(client, "/backend-api/codex/models", client_version="0.1.0").json()["models"]
    assert [m["slug"] for m in models] == ["gpt-6"]


def test_models_need_auth(client):
    """/models without a token answers 401."""
    response = client.http.get(client.fake.base_url + "/models")
    assert response.status_code == 401


def test_usage_default_payload(client):
    """/wham/usage answers a realistic payload with 5-hour and weekly windows."""
    response = _get(client, "/backend-api/wham/usage")
    assert response.status_code == 200
    payload = response.json()
    assert payload["plan_type"] == "plus"
    assert payload["rate_limit"]["primary_window"]["limit_window_seconds"] == 18000
    assert payload["rate_limit"]["secondary_window"]["limit_window_seconds"] == 604800
    assert payload["rate_limit"]["primary_window"]["reset_at"] > 0
    assert _get(client, "/api/codex/usage").json() == payload


def test_usage_payload_settable_and_authenticated(client):
    """fake.usage_payload is served as is; without a token the endpoint answers 401."""
    client.fake.usage_payload = {"plan_type": "free", "rate_limit": None}
    assert _get(client, "/backend-api/wham/usage").json() == {
        "plan_type": "free",
        "rate_limit": None,
    }
    assert client.http.get(client.fake.url + "/backend-api/wham/usage").status_code == 401


def test_unknown_path_and_method(client):
    """Unknown paths answer 404 and wrong methods 405, as JSON."""
    assert client.http.get(client.fake.url + "/nope").status_code == 404
    assert client.http.get(client.fake.base_url + "/responses").status_code == 405
