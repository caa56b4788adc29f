"""Hidden tests for module 10, part 2: synthesising queries with the copy's gradients (Jacobian-based
dataset augmentation, Papernot et al. 2017). Split from m10_model_extraction.py to keep files small."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def reference_synthesise_queries(surrogate: Any, x: Any, *, step: float) -> Any:  # noqa: ANN401
    """The reference for 10.synthesise: x + step * sign(d score_c / dx), c the copy's predicted
    class, clipped to [0, 1]; new, detached images (x itself is left unchanged)."""
    import torch

    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    chosen = scores.gather(1, scores.argmax(dim=1, keepdim=True)).sum()  # each row: its predicted class
    (gradient,) = torch.autograd.grad(chosen, x)
    return (x + step * gradient.sign()).clamp(0.0, 1.0).detach()


def _variant(kind: str) -> Callable[..., Any]:
    """A synthesis step with one known mistake, to recognise it in a learner's result."""
    import torch

    def synthesise(surrogate: Any, x: Any, *, step: float) -> Any:  # noqa: ANN401
        x = x.detach().clone().requires_grad_(True)
        scores = surrogate(x)
        predicted = scores.argmax(dim=1)
        if kind == "all scores":
            objective = scores.sum()
        elif kind == "loss":
            objective = torch.nn.functional.cross_entropy(scores, predicted)
        elif kind == "probability":
            objective = torch.softmax(scores, dim=1).gather(1, predicted[:, None]).sum()
        else:
            objective = scores.gather(1, predicted[:, None]).sum()
        (gradient,) = torch.autograd.grad(objective, x)
        direction = gradient if kind == "raw gradient" else gradient.sign()
        moved = x - step * direction if kind == "descends" else x + step * direction
        return moved.detach() if kind == "no clip" else moved.clamp(0.0, 1.0).detach()

    return synthesise


_DIAGNOSES = {
    "descends": "each pixel moves against the gradient: the step lowers the score of the class the copy "
    "predicts instead of raising it.",
    "loss": "it steps up the cross-entropy loss (module 06's FGSM step): that pushes the copy away from its "
    "own prediction, while this step follows the predicted class's score.",
    "all scores": "the gradient is that of the sum of all ten classes' scores: every image then moves "
    "the same way whatever the copy reads in it, not towards the class it predicts.",
    "probability": "it follows the predicted class's probability after softmax; the step uses its score "
    "(the raw output, the logit), whose gradient points elsewhere.",
    "raw gradient": "pixels move by the gradient's size times step, not by exactly step: most pixels "
    "barely move.",
}


def _model() -> Any:  # noqa: ANN401
    import torch
    from torch import nn

    torch.manual_seed(1010)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 5))
    return model.eval()


def _images() -> Any:  # noqa: ANN401
    import torch

    x = torch.rand(24, 1, 4, 4, generator=torch.Generator().manual_seed(2024))
    x[:6] = (x[:6] > 0.5).float()  # saturated pixels, exactly 0 or 1: the box's boundary
    x[6:12] = x[6:12] * 0.04 + (x[6:12] > 0.5).float() * 0.96  # within 0.04 of it
    return x


def _as_images(result: Any, x: Any) -> Any:  # noqa: ANN401
    import torch

    if result is None:
        raise CheckFailed("it returned None: is a `return` missing?")
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"it should return a tensor of new images, got {type(result).__name__}.")
    if result.shape != x.shape:
        extra = " (the originals and the new ones together?)" if len(result) == 2 * len(x) else ""
        raise CheckFailed(
            f"it should return one new image per query, shape {tuple(x.shape)}, got "
            f"{tuple(result.shape)}{extra}."
        )
    return result


@exercise(
    "10.synthesise",
    title="synthesise queries with the copy's gradients",
    hint="Three questions about your step: whose gradient is it (which number, for which class), which "
    "way does each pixel move and by how much, and is the result still an image the API accepts?",
)
def _check_synthesise(synthesise_queries: Any) -> str:  # noqa: ANN401
    import torch

    model, x = _model(), _images()
    original = x.clone()
    result = synthesise_queries(model, x, step=0.1)
    if not torch.equal(x, original):
        raise CheckFailed("it changed the images it was given: the new queries must be new tensors.")
    result = _as_images(result, x)
    if result.requires_grad:
        raise CheckFailed(
            "the new images still carry autograd's graph (requires_grad): they are data to send to the "
            "API now, detach them."
        )
    if float(result.min()) < 0.0 or float(result.max()) > 1.0:
        raise CheckFailed(
            f"some pixels end outside [0, 1] (from {float(result.min()):.2f} to {float(result.max()):.2f}): "
            "near black and white pixels the step leaves the box of valid images."
        )
    for step in (0.1, 0.25):
        got = result if step == 0.1 else _as_images(synthesise_queries(model, x, step=step), x)
        expected = reference_synthesise_queries(model, x, step=step)
        if torch.allclose(got.detach().float(), expected, atol=1e-6):
            continue
        for kind, message in _DIAGNOSES.items():
            if torch.allclose(got.detach().float(), _variant(kind)(model, x, step=step), atol=1e-6):
                raise CheckFailed(message)
        if torch.allclose(got.detach().float(), x.detach(), atol=1e-6):
            raise CheckFailed("the new images equal the old ones: nothing moved.")
        wrong = int((~torch.isclose(got.detach().float(), expected, atol=1e-6)).sum())
        raise CheckFailed(
            f"with step {step}, {wrong} of {expected.numel()} pixels differ from the described step, and "
            "not in a way the check recognises."
        )
    moved = float((result - x).abs().amax())
    return f"every pixel moves by at most {moved:.2f} and stays in [0, 1], towards the copy's own reading."
