"""Release evidence: what was measured about one model artifact, bound to the SHA-256 of its weights.

A release gate decides on measurements, and the expensive ones (worst-case robustness over an attack
ensemble, an extraction curve) are made once per release candidate by CI, not at every decision. The
evidence therefore names the exact bytes it was measured on: evidence for other weights is no evidence.
`python -m labkit.release.evidence OUT.json NAME...` measures zoo models and writes the file the course
ships as datasets/release/evidence.json.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit import validate as v

FORMAT = "labkit-release-evidence/1"
SHIPPED = "release/evidence.json"


def robust_key(*, norm: str, epsilon: float, samples: int) -> str:
    """The key of one robustness measurement, e.g. "linf:0.1:200"."""
    v.choice("norm", norm, ("linf", "l2"))
    epsilon = v.positive_float("epsilon", epsilon)
    samples = v.positive_int("samples", samples)
    return f"{norm}:{epsilon:g}:{samples}"


@dataclass(frozen=True)
class Evidence:
    """Measurements of one model artifact (`weights_sha256`): worst-case robust accuracy per
    robust_key, membership-inference advantage per measure, and the extraction cost in queries
    (the smallest budget tried whose surrogate reached `extraction_target` fidelity; None if none did)."""

    model: str
    weights_sha256: str
    clean_accuracy: float
    robust_accuracy: Mapping[str, float]
    membership: Mapping[str, float]
    extraction_queries: int | None
    extraction_fidelity: Mapping[str, float]
    extraction_target: float
    measured_with: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v.text("model", self.model)
        if not (isinstance(self.weights_sha256, str) and len(self.weights_sha256) == 64):
            raise ValueError(f"weights_sha256 must be 64 hex digits, not {self.weights_sha256!r:.80}.")
        v.probability("clean_accuracy", self.clean_accuracy)
        for name in ("robust_accuracy", "membership", "extraction_fidelity"):
            values = getattr(self, name)
            if not isinstance(values, Mapping):
                raise TypeError(f"{name} must be a mapping of measurement key to number, not {values!r:.60}.")
            for key, number in values.items():
                if (
                    not isinstance(key, str)
                    or isinstance(number, bool)
                    or not isinstance(number, (int, float))
                ):
                    raise TypeError(f"{name} must map strings to numbers, not {key!r}: {number!r}.")
                if not math.isfinite(number):
                    raise ValueError(f"{name}[{key!r}] must be finite, not {number!r}.")
        if self.extraction_queries is not None:
            v.positive_int("extraction_queries", self.extraction_queries)
        v.probability("extraction_target", self.extraction_target)


def save_evidence(items: Sequence[Evidence], path: Path | str) -> Path:
    """Write evidence records to a JSON file (one per model, sorted by name)."""
    target = v.path("path", path)
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"items must be a non-empty list of Evidence, not {items!r:.60}.")
    if not all(isinstance(item, Evidence) for item in items):
        raise TypeError("items must hold Evidence records (from measure_evidence).")
    document = {
        "format": FORMAT,
        "models": {e.model: asdict(e) for e in sorted(items, key=lambda e: e.model)},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return target


def parse_evidence(text: str, *, source: str = "evidence") -> dict[str, Evidence]:
    """Evidence records from JSON text written by save_evidence; ValueError naming `source` otherwise."""
    v.text("text", text)
    v.text("source", source)
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"text ({source}) is not JSON ({error}).") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"text ({source}) is not a {FORMAT} document.")
    models = document.get("models")
    if not isinstance(models, dict) or not models:
        raise ValueError(f"text ({source}): 'models' must be a non-empty object.")
    found = {}
    for name, record in models.items():
        try:
            found[name] = Evidence(**record)
        except (TypeError, ValueError) as error:
            raise ValueError(f"text ({source}): models[{name!r}]: {error}") from None
    return found


def shipped_evidence() -> dict[str, Evidence]:
    """The evidence the course ships for its zoo models, read through the signed manifest."""
    from labkit.integrity import read_verified

    return parse_evidence(read_verified(SHIPPED).decode("utf-8"), source=f"datasets/{SHIPPED}")


def measure_evidence(
    name: str,
    *,
    epsilon: float = 0.1,
    norm: str = "linf",
    samples: int = 200,
    members: int = 1000,
    budgets: Sequence[int] = (250, 500, 1000, 2000),
    extraction_target: float = 0.65,
    progress: bool = False,
) -> Evidence:
    """Measure a zoo model: worst-case robustness ("quick" ensemble) on the first `samples` test digits;
    loss-threshold membership inference on `members` training vs test digits; extraction cost with
    surrogates trained on the released probabilities of made-up queries (module 10's attacker), at every
    budget; the cost is the smallest budget whose copy agrees with the model on `extraction_target` of
    the test digits."""
    import numpy as np
    import torch

    from labkit.attacks.extraction import augment_queries, public_digits
    from labkit.attacks.membership import evaluate_membership, membership_scores
    from labkit.attacks.surrogate import agreement, train_surrogate
    from labkit.attacks.worstcase import worst_case_robustness
    from labkit.data import load_digits
    from labkit.integrity import sha256_file
    from labkit.paths import datasets_dir
    from labkit.zoo.registry import load_model

    key = robust_key(norm=norm, epsilon=epsilon, samples=samples)
    members = v.positive_int("members", members)
    budgets = [v.positive_int("budgets", b) for b in budgets]
    start = time.perf_counter()
    model = load_model(name, device="cpu")
    x_test, y_test = load_digits("test")
    x_train, y_train = load_digits("train")
    torch.manual_seed(0)
    worst = worst_case_robustness(
        model, x_test[:samples], y_test[:samples], epsilon=epsilon, norm=norm, progress=progress
    )
    with torch.no_grad():
        inside = membership_scores(model(x_train[:members]), y_train[:members])
        outside = membership_scores(model(x_test[:members]), y_test[:members])
    attack = evaluate_membership(inside.numpy(), outside.numpy(), name="loss threshold")
    public, _ = public_digits()
    queries = augment_queries(public, max(budgets), seed=2)
    with torch.no_grad():
        released = torch.softmax(model(queries), dim=1)
    fidelity: dict[str, float] = {}
    cost = None
    for budget in sorted(budgets):
        epochs = max(2, min(12, 4000 // budget))
        copy = train_surrogate(queries[:budget], released[:budget], epochs=epochs, seed=0, progress=False)
        fidelity[str(budget)] = agreement(copy.cpu(), model, x_test[:members])
        if cost is None and fidelity[str(budget)] >= extraction_target:
            cost = budget
    return Evidence(
        model=name,
        weights_sha256=sha256_file(datasets_dir() / "models" / f"{name}.safetensors"),
        clean_accuracy=round(worst.clean_accuracy, 4),
        robust_accuracy={key: round(worst.robust_accuracy, 4)},
        membership={
            "auc_minus_half": round(attack.auc - 0.5, 4),
            "tpr_minus_fpr": round(float(np.max(attack.tpr - attack.fpr)), 4),
        },
        extraction_queries=cost,
        extraction_fidelity={k: round(val, 4) for k, val in fidelity.items()},
        extraction_target=extraction_target,
        measured_with={
            "ensemble": worst.ensemble,
            "attacks": list(worst.attack_accuracies),
            "membership_records": members,
            "torch": torch.__version__,
            "seconds": round(time.perf_counter() - start, 1),
        },
    )


if __name__ == "__main__":  # python -m labkit.release.evidence OUT.json NAME...
    import torch

    torch.set_num_threads(1)
    out, *names = sys.argv[1:]
    save_evidence([measure_evidence(n, progress=False) for n in names], out)
