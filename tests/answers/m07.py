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


def _stamp(x, patch, rows, cols):
    """Paste the patch at each (row, col): a learner's own stamping, differentiable in the patch."""
    out = x.clone()
    size = patch.shape[-1]
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        out[i, :, r : r + size, c : c + size] = patch
    return out


def _patch_loop(
    model,
    x,
    *,
    target,
    size,
    steps,
    batch_size,
    lr,
    generator,
    sign=1.0,
    fixed=False,
    clamp=True,
    edge=1,
    mode="eval",
    own_generator=False,
):
    if own_generator:
        generator = None  # uses the global random number generator instead
    if mode == "eval":
        model.eval()
    elif mode == "train":
        model.train()
    patch = torch.rand(x.shape[1], size, size, generator=generator)
    goal = torch.full((batch_size,), target)
    high = x.shape[-1] - size + edge
    for _ in range(steps):
        pick = torch.randint(0, len(x), (batch_size,), generator=generator)
        if fixed:
            rows = cols = torch.full((batch_size,), (x.shape[-1] - size) // 2)
        else:
            rows = torch.randint(0, high, (batch_size,), generator=generator)
            cols = torch.randint(0, high, (batch_size,), generator=generator)
        patch.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(_stamp(x[pick], patch, rows, cols)), goal)
        (grad,) = torch.autograd.grad(loss, patch)
        patch = patch.detach() - sign * lr * grad.sign()
        if clamp == "each step":
            patch = patch.clamp(0, 1)
        elif clamp is True:
            patch = patch.clamp(0, 1)
    return patch.clamp(0, 1) if clamp == "at the end" else patch


def train_patch_loop(model, x, *, target, size, steps, batch_size, lr, generator):
    return _patch_loop(
        model, x, target=target, size=size, steps=steps, batch_size=batch_size, lr=lr, generator=generator
    )


def _wrong(**mistake):
    def answer(model, x, *, target, size, steps, batch_size, lr, generator):
        return _patch_loop(
            model,
            x,
            target=target,
            size=size,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            generator=generator,
            **mistake,
        )

    return answer


raises_the_target_loss = _wrong(sign=-1.0)
stamps_at_one_place = _wrong(fixed=True)
never_clamps = _wrong(clamp=False)
clamps_only_the_result = _wrong(clamp="at the end")
never_reaches_the_edge = _wrong(edge=0)
uses_the_global_generator = _wrong(own_generator=True)
trains_in_training_mode = _wrong(mode="train")
leaves_the_mode_as_handed_over = _wrong(mode="as is")


def returns_the_adversarial_images(model, x, *, target, size, steps, batch_size, lr, generator):
    patch = train_patch_loop(
        model, x, target=target, size=size, steps=steps, batch_size=batch_size, lr=lr, generator=generator
    )
    return _stamp(x, patch, torch.zeros(len(x), dtype=torch.long), torch.zeros(len(x), dtype=torch.long))


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
    "07.patch_loop": (
        train_patch_loop,
        [
            (raises_the_target_loss, "away from the target"),
            (stamps_at_one_place, "same place"),
            (never_clamps, "[0, 1]"),
            (clamps_only_the_result, "outside [0, 1]"),
            (never_reaches_the_edge, "edge"),
            (uses_the_global_generator, "same seed"),
            (trains_in_training_mode, "training mode"),
            (leaves_the_mode_as_handed_over, "training mode"),
            (returns_the_adversarial_images, "return the patch"),
        ],
    ),
}
