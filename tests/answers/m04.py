"""Correct, stub and plausible-wrong answers for module 04's checks."""

from __future__ import annotations

import torch

from labkit.attacks.poisoning import flip_labels_targeted


def flip_targeted(labels, source, target, rate, seed=0):
    return flip_labels_targeted(labels, source=source, target=target, rate=rate, seed=seed)


def flip_in_place(labels, source, target, rate, seed=0):
    generator = torch.Generator().manual_seed(seed)
    members = torch.nonzero(labels == source).flatten()
    chosen = members[torch.randperm(len(members), generator=generator)[: round(rate * len(members))]]
    labels[chosen] = target
    return labels, chosen.sort().values


def flip_returns_class_positions(labels, source, target, rate, seed=0):
    generator = torch.Generator().manual_seed(seed)
    members = torch.nonzero(labels == source).flatten()
    picked = torch.randperm(len(members), generator=generator)[: round(rate * len(members))].sort().values
    flipped = labels.clone()
    flipped[members[picked]] = target
    return flipped, picked


def flip_rate_of_whole_dataset(labels, source, target, rate, seed=0):
    generator = torch.Generator().manual_seed(seed)
    members = torch.nonzero(labels == source).flatten()
    chosen = members[torch.randperm(len(members), generator=generator)[: round(rate * len(labels))]]
    flipped = labels.clone()
    flipped[chosen] = target
    return flipped, chosen.sort().values


def flip_any_class(labels, source, target, rate, seed=0):
    generator = torch.Generator().manual_seed(seed)
    count = round(rate * int((labels == source).sum()))
    chosen = torch.randperm(len(labels), generator=generator)[:count].sort().values
    flipped = labels.clone()
    flipped[chosen] = target
    return flipped, chosen


def flip_truncates_count(labels, source, target, rate, seed=0):
    generator = torch.Generator().manual_seed(seed)
    members = torch.nonzero(labels == source).flatten()
    chosen = members[torch.randperm(len(members), generator=generator)[: int(rate * len(members))]]
    flipped = labels.clone()
    flipped[chosen] = target
    return flipped, chosen.sort().values


def flip_ignores_seed(labels, source, target, rate, seed=0):
    members = torch.nonzero(labels == source).flatten()
    chosen = members[torch.randperm(len(members))[: round(rate * len(members))]]
    flipped = labels.clone()
    flipped[chosen] = target
    return flipped, chosen.sort().values


def diff_records(reference, current):
    altered = sorted(rid for rid in current if rid in reference and current[rid] != reference[rid])
    injected = sorted(rid for rid in current if rid not in reference)
    removed = sorted(rid for rid in reference if rid not in current)
    return altered, injected, removed


def diff_by_position(reference, current):
    altered, injected, removed = [], [], []
    for (_, h_a), (rid_b, h_b) in zip(reference.items(), current.items(), strict=False):
        if h_a != h_b:
            altered.append(rid_b)
    injected = sorted(set(current) - set(reference))
    removed = sorted(set(reference) - set(current))
    return sorted(set(altered) - set(injected)), injected, removed


def diff_by_content(reference, current):
    known = set(reference.values())
    present = set(current.values())
    altered = sorted(rid for rid in current if rid in reference and current[rid] != reference[rid])
    injected = sorted(rid for rid, h in current.items() if h not in known and rid not in reference)
    removed = sorted(rid for rid, h in reference.items() if h not in present)
    return altered, injected, removed


def diff_swapped(reference, current):
    altered, injected, removed = diff_records(reference, current)
    return altered, removed, injected


def neighbour_disagreement(features, labels, k):
    distances = torch.cdist(features, features)
    distances.fill_diagonal_(float("inf"))
    nearest = distances.topk(k, largest=False).indices
    return (labels[nearest] != labels[:, None]).float().mean(dim=1)


def disagreement_counting_self(features, labels, k):
    nearest = torch.cdist(features, features).topk(k, largest=False).indices
    return (labels[nearest] != labels[:, None]).float().mean(dim=1)


def agreement_instead(features, labels, k):
    return 1 - neighbour_disagreement(features, labels, k)


def majority_vote_flag(features, labels, k):
    return (neighbour_disagreement(features, labels, k) > 0.5).float()


def farthest_neighbours(features, labels, k):
    farthest = torch.cdist(features, features).topk(k, largest=True).indices
    return (labels[farthest] != labels[:, None]).float().mean(dim=1)


# 04.loss_filter (labkit/checks/m04_loss_filter.py): flag the fraction of records with the highest loss


def loss_flags(model, x, y, fraction):
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 512].to(device)).cpu() for i in range(0, len(x), 512)])
    losses = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_in_training_mode(model, x, y, fraction):
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_lowest(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort()[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_own_prediction(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    losses = torch.nn.functional.cross_entropy(logits, logits.argmax(dim=1), reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_softmax_over_records(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        probabilities = model(x).softmax(dim=0)
    losses = -probabilities[torch.arange(len(y)), y].log()
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_softmax_twice(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        probabilities = model(x).softmax(dim=1)
    losses = torch.nn.functional.cross_entropy(probabilities, y, reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: round(fraction * len(y))]] = True
    return flagged


def loss_flags_indices(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    return losses.argsort(descending=True)[: round(fraction * len(y))]


def loss_flags_truncated_count(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    flagged = torch.zeros(len(y), dtype=torch.bool)
    flagged[losses.argsort(descending=True)[: int(fraction * len(y))]] = True
    return flagged


def loss_flags_threshold(model, x, y, fraction):
    model.eval()
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    count = round(fraction * len(y))
    if count == 0:
        return torch.zeros(len(y), dtype=torch.bool)
    return losses >= losses.sort(descending=True).values[count - 1]


ANSWERS = {
    "04.flip": (
        flip_targeted,
        [
            (flip_in_place, "copy"),
            (flip_returns_class_positions, "within the list"),
            (flip_rate_of_whole_dataset, "whole dataset"),
            (flip_any_class, "not of class"),
            (flip_truncates_count, "int()"),
            (flip_ignores_seed, "seed"),
        ],
    ),
    "04.provenance_diff": (
        diff_records,
        [(diff_by_position, "position"), (diff_by_content, "content"), (diff_swapped, "swapped")],
    ),
    "04.filter": (
        neighbour_disagreement,
        [
            (disagreement_counting_self, "own neighbours"),
            (agreement_instead, "inverted"),
            (majority_vote_flag, "0 or 1"),
            (farthest_neighbours, "farthest"),
        ],
    ),
    "04.loss_filter": (
        loss_flags,
        [
            (loss_flags_in_training_mode, "training mode"),
            (loss_flags_lowest, "lowest loss"),
            (loss_flags_own_prediction, "own prediction"),
            (loss_flags_softmax_over_records, "wrong axis"),
            (loss_flags_softmax_twice, "twice"),
            (loss_flags_indices, "indices"),
            (loss_flags_truncated_count, "rounded down"),
            (loss_flags_threshold, "same loss"),
        ],
    ),
}
