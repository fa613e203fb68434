"""Trouble on the backend's side as a user meets it: an HTML error page reads as one sentence,
a short rate limit with a retry hint is retried and then answers."""

from __future__ import annotations

from ..plugin.plugin_helpers import MODEL, run_llm
from .helpers import assert_one_error_line

_CLOUDFLARE_502 = (
    '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<title>chatgpt.com | 502: Bad gateway</title>'
    '<meta charset="UTF-8" /><meta name="robots" content="noindex, nofollow" />'
    + "<style>body{margin:0;padding:0}</style>" * 20
    + "</head><body><h1>Bad gateway</h1><p>Error code 502</p></body></html>"
)


def test_an_html_error_page_is_not_shown_as_the_error(codex_backend, codex_login):
    """A 502 answered with an HTML page reads as one sentence, without HTML markup."""
    codex_backend.enqueue_server_error(502, times=5, body=_CLOUDFLARE_502)
    line = assert_one_error_line(run_llm("-m", MODEL, "-R", "hi"), "502")
    assert "<" not in line and "{" not in line, line


def test_a_short_rate_limit_with_a_retry_hint_is_retried(codex_backend, codex_login):
    """`response.failed` rate_limit_exceeded "try again in 1.5s" is retried once, then answers."""
    codex_backend.enqueue_failed("rate_limit_exceeded")
    run = run_llm("-m", MODEL, "-R", "hi")
    assert run.exit_code == 0, run.output
    assert len(codex_backend.requests_to("/responses")) == 2
