"""The course's architectures. Image models take inputs in [0, 1] and normalise inside."""

from __future__ import annotations

import torch
from torch import nn

from labkit import validate as v

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class DigitsCNN(nn.Module):
    """The cheque reader: a small CNN for 1 x 28 x 28 digits in [0, 1], 10 logits out."""

    def __init__(self, *, channels: tuple[int, int] = (16, 32), hidden: int = 128) -> None:
        if not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise ValueError(f"channels must be a pair of positive ints (c1, c2), not {channels!r}.")
        c1, c2 = (v.positive_int("channels", c) for c in channels)
        hidden = v.positive_int("hidden", hidden)
        super().__init__()
        self.config = {"channels": [c1, c2], "hidden": hidden}
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.penultimate = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations (used by backdoor and poisoning detectors)."""
        return self.penultimate(self.conv((x - MNIST_MEAN) / MNIST_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ClinicMLP(nn.Module):
    """The clinic risk model: an MLP over 30 standardised features, 2 logits (1 = malignant)."""

    def __init__(
        self, *, in_features: int = 30, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.0
    ) -> None:
        in_features = v.positive_int("in_features", in_features)
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of layer widths (positive ints), not {hidden!r}.")
        hidden = tuple(v.positive_int("hidden", size) for size in hidden)
        dropout = v.finite_float("dropout", dropout, low=0.0, high=1.0, high_open=True)
        super().__init__()
        self.config = {"in_features": in_features, "hidden": list(hidden), "dropout": dropout}
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden-layer activations."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {"DigitsCNN": DigitsCNN, "ClinicMLP": ClinicMLP}


def build(architecture: str, config: dict) -> nn.Module:
    """Instantiate a known architecture from its recorded config (never from pickled code)."""
    v.choice("architecture", architecture, sorted(ARCHITECTURES))
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of constructor arguments, not {config!r}.")
    kwargs = {k: tuple(value) if isinstance(value, list) else value for k, value in config.items()}
    try:
        return ARCHITECTURES[architecture](**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config {config!r} does not fit {architecture}: {error}") from None
