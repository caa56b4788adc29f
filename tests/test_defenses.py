"""Defences: training-time attacks stay in the ball, transformations behave, BPDA/EOT give gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.attacks.pgd import fgsm_random_start, projected_gradient
from labkit.defenses.adversarial_training import adversarial_train, make_perturb
from labkit.defenses.transforms import (
    ExpectationOverTransformation,
    SharpenedLogits,
    Transformed,
    bit_depth,
    bpda,
    jpeg_like,
    median_filter,
    randomised,
)
from labkit.models import DigitsCNN
from labkit.training import accuracy


@pytest.fixture(scope="module")
def toy():
    """A small random CNN and a batch of structured images (fast, no shipped data needed)."""
    torch.manual_seed(0)
    model = DigitsCNN(channels=(4, 8), hidden=16).eval()
    x = torch.rand(16, 1, 28, 28) ** 3
    y = torch.randint(0, 10, (16,))
    return model, x, y


def _loss(model, x, y):
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y).item()


@pytest.mark.parametrize("attack", [fgsm_random_start, projected_gradient])
def test_training_attacks_stay_in_the_ball_and_raise_the_loss(toy, attack):
    model, x, y = toy
    generator = torch.Generator().manual_seed(0)
    adv = attack(model, x, y, epsilon=0.1, generator=generator)
    assert adv.shape == x.shape and not adv.requires_grad
    assert (adv - x).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert _loss(model, adv, y) > _loss(model, x, y)


def test_pgd_is_stronger_than_its_random_start(toy):
    model, x, y = toy
    start = projected_gradient(
        model, x, y, epsilon=0.1, steps=1, step_size=0.0, generator=torch.Generator().manual_seed(1)
    )
    pgd = projected_gradient(model, x, y, epsilon=0.1, steps=10, generator=torch.Generator().manual_seed(1))
    assert _loss(model, pgd, y) > _loss(model, start, y)


def test_random_start_depends_on_the_generator(toy):
    model, x, y = toy
    a = fgsm_random_start(model, x, y, epsilon=0.1, generator=torch.Generator().manual_seed(1))
    b = fgsm_random_start(model, x, y, epsilon=0.1, generator=torch.Generator().manual_seed(2))
    c = fgsm_random_start(model, x, y, epsilon=0.1, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, b) and torch.equal(a, c)


def test_bad_hyperparameters_are_refused(toy):
    model, x, y = toy
    with pytest.raises(ValueError, match="fgsm"):
        make_perturb("bim")
    with pytest.raises(ValueError, match="steps"):
        projected_gradient(model, x, y, epsilon=0.1, steps=0)
    with pytest.raises(ValueError, match="clean_weight"):
        adversarial_train(model, x, y, clean_weight=2.0, progress=False)
    with pytest.raises(ValueError, match="bits"):
        bit_depth(x, bits=0)
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, size=2)
    with pytest.raises(ValueError, match="quality"):
        jpeg_like(x, quality=0)
    with pytest.raises(ValueError, match="epsilon"):
        fgsm_random_start(model, x, y, epsilon=-0.1)
    with pytest.raises(ValueError, match="labels"):
        adversarial_train(model, x, y[:3], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        adversarial_train(model, x, y, epochs=0, progress=False)


def test_adversarial_training_improves_robustness_on_a_toy_task():
    """Two well-separated classes (0.2 vs 0.8 in a square, so epsilon 0.1 cannot blur them):
    FGSM and PGD training should make PGD much less effective."""
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=generator)
    x = torch.full((256, 1, 28, 28), 0.2)
    x[y == 1, :, 8:20, 8:20] = 0.8
    x = (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    robust = {"steps": 3, "epsilon": 0.1, "warmup_epochs": 1, "clean_weight": 0.2}
    training = {  # "standard": epsilon 0 leaves the batches clean
        "standard": {"perturb": "fgsm", "epsilon": 0.0},
        "fgsm": {"perturb": "fgsm", **robust},
        "pgd": {"perturb": "pgd", **robust},
    }
    results = {}
    for name, attack in training.items():
        torch.manual_seed(0)
        model = DigitsCNN(channels=(4, 8), hidden=16)
        losses = adversarial_train(model, x, y, **attack, epochs=4, batch_size=8, lr=3e-3, progress=False)
        if name != "standard":
            assert len(losses) == 4 and all(loss == loss for loss in losses)
        adv = projected_gradient(
            model, x, y, epsilon=0.1, steps=10, generator=torch.Generator().manual_seed(0)
        )
        results[name] = (accuracy(model, x, y), accuracy(model, adv, y))
    assert results["standard"][0] > 0.95 and results["standard"][1] < 0.2
    assert results["fgsm"][1] > 0.8 and results["pgd"][1] > 0.8


def test_transformations_keep_shape_and_range():
    x = torch.rand(3, 1, 28, 28)
    for out in (bit_depth(x, bits=2), median_filter(x, size=3), jpeg_like(x, quality=30)):
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert set(bit_depth(x, bits=1).unique().tolist()) <= {0.0, 1.0}
    assert len(bit_depth(x, bits=3).unique()) <= 8


def test_median_filter_removes_salt_noise_and_jpeg_keeps_smooth_images():
    image = torch.zeros(1, 1, 28, 28)
    image[..., 10, 10] = 1.0
    assert median_filter(image).max() == 0.0
    smooth = torch.linspace(0, 1, 28).repeat(28, 1)[None, None]

    def error(quality):
        return (jpeg_like(smooth, quality=quality) - smooth).abs().max()

    assert error(95) < 0.03 and error(5) > error(95)


def test_jpeg_matches_a_direct_dct_of_one_block():
    x = torch.rand(1, 1, 8, 8)
    assert (jpeg_like(x, quality=100) - x).abs().max() < 2 / 255  # quality 100: quantiser step 1


def test_transformed_model_masks_gradients_and_bpda_restores_them(toy):
    model, x, y = toy
    defended = Transformed(model, lambda t: bit_depth(t, bits=3))
    adaptive = bpda(defended)
    assert torch.equal(defended(x), adaptive(x)) and torch.equal(defended(x), model(bit_depth(x, bits=3)))

    def grad(m):
        xx = x.clone().requires_grad_(True)
        nn.functional.cross_entropy(m(xx), y).backward()
        return xx.grad

    assert grad(defended).abs().max() == 0  # round() has no useful gradient
    straight = grad(adaptive)
    squeezed = bit_depth(x, bits=3).requires_grad_(True)
    nn.functional.cross_entropy(model(squeezed), y).backward()
    assert torch.allclose(straight, squeezed.grad)


def test_eot_averages_a_randomised_model(toy):
    model, x, y = toy
    noisy = Transformed(model, randomised(lambda t: t, noise=0.2))
    torch.manual_seed(0)
    single = [noisy(x[:2]) for _ in range(2)]
    assert not torch.equal(single[0], single[1])
    eot = ExpectationOverTransformation(noisy, samples=16)
    torch.manual_seed(1)
    a = eot(x[:2])
    torch.manual_seed(2)
    b = eot(x[:2])
    assert (a - b).abs().mean() < (single[0] - single[1]).abs().mean()
    with pytest.raises(ValueError):
        ExpectationOverTransformation(noisy, samples=0)


def test_sharpened_logits_keep_decisions_and_kill_the_gradient(toy):
    model, x, y = toy
    sharp = SharpenedLogits(model, factor=1e4)
    assert torch.equal(sharp(x).argmax(1), model(x).argmax(1))
    xx = x.clone().requires_grad_(True)
    logits = sharp(xx)
    nn.functional.cross_entropy(logits, logits.argmax(1)).backward()
    plain = x.clone().requires_grad_(True)
    out = model(plain)
    nn.functional.cross_entropy(out, out.argmax(1)).backward()

    def dead(grad):
        return (grad.abs().sum(dim=(1, 2, 3)) == 0).float().mean()

    assert dead(xx.grad) > dead(plain.grad)


def test_the_shipped_robust_model_resists_pgd_where_the_standard_one_falls():
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    x, y = load_digits("test")
    x, y = x[:100], y[:100]
    results = {}
    for name in ("digits_cnn", "digits_cnn_robust"):
        model = load_model(name, device="cpu")
        adv = projected_gradient(
            model, x, y, epsilon=0.3, steps=10, generator=torch.Generator().manual_seed(0)
        )
        results[name] = (accuracy(model, x, y), accuracy(model, adv, y))
    assert results["digits_cnn"][1] < 0.1
    assert results["digits_cnn_robust"][0] > 0.9 and results["digits_cnn_robust"][1] > 0.4
