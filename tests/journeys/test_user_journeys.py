"""Whole user journeys (continue after tools or images, logins, limits, caching, images), each
through the real `llm` CLI or Python API against the fake, asserting what a user (or the
backend) would actually notice."""

from __future__ import annotations

import json
import os
import stat

import llm

from llm_codex import config
from llm_codex.testing import tiny_png

from ..plugin.plugin_helpers import MODEL, assert_user_error, logs_json, run_llm

FUNCTIONS = """
def get_weather(city: str) -> str:
    "Current weather for a city."
    return f"Sunny in {city}"
"""


def _bodies(backend):
    return [r.json for r in backend.requests_to("/responses")]


def _no_ids(items):
    return all("id" not in item for item in items)


def _snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_mode


# --- issue 3 item 2 / issue 5 items 1, 4: llm -c after a tool chain ---


def test_continue_after_tool_chain_replays_reasoning_without_ids_under_one_cache_key(
    codex_backend, codex_login
):
    """Inside the chain the second request carries the first turn's reasoning; `llm -c` replays
    every earlier item (reasoning, call, output, answer) without ids, under the same cache key."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Oslo"}', call_id="call_w1")
    codex_backend.enqueue_text("It is sunny in Oslo.")
    run = run_llm("-m", MODEL, "--functions", FUNCTIONS, "Weather in Oslo?")
    assert run.exit_code == 0, run.output
    assert run_llm("-c", "And tomorrow?").exit_code == 0
    requests = codex_backend.requests_to("/responses")
    first, second, third = (r.json for r in requests)

    inside = [i for i in second["input"] if i.get("type") == "reasoning"]
    assert len(inside) == 1 and inside[0]["encrypted_content"]
    assert codex_backend.replayed_reasoning[1], "reasoning inside the chain was not recognised"

    kinds = [i.get("type") for i in third["input"]]
    assert kinds == [
        "message",  # user: Weather in Oslo?
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "message",  # assistant: It is sunny in Oslo.
        "message",  # user: And tomorrow?
    ], kinds
    assert _no_ids(second["input"]) and _no_ids(third["input"])
    assert len(codex_backend.replayed_reasoning[2]) == 2
    keys = {b["prompt_cache_key"] for b in (first, second, third)}
    assert len(keys) == 1 and None not in keys
    assert {r.headers["session-id"] for r in requests} == keys


def test_python_chain_replays_reasoning_inside_the_chain(codex_backend, codex_login):
    """`model.chain()` sends the tool call's reasoning back with the tool result."""

    def get_weather(city: str) -> str:
        "Current weather for a city."
        return f"Rainy in {city}"

    codex_backend.enqueue_tool_call("get_weather", '{"city": "Bergen"}', call_id="call_b")
    codex_backend.enqueue_text("Rainy, as usual.")
    model = llm.get_model(MODEL)
    text = model.chain("Weather in Bergen?", tools=[get_weather]).text()
    assert text.endswith("Rainy, as usual.")
    second = _bodies(codex_backend)[1]["input"]
    assert [i.get("type") for i in second] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert second[1]["encrypted_content"] and _no_ids(second)
    assert second[3] == {
        "type": "function_call_output",
        "call_id": "call_b",
        "output": "Rainy in Bergen",
    }


# --- issue 5 item 3: llm -c after an image prompt ---


def test_continue_after_image_prompt_has_no_ids_and_one_cache_key(
    codex_backend, codex_login, tmp_path
):
    """The image is replayed with the history, no item carries an id, the key stays the same."""
    picture = tmp_path / "p.png"
    picture.write_bytes(tiny_png(2, 2))
    assert run_llm("-m", MODEL, "-a", str(picture), "What is this?").exit_code == 0
    assert run_llm("-c", "What colour?").exit_code == 0
    first, second = _bodies(codex_backend)
    assert [i.get("type") for i in second["input"]] == [
        "message",
        "reasoning",
        "message",
        "message",
    ]
    replayed = second["input"][0]["content"]
    assert replayed == first["input"][0]["content"]
    assert any(p["type"] == "input_image" for p in replayed)
    assert _no_ids(second["input"])
    assert first["prompt_cache_key"] == second["prompt_cache_key"]


# --- issue 5 item 4: -R/--hide-reasoning requests no summary ---


def test_hide_reasoning_requests_no_summary_even_with_the_option(codex_backend, codex_login):
    """`-R` asks the backend for no summary (so none is generated), even with an explicit
    `-o reasoning_summary detailed`; without `-R` the same option is sent."""
    run = run_llm("-m", MODEL, "-R", "-o", "reasoning_summary", "detailed", "quiet")
    assert run.exit_code == 0, run.output
    assert run.stderr == ""
    run = run_llm("-m", MODEL, "-o", "reasoning_summary", "detailed", "loud")
    assert run.exit_code == 0, run.output
    hidden, shown = _bodies(codex_backend)
    assert hidden["reasoning"].get("summary") in (None, "none")
    assert "reasoning.encrypted_content" in hidden["include"]
    assert shown["reasoning"]["summary"] == "detailed"
    assert run.stderr.strip()  # the summary was shown this time


# --- issue 5 item 1: tool-call ids through `llm logs --json` and `llm -c` ---


def test_tool_call_ids_round_trip_through_logs_and_continue(codex_backend, codex_login):
    """The backend's call id is what `llm logs --json` records for the call and its result,
    and what `llm -c` sends back as call_id."""
    codex_backend.enqueue_tool_call("get_weather", '{"city": "Rome"}', call_id="call_rt42")
    codex_backend.enqueue_text("Sunny in Rome.")
    assert run_llm("-m", MODEL, "--functions", FUNCTIONS, "Rome?").exit_code == 0
    entries = logs_json()
    calls = [c for e in entries for c in (e.get("tool_calls") or [])]
    results = [r for e in entries for r in (e.get("tool_results") or [])]
    assert [c["tool_call_id"] for c in calls] == ["call_rt42"]
    assert calls[0]["name"] == "get_weather"
    assert calls[0]["arguments"] == {"city": "Rome"}
    assert [r["tool_call_id"] for r in results] == ["call_rt42"]
    assert results[0]["output"] == "Sunny in Rome"
    assert run_llm("-c", "And Milan?").exit_code == 0
    replay = _bodies(codex_backend)[2]["input"]
    call = next(i for i in replay if i.get("type") == "function_call")
    output = next(i for i in replay if i.get("type") == "function_call_output")
    assert call["call_id"] == output["call_id"] == "call_rt42"
    assert json.loads(call["arguments"]) == {"city": "Rome"}


# --- issue 5 Done when: a tool that raises ---


def test_a_tool_that_raises_sends_the_exception_text_back(codex_backend, codex_login):
    """llm passes the exception text back as the tool result; the chain still answers."""
    codex_backend.enqueue_tool_call("explode", "{}", call_id="call_x")
    codex_backend.enqueue_text("The tool failed, sorry.")
    functions = 'def explode() -> str:\n    "Always fails."\n    raise ValueError("kaput 42")\n'
    run = run_llm("-m", MODEL, "--functions", functions, "go")
    assert run.exit_code == 0, run.output
    assert "The tool failed, sorry." in run.stdout
    output = next(
        i for i in _bodies(codex_backend)[1]["input"] if i.get("type") == "function_call_output"
    )
    assert output["call_id"] == "call_x"
    assert "kaput 42" in output["output"]


# --- issue 5 Done when: an image too large, an unsupported attachment type ---


def test_an_image_over_the_limit_is_refused_before_sending(codex_backend, codex_login, tmp_path):
    """An image over the documented 20 MiB limit ends in one sentence naming the limit."""
    big = tmp_path / "big.png"
    png = tiny_png(1, 1)
    big.write_bytes(png + b"\0" * (20 * 1024 * 1024 + 1 - len(png)))
    run = run_llm("-m", MODEL, "-a", str(big), "look")
    assert_user_error(run, "over the 20 MiB limit")
    assert codex_backend.requests_to("/responses") == []


def test_an_unsupported_attachment_type_is_refused_before_sending(
    codex_backend, codex_login, tmp_path
):
    """A PDF is not an image type the model takes: one clear error, nothing sent."""
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    run = run_llm("-m", MODEL, "-a", str(pdf), "read this")
    assert run.exit_code == 1, run.output
    assert "Traceback" not in run.output
    assert "application/pdf" in run.output
    assert codex_backend.requests_to("/responses") == []


# --- issue 3 item 7: a 401 refreshes once; a second 401 says sign in again ---


def test_a_second_401_after_the_refresh_asks_to_sign_in_again(codex_backend, codex_login):
    """One refresh and one resend, then a clear 'sign in again' — never a loop."""
    unauthorized = {"detail": "Unauthorized"}
    codex_backend.enqueue_http_error(401, unauthorized)
    codex_backend.enqueue_http_error(401, unauthorized)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "llm codex login")
    assert codex_backend.refresh_count == 1
    assert len(codex_backend.requests_to("/responses")) == 2


def test_a_401_refreshes_once_and_resends_once(codex_backend, codex_login):
    """A single 401: exactly one refresh, exactly one resend, the answer arrives."""
    codex_backend.enqueue_http_error(401, {"detail": "Unauthorized"})
    run = run_llm("-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert codex_backend.refresh_count == 1
    first, second = codex_backend.requests_to("/responses")
    assert first.headers["authorization"] != second.headers["authorization"]


# --- issue 3 item 7: nothing retried after text was shown ---


def test_a_clean_early_end_after_text_is_not_retried(codex_backend, codex_login):
    """A body that ends cleanly without a terminal event after text: shown once, not resent."""
    codex_backend.enqueue_drop(after_deltas=2, text="Partial answer that stops here", clean=True)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run)
    assert run.stdout.count("Parti") == 1
    assert len(codex_backend.requests_to("/responses")) == 1


# --- issue 4: a borrowed Codex CLI login through real prompts ---


def test_a_valid_borrowed_login_prompts_without_writing_the_file(codex_backend, codex_cli_login):
    path = config.codex_cli_auth_path()
    before = _snapshot(path)
    run = run_llm("-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert _snapshot(path) == before
    assert codex_backend.refresh_count == 0
    assert not config.own_auth_path().exists()


def test_an_expired_borrowed_login_is_refreshed_once_and_stays_refreshable(codex_backend):
    """Expired Codex CLI login: one refresh, written back in the Codex CLI's format (its mode
    kept); when that token expires too, a further refresh from the written file succeeds."""
    from llm_codex.testing.authfile import write_auth_file

    tokens = codex_backend.issue_tokens(access_ttl=-60)
    path = write_auth_file(config.codex_cli_auth_path(), tokens)
    mode = stat.S_IMODE(path.stat().st_mode)
    run = run_llm("-m", MODEL, "hi")
    assert run.exit_code == 0, run.output
    assert codex_backend.refresh_count == 1
    doc = json.loads(path.read_text())
    assert doc["auth_mode"] == "chatgpt" and doc.get("OPENAI_API_KEY") is None
    assert set(doc["tokens"]) >= {"id_token", "access_token", "refresh_token", "account_id"}
    assert doc["tokens"]["refresh_token"] != tokens["refresh_token"]
    assert codex_backend.refresh_token_state(doc["tokens"]["refresh_token"]) == "fresh"
    assert isinstance(doc["last_refresh"], str)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert not config.own_auth_path().exists()
    # a second process finds the rotated token valid and does not refresh again
    assert run_llm("-m", MODEL, "again").exit_code == 0
    assert codex_backend.refresh_count == 1
    # when the rotated token expires, a refresh from the written file works
    codex_backend.expire_access_token(None)
    run = run_llm("-m", MODEL, "once more")
    assert run.exit_code == 0, run.output
    assert codex_backend.refresh_count == 2
    assert codex_backend.refresh_token_state(doc["tokens"]["refresh_token"]) == "used"


def test_logout_with_both_logins_removes_ours_and_leaves_the_codex_cli_file(
    codex_backend, codex_login, codex_cli_login
):
    path = config.codex_cli_auth_path()
    before = _snapshot(path)
    run = run_llm("codex", "logout")
    assert run.exit_code == 0, run.output
    assert not config.own_auth_path().exists()
    assert _snapshot(path) == before
    assert codex_backend.revoked_tokens == [codex_login["refresh_token"]] or any(
        codex_login["refresh_token"] in str(t) for t in codex_backend.revoked_tokens
    )
    assert codex_cli_login["refresh_token"] not in str(codex_backend.revoked_tokens)


def test_status_makes_no_request_even_when_expired(codex_backend):
    from llm_codex.testing.authfile import write_auth_file

    write_auth_file(config.own_auth_path(), codex_backend.issue_tokens(access_ttl=-60))
    before = _snapshot(config.own_auth_path())
    run = run_llm("codex", "status")
    assert run.exit_code == 0, run.output
    assert codex_backend.requests == []
    assert _snapshot(config.own_auth_path()) == before


# --- issue 6 item 3: the warning through the CLI ---


def test_high_usage_warning_per_window_and_silenced_by_off(codex_backend, codex_login, monkeypatch):
    """Each window warns once; a later prompt in the hour stays quiet; `off` silences it."""
    monkeypatch.setenv("LLM_CODEX_USAGE_WARNING", "off")
    codex_backend.set_rate_limit_headers(
        {"x-codex-primary-used-percent": 95, "x-codex-secondary-used-percent": 92}
    )
    quiet = run_llm("-m", MODEL, "-R", "hi")
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output
    monkeypatch.delenv("LLM_CODEX_USAGE_WARNING")
    loud = run_llm("-m", MODEL, "-R", "hi")
    lines = [line for line in loud.stderr.splitlines() if line.startswith("llm-codex:")]
    assert len(lines) == 2, loud.stderr
    assert "5-hour window" in lines[0] and "weekly window" in lines[1]
    assert run_llm("-m", MODEL, "-R", "again").stderr == ""


# --- issue 6 item 2: `llm codex usage --json` shape ---


def test_usage_json_shape(codex_backend, codex_login):
    run = run_llm("codex", "usage", "--json")
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["cached"] is False
    assert isinstance(data["families"], list) and data["families"]
    window = data["families"][0]["windows"][0]
    assert {"label", "used_percent", "window_minutes", "resets_at"} <= set(window), window
    assert "access_token" not in run.stdout and os.sep not in data.get("plan_type", "")


# --- issue 5 item 6: prompt caching seen by a user ---


def test_repeated_one_off_prompt_reuses_its_key_and_shows_cached_tokens(codex_backend, codex_login):
    """The same one-off prompt twice gets the same key; the second shows cached tokens in
    `llm -u` and in `llm logs --json`; a different prompt gets another key."""
    assert run_llm("-m", MODEL, "-s", "Be brief.", "cache me").exit_code == 0
    again = run_llm("-m", MODEL, "-s", "Be brief.", "-u", "cache me")
    assert again.exit_code == 0, again.output
    assert run_llm("-m", MODEL, "-s", "Be brief.", "something else").exit_code == 0
    first, second, third = _bodies(codex_backend)
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    assert third["prompt_cache_key"] != first["prompt_cache_key"]
    assert "cached_tokens" in again.stderr, again.stderr
    entries = logs_json("-n", "3")
    cached = [json.loads(e.get("token_details") or "{}").get("cached_tokens") for e in entries]
    assert any(c and c > 0 for c in cached), cached


# --- issue 6 item 4: the limit error with the reset only in the headers ---


def test_usage_limit_reset_from_headers_when_the_body_lacks_it(codex_backend, codex_login):
    import re
    import time

    codex_backend.enqueue_usage_limit(plan_type="pro", resets_in=2 * 3600, body_has_reset=False)
    run = run_llm("-m", MODEL, "hi")
    assert_user_error(run, "pro plan")
    match = re.search(r"resets at (\d\d:\d\d), in (1 h 59 min|2 h 00 min)", run.stderr)
    assert match, run.stderr
    expected = {
        time.strftime("%H:%M", time.localtime(time.time() + 2 * 3600 + d)) for d in (-60, 0)
    }
    assert match.group(1) in expected
    assert len(codex_backend.requests_to("/responses")) == 1


# --- issue 3 item 4: the catalog's client version is configurable ---


def test_catalog_client_version_follows_the_environment(codex_backend, codex_login, monkeypatch):
    monkeypatch.setenv("LLM_CODEX_CLIENT_VERSION", "0.321.0")
    run = run_llm("codex", "models", "--refresh")
    assert run.exit_code == 0, run.output
    (request,) = codex_backend.requests_to("/models")
    assert request.query.get("client_version") in ("0.321.0", ["0.321.0"])


# --- issue 4 item 2: the registered loopback port 1457 when 1455 is taken ---


def test_the_callback_listener_falls_back_to_the_second_port():
    import socket

    from llm_codex.auth.login import CallbackListener

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    free_port = spare.getsockname()[1]
    spare.close()
    try:
        listener = CallbackListener(state="s", ports=(busy.getsockname()[1], free_port))
        try:
            assert listener.port == free_port
            assert listener.redirect_uri == f"http://localhost:{free_port}/auth/callback"
        finally:
            listener._server.server_close()
    finally:
        busy.close()


# --- issue 5 item 5: the generated image is recorded with the logged response ---


def test_generated_image_path_is_recorded_in_the_log(codex_backend, codex_login):
    import re
    from pathlib import Path

    png = tiny_png(3, 3)
    codex_backend.enqueue_image_generation(png_bytes=png, revised_prompt="A pelican")
    run = run_llm("-m", MODEL, "-T", "ImageGeneration", "draw a pelican")
    assert run.exit_code == 0, run.output
    path = re.search(r"Image saved to (\S+\.png)", run.stdout).group(1)
    assert Path(path).read_bytes() == png
    (entry,) = logs_json()
    assert path in json.dumps(entry), entry
