"""Adversarial patches in the spirit of physical-domain attacks: a small sticker that pushes any
digit towards a chosen class wherever it is placed.

Threat model: the attacker cannot perturb every pixel of each input (the cheque is scanned by the
bank), but can put the same small patch anywhere on the paper. The patch is optimised with the
gradients of a model the attacker holds (the target itself in the worst case, or a surrogate) and
an expectation over random placements, so it works without knowing where it will land.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.runtime import borrowed, get_device, progress_bar


def random_positions(
    n: int, *, patch_size: int, image_size: int = 28, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corners (rows, cols) for n patches placed uniformly so they fit inside the image."""
    n = v.positive_int("n", n)
    image_size = v.positive_int("image_size", image_size)
    patch_size = v.positive_int("patch_size", patch_size, high=image_size)
    high = image_size - patch_size + 1
    rows = torch.randint(0, high, (n,), generator=generator)
    cols = torch.randint(0, high, (n,), generator=generator)
    return rows, cols


def apply_patch(x: torch.Tensor, patch: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Paste `patch` (C x s x s, values in [0, 1]) onto each image of x (N x C x H x W) with its
    top-left corner at (rows[i], cols[i]); returns new images (x is not changed). Differentiable
    in the patch."""
    v.images("x", x)
    v.images("patch", patch, ndim=3)
    v.tensor("rows", rows, ndim=1, floating=False)
    v.tensor("cols", cols, ndim=1, floating=False)
    if patch.shape[1] != patch.shape[2] or patch.shape[0] != x.shape[1]:
        raise ValueError(
            f"expected images N x C x H x W and a square patch C x s x s, got {tuple(x.shape)} and "
            f"{tuple(patch.shape)}."
        )
    if len(rows) != len(x) or len(cols) != len(x):
        raise ValueError(
            f"rows and cols must give one position per image: {len(x)} images, "
            f"{len(rows)} rows, {len(cols)} cols."
        )
    size = patch.shape[-1]
    height, width = x.shape[-2:]
    if rows.min() < 0 or cols.min() < 0 or rows.max() > height - size or cols.max() > width - size:
        raise ValueError(
            f"rows and cols: every {size}x{size} patch must fit inside the {height}x{width} image."
        )
    return _paste(x, patch, rows, cols)


def _paste(x: torch.Tensor, patch: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """apply_patch without its checks (which read values back to the host): for loops whose
    positions come from random_positions and so always fit."""
    size = patch.shape[-1]
    height, width = x.shape[-2:]
    pad = nn.functional.pad(patch, (0, width - size, 0, height - size))  # patch at the top-left
    mask = nn.functional.pad(torch.ones_like(patch), (0, width - size, 0, height - size))
    # shift the padded patch and its mask to each position with one gather per image
    r = (torch.arange(height, device=x.device)[None, :] - rows.to(x.device)[:, None]) % height
    c = (torch.arange(width, device=x.device)[None, :] - cols.to(x.device)[:, None]) % width
    placed = pad.to(x.device)[:, r[:, :, None], c[:, None, :]].permute(1, 0, 2, 3)
    where = mask.to(x.device)[:, r[:, :, None], c[:, None, :]].permute(1, 0, 2, 3)
    return x * (1 - where) + placed * where


@dataclass(frozen=True)
class PatchResult:
    """An optimised patch, the class it pushes towards, and its loss after each step."""

    patch: torch.Tensor
    target: int
    losses: tuple[float, ...]


def train_patch(
    model: nn.Module,
    x: torch.Tensor,
    *,
    target: int,
    size: int = 8,
    steps: int = 300,
    batch_size: int = 128,
    lr: float = 0.05,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = True,
) -> PatchResult:
    """Optimise a size x size patch so `model` labels patched images as `target`, with a fresh random
    image batch and random placements each step (expectation over placement). Only the patch is
    trained; the model is borrowed (`labkit.runtime.borrowed`: its mode, device and weights are as
    before afterwards). Everything stays on `device`; the loss history is read back once, at the end."""
    v.module("model", model)
    v.images("x", x)
    steps = v.positive_int("steps", steps)
    batch_size = v.positive_int("batch_size", batch_size)
    size = v.positive_int("size", size, high=min(x.shape[-2:]))
    lr = v.positive_float("lr", lr)
    v.class_index("target", target, num_classes=v.model_outputs(model, x))
    device = device or get_device()
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same patch on every device
    # the patch lives in [0, 1] through a sigmoid, so plain Adam steps never leave the pixel range
    raw = torch.randn(x.shape[1], size, size, generator=generator).mul(0.1).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([raw], lr=lr)
    goal = torch.full((batch_size,), int(target), device=device)
    images = x.detach().to(device)  # copied once; each step sends only its indices
    losses = torch.zeros(steps, device=device)
    with borrowed(model, device=device), v.trusted_values():  # weights frozen: only the patch learns
        for i in progress_bar(range(steps), desc="patch", enabled=progress, leave=False):
            pick = torch.randint(0, len(x), (batch_size,), generator=generator).to(device)
            rows, cols = random_positions(
                batch_size, patch_size=size, image_size=x.shape[-1], generator=generator
            )
            patched = _paste(images[pick], torch.sigmoid(raw), rows, cols)
            loss = nn.functional.cross_entropy(model(patched), goal)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses[i] = loss.detach()
    return PatchResult(torch.sigmoid(raw).detach().cpu(), int(target), tuple(losses.tolist()))


@torch.no_grad()
def patch_success(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    patch: torch.Tensor,
    *,
    target: int,
    placements: int = 5,
    seed: int = 0,
) -> float:
    """Fraction of (image, random placement) pairs that `model` labels `target`, over the images whose
    true class is not `target` (held-out digits, `placements` random positions each)."""
    v.module("model", model)
    v.images("x", x)
    classes = v.model_outputs(model, x)  # one probe pass serves both label checks
    v.labels("y", y, n=len(x), num_classes=classes)
    v.images("patch", patch, ndim=3)
    v.class_index("target", target, num_classes=classes)
    placements = v.positive_int("placements", placements)
    keep = y.cpu() != target
    if not keep.any():
        raise ValueError(f"every image is of the target class {target}; pass digits of other classes.")
    x = x.cpu()[keep]
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    hits, total = 0, 0
    for _ in range(placements):
        rows, cols = random_positions(
            len(x), patch_size=patch.shape[-1], image_size=x.shape[-1], generator=generator
        )
        patched = apply_patch(x, patch.cpu(), rows, cols)
        predictions = torch.cat(
            [model(patched[i : i + 512].to(device)).argmax(dim=1).cpu() for i in range(0, len(patched), 512)]
        )
        hits += int((predictions == target).sum())
        total += len(x)
    return hits / total
