"""Hosted (server-side) tools: web search and image generation, and what their output becomes.

Users switch them on with llm's ``-T`` option, by class name::

    llm -m openai-codex/gpt-5.5 -T WebSearch 'What changed in Python 3.14?'
    llm -m openai-codex/gpt-5.5 -T 'WebSearch({"allowed_domains": ["python.org"]})' '...'
    llm -m openai-codex/gpt-5.5 -T ImageGeneration 'Draw a pelican on a bicycle'

(``llm tools -m openai-codex/gpt-5.5`` lists them.) The backend runs them itself; their output
items (``web_search_call``, ``image_generation_call``) become llm tool-call and tool-result
events marked ``server_executed``, which llm records but never runs and which are not replayed
on later turns.

Generated images are saved as PNG files under ``<llm user dir>/llm-codex/images/`` named
``<llm response id>-<n>.png``. The path is printed with the answer (a text event
``Image saved to <path>``) and recorded as the tool result in ``llm logs``.

Web-search citations (``url_citation`` annotations on the answer's text) become a "Sources:"
footer through :func:`citations_text`; the runtime appends it to the answer.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
from pathlib import Path
from typing import Any, Literal

import click
import llm
from llm.parts import StreamEvent

from llm_codex import config
from llm_codex.core.catalog import ModelInfo

__all__ = [
    "ImageGeneration",
    "ToolOptionError",
    "WebSearch",
    "citations_text",
    "image_path_for",
    "server_item_events",
    "server_side_tools_for",
]


class ToolOptionError(ValueError, click.ClickException):
    """A bad option of a hosted tool, e.g. ``-T 'WebSearch({"allowed_domains": "x"})'``.

    A ``ValueError`` for Python callers. llm's CLI builds ``-T`` tools outside its own error
    handling, so it is also a ``click.ClickException``: the user sees one ``Error: ...`` line
    and exit code 1 instead of a traceback.
    """

    def __init__(self, message: str) -> None:
        click.ClickException.__init__(self, message)


def _hide_catch_all(cls: type) -> type:
    """Show ``cls``'s real options as its signature (``llm tools`` prints it): the ``**unknown``
    catch-all exists only so that a misspelt option is refused in one sentence, not with a
    TypeError traceback from llm."""
    signature = inspect.signature(cls)
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    cls.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    return cls


def _refuse_unknown(tool: str, unknown: dict[str, Any], known: tuple[str, ...]) -> None:
    if unknown:
        names = ", ".join(repr(name) for name in sorted(unknown))
        raise ToolOptionError(f"{tool} has no option {names}; its options are {', '.join(known)}.")


@_hide_catch_all
class WebSearch(llm.ServerSideTool):
    """Search the web with the Codex backend's hosted search tool (models whose catalog entry
    lists web search). Optional: allowed_domains (list of domains without scheme),
    search_context_size (low, medium or high), user_location (dict with country, city,
    region, timezone), external_web_access (false: cached results only),
    search_content_types (["text"] or ["text", "image"]; image search only on models with
    text_and_image web search)."""

    name = "web_search"
    plugin = "llm-codex"

    def __init__(
        self,
        allowed_domains: list[str] | None = None,
        search_context_size: Literal["low", "medium", "high"] | None = None,
        user_location: dict | None = None,
        external_web_access: bool | None = None,
        search_content_types: list[Literal["text", "image"]] | None = None,
        **unknown: Any,
    ):
        super().__init__()
        _refuse_unknown(
            "WebSearch",
            unknown,
            (
                "allowed_domains",
                "search_context_size",
                "user_location",
                "external_web_access",
                "search_content_types",
            ),
        )
        if allowed_domains is not None:
            if not isinstance(allowed_domains, list) or not all(
                isinstance(d, str) and d for d in allowed_domains
            ):
                raise ToolOptionError("allowed_domains must be a list of domain names")
            if any(d.lower().startswith(("http://", "https://")) for d in allowed_domains):
                raise ToolOptionError("allowed_domains entries must omit the URL scheme")
        if search_context_size not in (None, "low", "medium", "high"):
            raise ToolOptionError("search_context_size must be low, medium or high")
        if user_location is not None and not isinstance(user_location, dict):
            raise ToolOptionError("user_location must be a dictionary")
        if external_web_access is not None and not isinstance(external_web_access, bool):
            raise ToolOptionError("external_web_access must be true or false")
        if search_content_types is not None and (
            not isinstance(search_content_types, list)
            or not set(search_content_types) <= {"text", "image"}
        ):
            raise ToolOptionError('search_content_types must be a list of "text" and/or "image"')
        self.allowed_domains = list(allowed_domains) if allowed_domains is not None else None
        self.search_context_size = search_context_size
        self.user_location = dict(user_location) if user_location is not None else None
        if self.user_location is not None:
            self.user_location.setdefault("type", "approximate")
        self.external_web_access = external_web_access
        self.search_content_types = (
            list(search_content_types) if search_content_types is not None else None
        )

    def tool_spec(self, model: Any) -> dict:
        """``{"type": "web_search", ...}`` with the options that were set."""
        spec: dict[str, Any] = {"type": "web_search"}
        if self.allowed_domains is not None:
            spec["filters"] = {"allowed_domains": list(self.allowed_domains)}
        if self.user_location is not None:
            spec["user_location"] = dict(self.user_location)
        if self.search_context_size is not None:
            spec["search_context_size"] = self.search_context_size
        if self.external_web_access is not None:
            spec["external_web_access"] = self.external_web_access
        if self.search_content_types is not None:
            spec["search_content_types"] = list(self.search_content_types)
        return spec


@_hide_catch_all
class ImageGeneration(llm.ServerSideTool):
    """Generate images with the Codex backend's hosted image tool; each image is saved as a
    PNG under <llm user dir>/llm-codex/images/ and its path printed. Optional: size (auto,
    1024x1024, 1024x1536 or 1536x1024), quality (auto, low, medium or high), background
    (auto, transparent or opaque). Reported to work on ChatGPT plans but not guaranteed."""

    name = "image_generation"
    plugin = "llm-codex"

    def __init__(
        self,
        size: Literal["auto", "1024x1024", "1024x1536", "1536x1024"] | None = None,
        quality: Literal["auto", "low", "medium", "high"] | None = None,
        background: Literal["auto", "transparent", "opaque"] | None = None,
        **unknown: Any,
    ):
        super().__init__()
        _refuse_unknown("ImageGeneration", unknown, ("size", "quality", "background"))
        if size not in (None, "auto", "1024x1024", "1024x1536", "1536x1024"):
            raise ToolOptionError("size must be auto, 1024x1024, 1024x1536 or 1536x1024")
        if quality not in (None, "auto", "low", "medium", "high"):
            raise ToolOptionError("quality must be auto, low, medium or high")
        if background not in (None, "auto", "transparent", "opaque"):
            raise ToolOptionError("background must be auto, transparent or opaque")
        self.size = size
        self.quality = quality
        self.background = background

    def tool_spec(self, model: Any) -> dict:
        """``{"type": "image_generation", "output_format": "png", ...}``."""
        spec: dict[str, Any] = {"type": "image_generation", "output_format": "png"}
        for key in ("size", "quality", "background"):
            value = getattr(self, key)
            if value is not None:
                spec[key] = value
        return spec


def server_side_tools_for(model: ModelInfo) -> tuple[type[llm.ServerSideTool], ...]:
    """The hosted tools ``model`` accepts via ``-T``; raw ``ServerSideTool({...})`` specs too.

    Web search where the catalog lists it; image generation where the catalog says so (no
    catalog field exists for it today: :class:`ModelInfo` then offers it on image-capable
    models). None for a Responses Lite model (so ``llm tools -m`` lists none, and llm itself
    refuses one before anything is sent).
    """
    if model.use_responses_lite:
        return ()
    tools: list[type[llm.ServerSideTool]] = []
    if model.supports_web_search:
        tools.append(WebSearch)
    if model.supports_image_generation:
        tools.append(ImageGeneration)
    tools.append(llm.ServerSideTool)
    return tuple(tools)


# --- output items ------------------------------------------------------------------------------


def image_path_for(response_id: str) -> Path:
    """A fresh ``<state dir>/images/<response_id>-<n>.png`` path (directory created, 0700)."""
    directory = config.state_dir() / "images"
    directory.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = directory / f"{response_id}-{n}.png"
        if not path.exists():
            return path
        n += 1


def _save_image(data_b64: str, response_id: str) -> Path:
    data = base64.b64decode(data_b64, validate=False)
    path = image_path_for(response_id)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def server_item_events(
    item: dict[str, Any], *, response: Any, message_index: int = 0
) -> list[StreamEvent]:
    """llm events for a hosted tool's output item; ``[]`` for any other item type.

    ``web_search_call`` → a ``web_search`` tool call (its ``action`` as arguments) and a result
    (the sources when the backend listed them, else the status). ``image_generation_call`` →
    the image is decoded and saved (see :func:`image_path_for`), then a tool call (the revised
    prompt), a tool result ``Image saved to <path>`` and a text event with the same line.
    """
    kind = item.get("type")
    item_id = item.get("id") or item.get("call_id")
    common = {"tool_call_id": item_id, "server_executed": True, "message_index": message_index}
    if kind == "web_search_call":
        action = item.get("action") or {}
        sources = action.get("sources") if isinstance(action, dict) else None
        return [
            StreamEvent(type="tool_call_name", chunk="web_search", **common),
            StreamEvent(type="tool_call_args", chunk=json.dumps(action), **common),
            StreamEvent(
                type="tool_result",
                chunk=json.dumps(sources) if sources else str(item.get("status") or "completed"),
                tool_name="web_search",
                **common,
            ),
        ]
    if kind == "image_generation_call":
        args = {"revised_prompt": item["revised_prompt"]} if item.get("revised_prompt") else {}
        events = [
            StreamEvent(type="tool_call_name", chunk="image_generation", **common),
            StreamEvent(type="tool_call_args", chunk=json.dumps(args), **common),
        ]
        result = item.get("result")
        if isinstance(result, str) and result:
            try:
                path = _save_image(result, str(getattr(response, "id", None) or "image"))
            except (binascii.Error, ValueError, OSError) as exc:
                line = f"The generated image could not be saved: {exc}"
            else:
                line = f"Image saved to {path}"
        else:
            line = f"No image was returned (status: {item.get('status') or 'unknown'})."
        events.append(
            StreamEvent(type="tool_result", chunk=line, tool_name="image_generation", **common)
        )
        events.append(StreamEvent(type="text", chunk=line + "\n", message_index=message_index))
        return events
    return []


def citations_text(item: dict[str, Any]) -> str:
    """A "Sources:" footer for a ``message`` item whose text cites web pages, else ``""``.

    One line per distinct cited URL, in order of first citation: ``- Title: url`` (or just the
    URL when there is no title). The footer starts with a blank line and has no trailing newline,
    so it can be appended to the answer as is.
    """
    if item.get("type") != "message":
        return ""
    seen: dict[str, str] = {}
    for part in item.get("content") or []:
        if not isinstance(part, dict):
            continue
        for note in part.get("annotations") or []:
            if not isinstance(note, dict) or note.get("type") != "url_citation":
                continue
            url = note.get("url")
            if isinstance(url, str) and url and url not in seen:
                seen[url] = str(note.get("title") or "").strip()
    if not seen:
        return ""
    lines = [f"- {title}: {url}" if title else f"- {url}" for url, title in seen.items()]
    return "\n\nSources:\n" + "\n".join(lines)
