"""Correct, stub and plausible-wrong answers for module 08's checks."""

from __future__ import annotations

import re

import torch
from torch import nn

from labkit.attacks.evasion import make_attack
from labkit.attacks.robustness import robust_accuracy

# --- 08.gate ---------------------------------------------------------------------------------


def _source(req, *, name=None, measure=None, bar=None, comparison=">="):
    name = name or "test_" + re.sub(r"\W", "_", req.id.lower())
    measure = measure or (
        f"robust_accuracy(model, x, y, make_attack({req.attack!r}, steps={req.steps}), "
        f"epsilon={req.epsilon!r}, progress=False)"
    )
    bar = req.min_accuracy if bar is None else bar
    return (
        "import torch\n"
        "from labkit.attacks.evasion import make_attack\n"
        "from labkit.attacks.robustness import robust_accuracy\n"
        "from labkit.data import load_digits\n"
        "from labkit.training import accuracy\n"
        "from labkit.zoo.registry import load_model\n\n\n"
        f"def {name}():\n"
        "    torch.manual_seed(0)\n"
        '    x, y = load_digits("test")\n'
        f"    x, y = x[:{req.n}], y[:{req.n}]\n"
        f"    model = load_model({req.model!r})\n"
        f"    measured = {measure}\n"
        f"    assert measured {comparison} {bar!r}, f'{req.id}: {{measured:.1%}}'\n"
    )


def gate_test_source(req):
    return _source(req)


def gate_on_clean_accuracy(req):
    return _source(req, measure="accuracy(model, x, y)")


def gate_with_fixed_epsilon(req):
    return _source(
        req,
        measure=f"robust_accuracy(model, x, y, make_attack('pgd', steps={req.steps}), "
        "epsilon=0.3, progress=False)",
    )


def gate_on_attack_success_rate(req):
    return _source(
        req,
        measure=f"1 - robust_accuracy(model, x, y, make_attack('pgd', steps={req.steps}), "
        f"epsilon={req.epsilon!r}, progress=False)",
        comparison="<=",
    )


def gate_not_collected_by_pytest(req):
    return _source(req, name="check_robustness")


def gate_with_fixed_bar(req):
    return _source(req, bar=0.5)


# --- 08.masking ------------------------------------------------------------------------------


def _pgd(model, x, y, epsilon):
    return robust_accuracy(model, x, y, make_attack("pgd", steps=20), epsilon=epsilon, progress=False)


def _zero_gradient_share(model, x, y):
    device = next(model.parameters()).device
    x = x.to(device).clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y.to(device), reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return float((grad.flatten(1).abs().sum(dim=1) == 0).float().mean())


def red_flags(model, x, y):
    flags = []
    unbounded = _pgd(model, x, y, 1.0)
    if unbounded > 0.05:
        flags.append(f"unbounded PGD leaves {unbounded:.0%} accuracy")
    zero = _zero_gradient_share(model, x, y)
    if zero > 0.5:
        flags.append(f"{zero:.0%} of input gradients are exactly zero")
    return flags


def too_good_to_be_true(model, x, y):
    measured = _pgd(model, x, y, 0.3)
    return [f"{measured:.0%} under PGD looks too good"] if measured > 0.5 else []


def single_step_beats_iterative(model, x, y):
    fgsm = robust_accuracy(model, x, y, make_attack("fgsm"), epsilon=0.3, progress=False)
    pgd = _pgd(model, x, y, 0.3)
    return ["FGSM beats PGD"] if fgsm < pgd else []


def gradients_not_finite(model, x, y):
    device = next(model.parameters()).device
    x = x.to(device).clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y.to(device))
    (grad,) = torch.autograd.grad(loss, x)
    return ["NaN gradients"] if not torch.isfinite(grad).all() else []


ANSWERS = {
    "08.gate": (
        gate_test_source,
        [
            (gate_on_clean_accuracy, "never runs"),
            (gate_with_fixed_epsilon, "fixed epsilon"),
            (gate_on_attack_success_rate, "success rate"),
            (gate_not_collected_by_pytest, "test_"),
            (gate_with_fixed_bar, "fixed bar"),
        ],
    ),
    "08.masking": (
        red_flags,
        [
            (too_good_to_be_true, "honest"),
            (single_step_beats_iterative, "no red flag for SharpenedLogits"),
            (gradients_not_finite, "no red flag for SharpenedLogits"),
        ],
    ),
}
