"""Model extraction helpers: query sets, the soft-label loss, surrogate training, agreement."""

from __future__ import annotations

import pytest
import torch

from labkit.attacks.extraction import augment_queries, noise_queries, public_digits
from labkit.attacks.surrogate import agreement, soft_cross_entropy, surrogate_model, train_surrogate
from labkit.training import predict_logits
from labkit.zoo.registry import load_model

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def public():
    return public_digits()


def test_noise_queries_are_seeded_images_in_range():
    a, b = noise_queries(5, seed=3), noise_queries(5, seed=3)
    assert a.shape == (5, 1, 28, 28) and torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.equal(a, noise_queries(5, seed=4))
    with pytest.raises(ValueError, match="at least 1"):
        noise_queries(0)


def test_public_digits_are_centred_28_by_28_images(public):
    x, y = public
    assert x.shape == (1797, 1, 28, 28) and y.shape == (1797,)
    assert set(y.tolist()) == set(range(10))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert float(x[..., :4, :].abs().sum()) == 0.0 and float(x[..., :, -4:].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="size"):
        public_digits(size=40)


def test_augmented_queries_vary_around_their_seeds(public):
    x, _ = public
    a = augment_queries(x[:10], 30, seed=1)
    assert a.shape == (30, 1, 28, 28) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, augment_queries(x[:10], 30, seed=1))
    assert not torch.equal(a, augment_queries(x[:10], 30, seed=2))
    plain = augment_queries(x[:10], 10, rotate=0, scale=0, squeeze=0, shift=0, thin=0, noise=0)
    assert torch.allclose(plain, x[:10], atol=1e-4)  # no variation asked: the seeds come back
    with pytest.raises(ValueError, match="seed image"):
        augment_queries(x[:0], 5)


def test_soft_cross_entropy_matches_cross_entropy_on_one_hot_and_handles_zeros():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(6)
    one_hot = torch.nn.functional.one_hot(labels, 10).float()
    expected = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(soft_cross_entropy(logits, one_hot), expected)
    assert torch.isfinite(soft_cross_entropy(logits * 100, one_hot))


def test_a_surrogate_learns_the_target_from_its_answers(public):
    x, _ = public
    queries = augment_queries(x, 500, seed=0)
    target = load_model("digits_cnn", device="cpu")
    probabilities = torch.softmax(predict_logits(target, queries), dim=1)
    soft = train_surrogate(queries, probabilities, epochs=6, progress=False, device=torch.device("cpu"))
    hard = train_surrogate(
        queries, probabilities.argmax(dim=1), epochs=6, progress=False, device=torch.device("cpu")
    )
    untrained = surrogate_model()
    assert not soft.training and not hard.training
    learnt = agreement(soft, target, queries), agreement(hard, target, queries)
    assert min(learnt) > 0.5 and agreement(untrained, target, queries) < 0.3, learnt
    assert agreement(target, target, queries) == 1.0


def test_train_surrogate_refuses_mismatched_answers():
    x = noise_queries(4)
    with pytest.raises(ValueError, match="one answer per query"):
        train_surrogate(x, torch.zeros(3, dtype=torch.long), progress=False)
    with pytest.raises(ValueError, match="N x C"):
        train_surrogate(x, torch.zeros(4), progress=False)
