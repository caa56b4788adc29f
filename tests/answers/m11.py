"""Correct, stub and plausible-wrong answers for module 11's checks."""

from __future__ import annotations

import numpy as np
import torch


def membership_score(logits, labels):
    return -torch.nn.functional.cross_entropy(logits.double(), labels, reduction="none")


def returns_the_loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits, labels, reduction="none")


def scores_by_correctness(logits, labels):
    return (logits.argmax(dim=1) == labels).float()


def ignores_the_label(logits, labels):
    return torch.softmax(logits, dim=1).max(dim=1).values


def forgets_to_return(logits, labels):
    -torch.nn.functional.cross_entropy(logits.double(), labels, reduction="none")


def tpr_at_fpr(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))[::-1]
    allowed = int(np.floor(max_fpr * len(ranked) + 1e-9))
    if allowed >= len(ranked):
        return 1.0
    threshold = ranked[allowed]
    return float(np.mean(np.asarray(member_scores) > threshold))


def threshold_from_members(member_scores, nonmember_scores, max_fpr):
    threshold = np.quantile(member_scores, 1 - max_fpr)
    return float(np.mean(np.asarray(member_scores) > threshold))


def overshoots_the_fpr(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))[::-1]
    allowed = int(np.ceil(max_fpr * len(ranked)))
    threshold = ranked[min(allowed, len(ranked) - 1)]
    return float(np.mean(np.asarray(member_scores) >= threshold))


def flags_low_scores(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))
    threshold = ranked[int(np.floor(max_fpr * len(ranked)))]
    return float(np.mean(np.asarray(member_scores) < threshold))


ANSWERS = {
    "11.loss_threshold": (
        membership_score,
        [
            (returns_the_loss, "reversed"),
            (scores_by_correctness, "one or two values"),
            (ignores_the_label, "true label"),
            (forgets_to_return, "None"),
        ],
    ),
    "11.tpr_at_fpr": (
        tpr_at_fpr,
        [
            (threshold_from_members, "members' scores"),
            (overshoots_the_fpr, "more than"),
            (flags_low_scores, "low"),
        ],
    ),
}
