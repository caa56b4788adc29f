"""Rate limits and query budgets per client: the service's defence against bulk querying.

Threat model: a client with a valid API key who sends as many queries as it can (extraction,
decision-based evasion, membership inference); limits cap its rate and total images.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from labkit.service.requests import RequestError


@dataclass
class _Usage:
    times: deque[float] = field(default_factory=deque)  # request times within the last second
    images: int = 0


class Limits:
    """Per-client request rate (requests per second) and image budget; thread-safe."""

    def __init__(self, *, rate_limit: float | None, budget: int | None) -> None:
        self.rate_limit, self.budget = rate_limit, budget
        self.lock = threading.Lock()
        self.usage: dict[str, _Usage] = {}

    def admit(self, client: str) -> None:
        """Count one request against the client's rate limit (raise 429 when over it)."""
        limit = self.rate_limit
        with self.lock:
            usage = self.usage.setdefault(client, _Usage())
            if limit is None:
                return
            now = time.monotonic()
            while usage.times and now - usage.times[0] >= 1.0:
                usage.times.popleft()
            if len(usage.times) >= limit:
                wait = round(1.0 - (now - usage.times[0]), 3)
                raise RequestError(
                    429,
                    "rate_limited",
                    f"client {client!r} is limited to {limit:g} "
                    f"requests per second; retry after {wait:.3f} s.",
                    retry_after=wait,
                )
            usage.times.append(now)

    def spend(self, client: str, n: int) -> int | None:
        """Take n images from the client's budget (raise 429 if it does not cover them)."""
        budget = self.budget
        with self.lock:
            usage = self.usage.setdefault(client, _Usage())
            if budget is not None and usage.images + n > budget:
                left = budget - usage.images
                raise RequestError(
                    429,
                    "budget_exceeded",
                    f"query budget spent: client {client!r} has "
                    f"{left} of {budget} images left and this request asks for {n}.",
                )
            usage.images += n
            return None if budget is None else budget - usage.images

    def refund(self, client: str, n: int) -> None:
        """Give back n images taken by `spend` for a request that then failed on the service's side."""
        with self.lock:
            self.usage[client].images -= n

    def images(self) -> dict[str, int]:
        """Images answered per client so far."""
        with self.lock:
            return {client: usage.images for client, usage in self.usage.items()}
