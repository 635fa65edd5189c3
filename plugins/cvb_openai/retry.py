"""When to retry an HTTP request and how long to wait first (pure functions, easy to test)."""

from __future__ import annotations

import email.utils
import random
import time
from typing import Callable

#: statuses worth another try: request timeout, conflict, rate limit, server errors
RETRY_STATUSES = frozenset({408, 409, 429})


def is_retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def retry_delay(attempt: int, retry_after: float | None, base: float, cap: float,
                rand: Callable[[], float] = random.random) -> float:
    """Wait before retry number ``attempt`` (0 = first retry).

    The server's Retry-After wins when given; otherwise exponential backoff ``base * 2**attempt``
    with "equal jitter" (a uniform draw in its upper half) so that concurrent workers that failed
    together do not retry together. Both are capped at ``cap`` seconds.
    """
    if retry_after is not None:
        return min(cap, retry_after)
    expo = min(cap, base * 2 ** attempt)
    return expo * (0.5 + 0.5 * rand())
