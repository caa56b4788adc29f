"""Model extraction: build query sets without the victim's data, and train a surrogate on the answers.

Threat model: black-box. The attacker holds an API key with a query budget, sees only what the
deployment's output policy releases (probabilities, rounded, top-k or the label) and has no
training data from the target's distribution - only noise, public look-alike data, and whatever
it can synthesise from them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from labkit import validate as v

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def noise_queries(n: int, *, seed: int = 0) -> torch.Tensor:
    """n images of uniform random pixels in [0, 1]: the naive attacker's query set."""
    n = v.positive_int("n", n)
    seed = v.integer("seed", seed)
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def public_digits(*, size: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 public 8 x 8 digits (a different source from the target's MNIST training
    data), upscaled to `size` x `size`, centred on a 28 x 28 canvas like MNIST; images and labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    size = v.integer("size", size, low=8, high=28)
    bunch = sklearn_digits()
    small = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
    big = nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    big = (big * 1.5).clamp(0.0, 1.0)  # MNIST strokes are saturated; these are faint when upscaled
    before = (28 - size) // 2
    canvas = nn.functional.pad(big, (before, 28 - size - before, before, 28 - size - before))
    return canvas, torch.from_numpy(bunch.target.astype(np.int64))


def augment_queries(
    seeds: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    shift: float = 0.1,
    rotate: float = 15.0,
    scale: float = 0.1,
    squeeze: float = 0.5,
    thin: float = 0.5,
    noise: float = 0.03,
) -> torch.Tensor:
    """n synthetic queries around `seeds`, cycling through them: random rotation (degrees), scaling,
    horizontal squeeze (width x 1 - up to `squeeze`), shift (fraction of the image), stroke thinning
    (raise the ink threshold by up to `thin`) and pixel noise. Cheap data the attacker makes up."""
    if isinstance(seeds, torch.Tensor) and len(seeds) == 0:
        raise ValueError("seeds is empty: augment_queries needs at least one seed image.")
    v.images("seeds", seeds)
    n = v.positive_int("n", n)
    seed = v.integer("seed", seed)
    for name, value in (("shift", shift), ("rotate", rotate), ("scale", scale), ("noise", noise)):
        v.nonnegative_float(name, value)
    v.probability("squeeze", squeeze)
    v.finite_float("thin", thin, low=0.0, high=1.0, high_open=True)
    generator = torch.Generator().manual_seed(seed)
    base = seeds[torch.arange(n) % len(seeds)].float()

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(n) * rotate * torch.pi / 180
    zoom = 1 + uniform(n) * scale
    width = zoom * (1 - torch.rand(n, generator=generator) * squeeze)
    move = uniform(n, 2) * shift * 2  # grid units span 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos / width, -sin / width, move[:, 0]], 1),
            torch.stack([sin / zoom, cos / zoom, move[:, 1]], 1),
        ],
        1,
    )
    grid = nn.functional.affine_grid(theta, list(base.shape), align_corners=False)
    warped = nn.functional.grid_sample(base, grid, align_corners=False, padding_mode="zeros")
    low = (torch.rand(n, generator=generator) * thin).view(-1, 1, 1, 1)
    warped = ((warped - low) / (1 - low)).clamp(0.0, 1.0)
    jitter = torch.randn(warped.shape, generator=generator) * noise
    return (warped + jitter).clamp(0.0, 1.0)
