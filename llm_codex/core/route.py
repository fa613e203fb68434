"""Routes: what differs between the two backends one core client can talk to.

llm-codex speaks the same Responses stream to two places: the Codex backend (the default route,
spec ``codex-backend.md``) and the public API of the official "Sign in with ChatGPT" route
(``siwc.md``, :mod:`llm_codex.core.plan_route`). The client, the SSE decoder and the stream
assembler are shared; a :class:`Route` supplies only what differs:

- where requests go (:meth:`Route.base_url`);
- the body (from an allow-list of its own) and the headers;
- how an HTTP error answer, and any failure before it is raised, reads to a user;
- which failures may be retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from llm_codex import config
from llm_codex.core.errors import CodexError
from llm_codex.core.failures import map_http_error
from llm_codex.core.request import build_body, build_get_headers, build_headers, encode_body
from llm_codex.core.types import CodexRequest, Credentials

__all__ = ["CODEX_ROUTE", "CodexRoute", "Route"]


class Route(Protocol):
    """The route-specific half of a request; the client does the rest."""

    name: str

    def base_url(self) -> str:
        """The base URL requests go to (read from the environment at call time)."""
        ...

    def encode(self, req: CodexRequest) -> tuple[bytes, str]:
        """The wire body of ``POST {base}/responses`` and the turn's session id."""
        ...

    def headers(
        self,
        creds: Credentials,
        *,
        session_id: str,
        turn_state: str | None,
        responses_lite: bool = False,
    ) -> dict[str, str]:
        """The headers of ``POST {base}/responses`` (``responses_lite``: the request is in the
        Responses Lite form, :mod:`llm_codex.core.lite`)."""
        ...

    def get_headers(self, creds: Credentials) -> dict[str, str]:
        """The headers of an authenticated ``GET`` (model list)."""
        ...

    def http_error(
        self, status: int, headers: Mapping[str, str], body: bytes | str | None
    ) -> CodexError:
        """The exception for an HTTP error answer."""
        ...

    def may_retry(self, error: CodexError) -> bool:
        """Whether the route allows the client's retry policy to consider ``error`` at all."""
        ...

    def error_answer(self, headers: Mapping[str, str]) -> bool:
        """Whether a 2xx answer to ``POST /responses`` is really an error body, not a stream."""
        ...

    def final_error(self, error: CodexError) -> CodexError:
        """The exception actually raised to the caller for ``error`` (may reword it)."""
        ...


class CodexRoute:
    """The Codex backend (``LLM_CODEX_BASE_URL``): the project's original and default route."""

    name = "codex"

    def base_url(self) -> str:
        return config.backend_base_url()

    def encode(self, req: CodexRequest) -> tuple[bytes, str]:
        body = build_body(req)
        return encode_body(body), body["prompt_cache_key"]

    def headers(
        self,
        creds: Credentials,
        *,
        session_id: str,
        turn_state: str | None,
        responses_lite: bool = False,
    ) -> dict[str, str]:
        return build_headers(
            creds, session_id=session_id, turn_state=turn_state, responses_lite=responses_lite
        )

    def get_headers(self, creds: Credentials) -> dict[str, str]:
        return build_get_headers(creds)

    def http_error(
        self, status: int, headers: Mapping[str, str], body: bytes | str | None
    ) -> CodexError:
        return map_http_error(status, headers, body)

    def may_retry(self, error: CodexError) -> bool:
        return True

    def error_answer(self, headers: Mapping[str, str]) -> bool:
        return False

    def final_error(self, error: CodexError) -> CodexError:
        return error


#: The default route of every client.
CODEX_ROUTE: Any = CodexRoute()
