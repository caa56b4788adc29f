"""No loop silently reads the device back to the host: on a CPU-only machine, every host read a
loop makes (.item(), .tolist(), .numpy(), .cpu(), float()/int()/bool() of a tensor) is counted through
a TorchFunctionMode, and the count must not grow with the number of steps, batches or draws. A loop
that synchronised once per step would, on a GPU, wait for the device at every step.

Covered: training (with augmentation), adversarial training (FGSM and PGD inside), PGD (L-inf, L2,
with hooks), BPDA and EOT over a randomised JPEG-like defence, patch training, white-box inversion and
surrogate training (extraction), trigger reverse-engineering (Neural Cleanse).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from labkit.attacks.inversion import invert_whitebox
from labkit.attacks.patches import train_patch
from labkit.attacks.pgd import projected_gradient
from labkit.attacks.surrogate import train_surrogate
from labkit.defenses.adversarial_training import adversarial_train
from labkit.defenses.transforms import ExpectationOverTransformation, Transformed, jpeg_like, randomised
from labkit.models import DigitsCNN
from labkit.training import random_shift, train_model

pytestmark = pytest.mark.usefixtures("one_thread")

HOST_READS = {"item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__", "__index__"}


class HostReads(TorchFunctionMode):
    """Counts (and remembers where) tensors are read back to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:  # noqa: ANN401
        caller = sys._getframe(1).f_globals.get("__name__", "")
        # torch's optimisers keep their step counters on the CPU on purpose (reading them never
        # waits for the device), so their .item() calls are not host reads of device data
        if getattr(func, "__name__", "") in HOST_READS and not caller.startswith("torch.optim"):
            self.count += 1
        return func(*args, **(kwargs or {}))


def host_reads(run: Callable[[], object]) -> int:
    with HostReads() as mode:
        run()
    return mode.count


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = DigitsCNN(channels=(2, 4), hidden=8).eval()
    x = torch.rand(48, 1, 28, 28) ** 3
    y = torch.randint(0, 10, (48,))
    return model, x, y


def _fresh(seed: int = 0) -> DigitsCNN:
    torch.manual_seed(seed)
    return DigitsCNN(channels=(2, 4), hidden=8)


def _same_for(more: Callable[[], object], fewer: Callable[[], object]) -> None:
    a, b = host_reads(fewer), host_reads(more)
    assert a == b, f"host reads grow with the loop's length: {a} for the short run, {b} for the long one"


def test_the_counter_catches_a_per_step_read(setup):
    """The check is not vacuous: a loop that calls .item() per step is caught."""
    model, x, y = setup

    def leaky(steps: int) -> None:
        for _ in range(steps):
            model(x[:4]).sum().item()

    assert host_reads(lambda: leaky(5)) - host_reads(lambda: leaky(2)) == 3


def test_training_reads_once_per_epoch_not_per_batch(setup):
    _, x, y = setup
    for augment in (None, random_shift):
        _same_for(
            lambda a=augment: train_model(_fresh(), x, y, epochs=1, batch_size=8, augment=a, progress=False),
            lambda a=augment: train_model(_fresh(), x, y, epochs=1, batch_size=24, augment=a, progress=False),
        )


@pytest.mark.parametrize("perturb", ["fgsm", "pgd"])
def test_adversarial_training_reads_once_per_epoch(setup, perturb):
    _, x, y = setup
    _same_for(
        lambda: adversarial_train(
            _fresh(), x, y, perturb=perturb, steps=2, epsilon=0.1, epochs=1, batch_size=8, progress=False
        ),
        lambda: adversarial_train(
            _fresh(), x, y, perturb=perturb, steps=2, epsilon=0.1, epochs=1, batch_size=24, progress=False
        ),
    )


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_reads_nothing_per_step(setup, norm):
    model, x, y = setup
    g = torch.Generator().manual_seed(0)
    _same_for(
        lambda: projected_gradient(model, x, y, epsilon=0.1, steps=6, norm=norm, generator=g),
        lambda: projected_gradient(model, x, y, epsilon=0.1, steps=2, norm=norm, generator=g),
    )


def test_pgd_with_hooks_reads_nothing_per_step(setup):
    model, x, y = setup

    def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        true = logits.gather(1, labels[:, None]).squeeze(1)
        other = logits.masked_fill(torch.nn.functional.one_hot(labels, 10).bool(), -1e9).amax(1)
        return (other - true).sum()

    _same_for(
        lambda: projected_gradient(model, x, y, epsilon=0.1, steps=6, loss=margin),
        lambda: projected_gradient(model, x, y, epsilon=0.1, steps=2, loss=margin),
    )


def test_bpda_and_eot_over_a_randomised_jpeg_read_nothing_per_step(setup):
    model, x, y = setup
    defended = Transformed(model, randomised(lambda t: jpeg_like(t, quality=30), noise=0.05))
    for attacked in (
        Transformed(model, lambda t: jpeg_like(t, quality=30), straight_through=True),
        ExpectationOverTransformation(defended, samples=4),
    ):
        _same_for(
            lambda a=attacked: projected_gradient(a, x[:8], y[:8], epsilon=0.1, steps=5),
            lambda a=attacked: projected_gradient(a, x[:8], y[:8], epsilon=0.1, steps=2),
        )


def test_patch_training_reads_once_at_the_end(setup):
    model, x, _ = setup
    _same_for(
        lambda: train_patch(model, x, target=3, size=6, steps=6, batch_size=8, progress=False),
        lambda: train_patch(model, x, target=3, size=6, steps=2, batch_size=8, progress=False),
    )


def test_inversion_reads_once_at_the_end(setup):
    model, _, _ = setup
    _same_for(
        lambda: invert_whitebox(model, [1, 7], steps=6),
        lambda: invert_whitebox(model, [1, 7], steps=2),
    )


def test_surrogate_training_reads_once_per_epoch(setup):
    _, x, y = setup
    _same_for(
        lambda: train_surrogate(x, y, epochs=1, batch_size=8, progress=False),
        lambda: train_surrogate(x, y, epochs=1, batch_size=24, progress=False),
    )


def test_trigger_reverse_engineering_reads_nothing_per_step(setup):
    from labkit.defenses.backdoor_detection import reverse_engineer_triggers

    model, x, _ = setup
    _same_for(
        lambda: reverse_engineer_triggers(model, x, targets=[1, 2], steps=5, batch_size=8, progress=False),
        lambda: reverse_engineer_triggers(model, x, targets=[1, 2], steps=2, batch_size=8, progress=False),
    )
