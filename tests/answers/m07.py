"""Correct, stub and plausible-wrong answers for module 07's checks."""

from __future__ import annotations

import torch


def _bracket(box, x, x_start, y, steps, *, inverted=False):
    lo = torch.zeros(len(x))
    hi = torch.ones(len(x))
    direction = x_start - x
    for _ in range(steps):
        mid = (lo + hi) / 2
        fooled = box(x + mid.view(-1, 1, 1, 1) * direction).argmax(dim=1).cpu() != y
        if inverted:
            fooled = ~fooled
        hi = torch.where(fooled, mid, hi)
        lo = torch.where(fooled, lo, mid)
    return lo, hi, direction


def boundary_search(box, x, x_start, y, *, steps):
    _, hi, direction = _bracket(box, x, x_start, y, steps)
    return x + hi.view(-1, 1, 1, 1) * direction


def returns_the_midpoint(box, x, x_start, y, *, steps):
    lo, hi, direction = _bracket(box, x, x_start, y, steps)
    return x + ((lo + hi) / 2).view(-1, 1, 1, 1) * direction


def moves_the_wrong_end(box, x, x_start, y, *, steps):
    _, hi, direction = _bracket(box, x, x_start, y, steps, inverted=True)
    return x + hi.view(-1, 1, 1, 1) * direction


def linear_scan(box, x, x_start, y, *, steps):
    best = torch.ones(len(x))
    for k in range(steps, 0, -1):  # alpha = 1, (steps-1)/steps, ...: same number of queries
        alpha = torch.full((len(x),), k / steps)
        fooled = box(x + alpha.view(-1, 1, 1, 1) * (x_start - x)).argmax(dim=1).cpu() != y
        best = torch.where(fooled, alpha, best)
    return x + best.view(-1, 1, 1, 1) * (x_start - x)


def ignores_the_budget(box, x, x_start, y, *, steps):
    _, hi, direction = _bracket(box, x, x_start, y, 20)
    return x + hi.view(-1, 1, 1, 1) * direction


def transfer_rate(target, x, x_adv, y):
    with torch.no_grad():
        clean_ok = target(x).argmax(dim=1) == y
        fooled = target(x_adv).argmax(dim=1) != y
    return float((fooled & clean_ok).sum() / clean_ok.sum())


def counts_every_image(target, x, x_adv, y):
    with torch.no_grad():
        return float((target(x_adv).argmax(dim=1) != y).float().mean())


def divides_by_all_images(target, x, x_adv, y):
    with torch.no_grad():
        clean_ok = target(x).argmax(dim=1) == y
        fooled = target(x_adv).argmax(dim=1) != y
    return float((fooled & clean_ok).sum() / len(y))


def returns_accuracy_under_attack(target, x, x_adv, y):
    with torch.no_grad():
        clean_ok = target(x).argmax(dim=1) == y
        fooled = target(x_adv).argmax(dim=1) != y
    return float((~fooled & clean_ok).sum() / clean_ok.sum())


def compares_with_the_clean_prediction(target, x, x_adv, y):
    with torch.no_grad():
        changed = target(x_adv).argmax(dim=1) != target(x).argmax(dim=1)
    return float(changed.float().mean())


def returns_a_count(target, x, x_adv, y):
    with torch.no_grad():
        clean_ok = target(x).argmax(dim=1) == y
        fooled = target(x_adv).argmax(dim=1) != y
    return int((fooled & clean_ok).sum())


ANSWERS = {
    "07.boundary_search": (
        boundary_search,
        [
            (returns_the_midpoint, "in between"),
            (moves_the_wrong_end, "moved away"),
            (linear_scan, "less than half"),
            (ignores_the_budget, "budget"),
        ],
    ),
    "07.transfer_rate": (
        transfer_rate,
        [
            (counts_every_image, "already misread"),
            (divides_by_all_images, "divided by all"),
            (returns_accuracy_under_attack, "still gets right"),
            (compares_with_the_clean_prediction, "clean reading"),
            (returns_a_count, "fraction"),
        ],
    ),
}
