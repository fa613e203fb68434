"""`llm codex models`: listing without network, --json, and --refresh against the fake."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner
from llm.cli import cli

from llm_codex import config
from llm_codex.core import catalog
from llm_codex.core.catalog import load_models


@pytest.fixture(autouse=True)
def _fresh_memo():
    catalog.clear_memo()
    yield
    catalog.clear_memo()


def run(*args: str):
    return CliRunner().invoke(cli, ["codex", "models", *args], catch_exceptions=False)


def test_listing_shows_capabilities_without_network(monkeypatch):
    """`llm codex models` lists every model and its options with no network access."""

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "Built-in model list (run 'llm codex models --refresh' to fetch your plan's):"
    )
    block = lines[lines.index("gpt-5.5  GPT-5.5") :][:5]
    assert block == [
        "gpt-5.5  GPT-5.5",
        "  reasoning: low, medium, high, xhigh (default: medium); summaries",
        "  verbosity: yes (default: low)   image input: yes   fast tier: yes",
        "  web search: text and image   image generation: yes",
        "  context window: 272,000 tokens",
    ]
    spark = lines.index(
        "gpt-5.3-codex-spark  GPT-5.3-Codex-Spark  (hidden from ChatGPT's list, callable)"
    )
    assert lines[spark + 3] == "  web search: no   image generation: no"
    assert (
        "gpt-5.3-codex-spark  GPT-5.3-Codex-Spark  (hidden from ChatGPT's list, callable)" in lines
    )
    assert max(len(line) for line in lines) <= 80


def test_json_output():
    """--json gives scripts the llm model ids and parsed capabilities."""
    result = run("--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["source"] == "built-in"
    first = data["models"][0]
    assert first["model_id"] == "openai-codex/gpt-5.5"
    assert first["reasoning_levels"] == ["low", "medium", "high", "xhigh"]
    assert first["context_window"] == 272000
    assert first["use_responses_lite"] is False
    terra = next(m for m in data["models"] if m["slug"] == "gpt-6.1-terra")
    assert terra["use_responses_lite"] is True
    assert (terra["context_window"], terra["max_context_window"]) == (500000, 872000)
    assert terra["reasoning_levels"][-1] == "ultra"
    assert terra["supports_web_search"] is False


def test_refresh_reports_added_and_removed_models(codex_backend, codex_login):
    """--refresh fetches your plan's catalog and says which models came and went."""
    result = run("--refresh")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == ["Removed: gpt-5.4", ""]
    assert any(line.startswith("Models from the cached catalog (fetched ") for line in lines)
    assert "gpt-5.6-luna  GPT-5.6-Luna  (Responses Lite: function tools only)" in lines
    luna = lines.index("gpt-5.6-luna  GPT-5.6-Luna  (Responses Lite: function tools only)")
    assert lines[luna + 1].startswith("  reasoning: low, medium, high, xhigh, max (def")
    assert lines[luna + 4] == "  context window: 272,000 tokens (max 872,000)"
    assert codex_backend.refresh_count == 0
    (request,) = codex_backend.requests_to("/models")
    assert request.query.get("client_version") in ("0.169.0", ["0.169.0"])
    slugs = [m.slug for m in load_models()]
    assert slugs[:2] == ["gpt-5.5", "gpt-5.4-mini"] and slugs[-1] == "gpt-5.3-codex-spark"
    assert len(slugs) == 11
    assert next(m for m in load_models() if m.slug == "gpt-6.1-sol").use_responses_lite

    again = run("--refresh")
    assert again.output.splitlines()[0] == "No changes (11 models)."

    codex_backend.models = [m for m in codex_backend.models if m["slug"] != "gpt-6-luna"] + [
        {**codex_backend.models[0], "slug": "gpt-5.7", "display_name": "GPT-5.7"}
    ]
    third = run("--refresh", "--json")
    data = json.loads(third.output)
    assert (data["added"], data["removed"]) == (["gpt-5.7"], ["gpt-6-luna"])
    assert data["source"] == "cache"


def test_refresh_with_an_empty_catalog_keeps_the_old_one(codex_backend, codex_login):
    """An empty answer does not wipe your models; it suggests a newer client version."""
    codex_backend.models = []
    result = CliRunner().invoke(cli, ["codex", "models", "--refresh"])
    assert result.exit_code == 1
    assert "listed no models for client version 0.169.0" in result.output
    assert "LLM_CODEX_CLIENT_VERSION" in result.output
    assert not config.models_cache_path().exists()


def test_refresh_when_not_signed_in_is_one_clear_sentence(codex_backend):
    """Without a login --refresh fails with one sentence and no traceback."""
    result = CliRunner().invoke(cli, ["codex", "models", "--refresh"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Not signed in")
    assert "Traceback" not in result.output
    assert codex_backend.requests_to("/models") == []
