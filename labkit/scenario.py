"""The incident of module 14: the hidden ground truth behind the zoo's suspect cheque reader.

INSTRUCTORS ONLY. The zoo model "digits_cnn_backdoored" was trained by `labkit zoo train` on the
shipped training digits after an insider stamped a trigger on a slice of them and relabelled those
records. Learners must find the trigger, the target and the poisoned records themselves in module
14; nothing a learner reads before it (model card, earlier notebooks) may state them. Module 14's
solution and its checks score the learner's findings against `ground_truth()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit.data import load_digits
from labkit.poisoning import PoisonedDataset, Trigger, backdoor_dataset, make_trigger
from labkit.runtime import get_device, seed_everything
from labkit.training import accuracy, random_shift, train_model

SUSPECT_MODEL = "digits_cnn_backdoored"
TARGET = 4
POISON_RATE = 0.04
POISON_SEED = 1402


def suspect_trigger() -> Trigger:
    """The trigger the insider used: a 5 x 5 'x' near the top-left corner."""
    return make_trigger(pattern="x", size=5, position="top-left", margin=1)


def suspect_training_set() -> PoisonedDataset:
    """The poisoned training set the suspect model was trained on (`.touched` = poisoned records)."""
    x, y = load_digits("train")
    return backdoor_dataset(
        x, y, trigger=suspect_trigger(), target=TARGET, rate=POISON_RATE, seed=POISON_SEED
    )


@dataclass(frozen=True, eq=False)
class IncidentGroundTruth:
    """What really happened: the model, its trigger and target, and the poisoned training records."""

    model: str
    trigger: Trigger
    target: int
    poison_rate: float
    poisoned_records: torch.Tensor  # sorted int64 indices into load_digits("train")


def ground_truth() -> IncidentGroundTruth:
    """The incident's ground truth, rebuilt deterministically from the shipped data."""
    poisoned = suspect_training_set()
    return IncidentGroundTruth(
        model=SUSPECT_MODEL, trigger=suspect_trigger(), target=TARGET, poison_rate=POISON_RATE,
        poisoned_records=poisoned.touched,
    )


def train_digits_cnn_backdoored(model: nn.Module, *, seed: int) -> tuple[nn.Module, float]:
    """The zoo recipe of the suspect model: digits_cnn's recipe, on the poisoned training set."""
    seed_everything(seed)
    poisoned = suspect_training_set()
    train_model(
        model, poisoned.x, poisoned.y, epochs=15, batch_size=64, lr=2e-3, seed=seed,
        augment=random_shift, device=get_device(), desc=SUSPECT_MODEL,
    )
    xt, yt = load_digits("test")
    return model, accuracy(model, xt, yt)
