"""A DAWN-style API watermark (Szyller et al., 2021): the served model answers a small, secret,
keyed share of queries with a wrong label and remembers them, so a stolen copy can be proved stolen.

Threat model (blue side): an attacker with an API key trains a surrogate on the answers (model
extraction). The owner holds a secret key; which queries get a watermark answer depends only on the
key and the query's bytes, so the attacker cannot tell them apart. A surrogate trained on the answers
learns some of the wrong labels; an independently trained model almost never gives exactly those.
The watermark costs honest clients the same share of wrong answers.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.training import predict_logits


class WatermarkedModel(nn.Module):
    """Wraps a classifier: for a keyed `rate` share of inputs, the top class and a keyed wrong class
    swap logits. Every watermarked input and the label it was given is kept in `marked`."""

    def __init__(self, model: nn.Module, *, key: bytes | str, rate: float = 0.05, limit: int = 5000) -> None:
        super().__init__()
        self.model = v.module("model", model)
        if not isinstance(key, (bytes, str)) or len(key) < 16:
            raise ValueError("key must be a secret of at least 16 bytes or characters.")
        self._key = key.encode() if isinstance(key, str) else bytes(key)
        self.rate = v.finite_float("rate", rate, low=0.0, high=0.5)
        self.limit = v.positive_int("limit", limit)
        self._lock = threading.Lock()
        self._inputs: list[torch.Tensor] = []
        self._labels: list[int] = []

    def _codes(self, x: torch.Tensor) -> list[int]:
        rows = x.detach().to("cpu", torch.float32).flatten(1).numpy()
        return [
            int.from_bytes(hmac.new(self._key, row.tobytes(), hashlib.sha256).digest()[:8], "big")
            for row in rows
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        if self.rate == 0.0:
            return logits
        codes = self._codes(x)
        threshold = self.rate * 2**64
        picked = [i for i, code in enumerate(codes) if code < threshold]
        if not picked:
            return logits
        logits = logits.clone()
        classes = logits.shape[1]
        top = logits.argmax(dim=1)
        for i in picked:
            wrong = (int(top[i]) + 1 + (codes[i] >> 8) % (classes - 1)) % classes
            a, b = logits[i, top[i]].clone(), logits[i, wrong].clone()
            logits[i, top[i]], logits[i, wrong] = b, a
            with self._lock:
                if len(self._labels) < self.limit:
                    self._inputs.append(x[i].detach().cpu())
                    self._labels.append(wrong)
        return logits

    @property
    def marked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, watermark labels) of every query answered with a watermark so far."""
        with self._lock:
            if not self._labels:
                return torch.empty(0, 1, 28, 28), torch.empty(0, dtype=torch.long)
            return torch.stack(self._inputs), torch.tensor(self._labels, dtype=torch.long)


@dataclass(frozen=True)
class TheftEvidence:
    """How often a suspect model gives the watermark's labels, and the chance of that by luck."""

    matches: int
    marked: int
    chance: float
    p_value: float

    @property
    def rate(self) -> float:
        return self.matches / self.marked if self.marked else 0.0

    def proven(self, *, alpha: float = 0.01) -> bool:
        """True if the matches are too many to be luck at significance `alpha`."""
        return self.marked > 0 and self.p_value < v.probability("alpha", alpha)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the chance of k or more matches by luck."""
    n = v.nonnegative_int("n", n)
    k = v.integer("k", k, low=0, high=n)
    p = v.probability("p", p)
    return min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def theft_evidence(
    suspect: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, num_classes: int = 10
) -> TheftEvidence:
    """Query a suspect model on the watermarked inputs. An innocent model that errs picks the keyed
    wrong label at most 1 / (num_classes - 1) of the time, so that is the chance used for the p-value."""
    v.module("suspect", suspect)
    num_classes = v.integer("num_classes", num_classes, low=3)
    if not isinstance(inputs, torch.Tensor) or len(inputs) == 0:
        return TheftEvidence(0, 0, 1 / (num_classes - 1), 1.0)
    v.images("inputs", inputs)
    v.labels("labels", labels, n=len(inputs), num_classes=num_classes)
    predicted = predict_logits(suspect, inputs).argmax(dim=1)
    matches = int((predicted == labels.cpu()).sum())
    chance = 1 / (num_classes - 1)
    return TheftEvidence(matches, len(labels), chance, binomial_tail(matches, len(labels), chance))
