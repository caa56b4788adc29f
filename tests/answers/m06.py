"""Correct, stub and plausible-wrong answers for module 06's checks (white-box evasion)."""

from __future__ import annotations

import torch
from torch import nn

from labkit.attacks.pgd import projected_gradient


def _loss_gradient(model, x, y):
    x = x.clone().detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y)
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def fgsm(model, x, y, epsilon):
    was_training = model.training
    model.eval()
    gradient = _loss_gradient(model, x, y)
    model.train(was_training)
    return (x + epsilon * gradient.sign()).clamp(0.0, 1.0).detach()


def fgsm_without_sign(model, x, y, epsilon):
    model.eval()
    return (x + epsilon * _loss_gradient(model, x, y)).clamp(0.0, 1.0).detach()


def fgsm_without_clamp(model, x, y, epsilon):
    model.eval()
    return (x + epsilon * _loss_gradient(model, x, y).sign()).detach()


def fgsm_subtracts_gradient(model, x, y, epsilon):
    model.eval()
    return (x - epsilon * _loss_gradient(model, x, y).sign()).clamp(0.0, 1.0).detach()


def fgsm_leaves_train_mode(model, x, y, epsilon):
    model.train()
    return (x + epsilon * _loss_gradient(model, x, y).sign()).clamp(0.0, 1.0).detach()


def fgsm_in_place(model, x, y, epsilon):
    model.eval()
    gradient = _loss_gradient(model, x, y)
    return x.add_(epsilon * gradient.sign()).clamp_(0.0, 1.0)


def _pgd(model, x, y, epsilon, *, steps, step_size, random_start=False, **hooks):
    """labkit's projected-gradient loop, in eval mode, with one part of it changed by a hook."""
    model.eval()
    return projected_gradient(
        model, x, y, epsilon=epsilon, steps=steps, step_size=step_size, random_start=random_start, **hooks
    )


def pgd(model, x, y, epsilon, *, steps=40, step_size=0.01, random_start=True):
    return _pgd(model, x, y, epsilon, steps=steps, step_size=step_size, random_start=random_start)


def _pixel_range_only(adv, x0, eps):
    """A projection that forgets the epsilon-ball: it only clips to [0, 1]."""
    return adv.clamp(0.0, 1.0)


def _ball_only(adv, x0, eps):
    """A projection that forgets the pixel range: it only pulls back into the epsilon-ball."""
    return x0 + (adv - x0).clamp(-eps, eps)


def _unsigned(gradient):
    """A step along the gradient itself, not its sign."""
    return gradient


def _mean_cross_entropy(logits, labels):
    return nn.functional.cross_entropy(logits, labels)


def pgd_without_projection(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return _pgd(model, x, y, epsilon, steps=steps, step_size=step_size, project=_pixel_range_only)


def pgd_without_clipping(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return _pgd(model, x, y, epsilon, steps=steps, step_size=step_size, project=_ball_only)


def pgd_descends(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return _pgd(model, x, y, epsilon, steps=steps, step_size=step_size, step=lambda g: -g.sign())


def pgd_one_step(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return fgsm(model, x, y, epsilon)


def pgd_without_sign(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return _pgd(
        model, x, y, epsilon, steps=steps, step_size=step_size, step=_unsigned, loss=_mean_cross_entropy
    )


def pgd_raw_gradient_summed_loss(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return _pgd(model, x, y, epsilon, steps=steps, step_size=step_size, step=_unsigned)


ANSWERS = {
    "06.fgsm": (
        fgsm,
        [
            (fgsm_without_sign, "much smaller"),
            (fgsm_without_clamp, "outside the valid range"),
            (fgsm_subtracts_gradient, "down the loss"),
            (fgsm_leaves_train_mode, "training mode"),
            (fgsm_in_place, "in place"),
        ],
    ),
    "06.pgd": (
        pgd,
        [
            (pgd_without_projection, "epsilon"),
            (pgd_without_clipping, "outside the valid range"),
            (pgd_descends, "not go up the loss"),
            (pgd_one_step, "single step"),
            (pgd_without_sign, "raw gradient"),
            (pgd_raw_gradient_summed_loss, "raw gradient"),
        ],
    ),
}
