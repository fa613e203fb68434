"""The fake auth issuer: JWT claims, refresh rotation, revoke, browser and device-code logins."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from llm_codex.testing import CLIENT_ID, decode_claims

AUTH = "https://api.openai.com/auth"


def _refresh(client, refresh_token, **extra):
    body = {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_reason": "proactive_expiry",
        "refresh_token": refresh_token,
        **extra,
    }
    return client.http.post(client.fake.url + "/oauth/token", json=body)


def _pkce():
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _authorize(client, redirect_uri, challenge, *, scope="openid profile email offline_access"):
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st4te",
        "originator": "llm-codex",
    }
    return client.http.get(client.fake.url + "/oauth/authorize", params=params)


def _exchange(client, code, redirect_uri, verifier):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
    }
    return client.http.post(client.fake.url + "/oauth/token", data=form)


def test_issued_tokens_are_jwt_shaped_with_claims(fake):
    """issue_tokens returns JWTs whose claims carry account, plan, user and email."""
    tokens = fake.issue_tokens(account_id="acct-9", email="a@b.c", plan_type="pro", access_ttl=60)
    assert tokens["account_id"] == "acct-9"
    assert all(len(tokens[k].split(".")) == 3 for k in ("access_token", "id_token"))
    access = decode_claims(tokens["access_token"])
    assert abs(access["exp"] - (time.time() + 60)) < 5
    assert access[AUTH]["chatgpt_account_id"] == "acct-9"
    assert access[AUTH]["chatgpt_plan_type"] == "pro"
    assert access[AUTH]["chatgpt_user_id"]
    ident = decode_claims(tokens["id_token"])
    assert ident["email"] == "a@b.c"
    assert ident[AUTH]["chatgpt_account_id"] == "acct-9"
    assert tokens["refresh_token"]


def test_refresh_rotates(client):
    """A refresh returns new tokens; the old refresh token then answers refresh_token_reused."""
    old = client.tokens["refresh_token"]
    response = _refresh(client, old)
    assert response.status_code == 200
    new = response.json()
    assert {"id_token", "access_token", "refresh_token"} <= set(new)
    assert new["refresh_token"] != old
    assert client.fake.refresh_count == 1
    assert client.fake.refresh_token_state(old) == "used"
    assert client.fake.refresh_token_state(new["refresh_token"]) == "fresh"
    reused = _refresh(client, old)
    assert reused.status_code == 401
    assert reused.json() == {
        "error": {
            "message": "Your refresh token has already been used to generate a new access token. "
            "Please try signing in again.",
            "type": "invalid_request_error",
            "param": None,
            "code": "refresh_token_reused",
        }
    }
    assert _refresh(client, new["refresh_token"]).status_code == 200
    assert client.fake.refresh_count == 2


def test_refreshed_access_token_is_accepted_and_ttl_applies(client):
    """Tokens from a refresh work on the backend and get access_token_ttl."""
    client.fake.access_token_ttl = 120
    new = _refresh(client, client.tokens["refresh_token"]).json()
    assert abs(decode_claims(new["access_token"])["exp"] - (time.time() + 120)) < 5
    response = client.http.get(
        client.fake.url + "/backend-api/wham/usage",
        headers={"authorization": f"Bearer {new['access_token']}"},
    )
    assert response.status_code == 200


def test_refresh_after_revoke(client):
    """After /oauth/revoke the refresh token answers refresh_token_invalidated."""
    body = {
        "token": client.tokens["refresh_token"],
        "token_type_hint": "refresh_token",
        "client_id": CLIENT_ID,
    }
    assert client.http.post(client.fake.url + "/oauth/revoke", json=body).status_code == 200
    assert client.fake.revoked_tokens == [client.tokens["refresh_token"]]
    response = _refresh(client, client.tokens["refresh_token"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_token_invalidated"
    from .fake_helpers import turn

    assert client.post(turn()).json()["error"]["code"] == "token_invalidated"


def test_revoke_unknown_token_is_ok(client):
    """Revoking an unknown token still answers 200 (RFC 7009); revoke_status forces errors."""
    url = client.fake.url + "/oauth/revoke"
    assert client.http.post(url, json={"token": "nope"}).status_code == 200
    client.fake.revoke_status = 503
    assert client.http.post(url, json={"token": "nope"}).status_code == 503


def test_expired_refresh_token(client):
    """An expired refresh token answers refresh_token_expired."""
    client.fake.expire_refresh_tokens()
    response = _refresh(client, client.tokens["refresh_token"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_token_expired"


def test_refresh_ttl(fake):
    """refresh_ttl makes refresh tokens expire."""
    tokens = fake.issue_tokens(refresh_ttl=-1)
    assert fake.refresh_token_state(tokens["refresh_token"]) == "expired"


def test_unknown_refresh_token_and_bad_client(client):
    """Unknown refresh tokens and foreign client ids are refused with 401."""
    assert _refresh(client, "rt_unknown").status_code == 401
    response = _refresh(client, client.tokens["refresh_token"], client_id="someone-else")
    assert response.json()["error"]["code"] == "invalid_client"
    assert client.fake.refresh_token_state(client.tokens["refresh_token"]) == "fresh"


def test_token_endpoint_5xx(client):
    """enqueue_token_error fails the next calls without spending the refresh token."""
    client.fake.enqueue_token_error(502, times=2, retry_after=3)
    first = _refresh(client, client.tokens["refresh_token"])
    assert first.status_code == 502
    assert first.headers["retry-after"] == "3"
    assert _refresh(client, client.tokens["refresh_token"]).status_code == 502
    assert _refresh(client, client.tokens["refresh_token"]).status_code == 200


def test_token_delay_spends_token_before_answering(client):
    """With token_delay the grant is processed first: a client that gives up has lost its token."""
    client.fake.token_delay = 2.0
    with pytest.raises(httpx.ReadTimeout):
        client.http.post(
            client.fake.url + "/oauth/token",
            json={
                "client_id": CLIENT_ID,
                "grant_type": "refresh_token",
                "refresh_token": client.tokens["refresh_token"],
            },
            timeout=0.2,
        )
    assert client.fake.refresh_token_state(client.tokens["refresh_token"]) == "used"


def test_refresh_accepts_form_too(client):
    """A form-encoded refresh works (the recorded body shows which encoding was used)."""
    form = {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": client.tokens["refresh_token"],
    }
    assert client.http.post(client.fake.url + "/oauth/token", data=form).status_code == 200
    recorded = client.fake.requests_to("/oauth/token")[-1]
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"
    assert recorded.body["grant_type"] == "refresh_token"


def test_browser_login_flow(client):
    """authorize auto-consents with code+state; the code exchange checks PKCE and works once."""
    client.fake.set_login_identity(account_id="acct-login", email="me@x.y", plan_type="pro")
    verifier, challenge = _pkce()
    redirect = "http://localhost:1455/auth/callback"
    response = _authorize(client, redirect, challenge)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"]
    code = query["code"][0]
    bad = _exchange(client, code, redirect, "wrong-verifier")
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"
    tokens = _exchange(client, code, redirect, verifier)
    assert tokens.status_code == 200
    tokens = tokens.json()
    assert decode_claims(tokens["id_token"])[AUTH]["chatgpt_account_id"] == "acct-login"
    assert decode_claims(tokens["id_token"])["email"] == "me@x.y"
    assert tokens["refresh_token"]
    assert _exchange(client, code, redirect, verifier).status_code == 400


def test_code_exchange_needs_same_redirect_uri(client):
    """Exchanging a code with another redirect_uri fails."""
    verifier, challenge = _pkce()
    response = _authorize(client, "http://localhost:1455/auth/callback", challenge)
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    other = _exchange(client, code, "http://localhost:1457/auth/callback", verifier)
    assert other.status_code == 400


def test_no_offline_access_no_refresh_token(client):
    """Without the offline_access scope the exchange returns no refresh token."""
    verifier, challenge = _pkce()
    redirect = "http://127.0.0.1:5555/auth/callback"
    response = _authorize(client, redirect, challenge, scope="openid profile email")
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    assert "refresh_token" not in _exchange(client, code, redirect, verifier).json()


def test_authorize_error_and_bad_requests(client):
    """authorize_error redirects with the error; a bad client or redirect is a 400 page."""
    _, challenge = _pkce()
    client.fake.authorize_error = "access_denied"
    response = _authorize(client, "http://localhost:1455/auth/callback", challenge)
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["error_description"] == ["missing_codex_entitlement"]
    assert query["state"] == ["st4te"]
    assert _authorize(client, "https://evil.example/auth/callback", challenge).status_code == 400
    client.fake.allowed_redirect_ports = {1455}
    assert _authorize(client, "http://localhost:9999/auth/callback", challenge).status_code == 400


def test_device_code_flow(client):
    """usercode, pending polls (403), then a code exchanged with the deviceauth callback URI."""
    fake = client.fake
    fake.device_pending_polls = 2
    start = client.http.post(
        fake.url + "/api/accounts/deviceauth/usercode", json={"client_id": CLIENT_ID}
    )
    assert start.status_code == 200
    info = start.json()
    assert info["interval"] == "5"
    poll = {"device_auth_id": info["device_auth_id"], "user_code": info["user_code"]}
    url = fake.url + "/api/accounts/deviceauth/token"
    assert [client.http.post(url, json=poll).status_code for _ in range(2)] == [403, 403]
    success = client.http.post(url, json=poll)
    assert success.status_code == 200
    grant = success.json()
    assert set(grant) == {"authorization_code", "code_challenge", "code_verifier"}
    verifier_hash = hashlib.sha256(grant["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode() == grant["code_challenge"]
    tokens = _exchange(
        client,
        grant["authorization_code"],
        f"{fake.url}/deviceauth/callback",
        grant["code_verifier"],
    )
    assert tokens.status_code == 200
    assert tokens.json()["access_token"]


def test_device_code_variants(client):
    """Disabled device login is a 404; 404-pending, deny and the usercode spelling are settable."""
    fake = client.fake
    url = fake.url + "/api/accounts/deviceauth/usercode"
    fake.device_auth_enabled = False
    assert client.http.post(url, json={"client_id": CLIENT_ID}).status_code == 404
    fake.device_auth_enabled = True
    fake.device_usercode_field = "usercode"
    fake.device_pending_status = 404
    fake.device_pending_polls = 1
    fake.device_outcome = "deny"
    fake.device_interval = "0"
    info = client.http.post(url, json={"client_id": CLIENT_ID}).json()
    assert info["interval"] == "0"
    poll = {"device_auth_id": info["device_auth_id"], "user_code": info["usercode"]}
    token_url = fake.url + "/api/accounts/deviceauth/token"
    assert client.http.post(token_url, json=poll).status_code == 404
    assert client.http.post(token_url, json=poll).status_code == 400
    assert client.http.post(token_url, json={"device_auth_id": "x"}).status_code == 400


def test_concurrent_refreshes_only_one_wins(client):
    """Two simultaneous refreshes of one token: exactly one succeeds, the other is reused."""
    barrier = threading.Barrier(2)
    statuses = []

    def go():
        with httpx.Client(verify=False) as http:
            barrier.wait()
            statuses.append(
                http.post(
                    client.fake.url + "/oauth/token",
                    json={
                        "client_id": CLIENT_ID,
                        "grant_type": "refresh_token",
                        "refresh_token": client.tokens["refresh_token"],
                    },
                ).status_code
            )

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 401]


def test_refresh_can_omit_fields(client):
    """refresh_omit_fields leaves optional fields out of the refresh answer."""
    client.fake.refresh_omit_fields = {"id_token"}
    body = _refresh(client, client.tokens["refresh_token"]).json()
    assert "id_token" not in body
    assert body["access_token"]
    assert body["refresh_token"]
