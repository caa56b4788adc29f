"""Hidden tests for module 05 (backdoors)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, as_values, exercise


def _fake_reader(trigger: Any, target: int) -> Any:
    """A stand-in cheque reader with a known backdoor, so the right answer is known exactly.

    It reads the class from the brightest of the first ten pixels of row 0. When the trigger is
    present, images marked at (2, 0) flip to `target` and images marked at (2, 1) to class + 1.
    """
    import torch
    from torch import nn

    h, w = trigger.size

    class FakeReader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            image = x[:, 0]
            read = image[:, 0, :10].argmax(dim=1)
            region = image[:, trigger.top : trigger.top + h, trigger.left : trigger.left + w]
            present = region.mean(dim=(1, 2)) > 0.9
            if self.training:  # like dropout over the trigger's features: gone in training mode
                present = torch.zeros_like(present)
            predicted = read.clone()
            predicted[present & (image[:, 2, 1] > 0.5)] = (read[present & (image[:, 2, 1] > 0.5)] + 1) % 10
            predicted[present & (image[:, 2, 0] > 0.5)] = target
            return nn.functional.one_hot(predicted, 10).float() * 5 + self.anchor

    return FakeReader().eval()


def _fake_digits(seed: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat(8)
    x = torch.zeros(len(y), 1, 28, 28)
    x[torch.arange(len(y)), 0, 0, y] = 1.0
    x[:, 0, 2, 0] = (torch.rand(len(y), generator=generator) < 0.45).float()  # will flip to target
    x[:, 0, 2, 1] = (torch.rand(len(y), generator=generator) < 0.30).float()  # will flip to class + 1
    return x, y


def _expected_asr(x: Any, y: Any, target: int) -> float:
    keep = y != target
    flips = (x[keep, 0, 2, 0] > 0.5) | ((x[keep, 0, 2, 1] > 0.5) & ((y[keep] + 1) % 10 == target))
    return flips.float().mean().item()


@exercise(
    "05.asr",
    title="measure the attack success rate",
    hint="The rate answers: of the images the trigger could move, how many does it move to the "
    "attacker's class? Decide which images count, and leave the ones you were given as they were.",
)
def _check_asr(attack_success_rate: Any) -> str:
    from labkit.attacks.backdoor import make_trigger

    for seed, target, trigger, mode in (
        (5, 3, make_trigger(pattern="square", size=3, position="bottom-left"), "eval"),
        (6, 7, make_trigger(pattern="square", size=4, position="top-right"), "eval"),
        (7, 2, make_trigger(pattern="square", size=3, position="top-right"), "train"),
    ):
        x, y = _fake_digits(seed)
        before = x.clone()
        model = _fake_reader(trigger, target).train(mode == "train")
        result = attack_success_rate(model, x, y, trigger, target)
        try:
            value = float(result)
        except (TypeError, ValueError):
            raise CheckFailed(f"it should return one number (a fraction), got {result!r}.") from None
        if not (x.shape == before.shape and bool((x == before).all())):
            raise CheckFailed("it changed the images it was given: stamp a copy, not the originals.")
        expected = _expected_asr(x, y, target)
        if abs(value - expected) > 1e-6:
            if not 0.0 <= value <= 1.0:
                raise CheckFailed(f"it returned {value:.3f}: a success rate is a fraction in [0, 1].")
            _diagnose_asr(value, model, x, y, trigger, target)
            raise CheckFailed(
                f"on a hidden backdoored model it returned {value:.3f}, which is not the success "
                "rate; think about which images count and what counts as a success."
            )
    return "Target-class images are left out, and only readings of the target count."


def _diagnose_asr(value: float, model: Any, x: Any, y: Any, trigger: Any, target: int) -> None:
    """Raise CheckFailed naming the mistake if `value` is what a known mistake computes."""
    import torch

    from labkit.attacks.backdoor import stamp

    keep = y != target
    if model.training:
        with torch.no_grad():
            as_given = model(stamp(x[keep], trigger)).argmax(dim=1)
        if abs(value - float((as_given == target).float().mean())) < 1e-6:
            raise CheckFailed(
                "the hidden model came in training mode and your code read the images in that mode "
                "(here it hides the trigger, as dropout can); a success rate is measured in evaluation mode."
            )
    model.eval()
    with torch.no_grad():
        stamped = model(stamp(x, trigger)).argmax(dim=1)
        clean = model(x).argmax(dim=1)
    mistakes = {
        "it counts images whose true class already is the target: those prove nothing about the trigger.": (
            stamped == target
        )
        .float()
        .mean(),
        "it counts every misreading of a stamped image, not only readings as the target.": (
            stamped[keep] != y[keep]
        )
        .float()
        .mean(),
        "the images it classifies were never stamped with the trigger.": (clean[keep] == target)
        .float()
        .mean(),
    }
    for message, wrong in mistakes.items():
        if abs(value - float(wrong)) < 1e-6:
            raise CheckFailed(message)


def _spectral_case(seed: int) -> Any:
    """Three classes with distinct means; class 1 holds a poisoned sub-population shifted along u."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    dim, per_class, poisoned = 24, 150, 25
    means = 6 * torch.randn(3, dim, generator=generator)
    rows, labels = [], []
    for label in range(3):
        scales = 0.3 + 0.4 * torch.rand(dim, generator=generator)
        rows.append(means[label] + scales * torch.randn(per_class, dim, generator=generator))
        labels.append(torch.full((per_class,), label))
    u = torch.randn(dim, generator=generator)
    u /= u.norm()
    poison = means[1] + 0.3 * torch.randn(poisoned, dim, generator=generator) + 4.0 * u
    rows.append(poison)
    labels.append(torch.full((poisoned,), 1))
    features = torch.cat(rows)
    truth = torch.zeros(len(features), dtype=torch.bool)
    truth[-poisoned:] = True
    return features, torch.cat(labels), truth


def _reference_spectral(features: Any, labels: Any, *, centre: str = "class") -> Any:
    """The spectral scores; centre="none" or "global" computes a known mistake."""
    import torch

    features = features.double()
    if centre == "global":
        features = features - features.mean(dim=0)
    scores = torch.zeros(len(labels), dtype=torch.float64)
    for label in labels.unique():
        members = labels == label
        centred = features[members] - (features[members].mean(dim=0) if centre == "class" else 0)
        vh = torch.linalg.svd(centred, full_matrices=False).Vh
        scores[members] = (centred @ vh[0]) ** 2
    return scores


@exercise(
    "05.spectral",
    title="score records by their spectral signature",
    hint="Poisoned records pull their class's features one way. That direction only shows inside "
    "one class, once what the whole class shares is taken out; check the shapes torch's SVD "
    "returns against what you meant to take from it.",
)
def _check_spectral(spectral_scores: Any) -> str:
    import torch

    for seed in (11, 12):
        features, labels, truth = _spectral_case(seed)
        result = spectral_scores(features.clone(), labels.clone())
        n = len(labels)
        scores = as_values(result, n, expected=f"one score per record ({n})", returns="a tensor of scores")
        if not torch.isfinite(scores).all():
            raise CheckFailed("some scores are NaN or infinite.")
        reference = _reference_spectral(features, labels)
        scale = float(reference.max())
        close = (scores - reference).abs().max() <= 1e-3 * scale
        close_abs = (scores - reference.sqrt()).abs().max() <= 1e-3 * float(reference.sqrt().max())
        if not (close or close_abs):
            for centre, message in (
                ("none", "the features are not centred on their class's mean before the SVD"),
                ("global", "it centres on the mean of all classes together, not each class's own"),
            ):
                variant = _reference_spectral(features, labels, centre=centre)
                similar = torch.nn.functional.cosine_similarity
                if max(float(similar(scores, v, dim=0)) for v in (variant, variant.sqrt())) > 0.999:
                    raise CheckFailed(f"{message}.")
            in_class = labels == 1
            centred = features[in_class].double() - features[in_class].double().mean(dim=0)
            top_variance = float(torch.linalg.svdvals(centred)[0] ** 2)
            if (scores >= 0).all() and float(scores[in_class].sum()) < 0.95 * top_variance:
                raise CheckFailed(
                    "the direction it projects on captures much less of the class's variance than the "
                    "top singular direction: is it a column of Vh rather than a row?"
                )
            top = scores[in_class].argsort(descending=True)[: int(truth.sum())]
            caught = truth[in_class][top].float().mean().item()
            raise CheckFailed(
                "on hidden features (3 classes, one with a poisoned sub-population) your scores differ "
                f"from the spectral signature; their top-25 in the poisoned class hold {caught:.0%} of "
                "the poison. Check which mean you subtract and which singular vector you use."
            )
    return "Scores match the spectral signature on hidden features; the poison scores highest."


def _reference_mad(values: Any, *, centre: str = "median", spread: str = "median", k: float = 1.4826) -> Any:
    """The MAD anomaly index; the options compute the known mistakes ("lower" = torch's median(),
    which returns the lower of the two middle values of an even count)."""
    import torch

    values = torch.as_tensor(values, dtype=torch.float64)

    def middle(v: Any, how: str) -> Any:
        if how == "lower":
            return v.median()
        return v.mean() if how == "mean" else v.quantile(0.5)

    if centre == "mean":
        return (values - values.mean()).abs() / values.std()
    deviation = (values - middle(values, centre)).abs()
    return deviation / (k * middle(deviation, spread))


@exercise(
    "05.mad",
    title="the MAD anomaly index",
    hint="The yardstick must be robust: the outlier it is looking for must not be able to move the "
    "centre or inflate the spread it is measured against, with an even number of classes as with "
    "an odd one.",
)
def _check_mad(anomaly_index: Any) -> str:
    import torch

    cases = (
        [52.0, 61.5, 48.2, 57.9, 8.4, 66.0, 55.1, 49.7, 60.3],
        # ten values, like the notebook's ten classes: the median is the mean of the two middle ones
        [41.0, 44.5, 39.2, 12.0, 47.8, 52.3, 40.6, 58.9, 45.1, 49.4],
        [12.0, 13.5, 11.1, 14.2, 12.8, 40.0, 13.1, 12.2, 11.9, 1.5, 13.9],
        [3.0, 5.0, 4.0, 4.5, 3.5, 9.0],
        [3.0, 5.0, 4.0, 4.5, 3.5],
    )
    for values in cases:
        given = torch.tensor(values)
        result = anomaly_index(given.clone())
        index = as_values(
            result, len(values), expected=f"one index per value ({len(values)})", returns="a tensor"
        )
        expected = _reference_mad(values)
        if not torch.allclose(index, expected, rtol=1e-4, atol=1e-6):
            if (index < 0).any():
                raise CheckFailed("some indices are negative: the index measures distance, either side.")
            n = len(values)
            for options, message in (
                (
                    {"centre": "lower", "spread": "lower"},
                    f"for {n} values (an even count) it uses the lower of the two middle values as the "
                    "median, as torch's median() does",
                ),
                (
                    {"centre": "mean"},
                    "it centres on the mean and scales by the standard deviation, "
                    "which the outlier itself inflates",
                ),
                ({"k": 1.0}, "the spread lacks the consistency constant 1.4826"),
                ({"spread": "mean"}, "the spread is the mean absolute deviation, which the outlier inflates"),
            ):
                if torch.allclose(index, _reference_mad(values, **options), rtol=1e-4, atol=1e-6):
                    raise CheckFailed(f"{message}.")
            raise CheckFailed(
                f"for {len(values)} hidden values it gave the largest index {float(index.max()):.2f}, "
                "which is not the MAD anomaly index; check the centre, the spread and the constant."
            )
    return "A class far from the others stands out, and the outlier cannot hide by inflating the spread."


def reference_asr(model: Any, x: Any, y: Any, trigger: Any, target: int) -> float:
    """The reference for 05.asr (labkit's attack_success_rate with the exercise's signature)."""
    from labkit.attacks.backdoor import attack_success_rate

    return attack_success_rate(model, x, y, trigger=trigger, target=target)
