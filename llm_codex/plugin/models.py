"""The ``openai-codex/<slug>`` llm models (sync and async) and their registration.

Registration (:func:`register_all`) reads the catalog with
:func:`llm_codex.core.catalog.load_models` (one small file or the built-in list) and builds one
sync and one async model per entry. It makes no network call, reads no credentials and never
refreshes a token; the per-model ``Options`` classes come from the request translator's cache.

A prompt (``execute``):

1. is translated into a :class:`~llm_codex.core.types.CodexRequest` by
   :func:`llm_codex.plugin.request.build_codex_request` (bad options, attachments or schemas fail
   here, before anything is sent; the instructions and first input key the prompt cache);
2. is streamed with the process-wide core client over :func:`llm_codex.auth.default_auth_manager`;
3. has its events translated by :class:`llm_codex.plugin.events.EventTranslator`;
4. after a successful answer, prints the rate-limit warnings of
   :func:`llm_codex.core.ratelimits.record_response_snapshot` on stderr and, at most once per
   process, refreshes a stale model catalog (short timeout, errors ignored).

Every :class:`~llm_codex.core.errors.CodexError` is raised to llm as :class:`CodexModelError`
(an ``llm.ModelError``) holding the error's one sentence, so the CLI prints ``Error: <sentence>``
and exits 1 without a traceback. When the answer was cut off (``response.incomplete``) or the
stream broke, the text that arrived has already been streamed (and, on a terminal, its line is
ended so the error starts on a line of its own); the error says what happened. A failed request's
rate-limit snapshot (e.g. the exhausted window of a usage-limit answer) is saved for
``llm codex usage --cached``, without a warning line.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import click
import llm

from llm_codex.core.catalog import MODEL_PREFIX, ModelInfo, load_models
from llm_codex.core.errors import CodexError, IncompleteResponse
from llm_codex.core.types import CodexRequest, CodexResult, Completed, TextDelta
from llm_codex.plugin.events import EventTranslator
from llm_codex.plugin.hosted_tools import (
    citations_text,
    server_item_events,
    server_side_tools_for,
)
from llm_codex.plugin.messages import METADATA_KEY
from llm_codex.plugin.options import options_class
from llm_codex.plugin.request import attachment_types_for, build_codex_request

__all__ = [
    "AsyncCodexModel",
    "CodexModel",
    "CodexModelError",
    "model_error",
    "register_all",
]

#: Timeout (seconds) of the lazy catalog refresh that follows a successful answer.
CATALOG_REFRESH_TIMEOUT = 5.0


class CodexModelError(llm.ModelError, click.ClickException):
    """An llm-codex failure shown to the user; ``codex_error`` is the underlying core error.

    It is also a ``click.ClickException``: where llm's CLI does not catch model errors itself
    (``llm chat``), click still prints ``Error: <sentence>`` and exits 1 instead of showing a
    traceback. For Python callers it is an ordinary ``llm.ModelError``.
    """

    def __init__(self, message: str, *, codex_error: CodexError | None = None) -> None:
        click.ClickException.__init__(self, message)
        self.codex_error = codex_error


def _describe(err: CodexError) -> str:
    """The one sentence shown to the user for a core error."""
    if isinstance(err, IncompleteResponse):
        reason = err.reason or "no reason given"
        return (
            f"The answer was cut off before the end (truncated: {reason}); "
            "only the part that arrived was shown."
        )
    return str(err) or err.__class__.__name__


def model_error(err: CodexError) -> CodexModelError:
    """The llm error for a core error."""
    return CodexModelError(_describe(err), codex_error=err)


# --- process-wide clients --------------------------------------------------------------------

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def shared_client_of(clients: dict[str, Any], kind: str, make: Callable[[], dict[str, Any]]) -> Any:
    """The client of ``kind`` (``"sync"`` or ``"async"``) kept in ``clients``, made on first use
    with the keyword arguments ``make()`` returns (credentials, route, ...)."""
    client = clients.get(kind)
    if client is None:
        with _lock:
            client = clients.get(kind)
            if client is None:
                from llm_codex.core.client import AsyncCodexClient, CodexClient

                factory = CodexClient if kind == "sync" else AsyncCodexClient
                client = clients[kind] = factory(**make())
    return client


def _codex_client_args() -> dict[str, Any]:
    from llm_codex.auth import default_auth_manager

    return {"credentials": default_auth_manager()}


def _shared(kind: str) -> Any:
    """The process-wide core client of ``kind`` (``"sync"`` or ``"async"``), made on first use."""
    return shared_client_of(_clients, kind, _codex_client_args)


def sync_client() -> Any:
    """The process-wide :class:`~llm_codex.core.client.CodexClient`."""
    return _shared("sync")


def async_client() -> Any:
    """The process-wide :class:`~llm_codex.core.client.AsyncCodexClient` (one per process; the
    core keeps one connection pool per event loop)."""
    return _shared("async")


def reset_clients() -> None:
    """Forget the process-wide clients and the catalog-refresh memo (tests)."""
    global _catalog_refresh_done
    with _lock:
        _clients.clear()
        _catalog_refresh_done = False


# --- after a successful answer -----------------------------------------------------------------

_catalog_refresh_done = False


def _warn_rate_limits(result: CodexResult, translator: EventTranslator) -> None:
    """Save the passive rate-limit snapshot; print its warning lines on stderr (on a terminal,
    after ending the answer's unfinished line, so a warning never glues onto the answer)."""
    if result.rate_limits is None:
        return
    from llm_codex.core.ratelimits import record_response_snapshot

    try:
        lines = record_response_snapshot(result.rate_limits)
    except (OSError, CodexError):
        return  # bookkeeping must never spoil an answer that arrived
    if not lines:
        return
    _end_open_line(translator)
    for line in lines:
        sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def _end_open_line(translator: EventTranslator) -> None:
    """When part of an answer was printed on a terminal and its line is unfinished, finish it
    (on stderr, so the answer's text stays exactly as it arrived) before an error or a warning
    is printed: ``Error: ...`` or ``llm-codex: 93% ...`` then starts on a line of its own
    instead of gluing onto the answer."""
    if not translator.open_line:
        return
    with contextlib.suppress(Exception):
        if sys.stdout.isatty() and sys.stderr.isatty():
            sys.stdout.flush()
            sys.stderr.write("\n")
            sys.stderr.flush()


def _keep_error_snapshot(err: CodexError) -> None:
    """Save the rate-limit snapshot a failed request carried, without printing anything.

    A usage-limit answer (429) carries ``x-codex-*`` headers that show the exhausted window
    (``err.rate_limits``); a broken stream's partial result carries those of its 200 answer.
    Keeping them means ``llm codex usage --cached`` shows why requests fail. No warning line is
    printed here: the error itself is the one sentence the user sees.
    """
    snapshot = getattr(err, "rate_limits", None)
    if snapshot is None:
        partial = getattr(err, "partial", None)
        snapshot = getattr(partial, "rate_limits", None)
    if snapshot is None:
        return
    from llm_codex.core.ratelimits import save_snapshot

    with contextlib.suppress(Exception):  # bookkeeping must never hide the real error
        save_snapshot(snapshot)


def _refresh_catalog_if_stale() -> None:
    """Refresh a stale catalog cache once per process; any failure is ignored (next time)."""
    global _catalog_refresh_done
    if _catalog_refresh_done:
        return
    _catalog_refresh_done = True
    from llm_codex.core.catalog import cache_is_stale, refresh_cache

    with contextlib.suppress(Exception):
        if cache_is_stale():
            refresh_cache(_CatalogFetcher())


class _CatalogFetcher:
    """``get_json`` for the lazy refresh: one attempt, short timeout, the shared credentials."""

    def get_json(self, url: str, params: Any = None) -> Any:
        from llm_codex.auth import default_auth_manager
        from llm_codex.core.client import CodexClient

        client = CodexClient(credentials=default_auth_manager(), max_attempts=1)
        return client.get_json(url, params=params, timeout=CATALOG_REFRESH_TIMEOUT)


# --- the models ----------------------------------------------------------------------------


class _SharedCodex:
    """What sync and async models share: identity, capabilities, options, request building."""

    needs_key = None
    can_stream = True
    supports_tools = True
    supports_schema = True

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.model_id = MODEL_PREFIX + info.slug
        self.attachment_types = attachment_types_for(info)

    @property
    def Options(self) -> type[llm.Options]:
        """The model's ``-o`` options class, built on first use, so registering every model at
        llm start-up builds none (``options_class`` caches them)."""
        return options_class(self.info)

    @property
    def supported_server_side_tools(self) -> tuple[type[llm.ServerSideTool], ...]:
        return server_side_tools_for(self.info)

    def __str__(self) -> str:
        return f"OpenAI Codex: {self.model_id}"

    def _request(self, prompt: llm.Prompt, conversation: Any) -> CodexRequest:
        """The core request for this prompt (raises ConfigurationError before sending, e.g. for
        a model that needs the unsupported "Responses Lite" form)."""
        return build_codex_request(prompt, model=self.info)

    # hooks the official route's models (plugin/plan_models.py) override

    def _sync_client(self) -> Any:
        return sync_client()

    def _async_client(self) -> Any:
        return async_client()

    def _model_error(self, err: CodexError) -> CodexModelError:
        return model_error(err)

    def _after_success(self, result: CodexResult, translator: EventTranslator) -> None:
        _warn_rate_limits(result, translator)

    def _refresh_due(self) -> bool:
        return not _catalog_refresh_done

    def _lazy_refresh(self) -> None:
        _refresh_catalog_if_stale()

    def _translator(self, response: Any) -> EventTranslator:
        return EventTranslator(
            response=response,
            metadata_key=METADATA_KEY,
            model_slug=self.info.slug,
            server_item_events=server_item_events,
            citations_text=citations_text,
        )


def _record_partial(translator: EventTranslator, err: CodexError) -> None:
    """Keep usage and ids of a partial result attached to an error, when there is one, and
    the error's rate-limit snapshot."""
    partial = getattr(err, "partial", None)
    if isinstance(partial, CodexResult):
        with contextlib.suppress(Exception):
            translator.record(partial)
    _keep_error_snapshot(err)


class CodexModel(_SharedCodex, llm.Model):
    """A Codex model on the user's ChatGPT plan, e.g. ``openai-codex/gpt-5.5``."""

    def execute(
        self,
        prompt: llm.Prompt,
        stream: bool,
        response: llm.Response,
        conversation: llm.Conversation | None = None,
    ) -> Iterator[str | llm.StreamEvent]:
        translator = self._translator(response)
        result: CodexResult | None = None
        try:
            request = self._request(prompt, conversation)
            with contextlib.closing(self._sync_client().stream(request)) as events:
                for event in events:
                    cls = event.__class__
                    if cls is TextDelta:
                        yield translator.text(event)
                    elif cls is Completed:
                        result = event.result
                        yield from translator.finish(result)
                    else:
                        yield from translator.feed(event)
        except CodexError as err:
            _record_partial(translator, err)
            _end_open_line(translator)
            raise self._model_error(err) from None
        if result is not None:
            self._after_success(result, translator)
            if self._refresh_due():
                self._lazy_refresh()


class AsyncCodexModel(_SharedCodex, llm.AsyncModel):
    """The async twin of :class:`CodexModel` (``llm.get_async_model``)."""

    async def execute(  # type: ignore[override]
        self,
        prompt: llm.Prompt,
        stream: bool,
        response: llm.AsyncResponse,
        conversation: llm.AsyncConversation | None = None,
    ) -> AsyncGenerator[str | llm.StreamEvent, None]:
        translator = self._translator(response)
        result: CodexResult | None = None
        try:
            request = self._request(prompt, conversation)
            events = self._async_client().stream(request)
            try:
                async for event in events:
                    cls = event.__class__
                    if cls is TextDelta:
                        yield translator.text(event)
                    elif cls is Completed:
                        result = event.result
                        for out in translator.finish(result):
                            yield out
                    else:
                        for out in translator.feed(event):
                            yield out
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        except CodexError as err:
            _record_partial(translator, err)
            _end_open_line(translator)
            raise self._model_error(err) from None
        if result is not None:
            self._after_success(result, translator)
            if self._refresh_due():
                await asyncio.to_thread(self._lazy_refresh)


# --- registration ------------------------------------------------------------------------------


def register_all(register: Any) -> None:
    """Register a sync and an async model for every catalog entry (no network, no credentials).

    An entry that cannot be turned into a model is skipped with a one-line note on stderr, so a
    strange catalog never breaks ``llm`` itself.
    """
    register_each(register, load_models(), CodexModel, AsyncCodexModel)


def register_each(register: Any, infos: Any, sync_cls: Any, async_cls: Any) -> None:
    """Register ``sync_cls(info)`` and ``async_cls(info)`` for each entry; one that fails is
    skipped with a note on stderr."""
    for info in infos:
        try:
            sync_model, async_model = sync_cls(info), async_cls(info)
        except Exception as exc:  # never break llm start-up over one model
            sys.stderr.write(f"llm-codex: skipped model {info.slug!r}: {exc}\n")
            continue
        register(sync_model, async_model)
