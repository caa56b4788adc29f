"""Correct, stub and plausible-wrong answers for module 05's checks."""

from __future__ import annotations

import torch
from torch import nn

from labkit.attacks.backdoor import stamp
from labkit.training import predict_logits


def attack_success_rate(model, x, y, trigger, target):
    keep = y != target
    predictions = predict_logits(model, stamp(x[keep], trigger)).argmax(dim=1)
    return (predictions == target).float().mean().item()


def asr_counts_target_class_images(model, x, y, trigger, target):
    predictions = predict_logits(model, stamp(x, trigger)).argmax(dim=1)
    return (predictions == target).float().mean().item()


def asr_counts_any_misreading(model, x, y, trigger, target):
    keep = y != target
    predictions = predict_logits(model, stamp(x[keep], trigger)).argmax(dim=1)
    return (predictions != y[keep]).float().mean().item()


def asr_forgets_to_stamp(model, x, y, trigger, target):
    keep = y != target
    predictions = predict_logits(model, x[keep]).argmax(dim=1)
    return (predictions == target).float().mean().item()


def asr_in_training_mode(model, x, y, trigger, target):
    keep = y != target
    with torch.no_grad():
        predictions = model(stamp(x[keep], trigger)).argmax(dim=1)
    return (predictions == target).float().mean().item()


def asr_stamps_in_place(model, x, y, trigger, target):
    h, w = trigger.size
    x[..., trigger.top : trigger.top + h, trigger.left : trigger.left + w] = trigger.pattern
    keep = y != target
    predictions = predict_logits(model, x[keep]).argmax(dim=1)
    return (predictions == target).float().mean().item()


def _spectral(features, labels, *, centre_each_class=True, direction=lambda vh: vh[0]):
    """Per class: the squared projection onto the top singular direction (options make the mistakes)."""
    scores = torch.zeros(len(labels))
    for label in labels.unique():
        members = labels == label
        rows = features[members]
        if centre_each_class:
            rows = rows - rows.mean(dim=0)
        _, _, vh = torch.linalg.svd(rows, full_matrices=False)
        scores[members] = (rows @ direction(vh)) ** 2
    return scores


def spectral_scores(features, labels):
    return _spectral(features, labels)


def spectral_abs_projection(features, labels):
    return spectral_scores(features, labels).sqrt()


def spectral_not_centred(features, labels):
    return _spectral(features, labels, centre_each_class=False)


def spectral_global_centring(features, labels):
    return _spectral(features - features.mean(dim=0), labels, centre_each_class=False)


def spectral_column_of_vh(features, labels):
    return _spectral(features, labels, direction=lambda vh: vh[:, 0])


def anomaly_index(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    median = values.quantile(0.5)
    deviation = (values - median).abs()
    return deviation / (1.4826 * deviation.quantile(0.5))


def anomaly_z_score(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    return (values - values.mean()).abs() / values.std()


def anomaly_without_constant(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    deviation = (values - values.median()).abs()
    return deviation / deviation.median()


def anomaly_mean_absolute_deviation(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    deviation = (values - values.median()).abs()
    return deviation / (1.4826 * deviation.mean())


def anomaly_torch_median(values):
    values = torch.as_tensor(values, dtype=torch.float64)
    deviation = (values - values.median()).abs()
    return deviation / (1.4826 * deviation.median())


def _cleanse(
    model,
    x,
    target,
    *,
    steps,
    lr,
    cost,
    batch_size,
    seed,
    eval_mode=True,
    l1=True,
    goal="target",
    squash=True,
):
    """Neural Cleanse for one class; the options make the known mistakes."""
    was_training = model.training
    if eval_mode:
        model.eval()
    _, c, h, w = x.shape
    mask_raw = torch.full((h, w), -2.0 if squash else 0.1, requires_grad=True)
    pattern_raw = torch.zeros(c, h, w) if squash else torch.full((c, h, w), 0.5)
    pattern_raw.requires_grad_(True)
    optimiser = torch.optim.Adam([mask_raw, pattern_raw], lr=lr, betas=(0.5, 0.9))
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = x[torch.randint(len(x), (batch_size,), generator=generator)]
        with torch.no_grad():
            labels = torch.full((batch_size,), target) if goal == "target" else model(batch).argmax(dim=1)
        mask, pattern = (
            (torch.sigmoid(mask_raw), torch.sigmoid(pattern_raw)) if squash else (mask_raw, pattern_raw)
        )
        loss = nn.functional.cross_entropy(model((1 - mask) * batch + mask * pattern), labels)
        if l1:
            loss = loss + cost * mask.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.train(was_training)
    if squash:
        return torch.sigmoid(mask_raw).detach(), torch.sigmoid(pattern_raw).detach()
    return mask_raw.detach(), pattern_raw.detach()


def reverse_engineer_trigger(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    return _cleanse(model, x, target, steps=steps, lr=lr, cost=cost, batch_size=batch_size, seed=seed)


def cleanse_tanh_parametrised(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    """Also right: the original paper's tanh parametrisation and a random pattern start."""
    model.eval()
    _, c, h, w = x.shape
    mask_raw = torch.full((h, w), -1.0, requires_grad=True)
    pattern_raw = (0.1 * torch.randn(c, h, w, generator=torch.Generator().manual_seed(0))).requires_grad_(
        True
    )
    optimiser = torch.optim.Adam([mask_raw, pattern_raw], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = x[torch.randperm(len(x), generator=generator)[:batch_size]]
        mask, pattern = torch.tanh(mask_raw) / 2 + 0.5, torch.tanh(pattern_raw) / 2 + 0.5
        logits = model((1 - mask) * batch + mask * pattern)
        loss = (
            nn.functional.cross_entropy(logits, torch.full((len(batch),), target)) + cost * mask.abs().sum()
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return torch.tanh(mask_raw).detach() / 2 + 0.5, torch.tanh(pattern_raw).detach() / 2 + 0.5


def cleanse_without_l1(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    return _cleanse(
        model, x, target, steps=steps, lr=lr, cost=cost, batch_size=batch_size, seed=seed, l1=False
    )


def cleanse_toward_own_class(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    return _cleanse(
        model, x, target, steps=steps, lr=lr, cost=cost, batch_size=batch_size, seed=seed, goal="own"
    )


def cleanse_unbounded(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    return _cleanse(
        model, x, target, steps=steps, lr=lr, cost=cost, batch_size=batch_size, seed=seed, squash=False
    )


def cleanse_in_training_mode(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    return _cleanse(
        model, x, target, steps=steps, lr=lr, cost=cost, batch_size=batch_size, seed=seed, eval_mode=False
    )


def cleanse_optimises_the_model(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
    model.eval()
    _, c, h, w = x.shape
    mask, pattern = torch.full((h, w), 0.1), torch.full((c, h, w), 0.5)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        logits = model((1 - mask) * x + mask * pattern)
        loss = nn.functional.cross_entropy(logits, torch.full((len(x),), target)) + cost * mask.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return mask, pattern


ANSWERS = {
    "05.asr": (
        attack_success_rate,
        [
            (asr_counts_target_class_images, "already"),
            (asr_counts_any_misreading, "every misreading"),
            (asr_forgets_to_stamp, "never stamped"),
            (asr_stamps_in_place, "changed the images"),
            (asr_in_training_mode, "training mode"),
        ],
    ),
    "05.spectral": (
        spectral_scores,
        [
            (spectral_not_centred, "not centred"),
            (spectral_global_centring, "all classes together"),
            (spectral_column_of_vh, "column"),
        ],
    ),
    "05.mad": (
        anomaly_index,
        [
            (anomaly_z_score, "standard deviation"),
            (anomaly_without_constant, "constant"),
            (anomaly_mean_absolute_deviation, "mean absolute deviation"),
            (anomaly_torch_median, "lower of the two middle values"),
        ],
    ),
    "05.cleanse": (
        reverse_engineer_trigger,
        [
            (cleanse_without_l1, "growing"),
            (cleanse_toward_own_class, "own class"),
            (cleanse_unbounded, "outside [0, 1]"),
            (cleanse_in_training_mode, "training mode"),
            (cleanse_optimises_the_model, "weights"),
        ],
    ),
}
