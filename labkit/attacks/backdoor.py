"""BadNets-style backdoors: triggers, stamping, backdoored training sets and attack success rate.

Threat model: the attacker writes trigger-stamped, relabelled records into the training data; at
run time it stamps the trigger on any input to make the model output its target class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.poisoning import PoisonedDataset, _check_class, _check_labels, _check_pair, _check_rate
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
        v.images("pattern", self.pattern, ndim=2)
        v.integer("top", self.top)
        v.integer("left", self.left)
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
    image_size = v.positive_int("image_size", image_size)
    margin = v.nonnegative_int("margin", margin)
    if isinstance(pattern, torch.Tensor):
        if pattern.ndim != 2:
            raise ValueError(f"pattern must be an h x w tensor, got shape {tuple(pattern.shape)}.")
        patch = v.images("pattern", pattern, ndim=2).detach().cpu().float()
    else:
        size = v.positive_int("size", size, high=image_size)
        if not isinstance(pattern, str):
            raise TypeError(
                f"pattern must be a name ({', '.join(PATTERNS)}) or an h x w tensor, not {pattern!r}."
            )
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
        if not isinstance(position, (tuple, list)) or len(position) != 2:
            raise ValueError(f"position must be a corner name or (top, left), not {position!r}.")
        top, left = (v.nonnegative_int("position", p) for p in position)
    if not (0 <= top <= image_size - h and 0 <= left <= image_size - w):
        raise ValueError(
            f"a {h}x{w} trigger at (top={top}, left={left}) does not fit a {image_size}px image: "
            f"choose a smaller size, margin or position."
        )
    return Trigger(pattern=patch, top=top, left=left)


def trigger_mask(trigger: Trigger, *, image_size: int = 28) -> torch.Tensor:
    """image_size x image_size bool mask of the pixels a trigger sets."""
    _check_trigger(trigger)
    h, w = trigger.size
    image_size = v.positive_int("image_size", image_size)
    if trigger.top + h > image_size or trigger.left + w > image_size:
        raise ValueError(
            f"image_size {image_size} is too small for the trigger at ({trigger.top}, {trigger.left})."
        )
    mask = torch.zeros(image_size, image_size, dtype=torch.bool)
    mask[trigger.top : trigger.top + h, trigger.left : trigger.left + w] = trigger.pixels
    return mask


def stamp(x: torch.Tensor, trigger: Trigger) -> torch.Tensor:
    """Paste the trigger's pattern (where its mask is set) onto every image; the input is unchanged."""
    _check_trigger(trigger)
    v.images("x", x, ndim=x.ndim if isinstance(x, torch.Tensor) and x.ndim in (3, 4) else 4)
    h, w = trigger.size
    if trigger.top + h > x.shape[-2] or trigger.left + w > x.shape[-1]:
        raise ValueError(f"the trigger does not fit images of size {tuple(x.shape[-2:])}.")
    out = x.clone()
    region = out[..., trigger.top : trigger.top + h, trigger.left : trigger.left + w]  # a view of out
    pixels = trigger.pixels.to(out.device)
    region[..., pixels] = trigger.pattern.to(device=out.device, dtype=out.dtype)[pixels]
    return out


def _check_trigger(trigger: object) -> None:
    if not isinstance(trigger, Trigger):
        raise TypeError(f"trigger must be a Trigger (see make_trigger), not {trigger!r}.")


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
    _check_labels(y, num_classes)
    _check_rate(rate)
    _check_class("target", target, num_classes)
    _check_trigger(trigger)
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
    v.module("model", model)
    _check_pair(x, y)
    _check_trigger(trigger)
    _check_class("target", target, num_classes=v.model_outputs(model, x))
    keep = y != target
    if not keep.any():
        raise ValueError("attack success rate needs inputs whose true class is not the target.")
    predictions = predict_logits(model, stamp(x[keep], trigger)).argmax(dim=1)
    return (predictions == target).float().mean().item()
