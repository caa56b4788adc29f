"""Hidden tests for module 06 (white-box evasion): hand-written FGSM against foolbox's FGSM, and
PGD against labkit's projected-gradient loop."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise

HIDDEN = 200  # the last test digits: the notebook attacks the first ones


def _setup(n: int) -> tuple[Any, Any, Any]:
    """A fresh CPU copy of the cheque reader and n hidden test digits."""
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    x, y = load_digits("test")
    return load_model("digits_cnn", device="cpu"), x[-HIDDEN:][:n].clone(), y[-HIDDEN:][:n].clone()


def _accuracy(model: Any, x: Any, y: Any) -> float:
    import torch

    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _call(attack: Any, model: Any, x: Any, y: Any, epsilon: float, **kwargs: Any) -> Any:
    """Run the learner's attack and check what every attack must respect."""
    import torch

    before = x.clone()
    out = attack(model, x, y, epsilon, **kwargs)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"it should return a tensor of adversarial images, not {type(out).__name__}.")
    if not torch.equal(x, before):
        raise CheckFailed("it changed the input x in place: build the adversarial on a copy.")
    if tuple(out.shape) != tuple(x.shape):
        raise CheckFailed(f"for inputs of shape {tuple(x.shape)} it returned shape {tuple(out.shape)}.")
    if model.training:
        raise CheckFailed("it left the model in training mode: attack (and serve) a model in eval mode.")
    adv = out.detach().cpu().float()
    if float(adv.min()) < -1e-6 or float(adv.max()) > 1 + 1e-6:
        raise CheckFailed(
            f"its images have pixels in [{float(adv.min()):.3f}, {float(adv.max()):.3f}], outside the "
            f"valid range [0, 1]: a real scanner could never produce them."
        )
    moved = float((adv - x).abs().max())
    if moved > epsilon + 1e-5:
        raise CheckFailed(
            f"it moved a pixel by {moved:.3f}, more than epsilon = {epsilon}: the adversarial must stay "
            f"inside the L-inf ball around x."
        )
    return adv


@exercise(
    "06.fgsm",
    title="FGSM by hand",
    hint="FGSM takes one step that spends the whole L-inf budget. Ask which gradient says how the "
    "loss changes with the pixels, whether every pixel really moves by epsilon, whether the result "
    "is still an image, and whether x and the model are as you found them.",
)
def _check_fgsm(fgsm: Any) -> str:
    from labkit.attacks.evasion import as_foolbox, foolbox

    model, x, y = _setup(64)
    for epsilon in (0.1, 0.2):
        adv = _call(fgsm, model, x, y, epsilon)
        _, reference, _ = foolbox().attacks.LinfFastGradientAttack()(
            as_foolbox(model, device=x.device), x, y, epsilons=epsilon
        )
        model.eval()
        agree = float(((adv - reference.cpu()).abs() <= 1e-4).float().mean())
        if agree < 0.99:
            if float((adv - x).abs().mean()) < 0.5 * float((reference.cpu() - x).abs().mean()):
                raise CheckFailed(
                    f"your perturbation is much smaller on average than FGSM's at epsilon {epsilon}: "
                    f"FGSM spends the whole budget on every pixel (only the gradient's direction counts)."
                )
            if _accuracy(model, adv, y) >= _accuracy(model, x, y):
                raise CheckFailed(
                    "the model is at least as accurate on your images as on the clean ones: the "
                    "perturbation moves down the loss, not up."
                )
            raise CheckFailed(
                f"only {agree:.1%} of pixels match a reference FGSM at epsilon {epsilon}; use the "
                f"cross-entropy loss of the true labels y."
            )
    one = _call(fgsm, model, x[:1], y[:1], 0.1)
    if float((one - fgsm(model, x, y, 0.1)[:1].detach().cpu()).abs().max()) > 1e-4:
        raise CheckFailed("a single image gives a different result than the same image in a batch.")
    clean, attacked = _accuracy(model, x, y), _accuracy(model, adv, y)
    return (
        f"Matches foolbox's FGSM. At epsilon 0.2 the cheque reader's accuracy on these "
        f"{len(y)} hidden cheques drops from {clean:.0%} to {attacked:.0%}."
    )


def _diagnose_steps(seen: list, x: Any, step_size: float) -> None:
    """From the images the attack fed the model (one batch per step), name a step that is not a move
    of step_size per pixel (a signed step moves every pixel it does not clip by exactly step_size)."""
    batches = [b for b in seen if b.shape == x.shape]
    if len(batches) < 2:
        return
    move = (batches[1] - batches[0]).abs()
    moved = move[move > 1e-6]
    full = float(((moved - step_size).abs() < 1e-4).float().mean()) if moved.numel() else 0.0
    if full < 0.05:
        raise CheckFailed(
            f"in one step the pixels moved by up to {float(move.max()):.2g} but almost never by "
            f"step_size = {step_size}: the step follows the raw gradient's magnitude, not only its "
            f"direction."
        )


@exercise(
    "06.pgd",
    title="PGD by hand",
    hint="PGD repeats small steps from where the last one ended. After each one ask: is this still "
    "inside the epsilon ball around the image I was given, and still a valid image?",
)
def _check_pgd(pgd: Any) -> str:
    import torch

    from labkit.attacks.pgd import projected_gradient

    model, x, y = _setup(HIDDEN)
    epsilon, steps, step_size = 0.1, 10, 0.025
    seen: list = []
    spy = model.register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach().cpu()))
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            adv = _call(pgd, model, x, y, epsilon, steps=steps, step_size=step_size)
    finally:
        spy.remove()
    model.eval()
    _diagnose_steps(seen, x, step_size)
    reference = projected_gradient(
        model,
        x,
        y,
        epsilon=epsilon,
        steps=steps,
        step_size=step_size,
        generator=torch.Generator().manual_seed(0),
    )
    clean, yours, theirs = _accuracy(model, x, y), _accuracy(model, adv, y), _accuracy(model, reference, y)
    if float((adv - x).abs().mean()) < 0.3 * float((reference.cpu() - x).abs().mean()):
        raise CheckFailed(
            "your images barely move away from x: each step should move every pixel by step_size "
            "(only the gradient's direction counts, not its tiny magnitude)."
        )
    if yours >= clean - 0.02:
        raise CheckFailed(
            f"the model keeps {yours:.0%} accuracy on your images (clean: {clean:.0%}): the steps do "
            f"not go up the loss (a step down the gradient?)."
        )
    if yours > theirs + 0.05:
        raise CheckFailed(
            f"your attack leaves {yours:.0%} accuracy where labkit's PGD with the same {steps} steps "
            f"leaves {theirs:.0%}: it is too weak. Does it take every step, with the full step size?"
            if len(seen) > 1
            else f"your attack leaves {yours:.0%} accuracy where labkit's PGD with the same {steps} steps "
            f"leaves {theirs:.0%}: it queried the model's gradient only once, a single step."
        )
    return (
        f"As strong as labkit's PGD: with {steps} steps at epsilon {epsilon} the cheque reader keeps "
        f"{yours:.0%} accuracy on {len(y)} hidden cheques (labkit: {theirs:.0%}, clean {clean:.0%})."
    )


def reference_pgd(
    model: Any,
    x: Any,
    y: Any,
    epsilon: float,
    *,
    steps: int = 10,
    step_size: float = 0.025,
    random_start: bool = True,
) -> Any:
    """The reference for 06.pgd: labkit's projected-gradient loop on the model's device, in eval mode."""
    from labkit.attacks.pgd import projected_gradient

    model.eval()
    where = next(model.parameters()).device
    return projected_gradient(
        model,
        x.to(where),
        y.to(where),
        epsilon=epsilon,
        steps=steps,
        step_size=step_size,
        random_start=random_start,
    )


def reference_fgsm(model: Any, x: Any, y: Any, epsilon: float) -> Any:
    """The reference for 06.fgsm: one full signed step, no random start."""
    return reference_pgd(model, x, y, epsilon, steps=1, step_size=epsilon, random_start=False)
