"""Correct, stub and plausible-wrong answers for module 09's checks."""

from __future__ import annotations

import torch
from torch import nn


def _grad(model, x, y):
    x = x.detach().clone().requires_grad_(True)
    nn.functional.cross_entropy(model(x), y).backward()
    return x.grad


def fgsm_random_start(model, x, y, *, epsilon, alpha, generator):
    start = (x + (2 * torch.rand(x.shape, generator=generator) - 1) * epsilon).clamp(0, 1)
    adv = start + alpha * _grad(model, start, y).sign()
    return torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0, 1).detach()


def plain_fgsm(model, x, y, *, epsilon, alpha, generator):
    return (x + epsilon * _grad(model, x, y).sign()).clamp(0, 1).detach()


def forgets_the_ball(model, x, y, *, epsilon, alpha, generator):
    start = (x + (2 * torch.rand(x.shape, generator=generator) - 1) * epsilon).clamp(0, 1)
    return (start + alpha * _grad(model, start, y).sign()).clamp(0, 1).detach()


def global_random_state(model, x, y, *, epsilon, alpha, generator):
    start = (x + (2 * torch.rand(x.shape) - 1) * epsilon).clamp(0, 1)
    adv = start + alpha * _grad(model, start, y).sign()
    return torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0, 1).detach()


def descends(model, x, y, *, epsilon, alpha, generator):
    start = (x + (2 * torch.rand(x.shape, generator=generator) - 1) * epsilon).clamp(0, 1)
    adv = start - alpha * _grad(model, start, y).sign()
    return torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0, 1).detach()


def raw_gradient(model, x, y, *, epsilon, alpha, generator):
    start = (x + (2 * torch.rand(x.shape, generator=generator) - 1) * epsilon).clamp(0, 1)
    adv = start + alpha * _grad(model, start, y)
    return torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0, 1).detach()


def straight_through(transform):
    def wrapped(x):
        return x + (transform(x) - x).detach()

    return wrapped


def transform_only(transform):
    return transform


def identity_forward(transform):
    return lambda x: x


def cancels_out(transform):
    return lambda x: x + transform(x) - x


def detached_output(transform):
    return lambda x: transform(x).detach()


ANSWERS = {
    "09.fgsm_rs": (
        fgsm_random_start,
        [
            (plain_fgsm, "random start"),
            (forgets_the_ball, "ball"),
            (global_random_state, "global random state"),
            (descends, "not go up the loss"),
            (raw_gradient, "raw gradient"),
        ],
    ),
    "09.bpda": (
        straight_through,
        [
            (transform_only, "is zero"),
            (identity_forward, "forward value"),
            (cancels_out, "is zero"),
            (detached_output, "no gradient"),
        ],
    ),
}


def _epoch(model, x, y, optimiser, *, attack, epsilon, batch_size, generator, attack_mode="eval",
           update_mode="train", attacked=True, zero=True, total=False, own_generator=False):  # fmt: skip
    losses = []
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        model.train(attack_mode == "train")
        gen = torch.Generator().manual_seed(0) if own_generator else generator
        adv = attack(model, xb, yb, epsilon=epsilon, generator=gen) if attacked else xb
        model.train(update_mode == "train")
        loss = nn.functional.cross_entropy(model(adv), yb)
        if zero:
            optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return sum(losses) if total else sum(losses) / len(losses)


def adversarial_epoch(model, x, y, optimiser, *, attack, epsilon, batch_size, generator):
    return _epoch(
        model, x, y, optimiser, attack=attack, epsilon=epsilon, batch_size=batch_size, generator=generator
    )


def _wrong(**mistake):
    def answer(model, x, y, optimiser, *, attack, epsilon, batch_size, generator):
        return _epoch(
            model, x, y, optimiser, attack=attack, epsilon=epsilon, batch_size=batch_size,
            generator=generator, **mistake,
        )  # fmt: skip

    return answer


ANSWERS["09.adv_epoch"] = (
    adversarial_epoch,
    [
        (_wrong(attacked=False), "clean batch"),
        (_wrong(attack_mode="train"), "training mode"),
        (_wrong(update_mode="eval"), "eval mode"),
        (_wrong(zero=False), "accumulate"),
        (_wrong(total=True), "mean attacked-batch loss"),
        (_wrong(own_generator=True), "generator"),
    ],
)
