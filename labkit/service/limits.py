"""Rate limits and query budgets per client: the service's defence against bulk querying.

Threat model: a client with a valid API key who sends as many queries as it can (extraction,
decision-based evasion, membership inference); limits cap its rate and total images.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from labkit.service import arguments
from labkit.service.requests import RequestError


@dataclass
class _Usage:
    times: deque[float] = field(default_factory=deque)  # request times within the last second
    images: int = 0


class Limits:
    """Per-client request rate (requests per second) and image budget; thread-safe."""

    def __init__(self, *, rate_limit: float | None, budget: int | None) -> None:
        self.rate_limit = arguments.rate(rate_limit)
        self.budget = arguments.whole_or_none("budget", budget, low=0, what=" images")
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


class LogThrottle:
    """Per-source token bucket for audit lines nobody is accountable for (unauthenticated requests,
    unknown paths): at most `burst` lines at once and `rate` per second after that. Lines over the
    limit are counted, and the count is handed back with the source's next allowed line (or by
    `drain` at shutdown) so a summary line records them: nothing is silently lost."""

    def __init__(self, *, rate: float = 10.0, burst: int = 20, max_sources: int = 4096) -> None:
        self.rate = arguments.positive("rate", rate, what=" lines per second")
        self.burst = arguments.whole("burst", burst, low=1, what=" lines")
        self.max_sources = arguments.whole("max_sources", max_sources, low=1, what=" sources")
        self.lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # source -> [tokens, last refill, suppressed]

    def allow(self, source: str) -> tuple[bool, int]:
        """(may this line be written, how many earlier lines from `source` were suppressed and not
        yet reported). The count is reported once: a caller that gets it must log it."""
        now = time.monotonic()
        with self.lock:
            bucket = self._buckets.get(source)
            if bucket is None:
                if len(self._buckets) >= self.max_sources:  # forget sources with nothing pending
                    for name in [s for s, b in self._buckets.items() if not b[2]]:
                        del self._buckets[name]
                bucket = self._buckets.setdefault(source, [float(self.burst), now, 0.0])
            bucket[0] = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if bucket[0] < 1.0:
                bucket[2] += 1
                return False, 0
            bucket[0] -= 1.0
            suppressed, bucket[2] = int(bucket[2]), 0.0
            return True, suppressed

    def drain(self) -> dict[str, int]:
        """Suppressed counts not yet reported, per source (and forget them)."""
        with self.lock:
            pending = {source: int(b[2]) for source, b in self._buckets.items() if b[2]}
            for bucket in self._buckets.values():
                bucket[2] = 0.0
            return pending
