"""Rate-limit headers (protocol §9), the ``/wham/usage`` payload (§11) and token estimates.

Token counts are estimates (about four characters per token of the JSON form), good enough for
assertions that usage is present and that cached tokens appear when a prefix repeats.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

__all__ = [
    "default_rate_limit_headers",
    "default_usage_payload",
    "estimate_tokens",
    "usage_limit_headers",
]


def estimate_tokens(value: Any) -> int:
    """About one token per four characters of ``value`` (its JSON form unless a string)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _flag(value: bool) -> str:
    return "True" if value else "False"


def default_rate_limit_headers(*, plan_type: str = "plus", now: float | None = None) -> dict:
    """The ``x-codex-*`` headers the fake sends by default: 5-hour and weekly windows."""
    now = time.time() if now is None else now
    return {
        "x-codex-primary-used-percent": "12.0",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(int(now + 4 * 3600)),
        "x-codex-primary-reset-after-seconds": str(4 * 3600),
        "x-codex-secondary-used-percent": "34.0",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(int(now + 3 * 86400)),
        "x-codex-secondary-reset-after-seconds": str(3 * 86400),
        "x-codex-primary-over-secondary-limit-percent": "0",
        "x-codex-credits-has-credits": _flag(False),
        "x-codex-credits-unlimited": _flag(False),
        "x-codex-credits-balance": "0",
        "x-codex-plan-type": plan_type,
    }


def usage_limit_headers(
    base: dict[str, str], *, resets_at: int, now: float, window: str = "primary"
) -> dict[str, str]:
    """``base`` with the given window exhausted, resetting at ``resets_at``, plus the 429 extras."""
    headers = dict(base)
    headers[f"x-codex-{window}-used-percent"] = "100.0"
    headers[f"x-codex-{window}-reset-at"] = str(resets_at)
    headers[f"x-codex-{window}-reset-after-seconds"] = str(max(0, int(resets_at - now)))
    headers["x-codex-active-limit"] = "codex"
    headers["x-codex-promo-message"] = "Upgrade for higher limits."
    return headers


def default_usage_payload(*, plan_type: str = "plus", now: float | None = None) -> dict:
    """A realistic ``/wham/usage`` answer (protocol §11.2 shape): 5-hour and weekly windows."""
    now = time.time() if now is None else now
    return {
        "plan_type": plan_type,
        "rate_limit": {
            "allowed": True,
            "limit_reached": False,
            "primary_window": {
                "used_percent": 12,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 4 * 3600,
                "reset_at": int(now + 4 * 3600),
            },
            "secondary_window": {
                "used_percent": 34,
                "limit_window_seconds": 604800,
                "reset_after_seconds": 3 * 86400,
                "reset_at": int(now + 3 * 86400),
            },
        },
        "credits": {
            "has_credits": False,
            "unlimited": False,
            "balance": "0",
            "approx_local_messages": None,
            "approx_cloud_messages": None,
        },
        "spend_control": {"reached": False},
        "rate_limit_reached_type": None,
        "additional_rate_limits": [],
    }
