"""Property tests: any text survives the fake's SSE encoding intact."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_codex.testing import FakeCodexBackend
from llm_codex.testing.streams import encode_event, split_text

from .fake_helpers import Client, parse_sse, text_of, turn

# Text as a JSON client can send it: any Unicode scalar value (no lone surrogates).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@pytest.fixture(scope="module")
def shared():
    with FakeCodexBackend() as fake:
        client = Client(fake)
        yield client
        client.http.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXT, size=st.integers(min_value=1, max_value=7))
def test_enqueued_text_round_trips(shared, text, size):
    """Whatever text is enqueued (unicode, newlines, 'data:' lines) arrives byte-identical."""
    shared.fake.enqueue_text(text, chunks=size)
    events = [d for _, d in parse_sse(shared.post(turn()).text)]
    assert text_of(events) == text
    assert events[-1]["type"] == "response.completed"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prompt=TEXT)
def test_prompt_echo_round_trips(shared, prompt):
    """The default reply echoes any user text intact."""
    events = [d for _, d in parse_sse(shared.post(turn(prompt)).text)]
    assert text_of(events) == f"Hello from the fake Codex backend. You said: {prompt}"


@given(text=TEXT, size=st.integers(min_value=1, max_value=9))
def test_split_text_reassembles(text, size):
    """Deltas always join back to the text."""
    assert "".join(split_text(text, size)) == text


@given(text=st.text(max_size=50))
def test_encode_event_single_data_line(text):
    """An encoded event is one event line and one data line, even with newlines or surrogates."""
    frame = encode_event({"type": "response.output_text.delta", "delta": text})
    lines = frame.decode("utf-8").split("\n")
    assert lines[0] == "event: response.output_text.delta"
    assert lines[1].startswith("data: ")
    assert lines[2:] == ["", ""]
