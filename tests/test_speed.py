"""The speed work's contracts: PGD equals a hand-written loop exactly, attacks give the caller's
model back as they found it, the thread choice and quick mode, cached JPEG tables, batched EOT."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from labkit.attacks.evasion import make_attack, run_attack
from labkit.attacks.inversion import invert_whitebox
from labkit.attacks.patches import train_patch
from labkit.attacks.pgd import projected_gradient
from labkit.defenses.transforms import ExpectationOverTransformation, _jpeg_tables, jpeg_like
from labkit.models import DigitsCNN
from labkit.runtime import borrowed, choose_threads, configure_threads, model_device, quick_mode
from labkit.training import predict_logits

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    model = DigitsCNN(channels=(4, 8), hidden=16).eval()
    x = torch.rand(12, 1, 28, 28) ** 3
    y = torch.randint(0, 10, (12,))
    return model, x, y


def _hand_pgd(model, x, y, *, epsilon, steps, size, generator):
    adv = (x + (2 * epsilon * torch.rand(x.shape, generator=generator) - epsilon)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(nn.functional.cross_entropy(model(adv), y, reduction="sum"), adv)
        adv = adv.detach() + size * grad.sign()
        adv = (x + (adv - x).clamp(-epsilon, epsilon)).clamp(0, 1)
    return adv


def test_pgd_gives_exactly_the_hand_written_loops_examples(toy):
    model, x, y = toy
    ours = projected_gradient(model, x, y, epsilon=0.1, steps=7, generator=torch.Generator().manual_seed(3))
    hand = _hand_pgd(
        model, x, y, epsilon=0.1, steps=7, size=0.25 / 7, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(ours, hand)


def test_pgd_works_inside_no_grad_and_still_checks_labels(toy):
    model, x, y = toy
    with torch.no_grad():
        adv = projected_gradient(model, x, y, epsilon=0.1, steps=2)
    assert (adv - x).abs().max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="y"):
        projected_gradient(model, x, torch.full_like(y, 10), epsilon=0.1, steps=2)


def _state(model):
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


def test_borrowed_restores_mode_flags_and_device_even_on_error(toy):
    model, _, _ = toy
    model.train()
    list(model.modules())[1].eval()  # a submodule in another mode than its parent
    next(model.parameters()).requires_grad_(False)
    before = _state(model)
    with pytest.raises(RuntimeError, match="boom"), borrowed(model, device=torch.device("cpu")):
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("boom")
    assert _state(model) == before and model_device(model) == torch.device("cpu")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)


@pytest.mark.parametrize(
    "attack",
    [
        lambda m, x, y: run_attack(
            m, x, y, "fgsm", epsilons=[0.1], device=torch.device("cpu"), progress=False
        ),
        lambda m, x, y: train_patch(m, x, target=1, size=5, steps=2, batch_size=4, progress=False),
        lambda m, x, y: invert_whitebox(m, [1], steps=2),
        lambda m, x, y: predict_logits(m, x),
        lambda m, x, y: projected_gradient(m, x, y, epsilon=0.1, steps=2),
    ],
    ids=["run_attack", "train_patch", "invert_whitebox", "predict_logits", "projected_gradient"],
)
def test_attacks_leave_a_training_model_in_training_mode(toy, attack):
    model, x, y = toy
    model.train()
    try:
        before = _state(model)
        attack(model, x, y)
        assert _state(model) == before
    finally:
        model.eval()


@pytest.mark.parametrize("name", ["pgd", "l2pgd"])
def test_rel_stepsize_zero_is_refused_and_none_is_the_default(name):
    with pytest.raises(ValueError, match="rel_stepsize"):
        make_attack(name, steps=10, rel_stepsize=0)
    assert make_attack(name, steps=10).rel_stepsize == pytest.approx(0.25)
    assert make_attack(name, steps=10, rel_stepsize=0.1).rel_stepsize == pytest.approx(0.1)


def test_thread_choice_argument_environment_and_errors(monkeypatch):
    assert choose_threads(3).threads == 3
    monkeypatch.setenv("LABKIT_THREADS", "2")
    assert choose_threads() == choose_threads(None) and choose_threads().threads == 2
    assert "LABKIT_THREADS" in choose_threads().reason
    monkeypatch.setenv("LABKIT_THREADS", "0")
    with pytest.raises(ValueError, match="LABKIT_THREADS"):
        choose_threads()
    monkeypatch.delenv("LABKIT_THREADS")
    chosen = choose_threads()
    assert 1 <= chosen.threads <= 4 and chosen.reason
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    monkeypatch.setattr("labkit.runtime.physical_cores", lambda: 2)
    busy = choose_threads()
    assert busy.threads == 1 and "busy" in busy.reason
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert choose_threads().threads == 2
    threads = torch.get_num_threads()
    try:
        assert configure_threads(2).threads == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_quick_mode_reads_labkit_quick(monkeypatch):
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert quick_mode()
    for value in ("0", ""):
        monkeypatch.setenv("LABKIT_QUICK", value)
        assert not quick_mode()


@pytest.mark.slow  # a fresh interpreter importing torch: tens of seconds on a busy machine
def test_importing_labkit_does_not_change_the_thread_count():
    code = (
        "import torch; torch.set_num_threads(2); import labkit.runtime, labkit.attacks.pgd, labkit.training; "
        "assert torch.get_num_threads() == 2, torch.get_num_threads()"
    )
    env = {**os.environ, "LABKIT_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_jpeg_tables_are_built_once_and_give_the_same_image(toy):
    _, x, _ = toy
    _jpeg_tables.cache_clear()
    first = jpeg_like(x, quality=40)
    again = jpeg_like(x, quality=40)
    assert torch.equal(first, again) and _jpeg_tables.cache_info().hits >= 1
    assert _jpeg_tables.cache_info().misses == 1


def test_batched_eot_averages_the_draws_in_chunks(toy):
    model, x, _ = toy
    eot = ExpectationOverTransformation(model, samples=5)
    assert torch.allclose(eot(x), model(x), atol=1e-5)  # a deterministic model: the mean is itself
    eot.max_rows = len(x) * 2  # passes of two draws, then one
    assert torch.allclose(eot(x), model(x), atol=1e-5)
    calls = []
    counting = nn.Sequential(model)
    counting.register_forward_hook(lambda _m, inp, _o: calls.append(len(inp[0])))
    ExpectationOverTransformation(counting, samples=5)(x)
    assert calls == [5 * len(x)]
