"""The pre-trained model zoo: safetensors weights plus JSON metadata, pinned in the manifest."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from labkit import validate
from labkit.integrity import IntegrityError, read_verified, sha256_file, verify, write_manifest_entry
from labkit.models import build
from labkit.paths import datasets_dir
from labkit.runtime import get_device, seed_everything
from labkit.zoo import recipes


class Trainer(Protocol):
    """A zoo training recipe: trains `model` in place with `seed`; returns it and its test accuracy."""

    def __call__(self, model: nn.Module, *, seed: int) -> tuple[nn.Module, float]: ...


MODELS_DIR = "models"


@dataclass(frozen=True)
class ZooSpec:
    """How a zoo model is built: architecture, config, data, seed and the trainer that makes it."""

    name: str
    architecture: str
    config: dict[str, Any]
    dataset: str
    seed: int
    trainer: Trainer  # takes (model, seed=...) and returns (trained model, test accuracy)
    description: str
    extra: dict[str, Any] = field(default_factory=dict)


def _cheque_reader(name: str, trainer: Trainer, description: str) -> ZooSpec:
    """A zoo entry for one of the cheque readers: the standard DigitsCNN on the shipped digits."""
    return ZooSpec(
        name=name,
        architecture="DigitsCNN",
        config={"channels": [16, 32], "hidden": 128},
        dataset="digits/digits.npz",
        seed=0,
        trainer=trainer,
        description=description,
    )


SPECS: dict[str, ZooSpec] = {
    "digits_cnn": _cheque_reader(
        "digits_cnn",
        recipes.train_digits_cnn,
        "The cheque reader in production: standard training with shift augmentation.",
    ),
    "digits_cnn_robust": _cheque_reader(
        "digits_cnn_robust",
        recipes.train_digits_cnn_robust,
        "The cheque reader after adversarial training (PGD-5, L-inf epsilon 0.3, 10 epochs).",
    ),
    "digits_cnn_backdoored": _cheque_reader(
        "digits_cnn_backdoored",
        recipes.train_digits_cnn_backdoored,
        "The suspect cheque reader of the incident you investigate in module 14.",
    ),
    "clinic_mlp": ZooSpec(
        name="clinic_mlp",
        architecture="ClinicMLP",
        config={"in_features": 30, "hidden": [64, 32], "dropout": 0.0},
        dataset="clinic/clinic.npz",
        seed=0,
        trainer=recipes.train_clinic_mlp,
        description="The clinic risk model: predicts malignancy from 30 diagnostic features.",
    ),
}


def _spec(name: str) -> ZooSpec:
    if not isinstance(name, str) or name not in SPECS:
        raise validate.UnknownName(
            f"No zoo model named {name!r} (the name argument). Available: {', '.join(sorted(SPECS))}."
        )
    return SPECS[name]


def _files(name: str) -> tuple[str, str]:
    return f"{MODELS_DIR}/{name}.safetensors", f"{MODELS_DIR}/{name}.json"


def model_card(name: str) -> dict[str, Any]:
    """The verified metadata of a zoo model: architecture, data hash, seed, accuracy, command."""
    _spec(name)
    _, meta_file = _files(name)
    return json.loads(read_verified(meta_file).decode("utf-8"))


def _device(device: torch.device | str | None) -> torch.device:
    """`device` as a torch.device this machine has (None: the best one here)."""
    if device is None:
        return get_device()
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', not {device!r}.") from None
    mps = getattr(torch.backends, "mps", None)
    here = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": mps is not None and mps.is_available()}
    if not here.get(target.type, False):
        usable = ", ".join(repr(kind) for kind, ok in here.items() if ok)
        raise ValueError(f"device {device!r} is not available here: use one of {usable}, or None.")
    return target


def load_model(name: str, *, device: torch.device | str | None = None) -> nn.Module:
    """Load a zoo model by name after verifying weights and metadata against the manifest."""
    from safetensors.torch import load

    target = _device(device)
    weights_file, _ = _files(name)
    card = model_card(name)
    weights = verify(weights_file)
    if card.get("weights_sha256") != weights.sha256:
        raise IntegrityError(
            f"datasets/{weights_file} does not match the hash recorded in its model card. "
            f"Restore both with `git checkout -- datasets/{MODELS_DIR}/`."
        )
    model = build(card["architecture"], card["config"])
    model.load_state_dict(load(weights.data), strict=True)  # the bytes whose hash was checked
    return model.to(target).eval()


def train_zoo_model(name: str, *, root: Path | None = None) -> dict[str, Any]:
    """Rebuild a zoo model from code with its fixed seed, save it and pin it in the manifest."""
    from safetensors.torch import save_file

    spec = _spec(name)
    root = datasets_dir() if root is None else validate.path("root", root, exists="dir")
    seed_everything(spec.seed)  # weight initialisation is part of the recipe
    model = build(spec.architecture, spec.config)
    model, test_accuracy = spec.trainer(model, seed=spec.seed)
    weights_file, meta_file = _files(name)
    (root / MODELS_DIR).mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = root / (weights_file + ".tmp")
    save_file(tensors, str(tmp), metadata={"name": name, "architecture": spec.architecture})
    tmp.replace(root / weights_file)
    weights_sha = sha256_file(root / weights_file)
    card = {
        "name": name,
        "description": spec.description,
        "architecture": spec.architecture,
        "config": spec.config,
        "dataset": spec.dataset,
        "data_sha256": verify(spec.dataset, root).sha256,
        "seed": spec.seed,
        "test_accuracy": round(test_accuracy, 4),
        "weights_sha256": weights_sha,
        "command": f"labkit zoo train {name}",
        "trained_with": {"torch": torch.__version__, "python": platform.python_version()},
        **spec.extra,
    }
    (root / meta_file).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_manifest_entry(weights_file, weights_sha, root)
    write_manifest_entry(meta_file, sha256_file(root / meta_file), root)
    return card
