"""Correct, stub and plausible-wrong answers for module 11's checks."""

from __future__ import annotations

import numpy as np
import torch

from labkit.attacks.membership import log_odds


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


def calibrated_scores(target_logits, reference_logits, labels):
    total = torch.zeros(len(labels), dtype=torch.float64)
    for logits in reference_logits:
        total += log_odds(logits, labels)
    return log_odds(target_logits, labels) - total / len(reference_logits)


def ignores_the_references(target_logits, reference_logits, labels):
    return log_odds(target_logits, labels)


def reference_minus_target(target_logits, reference_logits, labels):
    mean = sum(log_odds(logits, labels) for logits in reference_logits) / len(reference_logits)
    return mean - log_odds(target_logits, labels)


def sums_the_references(target_logits, reference_logits, labels):
    return log_odds(target_logits, labels) - sum(log_odds(logits, labels) for logits in reference_logits)


def compares_probabilities(target_logits, reference_logits, labels):
    rows = torch.arange(len(labels))
    own = torch.softmax(target_logits.double(), dim=1)[rows, labels]
    others = [torch.softmax(r.double(), dim=1)[rows, labels] for r in reference_logits]
    return own - sum(others) / len(others)


def overwrites_in_the_loop(target_logits, reference_logits, labels):
    for logits in reference_logits:
        mean = log_odds(logits, labels)
    return log_odds(target_logits, labels) - mean


ANSWERS = {
    "11.calibrated": (
        calibrated_scores,
        [
            (ignores_the_references, "uncalibrated"),
            (reference_minus_target, "reversed"),
            (sums_the_references, "added up"),
            (compares_probabilities, "saturate"),
            (overwrites_in_the_loop, "last reference"),
        ],
    ),
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
