"""Forensics on a suspect cheque reader's training data: where the stamp is, which records carry it,
and the trigger rebuilt from them.

Threat model (responder's view): a BadNets insider stamped a small patch on some training records and
relabelled them to a target class (`labkit.attacks.backdoor`). The responder holds the suspect model
(Neural Cleanse in `labkit.defenses.backdoor_detection` names the target class) and the training set,
but not the trigger. A stamp puts ink where digits of the target class otherwise never have it, and
every stamped record carries exactly the same pixels there.
"""

from __future__ import annotations

import torch

from labkit import validate as v
from labkit.attacks.backdoor import Trigger

INK = 0.5  # a pixel above this is ink


def _pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    v.images("x", x)
    v.labels("y", y, n=len(x), num_classes=10)
    return x[:, 0].cpu(), y.cpu()


def ink_contrast(x: torch.Tensor, y: torch.Tensor, *, target: int, ink: float = INK) -> torch.Tensor:
    """H x W: the share of `target` records inked at each pixel, minus the largest such share of any
    other class. High values are ink only the target class has: where a stamp would be."""
    images, labels = _pair(x, y)
    target = v.class_index("target", target, num_classes=10)
    ink = v.finite_float("ink", ink, low=0.0, high=1.0)
    inked = images > ink
    if not (labels == target).any():
        raise ValueError(f"target {target}: no record of that class in y.")
    rates = torch.stack(
        [
            inked[labels == c].float().mean(0) if (labels == c).any() else torch.zeros(images.shape[1:])
            for c in range(10)
        ]
    )
    others = torch.cat([rates[:target], rates[target + 1 :]]).max(dim=0).values
    return rates[target] - others


def find_poisoned(
    x: torch.Tensor, y: torch.Tensor, *, target: int, pixels: torch.Tensor, ink: float = INK
) -> torch.Tensor:
    """Sorted indices of the records labelled `target` that have ink on every one of `pixels`
    (an H x W bool mask of the stamp's inked pixels): the reference for exercise 14.poisoned."""
    images, labels = _pair(x, y)
    target = v.class_index("target", target, num_classes=10)
    pixels = _mask("pixels", pixels, images.shape[1:])
    ink = v.finite_float("ink", ink, low=0.0, high=1.0)
    stamped = (images[:, pixels] > ink).all(dim=1)
    return torch.nonzero(stamped & (labels == target)).flatten()


def _mask(name: str, mask: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    v.tensor(name, mask, ndim=2)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must be an H x W mask of shape {tuple(shape)}, not {tuple(mask.shape)}.")
    mask = mask.cpu().bool()
    if not mask.any():
        raise ValueError(f"{name} is empty: it must mark at least one pixel.")
    return mask


def stamp_region(x_flagged: torch.Tensor, *, ink: float = INK) -> torch.Tensor:
    """H x W bool: the smallest rectangle holding every pixel inked in all flagged records (a stamp is
    a patch: its blank cells lie inside the rectangle its inked cells span)."""
    v.images("x_flagged", x_flagged)
    ink = v.finite_float("ink", ink, low=0.0, high=1.0)
    shared = (x_flagged[:, 0].cpu() > ink).all(dim=0)
    if not shared.any():
        raise ValueError("x_flagged share no inked pixel: these records do not carry one common stamp.")
    where = torch.nonzero(shared)
    (top, left), (bottom, right) = where.min(dim=0).values.tolist(), where.max(dim=0).values.tolist()
    region = torch.zeros_like(shared)
    region[top : bottom + 1, left : right + 1] = True
    return region


def rebuild_trigger(x_flagged: torch.Tensor, region: torch.Tensor) -> Trigger:
    """The trigger as the flagged records carry it: the median of their pixels inside `region`."""
    v.images("x_flagged", x_flagged)
    region = _mask("region", region, x_flagged.shape[-2:])
    where = torch.nonzero(region)
    (top, left), (bottom, right) = where.min(dim=0).values.tolist(), where.max(dim=0).values.tolist()
    patch = x_flagged[:, 0, top : bottom + 1, left : right + 1].cpu().median(dim=0).values
    return Trigger(pattern=patch.clamp(0.0, 1.0), top=top, left=left)
