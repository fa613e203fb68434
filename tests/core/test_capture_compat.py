"""Our turn request is a subset-compatible variant of what Codex CLI 0.169.0 sent (capture #2),
and the client works end to end with the real credential manager."""

from __future__ import annotations

from llm_codex.core.client import CodexClient
from llm_codex.core.request import build_body

from ..captures import codex_cli_exec, lite_turn_request
from .helpers import creds_from, drive, user_request

# Headers the CLI sent that we deliberately omit (protocol §2.1).
OMITTED = {"x-codex-beta-features", "x-codex-window-id", "x-codex-turn-metadata"}
# Transport headers added by the HTTP layer on either side.
TRANSPORT = {"host", "content-length", "connection"}


def test_turn_request_is_a_subset_compatible_variant_of_the_cli(codex_backend, provider, mode):
    """Same header names minus the omitted ones, our own identity, body keys within the CLI's."""
    cli = codex_cli_exec()[2]
    assert cli["path"].endswith("/responses")
    drive(
        mode,
        user_request(reasoning_effort="medium", reasoning_summary="auto", verbosity="medium"),
        credentials=provider,
    )
    (ours,) = codex_backend.requests_to("/responses")

    cli_names = set(cli["headers"]) - OMITTED - TRANSPORT
    our_names = set(ours.headers) - TRANSPORT
    # "version" is gone from 0.169.0 but the lite lane is reported to want it (lite spec §5).
    assert our_names == cli_names | {"version"}
    assert ours.headers["originator"] == "llm-codex" != cli["headers"]["originator"]
    assert ours.headers["user-agent"].startswith("llm-codex/")
    for name in ("accept", "content-type"):
        assert ours.headers[name] == cli["headers"][name]

    assert set(ours.body) <= set(cli["body"]) | {"instructions", "service_tier"}
    for key in (
        "stream",
        "store",
        "include",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "text",
    ):
        assert ours.body[key] == cli["body"][key], key
    assert ours.body["prompt_cache_key"] == ours.headers["session-id"]
    assert all("id" not in item for item in ours.body["input"])
    assert any("id" in item for item in cli["body"]["input"])  # the CLI's ids we do not copy


def test_body_field_order_follows_thecodex_cli_exec():
    """Fields we share with the CLI come in the CLI's order (instructions right after model)."""
    cli_order = [k for k in codex_cli_exec()[2]["body"] if k != "client_metadata"]
    body = build_body(
        user_request(reasoning_effort="medium", reasoning_summary="auto", verbosity="medium")
    )
    ours = [k for k in body if k != "instructions"]
    assert ours == cli_order


def test_catalog_request_headers_match_the_cli(codex_backend, provider):
    """GET /models carries the CLI's header names (capture #1) with our identity."""
    cli = codex_cli_exec()[1]
    CodexClient(credentials=provider).get_json("/models", params={"client_version": "0.169.0"})
    (ours,) = codex_backend.requests_to("/models")
    assert set(ours.headers) - TRANSPORT == set(cli["headers"]) - TRANSPORT | {"version"}
    assert ours.headers["accept"] == cli["headers"]["accept"] == "*/*"


def test_works_with_the_real_credential_manager(codex_backend, codex_login, mode):
    """Signed in with 'llm codex login', a turn uses the stored token and succeeds."""
    from llm_codex.auth import default_auth_manager

    events, err = drive(mode, user_request("hi"), credentials=default_auth_manager())
    assert err is None and events[-1].result.text.endswith("You said: hi")
    (sent,) = codex_backend.requests_to("/responses")
    assert sent.headers["authorization"] == f"Bearer {codex_login['access_token']}"


def test_expired_login_is_refreshed_by_the_real_manager(codex_backend, codex_login, mode):
    """A 401 with the stored token makes the manager refresh; the turn is resent and works."""
    from llm_codex.auth import default_auth_manager

    codex_backend.expire_access_token(codex_login["access_token"])
    events, err = drive(mode, user_request("hi"), credentials=default_auth_manager())
    assert err is None and events[-1].result.text
    first, second = codex_backend.requests_to("/responses")
    assert first.headers["authorization"] != second.headers["authorization"]
    assert codex_backend.refresh_count == 1
    assert creds_from(codex_login).access_token in first.headers["authorization"]


def test_lite_turn_matches_the_cli_lite_turn(codex_backend, provider, mode):
    """Our lite turn (gpt-5.6-sol) against the CLI's (capture lite-plain): the same header names
    (plus ``version``, minus the omitted ones), the lite header, body keys within the CLI's and
    the same lane values; the tools item and the developer message lead ``input``."""
    cli = lite_turn_request("lite-plain")
    req = user_request(
        model="gpt-5.6-sol", responses_lite=True, reasoning_effort="low", verbosity="low"
    )
    drive(mode, req, credentials=provider)
    (ours,) = codex_backend.requests_to("/responses")
    cli_names = set(cli["headers"]) - OMITTED - TRANSPORT
    assert set(ours.headers) - TRANSPORT == cli_names | {"version"}
    assert ours.headers["x-openai-internal-codex-responses-lite"] == "true"
    assert set(ours.body) <= set(cli["body"]) | {"service_tier"}
    for key in ("stream", "store", "include", "tool_choice", "parallel_tool_calls", "reasoning"):
        assert ours.body[key] == cli["body"][key], key
    assert ours.body["text"] == cli["body"]["text"]
    assert [list(item)[:2] for item in ours.body["input"][:2]] == [["type", "role"]] * 2
    assert [i["type"] for i in ours.body["input"][:2]] == [
        i["type"] for i in cli["body"]["input"][:2]
    ]
    assert ours.body["input"][1]["role"] == cli["body"]["input"][1]["role"] == "developer"
    assert [k for k in ours.body if k in cli["body"]] == [
        k for k in cli["body"] if k in ours.body
    ]  # the CLI's key order
