"""Human wording for reset times: ``resets at 15:42, in 1 h 06 min``."""

from __future__ import annotations

import time
from datetime import datetime

__all__ = ["describe_duration", "describe_reset"]


def describe_duration(seconds: float) -> str:
    """``2 d 3 h``, ``1 h 06 min``, ``12 min`` or ``less than a minute`` for a positive span."""
    total_minutes = int(max(seconds, 0) // 60)
    if total_minutes < 1:
        return "less than a minute"
    days, rest = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def describe_reset(resets_at: float, *, now: float | None = None, prefix: str = "resets at") -> str:
    """``resets at 15:42, in 1 h 06 min`` in local time; a date is added beyond 24 hours.

    A reset time in the past reads ``resets now``.
    """
    now = time.time() if now is None else now
    remaining = resets_at - now
    if remaining <= 0:
        return "resets now"
    local = datetime.fromtimestamp(resets_at)
    if remaining >= 24 * 3600:
        when = local.strftime("%a %d %b %H:%M")
    else:
        when = local.strftime("%H:%M")
    return f"{prefix} {when}, in {describe_duration(remaining)}"
