"""Training-data attacks on the cheque reader: label flipping and targeted poisoning.

Threat model for everything here: the attacker can write to (part of) the training data before the
victim trains on it (a compromised labelling vendor, a scraped source, an insider with bucket access),
but never touches the training code or the model. Every builder returns a `PoisonedDataset` that
records exactly which records it touched: the ground truth the defences in `labkit.release.provenance`
and `labkit.defenses.poison_filters` are scored against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch

from labkit import validate as v


@dataclass(frozen=True, eq=False)
class PoisonedDataset:
    """A (possibly) poisoned training set and the indices of the records the attacker touched."""

    x: torch.Tensor
    y: torch.Tensor
    touched: torch.Tensor  # int64 indices into x / y, sorted
    description: str = ""

    def __len__(self) -> int:
        return len(self.y)

    @property
    def is_poisoned(self) -> torch.Tensor:
        """Boolean mask over the records: True where the attacker touched the record."""
        mask = torch.zeros(len(self.y), dtype=torch.bool)
        mask[self.touched] = True
        return mask

    @property
    def rate(self) -> float:
        """Fraction of the records that are poisoned."""
        return len(self.touched) / max(len(self.y), 1)


def _check_labels(y: torch.Tensor, num_classes: int) -> None:
    v.integer("num_classes", num_classes, low=2)
    v.labels("y", y, num_classes=num_classes)


def _check_class(name: str, value: int, num_classes: int | None) -> None:
    v.class_index(name, value, num_classes=num_classes)


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    v.images("x", x)
    v.labels("y", y, n=len(x))


def _check_rate(rate: float) -> None:
    v.probability("rate", rate)


def flip_labels(
    y: torch.Tensor, *, rate: float, num_classes: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random label flipping: relabel round(rate * N) random records to a different random class.

    Threat model: an attacker (or a careless labelling vendor) corrupts labels without any goal
    beyond degrading the model. Returns (new labels, sorted indices of the flipped records).
    """
    _check_labels(y, num_classes)
    _check_rate(rate)
    generator = torch.Generator().manual_seed(seed)
    count = round(rate * len(y))
    chosen = torch.randperm(len(y), generator=generator)[:count].sort().values
    # adding 1..C-1 (mod C) always lands on a different class, uniformly over the other C-1
    offset = torch.randint(1, num_classes, (count,), generator=generator)
    flipped = y.clone()
    flipped[chosen] = (y[chosen] + offset.to(y.device)) % num_classes
    return flipped, chosen


def flip_labels_targeted(
    y: torch.Tensor, *, source: int, target: int, rate: float, num_classes: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-targeted label flipping: relabel a fraction `rate` of class `source` as `target`.

    Threat model: the attacker wants one confusion (e.g. a 1 read as a 7 raises the amount) and
    spends all their budget on it. Returns (new labels, sorted indices of the flipped records).
    """
    _check_labels(y, num_classes)
    _check_rate(rate)
    _check_class("source", source, num_classes)
    _check_class("target", target, num_classes)
    if source == target:
        raise ValueError("source and target must be different classes.")
    generator = torch.Generator().manual_seed(seed)
    members = torch.nonzero(y == source).flatten()
    count = round(rate * len(members))
    chosen = members[torch.randperm(len(members), generator=generator)[:count]].sort().values
    flipped = y.clone()
    flipped[chosen] = target
    return flipped, chosen


def poison_labels(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    rate: float,
    source: int | None = None,
    target: int | None = None,
    num_classes: int = 10,
    seed: int = 0,
) -> PoisonedDataset:
    """Label-flipped copy of (x, y): random flips, or class-targeted if source and target are given.

    The images are shared with x (not copied): only the labels change.
    """
    _check_pair(x, y)
    _check_labels(y, num_classes)
    _check_rate(rate)
    if (source is None) != (target is None):
        raise ValueError("give both source and target for a targeted flip, or neither for random flips.")
    if source is None:
        labels, touched = flip_labels(y, rate=rate, num_classes=num_classes, seed=seed)
        description = f"random label flips, {rate:.0%} of records"
    else:
        labels, touched = flip_labels_targeted(
            y, source=source, target=int(cast(int, target)), rate=rate, num_classes=num_classes, seed=seed
        )
        description = f"targeted flips {source}->{target}, {rate:.0%} of class {source}"
    return PoisonedDataset(x=x, y=labels, touched=touched, description=description)


def jitter(
    image: torch.Tensor, *, copies: int, max_shift: int = 2, noise: float = 0.05, seed: int = 0
) -> torch.Tensor:
    """`copies` variants of one 1 x H x W image: random shifts of up to max_shift pixels plus noise.

    Shifts wrap around the border (torch.roll); digits have an empty margin, so nothing is cut off.
    """
    v.tensor("image", image, floating=True)
    if image.ndim != 3:
        raise ValueError(f"image must be one image of shape 1 x H x W, got shape {tuple(image.shape)}.")
    v.images("image", image, ndim=3)
    v.integer("copies", copies)
    v.integer("max_shift", max_shift)
    v.finite_float("noise", noise)
    seed = v.integer("seed", seed)
    if copies < 1 or max_shift < 0 or noise < 0:
        raise ValueError(
            f"need copies >= 1, max_shift >= 0 and noise >= 0; got {copies}, {max_shift}, {noise}."
        )
    image = image.detach().cpu().float()
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty((copies, *image.shape))
    for i in range(copies):
        dy, dx = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator))
        out[i] = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))
    out += noise * torch.randn(out.shape, generator=generator)
    return out.clamp(0.0, 1.0)


def targeted_poison(
    x: torch.Tensor,
    y: torch.Tensor,
    victim: torch.Tensor,
    *,
    target: int,
    copies: int = 30,
    max_shift: int = 2,
    noise: float = 0.05,
    num_classes: int = 10,
    seed: int = 0,
) -> PoisonedDataset:
    """Targeted poisoning: inject jittered copies of one victim image, labelled `target`.

    Threat model: the attacker knows the one input they will later submit (their own cheque) and can
    add a few records to the training data; the model learns to read that input as `target` while
    its accuracy on everything else barely moves. The injected records are appended at the end.
    """
    _check_pair(x, y)
    _check_labels(y, num_classes)
    _check_class("target", target, num_classes)
    v.tensor("victim", victim, floating=True)
    if victim.ndim == 4 and len(victim) == 1:
        victim = victim[0]  # accept a batch of one, e.g. x_test[i : i + 1]
    if x.shape[1:] != victim.shape:
        raise ValueError(f"victim has shape {tuple(victim.shape)}, training images {tuple(x.shape[1:])}.")
    v.images("victim", victim, ndim=3)
    poison = jitter(victim, copies=copies, max_shift=max_shift, noise=noise, seed=seed)
    poison = poison.to(device=x.device, dtype=x.dtype)
    labels = torch.full((copies,), int(target), dtype=y.dtype, device=y.device)
    touched = torch.arange(len(x), len(x) + copies)
    return PoisonedDataset(
        x=torch.cat([x, poison]),
        y=torch.cat([y, labels]),
        touched=touched,
        description=f"{copies} jittered copies of a victim image labelled {target}",
    )
