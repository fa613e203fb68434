"""The server lets go: of upstream requests nobody waits for, of idle and slow connections,
and of what it writes to its log."""

from __future__ import annotations

import threading

import httpx2
import pytest

from llm_codex.auth import default_auth_manager
from llm_codex.core.client import AsyncCodexClient
from llm_codex.server.app import ServerSettings
from llm_codex.server.runner import ServerThread


class UpstreamSpy:
    """The real core client, recording whether each upstream stream was read to its end or
    closed before (what the user's plan pays for)."""

    def __init__(self) -> None:
        self._client: AsyncCodexClient | None = None
        self.outcomes: list[str] = []
        self.finished = threading.Event()

    def stream_batches(self, req):
        if self._client is None:
            self._client = AsyncCodexClient(credentials=default_auth_manager())
        return self._relay(self._client.stream_batches(req))

    async def _relay(self, batches):
        count = 0
        outcome = "abandoned"
        try:
            async for batch in batches:
                count += len(batch)
                outcome = f"abandoned after {count} events"
                yield batch
            outcome = "read to the end"
        finally:
            await batches.aclose()
            self.outcomes.append(outcome)
            self.finished.set()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/responses", {"input": "hi"}),
    ],
)
def test_non_streaming_client_hanging_up_cancels_the_upstream_request(
    codex_backend, codex_login, path, body
):
    """Reproduced: the upstream request of a non-streaming client that hung up ran to the end
    (20/20); it is closed as soon as the client leaves, as the streaming path does."""
    codex_backend.enqueue_slow(" ".join(["word"] * 40), delay=0.2)  # about 8 s if read through
    spy = UpstreamSpy()
    with ServerThread(ServerSettings(port=0), client=spy) as server:
        with pytest.raises(httpx2.TimeoutException):
            httpx2.post(server.url + path, json={"model": "gpt-5.5", **body}, timeout=1.0)
        assert spy.finished.wait(30)
    assert spy.outcomes[0].startswith("abandoned")
