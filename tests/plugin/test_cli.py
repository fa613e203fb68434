"""The models through the real ``llm`` command line, against the fake backend."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from llm_codex import config
from llm_codex.core import catalog
from llm_codex.testing import tiny_png, write_auth_file

from .plugin_helpers import MODEL, assert_user_error, logs_json, run_llm

DEFAULT_REPLY = "Hello from the fake Codex backend. You said: "


def test_prompt_streams_the_answer(codex_backend, codex_login):
    """`llm -m openai-codex/gpt-5.5 'hi'` prints the model's answer."""
    codex_backend.enqueue_text("Streaming works fine.", chunks=4)
    run = run_llm("-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert run.stdout == "Streaming works fine.\n"
    (request,) = codex_backend.requests_to("/responses")
    assert request.json["model"] == "gpt-5.5"
    assert request.json["stream"] is True
    assert request.json["store"] is False


def test_no_stream_prints_the_same_answer(codex_backend, codex_login):
    """`--no-stream` gives the same text (the backend always streams)."""
    run = run_llm("-m", MODEL, "--no-stream", "ping")
    assert run.exit_code == 0, run.output
    assert run.stdout == DEFAULT_REPLY + "ping\n"


def test_system_prompt_goes_out_as_instructions(codex_backend, codex_login):
    """`-s` becomes the request's instructions, not a system message."""
    run = run_llm("-m", MODEL, "-s", "Be terse.", "hi")
    assert run.exit_code == 0, run.output
    body = codex_backend.requests_to("/responses")[0].json
    assert body["instructions"] == "Be terse."
    assert all(item.get("role") != "system" for item in body["input"])


def test_continue_replays_reasoning_with_a_stable_cache_key(codex_backend, codex_login):
    """`llm -c` sends the earlier turn back, reasoning included, under the same cache key."""
    assert run_llm("-m", MODEL, "first question").exit_code == 0
    run = run_llm("-c", "second question")
    assert run.exit_code == 0, run.output
    assert run.stdout == DEFAULT_REPLY + "second question\n"
    first, second = codex_backend.requests_to("/responses")
    items = second.json["input"]
    reasoning = [i for i in items if i.get("type") == "reasoning"]
    assert len(reasoning) == 1
    assert "id" not in reasoning[0]
    assert reasoning[0]["encrypted_content"]
    assert all("id" not in item for item in items)
    kinds = [(i.get("type"), i.get("role")) for i in items]
    assert kinds == [
        ("message", "user"),
        ("reasoning", None),
        ("message", "assistant"),
        ("message", "user"),
    ]
    assert codex_backend.replayed_reasoning[-1], "the fake did not recognise the replayed blob"
    key = first.json["prompt_cache_key"]
    assert key and second.json["prompt_cache_key"] == key
    assert first.headers["session-id"] == second.headers["session-id"] == key


def test_usage_and_rate_limits_are_logged_without_tokens(codex_backend, codex_login):
    """`llm logs --json` shows token usage and rate limits; no credential is ever stored."""
    assert run_llm("-m", MODEL, "count my tokens").exit_code == 0
    (entry,) = logs_json()
    assert entry["model"] == MODEL
    assert entry["input_tokens"] > 0
    assert entry["output_tokens"] > 0
    response_json = entry["response_json"]
    assert response_json["id"]
    assert response_json["status"] == "completed"
    assert response_json["request_id"] == codex_backend.requests_to("/responses")[0].request_id
    assert response_json["rate_limits"]
    assert response_json["usage"]["input_tokens"] == entry["input_tokens"]
    db = (config.llm_user_dir() / "logs.db").read_bytes()
    for secret in (codex_login["access_token"], codex_login["refresh_token"]):
        assert secret.encode() not in db


def test_usage_flag_shows_tokens(codex_backend, codex_login):
    """`llm -u` prints the token usage of the answer."""
    run = run_llm("-m", MODEL, "-u", "hello")
    assert run.exit_code == 0, run.output
    assert "Token usage:" in run.stderr


def test_models_lists_codex_models_without_network(codex_backend):
    """`llm models` lists the Codex models and contacts nothing."""
    tokens = codex_backend.issue_tokens(access_ttl=60)  # inside any refresh window
    write_auth_file(config.own_auth_path(), tokens)
    run = run_llm("models")
    assert run.exit_code == 0, run.output
    assert "OpenAI Codex: openai-codex/gpt-5.5" in run.stdout
    assert "openai-codex/gpt-5.3-codex-spark" in run.stdout  # hidden but callable
    assert codex_backend.requests == []
    assert codex_backend.refresh_count == 0


def test_help_and_logs_make_no_request(codex_backend, codex_login):
    """`llm --help` and `llm logs` never contact the backend."""
    assert run_llm("-m", MODEL, "log me").exit_code == 0
    codex_backend.clear_requests()
    assert run_llm("--help").exit_code == 0
    assert run_llm("logs").exit_code == 0
    assert run_llm("logs", "-c", "--json").exit_code == 0
    assert run_llm("logs", "--json", "-n", "0").exit_code == 0
    assert codex_backend.requests == []


def test_model_options_are_listed(codex_backend):
    """`llm -m MODEL --options` and `llm models --options` show the Codex options."""
    from llm_codex.plugin.options import options_class

    info = catalog.find_model("gpt-5.5")
    fields = list(options_class(info).model_fields)
    assert fields, "the translator defines no options"
    run = run_llm("-m", MODEL, "--options")
    assert run.exit_code == 0, run.output
    assert "OpenAI Codex: openai-codex/gpt-5.5" in run.stdout
    for name in fields:
        assert name in run.stdout
    listing = run_llm("models", "--options", "-q", "openai-codex/gpt-5.5")
    assert listing.exit_code == 0, listing.output
    assert all(name in listing.stdout for name in fields)


def test_models_json_reports_capabilities(codex_backend):
    """`llm models list --json` reports streaming, tools, schemas and async for Codex models."""
    run = run_llm("models", "list", "--json", "-m", MODEL)
    assert run.exit_code == 0, run.output
    (model,) = json.loads(run.stdout)
    assert model["can_stream"] and model["supports_tools"] and model["supports_schema"]
    assert model["supports_async"]
    assert "image/png" in model["attachment_types"]


def test_async_cli_prompt(codex_backend, codex_login):
    """`llm --async` streams through the async model."""
    codex_backend.enqueue_text("Async answer.")
    run = run_llm("--async", "-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert run.stdout == "Async answer.\n"


# --- errors -------------------------------------------------------------------------------------


def test_not_signed_in(codex_backend):
    """Without a login the user is told to run `llm codex login`."""
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "llm codex login")
    assert codex_backend.requests_to("/responses") == []


def test_usage_limit_names_plan_and_reset_time(codex_backend, codex_login):
    """A spent plan says which plan and when it resets, in local time, and is not retried."""
    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=3600 + 6 * 60 + 30)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "plus")
    assert re.search(r"resets at \d\d:\d\d, in 1 h 0[67] min", run.stderr), run.stderr
    assert len(codex_backend.requests_to("/responses")) == 1


def test_cloudflare_challenge(codex_backend, codex_login):
    """A Cloudflare challenge is reported as blocked before reaching OpenAI, with the reason."""
    codex_backend.enqueue_cloudflare()
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "Cloudflare", "before it reached OpenAI")
    assert "VPN" in run.stderr


def test_bad_request_detail_is_passed_through(codex_backend, codex_login):
    """A 400 from the backend shows the backend's own explanation."""
    codex_backend.allowed_fields = frozenset(codex_backend.allowed_fields) - {"prompt_cache_key"}
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "Unsupported parameter: prompt_cache_key")


def test_model_not_supported_for_chatgpt_accounts(codex_backend, codex_login):
    """A model the plan cannot use is refused with the backend's sentence."""
    codex_backend.models = [m for m in codex_backend.models if m["slug"] != "gpt-6-astra"]
    run = run_llm("-m", "openai-codex/gpt-6-astra", "hi")
    assert_user_error(run, "gpt-6-astra", "not supported")


def test_unknown_model_id(codex_backend, codex_login):
    """An id that is not in the catalog is an unknown model to llm."""
    run = run_llm("-m", "openai-codex/no-such-model", "hi")
    assert run.exit_code == 1
    assert "Unknown model" in run.output
    assert "Traceback" not in run.output


def test_responses_lite_models_answer_from_a_fresh_install(codex_backend, codex_login):
    """Without a cached catalog the built-in list already offers the lite models, and they
    answer: the fake serves them only in the lite form."""
    assert "openai-codex/gpt-5.6-sol" in run_llm("models").stdout
    run = run_llm("-m", "openai-codex/gpt-5.6-sol", "hi")
    assert run.exit_code == 0, run.output
    assert run.stdout.strip() == DEFAULT_REPLY + "hi"
    (sent,) = codex_backend.requests_to("/responses")
    assert sent.headers["x-openai-internal-codex-responses-lite"] == "true"
    assert sent.body["input"][0]["type"] == "additional_tools"


def test_context_length_exceeded(codex_backend, codex_login):
    """A conversation too long for the model says so."""
    codex_backend.enqueue_failed("context_length_exceeded")
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "context window")


def test_response_failed(codex_backend, codex_login):
    """A failed response shows the backend's message."""
    codex_backend.enqueue_failed("invalid_prompt", "Your prompt was flagged as invalid.")
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "Your prompt was flagged as invalid")


def test_incomplete_answer_shows_the_part_and_says_why(codex_backend, codex_login):
    """A cut-off answer prints what arrived, then says it was cut off and why."""
    codex_backend.enqueue_incomplete("max_output_tokens", text="This answer was cut off because")
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "cut off", "max_output_tokens")
    assert "This answer was cut off because" in run.stdout


def test_stream_closed_early_is_not_retried_after_text(codex_backend, codex_login):
    """A stream that dies after text was shown fails clearly and is not sent again."""
    codex_backend.enqueue_drop(after_deltas=3)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run)
    assert run.stdout  # the part that arrived was shown
    assert len(codex_backend.requests_to("/responses")) == 1


def test_server_error_then_success(codex_backend, codex_login):
    """A passing 5xx before the answer starts is retried and the user only sees the answer."""
    codex_backend.enqueue_server_error(500, times=1)
    run = run_llm("-m", MODEL, "retry me")
    assert run.exit_code == 0, run.output
    assert run.stdout == DEFAULT_REPLY + "retry me\n"
    assert len(codex_backend.requests_to("/responses")) == 2


def test_idle_timeout(codex_backend, codex_login, monkeypatch):
    """A backend that goes silent for longer than the idle timeout ends with a clear error."""
    monkeypatch.setenv("LLM_CODEX_IDLE_TIMEOUT", "0.2")
    for _ in range(3):  # nothing arrived yet, so the client tries again (three sends in all)
        codex_backend.enqueue_slow("Too slow.", delay=1.0)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "0.2 s")
    assert run.stdout == ""


def test_errors_do_not_touch_the_credentials(codex_backend, codex_login):
    """Failures leave the credential file exactly as it was."""
    before = config.own_auth_path().read_bytes()
    codex_backend.enqueue_usage_limit()
    run_llm("-m", MODEL, "hi")
    codex_backend.enqueue_cloudflare()
    run_llm("-m", MODEL, "hi")
    assert config.own_auth_path().read_bytes() == before


def test_stale_catalog_is_refreshed_once_after_an_answer(codex_backend, codex_login):
    """After a successful answer a missing or stale catalog cache is refreshed, once."""
    assert not config.models_cache_path().exists()
    assert run_llm("-m", MODEL, "one").exit_code == 0
    assert run_llm("-m", MODEL, "two").exit_code == 0
    assert len(codex_backend.requests_to("/models")) == 1
    assert config.models_cache_path().exists()
    assert "openai-codex/gpt-5.4-mini" in run_llm("models").stdout  # only the fake lists it


def test_logged_conversation_survives_reload(codex_backend, codex_login):
    """The logged answer can be read back from the database by llm."""
    assert run_llm("-m", MODEL, "remember me").exit_code == 0
    conn = sqlite3.connect(config.llm_user_dir() / "logs.db")
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    finally:
        conn.close()
    assert tables
    (entry,) = logs_json()
    assert entry["response"] == DEFAULT_REPLY + "remember me"


def test_high_usage_warns_on_stderr_once(codex_backend, codex_login):
    """Past the warning threshold the user sees how much is used on stderr, once an hour."""
    codex_backend.set_rate_limit_headers({"x-codex-primary-used-percent": 93})
    first = run_llm("-m", MODEL, "hi")
    assert first.exit_code == 0, first.output
    assert first.stdout == DEFAULT_REPLY + "hi\n"
    assert "llm-codex: 93" in first.stderr
    second = run_llm("-m", MODEL, "again")
    assert "llm-codex: 93" not in second.stderr


def test_chat_works(codex_backend, codex_login):
    """`llm chat` holds a conversation with a Codex model."""
    run = run_llm("chat", "-m", MODEL, input="first\nsecond\nquit\n")
    assert run.exit_code == 0, run.output
    assert DEFAULT_REPLY + "first" in run.stdout
    assert DEFAULT_REPLY + "second" in run.stdout
    first, second = codex_backend.requests_to("/responses")
    assert first.json["prompt_cache_key"] == second.json["prompt_cache_key"]


def test_real_process_errors_have_no_traceback(codex_backend, codex_login):
    """The installed `llm` executable prints one error line and exits 1 on a backend failure."""
    llm_exe = Path(sys.executable).parent / "llm"
    codex_backend.enqueue_usage_limit(plan_type="pro", resets_in=7200)
    proc = subprocess.run(
        [str(llm_exe), "-m", MODEL, "hi"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Usage limit reached"), proc.stderr
    assert "pro plan" in lines[0]


def test_hide_reasoning_still_replays_reasoning(codex_backend, codex_login):
    """`-R` shows no reasoning, yet `llm -c` still sends the hidden reasoning back."""
    first = run_llm("-m", MODEL, "-R", "quiet please")
    assert first.exit_code == 0, first.output
    assert first.stderr == ""
    assert "summary" not in codex_backend.requests_to("/responses")[0].json.get("reasoning", {})
    assert run_llm("-c", "-R", "and again").exit_code == 0
    second = codex_backend.requests_to("/responses")[1].json["input"]
    (reasoning,) = [i for i in second if i.get("type") == "reasoning"]
    assert reasoning["encrypted_content"] and "id" not in reasoning


def test_image_attachment_is_sent(codex_backend, codex_login, tmp_path):
    """`-a picture.png` sends the image inline with the prompt."""
    picture = tmp_path / "picture.png"
    picture.write_bytes(tiny_png(2, 2))
    run = run_llm("-m", MODEL, "-a", str(picture), "what is this?")
    assert run.exit_code == 0, run.output
    content = codex_backend.requests_to("/responses")[0].json["input"][0]["content"]
    images = [p for p in content if p.get("type") == "input_image"]
    assert images and images[0]["image_url"].startswith("data:image/png;base64,")


def test_web_search_shows_answer_and_sources(codex_backend, codex_login):
    """`-T WebSearch` runs the hosted search; the answer ends with its sources."""
    codex_backend.enqueue_web_search(
        query="pelicans",
        text="Pelicans are large birds.",
        sources=[{"url": "https://example.com/pelicans", "title": "Pelican facts"}],
    )
    run = run_llm("-m", MODEL, "-T", "WebSearch", "tell me about pelicans")
    assert run.exit_code == 0, run.output
    assert "Pelicans are large birds." in run.stdout
    assert "https://example.com/pelicans" in run.stdout
    body = codex_backend.requests_to("/responses")[0].json
    assert any(t.get("type") == "web_search" for t in body["tools"])
    assert run_llm("-c", "thanks").exit_code == 0
    replay = codex_backend.requests_to("/responses")[1].json["input"]
    assert all(item.get("type") != "web_search_call" for item in replay)
    assert all("id" not in item for item in replay)


def test_image_generation_saves_the_image(codex_backend, codex_login):
    """`-T ImageGeneration` saves the generated picture and says where."""
    png = tiny_png(3, 3)
    codex_backend.enqueue_image_generation(png_bytes=png, revised_prompt="A pelican")
    run = run_llm("-m", MODEL, "-T", "ImageGeneration", "draw a pelican")
    assert run.exit_code == 0, run.output
    match = re.search(r"Image saved to (\S+\.png)", run.stdout)
    assert match, run.stdout
    assert Path(match.group(1)).read_bytes() == png


def test_expired_token_is_refreshed_transparently(codex_backend, codex_login):
    """A token the backend says has expired is refreshed once and the answer still arrives."""
    codex_backend.expire_access_token(codex_login["access_token"])
    run = run_llm("-m", MODEL, "still there?")
    assert run.exit_code == 0, run.output
    assert run.stdout == DEFAULT_REPLY + "still there?\n"
    assert codex_backend.refresh_count == 1
    assert codex_login["access_token"] not in config.own_auth_path().read_text()


def test_revoked_login_asks_to_sign_in_again(codex_backend, codex_login):
    """A login revoked on the server ends with one sentence asking to sign in again."""
    codex_backend.revoke_tokens(codex_login["refresh_token"])
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "llm codex login")


def test_cli_tool_call_round_trip(codex_backend, codex_login):
    """`--functions` tools are called by the model, run by llm, and their results sent back."""
    codex_backend.enqueue_tool_call("shout", '{"text": "hi"}', call_id="call_cli")
    codex_backend.enqueue_text("It said HI.")
    functions = 'def shout(text: str) -> str:\n    "Upper-case text."\n    return text.upper()\n'
    run = run_llm("-m", MODEL, "--functions", functions, "shout hi")
    assert run.exit_code == 0, run.output
    assert "It said HI." in run.stdout
    second = codex_backend.requests_to("/responses")[1].json["input"]
    output = next(i for i in second if i.get("type") == "function_call_output")
    assert output["call_id"] == "call_cli" and "HI" in str(output["output"])
    entries = logs_json()
    assert any(e.get("tool_calls") for e in entries)
