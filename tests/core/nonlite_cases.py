"""Representative non-lite requests whose wire form is pinned byte for byte
(``tests/data/nonlite-golden.json``, made by the code before the Responses Lite form existed)."""

from __future__ import annotations

from llm_codex.core.types import CodexRequest

PNG_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpe"
    "qz8AAAAASUVORK5CYII="
)
_USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
_TOOL = {
    "type": "function",
    "name": "add",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
    "strict": False,
    "description": "Add",
}


def cases() -> dict[str, CodexRequest]:
    """Name -> request; fresh objects each call."""
    return {
        "plain": CodexRequest(model="gpt-5.5", input=[dict(_USER)]),
        "everything": CodexRequest(
            model="gpt-5.5",
            instructions="Be brief.",
            input=[
                {"type": "message", "role": "system", "content": "sys", "id": "msg_x"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": PNG_URL, "detail": "high"},
                    ],
                },
                {"type": "reasoning", "summary": [], "encrypted_content": "enc", "id": "rs_1"},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "add",
                    "arguments": "{}",
                    "namespace": "functions",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "3"},
            ],
            tools=[dict(_TOOL), {"type": "web_search"}],
            tool_choice="required",
            parallel_tool_calls=True,
            reasoning_effort="high",
            reasoning_summary="auto",
            verbosity="low",
            text_format={"type": "json_schema", "name": "x", "schema": {}, "strict": True},
            service_tier="priority",
            session_id="0196f2d8-7c1e-7a53-9a51-3f7f0d2b9c11",
        ),
        "no_reasoning": CodexRequest(
            model="gpt-5.3-codex-spark",
            input=[dict(_USER)],
            parallel_tool_calls=False,
            include_encrypted_reasoning=False,
        ),
    }
