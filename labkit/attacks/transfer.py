"""Transfer attacks: train a surrogate on data the attacker could have, craft adversarial examples
on it with white-box attacks, and send them to the target.

Threat model: black-box. The attacker holds its own unlabelled images from the same distribution,
labels them by querying the target's API (label only), and never sees the target's weights or
gradients; the adversarial examples are crafted on the surrogate alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.evasion import Attack, run_attack
from labkit.training import predict_logits


def label_with_queries(box: nn.Module, x: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """The labels a black box gives the attacker's images (one query per image, in batches)."""
    v.function("box", box)
    v.images("x", x)
    batch_size = v.positive_int("batch_size", batch_size)
    labels = [box(x[i : i + batch_size]).argmax(dim=1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)


def _fooled_fraction(target: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor) -> float:
    clean_ok = predict_logits(target, x).argmax(dim=1) == y
    if not clean_ok.any():
        return float("nan")
    fooled = predict_logits(target, x_adv).argmax(dim=1) != y
    return float((fooled & clean_ok).sum()) / float(clean_ok.sum())


@dataclass(frozen=True)
class TransferResult:
    """Success of a surrogate's adversarial examples on the surrogate itself and on the target,
    both counted over the images each model classified correctly when clean."""

    attack: str
    epsilons: tuple[float, ...]
    surrogate_success: tuple[float, ...]
    transfer_rates: tuple[float, ...]
    adversarials: tuple[torch.Tensor, ...]

    def table(self) -> str:
        """A markdown table of epsilon against success on the surrogate and on the target."""
        rows = ["| epsilon | success on surrogate (white-box) | transfer rate to target |", "|---|---|---|"]
        rows += [
            f"| {e:g} | {s:.0%} | {t:.0%} |"
            for e, s, t in zip(self.epsilons, self.surrogate_success, self.transfer_rates, strict=True)
        ]
        return "\n".join(rows)


def transfer_attack(
    surrogate: nn.Module,
    target: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    epsilons: Sequence[float],
    device: torch.device | None = None,
    progress: bool = True,
) -> TransferResult:
    """Craft `attack` (a foolbox attack, e.g. make_attack("pgd")) on the surrogate at each epsilon
    and measure how often the adversarial examples also fool the target.

    Threat model: black-box transfer; only the surrogate's gradients are used. The target is only
    asked for its labels (here through the model itself, to measure the outcome)."""
    v.module("surrogate", surrogate)
    v.module("target", target)
    v.numbers_list("epsilons", epsilons, low=0.0)
    advs, _ = run_attack(surrogate, x, y, attack, epsilons=list(epsilons), device=device, progress=progress)
    x, y = x.cpu(), y.cpu()
    surrogate_success = tuple(_fooled_fraction(surrogate, x, adv, y) for adv in advs)
    rates = tuple(_fooled_fraction(target, x, adv, y) for adv in advs)
    return TransferResult(
        type(attack).__name__, tuple(float(e) for e in epsilons), surrogate_success, rates, tuple(advs)
    )
