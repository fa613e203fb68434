"""Helpers for the fake backend's own tests: authenticated calls, request bodies, SSE parsing."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx

from llm_codex.testing import FakeCodexBackend


def parse_sse(raw: str) -> list[tuple[str | None, dict[str, Any]]]:
    """Split an SSE body into (event-line, parsed data) pairs; every frame must have JSON data."""
    frames = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        event = None
        data_lines = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data_lines.append(line[len("data: ") :])
        frames.append((event, json.loads("\n".join(data_lines))))
    return frames


class Client:
    """An httpx client bound to one fake and one set of tokens."""

    def __init__(self, fake: FakeCodexBackend) -> None:
        self.fake = fake
        self.tokens = fake.issue_tokens()
        self.http = httpx.Client(timeout=10, verify=False)  # plain http: skip loading CAs

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.tokens['access_token']}",
            "chatgpt-account-id": self.tokens["account_id"],
            **extra,
        }

    def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return self.http.post(
            self.fake.base_url + "/responses", json=body, headers=self.headers(**headers)
        )

    def events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.post(body)
        assert response.status_code == 200, response.text
        return [data for _, data in parse_sse(response.text)]


def turn(prompt: str = "hello", **overrides: Any) -> dict[str, Any]:
    """A valid request body in the shape our client sends (protocol §13.1)."""
    body = {
        "model": "gpt-5.5",
        "instructions": "You are a helpful assistant.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}
        ],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        "text": {"verbosity": "medium"},
    }
    body.update(overrides)
    return body


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``response.output_item.done`` events, in order."""
    return [e["item"] for e in events if e["type"] == "response.output_item.done"]


def text_of(events: list[dict[str, Any]]) -> str:
    """Concatenated ``response.output_text.delta`` deltas."""
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
