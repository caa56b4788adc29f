"""Hidden tests for module 09 (hardening: adversarial training, input transformations, BPDA)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _hidden_model() -> Any:
    import torch

    from labkit.models import DigitsCNN

    torch.manual_seed(909)
    return DigitsCNN(channels=(4, 8), hidden=16).eval()


def _hidden_batch(n: int = 32) -> tuple[Any, Any]:
    """Images strictly inside (0, 1) so that clipping to [0, 1] never hides a missing projection."""
    import torch

    generator = torch.Generator().manual_seed(4242)
    x = 0.3 + 0.4 * torch.rand(n, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return x, y


def _as_tensor(value: Any, like: Any, what: str) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch tensor, got {type(value).__name__}.")
    if value.shape != like.shape:
        raise CheckFailed(
            f"{what} should keep the input's shape {tuple(like.shape)}, got {tuple(value.shape)}."
        )
    return value.detach()


@exercise(
    "09.fgsm_rs",
    title="FGSM with a random start",
    hint="Start from a random point of the ball (uniform in [-epsilon, epsilon], drawn with the "
    "generator you are given), take ONE step of size alpha along the sign of the loss gradient "
    "at that point, then project back: into the epsilon-ball around the original x and into [0, 1].",
)
def _check_fgsm_rs(perturb: Any) -> str:
    import torch
    from torch import nn

    model = _hidden_model()
    x, y = _hidden_batch()
    eps, alpha = 0.1, 0.125

    def run(seed: int, inputs: Any = x, labels: Any = y) -> Any:
        generator = torch.Generator().manual_seed(seed)
        out = perturb(model, inputs, labels, epsilon=eps, alpha=alpha, generator=generator)
        return _as_tensor(out, inputs, "fgsm_random_start")

    adv = run(1)
    delta = adv - x
    if delta.abs().max() > eps + 1e-5:
        raise CheckFailed(
            f"a pixel moved by {delta.abs().max():.3f} but the budget is epsilon={eps}: project the "
            "result back into the ball around the ORIGINAL x."
        )
    edge = torch.zeros(4, 1, 28, 28)
    edge[:, :, 10:18, 10:18] = 1.0
    edge_adv = run(1, edge, y[:4])
    if edge_adv.min() < 0 or edge_adv.max() > 1:
        raise CheckFailed(
            "on an image with pixels at 0 and 1 the result left [0, 1]: clip to the valid range."
        )
    if not torch.equal(adv, run(1)):
        raise CheckFailed(
            "two calls with identically seeded generators gave different results: draw the random "
            "start with the `generator` argument, not the global random state."
        )
    if torch.equal(adv, run(2)):
        raise CheckFailed("different generators gave the same result: is the random start used at all?")
    small = (delta.abs() < 0.25 * eps - 1e-6).float().mean().item()
    if small > 0.05:
        raise CheckFailed(
            f"{small:.0%} of pixels moved by less than alpha - epsilon = {alpha - eps:.3f} from x, where a "
            "step of size alpha per pixel moves each at least that far: the step follows the raw "
            "gradient's magnitude (tiny), not only its direction."
        )
    with torch.no_grad():
        loss_clean = nn.functional.cross_entropy(model(x), y).item()
        loss_adv = nn.functional.cross_entropy(model(adv), y).item()
        noise = x + eps * (2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(7)) - 1)
        loss_noise = nn.functional.cross_entropy(model(noise), y).item()
    if loss_adv <= max(loss_clean, loss_noise) + 0.01:
        raise CheckFailed(
            f"the loss went from {loss_clean:.3f} (clean) to {loss_adv:.3f}; random noise of the same "
            f"size gives {loss_noise:.3f}. The step does not go up the loss (further than random noise does)."
        )
    return (
        f"one signed-gradient step raised a hidden model's loss from {loss_clean:.3f} to "
        f"{loss_adv:.3f}; every pixel stays within epsilon and in [0, 1]."
    )


@exercise(
    "09.bpda",
    title="a straight-through (BPDA) wrapper",
    hint="The forward value must be transform(x) exactly, while the gradient must be that of the "
    "identity. Write the output as x plus a correction that autograd does not see "
    "(tensor.detach() cuts a term out of the backward pass).",
)
def _check_bpda(straight_through: Any) -> str:
    import torch

    from labkit.defenses.transforms import bit_depth, jpeg_like

    generator = torch.Generator().manual_seed(99)
    x = torch.rand(3, 1, 28, 28, generator=generator)
    weights = torch.randn(3, 1, 28, 28, generator=generator)
    for name, transform in (
        ("3-bit squeezing", lambda t: bit_depth(t, bits=3)),
        ("JPEG-like compression", lambda t: jpeg_like(t, quality=30)),
    ):
        wrapped = straight_through(transform)
        if not callable(wrapped):
            raise CheckFailed(f"straight_through should return a function, got {type(wrapped).__name__}.")
        xx = x.clone().requires_grad_(True)
        out = wrapped(xx)
        value = _as_tensor(out, x, "the wrapped transformation")
        if not torch.allclose(value, transform(x), atol=1e-6):
            raise CheckFailed(
                f"with {name} the forward value differs from transform(x): the defended model must "
                "still see the transformed input, or you are evaluating a different model."
            )
        if not out.requires_grad:
            raise CheckFailed(f"with {name} the output carries no gradient at all: nothing to attack with.")
        (grad,) = torch.autograd.grad((out * weights).sum(), xx, allow_unused=True)
        if grad is None or grad.abs().max() == 0:
            raise CheckFailed(
                f"with {name} the gradient reaching x is zero: that is the masked gradient the attacker "
                "must get around."
            )
        if not torch.allclose(grad, weights, atol=1e-5):
            raise CheckFailed(
                f"with {name} the gradient is not that of the identity (d out / d x should be 1)."
            )
    return "forward = the defence, backward = the identity: the defence's gradient is no longer masked."


def reference_straight_through(transform: Any) -> Any:
    """The reference for 09.bpda: forward transform(x), backward the identity."""

    def wrapped(x: Any) -> Any:
        return x + (transform(x) - x).detach()

    return wrapped


def reference_adversarial_epoch(
    model: Any,
    x: Any,
    y: Any,
    optimiser: Any,
    *,
    attack: Any,
    epsilon: float,
    batch_size: int,
    generator: Any,
) -> float:
    """The reference for 09.adv_epoch: one epoch of adversarial training over the batches in order,
    as `labkit.defenses.adversarial_training.adversarial_train` does per batch (attack in eval mode,
    update in train mode on the attacked batch). Returns the mean attacked-batch loss."""
    import torch
    from torch import nn

    losses = []
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        model.eval()  # attack the model as deployed: no dropout, frozen batch statistics
        x_adv = attack(model, xb, yb, epsilon=epsilon, generator=generator)
        model.train()
        loss = nn.functional.cross_entropy(model(x_adv), yb)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.detach())
    return float(torch.stack(losses).mean())


def _mode_sensitive_model() -> Any:
    """A hidden model whose output depends on train/eval mode (BatchNorm and Dropout)."""
    import torch
    from torch import nn

    torch.manual_seed(919)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(4 * 6 * 6, 10),
    )  # fmt: skip


def _epoch_variants() -> dict[str, Any]:
    """Plausible mistakes, run the same way, to name the one an answer reproduces."""
    import torch
    from torch import nn

    def variant(*, attack_mode: str, update_mode: str, attacked: bool, zero: bool) -> Any:
        def run(model: Any, x: Any, y: Any, optimiser: Any, *, attack: Any, epsilon: float, batch_size: int,
                generator: Any) -> float:  # fmt: skip
            losses = []
            for start in range(0, len(x), batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                model.train(attack_mode == "train")
                x_adv = attack(model, xb, yb, epsilon=epsilon, generator=generator) if attacked else xb
                model.train(update_mode == "train")
                loss = nn.functional.cross_entropy(model(x_adv), yb)
                if zero:
                    optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.detach())
            return float(torch.stack(losses).mean())

        return run

    return {
        "the update is computed on the clean batch: the inner maximisation never reaches the outer "
        "minimisation": variant(attack_mode="eval", update_mode="train", attacked=False, zero=True),
        "the attack ran with the model in training mode (dropout on, BatchNorm statistics updated by "
        "the attacker's queries)": variant(
            attack_mode="train", update_mode="train", attacked=True, zero=True
        ),
        "the update ran with the model in eval mode (no dropout, BatchNorm statistics frozen during "
        "training)": variant(attack_mode="eval", update_mode="eval", attacked=True, zero=True),
        "gradients from earlier batches leak into each update (they accumulate in .grad until cleared)": (
            variant(attack_mode="eval", update_mode="train", attacked=True, zero=False)
        ),
    }


@exercise(
    "09.adv_epoch",
    title="one epoch of adversarial training",
    hint="Per batch: the inner maximisation (the attack, on the model as deployed) produces the "
    "batch the outer minimisation (one optimiser step on the loss) learns from.",
)
def _check_adv_epoch(epoch: Any) -> str:
    import torch

    from labkit.attacks.pgd import projected_gradient

    x, y = _hidden_batch(24)

    def attack(model: Any, xb: Any, yb: Any, *, epsilon: float, generator: Any = None) -> Any:
        return projected_gradient(model, xb, yb, epsilon=epsilon, steps=2, generator=generator)

    def run(fn: Any, *, seed: int = 5) -> tuple[Any, Any]:
        model = _mode_sensitive_model()
        optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
        torch.manual_seed(77)  # dropout draws the same masks for every answer
        generator = torch.Generator().manual_seed(seed)
        x_copy = x.clone()
        loss = fn(model, x_copy, y, optimiser, attack=attack, epsilon=0.1, batch_size=8, generator=generator)
        if not torch.equal(x_copy, x):
            raise CheckFailed("the training images changed: attack a copy, never the data set itself.")
        return model.state_dict(), loss

    def same(a: Any, b: Any) -> bool:
        return all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)

    expected, expected_loss = run(reference_adversarial_epoch)
    state, loss = run(epoch)
    if not same(state, expected):
        for mistake, variant in _epoch_variants().items():
            if same(state, run(variant)[0]):
                raise CheckFailed(f"your model ends where this mistake leads: {mistake}.")
        if same(run(epoch, seed=6)[0], state):
            raise CheckFailed(
                "another generator gave the same weights: the attack's random start does not use the "
                "generator you are given."
            )
        raise CheckFailed(
            "after one epoch on a hidden model (with BatchNorm and Dropout) the weights differ from "
            "adversarial training's: check the order of attack, forward, backward and step per batch."
        )
    if not isinstance(loss, (float, int, torch.Tensor)) or abs(float(loss) - expected_loss) > 1e-4:
        raise CheckFailed(
            f"the weights are right but the returned value {loss!r} is not the mean attacked-batch "
            f"loss of the epoch."
        )
    if same(run(epoch, seed=6)[0], state):
        raise CheckFailed(
            "another generator gave the same weights: the attack's random start does not use the "
            "generator you are given."
        )
    if not same(run(epoch)[0], state):
        raise CheckFailed("the same seed gave different weights: draw randomness only from the generator.")
    return (
        f"one epoch on a hidden model with BatchNorm and Dropout matches adversarial training "
        f"(mean attacked loss {float(loss):.3f}); seeded the same, it repeats exactly."
    )
