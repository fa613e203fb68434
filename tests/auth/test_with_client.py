"""The auth manager as the core client's credential provider, against the fake backend."""

from __future__ import annotations

from llm_codex.auth.manager import AuthManager
from llm_codex.core.client import AsyncCodexClient, CodexClient
from llm_codex.core.types import CodexRequest


def _request() -> CodexRequest:
    return CodexRequest(
        model="gpt-5.5",
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    )


def test_a_401_refreshes_once_and_the_prompt_succeeds(codex_backend, codex_login):
    """A token the server stopped accepting is refreshed once and the request is resent."""
    codex_backend.expire_access_token(codex_login["access_token"])
    result = CodexClient(credentials=AuthManager()).complete(_request())
    assert "You said: hi" in result.text
    assert codex_backend.refresh_count == 1
    statuses = [r.status for r in codex_backend.requests_to("/responses")]
    assert statuses == [401, 200]


async def test_async_prompts_refresh_once(codex_backend, codex_login):
    """Async requests with a rejected token share one refresh."""
    import asyncio

    codex_backend.expire_access_token(codex_login["access_token"])
    client = AsyncCodexClient(credentials=AuthManager())
    results = await asyncio.gather(*(client.complete(_request()) for _ in range(4)))
    assert all("You said: hi" in r.text for r in results)
    assert codex_backend.refresh_count == 1
