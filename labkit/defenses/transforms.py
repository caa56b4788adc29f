"""Input transformations as defences against evasion, and the adaptive attacks (BPDA,
expectation over transformation) that an honest evaluation of them needs.

Threat model of the attacks here: white-box (weights and gradients known), L-inf ball of radius
epsilon around an input in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
from torch import nn

from labkit import validate as v

Transform = Callable[[torch.Tensor], torch.Tensor]


# --- input transformations (pre-processing defences) -------------------------------------------


def bit_depth(x: torch.Tensor, *, bits: int = 3) -> torch.Tensor:
    """Reduce each pixel to 2**bits levels ("feature squeezing"); its gradient is zero almost everywhere."""
    v.images("x", x)
    bits = v.integer("bits", bits, low=1, high=8)
    levels = 2**bits - 1
    return torch.round(x * levels) / levels


def median_filter(x: torch.Tensor, *, size: int = 3) -> torch.Tensor:
    """Median over each size x size neighbourhood (reflect padding), per channel."""
    v.images("x", x)
    size = v.positive_int("size", size)
    if size % 2 == 0:
        raise ValueError(f"size must be a positive odd number, not {size}.")
    n, c, h, w = x.shape
    pad = size // 2
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    patches = nn.functional.unfold(padded, size).view(n, c, size * size, h, w)
    return patches.median(dim=2).values


_JPEG_LUMA = torch.tensor(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=torch.float32,
)


def _dct_matrix(size: int = 8) -> torch.Tensor:
    k = torch.arange(size, dtype=torch.float32)[:, None]
    i = torch.arange(size, dtype=torch.float32)[None, :]
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix


@lru_cache(maxsize=64)
def _jpeg_tables(quality: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The DCT matrix and the quantisation table for `quality`, built and copied to the device once
    per (quality, device, dtype) instead of at every forward pass of an attack or EOT loop."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    table = torch.clamp(torch.floor((_JPEG_LUMA * scale + 50) / 100), min=1)
    return _dct_matrix().to(device, dtype), table.to(device, dtype)


def jpeg_like(x: torch.Tensor, *, quality: int = 50) -> torch.Tensor:
    """JPEG-style compression in torch: 8 x 8 block DCT, quantised with the standard luminance table."""
    v.images("x", x)
    quality = v.integer("quality", quality, low=1, high=100)
    n, c, h, w = x.shape
    ph, pw = -h % 8, -w % 8
    blocks = nn.functional.pad(x * 255 - 128, (0, pw, 0, ph))
    bh, bw = (h + ph) // 8, (w + pw) // 8
    blocks = blocks.view(n, c, bh, 8, bw, 8).transpose(3, 4)
    dct, table = _jpeg_tables(quality, x.device, x.dtype)
    coefficients = dct @ blocks @ dct.T
    restored = dct.T @ (torch.round(coefficients / table) * table) @ dct
    image = restored.transpose(3, 4).reshape(n, c, h + ph, w + pw)[..., :h, :w]
    return ((image + 128) / 255).clamp(0.0, 1.0)


class Transformed(nn.Module):
    """A model behind an input transformation: model(transform(x)).

    With straight_through=True the backward pass treats the transformation as the identity (BPDA,
    Athalye et al. 2018): the forward pass is unchanged, but gradients flow as if it were not there.
    """

    def __init__(self, model: nn.Module, transform: Transform, *, straight_through: bool = False) -> None:
        super().__init__()
        self.model = v.module("model", model)
        self.transform = v.function("transform", transform)
        self.straight_through = straight_through

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.transform(x)
        if self.straight_through:
            squeezed = x + (squeezed - x).detach()
        return self.model(squeezed)


def bpda(defended: Transformed) -> Transformed:
    """The same defended model with a straight-through (identity) gradient: the adaptive attacker's view."""
    if not isinstance(defended, Transformed):
        raise TypeError(f"defended must be a Transformed model (model behind a transform), not {defended!r}.")
    return Transformed(defended.model, defended.transform, straight_through=True)


class ExpectationOverTransformation(nn.Module):
    """Averages logits over `samples` draws of a randomised model (EOT, Athalye et al. 2018).

    Attacking this average estimates the gradient of the expected loss, which beats defences that
    rely on randomness. The draws run as one batch of samples x N inputs (the model must treat rows
    independently, as eval-mode classifiers do, and draw its randomness per element or per row),
    at most `max_rows` rows per pass so memory stays bounded.
    """

    max_rows = 4096

    def __init__(self, model: nn.Module, *, samples: int = 8) -> None:
        super().__init__()
        self.model = v.module("model", model)
        self.samples = v.positive_int("samples", samples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_pass = max(1, min(self.samples, self.max_rows // max(1, len(x))))
        total: torch.Tensor | None = None
        for done in range(0, self.samples, per_pass):
            k = min(per_pass, self.samples - done)
            copies = x.expand(k, *x.shape).reshape(k * len(x), *x.shape[1:])
            part = self.model(copies).view(k, len(x), -1).sum(dim=0)
            total = part if total is None else total + part
        assert total is not None
        return total / self.samples


def randomised(transform: Transform, *, noise: float = 0.1) -> Transform:
    """A randomised transformation: add uniform noise in [-noise, noise], clip, then transform."""
    v.function("transform", transform)
    noise = v.nonnegative_float("noise", noise)

    def apply(x: torch.Tensor) -> torch.Tensor:
        jitter = (torch.rand_like(x) * 2 - 1) * noise
        return transform((x + jitter).clamp(0.0, 1.0))

    return apply


class SharpenedLogits(nn.Module):
    """A gradient-masking "defence" for teaching: logits times `factor` saturate the softmax, so the
    cross-entropy gradient underflows to zero while every decision stays exactly the same."""

    def __init__(self, model: nn.Module, *, factor: float = 1000.0) -> None:
        super().__init__()
        self.model = v.module("model", model)
        self.factor = v.positive_float("factor", factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * self.factor
