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
from tqdm.auto import tqdm

from labkit.models import DigitsCNN
from labkit.runtime import get_device

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def noise_queries(n: int, *, seed: int = 0) -> torch.Tensor:
    """n images of uniform random pixels in [0, 1]: the naive attacker's query set."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}.")
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def public_digits(*, size: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 public 8 x 8 digits (a different source from the target's MNIST training
    data), upscaled to `size` x `size`, centred on a 28 x 28 canvas like MNIST; images and labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    if not 8 <= size <= 28:
        raise ValueError(f"size must be between 8 and 28 pixels, not {size}.")
    bunch = sklearn_digits()
    small = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
    big = nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    big = (big * 1.5).clamp(0.0, 1.0)  # MNIST strokes are saturated; these are faint when upscaled
    before = (28 - size) // 2
    canvas = nn.functional.pad(big, (before, 28 - size - before, before, 28 - size - before))
    return canvas, torch.from_numpy(bunch.target.astype(np.int64))


def augment_queries(seeds: torch.Tensor, n: int, *, seed: int = 0, shift: float = 0.1,
                    rotate: float = 15.0, scale: float = 0.1, squeeze: float = 0.5, thin: float = 0.5,
                    noise: float = 0.03) -> torch.Tensor:
    """n synthetic queries around `seeds`, cycling through them: random rotation (degrees), scaling,
    horizontal squeeze (width x 1 - up to `squeeze`), shift (fraction of the image), stroke thinning
    (raise the ink threshold by up to `thin`) and pixel noise. Cheap data the attacker makes up."""
    if n < 1 or len(seeds) == 0:
        raise ValueError("augment_queries needs at least one seed image and n >= 1.")
    generator = torch.Generator().manual_seed(seed)
    base = seeds[torch.arange(n) % len(seeds)].float()

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(n) * rotate * torch.pi / 180
    zoom = 1 + uniform(n) * scale
    width = zoom * (1 - torch.rand(n, generator=generator) * squeeze)
    move = uniform(n, 2) * shift * 2  # grid units span 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos / width, -sin / width, move[:, 0]], 1),
                         torch.stack([sin / zoom, cos / zoom, move[:, 1]], 1)], 1)
    grid = nn.functional.affine_grid(theta, list(base.shape), align_corners=False)
    warped = nn.functional.grid_sample(base, grid, align_corners=False, padding_mode="zeros")
    low = (torch.rand(n, generator=generator) * thin).view(-1, 1, 1, 1)
    warped = ((warped - low) / (1 - low)).clamp(0.0, 1.0)
    jitter = torch.randn(warped.shape, generator=generator) * noise
    return (warped + jitter).clamp(0.0, 1.0)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the student's logits against the teacher's released probabilities."""
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def surrogate_model() -> DigitsCNN:
    """The attacker's own small CNN (a guess at the architecture, smaller than the target)."""
    return DigitsCNN(channels=(8, 16), hidden=64)


def train_surrogate(
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    loss: Loss | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    model: nn.Module | None = None,
    device: torch.device | None = None,
    progress: bool = True,
) -> nn.Module:
    """Train a surrogate on the target's answers: hard labels (int64 [N]) with cross-entropy, or
    released probabilities (float [N, C]) with `loss` (default: soft-label cross-entropy)."""
    if len(x) != len(targets) or len(x) == 0:
        raise ValueError(f"need one answer per query, got {len(x)} queries and {len(targets)} answers.")
    soft = targets.is_floating_point()
    if soft and targets.ndim != 2:
        raise ValueError("soft targets must be N x C probabilities; pass int64 labels for hard targets.")
    criterion: Loss = (loss or soft_cross_entropy) if soft else nn.functional.cross_entropy
    device = device or get_device()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the surrogate's initial weights are part of the recipe
    net = (model or surrogate_model()).to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    x_dev, t_dev = x.to(device), targets.to(device)
    for _ in tqdm(range(epochs), desc="surrogate", disable=not progress, leave=False):
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            criterion(net(x_dev[batch]), t_dev[batch]).backward()
            optimiser.step()
    return net.eval()


@torch.no_grad()
def agreement(a: nn.Module, b: nn.Module, x: torch.Tensor, *, batch_size: int = 500) -> float:
    """Fraction of inputs on which two models predict the same label."""
    from labkit.training import predict_logits

    return float((predict_logits(a, x, batch_size=batch_size).argmax(1)
                  == predict_logits(b, x, batch_size=batch_size).argmax(1)).float().mean())
