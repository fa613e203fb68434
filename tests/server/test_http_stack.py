"""The HTTP stack under the server: uvloop + httptools when installed, the pure-Python
asyncio + h11 fallback otherwise, with the same answers on both."""

from __future__ import annotations

import importlib.util

import openai
import pytest

from llm_codex.server.runner import ServerThread, describe_stack, http_stack
from llm_codex.server.settings import ServerSettings


def test_the_fast_stack_is_used_when_installed():
    """uvloop and httptools are picked whenever they can be imported."""
    loop, http = http_stack()
    assert loop == ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    assert http == ("httptools" if importlib.util.find_spec("httptools") else "h11")
    assert describe_stack(("uvloop", "httptools")) == "HTTP stack: uvloop + httptools"
    assert "fallback" in describe_stack(("asyncio", "h11"))


@pytest.mark.parametrize("stack", [("asyncio", "h11"), ("asyncio", "httptools")])
def test_pure_python_fallback_streams_the_same(codex_backend, codex_login, stack):
    """A streamed chat completion through the fallback stack: text, one finish, usage."""
    codex_backend.enqueue_text("Hello from the fallback stack.", chunks=3)
    with ServerThread(ServerSettings(port=0), stack=stack) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
        chunks = list(
            client.chat.completions.create(
                model="gpt-5.5",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert text == "Hello from the fallback stack."
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
