"""The catalog cache: what load_models offers, memoisation, staleness, atomic saving."""

from __future__ import annotations

import json
import os
import socket
import stat
import time

import pytest

from llm_codex import config
from llm_codex.core import catalog
from llm_codex.core.catalog import (
    BUILTIN_MODELS,
    cache_is_stale,
    find_model,
    load_catalog,
    load_models,
    save_cache,
)


@pytest.fixture(autouse=True)
def _fresh_memo():
    catalog.clear_memo()
    yield
    catalog.clear_memo()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def entry(slug: str, **extra) -> dict:
    return {"slug": slug, "display_name": slug.upper(), "visibility": "list", **extra}


def test_without_cache_the_builtin_list_is_offered(no_network):
    """A fresh install offers the built-in models, without any network access."""
    assert load_models() == list(BUILTIN_MODELS)
    assert load_catalog().source == "built-in"
    assert not config.models_cache_path().exists()


def test_a_cache_replaces_the_builtins_but_keeps_hidden_callable_models(no_network):
    """Your plan's catalog replaces the built-in list; Spark stays callable though hidden."""
    save_cache([entry("gpt-6"), entry("gpt-6-mini")], etag='"v1"')
    assert [m.slug for m in load_models()] == ["gpt-6", "gpt-6-mini", "gpt-5.3-codex-spark"]
    cat = load_catalog()
    assert cat.source == "cache" and cat.etag == '"v1"'
    assert cat.client_version == config.client_version()
    assert find_model("gpt-5.3-codex-spark") is not None
    assert find_model("gpt-5.5") is None


def test_hidden_and_unlisted_entries_are_not_offered():
    """Only visibility 'list' entries are offered (plus the known hidden callable ones)."""
    spark = entry("gpt-5.3-codex-spark", visibility="hide", context_window=99)
    save_cache([entry("a"), entry("b", visibility="hide"), entry("c", visibility="none"), spark])
    models = load_models()
    assert [m.slug for m in models] == ["a", "gpt-5.3-codex-spark"]
    assert models[1].context_window == 99  # the backend's entry wins over the built-in one


def test_unusable_cache_falls_back_to_builtins():
    """A corrupt or empty cache file does not leave you without models."""
    path = config.models_cache_path()
    path.parent.mkdir(parents=True)
    for content in ("{broken", "[]", '{"models": []}', '{"models": [{"slug": ""}]}'):
        path.write_text(content)
        assert load_models() == list(BUILTIN_MODELS)


def test_cache_file_shape_and_permissions():
    """The cache holds fetched_at, etag, client_version, its backend and the raw entries; dir
    is 0700."""
    raw = entry("gpt-6", future_field=[1])
    path = save_cache([raw], etag="abc", fetched_at=1_780_000_000)
    assert path == config.models_cache_path()
    data = json.loads(path.read_text())
    assert data == {
        "fetched_at": "2026-05-28T20:26:40Z",
        "etag": "abc",
        "client_version": "0.169.0",
        "backend": config.backend_base_url(),
        "models": [raw],
    }
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["models.json"]  # no temp file left


def test_load_models_reads_the_file_once_until_it_changes(monkeypatch):
    """Repeated model registration reads the cache once; a new cache is picked up at once."""
    save_cache([entry("one")])
    reads = []
    real = catalog._read_cache
    monkeypatch.setattr(catalog, "_read_cache", lambda p: reads.append(p) or real(p))
    for _ in range(5):
        assert next(m.slug for m in load_models()) == "one"
    assert len(reads) == 1
    save_cache([entry("two")])
    assert next(m.slug for m in load_models()) == "two"
    assert len(reads) == 2


def test_staleness(monkeypatch):
    """No cache, an old cache or one fetched for another client version is stale."""
    assert cache_is_stale()
    now = time.time()
    save_cache([entry("a")], fetched_at=now - 3600)
    assert not cache_is_stale(now=now)
    assert cache_is_stale(max_age=600, now=now)
    assert cache_is_stale(now=now + 2 * 86400)
    monkeypatch.setenv("LLM_CODEX_CLIENT_VERSION", "0.200.0")
    assert cache_is_stale(now=now)


def test_fetched_at_of_unknown_age_is_stale():
    """A cache written by hand without fetched_at is used but counts as stale."""
    path = config.models_cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"models": [entry("hand-made")]}))
    assert next(m.slug for m in load_models()) == "hand-made"
    assert cache_is_stale()


def test_a_cache_from_another_backend_is_ignored(no_network, monkeypatch):
    """After an offline trial against the fake, the real backend's models come back: the
    cache records its backend and is not used for another one."""
    monkeypatch.setenv("LLM_CODEX_BASE_URL", "http://127.0.0.1:18555/backend-api/codex")
    save_cache([entry("gpt-fake-only")])
    assert "gpt-fake-only" in [m.slug for m in load_models()]
    monkeypatch.delenv("LLM_CODEX_BASE_URL")
    slugs = [m.slug for m in load_models()]
    assert "gpt-fake-only" not in slugs
    assert load_catalog().source == "built-in"
