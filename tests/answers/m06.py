"""Correct, stub and plausible-wrong answers for module 06's checks (white-box evasion)."""

from __future__ import annotations

import torch
from torch import nn


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


def pgd(model, x, y, epsilon, *, steps=40, step_size=0.01, random_start=True):
    model.eval()
    adv = x.clone().detach()
    if random_start:
        adv = (adv + torch.empty_like(adv).uniform_(-epsilon, epsilon)).clamp(0.0, 1.0)
    for _ in range(steps):
        adv = adv + step_size * _loss_gradient(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0.0, 1.0)
    return adv.detach()


def pgd_without_projection(model, x, y, epsilon, *, steps=40, step_size=0.01):
    model.eval()
    adv = x.clone().detach()
    for _ in range(steps):
        adv = (adv + step_size * _loss_gradient(model, adv, y).sign()).clamp(0.0, 1.0)
    return adv.detach()


def pgd_without_clipping(model, x, y, epsilon, *, steps=40, step_size=0.01):
    model.eval()
    adv = x.clone().detach()
    for _ in range(steps):
        adv = adv + step_size * _loss_gradient(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - epsilon), x + epsilon)
    return adv.detach()


def pgd_descends(model, x, y, epsilon, *, steps=40, step_size=0.01):
    model.eval()
    adv = x.clone().detach()
    for _ in range(steps):
        adv = adv - step_size * _loss_gradient(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0.0, 1.0)
    return adv.detach()


def pgd_one_step(model, x, y, epsilon, *, steps=40, step_size=0.01):
    return fgsm(model, x, y, epsilon)


def pgd_without_sign(model, x, y, epsilon, *, steps=40, step_size=0.01):
    model.eval()
    adv = x.clone().detach()
    for _ in range(steps):
        adv = adv + step_size * _loss_gradient(model, adv, y)
        adv = torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0.0, 1.0)
    return adv.detach()


ANSWERS = {
    "06.fgsm": (fgsm, [fgsm_without_sign, fgsm_without_clamp, fgsm_subtracts_gradient,
                       fgsm_leaves_train_mode, fgsm_in_place]),
    "06.pgd": (pgd, [pgd_without_projection, pgd_without_clipping, pgd_descends, pgd_one_step,
                     pgd_without_sign]),
}
