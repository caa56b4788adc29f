"""Membership inference: scores, and how well they separate members from non-members.

Threat model: black-box; the attacker holds candidate records with their true labels and reads the
model's output for them. The loss-threshold attack needs nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from labkit import validate as v

# ----------------------------------------------------------------------------- scores and metrics


def _check_pair(logits: torch.Tensor, labels: torch.Tensor) -> None:
    v.tensor("logits", logits, ndim=2, floating=True)
    v.tensor("labels", labels, ndim=1, floating=False)
    if len(logits) != len(labels):
        raise ValueError(
            f"expected logits N x C and labels N, got shapes {tuple(logits.shape)} and {tuple(labels.shape)}."
        )
    v.labels("labels", labels, num_classes=logits.shape[1])


def membership_scores(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Loss-threshold score per record: minus the cross-entropy loss (higher = more likely a member).

    Computed in float64: a confident model's float32 losses round to exactly 0 for members and
    non-members alike, which erases the signal."""
    _check_pair(logits, labels)
    return -nn.functional.cross_entropy(logits.double(), labels.long(), reduction="none")


def log_odds(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(true label) - log(1 - p(true label)), computed stably from logits (float64)."""
    _check_pair(logits, labels)
    z = logits.double()
    true = z.gather(1, labels.long().view(-1, 1)).squeeze(1)
    others = z.scatter(1, labels.long().view(-1, 1), -math.inf)
    return true - torch.logsumexp(others, dim=1)


def calibrated_scores(
    target_logits: torch.Tensor, reference_logits: list[torch.Tensor], labels: torch.Tensor
) -> torch.Tensor:
    """Difficulty-calibrated score per record (Watson et al., 2022; the offline form of Carlini et al.'s
    LiRA): the target model's log-odds on the true label minus the mean log-odds that reference models,
    trained by the attacker without the record, give it. High = fits better than a model that never
    saw it. Threat model: the loss attack's, plus population data to train the reference models."""
    if not isinstance(reference_logits, (list, tuple)) or not reference_logits:
        raise ValueError("reference_logits must be a non-empty list of N x C logit tensors (one per model).")
    v.tensor("target_logits", target_logits, ndim=2, floating=True)
    target = log_odds(target_logits, labels)
    for k, logits in enumerate(reference_logits):
        v.tensor(f"reference_logits[{k}]", logits, ndim=2, floating=True)
        if logits.shape != target_logits.shape:
            raise ValueError(
                f"reference_logits[{k}] has shape {tuple(logits.shape)}; expected the target's "
                f"{tuple(target_logits.shape)}."
            )
    reference = torch.stack([log_odds(logits, labels) for logits in reference_logits]).mean(dim=0)
    return target - reference


def _as_numpy(scores: Any, name: str) -> np.ndarray:  # noqa: ANN401 - tensors, arrays or lists
    try:
        array = (
            scores.detach().cpu().double().numpy() if torch.is_tensor(scores) else np.asarray(scores, float)
        )
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D sequence of numbers, not {scores!r:.60}.") from None
    if array.ndim != 1 or len(array) == 0 or not np.isfinite(array).all():
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of finite numbers, got shape {array.shape}"
            f"{'' if np.isfinite(array).all() else ' with NaN or infinite values'}."
        )
    return array


def _roc(member_scores: Any, nonmember_scores: Any) -> tuple[np.ndarray, np.ndarray, float]:  # noqa: ANN401
    from sklearn.metrics import roc_auc_score, roc_curve

    inside = _as_numpy(member_scores, "member_scores")
    outside = _as_numpy(nonmember_scores, "nonmember_scores")
    truth = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    scores = np.r_[inside, outside]
    fpr, tpr, _ = roc_curve(truth, scores)
    return fpr, tpr, float(roc_auc_score(truth, scores))


def tpr_at_fpr(member_scores: Any, nonmember_scores: Any, *, max_fpr: float = 0.01) -> float:  # noqa: ANN401
    """The largest share of members flagged by any threshold that flags at most `max_fpr` of the
    non-members (higher score = flagged as member)."""
    max_fpr = v.finite_float("max_fpr", max_fpr)
    if not 0 <= max_fpr <= 1:
        raise ValueError(f"max_fpr is a rate between 0 and 1 (0.01 for 1%), not {max_fpr}.")
    fpr, tpr, _ = _roc(member_scores, nonmember_scores)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


@dataclass(frozen=True)
class MembershipResult:
    """How well one attack separates members from non-members."""

    name: str
    auc: float
    tpr_at_1pct_fpr: float
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    members: int = 0
    nonmembers: int = 0

    def row(self) -> str:
        """One markdown table row: name, AUC, TPR at 1% FPR."""
        return f"| {self.name} | {self.auc:.3f} | {self.tpr_at_1pct_fpr:.1%} |"

    def plot(self, ax: Any = None) -> Any:  # noqa: ANN401 - matplotlib axes
        """The ROC curve on log-log axes (where the low-FPR regime is visible)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4))
        floor = 1.0 / max(self.nonmembers, 1) / 2
        ax.plot(
            np.maximum(self.fpr, floor),
            np.maximum(self.tpr, floor),
            label=f"{self.name} (AUC {self.auc:.2f})",
        )
        ax.plot([floor, 1], [floor, 1], "k:", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axvline(0.01, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("false-positive rate (non-members flagged)")
        ax.set_ylabel("true-positive rate (members found)")
        ax.legend(fontsize=8)
        return ax


def evaluate_membership(
    member_scores: Any,
    nonmember_scores: Any,
    *,
    name: str = "attack",  # noqa: ANN401
) -> MembershipResult:
    """ROC curve, AUC and TPR at 1% FPR of an attack's scores (sklearn.metrics underneath)."""
    fpr, tpr, auc = _roc(member_scores, nonmember_scores)
    return MembershipResult(
        name=name,
        auc=auc,
        tpr_at_1pct_fpr=float(tpr[fpr <= 0.01 + 1e-12].max()),
        fpr=fpr,
        tpr=tpr,
        members=len(_as_numpy(member_scores, "member_scores")),
        nonmembers=len(_as_numpy(nonmember_scores, "nonmember_scores")),
    )
