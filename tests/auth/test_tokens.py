"""JWT claims, expiry and the refresh-window rule (no network)."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_codex.auth import tokens
from llm_codex.core.errors import CredentialFileError

from .helpers import AUTH_CLAIM, make_jwt

NOW = 1_800_000_000.0

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def test_claims_are_read_from_the_id_token():
    """Status shows the account, email and plan that the id token names."""
    token = make_jwt(
        {
            "email": "me@example.com",
            AUTH_CLAIM: {"chatgpt_account_id": "acct-9", "chatgpt_plan_type": "pro"},
        }
    )
    claims = tokens.read_id_claims(token)
    assert (claims.account_id, claims.email, claims.plan_type) == (
        "acct-9",
        "me@example.com",
        "pro",
    )


def test_profile_email_and_hc_plan_are_understood():
    """An email under the profile claim is found and the 'hc' plan reads as enterprise."""
    token = make_jwt(
        {
            "https://api.openai.com/profile": {"email": "p@example.com"},
            AUTH_CLAIM: {"chatgpt_plan_type": "hc", "user_id": "u-1"},
        }
    )
    claims = tokens.read_id_claims(token)
    assert claims.email == "p@example.com"
    assert claims.plan_type == "enterprise"
    assert claims.user_id == "u-1"


@pytest.mark.parametrize("bad", ["", "abc", "a.b", "a.!!!.c", "a." + "W10" + ".c", None, 42])
def test_a_token_without_claims_is_a_clear_error(bad):
    """Something that is not a JWT with an object payload gives one sentence, not a traceback."""
    with pytest.raises(CredentialFileError) as info:
        tokens.jwt_claims(bad, what="id token")
    assert "id token" in str(info.value)


def test_expiry_comes_from_exp_only():
    """The access token's exp drives refresh; a non-JWT access token has no expiry."""
    assert tokens.access_token_expiry(make_jwt({"exp": 123})) == 123.0
    assert tokens.access_token_expiry(make_jwt({"exp": "123"})) is None
    assert tokens.access_token_expiry(make_jwt({"exp": True})) is None
    assert tokens.access_token_expiry("opaque") is None


def test_refresh_window_is_five_minutes_before_exp():
    """A token is refreshed 5 minutes before it expires, not earlier."""
    recent = datetime.fromtimestamp(NOW, tz=timezone.utc)
    assert not tokens.needs_refresh(make_jwt({"exp": NOW + 301}), recent, now=NOW)
    assert tokens.needs_refresh(make_jwt({"exp": NOW + 300}), recent, now=NOW)
    assert tokens.needs_refresh(make_jwt({"exp": NOW - 1}), recent, now=NOW)


def test_age_never_triggers_a_refresh_when_exp_is_readable():
    """An old last_refresh does not force a refresh of a token that is still valid."""
    ancient = datetime.fromtimestamp(NOW, tz=timezone.utc) - timedelta(days=60)
    assert not tokens.needs_refresh(make_jwt({"exp": NOW + 3600}), ancient, now=NOW)


def test_without_exp_last_refresh_older_than_eight_days_triggers_refresh():
    """Only when exp is unreadable does the 8-day age rule apply."""
    base = datetime.fromtimestamp(NOW, tz=timezone.utc)
    assert not tokens.needs_refresh("opaque", base - timedelta(days=7), now=NOW)
    assert tokens.needs_refresh("opaque", base - timedelta(days=9), now=NOW)
    assert tokens.needs_refresh("opaque", None, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T12:34:56.789Z", datetime(2026, 6, 1, 12, 34, 56, 789000, timezone.utc)),
        ("2026-06-01T12:34:56.123456789Z", datetime(2026, 6, 1, 12, 34, 56, 123456, timezone.utc)),
        ("2026-06-01T12:34:56Z", datetime(2026, 6, 1, 12, 34, 56, tzinfo=timezone.utc)),
        ("2026-06-01T14:34:56+02:00", datetime(2026, 6, 1, 12, 34, 56, tzinfo=timezone.utc)),
        ("yesterday", None),
        (17, None),
    ],
)
def test_last_refresh_timestamps_in_the_cli_format_are_read(text, expected):
    """last_refresh as the Codex CLI writes it (nanoseconds, Z) is understood."""
    assert tokens.parse_rfc3339(text) == expected


def test_written_timestamps_round_trip():
    """What we write as last_refresh reads back as the same moment."""
    assert tokens.parse_rfc3339(tokens.format_rfc3339(NOW)).timestamp() == NOW


@settings(deadline=None)
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_parsing_arbitrary_text_raises_only_our_error(text):
    """No string can make claim parsing crash with anything but a clear credential error."""
    try:
        tokens.read_id_claims(text)
    except CredentialFileError:
        pass
    tokens.access_token_expiry(text)
    tokens.parse_rfc3339(text)


@settings(deadline=None)
@given(json_values)
def test_any_json_payload_is_handled(payload):
    """A JWT carrying any JSON payload is either read or refused with our error."""
    token = make_jwt(payload)
    try:
        claims = tokens.read_id_claims(token)
    except CredentialFileError:
        assert not isinstance(payload, dict)
    else:
        assert claims.account_id is None or isinstance(claims.account_id, str)
    exp = tokens.access_token_expiry(token)
    assert exp is None or isinstance(exp, float)
    tokens.needs_refresh(token, None, now=NOW)


@settings(deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=60))
def test_random_base64_segments_are_handled(segment):
    """Garbage in the payload segment never escapes as a raw decoding error."""
    try:
        tokens.jwt_claims(f"h.{segment}.s")
    except CredentialFileError:
        pass
