"""Every failure a user can meet ends in one clear sentence, exit code 1, credentials intact."""

from __future__ import annotations

import json
import time

import pytest

from llm_codex import config
from llm_codex.testing import write_auth_file

from ..plugin.plugin_helpers import MODEL, run_llm
from .helpers import assert_one_error_line, run_on_terminal


def _file(path):
    return path.read_bytes() if path.exists() else None


@pytest.mark.parametrize(
    ("scenario", "needle"),
    [
        (lambda f: f.enqueue_usage_limit(plan_type="plus"), "Usage limit reached"),
        (lambda f: f.enqueue_cloudflare(), "Cloudflare"),
        (lambda f: f.enqueue_drop(after_deltas=2), "closed before the response was complete"),
        (lambda f: f.enqueue_failed("context_length_exceeded"), "context window"),
        (lambda f: f.enqueue_incomplete("max_output_tokens"), "cut off"),
        (lambda f: f.enqueue_server_error(500, times=5), "HTTP 500"),
        (lambda f: f.enqueue_stream_error(), "server_error"),
        (lambda f: f.enqueue_http_error(400, {"detail": "Unsupported x"}), "Unsupported x"),
    ],
    ids=["usage-limit", "cloudflare", "drop", "context", "incomplete", "5xx", "error", "400"],
)
def test_backend_failures_are_one_sentence(codex_backend, codex_login, scenario, needle):
    """A backend failure prints one 'Error:' line, exits 1, and leaves the login untouched."""
    before = _file(config.own_auth_path())
    scenario(codex_backend)
    run = assert_one_error_line(run_llm("-m", MODEL, "hi"), needle)
    assert _file(config.own_auth_path()) == before
    for name in ("access_token", "refresh_token", "id_token"):
        assert codex_login[name] not in run


def test_bad_options_are_refused_before_sending(codex_backend, codex_login):
    """Unsupported or badly valued options fail with exit 1 and nothing is sent."""
    for option in (
        ("temperature", "1"),
        ("temperature", "0.2"),
        ("reasoning_effort", "minimal"),
        ("fast", "maybe"),
        ("max_tokens", "5"),
    ):
        run = run_llm("-m", MODEL, "-o", *option, "hi")
        assert run.exit_code == 1, run.output
        assert "Traceback" not in run.output
        assert run.stderr.startswith("Error: "), run.stderr
    run = run_llm("-m", MODEL, "-o", "temperature", "0.2", "hi")
    assert "the Codex backend rejects it" in run.stderr
    assert codex_backend.requests_to("/responses") == []


def test_an_option_the_model_lacks_says_why(codex_backend, codex_login):
    """`-o fast 1` on a model without a priority tier says the model has no Fast tier."""
    run = run_llm("-m", "openai-codex/gpt-5.3-codex-spark", "-o", "fast", "1", "hi")
    assert run.exit_code == 1
    assert "no Fast (priority) tier" in run.stderr
    run = run_llm("-m", "openai-codex/gpt-5.3-codex-spark", "-o", "verbosity", "low", "hi")
    assert "no verbosity setting" in run.stderr
    assert codex_backend.requests_to("/responses") == []


def test_no_login_and_broken_logins(codex_backend):
    """Not signed in, a broken own file and an API-key Codex login each give one sentence."""
    assert_one_error_line(run_llm("-m", MODEL, "hi"), "llm codex login")
    own = config.own_auth_path()
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text("{not json")
    own.chmod(0o600)
    assert_one_error_line(run_llm("-m", MODEL, "hi"), "not valid JSON")
    assert own.read_text() == "{not json"
    own.unlink()
    cli = config.codex_cli_auth_path()
    cli.parent.mkdir(parents=True, exist_ok=True)
    api_key_login = json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-secret-123"})
    cli.write_text(api_key_login)
    run = assert_one_error_line(run_llm("-m", MODEL, "hi"), "API key")
    assert "sk-secret-123" not in run
    assert cli.read_text() == api_key_login
    assert codex_backend.requests == []


def test_expired_login_whose_refresh_fails(codex_backend):
    """An expired login whose refresh token is dead asks to sign in again, once, clearly."""
    tokens = codex_backend.issue_tokens(access_ttl=-100)
    write_auth_file(config.own_auth_path(), tokens)
    codex_backend.expire_refresh_tokens(tokens["refresh_token"])
    assert_one_error_line(run_llm("-m", MODEL, "hi"), "llm codex login")
    assert_one_error_line(run_llm("-m", MODEL, "again"), "llm codex login")
    assert codex_backend.requests_to("/responses") == []
    saved = json.loads(config.own_auth_path().read_text())
    assert saved["tokens"]["refresh_token"] == tokens["refresh_token"]  # never deleted


def test_usage_limit_leaves_the_exhausted_window_for_cached_usage(codex_backend, codex_login):
    """After a usage-limit error, `llm codex usage --cached` shows the full window."""
    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=3600, window="secondary")
    assert_one_error_line(run_llm("-m", MODEL, "hi"), "Usage limit reached")
    codex_backend.clear_requests()
    run = run_llm("codex", "usage", "--cached")
    assert run.exit_code == 0, run.output
    assert "Codex (limit reached)" in run.stdout
    assert "weekly window  100%" in run.stdout
    data = json.loads(run_llm("codex", "usage", "--cached", "--json").stdout)
    (family,) = data["families"]
    assert family["limit_reached"] is True
    assert data["active_limit"] == "codex"
    weekly = [w for w in family["windows"] if w["window_minutes"] == 10080]
    assert weekly[0]["used_percent"] == 100
    assert 0 < weekly[0]["resets_at"] - time.time() <= 3600
    assert codex_backend.requests == []


def test_usage_limit_error_prints_no_extra_warning(codex_backend, codex_login):
    """Even past the warning threshold, a usage-limit failure prints only its one sentence."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": 97})
    codex_backend.enqueue_usage_limit()
    run = run_llm("-m", MODEL, "hi")
    assert_one_error_line(run, "Usage limit reached")
    assert "llm-codex:" not in run.stderr


def test_broken_stream_on_a_terminal_puts_the_error_on_its_own_line(codex_backend, codex_login):
    """When the stream breaks mid-answer, the error starts on a new line, not glued to the text."""
    codex_backend.enqueue_drop(after_deltas=2, text="Partial answer that stops")
    code, screen = run_on_terminal("-m", MODEL, "-R", "hi")
    assert code == 1, screen
    assert "Traceback" not in screen
    lines = screen.replace("\r\n", "\n").split("\n")
    errors = [line for line in lines if "Error:" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: "), screen


def test_chat_ends_with_one_sentence_on_a_backend_failure(codex_backend, codex_login):
    """A failure inside `llm chat` prints one 'Error:' line and exits 1, not a traceback."""
    codex_backend.enqueue_text("First answer.")
    codex_backend.enqueue_usage_limit()
    run = run_llm("chat", "-m", MODEL, "-R", input="one\ntwo\nquit\n")
    assert "First answer." in run.stdout
    assert_one_error_line(run, "Usage limit reached")


def test_model_errors_stay_llm_model_errors_for_python_callers(codex_backend, codex_login):
    """Python callers still get an llm.ModelError carrying the one sentence."""
    import llm

    codex_backend.enqueue_cloudflare()
    with pytest.raises(llm.ModelError, match="Cloudflare") as info:
        llm.get_model(MODEL).prompt("hi").text()
    assert str(info.value).startswith("The request was blocked by Cloudflare")


def test_bad_hosted_tool_options_are_one_sentence(codex_backend, codex_login):
    """A wrong or misspelt `-T WebSearch(...)`/`ImageGeneration(...)` option is one sentence."""
    for spec, needle in (
        ('WebSearch({"allowed_domains": ["https://python.org"]})', "omit the URL scheme"),
        ('WebSearch({"domains": ["python.org"]})', "WebSearch has no option 'domains'"),
        ('ImageGeneration({"size": "9x9"})', "size must be"),
    ):
        assert_one_error_line(run_llm("-m", MODEL, "-T", spec, "hi"), needle)
    assert codex_backend.requests_to("/responses") == []


def test_hosted_tools_list_their_real_options(codex_backend):
    """`llm tools -m MODEL` shows WebSearch's and ImageGeneration's options, no catch-all."""
    run = run_llm("tools", "-m", MODEL)
    assert run.exit_code == 0, run.output
    assert "WebSearch(allowed_domains" in run.stdout
    assert "**unknown" not in run.stdout
