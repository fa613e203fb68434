"""Starting llm (help, model lists, logs, status) contacts nothing and refreshes nothing."""

from __future__ import annotations

import time

from llm_codex import config
from llm_codex.core import catalog
from llm_codex.testing import write_auth_file

from ..plugin.plugin_helpers import MODEL, run_llm


def test_no_request_and_no_refresh_even_with_expired_token_and_stale_catalog(codex_backend):
    """With an expired token and a week-old catalog, listing and reading commands stay offline."""
    tokens = codex_backend.issue_tokens()
    write_auth_file(config.own_auth_path(), tokens)
    assert run_llm("-m", MODEL, "log me").exit_code == 0  # something in the logs
    expired = codex_backend.issue_tokens(access_ttl=-100)
    write_auth_file(config.own_auth_path(), expired)
    catalog.save_cache(catalog.load_models(), fetched_at=time.time() - 7 * 86400)
    catalog.clear_memo()
    before = config.own_auth_path().read_bytes()
    codex_backend.clear_requests()
    refreshes = codex_backend.refresh_count
    for args in (
        ["--help"],
        ["models"],
        ["models", "--options"],
        ["-m", MODEL, "--options"],
        ["logs"],
        ["logs", "--json", "-u"],
        ["codex", "--help"],
        ["codex", "status"],
        ["codex", "status", "--json"],
        ["codex", "models"],
        ["codex", "models", "--json"],
        ["codex", "usage", "--cached"],
        ["plugins"],
    ):
        run = run_llm(*args)
        assert run.exit_code == 0, (args, run.output)
        assert "Traceback" not in run.output
    assert codex_backend.requests == []
    assert codex_backend.refresh_count == refreshes
    assert config.own_auth_path().read_bytes() == before


def test_status_of_an_expired_login_says_it_renews_itself(codex_backend):
    """An expired access token is shown as renewed on next use, unless sign-in is needed."""
    write_auth_file(config.own_auth_path(), codex_backend.issue_tokens(access_ttl=-100))
    run = run_llm("codex", "status")
    assert run.exit_code == 0, run.output
    assert "(expired), renewed automatically on next use" in run.stdout
    assert codex_backend.requests == []


def test_every_codex_subcommand_has_help():
    """`llm codex <cmd> --help` works for every subcommand, and the group lists them all."""
    group = run_llm("codex", "--help")
    assert group.exit_code == 0
    bare = run_llm("codex")  # no subcommand: the same help, as a normal answer
    assert bare.exit_code == 0 and "Commands:" in bare.stdout
    for name in ("login", "logout", "status", "models", "usage", "serve"):
        assert f"  {name} " in group.stdout
        run = run_llm("codex", name, "--help")
        assert run.exit_code == 0, run.output
        assert f"codex {name} [OPTIONS]" in run.stdout
