"""The ``chatgpt/<slug>`` llm models: prompts on the official "Sign in with ChatGPT" route.

The same model classes as ``openai-codex/`` (:mod:`llm_codex.plugin.models`), the same request
translation, core client and stream assembler; what differs is supplied through their hooks:

- the client runs on :data:`~llm_codex.core.plan_route.PLAN_ROUTE` with
  :class:`~llm_codex.auth.siwc.provider.OfficialAuth` (``max_attempts=2``: one retry at most, and
  never after a plan-usage error);
- the request is conservative (siwc.md §11): reasoning effort and summary only when asked for
  with ``-o``; no verbosity, service tier, ``include`` or prompt cache key; function tools go in
  one ``llm`` namespace; ``-T WebSearch`` is the only hosted tool; images as on the Codex route;
- before the first prompt through a login whose one-time notice was never shown (a copied
  file), the notice is printed on stderr and recorded;
- after a success the model list is refreshed lazily, at most once a day; no rate-limit
  snapshot exists on this route.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

import llm

from llm_codex.core.catalog import ModelInfo
from llm_codex.core.errors import CodexError, ConfigurationError
from llm_codex.core.types import CodexRequest, CodexResult
from llm_codex.plugin.hosted_tools import WebSearch
from llm_codex.plugin.models import (
    AsyncCodexModel,
    CodexModel,
    CodexModelError,
    register_each,
    shared_client_of,
)
from llm_codex.plugin.request import build_codex_request

__all__ = [
    "NOTICE",
    "PLAN_PREFIX",
    "AsyncPlanModel",
    "PlanModel",
    "register_plan_models",
    "show_notice_once",
]

PLAN_PREFIX = "chatgpt/"
NOTICE = (
    "You're using your ChatGPT plan: prompts to chatgpt/ models use your plan's usage. "
    "Manage usage: https://chatgpt.com/settings/usage"
)

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_refreshed = False


def _plan_client_args() -> dict[str, Any]:
    from llm_codex.auth.siwc.provider import OfficialAuth
    from llm_codex.core.plan_route import PLAN_ROUTE

    return {"credentials": OfficialAuth(), "route": PLAN_ROUTE, "max_attempts": 2}


def _client(kind: str) -> Any:
    return shared_client_of(_clients, kind, _plan_client_args)


def reset_plan_clients() -> None:
    """Forget the process-wide clients and the lazy-refresh memo (tests)."""
    global _refreshed
    with _lock:
        _clients.clear()
        _refreshed = False


def show_notice_once(write: Any = None) -> bool:
    """Print the one-time plan notice on stderr if this login never showed it; record it.

    Returns whether it was printed. Never fails a prompt over bookkeeping.
    """
    from llm_codex import config
    from llm_codex.auth.siwc.files import iso_now, read_official, write_official
    from llm_codex.auth.store import store_lock

    try:
        login = read_official()
        if login is None or not login.plan_usage or login.notice_shown:
            return False
        with store_lock(login.path, timeout=10.0):
            current = read_official(config.official_auth_path())
            if current is None or current.notice_shown:
                return False
            write_official(current.with_changes(notice_shown_at=iso_now()), current.path)
    except CodexError:
        return False
    (write or sys.stderr.write)(NOTICE + "\n")
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    return True


def _refuse_hosted_tools(prompt: llm.Prompt) -> None:
    for tool in prompt.tools or []:
        if isinstance(tool, llm.ServerSideTool) and not isinstance(tool, WebSearch):
            name = getattr(tool, "name", None) or tool.__class__.__name__
            raise ConfigurationError(f"Not supported with ChatGPT plan usage: the {name} tool.")


def build_plan_request(prompt: llm.Prompt, *, model: ModelInfo) -> CodexRequest:
    """The core request for a ``chatgpt/`` prompt (siwc.md §11.3): the shared translation, with
    reasoning options only when the user set them and nothing the route never sends."""
    _refuse_hosted_tools(prompt)
    try:
        req = build_codex_request(prompt, model=model)
    except ConfigurationError as exc:  # the shared translation names the Codex model id
        message = str(exc).replace("openai-codex/", PLAN_PREFIX)
        raise ConfigurationError(message) from None
    effort = getattr(prompt.options, "reasoning_effort", None)
    summary = getattr(prompt.options, "reasoning_summary", None)
    req.reasoning_effort = effort
    req.reasoning_summary = None if summary in (None, "none") else summary
    req.verbosity = None
    req.service_tier = None
    req.include_encrypted_reasoning = False
    return req


class _PlanHooks:
    """The hooks that turn a Codex model class into a ``chatgpt/`` one."""

    info: ModelInfo

    def _init_plan(self) -> None:
        self.model_id = PLAN_PREFIX + self.info.slug

    @property
    def supported_server_side_tools(self) -> tuple[type[llm.ServerSideTool], ...]:
        return (WebSearch,) if self.info.supports_web_search else ()

    def __str__(self) -> str:
        return f"ChatGPT plan: {self.model_id}"

    def _request(self, prompt: llm.Prompt, conversation: Any) -> CodexRequest:
        from llm_codex.auth.siwc.provider import OfficialAuth

        OfficialAuth().load()  # not signed in / plan usage off: one sentence, nothing sent
        show_notice_once()
        return build_plan_request(prompt, model=self.info)

    def _sync_client(self) -> Any:
        return _client("sync")

    def _async_client(self) -> Any:
        return _client("async")

    def _model_error(self, err: CodexError) -> CodexModelError:
        return CodexModelError(str(err) or err.__class__.__name__, codex_error=err)

    def _after_success(self, result: CodexResult, translator: Any) -> None:
        return None

    def _refresh_due(self) -> bool:
        return not _refreshed

    def _lazy_refresh(self) -> None:
        global _refreshed
        _refreshed = True
        from llm_codex.core.plan_catalog import plan_cache_is_stale, refresh_plan_cache

        with contextlib.suppress(Exception):
            if plan_cache_is_stale():
                refresh_plan_cache(_client("sync"), timeout=5.0)


class PlanModel(_PlanHooks, CodexModel):
    """A model on the user's ChatGPT plan through the official route, e.g. ``chatgpt/gpt-5.5``."""

    def __init__(self, info: ModelInfo) -> None:
        CodexModel.__init__(self, info)
        self._init_plan()


class AsyncPlanModel(_PlanHooks, AsyncCodexModel):
    """The async twin of :class:`PlanModel`."""

    def __init__(self, info: ModelInfo) -> None:
        AsyncCodexModel.__init__(self, info)
        self._init_plan()


def register_plan_models(register: Any) -> None:
    """Register ``chatgpt/<slug>`` for the cached list plus gpt-5.5 (no network, no token)."""
    from llm_codex.core.plan_catalog import load_plan_models

    register_each(register, load_plan_models(), PlanModel, AsyncPlanModel)
