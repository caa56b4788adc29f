"""Backdoor detection on the trained model: Neural Cleanse trigger reverse-engineering (Wang et
al., 2019) and the MAD anomaly index that picks the backdoor's target class.

Threat model: a BadNets attacker (see `labkit.attacks.backdoor`) slipped trigger-stamped records,
relabelled to a target class, into the training data. The defender holds the trained model and a few
clean images, but does not know the trigger or the target. Removal is retraining without the flagged
records (`labkit.training.train_model` on the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.runtime import borrowed, model_device, progress_bar
from labkit.training import predict_logits

MAD_CONSISTENCY = 1.4826  # makes the MAD a consistent estimator of the standard deviation


def mad_anomaly_index(values: torch.Tensor) -> torch.Tensor:
    """|v - median| / (1.4826 * MAD) for each value: how many robust standard deviations it lies out."""
    try:
        values = torch.as_tensor(values, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"values must be a tensor or list of numbers, not {values!r:.60}.") from None
    v.tensor("values", values, empty=True)
    if len(values) < 3:
        raise ValueError(f"the anomaly index needs at least 3 values to compare, got {len(values)}.")
    median = values.quantile(0.5)
    deviation = (values - median).abs()
    mad = deviation.quantile(0.5) * MAD_CONSISTENCY
    return (deviation / mad.clamp_min(1e-12)).float()


def mask_overlap(recovered: torch.Tensor, true_mask: torch.Tensor) -> float:
    """Share of a recovered mask's total weight that lies on the true trigger's pixels (0..1)."""
    v.tensor("recovered", recovered, floating=True)
    v.tensor("true_mask", true_mask)
    recovered = recovered.detach().cpu().float()
    if recovered.shape[-2:] != true_mask.shape[-2:]:
        raise ValueError(
            f"the recovered mask {tuple(recovered.shape)} and the true mask {tuple(true_mask.shape)} "
            "must cover the same image size."
        )
    recovered = recovered.reshape(true_mask.shape[-2:]).clamp_min(0)
    total = float(recovered.sum())
    if total == 0.0:
        raise ValueError("the recovered mask is empty (all zeros).")
    return float(recovered[true_mask.bool().reshape(recovered.shape)].sum()) / total


@dataclass(frozen=True)
class ReversedTrigger:
    """A trigger recovered for one target class: mask (H x W in [0, 1]) and pattern (C x H x W)."""

    target: int
    mask: torch.Tensor
    pattern: torch.Tensor
    success: float  # fraction of the probe images (not of class target) it sends to target

    @property
    def l1(self) -> float:
        """Size of the mask: the number of pixels it needs (soft count)."""
        return float(self.mask.sum())

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """(1 - mask) * x + mask * pattern for a batch N x C x H x W."""
        return (1 - self.mask) * x + self.mask * self.pattern


def reverse_engineer_triggers(
    model: nn.Module,
    x: torch.Tensor,
    *,
    targets: list[int] | None = None,
    steps: int = 100,
    batch_size: int = 16,
    lr: float = 0.1,
    cost: float = 3e-2,
    num_classes: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> list[ReversedTrigger]:
    """For each target class, optimise the smallest mask and pattern that make the model read clean
    images x as that class: cross-entropy + cost * |mask|_1 (Neural Cleanse, Wang et al., 2019).

    Threat model (defender's view): white-box access to the model and a few clean images, no
    training data and no knowledge of the trigger. All classes are optimised together in one batch.
    """
    v.module("model", model)
    v.images("x", x)
    num_classes = v.positive_int("num_classes", num_classes)
    steps = v.positive_int("steps", steps)
    batch_size = v.positive_int("batch_size", batch_size)
    lr = v.positive_float("lr", lr)
    cost = v.nonnegative_float("cost", cost)
    seed = v.integer("seed", seed)
    if targets is not None and (isinstance(targets, (str, bytes)) or not isinstance(targets, (list, tuple))):
        raise TypeError(f"targets must be a list of classes, not {targets!r}.")
    targets = list(range(num_classes)) if targets is None else list(targets)
    if not targets:
        raise ValueError("targets is empty: give at least one class (or None for all of them).")
    targets = [v.class_index("targets", t, num_classes=num_classes) for t in targets]
    device = model_device(model) or torch.device("cpu")
    k, (c, h, w) = len(targets), x.shape[1:]
    images = x.detach().to(device)  # copied once; each step sends only its indices
    generator = torch.Generator().manual_seed(seed)
    mask_raw = torch.full((k, 1, h, w), -2.0, device=device, requires_grad=True)
    pattern_raw = (0.1 * torch.randn(k, c, h, w, generator=generator)).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([mask_raw, pattern_raw], lr=lr, betas=(0.5, 0.9))
    goal = torch.tensor(targets, device=device)
    with borrowed(model), v.trusted_values():  # eval mode, weights frozen; restored afterwards
        for _ in progress_bar(range(steps), desc="reverse-engineering", enabled=progress, leave=False):
            batch = images[torch.randint(len(x), (batch_size,), generator=generator).to(device)]
            mask, pattern = torch.sigmoid(mask_raw), torch.sigmoid(pattern_raw)
            stamped = (1 - mask[:, None]) * batch[None] + (mask * pattern)[:, None]
            logits = model(stamped.reshape(k * batch_size, c, h, w))
            ce = nn.functional.cross_entropy(logits, goal.repeat_interleave(batch_size), reduction="none")
            loss = (ce.view(k, batch_size).mean(dim=1) + cost * mask.view(k, -1).sum(dim=1)).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        results = []
        with torch.no_grad():
            mask, pattern = torch.sigmoid(mask_raw).cpu(), torch.sigmoid(pattern_raw).cpu()
            base = predict_logits(model, x).argmax(dim=1)
            for i, target in enumerate(targets):
                probe = x[base != target] if (base != target).any() else x
                stamped = (1 - mask[i, 0]) * probe + mask[i, 0] * pattern[i]
                hit = predict_logits(model, stamped).argmax(dim=1) == target
                results.append(ReversedTrigger(target, mask[i, 0], pattern[i], float(hit.float().mean())))
    return results


@dataclass(frozen=True)
class CleanseReport:
    """Neural Cleanse's verdict: one recovered trigger per class, their sizes and anomaly indices."""

    triggers: list[ReversedTrigger]
    norms: torch.Tensor  # L1 size of each class's mask
    anomaly_index: torch.Tensor
    flagged: list[int]  # classes with an abnormally SMALL trigger (anomaly index > threshold)


def neural_cleanse(
    model: nn.Module, x: torch.Tensor, *, threshold: float = 2.0, **options: object
) -> CleanseReport:
    """Recover a trigger per class and flag classes whose mask is abnormally small (MAD index >
    threshold, below the median). `options` go to `reverse_engineer_triggers`."""
    threshold = v.positive_float("threshold", threshold)
    triggers = reverse_engineer_triggers(model, x, **options)  # type: ignore[arg-type]
    norms = torch.tensor([t.l1 for t in triggers])
    index = mad_anomaly_index(norms)
    median = norms.quantile(0.5)
    flagged = [
        t.target for t, n, a in zip(triggers, norms, index, strict=True) if a > threshold and n < median
    ]
    return CleanseReport(triggers, norms, index, flagged)
