"""The fake's ``sse_style`` knob: streams written like another conformant server would."""

from __future__ import annotations

import json

from .fake_helpers import turn


def _blocks(text: str, newline: str = "\n") -> list[list[str]]:
    return [b.split(newline) for b in text.split(newline * 2) if b.strip()]


def test_no_event_lines_crlf_and_no_space(client):
    """``event_lines``/``data_space``/``newline`` change the framing, not the events."""
    client.fake.sse_style = {"event_lines": False, "data_space": False, "newline": "\r\n"}
    text = client.post(turn("hi")).text
    blocks = _blocks(text, "\r\n")
    assert blocks and all(len(b) == 1 and b[0].startswith("data:{") for b in blocks)
    types = [json.loads(b[0][5:])["type"] for b in blocks]
    assert types[0] == "response.created" and types[-1] == "response.completed"


def test_shuffled_keys_extra_and_dropped_fields(client):
    """Key order, extra keys and dropped fields are applied to every event."""
    client.fake.sse_style = {
        "shuffle_keys": True,
        "extra_fields": {"obfuscation": "x"},
        "drop_fields": ["sequence_number"],
        "separators": (", ", ": "),
        "seed": 1,
    }
    events = [json.loads(b[-1][6:]) for b in _blocks(client.post(turn("hi")).text)]
    assert all(e["obfuscation"] == "x" and "sequence_number" not in e for e in events)
    assert any(next(iter(e)) != "type" for e in events)


def test_full_output_and_dropped_item_done(client):
    """``completed_output="full"`` fills ``response.output``; ``drop_types`` removes events."""
    client.fake.sse_style = {
        "completed_output": "full",
        "drop_types": ["response.output_item.done"],
        "multiline": True,
        "comments": True,
    }
    text = client.post(turn("hi")).text
    events = []
    for block in _blocks(text):
        data = [line[6:] for line in block if line.startswith("data: ")]
        assert any(line.startswith(":") for line in block)
        events.append(json.loads("\n".join(data)))
    types = [e["type"] for e in events]
    assert "response.output_item.done" not in types
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "message"]
    assert "You said: hi" in output[1]["content"][0]["text"]
