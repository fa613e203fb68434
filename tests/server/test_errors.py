"""Every failure answers in OpenAI's error shape with the right status, through the SDK."""

from __future__ import annotations

import httpx2
import openai
import pytest

CHAT = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}


def _assert_openai_shape(body: dict) -> None:
    assert set(body["error"]) == {"message", "type", "code", "param"}


def test_usage_limit_is_429_with_retry_after(client, codex_login, codex_backend):
    """A usage limit answers 429 with the reset time and a Retry-After header."""
    codex_backend.enqueue_usage_limit(plan_type="plus", resets_in=3600)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(**CHAT)
    err = info.value
    assert err.code == "usage_limit_reached"
    assert "Usage limit reached on your ChatGPT plus plan" in err.message
    assert 3500 <= int(err.response.headers["retry-after"]) <= 3601


def test_not_signed_in_is_401(client, codex_backend):
    """Without a login the server answers 401 telling how to sign in."""
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(**CHAT)
    assert info.value.code == "not_signed_in"
    assert "llm codex login" in info.value.message


def test_cloudflare_block_is_502_with_explanation(client, codex_login, codex_backend):
    """A Cloudflare challenge answers 502 explaining the block happened before OpenAI."""
    codex_backend.enqueue_cloudflare()
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="gpt-5.5", input="hi")
    assert info.value.status_code == 502
    assert info.value.code == "cloudflare_blocked"
    assert "Cloudflare" in info.value.message


def test_upstream_5xx_is_502(client, codex_login, codex_backend):
    """Backend 5xx answers that outlast the retries become a 502."""
    codex_backend.enqueue_server_error(status=500, times=5)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(**CHAT)
    assert info.value.status_code == 502
    codex_backend.clear_scenarios()


def test_rejected_parameter_is_400(client, codex_login, codex_backend):
    """A value the backend rejects (an unknown reasoning effort) is passed back as a 400."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**CHAT, reasoning_effort="ludicrous")
    assert "ludicrous" in info.value.message


def test_unknown_model_is_404(client, codex_login, codex_backend):
    """An unknown model answers 404 model_not_found."""
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-0-nope", messages=CHAT["messages"])
    assert info.value.code == "model_not_found"


def test_context_window_is_400(client, codex_login, codex_backend):
    """A conversation longer than the context window answers 400 context_length_exceeded."""
    codex_backend.enqueue_failed(code="context_length_exceeded")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**CHAT)
    assert info.value.code == "context_length_exceeded"


def test_malformed_json_and_body_limit(serve, codex_login):
    """Bad JSON answers 400; a body over --max-body answers 413, both OpenAI-shaped."""
    server = serve(max_body=1024)
    url = server.url + "/v1/chat/completions"
    bad = httpx2.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400
    _assert_openai_shape(bad.json())
    assert bad.json()["error"]["code"] == "invalid_json"
    big = httpx2.post(url, json={**CHAT, "pad": "x" * 5000})
    assert big.status_code == 413
    _assert_openai_shape(big.json())

    def chunks():
        yield b'{"model": "gpt-5.5", "pad": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = httpx2.post(url, content=chunks())  # no Content-Length: counted while read
    assert streamed.status_code == 413


def test_mid_stream_drop_chat(client, codex_login, codex_backend):
    """A stream that breaks after some text ends with an error the SDK raises."""
    codex_backend.enqueue_drop(after_deltas=3, text="one two three four five six seven")
    stream = client.chat.completions.create(**CHAT, stream=True)
    got = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got)
    assert "stream" in info.value.message.lower() or "closed" in info.value.message.lower()


def test_mid_stream_drop_responses(client, codex_login, codex_backend):
    """A broken /v1/responses stream ends with an SSE error event."""
    codex_backend.enqueue_drop(after_deltas=3, text="one two three four five six seven")
    events = list(client.responses.create(model="gpt-5.5", input="hi", stream=True))
    assert events[-1].type == "error"
    assert events[-1].code == "stream_error"
    assert any(e.type == "response.output_text.delta" for e in events)


def test_unknown_path_is_openai_shaped_404(server):
    """Unknown endpoints answer an OpenAI-shaped 404."""
    r = httpx2.get(server.url + "/v1/nothing")
    assert r.status_code == 404
    _assert_openai_shape(r.json())
