"""Small HTTP helpers for the auth issuer: endpoints, an identified client, error codes.

Every call to the issuer carries our identity headers (``originator: llm-codex`` and our
``User-Agent``). The issuer is read from :func:`llm_codex.config.auth_base_url` at call time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_codex import config
from llm_codex.core.identity import base_headers

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "auth_client",
    "endpoint",
    "error_code",
    "json_or_none",
    "post_bounded",
    "provably_unsent",
    "token_answer",
]


def endpoint(path: str) -> str:
    """The full URL of an issuer path such as ``/oauth/token``."""
    return config.auth_base_url() + path


def auth_client(*, timeout: float) -> httpx2.Client:
    """A short-lived client for one auth exchange, with our identity headers."""
    import httpx2

    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        headers=base_headers(),
        follow_redirects=False,
    )


def post_bounded(url: str, *, timeout: float, **kwargs: Any) -> httpx2.Response:
    """POST to the issuer and read its answer within ``timeout`` seconds *in all* (64 KiB max).

    The read timeout of the HTTP client restarts on every byte; an answer trickled a byte at a
    time would otherwise hold a refresh, and the cross-process lock, without end. Raises
    ``httpx2.HTTPError`` like ``client.post``.
    """
    import httpx2

    from llm_codex.core.deadline import read_capped

    with auth_client(timeout=timeout) as client, client.stream("POST", url, **kwargs) as answer:
        body = read_capped(answer, seconds=timeout)
        headers = [
            (k, v)
            for k, v in answer.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx2.Response(
            answer.status_code, headers=headers, content=body, request=answer.request
        )


def provably_unsent(exc: BaseException) -> bool:
    """Whether a transport error proves the request never reached the server.

    Connect failures (refused, DNS, TLS handshake), connect and pool timeouts, and unsupported
    URLs qualify; read/write timeouts, resets and protocol errors after sending do not.
    """
    import httpx2

    return isinstance(
        exc,
        (
            httpx2.ConnectError,
            httpx2.ConnectTimeout,
            httpx2.PoolTimeout,
            httpx2.UnsupportedProtocol,
            httpx2.ProxyError,
            httpx2.InvalidURL,
        ),
    )


def json_or_none(response: httpx2.Response) -> Any:
    """The response body as JSON, or ``None`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def token_answer(response: httpx2.Response) -> dict[str, Any] | None:
    """A token endpoint's answer as a dict: JSON, or a form-encoded body; ``None`` otherwise.

    The Codex issuer answers JSON; a conformant OAuth server may answer
    ``application/x-www-form-urlencoded`` instead, which is read the same way (be liberal).
    """
    data = json_or_none(response)
    if isinstance(data, dict):
        return data
    if data is not None:
        return None
    from urllib.parse import parse_qsl

    try:
        text = response.text.strip()
    except (UnicodeDecodeError, ValueError):
        return None
    if not text or "=" not in text or text.startswith(("<", "{", "[")):
        return None
    pairs = parse_qsl(text, keep_blank_values=True)
    return dict(pairs) if pairs else None


def error_code(body: Any) -> str | None:
    """An issuer error code: ``error.code``, else ``error`` as a string, else ``code``."""
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        code = err.get("code")
        if isinstance(code, str) and code:
            return code
    if isinstance(err, str) and err:
        return err
    code = body.get("code")
    return code if isinstance(code, str) and code else None
