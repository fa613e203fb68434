"""The retry policy: whether and when a failed attempt is repeated (protocol §7, §8).

Pure functions shared by the sync and async clients (which error class a failure is, is
:mod:`~llm_codex.core.failures`' business):

- :func:`is_retryable` says whether an attempt may be repeated (connection failures, timeouts
  before the first event and 5xx other than "overloaded"; never 4xx or usage limits);
- :func:`backoff_delay` is the delay before attempt *n+1*: ``200 ms · 2^(n−1)`` ± 10 %, or the
  server's ``Retry-After`` (seconds or an HTTP date) when it sent one, capped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping

from llm_codex.core.errors import (
    ConnectionFailed,
    IdleTimeout,
    RateLimited,
    ResponseFailed,
    ServerError,
    ServerOverloaded,
    StreamClosedEarly,
)

__all__ = [
    "BASE_DELAY",
    "MAX_RETRY_AFTER",
    "RATE_LIMIT_RETRY_AFTER",
    "Attempts",
    "asleep",
    "backoff_delay",
    "is_retryable",
    "sleep",
]

#: First backoff delay in seconds (the Codex CLI's 200 ms).
BASE_DELAY = 0.2
#: The longest ``Retry-After`` we wait for before a retry of a 5xx.
MAX_RETRY_AFTER = 60.0
#: A plain 429 is retried once only when its ``Retry-After`` is at most this many seconds.
RATE_LIMIT_RETRY_AFTER = 30.0

#: Blocking sleep used between attempts; tests may replace it (``retry.sleep = …``).
sleep = time.sleep
#: Async sleep used between attempts by the async client; tests may replace it.
asleep = asyncio.sleep


class Attempts:
    """Bookkeeping of one request's attempts: the decisions both clients share.

    ``attempt`` counts sends that used the retry budget (the resend after a 401 does not);
    ``refreshed`` records that the one refresh after a 401 was spent; ``yielded`` that an event
    reached the caller, after which nothing is retried; ``turn_state`` is the
    ``x-codex-turn-state`` to echo on further requests of the same turn.
    """

    __slots__ = (
        "attempt",
        "max_attempts",
        "rate_limit_waited",
        "refreshed",
        "turn_state",
        "yielded",
    )

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max(1, int(max_attempts))
        self.attempt = 0
        self.refreshed = False
        self.yielded = False
        self.turn_state: str | None = None
        self.rate_limit_waited = False

    def begin(self) -> None:
        """A new send is about to happen."""
        self.attempt += 1

    def use_refresh(self, status: int) -> bool:
        """True exactly once for a 401: refresh the credentials and resend (not counted)."""
        if status != 401 or self.refreshed:
            return False
        self.refreshed = True
        self.attempt -= 1
        return True

    def note_headers(self, headers: Mapping[str, str]) -> None:
        """Remember ``x-codex-turn-state`` for the rest of the turn."""
        state = headers.get("x-codex-turn-state")
        if state:
            self.turn_state = state

    def delay_after(self, error: BaseException) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to raise it."""
        if self.yielded or self.attempt >= self.max_attempts or not is_retryable(error):
            return None
        if isinstance(error, (RateLimited, ResponseFailed)):
            if self.rate_limit_waited:
                return None
            self.rate_limit_waited = True
        retry_after = getattr(error, "retry_after", None)
        return backoff_delay(self.attempt, retry_after=retry_after)


def backoff_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    ``Retry-After`` wins when given (capped at :data:`MAX_RETRY_AFTER`); otherwise
    ``200 ms · 2^(attempt−1)`` with ±10 % jitter.
    """
    if retry_after is not None:
        return max(0.0, min(retry_after, MAX_RETRY_AFTER))
    return BASE_DELAY * (2 ** max(attempt - 1, 0)) * random.uniform(0.9, 1.1)  # noqa: S311


def is_retryable(error: BaseException) -> bool:
    """Whether an attempt that failed with ``error`` (before any event) may be repeated."""
    if isinstance(error, ServerOverloaded):
        return False
    if isinstance(error, (ServerError, ConnectionFailed, StreamClosedEarly, IdleTimeout)):
        return True
    if isinstance(error, RateLimited) or (
        isinstance(error, ResponseFailed) and error.code == "rate_limit_exceeded"
    ):
        wait = getattr(error, "retry_after", None)
        return wait is not None and wait <= RATE_LIMIT_RETRY_AFTER
    return False
