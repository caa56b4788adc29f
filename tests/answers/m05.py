"""Correct, stub and plausible-wrong answers for module 05's checks."""

from __future__ import annotations

import torch

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
}
