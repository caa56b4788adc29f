"""Hidden tests for module 10 (model extraction against the served API)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, as_number, exercise


def _hidden_models() -> tuple[Any, Any, Any, Any]:
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(1010)
    x = torch.randn(300, 12, generator=generator)
    target = nn.Linear(12, 10)
    surrogate = nn.Linear(12, 10)
    with torch.no_grad():
        target.weight.copy_(torch.randn(10, 12, generator=generator))
        target.bias.zero_()
        surrogate.weight.copy_(target.weight + 0.5 * torch.randn(10, 12, generator=generator))
        surrogate.bias.zero_()
        y = target(x).argmax(dim=1)
    noisy = torch.rand(300, generator=generator) < 0.45  # the target itself is often wrong
    y[noisy] = (y[noisy] + torch.randint(1, 10, (int(noisy.sum()),), generator=generator)) % 10
    return surrogate.eval(), target.eval(), x, y


@exercise(
    "10.fidelity",
    title="fidelity versus accuracy of a stolen model",
    hint="Fidelity asks 'does the copy say what the target says?', accuracy asks 'does the copy say "
    "what is true?'. Both compare one label per image.",
)
def _check_fidelity(fidelity_and_accuracy: Any) -> str:  # noqa: ANN401
    import torch

    surrogate, target, x, y = _hidden_models()
    with torch.no_grad():
        s_labels, t_labels = surrogate(x).argmax(dim=1), target(x).argmax(dim=1)
    fidelity = float((s_labels == t_labels).float().mean())
    accuracy = float((s_labels == y).float().mean())
    target_accuracy = float((t_labels == y).float().mean())
    out = fidelity_and_accuracy(surrogate, target, x, y)
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise CheckFailed("it should return a pair: (fidelity, accuracy).")
    got_f, got_a = as_number(out[0], "fidelity"), as_number(out[1], "accuracy")
    if not (0.0 <= got_f <= 1.0 and 0.0 <= got_a <= 1.0):
        raise CheckFailed(f"both numbers are fractions in [0, 1]; got {got_f:.3f} and {got_a:.3f}.")
    close = lambda a, b: abs(a - b) < 1e-4  # noqa: E731
    if close(got_f, fidelity) and close(got_a, accuracy):
        return (
            f"on hidden data the copy agrees with the target {fidelity:.0%} of the time but is right "
            f"only {accuracy:.0%} of the time (the target itself: {target_accuracy:.0%})."
        )
    if close(got_f, accuracy) and close(got_a, fidelity):
        raise CheckFailed("the two numbers are swapped: return (fidelity, accuracy).")
    if close(got_f, accuracy) or close(got_f, target_accuracy):
        raise CheckFailed(
            "your fidelity compares with the true labels. Fidelity measures agreement with "
            "the target's own predictions, mistakes included."
        )
    if close(got_f, fidelity):
        raise CheckFailed("fidelity is right but accuracy is not: compare the copy's labels with y.")
    with torch.no_grad():
        across_batch = float((surrogate(x).argmax(dim=0) == target(x).argmax(dim=0)).float().mean())
    if close(got_f, across_batch):
        raise CheckFailed(
            "the fidelity compares an arg-max taken over the batch (one 'label' per class, dim=0), "
            "not one predicted label per image."
        )
    raise CheckFailed(f"the fidelity {got_f:.3f} is not the agreement rate of the two models' labels.")


def _reference_loss(logits: Any, teacher: Any) -> tuple[float, float, Any]:  # noqa: ANN401
    import torch

    logits = logits.detach().clone().requires_grad_(True)
    loss = -(teacher * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    entropy = -(torch.special.xlogy(teacher, teacher)).sum(dim=1).mean()
    return loss.item(), loss.item() - entropy.item(), logits.grad


def _student_loss(distillation_loss: Any, logits: Any, teacher: Any) -> tuple[float, Any]:  # noqa: ANN401
    import torch

    student = logits.detach().clone().requires_grad_(True)
    value = distillation_loss(student, teacher.clone())
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(
            f"return a torch tensor (so training can call .backward()), got {type(value).__name__}."
        )
    if value.numel() != 1:
        raise CheckFailed(
            f"return one number for the whole batch, got a tensor of shape {tuple(value.shape)}."
        )
    if not torch.isfinite(value):
        raise CheckFailed(
            "the loss is NaN or infinite when the released probabilities contain exact zeros "
            "(as the top-k and rounded policies release). Take the log of the student's "
            "probabilities, computed stably from its logits, not of the teacher's."
        )
    if not value.requires_grad:
        raise CheckFailed(
            "the loss does not depend on the student's logits in a differentiable way "
            "(no gradient flows back): keep everything in torch, no .argmax or .item()."
        )
    value.reshape(()).backward()
    return value.item(), student.grad


@exercise(
    "10.distill_loss",
    title="a soft-label loss for distillation",
    hint="The teacher answers with a distribution, not a label: the loss should reward the student "
    "for putting probability where the teacher does, one number for the batch, and stay finite for "
    "very confident logits.",
)
def _check_distill_loss(distillation_loss: Any) -> str:  # noqa: ANN401
    import torch

    generator = torch.Generator().manual_seed(1011)
    logits = torch.randn(32, 10, generator=generator) * 2
    teacher = torch.softmax(torch.randn(32, 10, generator=generator) * 2, dim=1)
    top = teacher.topk(3, dim=1)
    sparse = torch.zeros_like(teacher).scatter_(1, top.indices, top.values)  # a top-k release
    for name, targets in (("full probabilities", teacher), ("top-3 probabilities", sparse)):
        ce, kl, grad = _reference_loss(logits, targets)
        value, student_grad = _student_loss(distillation_loss, logits, targets)
        if student_grad is None or not torch.allclose(student_grad, grad, atol=1e-5, rtol=1e-4):
            hard = torch.nn.functional.cross_entropy(logits, targets.argmax(dim=1))
            if abs(value - float(hard)) < 1e-4:
                raise CheckFailed(
                    "your loss only uses the teacher's top class (a hard label). The "
                    "released probabilities carry more: use all of them."
                )
            if abs(value - ce * len(logits)) < 1e-3 or abs(value - kl * len(logits)) < 1e-3:
                raise CheckFailed(
                    "the loss is summed over the batch: average it over the rows so the "
                    "learning rate does not depend on the batch size."
                )
            raise CheckFailed(
                f"with {name} as targets, its gradient differs from the soft-label "
                "cross-entropy's: compare the teacher's probabilities with the student's "
                "log-probabilities, class by class."
            )
        if abs(value - ce) > 1e-4 and abs(value - kl) > 1e-4:
            raise CheckFailed(
                f"with {name} as targets it returned {value:.4f}; the soft-label "
                "cross-entropy (or the KL divergence) has a different value."
            )
    return "gradients match soft-label cross-entropy, also on a top-k release full of zeros."


def reference_fidelity(surrogate: Any, target: Any, x: Any, y: Any) -> tuple[float, float]:  # noqa: ANN401
    """The reference for 10.fidelity: (agreement of the two models' labels, the copy's accuracy)."""
    import torch

    with torch.no_grad():
        copy, original = surrogate(x).argmax(dim=1), target(x).argmax(dim=1)
    return float((copy == original).float().mean()), float((copy == y).float().mean())
