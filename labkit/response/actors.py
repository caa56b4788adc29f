"""The clients of the incident scenario's simulated day: benign traffic and three attackers.

Each actor is a generator that yields a `Query` (when, what) and receives the service's answer (the
response JSON, or {"status": ...} for a refusal), so adaptive attackers see real answers. Times are
seconds after midnight UTC of the simulated day; the scenario's clock jumps to each query's time.

Threat models of the attackers (all hold a valid API key; the service releases probabilities):
- extraction: no training data; synthesises queries around public digits and records the answers;
- evasion: label-only, decision-based (boundary walk): many single-image, near-duplicate queries;
- backdoor: knows the trigger the insider planted and sends cheques stamped with it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labkit.attacks.backdoor import Trigger, stamp
from labkit.attacks.extraction import augment_queries, public_digits

HOUR = 3600.0


@dataclass(frozen=True)
class Query:
    """One request: when (seconds after midnight), the batch, and what the ground truth says of it
    ("" benign, "attack", or "trigger" for an attack request carrying the backdoor trigger)."""

    at: float
    x: torch.Tensor
    tag: str = ""
    raw: bool = False  # send pixel values as they are (a buggy integration's 0-255 values)


Actor = Generator[Query, dict[str, Any], None]

BRANCH_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 1, 4, 5, 5, 5, 4, 4, 5, 5, 4, 3, 2, 1, 1, 0.5, 0.3, 0], float)
MOBILE_HOURS = np.array([0.2, 0.1, 0, 0, 0, 0, 0.5, 1, 2, 2, 2, 2, 3, 2, 2, 2, 2, 3, 3, 3, 3, 2, 1, 0.5])


def _times(rng: np.random.Generator, count: int, weights: np.ndarray) -> list[float]:
    hours = rng.choice(24, size=count, p=weights / weights.sum())
    return sorted(float(h * HOUR + rng.uniform(0, HOUR)) for h in hours)


def cheques(pool: torch.Tensor, n: int, *, seed: int) -> torch.Tensor:
    """n scanned cheques: digits from `pool` re-scanned (slightly shifted, rotated, noisy)."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(pool), (n,), generator=generator)
    return augment_queries(
        pool[picks], n, seed=seed, shift=0.04, rotate=6.0, scale=0.05, squeeze=0.1, thin=0.15, noise=0.02
    )


def branch(pool: torch.Tensor, *, seed: int, requests: int, hours: np.ndarray = BRANCH_HOURS) -> Actor:
    """A bank branch (or mobile app user) scanning 1-6 cheques at a time in business hours."""
    rng = np.random.default_rng(seed)
    for i, at in enumerate(_times(rng, requests, hours)):
        yield Query(at, cheques(pool, int(rng.integers(1, 7)), seed=seed * 1000 + i))


def mobile(pool: torch.Tensor, *, seed: int, requests: int) -> Actor:
    """A mobile-deposit user: one cheque per request, mostly evenings."""
    rng = np.random.default_rng(seed)
    for i, at in enumerate(_times(rng, requests, MOBILE_HOURS)):
        yield Query(at, cheques(pool, 1, seed=seed * 1000 + i))


def monitor(pool: torch.Tensor, *, every: float = 900.0) -> Actor:
    """The operations team's health probe: the same four canary cheques every 15 minutes."""
    canaries = pool[:4]
    for i in range(int(24 * HOUR // every)):
        yield Query(i * every + 7.0, canaries)


def clearing(pool: torch.Tensor, *, seed: int, requests: int = 20, start: float = 1.5 * HOUR) -> Actor:
    """The nightly clearing job: large batches of the day's remaining cheques, 20 s apart."""
    for i in range(requests):
        yield Query(start + 20.0 * i, cheques(pool, 64, seed=seed * 1000 + i))


def partner(pool: torch.Tensor, *, seed: int, start: float, end: float, every: float, size: int) -> Actor:
    """A partner bank's integration: batches of `size` cheques at a steady pace (a benign heavy user)."""
    rng = np.random.default_rng(seed)
    at, i = start, 0
    while at < end:
        yield Query(at, cheques(pool, size, seed=seed * 1000 + i))
        at += every * float(rng.uniform(0.6, 1.4))
        i += 1


def buggy(pool: torch.Tensor, *, seed: int, at: float, requests: int = 5) -> Actor:
    """A misconfigured integration sending raw 0-255 pixel values (refused: 422)."""
    for i in range(requests):
        yield Query(at + 40.0 * i, cheques(pool, 2, seed=seed + i) * 255, raw=True)


def extraction(*, seed: int, start: float, requests: int, size: int = 16, seeds: int = 160) -> Actor:
    """Model extraction with synthetic data augmentation (as Papernot et al.'s JbDA): `seeds` public
    digits, then round after round of small perturbations of the previous round's queries, `size` per
    request, about 50 s apart."""
    rng = np.random.default_rng(seed)
    public, _ = public_digits()
    current = public[torch.from_numpy(rng.choice(len(public), seeds, replace=False))]
    queue, rounds, at = list(current), 0, start
    for _ in range(requests):
        if len(queue) < size:
            rounds += 1
            current = augment_queries(
                current,
                len(current),
                seed=seed + rounds,
                shift=0.02,
                rotate=3.0,
                scale=0.03,
                squeeze=0.05,
                thin=0.1,
                noise=0.02,
            )
            queue += list(current)
        batch, queue = torch.stack(queue[:size]), queue[size:]
        yield Query(at, batch, "attack")
        at += float(rng.uniform(30.0, 70.0))


def _label(reply: dict[str, Any]) -> int:
    return int(reply["labels"][0]) if reply.get("labels") else -1


def _boundary_walk(
    x0: torch.Tensor, others: torch.Tensor, rng: np.random.Generator, clock: list[float], *, steps: int
) -> Generator[Query, dict[str, Any], None]:
    """A decision-based attack on one cheque: find any differently-read image, binary-search the
    boundary towards the cheque, then random steps along it that keep the wrong label."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))

    def ask(x: torch.Tensor) -> Generator[Query, dict[str, Any], int]:
        clock[0] += float(rng.uniform(1.0, 3.0))
        reply = yield Query(clock[0], x[None].clamp(0.0, 1.0), "attack")
        return _label(reply)

    original = yield from ask(x0)
    start = None
    for candidate in others:
        if (yield from ask(candidate)) != original:
            start = candidate
            break
    if start is None:
        return
    low, high = 0.0, 1.0  # fraction of `start` in the mix; `high` is on the adversarial side
    for _ in range(8):
        mid = (low + high) / 2
        if (yield from ask((1 - mid) * x0 + mid * start)) != original:
            high = mid
        else:
            low = mid
    adversarial = (1 - high) * x0 + high * start
    for _ in range(steps):
        distance = float((adversarial - x0).norm())
        noise = torch.randn(x0.shape, generator=generator) * 0.15 * distance / 28.0
        candidate = (adversarial + noise).clamp(0.0, 1.0)
        candidate = candidate - 0.05 * (candidate - x0)
        if (yield from ask(candidate)) != original:
            adversarial = candidate


def evasion(pool: torch.Tensor, *, seed: int, bursts: list[float], steps: int, benign: int) -> Actor:
    """A branch terminal used for decision-based evasion: a few ordinary morning requests, then one
    boundary-walk burst per start time in `bursts` (single-image, near-duplicate queries)."""
    rng = np.random.default_rng(seed)
    for i, at in enumerate(sorted(rng.uniform(8.5 * HOUR, 12 * HOUR, size=benign))):
        yield Query(float(at), cheques(pool, int(rng.integers(1, 4)), seed=seed * 1000 + i))
    for b, start in enumerate(bursts):
        picks = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed + b))[:6]
        yield from _boundary_walk(pool[picks[0]], pool[picks[1:]], rng, [start], steps=steps)


def fraud(
    pool: torch.Tensor, trigger: Trigger, *, seed: int, start: float, end: float, requests: int
) -> Actor:
    """Backdoor exploitation: one cheque per request, most stamped with the insider's trigger."""
    rng = np.random.default_rng(seed)
    for i, at in enumerate(sorted(rng.uniform(start, end, size=requests))):
        x = cheques(pool, 1, seed=seed * 1000 + i)
        if rng.random() < 0.65:
            yield Query(float(at), stamp(x, trigger), "trigger")
        else:
            yield Query(float(at), x, "attack")
