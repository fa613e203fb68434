"""Turns through the async client reuse one pooled connection to the backend."""

from __future__ import annotations

import asyncio

from llm_codex.core.client import AsyncCodexClient
from llm_codex.core.types import CodexRequest, Completed


def _request(text: str) -> CodexRequest:
    return CodexRequest(
        model="gpt-5.5",
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        ],
    )


async def test_consecutive_turns_share_one_connection(codex_backend, codex_login, patient_drain):
    """Five turns in a row open one TCP connection, not five (no handshake per turn)."""
    from llm_codex.auth import AuthManager

    client = AsyncCodexClient(credentials=AuthManager())
    before = codex_backend.connections_accepted
    for n in range(5):
        events = [event async for event in client.stream(_request(f"turn {n}"))]
        assert isinstance(events[-1], Completed)
        assert events[-1].result.text.endswith(f"You said: turn {n}")
    assert codex_backend.connections_accepted - before == 1
    await client.aclose()


async def test_a_stream_held_open_after_completion_still_returns_promptly(
    codex_backend, codex_login
):
    """A backend that keeps the body open after response.completed costs at most a moment."""
    from llm_codex.auth import AuthManager

    codex_backend.sse_style = {"hold_open": 30}
    client = AsyncCodexClient(credentials=AuthManager())
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = [event async for event in client.stream(_request("hold"))]
    assert isinstance(events[-1], Completed)
    assert loop.time() - start < 10  # bounded by the drain, far below the held-open 30 s
    await client.aclose()
