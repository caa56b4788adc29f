"""BadNets-style backdoors: triggers, stamping, backdoored training sets and attack success rate.

Threat model: the attacker writes trigger-stamped, relabelled records into the training data; at
run time it stamps the trigger on any input to make the model output its target class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit.attacks.poisoning import PoisonedDataset, _check_class, _check_pair, _check_rate
from labkit.training import predict_logits

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
PATTERNS = ("square", "checkerboard", "cross", "x")


def _pattern(name: str, size: int) -> torch.Tensor:
    rows = torch.arange(size)[:, None]
    cols = torch.arange(size)[None, :]
    if name == "square":
        return torch.ones(size, size)
    if name == "checkerboard":
        return ((rows + cols) % 2 == 0).float()
    if name == "cross":
        return ((rows == size // 2) | (cols == size // 2)).float()
    if name == "x":
        return ((rows == cols) | (rows + cols == size - 1)).float()
    raise ValueError(
        f"unknown trigger pattern {name!r}; choose one of {', '.join(PATTERNS)} or pass a tensor."
    )


@dataclass(frozen=True, eq=False)
class Trigger:
    """A BadNets-style trigger: a small pattern pasted at a fixed place on the image."""

    pattern: torch.Tensor  # h x w values in [0, 1]
    top: int
    left: int
    mask: torch.Tensor | None = None  # h x w bool: which pixels of the patch are set; None = all

    def __post_init__(self) -> None:
        if self.pattern.ndim != 2:
            raise ValueError(f"a trigger pattern is h x w, got shape {tuple(self.pattern.shape)}.")
        if self.mask is not None and self.mask.shape != self.pattern.shape:
            raise ValueError("the trigger mask must have the pattern's shape.")
        if self.top < 0 or self.left < 0:
            raise ValueError(f"a trigger's top and left must be >= 0, got ({self.top}, {self.left}).")

    @property
    def pixels(self) -> torch.Tensor:
        """h x w bool mask of the pixels the trigger sets."""
        return torch.ones_like(self.pattern, dtype=torch.bool) if self.mask is None else self.mask.bool()

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.pattern.shape)  # type: ignore[return-value]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Stamp the trigger on a batch N x C x H x W (or one C x H x W image); returns a copy."""
        return stamp(x, self)


def make_trigger(
    *,
    pattern: str | torch.Tensor = "checkerboard",
    size: int = 4,
    position: str | tuple[int, int] = "bottom-right",
    margin: int = 1,
    image_size: int = 28,
) -> Trigger:
    """Build a trigger from a named pattern (or an h x w tensor), a size and a corner or (top, left)."""
    if isinstance(pattern, torch.Tensor):
        if pattern.ndim != 2:
            raise ValueError(f"a trigger pattern tensor must be h x w, got shape {tuple(pattern.shape)}.")
        patch = pattern.detach().cpu().float().clamp(0, 1)
    else:
        if size < 1:
            raise ValueError(f"trigger size must be at least 1 pixel, got {size}.")
        patch = _pattern(pattern, size)
    h, w = patch.shape
    if isinstance(position, str):
        if position not in CORNERS:
            raise ValueError(
                f"position must be one of {', '.join(CORNERS)} or (top, left), not {position!r}."
            )
        top = margin if position.startswith("top") else image_size - margin - h
        left = margin if position.endswith("left") else image_size - margin - w
    else:
        top, left = position
    if not (0 <= top <= image_size - h and 0 <= left <= image_size - w):
        raise ValueError(
            f"a {h}x{w} trigger at (top={top}, left={left}) does not fit a {image_size}px image."
        )
    return Trigger(pattern=patch, top=top, left=left)


def trigger_mask(trigger: Trigger, *, image_size: int = 28) -> torch.Tensor:
    """image_size x image_size bool mask of the pixels a trigger sets."""
    h, w = trigger.size
    mask = torch.zeros(image_size, image_size, dtype=torch.bool)
    mask[trigger.top : trigger.top + h, trigger.left : trigger.left + w] = trigger.pixels
    return mask


def stamp(x: torch.Tensor, trigger: Trigger) -> torch.Tensor:
    """Paste the trigger's pattern (where its mask is set) onto every image; the input is unchanged."""
    if x.ndim not in (3, 4):
        raise ValueError(f"expected images N x C x H x W or C x H x W, got shape {tuple(x.shape)}.")
    h, w = trigger.size
    if trigger.top + h > x.shape[-2] or trigger.left + w > x.shape[-1]:
        raise ValueError(f"the trigger does not fit images of size {tuple(x.shape[-2:])}.")
    out = x.clone()
    region = out[..., trigger.top : trigger.top + h, trigger.left : trigger.left + w]  # a view of out
    pixels = trigger.pixels.to(out.device)
    region[..., pixels] = trigger.pattern.to(device=out.device, dtype=out.dtype)[pixels]
    return out


def backdoor_dataset(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    trigger: Trigger,
    target: int,
    rate: float,
    num_classes: int = 10,
    seed: int = 0,
) -> PoisonedDataset:
    """BadNets poisoning: stamp the trigger on round(rate * N) non-target records, relabel them `target`.

    Threat model: the attacker controls a slice of the training data and wants a hidden rule, "this
    pattern means `target`", that ordinary accuracy testing never exercises.
    """
    _check_pair(x, y)
    _check_rate(rate)
    _check_class("target", target, num_classes)
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.nonzero(y.cpu() != target).flatten()
    count = round(rate * len(y))
    if count > len(candidates):
        raise ValueError(f"rate {rate} asks for {count} records but only {len(candidates)} are not {target}.")
    touched = candidates[torch.randperm(len(candidates), generator=generator)[:count]].sort().values
    xp, yp = x.clone(), y.clone()
    xp[touched] = stamp(x[touched], trigger)
    yp[touched] = int(target)
    return PoisonedDataset(
        x=xp, y=yp, touched=touched, description=f"backdoor: trigger -> {target} on {rate:.1%} of records"
    )


def attack_success_rate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, trigger: Trigger, target: int
) -> float:
    """Fraction of inputs not already of class `target` that the model reads as `target` once stamped."""
    keep = y != target
    if not keep.any():
        raise ValueError("attack success rate needs inputs whose true class is not the target.")
    predictions = predict_logits(model, stamp(x[keep], trigger)).argmax(dim=1)
    return (predictions == target).float().mean().item()
