"""Hidden test for module 11's white-box model-inversion exercise (gradient ascent to a class prototype).

The learner's loop runs on a tiny seeded reader with batch norm and dropout, handed over in training
mode, and is compared with labkit's `invert_whitebox`; known mistakes are recognised by their results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

SIZE, CLASSES = 8, 5
ATOL = 1e-3


def reference_invert(model: Any, classes: Any, *, steps: int, lr: float, tv_weight: float, start: Any) -> Any:  # noqa: ANN401
    """The reference for 11.invert: labkit's `invert_whitebox` from one start image (C x H x W), returning
    only the images (K x C x H x W, detached, on the CPU)."""
    from labkit.attacks.inversion import invert_whitebox

    return invert_whitebox(
        model, classes, shape=tuple(start.shape), steps=steps, lr=lr, tv_weight=tv_weight, start=start
    ).images


def _variant(kind: str) -> Callable[..., Any]:
    """The loop with one known mistake, to recognise it in a learner's result."""
    import torch

    from labkit.attacks.inversion import total_variation

    def invert(model: Any, classes: Any, *, steps: int, lr: float, tv_weight: float, start: Any) -> Any:  # noqa: ANN401
        was = model.training
        model.eval()
        x = start.expand(len(classes), *start.shape).clone().requires_grad_(True)
        optimiser = torch.optim.Adam([x], lr=lr) if kind != "sgd" else torch.optim.SGD([x], lr=lr)
        for _ in range(steps):
            if kind == "through model":
                with torch.no_grad():
                    scores = model(x)
            else:
                scores = model(x)
            if kind == "logit":
                score = scores.gather(1, classes.view(-1, 1)).squeeze(1)
            else:
                score = scores.log_softmax(dim=1).gather(1, classes.view(-1, 1)).squeeze(1)
            penalty = {"no tv": 0.0, "tv sign": -tv_weight}.get(kind, tv_weight) * total_variation(x)
            objective = score - penalty
            loss = objective.sum() if kind == "descends" else -objective.sum()
            optimiser.zero_grad()
            loss.backward()
            if kind == "signed":
                with torch.no_grad():
                    assert x.grad is not None
                    x -= lr * x.grad.sign()
            else:
                optimiser.step()
            if kind != "clamp at end":
                with torch.no_grad():
                    x.clamp_(0, 1)
        model.train(was)
        return x.detach().clamp(0, 1)

    return invert


_DIAGNOSES = {
    "descends": "the intended class's probability falls: each step goes downhill on the objective.",
    "through model": "the images move, but only the smoothness term moves them: no gradient reaches them "
    "through the model (is its output computed without gradients, or from a detached copy?).",
    "no tv": "the images match an ascent without the smoothness penalty: tv_weight changes nothing.",
    "tv sign": "the smoothness term has the wrong sign: a larger tv_weight makes the images rougher.",
    "clamp at end": "the pixels are brought back into [0, 1] only once, at the end; in between the images "
    "wander outside the box of valid images, and the path differs.",
    "logit": "it climbs the class's raw score (logit); the exercise climbs its log-probability, which "
    "also pushes the other classes down.",
    "signed": "every pixel moves by exactly lr each step (signed steps); the exercise takes Adam steps.",
    "sgd": "the pixels move by lr times the gradient (plain gradient steps); the exercise takes Adam steps.",
}


def _model() -> Any:  # noqa: ANN401
    """A tiny seeded reader with batch norm and dropout, given in training mode as a caller may hold it."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # seeded without touching the learner's random state
        torch.manual_seed(1111)
        norm = nn.BatchNorm2d(4)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3),
            norm,
            nn.ReLU(),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(4 * (SIZE - 2) ** 2, CLASSES),
        )
        assert norm.running_mean is not None and norm.running_var is not None
        with torch.no_grad():
            norm.running_mean.uniform_(-0.2, 0.2)
            norm.running_var.uniform_(0.5, 1.5)
    return model.train()


def _start(seed: int) -> Any:  # noqa: ANN401
    """A start image without ties between neighbours (ties make total variation's gradient ambiguous,
    so rounding alone could steer two right answers apart); the steps reach 0 and 1 on their own."""
    import torch

    return 0.1 + 0.8 * torch.rand(1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def _log_p(images: Any, classes: Any) -> float:  # noqa: ANN401
    import torch

    model = _model().eval()
    with torch.no_grad():
        return float(model(images).log_softmax(dim=1).gather(1, classes.view(-1, 1)).mean())


def _run(invert: Any, case: dict[str, Any], **changes: Any) -> Any:  # noqa: ANN401
    """Call the learner's function on a fresh model; check what it may not change; return its images."""
    import torch

    kwargs = dict(case, **changes)
    model, start, classes = _model(), kwargs["start"], kwargs["classes"]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    given_start = start.clone()
    result = invert(model, classes.clone(), **{k: v for k, v in kwargs.items() if k != "classes"})
    if result is None:
        raise CheckFailed("it returned None: is a `return` missing?")
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"it should return a tensor of images, got {type(result).__name__}.")
    shape = (len(classes), *start.shape)
    if tuple(result.shape) != shape:
        raise CheckFailed(f"it should return one image per class, shape {shape}, got {tuple(result.shape)}.")
    if result.requires_grad:
        raise CheckFailed(
            "the images still carry autograd's graph (requires_grad): return them detached, as data."
        )
    if not torch.equal(start, given_start):
        raise CheckFailed("it changed the start image it was given: work on a copy.")
    names = dict(model.named_parameters())
    for key, value in model.state_dict().items():
        if not torch.equal(value, state[key]):
            if key in names:
                raise CheckFailed(
                    "the model's weights changed: the attack may only move the images, never the model."
                )
            raise CheckFailed(
                "the model ran in training mode: its batch-norm running statistics changed (and dropout "
                "made every forward pass random)."
            )
    if not model.training:
        raise CheckFailed(
            "the model was given in training mode and comes back in eval mode: leave the caller's model "
            "as it was."
        )
    result = result.detach().float().cpu()
    if float(result.min()) < 0.0 or float(result.max()) > 1.0:
        raise CheckFailed(
            f"some pixels end outside [0, 1] (from {float(result.min()):.2f} to {float(result.max()):.2f}): "
            "the images are no longer valid images."
        )
    return result


@exercise(
    "11.invert",
    title="white-box model inversion",
    hint="Questions to ask your loop: which way does the intended class's probability move, what keeps "
    "each image valid at every step, what does tv_weight change, and is the model exactly as you were "
    "given it afterwards?",
)
def _check_invert(invert_classes: Any) -> str:  # noqa: ANN401
    import torch

    from labkit.attacks.inversion import total_variation

    cases = [
        dict(classes=torch.tensor([0, 3, 3, 1, 4]), steps=20, lr=0.1, tv_weight=0.3, start=_start(3)),
        dict(classes=torch.tensor([2, 4, 0]), steps=12, lr=0.05, tv_weight=1.0, start=_start(4)),
    ]
    for n, case in enumerate(cases, 1):
        name = f"case {n}"
        got = _run(invert_classes, case)
        expected = reference_invert(_model(), **case)
        if torch.allclose(got, expected, atol=ATOL):
            continue
        start = case["start"].expand(len(case["classes"]), *case["start"].shape)
        if torch.allclose(got, start, atol=1e-6):
            raise CheckFailed(f"[{name}] the images come back as they started: nothing moved.")
        for kind, message in _DIAGNOSES.items():
            if torch.allclose(got, _variant(kind)(_model(), **case), atol=ATOL):
                raise CheckFailed(f"[{name}] {message}")
        other = _run(invert_classes, case, start=_start(99))
        if torch.allclose(got, other, atol=1e-6):
            raise CheckFailed(
                f"[{name}] the result is the same from another start image: it ignores `start`."
            )
        if _log_p(got, case["classes"]) < _log_p(start, case["classes"]):
            raise CheckFailed(f"[{name}] {_DIAGNOSES['descends']}")
        smooth = _run(invert_classes, case, tv_weight=0.0)
        if torch.allclose(got, smooth, atol=1e-6):
            raise CheckFailed(f"[{name}] {_DIAGNOSES['no tv']}")
        if float(total_variation(got).mean()) > float(total_variation(smooth).mean()):
            raise CheckFailed(f"[{name}] {_DIAGNOSES['tv sign']}")
        raise CheckFailed(
            f"[{name}] the images differ from the described ascent by up to "
            f"{float((got - expected).abs().max()):.3f}, in a way the check does not recognise."
        )
    last = cases[-1]
    begin = last["start"].expand(len(last["classes"]), *last["start"].shape)
    gain = _log_p(got, last["classes"]) - _log_p(begin, last["classes"])
    return (
        f"your images match labkit's inversion; the intended classes' log-probability rose by {gain:.2f} "
        "on the last case, and the model is as it was given."
    )
