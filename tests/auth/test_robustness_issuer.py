"""Sign-in and refresh against an issuer that answers in other conformant ways (protocol §A4–§A8).

Refresh answers with some fields missing or form-encoded, error codes in each of the three
places the CLI reads them, ``invalid_grant``, device-code answers with ``usercode``, numeric
intervals and every "pending" spelling, and id tokens whose claims sit elsewhere.
"""

from __future__ import annotations

import json

import pytest

from llm_codex import config
from llm_codex.auth import login as login_mod
from llm_codex.auth.http import error_code
from llm_codex.auth.refresh import refresh_login
from llm_codex.auth.store import SOURCE_OWN, read_login
from llm_codex.auth.tokens import read_id_claims
from llm_codex.core.errors import AuthenticationRequired, RefreshFailed
from llm_codex.testing.authfile import write_auth_file

from .helpers import AUTH_CLAIM, make_jwt

EXPIRED = -60


def _own(fake) -> dict:
    tokens = fake.issue_tokens(access_ttl=EXPIRED)
    write_auth_file(config.own_auth_path(), tokens)
    return tokens


def _refresh():
    login = read_login(config.own_auth_path(), source=SOURCE_OWN)
    return refresh_login(login, proactive=False)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "refresh_token_reused", "message": "used"}},
        {"error": "refresh_token_expired"},
        {"code": "refresh_token_invalidated", "message": "revoked"},
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    ],
)
@pytest.mark.parametrize("status", [400, 401])
def test_permanent_refresh_refusals_in_every_shape(codex_backend, body, status) -> None:
    """A refusal whose code sits in error.code, error or code (or invalid_grant) asks to sign in."""
    _own(codex_backend)
    codex_backend.enqueue_token_error(status, body=body)
    with pytest.raises(AuthenticationRequired, match="llm codex login"):
        _refresh()


def test_error_code_reads_the_three_places() -> None:
    """The issuer error code is read from error.code, else error, else code."""
    assert error_code({"error": {"code": "a"}, "code": "b"}) == "a"
    assert error_code({"error": "b"}) == "b"
    assert error_code({"error": {"message": "x"}, "code": "c"}) == "c"
    assert error_code({"error": {"code": None}, "code": "d"}) == "d"


def test_a_transient_issuer_error_keeps_the_login(codex_backend) -> None:
    """A 5xx from the issuer keeps the login and says to try later."""
    tokens = _own(codex_backend)
    codex_backend.enqueue_token_error(503)
    with pytest.raises(RefreshFailed):
        _refresh()
    assert (
        read_login(config.own_auth_path(), source=SOURCE_OWN).access_token
        == (tokens["access_token"])
    )


@pytest.mark.parametrize(
    "omit",
    [{"id_token"}, {"refresh_token"}, {"id_token", "refresh_token"}],
)
def test_refresh_answers_missing_fields_replace_only_what_came(codex_backend, omit) -> None:
    """Fields absent from a refresh answer keep their stored values."""
    old = _own(codex_backend)
    codex_backend.refresh_omit_fields = set(omit)
    new = _refresh()
    assert new.access_token != old["access_token"]
    for name in omit:
        assert getattr(new, name) == old[name]


def test_a_form_encoded_refresh_answer_is_understood(codex_backend) -> None:
    """A token endpoint answering application/x-www-form-urlencoded still refreshes the login."""
    old = _own(codex_backend)
    codex_backend.token_answer_format = "form"
    new = _refresh()
    assert new.access_token != old["access_token"]
    assert new.refresh_token != old["refresh_token"]


def test_an_unreadable_refreshed_id_token_keeps_the_old_one(codex_backend) -> None:
    """A refresh answer with a broken id token never makes the credential file unusable."""
    old = _own(codex_backend)
    codex_backend.token_answer_extra = {"id_token": "not-a-jwt"}
    new = _refresh()
    assert new.access_token != old["access_token"]
    assert new.id_token == old["id_token"]
    assert read_login(config.own_auth_path(), source=SOURCE_OWN).account_id == "acct-test"


def test_claims_in_the_profile_claim_and_account_only_in_tokens() -> None:
    """Email under the profile claim is read; a missing account id claim is not an error."""
    token = make_jwt({"https://api.openai.com/profile": {"email": "p@example.com"}, AUTH_CLAIM: {}})
    claims = read_id_claims(token)
    assert claims.email == "p@example.com"
    assert claims.account_id is None


def test_borrowed_file_with_account_id_only_in_tokens(codex_backend, tmp_path) -> None:
    """An id token without chatgpt_account_id works when tokens.account_id is present."""
    from llm_codex.auth.store import parse_login

    doc = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": make_jwt({"email": "e@example.com"}),
            "access_token": make_jwt({"exp": 4_000_000_000}),
            "refresh_token": "r",
            "account_id": "acct-x",
        },
    }
    login = parse_login(json.dumps(doc), path=tmp_path / "auth.json", source="codex-cli")
    assert login.account_id == "acct-x"


# -- device code --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "deviceauth_authorization_pending"),
        (404, "whatever"),
        (400, "deviceauth_authorization_pending"),
        (400, "authorization_pending"),
        (400, "slow_down"),
        (429, "slow_down"),
        (428, "authorization_pending"),
    ],
)
def test_device_code_pending_in_every_spelling(codex_backend, status, code) -> None:
    """403, 404 and pending/slow-down codes under any status all mean 'keep polling'."""
    codex_backend.device_interval = 0
    codex_backend.device_pending_polls = 2
    codex_backend.device_pending_status = status
    codex_backend.device_pending_code = code
    codex_backend.device_usercode_field = "usercode"
    slept: list[float] = []
    login = login_mod.device_login(echo=lambda _: None, sleep=slept.append)
    assert login.account_id == "acct-test"
    assert len(slept) == 3


@pytest.mark.parametrize("interval", [3, "3", 3.5, "3.5", "", None, "soon"])
def test_device_code_interval_as_int_or_string(codex_backend, interval) -> None:
    """The poll interval is read from an int or a string; nonsense falls back to the default."""
    codex_backend.device_interval = interval
    codex_backend.device_pending_polls = 0
    slept: list[float] = []
    login_mod.device_login(echo=lambda _: None, sleep=slept.append)
    expected = {3: 3.0, "3": 3.0, 3.5: 3.5, "3.5": 3.5}.get(interval, 5.0)
    assert slept[0] == expected


def test_a_form_encoded_code_exchange_answer_is_understood(codex_backend) -> None:
    """The device login's code exchange also accepts a form-encoded token answer."""
    codex_backend.device_interval = 0
    codex_backend.device_pending_polls = 0
    codex_backend.token_answer_format = "form"
    login = login_mod.device_login(echo=lambda _: None, sleep=lambda _: None)
    assert login.account_id == "acct-test"


def test_account_id_from_the_access_token_as_a_last_resort(tmp_path) -> None:
    """A login whose id token and tokens lack the account id uses the access token's claim."""
    from llm_codex.auth.store import parse_login

    doc = {
        "auth_mode": "chatgpt",
        "tokens": {
            "id_token": make_jwt({"email": "e@example.com"}),
            "access_token": make_jwt(
                {"exp": 4_000_000_000, AUTH_CLAIM: {"chatgpt_account_id": "a9"}}
            ),
            "refresh_token": "r",
        },
    }
    login = parse_login(json.dumps(doc), path=tmp_path / "auth.json", source="codex-cli")
    assert login.account_id == "a9"
