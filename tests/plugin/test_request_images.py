"""Image attachments: inlined as data URLs, with type, validity and size checks."""

from __future__ import annotations

import base64

import llm
import pytest
from llm.parts import ToolCallPart, ToolResultPart

from llm_codex.core.errors import ConfigurationError
from llm_codex.plugin.messages import MAX_IMAGE_BYTES

from .request_support import GPT55, JPEG, MINI, PNG, TEXT_ONLY, build


def _user_parts(req):
    return [item for item in req.input if item.get("role") == "user"][-1]["content"]


def test_png_file_is_sent_as_a_data_url(tmp_path):
    """`-a pelican.png` sends the image inline as a base64 data URL after the text."""
    path = tmp_path / "pelican.png"
    path.write_bytes(PNG)
    req = build(text="What is this?", attachments=[llm.Attachment(path=str(path))])
    text, image = _user_parts(req)
    assert text == {"type": "input_text", "text": "What is this?"}
    assert image == {
        "type": "input_image",
        "image_url": "data:image/png;base64," + base64.b64encode(PNG).decode(),
    }


def test_image_detail_option_is_applied():
    """-o image_detail high sets detail on every image."""
    req = build(
        attachments=[llm.Attachment(type="image/jpeg", content=JPEG)],
        options={"image_detail": "high"},
    )
    assert _user_parts(req)[1]["detail"] == "high"
    assert _user_parts(req)[1]["image_url"].startswith("data:image/jpeg;base64,")


def test_history_images_are_replayed():
    """An image from an earlier turn is sent again with the history (llm -c)."""
    messages = [
        llm.user("Describe", llm.Attachment(type="image/png", content=PNG)),
        llm.assistant("A dot."),
        llm.user("What colour?"),
    ]
    req = build(text=None, messages=messages)
    assert req.input[0]["content"][1]["type"] == "input_image"


def test_unsupported_type_is_refused():
    """A PDF attachment is refused with the accepted types listed."""
    with pytest.raises(
        ConfigurationError, match=r"application/pdf are not supported by openai-codex/gpt-5\.5"
    ):
        build(
            text=None,
            messages=[llm.user("x", llm.Attachment(type="application/pdf", content=b"%PDF-1.4"))],
        )


def test_model_without_image_input_refuses_images():
    """A text-only model refuses image attachments before anything is sent."""
    with pytest.raises(ConfigurationError, match="does not accept images"):
        build(
            TEXT_ONLY,
            text=None,
            messages=[llm.user("x", llm.Attachment(type="image/png", content=PNG))],
        )


def test_bytes_that_are_not_an_image_are_refused():
    """Content labelled PNG that is not an image is refused locally, not by a backend 400."""
    with pytest.raises(ConfigurationError, match="not a valid PNG, JPEG, WEBP or GIF image"):
        build(attachments=[llm.Attachment(type="image/png", content=b"hello world")])


def test_images_over_the_size_limit_are_refused():
    """Images over 20 MiB are refused with their size and the limit."""
    big = PNG + b"\x00" * (MAX_IMAGE_BYTES + 1)
    with pytest.raises(
        ConfigurationError, match=r"is 20\.0 MiB, over the 20 MiB limit for images llm-codex sends"
    ):
        build(attachments=[llm.Attachment(type="image/png", content=big)])


def test_missing_file_is_one_clear_sentence(tmp_path):
    """A vanished attachment file is reported, not a traceback."""
    with pytest.raises(ConfigurationError, match="Could not read the attachment"):
        build(attachments=[llm.Attachment(type="image/png", path=str(tmp_path / "gone.png"))])


def test_detail_original_is_refused_where_unsupported():
    """image_detail original on a model without it never reaches the backend."""
    from llm_codex.plugin.request import build_codex_request

    from .request_support import make_prompt

    prompt = make_prompt(MINI)
    prompt.options = make_prompt(GPT55, options={"image_detail": "original"}).options
    with pytest.raises(ConfigurationError, match="image_detail 'original'"):
        build_codex_request(prompt, model=MINI)


def test_tool_result_images_become_output_parts():
    """A tool that returns an image sends it back as an input_image part of its output."""
    messages = [
        llm.user("screenshot please"),
        llm.assistant(ToolCallPart(name="shot", arguments={}, tool_call_id="call_1")),
        llm.tool_message(
            ToolResultPart(
                name="shot",
                output="here",
                tool_call_id="call_1",
                attachments=[llm.Attachment(type="image/png", content=PNG)],
            )
        ),
    ]
    req = build(text=None, messages=messages)
    output = req.input[-1]["output"]
    assert output[0] == {"type": "input_text", "text": "here"}
    assert output[1]["type"] == "input_image"


def test_url_attachment_is_fetched_and_inlined(tmp_path):
    """`-a https://.../x.png` is fetched by llm and sent inline (the backend takes data URLs)."""
    import functools
    import http.server
    import threading

    (tmp_path / "dot.png").write_bytes(PNG)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dot.png"
        req = build(attachments=[llm.Attachment(url=url)])
    finally:
        server.shutdown()
        server.server_close()
    assert _user_parts(req)[1]["image_url"] == (
        "data:image/png;base64," + base64.b64encode(PNG).decode()
    )
