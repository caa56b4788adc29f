"""The table behind tests/test_bad_inputs.py: for each public function, a valid call on tiny inputs and
the (argument, bad value) cases it must refuse with a clear labkit error.

A bad value is either a plain value, or a `Bad` transform of the argument's valid value (NaN pixels,
one label too few, ...). Kinds of argument share their bad values (`COUNT`, `EPSILON`, `IMAGES`...).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch


@dataclass(frozen=True)
class Bad:
    """A bad value made from the valid one, with a short label for the test id."""

    label: str
    make: Callable[[Any], Any]

    def __repr__(self) -> str:
        return self.label


@dataclass
class Entry:
    """A valid call (`base` gives fresh keyword arguments) and the bad values per argument."""

    base: Callable[[], dict[str, Any]]
    bad: dict[str, list[Any]]
    call: Callable[..., Any] | None = None  # default: the function itself
    notes: str = field(default="")


def _nan_pixel(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = float("nan")
    return x


def _bright_pixel(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = 2.0
    return x


NAN = float("nan")
INF = float("inf")
COUNT = [0, -1, True, 2.5, "3"]  # a positive int
NONNEG_INT = [-1, True, 2.5]
EPSILON = [NAN, INF, -0.1, "0.1"]  # a finite float >= 0
POSITIVE = [0.0, -1.0, NAN, INF]  # a finite float > 0
NONNEG = [-1.0, NAN, INF]  # a finite float >= 0
PROBABILITY = [NAN, -0.1, 1.5]  # a float in [0, 1]
IMAGES = [
    Bad("nan-pixel", _nan_pixel),
    Bad("pixel-2.0", _bright_pixel),
    Bad("empty", lambda x: x[:0]),
    Bad("3-dim", lambda x: x[0]),
    Bad("list", lambda x: x.tolist()),
]
LABELS = [
    Bad("float-labels", lambda y: y.float()),
    Bad("one-short", lambda y: y[:-1]),
    Bad("2-dim", lambda y: y[:, None]),
    Bad("class-99", lambda y: y + 99),
    Bad("negative", lambda y: y - 99),
]
VECTORS = [Bad("nan", _nan_pixel), Bad("empty", lambda x: x[:0]), Bad("1-dim", lambda x: x[0])]
MODEL = ["not a model", None]
ATTACK = ["no-such-attack", 3]


def g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def tiny_model() -> torch.nn.Module:
    from labkit.models import DigitsCNN

    torch.manual_seed(0)
    return DigitsCNN(channels=(2, 2), hidden=4).eval()


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=g())


def labels(n: int = 4) -> torch.Tensor:
    return torch.arange(n) % 10


def two_classes() -> tuple[torch.Tensor, torch.Tensor]:
    """Four images the tiny model puts in two classes, labelled with its own predictions."""
    x = images(64)
    with torch.no_grad():
        y = tiny_model()(x).argmax(dim=1)
    pick = torch.cat([(y == c).nonzero()[:2, 0] for c in y.unique()[:2]])
    return x[pick], y[pick]


def predicted() -> torch.Tensor:
    """The tiny model's own predictions on images(): labels it classifies correctly."""
    with torch.no_grad():
        return tiny_model()(images()).argmax(dim=1)


def clinic() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 30, generator=g()), torch.arange(8) % 2


def features() -> torch.Tensor:
    return torch.randn(12, 5, generator=g())


def tiny_recipe() -> Any:
    from labkit.attacks.shadow import Recipe

    return Recipe(hidden=(4,), steps=1)


def trigger() -> Any:
    from labkit.attacks.backdoor import make_trigger

    return make_trigger(size=3)


def patch() -> torch.Tensor:
    return torch.rand(1, 4, 4, generator=g())


def query(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(tiny_model()(x), dim=1)


TMP = Path(tempfile.mkdtemp(prefix="labkit-bad-inputs-"))


def readme() -> Path:
    from labkit.course.coursemap import MAP_END, MAP_START

    path = TMP / "README.md"
    path.write_text(f"x\n{MAP_START}\n{MAP_END}\n", encoding="utf-8")
    return path


def solutions() -> Path:
    import nbformat

    path = TMP / "solutions"
    path.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")]
    nbformat.write(nb, path / "01_x.ipynb")
    return path


def manifest() -> Any:
    from labkit.release.provenance import build_manifest

    return build_manifest(images(), labels())


def view() -> Any:
    from labkit.widgets import explore

    return explore(tiny_model(), images(), labels(), index=0, attack="fgsm", epsilon=0.1)


def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn without printing, and with check()'s strict mode off (a failing check is a valid call)."""

    def run(**kwargs: Any) -> Any:
        old = os.environ.pop("LABKIT_STRICT_CHECKS", None)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return fn(**kwargs)
        finally:
            if old is not None:
                os.environ["LABKIT_STRICT_CHECKS"] = old

    return run


def quiet_err(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn without its stderr notices (write_manifest_entry says when it leaves a manifest unsigned)."""

    def run(**kwargs: Any) -> Any:
        with contextlib.redirect_stderr(io.StringIO()):
            return fn(**kwargs)

    return run


def first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A generator function's first item (its arguments are only read when it starts)."""
    return lambda **kwargs: next(iter(fn(**kwargs)))


def context(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(**kwargs: Any) -> None:
        with fn(**kwargs):
            pass

    return run


def closing_figures(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call `fn` and close every matplotlib figure afterwards (for functions that draw)."""

    def call(**kwargs: Any) -> Any:  # noqa: ANN401
        import matplotlib.pyplot as plt

        try:
            return fn(**kwargs)
        finally:
            plt.close("all")

    return call


def bare_root() -> Path:
    """A datasets/ directory with an empty, unsigned manifest (write_manifest_entry's valid target)."""
    root = Path(tempfile.mkdtemp(dir=TMP, prefix="datasets-"))
    (root / "MANIFEST.sha256").write_text("", encoding="utf-8")
    return root


def signing_key() -> Path:
    """A fresh Ed25519 key file in TMP (not the course's key: nothing is signed with it)."""
    from labkit.signing import generate_signing_key

    path = Path(tempfile.mkdtemp(dir=TMP)) / "test.key"
    generate_signing_key(path)
    return path


def public_key() -> Any:
    from labkit.signing import load_signing_key

    return load_signing_key(signing_key()).public_key()


def probabilities() -> torch.Tensor:
    return torch.softmax(torch.randn(3, 10, generator=g()), dim=1)


SHIPPED = "digits/digits.npz"
OUTSIDE = ["../README.md", "/etc/passwd", "", 3, None]  # paths that are not inside datasets/
ROOT = [3, TMP / "missing"]
PATHS = [3, "", b"progress.json"]  # not a path


def progress_file() -> Path:
    return Path(tempfile.mkdtemp(dir=TMP)) / "progress.json"


def progress_summary() -> dict[str, Any]:
    from labkit.course.progress import report

    return report(["00.integrity"], path=progress_file())


def requirement() -> Any:
    from labkit.release.gates import RobustnessRequirement

    return RobustnessRequirement("R1", "digits_cnn", epsilon=0.1, min_accuracy=0.0, attack="fgsm", n=2)


def gate() -> Path:
    from labkit.release.gates import gate_file

    return gate_file("smoke", "def test_ok():\n    pass\n", directory=TMP / "gates")


def finding() -> Any:
    from labkit.course.doctor import Finding

    return Finding(ok=True, what="python", detail="3.12")


def audit_log() -> Path:
    path = Path(tempfile.mkdtemp(dir=TMP)) / "audit.jsonl"
    path.write_text('{"a": 1}\n', encoding="utf-8")
    return path


def json_list() -> Path:
    """A JSON-lines file whose line is not an object: not an audit log."""
    path = Path(tempfile.mkdtemp(dir=TMP)) / "list.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    return path


def closed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make the object, then close it (a log file, an HTTP client)."""

    def run(**kwargs: Any) -> None:
        fn(**kwargs).close()

    return run


ZOO_NAME = ["no_such_model", "", 3, None]


def attack_args() -> dict[str, Any]:
    return dict(model=tiny_model(), x=images(), y=labels(), attack="fgsm")


def _core_cases() -> dict[str, Entry]:
    """qualified name -> Entry. Everything is tiny: 4 images, a 2-channel CNN, one step or epoch."""
    P = {"progress": False}
    return {
        # ---- models, runtime -------------------------------------------------------------------
        "labkit.models.DigitsCNN": Entry(
            lambda: dict(channels=(2, 2), hidden=4),
            {"channels": [(0, 2), (2,), "ab"], "hidden": COUNT},
        ),
        "labkit.models.ClinicMLP": Entry(
            lambda: dict(in_features=30, hidden=(4,)),
            {"in_features": COUNT, "hidden": [(0,), (-1,), 4], "dropout": PROBABILITY + [1.0]},
        ),
        "labkit.models.build": Entry(
            lambda: dict(architecture="DigitsCNN", config={"channels": [2, 2], "hidden": 4}),
            {"architecture": ["NoSuchNet", 3], "config": [None, {"bogus": 1}, {"hidden": -1}]},
        ),
        "labkit.runtime.get_device": Entry(lambda: dict(prefer="cpu"), {"prefer": ["gpu0", 3]}),
        "labkit.runtime.seed_everything": Entry(lambda: dict(seed=0), {"seed": [-1, 1.5, "0", True]}),
        # ---- training ---------------------------------------------------------------------------
        "labkit.training.random_shift": Entry(
            lambda: dict(images=images(), generator=g(), pixels=2),
            {"images": IMAGES, "generator": [0], "pixels": [-1, True, 2.5]},
        ),
        "labkit.training.shuffled_batches": Entry(
            lambda: dict(x=images(), y=labels(), batch_size=2, generator=g()),
            {"x": IMAGES[2:], "y": LABELS[1:2], "batch_size": COUNT, "generator": [0]},
            call=first,
        ),
        "labkit.training.loss_objective": Entry(
            lambda: dict(loss=torch.nn.CrossEntropyLoss()), {"loss": [3, "ce"]}
        ),
        "labkit.training.train_model": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), epochs=1, batch_size=4, **P),
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "epochs": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
                "weight_decay": NONNEG,
            },
        ),
        "labkit.training.train_reader": Entry(
            lambda: dict(x=images(), y=labels(), channels=(2, 2), hidden=4, epochs=1, **P),
            {
                "x": IMAGES,
                "y": LABELS,
                "epochs": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
                "anneal_epochs": NONNEG_INT,
                "hidden": COUNT,
            },
        ),
        "labkit.training.check_training_data": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), labels=True),
            {"model": MODEL, "x": IMAGES, "y": LABELS},
        ),
        "labkit.training.predict_logits": Entry(
            lambda: dict(model=tiny_model(), x=images()),
            {"model": MODEL, "x": IMAGES, "batch_size": COUNT},
        ),
        "labkit.training.accuracy": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels()),
            {"model": MODEL, "x": IMAGES, "y": LABELS, "batch_size": COUNT},
        ),
        "labkit.training.model_features": Entry(
            lambda: dict(model=tiny_model(), x=images()),
            {"model": MODEL, "x": IMAGES, "batch_size": COUNT},
        ),
        "labkit.viz.image_grid": Entry(
            lambda: dict(images=images(), columns=2),
            {"images": IMAGES[3:], "columns": COUNT, "size": POSITIVE, "titles": [["a"]]},
        ),
        # ---- attacks.pgd ------------------------------------------------------------------------
        "labkit.attacks.pgd.sign_step": Entry(lambda: dict(gradient=images()), {"gradient": [3, None]}),
        "labkit.attacks.pgd.l2_step": Entry(lambda: dict(gradient=images()), {"gradient": [3, None]}),
        "labkit.attacks.pgd.project_linf": Entry(
            lambda: dict(adv=images(), x0=images(), epsilon=0.1),
            {"epsilon": EPSILON, "x0": [Bad("one-short", lambda x: x[:-1])]},
        ),
        "labkit.attacks.pgd.project_l2": Entry(
            lambda: dict(adv=images(), x0=images(), epsilon=0.1),
            {"epsilon": EPSILON, "x0": [Bad("one-short", lambda x: x[:-1])]},
        ),
        "labkit.attacks.pgd.loss_gradient": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels()),
            {"model": MODEL, "x": [IMAGES[0], IMAGES[2], IMAGES[4]], "y": LABELS},
        ),
        "labkit.attacks.pgd.projected_gradient": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), epsilon=0.1, steps=1),
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "epsilon": EPSILON,
                "steps": COUNT,
                "step_size": NONNEG,
                "norm": ["l3", 2],
            },
        ),
        "labkit.attacks.pgd.fgsm_random_start": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), epsilon=0.1),
            {"model": MODEL, "x": IMAGES, "y": LABELS, "epsilon": EPSILON, "alpha": NONNEG},
        ),
        # ---- attacks.evasion, robustness, transfer, blackbox -----------------------------------
        "labkit.attacks.evasion.foolbox": Entry(lambda: dict(), {}, notes="takes no arguments"),
        "labkit.attacks.evasion.as_foolbox": Entry(lambda: dict(model=tiny_model()), {"model": MODEL}),
        "labkit.attacks.evasion.make_attack": Entry(lambda: dict(name="pgd", steps=1), {"name": ATTACK}),
        "labkit.attacks.evasion.resolve_attack": Entry(lambda: dict(attack="fgsm"), {"attack": ATTACK}),
        "labkit.attacks.evasion.check_images": Entry(
            lambda: dict(x=images(), y=labels()), {"x": IMAGES, "y": LABELS[:3] + LABELS[4:]}
        ),
        "labkit.attacks.evasion.frozen_parameters": Entry(
            lambda: dict(model=tiny_model()), {"model": MODEL}, call=context
        ),
        "labkit.attacks.evasion.run_attack": Entry(
            lambda: dict(**attack_args(), epsilons=[0.1], **P),
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "attack": ATTACK,
                "epsilons": [[NAN], [-0.1], [], 0.1],
                "batch_size": COUNT,
                "restarts": COUNT,
            },
        ),
        "labkit.attacks.robustness.robustness_curve": Entry(
            lambda: dict(**attack_args(), epsilons=[0.1], **P),
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "attack": ATTACK,
                "epsilons": [[NAN], [-0.1], []],
                "batch_size": COUNT,
                "restarts": COUNT,
            },
        ),
        "labkit.attacks.robustness.robust_accuracy": Entry(
            lambda: dict(**attack_args(), epsilon=0.1, **P),
            {"x": IMAGES, "y": LABELS, "attack": ATTACK, "epsilon": EPSILON, "batch_size": COUNT},
        ),
        "labkit.attacks.robustness.perturbation_norms": Entry(
            lambda: dict(x=images(), adv=images()),
            {"norm": ["l3", 2], "adv": [Bad("one-short", lambda x: x[:-1])]},
        ),
        "labkit.attacks.robustness.adversarial_examples": Entry(
            lambda: dict(**attack_args(), epsilon=0.1),
            {"x": IMAGES, "y": LABELS, "attack": ATTACK, "epsilon": EPSILON, "restarts": COUNT},
        ),
        "labkit.attacks.robustness.minimal_perturbations": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=predicted(), attack="deepfool", **P),
            {"x": IMAGES, "y": LABELS, "attack": ATTACK, "norm": ["l3"], "batch_size": COUNT},
        ),
        "labkit.attacks.transfer.label_with_queries": Entry(
            lambda: dict(box=tiny_model(), x=images()),
            {"box": MODEL, "x": IMAGES, "batch_size": COUNT},
        ),
        "labkit.attacks.transfer.transfer_attack": Entry(
            lambda: dict(
                surrogate=tiny_model(),
                target=tiny_model(),
                x=images(),
                y=labels(),
                attack="fgsm",
                epsilons=[0.1],
                **P,
            ),
            {"surrogate": MODEL, "target": MODEL, "x": IMAGES, "y": LABELS, "epsilons": [[NAN], []]},
        ),
        "labkit.attacks.blackbox.BlackBoxModel": Entry(
            lambda: dict(model=tiny_model(), policy="top-k", top_k=2),
            {"model": MODEL, "budget": [-1, NAN, 2.5], "policy": ["all"], "top_k": [0, -1, 2.5]},
        ),
        "labkit.attacks.blackbox.budget_curve": Entry(
            lambda: dict(
                model=tiny_model(),
                x=two_classes()[0],
                y=two_classes()[1],
                attack="boundary",
                budgets=[2],
                epsilon=2.0,
            ),
            {"x": IMAGES, "y": LABELS, "budgets": [[0], [-1], []], "epsilon": EPSILON, "policy": ["all"]},
        ),
        # ---- attacks.extraction, surrogate --------------------------------------------------------
        "labkit.attacks.extraction.noise_queries": Entry(lambda: dict(n=4), {"n": COUNT}),
        "labkit.attacks.extraction.public_digits": Entry(lambda: dict(size=8), {"size": COUNT + [7]}),
        "labkit.attacks.extraction.augment_queries": Entry(
            lambda: dict(seeds=images(), n=4),
            {"seeds": IMAGES, "n": COUNT, "noise": NONNEG, "rotate": NONNEG},
        ),
        "labkit.attacks.surrogate.soft_cross_entropy": Entry(
            lambda: dict(logits=torch.randn(4, 10), targets=torch.softmax(torch.randn(4, 10), 1)),
            {"targets": [Bad("one-short", lambda t: t[:-1]), Bad("nan", _nan_pixel)]},
        ),
        "labkit.attacks.surrogate.surrogate_model": Entry(
            lambda: dict(channels=(2, 2), hidden=4), {"channels": [(0, 2)], "hidden": COUNT}
        ),
        "labkit.attacks.surrogate.train_surrogate": Entry(
            lambda: dict(x=images(), targets=labels(), epochs=1, model=tiny_model(), **P),
            {
                "x": IMAGES,
                "targets": LABELS[:2],
                "epochs": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
            },
        ),
        "labkit.attacks.surrogate.agreement": Entry(
            lambda: dict(a=tiny_model(), b=tiny_model(), x=images()),
            {"a": MODEL, "b": MODEL, "x": IMAGES, "batch_size": COUNT},
        ),
        # ---- attacks.backdoor, poisoning, patches --------------------------------------------------
        "labkit.attacks.backdoor.Trigger": Entry(
            lambda: dict(pattern=torch.ones(2, 2), top=0, left=0),
            {"pattern": [Bad("nan", _nan_pixel), Bad("pixel-2.0", _bright_pixel)], "top": [-1], "left": [-1]},
        ),
        "labkit.attacks.backdoor.make_trigger": Entry(
            lambda: dict(size=3),
            {"pattern": ["plaid"], "size": COUNT + [40], "position": ["middle-ish"], "margin": [-1]},
        ),
        "labkit.attacks.backdoor.trigger_mask": Entry(
            lambda: dict(trigger=trigger()), {"trigger": [None], "image_size": [0, -1, 2]}
        ),
        "labkit.attacks.backdoor.stamp": Entry(
            lambda: dict(x=images(), trigger=trigger()),
            {"x": IMAGES[:3] + IMAGES[4:] + [Bad("2-dim", lambda x: x[0, 0])], "trigger": [None]},
        ),
        "labkit.attacks.backdoor.backdoor_dataset": Entry(
            lambda: dict(x=images(), y=labels(), trigger=trigger(), target=0, rate=0.5),
            {"x": IMAGES, "y": LABELS, "target": [10, -1, 1.5], "rate": PROBABILITY, "num_classes": COUNT},
        ),
        "labkit.attacks.backdoor.attack_success_rate": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), trigger=trigger(), target=0),
            # y is only compared with target (a detector may have fewer outputs than there are classes)
            {"model": MODEL, "x": IMAGES, "y": LABELS[:3] + LABELS[4:], "target": [10, -1]},
        ),
        "labkit.attacks.poisoning.flip_labels": Entry(
            lambda: dict(y=labels(), rate=0.5),
            {"y": [LABELS[0], *LABELS[2:]], "rate": PROBABILITY, "num_classes": COUNT + [1]},
        ),
        "labkit.attacks.poisoning.flip_labels_targeted": Entry(
            lambda: dict(y=labels(), source=1, target=2, rate=0.5),
            {"y": [LABELS[0], *LABELS[2:]], "source": [10, -1], "target": [10, -1], "rate": PROBABILITY},
        ),
        "labkit.attacks.poisoning.poison_labels": Entry(
            lambda: dict(x=images(), y=labels(), rate=0.5),
            {"x": IMAGES, "y": LABELS, "rate": PROBABILITY, "source": [10], "target": [10]},
        ),
        "labkit.attacks.poisoning.jitter": Entry(
            lambda: dict(image=images(1)[0], copies=2),
            {"image": [Bad("nan-pixel", _nan_pixel)], "copies": COUNT, "max_shift": [-1], "noise": NONNEG},
        ),
        "labkit.attacks.poisoning.targeted_poison": Entry(
            lambda: dict(x=images(), y=labels(), victim=images(1)[0], target=1, copies=2),
            {
                "x": IMAGES,
                "y": LABELS,
                "victim": [Bad("nan-pixel", _nan_pixel)],
                "target": [10],
                "copies": COUNT,
            },
        ),
        "labkit.attacks.patches.random_positions": Entry(
            lambda: dict(n=4, patch_size=4),
            {"n": COUNT, "patch_size": COUNT + [40], "image_size": COUNT},
        ),
        "labkit.attacks.patches.apply_patch": Entry(
            lambda: dict(
                x=images(),
                patch=patch(),
                rows=torch.zeros(4, dtype=torch.long),
                cols=torch.zeros(4, dtype=torch.long),
            ),
            {
                "x": IMAGES,
                "patch": [Bad("nan", _nan_pixel), Bad("pixel-2.0", _bright_pixel)],
                "rows": [Bad("one-short", lambda r: r[:-1]), Bad("off-image", lambda r: r + 30)],
            },
        ),
        "labkit.attacks.patches.train_patch": Entry(
            lambda: dict(model=tiny_model(), x=images(), target=0, size=4, steps=1, batch_size=4, **P),
            {
                "x": IMAGES,
                "target": [10, -1],
                "size": COUNT,
                "steps": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
            },
        ),
        "labkit.attacks.patches.patch_success": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), patch=patch(), target=0, placements=1),
            {
                "x": IMAGES,
                "y": LABELS,
                "patch": [Bad("nan", _nan_pixel)],
                "target": [10],
                "placements": COUNT,
            },
        ),
        # ---- attacks.inversion, membership, shadow ------------------------------------------------
        "labkit.attacks.inversion.total_variation": Entry(lambda: dict(x=images()), {"x": IMAGES[2:]}),
        "labkit.attacks.inversion.invert_whitebox": Entry(
            lambda: dict(model=tiny_model(), classes=[0, 1], steps=1),
            {
                "classes": [[10], [-1], []],
                "steps": COUNT,
                "lr": POSITIVE,
                "tv_weight": NONNEG,
                "start": [NAN, 2.0],
            },
        ),
        "labkit.attacks.inversion.scores_from_client": Entry(
            lambda: dict(client=SimpleNamespace(predict=lambda x: None)), {"client": [None, 3]}
        ),
        "labkit.attacks.inversion.estimate_gradient": Entry(
            lambda: dict(query=query, x=torch.rand(2, 1, 28, 28), classes=torch.tensor([0, 1]), samples=2),
            {"query": [3], "x": IMAGES[:3], "samples": COUNT, "sigma": POSITIVE, "resolution": COUNT},
        ),
        "labkit.attacks.inversion.invert_with_queries": Entry(
            lambda: dict(query=query, classes=[0], steps=1, samples=2),
            {"query": [3], "classes": [[10], []], "steps": COUNT, "samples": COUNT, "sigma": POSITIVE},
        ),
        "labkit.attacks.inversion.prototype_match": Entry(
            lambda: dict(images=images(), references=images(10)),
            {"images": [IMAGES[0], IMAGES[3], IMAGES[4]], "references": [Bad("3-dim", lambda x: x[0])]},
        ),
        "labkit.attacks.membership.membership_scores": Entry(
            lambda: dict(logits=torch.randn(4, 10), labels=labels()),
            {"logits": [Bad("nan", _nan_pixel)], "labels": LABELS},
        ),
        "labkit.attacks.membership.log_odds": Entry(
            lambda: dict(logits=torch.randn(4, 10), labels=labels()),
            {"logits": [Bad("nan", _nan_pixel)], "labels": LABELS},
        ),
        "labkit.attacks.membership.tpr_at_fpr": Entry(
            lambda: dict(member_scores=[0.9, 0.8], nonmember_scores=[0.1, 0.2]),
            {"member_scores": [[], [NAN]], "nonmember_scores": [[]], "max_fpr": PROBABILITY},
        ),
        "labkit.attacks.membership.evaluate_membership": Entry(
            lambda: dict(member_scores=[0.9, 0.8], nonmember_scores=[0.1, 0.2]),
            {"member_scores": [[], [NAN]], "nonmember_scores": [[], [INF]]},
        ),
        "labkit.attacks.shadow.Recipe": Entry(
            lambda: dict(hidden=(4,), steps=1),
            {"hidden": [(0,), 4], "steps": COUNT, "lr": POSITIVE, "dropout": PROBABILITY},
        ),
        "labkit.attacks.shadow.train_clinic_models": Entry(
            lambda: dict(
                x=clinic()[0], y=clinic()[1], masks=torch.ones(1, 8, dtype=torch.bool), recipe=tiny_recipe()
            ),
            {
                "x": VECTORS,
                "y": LABELS[:3],
                "masks": [Bad("float", lambda m: m.float()), Bad("one-short", lambda m: m[:, :-1])],
                "recipe": ["huge"],
            },
        ),
        "labkit.attacks.shadow.train_clinic_variant": Entry(
            lambda: dict(x=clinic()[0], y=clinic()[1], recipe=tiny_recipe()),
            {"x": VECTORS, "y": LABELS[:3], "recipe": ["huge", 3]},
        ),
        "labkit.attacks.shadow.attack_features": Entry(
            lambda: dict(logits=torch.randn(4, 10), labels=labels()),
            {"logits": [Bad("nan", _nan_pixel)], "labels": LABELS},
        ),
        "labkit.attacks.shadow.fit_shadow_attack": Entry(
            lambda: dict(
                x_pool=torch.randn(16, 30), y_pool=torch.arange(16) % 2, n_shadows=2, recipe=tiny_recipe()
            ),
            {"x_pool": VECTORS, "y_pool": LABELS[:3], "n_shadows": COUNT, "train_size": [0, -1, 100]},
        ),
        # ---- defenses -----------------------------------------------------------------------------
        "labkit.defenses.adversarial_training.make_perturb": Entry(
            lambda: dict(method="pgd", steps=1), {"method": ["bim", 3], "steps": COUNT}
        ),
        "labkit.defenses.adversarial_training.adversarial_train": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), epsilon=0.1, steps=1, epochs=1, **P),
            {
                "x": IMAGES,
                "y": LABELS,
                "perturb": ["bim"],
                "epsilon": EPSILON,
                "warmup_epochs": NONNEG,
                "clean_weight": PROBABILITY,
                "steps": COUNT,
                "epochs": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
            },
        ),
        "labkit.defenses.backdoor_detection.mad_anomaly_index": Entry(
            lambda: dict(values=torch.rand(10)),
            {"values": [Bad("nan", _nan_pixel), Bad("empty", lambda v: v[:0])]},
        ),
        "labkit.defenses.backdoor_detection.mask_overlap": Entry(
            lambda: dict(recovered=torch.rand(28, 28), true_mask=torch.rand(28, 28) > 0.5),
            {"recovered": [Bad("nan", _nan_pixel), Bad("other-shape", lambda m: m[:3])]},
        ),
        "labkit.defenses.backdoor_detection.reverse_engineer_triggers": Entry(
            lambda: dict(model=tiny_model(), x=images(), targets=[0], steps=1, batch_size=4, **P),
            {
                "x": IMAGES,
                "targets": [[10], [-1], []],
                "steps": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
                "cost": NONNEG,
            },
        ),
        "labkit.defenses.backdoor_detection.neural_cleanse": Entry(
            lambda: dict(model=tiny_model(), x=images(), targets=[0, 1, 2], steps=1, batch_size=4, **P),
            {"x": IMAGES, "threshold": POSITIVE, "steps": COUNT},
        ),
        "labkit.defenses.poison_filters.per_record_loss": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels()),
            {"model": MODEL, "x": IMAGES, "y": LABELS, "batch_size": COUNT},
        ),
        "labkit.defenses.poison_filters.loss_filter": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), fraction=0.5),
            {"x": IMAGES, "y": LABELS, "fraction": PROBABILITY, "batch_size": COUNT},
        ),
        "labkit.defenses.poison_filters.neighbour_disagreement": Entry(
            lambda: dict(features=features(), y=torch.arange(12) % 3, k=2),
            {"features": VECTORS, "y": LABELS[:3], "k": COUNT + [12]},
        ),
        "labkit.defenses.poison_filters.knn_filter": Entry(
            lambda: dict(features=features(), y=torch.arange(12) % 3, k=2),
            {"features": VECTORS, "y": LABELS[:3], "k": COUNT, "threshold": PROBABILITY},
        ),
        "labkit.defenses.poison_filters.score_filter": Entry(
            lambda: dict(flagged=torch.tensor([0, 1]), poisoned=torch.tensor([1, 2]), count=4),
            {"flagged": [Bad("off-range", lambda f: f + 10)], "count": [0, -1, 2.5]},
        ),
        "labkit.defenses.poison_filters.spectral_scores": Entry(
            lambda: dict(features=features(), labels=torch.arange(12) % 3),
            {"features": VECTORS, "labels": LABELS[:3]},
        ),
        "labkit.defenses.poison_filters.spectral_signature": Entry(
            lambda: dict(features=features(), labels=torch.arange(12) % 3, expected_rate=0.1),
            {
                "features": VECTORS,
                "labels": LABELS[:3],
                "expected_rate": PROBABILITY,
                "removal_factor": POSITIVE,
            },
        ),
        "labkit.defenses.poison_filters.activation_clustering": Entry(
            lambda: dict(
                features=torch.randn(40, 5, generator=g()), labels=torch.arange(40) % 2, n_components=2
            ),
            {
                "features": VECTORS,
                "labels": LABELS[:3],
                "n_components": COUNT,
                "reduction": ["svd?"],
                "max_fraction": PROBABILITY,
            },
        ),
        "labkit.defenses.poison_filters.precision_recall": Entry(
            lambda: dict(flagged=torch.tensor([True, False]), poisoned=torch.tensor([True, True])),
            {"flagged": [[0.5], "0", Bad("one-short", lambda f: f[:-1])], "poisoned": [[0.5]]},
        ),
        "labkit.defenses.privacy.train_dp": Entry(
            lambda: dict(
                x=clinic()[0], y=clinic()[1], noise_multiplier=1.0, epochs=1, batch_size=4, hidden=(4,)
            ),
            {
                "x": VECTORS,
                "y": LABELS[:3],
                "noise_multiplier": [-1.0, NAN],
                "target_epsilon": [0.0, NAN],
                "max_grad_norm": POSITIVE,
                "epochs": COUNT,
                "batch_size": COUNT,
                "lr": POSITIVE,
                "delta": [0.0, 1.0, NAN],
            },
        ),
        "labkit.defenses.transforms.bit_depth": Entry(
            lambda: dict(x=images()), {"x": IMAGES, "bits": COUNT + [9]}
        ),
        "labkit.defenses.transforms.median_filter": Entry(
            lambda: dict(x=images()), {"x": IMAGES, "size": COUNT + [2]}
        ),
        "labkit.defenses.transforms.jpeg_like": Entry(
            lambda: dict(x=images()), {"x": IMAGES, "quality": COUNT + [101]}
        ),
        "labkit.defenses.transforms.Transformed": Entry(
            lambda: dict(model=tiny_model(), transform=lambda x: x), {"model": MODEL, "transform": [3]}
        ),
        "labkit.defenses.transforms.bpda": Entry(
            lambda: dict(defended=_transformed()), {"defended": [None, 3]}
        ),
        "labkit.defenses.transforms.ExpectationOverTransformation": Entry(
            lambda: dict(model=tiny_model(), samples=2), {"model": MODEL, "samples": COUNT}
        ),
        "labkit.defenses.transforms.randomised": Entry(
            lambda: dict(transform=lambda x: x), {"transform": [3], "noise": NONNEG}
        ),
        "labkit.defenses.transforms.SharpenedLogits": Entry(
            lambda: dict(model=tiny_model()), {"model": MODEL, "factor": POSITIVE}
        ),
        # ---- release.provenance ------------------------------------------------------------------
        "labkit.release.provenance.record_hash": Entry(
            lambda: dict(image=images(1)[0], label=3), {"image": [3, None], "label": [-1, 2.5, "3"]}
        ),
        "labkit.release.provenance.record_hashes": Entry(
            lambda: dict(x=images(), y=labels()), {"x": IMAGES[2:], "y": LABELS[:3]}
        ),
        "labkit.release.provenance.default_ids": Entry(lambda: dict(count=3), {"count": [-1, 2.5, True]}),
        "labkit.release.provenance.build_manifest": Entry(
            lambda: dict(x=images(), y=labels()),
            {"x": IMAGES[2:], "y": LABELS[:3], "ids": [["a"], ["a", "a", "b", "c"]]},
        ),
        "labkit.release.provenance.sign_manifest": Entry(
            lambda: dict(manifest=manifest(), key="k" * 16), {"manifest": [{}], "key": ["", b"", 3]}
        ),
        "labkit.release.provenance.verify_manifest": Entry(
            lambda: dict(manifest=manifest(), signature="00", key="k" * 16),
            {"manifest": [{}], "signature": [3], "key": ["", 3]},
        ),
        "labkit.release.provenance.diff_manifests": Entry(
            lambda: dict(reference={"a": "1"}, current={"a": "2"}),
            {"reference": [3, {"a": 3}], "current": [None]},
        ),
        "labkit.release.provenance.positions": Entry(
            lambda: dict(ids=["a", "b"], wanted=["b"]), {"ids": [3], "wanted": [["zz"], 3]}
        ),
        # ---- policy, data, integrity, signing ------------------------------------------------
        "labkit.policy.check_policy": Entry(
            lambda: dict(policy="top-k", decimals=2, top_k=3),
            {"policy": ["softmax", 3, None], "decimals": [-1, 2.5, True], "top_k": [0, 1.5, True]},
        ),
        "labkit.policy.apply_policy": Entry(
            lambda: dict(probabilities=probabilities(), policy="top-k"),
            {
                "probabilities": [
                    [[0.5, 0.5]],
                    Bad("1-dim", lambda p: p[0]),
                    Bad("nan", _nan_pixel),
                    Bad("int", lambda p: p.long()),
                ],
                "policy": ["softmax", 3],
                "decimals": [-1],
                "top_k": [0],
            },
        ),
        "labkit.data.digits_arrays": Entry(lambda: dict(split="test"), {"split": ["val", 3, None]}),
        "labkit.data.load_digits": Entry(lambda: dict(split="test"), {"split": ["val", 3, None]}),
        "labkit.data.load_clinic": Entry(lambda: dict(split="test"), {"split": ["val", 3, None]}),
        "labkit.integrity.sha256_file": Entry(
            lambda: dict(path=readme()), {"path": [TMP / "missing", TMP, 3, None], "chunk_size": COUNT}
        ),
        "labkit.integrity.verified_manifest_bytes": Entry(lambda: dict(root=None), {"root": ROOT}),
        "labkit.integrity.signature_problem": Entry(lambda: dict(root=None), {"root": ROOT}),
        "labkit.integrity.check_relative": Entry(lambda: dict(name=SHIPPED), {"name": OUTSIDE}),
        "labkit.integrity.parse_manifest": Entry(
            lambda: dict(text=f"{'0' * 64}  {SHIPPED}\n"),
            # a bad line is refused naming the manifest (`where`) and the line: tests/test_integrity_paths.py
            {"text": [3, None, b""]},
        ),
        "labkit.integrity.read_manifest": Entry(lambda: dict(root=None), {"root": ROOT}),
        "labkit.integrity.write_manifest_entry": Entry(
            lambda: dict(relative="extra.bin", digest="0" * 64, root=bare_root()),
            {"relative": OUTSIDE, "digest": ["", "xyz", "0" * 63, 3], "root": ROOT},
            call=quiet_err,
        ),
        "labkit.integrity.verify": Entry(
            lambda: dict(relative=SHIPPED), {"relative": OUTSIDE + ["digits/nope.npz"], "root": ROOT}
        ),
        "labkit.integrity.read_verified": Entry(
            lambda: dict(relative=SHIPPED), {"relative": OUTSIDE + ["digits/nope.npz"], "root": ROOT}
        ),
        "labkit.integrity.verify_all": Entry(lambda: dict(root=None), {"root": ROOT}),
        "labkit.signing.key_fingerprint": Entry(
            lambda: dict(public_key=public_key()), {"public_key": [None, b"key", "abc"]}
        ),
        "labkit.signing.public_key_pem": Entry(
            lambda: dict(public_key=public_key()), {"public_key": [None, b"key", "abc"]}
        ),
        "labkit.signing.generate_signing_key": Entry(
            lambda: dict(path=Path(tempfile.mkdtemp(dir=TMP)) / "new.key"),
            {"path": [3, "", Bad("existing", lambda _: signing_key())]},
        ),
        "labkit.signing.load_signing_key": Entry(
            lambda: dict(path=signing_key()),
            {"path": [3, "", TMP / "missing.key", Bad("not-pem", lambda _: readme())]},
        ),
        # ---- zoo.registry, zoo.incident ------------------------------------------------------------
        "labkit.zoo.registry.model_card": Entry(lambda: dict(name="clinic_mlp"), {"name": ZOO_NAME}),
        "labkit.zoo.registry.load_model": Entry(
            lambda: dict(name="clinic_mlp", device="cpu"),
            {"name": ZOO_NAME, "device": ["gpu7", 3, "cuda:99" if torch.cuda.is_available() else "cuda"]},
        ),
        "labkit.zoo.incident.build_answer_key": Entry(lambda: dict(salt="s"), {"salt": [3, None, ""]}),
        "labkit.zoo.incident.write_answer_key": Entry(
            lambda: dict(root=bare_root()), {"root": ROOT}, call=quiet_err
        ),
        "labkit.zoo.incident.is_target": Entry(
            lambda: dict(guess=3), {"guess": [10, -1, 2.5, "3", None, True]}
        ),
        "labkit.zoo.incident.is_trigger_mask": Entry(
            lambda: dict(mask=torch.zeros(28, 28, dtype=torch.bool)),
            {"mask": [None, [[0]], Bad("3x3", lambda m: m[:3, :3]), Bad("3-dim", lambda m: m[None])]},
        ),
        "labkit.zoo.incident.grade_records": Entry(
            lambda: dict(record_ids=[0, 5, 7]),
            {"record_ids": [3, None, "123", [-1], [1.5], ["a"], [True]]},
        ),
        # ---- course.progress, release.gates ---------------------------------------------------------
        "labkit.course.progress.read_progress": Entry(lambda: dict(path=progress_file()), {"path": PATHS}),
        "labkit.course.progress.load_progress": Entry(lambda: dict(path=progress_file()), {"path": PATHS}),
        "labkit.course.progress.record": Entry(
            lambda: dict(exercise_id="00.integrity", passed=True, path=progress_file()),
            {"exercise_id": ["integrity", "", 3, None], "passed": ["no", 1, None], "path": PATHS},
        ),
        "labkit.course.progress.report": Entry(
            lambda: dict(exercise_ids=["00.integrity"], path=progress_file()),
            {"exercise_ids": ["00.integrity", 3, None, [3], ["integrity"]], "path": PATHS},
        ),
        "labkit.course.progress.format_report": Entry(
            lambda: dict(summary=progress_summary()), {"summary": [None, {}, "text", {"modules": []}]}
        ),
        "labkit.release.gates.RobustnessRequirement": Entry(
            lambda: dict(id="R1", model="digits_cnn", epsilon=0.1, min_accuracy=0.5, steps=1, n=2),
            {
                "id": [3, ""],
                "model": [None, ""],
                "epsilon": EPSILON,
                "min_accuracy": PROBABILITY + ["0.5", 70],
                "attack": [3, ""],
                "steps": COUNT,
                "n": COUNT,
            },
        ),
        "labkit.release.gates.evaluate_requirement": Entry(
            lambda: dict(requirement=requirement(), model=tiny_model()),
            {
                "requirement": [None, "R1", {"id": "R1"}],
                "model": MODEL[:1] + [3],
                "device": ["gpu7", 3],
                "progress": ["yes"],
            },
        ),
        "labkit.release.gates.gate_file": Entry(
            lambda: dict(name="smoke", source="def test_ok():\n    pass\n", directory=TMP / "gates"),
            {"name": ["../x", "", "a b", 3, None], "source": [3, None, b"x"], "directory": [3, ""]},
        ),
        "labkit.release.gates.run_pytest": Entry(
            lambda: dict(path=gate(), timeout=60.0),
            {"path": [TMP / "missing.py", 3, None, ""], "plugins": ["no", 1], "timeout": POSITIVE + ["60"]},
        ),
        "labkit.release.gates.run_picklescan": Entry(
            lambda: dict(path=readme(), timeout=60.0),
            {"path": [TMP / "missing.pkl", 3, None, ""], "strict": ["no", 1], "timeout": POSITIVE + ["60"]},
        ),
        # ---- service.audit, service.client, service.lifecycle.serve ---------------------------------
        "labkit.service.audit.AuditLog": Entry(
            lambda: dict(path=TMP / "audit.jsonl", fsync=False),
            {"path": [3, None, "", TMP], "fsync": ["no", 1], "max_field": [0, -1, 2.5, "9"]},
            call=closed,
        ),
        "labkit.service.audit.clip": Entry(
            lambda: dict(text="abcdef", limit=3), {"text": [3, None], "limit": [-1, 2.5, "3", None]}
        ),
        "labkit.service.audit.jsonable": Entry(
            lambda: dict(value={"a": [1.5, NAN]}, max_field=64), {"max_field": [0, -1, 2.5, "9"]}
        ),
        "labkit.service.audit.read_audit_log": Entry(
            lambda: dict(path=audit_log()),
            {"path": [3, None, TMP / "missing.jsonl", Bad("not-objects", lambda _: json_list())]},
        ),
        "labkit.service.audit.summarise_inputs": Entry(
            lambda: dict(x=images()),
            {
                "x": [None, [0.5], Bad("empty", lambda x: x[:0])],
                "value_range": [(1.0, 0.0), (NAN, 1.0), 3, (0.0,)],
            },
        ),
        "labkit.service.audit.QueryMemory": Entry(lambda: dict(size=4), {"size": COUNT}),
        "labkit.service.client.encode_array": Entry(
            lambda: dict(x=images(1)), {"x": [None, "pixels", torch.ones(2, dtype=torch.bool), {"a": 1}]}
        ),
        "labkit.service.client.Client": Entry(
            lambda: dict(url="http://127.0.0.1:9", api_key="k"),
            {
                "url": ["127.0.0.1:9", "ftp://x", 3, None],
                "api_key": [3, None],
                "timeout": POSITIVE + ["30"],
                "wait_on_rate_limit": ["yes", 1],
            },
            call=closed,
        ),
        "labkit.service.lifecycle.serve": Entry(
            lambda: dict(
                model=tiny_model(), input_shape=(1, 28, 28), log_path=TMP / "serve.jsonl", fsync=False
            ),
            {
                "model": ["no_such_model", 3, None],
                "policy": ["softmax", 3],
                "decimals": [-1, 2.5],
                "top_k": [0, True],
                "api_keys": [{}, {"": "alice"}, {"k": 3}, "k"],
                "rate_limit": [0, -1.0, NAN, "5"],
                "budget": [-1, 2.5, "9"],
                "max_batch": COUNT,
                "log_path": [3, TMP],
                "input_shape": [(0,), (-1,), "28", ()],
                "value_range": [(1.0, 0.0), (NAN, 1.0), 3],
                "max_body_bytes": [0, -1, 2.5],
                "body_timeout": POSITIVE,
                "fsync": ["no", 1],
                "startup_timeout": POSITIVE,
            },
            call=context,
        ),
        # ---- cli (usage errors are exit code 2: tests/test_cli.py) ------------------------------------
        "labkit.cli.main": Entry(
            lambda: dict(argv=["zoo", "list"]), {"argv": [3, "zoo list", [3], ["zoo", None]]}, call=quiet
        ),
        # ---- service.validation, service.requests: their `data`/`raw` content errors are HTTP answers
        # for remote clients (InputValidationError, RequestError) that name the input's fault, not the
        # Python argument: tests/test_service_hardening.py covers those. Swept here: the other arguments.
        "labkit.service.validation.numbers_from_lists": Entry(
            lambda: dict(data=[[0.5, 1.0]], expected="send N x 2"), {"expected": [3, None]}
        ),
        "labkit.service.validation.validate_digit_batch": Entry(
            lambda: dict(data=images(2), max_batch=4), {"max_batch": COUNT + [None]}
        ),
        "labkit.service.validation.validate_vectors": Entry(
            lambda: dict(data=features(), shape=(5,), max_batch=16, value_range=None),
            {
                "shape": [(0,), (-1,), (), None, "5", (2.5,)],
                "max_batch": COUNT + [None],
                "value_range": [(1.0, 0.0), (NAN, 1.0), 3, (0.0,)],
            },
        ),
        "labkit.service.requests.decode_body": Entry(
            lambda: dict(raw=b'{"inputs": [[0.5]]}', max_values=8),
            {"raw": ['{"inputs": [[0.5]]}', 3, None], "max_values": [0, -1, 2.5, "9"]},
        ),
        "labkit.service.limits.Limits": Entry(
            lambda: dict(rate_limit=5.0, budget=10),
            {"rate_limit": [0, -1.0, NAN, INF, "5", True], "budget": [-1, 2.5, "9", True]},
        ),
        "labkit.service.limits.LogThrottle": Entry(
            lambda: dict(rate=10.0, burst=20, max_sources=8),
            {"rate": POSITIVE + ["10"], "burst": COUNT, "max_sources": COUNT},
        ),
        # ---- course, checks, widgets --------------------------------------------------------------
        "labkit.course.coursemap.module": Entry(lambda: dict(number="06"), {"number": ["99", 6]}),
        "labkit.course.coursemap.course_map_markdown": Entry(
            lambda: dict(root=None), {"root": [TMP / "missing", 3]}
        ),
        "labkit.course.coursemap.update_readme": Entry(
            lambda: dict(path=readme()), {"path": [TMP / "missing.md", 3], "root": [TMP / "missing"]}
        ),
        "labkit.course.labgen.stub_source": Entry(
            lambda: dict(source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), {"source": [3, None]}
        ),
        "labkit.course.labgen.has_solution": Entry(lambda: dict(source="x = 1"), {"source": [3, None]}),
        "labkit.course.labgen.generate_lab": Entry(
            lambda: dict(solution=_notebook(), source_name="01_x.ipynb"), {"solution": [{}, 3]}
        ),
        "labkit.course.labgen.lab_text": Entry(
            lambda: dict(solution_path=solutions() / "01_x.ipynb"),
            {"solution_path": [TMP / "missing.ipynb", 3]},
        ),
        "labkit.course.labgen.build_labs": Entry(
            lambda: dict(solutions_dir=solutions(), labs_dir=TMP / "labs", check_only=True),
            {"solutions_dir": [TMP / "missing", 3], "labs_dir": [3]},
        ),
        "labkit.checks.framework.run_check": Entry(
            lambda: dict(exercise_id="00.integrity", answer=None), {"exercise_id": ["99.nope", 3, None]}
        ),
        "labkit.checks.framework.check": Entry(
            lambda: dict(exercise_id="00.integrity", answer=None),
            {"exercise_id": ["99.nope", 3, None]},
            call=quiet,
        ),
        "labkit.checks.framework.exercise": Entry(
            lambda: dict(exercise_id="99.sweep", title="t", hint="h"),
            {"exercise_id": [3, None, "", "sweep"], "title": [3, None, ""], "hint": [3, None]},
        ),
        "labkit.checks.framework.use_or_reference": Entry(
            lambda: dict(learner=lambda x: x, reference=lambda x: x),
            {"learner": [3, None, "f"], "reference": [3, None]},
        ),
        "labkit.course.doctor.format_findings": Entry(
            lambda: dict(findings=[finding()]), {"findings": [3, None, "text", [3], [("ok", "x", "y")]]}
        ),
        "labkit.widgets.explorer.explore": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), index=0, attack="fgsm", epsilon=0.1),
            {"x": IMAGES, "y": LABELS, "index": [4, -1, 1.5], "attack": ["nope"], "epsilon": EPSILON},
        ),
        "labkit.widgets.explorer.render": Entry(
            lambda: dict(view=view()), {"view": [None], "size": POSITIVE}
        ),
        "labkit.widgets.explorer.EpsilonExplorer": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), attacks=("fgsm",), max_epsilon=0.3),
            {"x": IMAGES, "y": LABELS, "attacks": [(), ("nope",)], "max_epsilon": POSITIVE, "index": [4]},
        ),
        "labkit.widgets.explorer.epsilon_explorer": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), attacks=("fgsm",)),
            {"x": IMAGES, "y": LABELS, "attacks": [(), ("nope",)], "max_epsilon": POSITIVE},
        ),
    }


def _transformed() -> Any:
    from labkit.defenses.transforms import Transformed, median_filter

    return Transformed(tiny_model(), median_filter)


def _notebook() -> Any:
    import nbformat

    return nbformat.read(solutions() / "01_x.ipynb", as_version=4)


# Public callables that take no user input to validate: result records, exceptions, protocols and
# helpers used as values. Each says why it has no table entry.
NOT_INPUT_TAKING = {
    "labkit.attacks.blackbox.QueryBudgetExceeded": "exception",
    "labkit.attacks.blackbox.GradientsNotAvailable": "exception",
    "labkit.attacks.blackbox.BudgetCurve": "result record built by budget_curve",
    "labkit.attacks.evasion.FoolboxModel": "typing Protocol",
    "labkit.attacks.evasion.Attack": "typing Protocol",
    "labkit.attacks.inversion.InversionResult": "result record",
    "labkit.attacks.membership.MembershipResult": "result record",
    "labkit.attacks.patches.PatchResult": "result record",
    "labkit.attacks.pgd.Perturb": "typing Protocol",
    "labkit.attacks.poisoning.PoisonedDataset": "result record",
    "labkit.attacks.robustness.RobustnessCurve": "result record",
    "labkit.attacks.robustness.PerturbationStats": "result record",
    "labkit.attacks.shadow.ShadowAttack": "result record built by fit_shadow_attack",
    "labkit.attacks.transfer.TransferResult": "result record",
    "labkit.checks.framework.CheckFailed": "exception",
    "labkit.checks.framework.CheckDidNotPass": "exception",
    "labkit.checks.framework.Exercise": "record built by exercise()",
    "labkit.checks.framework.CheckResult": "result record built by run_check",
    "labkit.checks.framework.as_number": "check-internal: turns a learner's value into CheckFailed",
    "labkit.checks.framework.as_values": "check-internal: turns a learner's value into CheckFailed",
    "labkit.checks.framework.format_result": "takes a CheckResult built by run_check",
    "labkit.course.coursemap.Module": "record of the course map, literal in coursemap.py",
    "labkit.course.labgen.LabGenerationError": "exception",
    "labkit.defenses.backdoor_detection.ReversedTrigger": "result record",
    "labkit.defenses.backdoor_detection.CleanseReport": "result record",
    "labkit.defenses.poison_filters.FilterScore": "result record",
    "labkit.defenses.poison_filters.ClusteringReport": "result record",
    "labkit.defenses.privacy.DPResult": "result record",
    "labkit.release.provenance.Manifest": "record built by build_manifest",
    "labkit.release.provenance.ManifestDiff": "result record",
    "labkit.widgets.explorer.ExplorerView": "result record built by explore",
    "labkit.paths.DatasetsNotFoundError": "exception",
    "labkit.paths.repo_root": "takes no arguments",
    "labkit.paths.datasets_dir": "takes no arguments (reads $LABKIT_DATASETS; tests/test_data.py)",
    "labkit.paths.user_dir": "takes no arguments (reads $LABKIT_HOME)",
    "labkit.data.ClinicInfo": "record built by clinic_info",
    "labkit.data.clinic_info": "takes no arguments",
    "labkit.integrity.IntegrityError": "exception",
    "labkit.integrity.VerifiedFile": "result record built by verify",
    "labkit.signing.signing_key_path": "takes no arguments (reads $LABKIT_SIGNING_KEY)",
    "labkit.zoo.registry.Trainer": "typing Protocol",
    "labkit.zoo.registry.ZooSpec": "record of the zoo, literal in registry.py",
    "labkit.zoo.incident.suspect_training_set": "takes no arguments",
    "labkit.zoo.incident.answer_key": "takes no arguments",
    "labkit.course.progress.progress_path": "takes no arguments (reads $LABKIT_HOME)",
    "labkit.release.gates.RequirementResult": "result record built by evaluate_requirement",
    "labkit.release.gates.GateRun": "result record built by run_pytest and run_picklescan",
    "labkit.service.client.ServiceError": "exception (built from an HTTP response)",
    "labkit.service.client.RateLimited": "exception (built from an HTTP response)",
    "labkit.service.client.BudgetExceeded": "exception (built from an HTTP response)",
    "labkit.service.client.Prediction": "result record built by Client.predict",
    "labkit.service.lifecycle.Service": "record built by serve (the running server)",
    "labkit.cli.parser": "takes no arguments",
    "labkit.service.validation.InputValidationError": "exception",
    "labkit.service.requests.RequestError": "exception (an HTTP error answer)",
    "labkit.course.doctor.Finding": "result record built by diagnose",
    "labkit.course.doctor.diagnose": "takes no arguments (checks this machine; tests/test_doctor*.py)",
}

# The modules this sweep covers (a module name starts with one of these).
COVERED = (
    "labkit.attacks",
    "labkit.defenses",
    "labkit.training",
    "labkit.models",
    "labkit.runtime",
    "labkit.viz",
    "labkit.widgets",
    "labkit.release.provenance",
    "labkit.course.coursemap",
    "labkit.course.labgen",
    "labkit.checks.framework",
    "labkit.policy",
    "labkit.paths",
    "labkit.data",
    "labkit.integrity",
    "labkit.signing",
    "labkit.zoo.registry",
    "labkit.zoo.incident",
    "labkit.course.progress",
    "labkit.release.gates",
    "labkit.service.audit",
    "labkit.service.client",
    "labkit.service.lifecycle",
    "labkit.cli",
    "labkit.course.doctor",
    "labkit.service.validation",
    "labkit.service.requests",
    "labkit.service.limits",
)

# Public functions of covered modules without a table entry: a valid call is too costly or needs what
# this machine does not have. Each says why, and where its arguments are tested instead.
SKIPPED = {
    "labkit.integrity.sign_manifest": "needs the maintainer's private key, which is not on this machine "
    "(and would re-sign datasets/); tests/test_integrity_signing.py signs a copied tree",
    "labkit.zoo.registry.train_zoo_model": "a valid call trains a zoo model (minutes); its name and root "
    "are checked before training (tests/test_zoo.py)",
    "labkit.service.requests.read_body": "async, reads a live starlette Request (its limit and timeout "
    "come from serve(), which checks them); tests/test_service_hardening.py sends slow and huge bodies",
}

# Modules whose public functions other engineers validate (issue 10), with their own tests.
OWNED_ELSEWHERE = {
    "labkit.service": "service.arguments are the service's argument checks themselves (like "
    "labkit.validate: tests/test_service_arguments.py); service.state and service.app take a ServiceState "
    "that serve() builds from checked arguments (internal wiring, tested through the running service in "
    "tests/test_serving.py and tests/test_service_hardening.py)",
    "labkit.zoo": "zoo.databuild, zoo.recipes: a valid call rebuilds a dataset or trains a zoo model "
    "(minutes), too slow for a baseline; their arguments are checked before any work starts, tested in "
    "tests/test_zoo.py",
    "labkit.checks.m": "labkit/checks/mNN_*.py: hidden tests take a learner's answer of any type by "
    "design and turn a wrong one into CheckFailed feedback, not a ValueError (tests/test_checks.py)",
    "labkit.checks": "labkit/checks/__init__.py: progress_report(path) hands path to "
    "course.progress.report, swept above (a prefix entry here would also sweep checks.mNN)",
    "labkit.validate": "the argument checks themselves: tests/test_validate.py",
}


# ---- fragments ------------------------------------------------------------------------------------
# Each area of labkit may keep its table in its own file, tests/bad_inputs/<area>.py, defining any of:
# cases() -> dict[str, Entry], NOT_INPUT_TAKING, SKIPPED, OWNED_ELSEWHERE (dicts) and COVERED (tuple).
# A fragment imports what it needs (Entry, Bad, COUNT, ...) from this module.
def _fragments() -> list[Any]:
    import importlib
    import pkgutil

    from tests import bad_inputs

    names = sorted(i.name for i in pkgutil.iter_modules(bad_inputs.__path__) if not i.name.startswith("_"))
    return [importlib.import_module(f"tests.bad_inputs.{name}") for name in names]


def cases() -> dict[str, Entry]:
    """qualified name -> Entry, over this file's table and every fragment's."""
    table = _core_cases()
    for fragment in _fragments():
        extra = getattr(fragment, "cases", dict)()
        clash = sorted(set(extra) & set(table))
        if clash:
            raise AssertionError(f"{fragment.__name__} repeats entries: {clash}")
        table.update(extra)
    return table


for _fragment in _fragments():
    NOT_INPUT_TAKING.update(getattr(_fragment, "NOT_INPUT_TAKING", {}))
    SKIPPED.update(getattr(_fragment, "SKIPPED", {}))
    OWNED_ELSEWHERE.update(getattr(_fragment, "OWNED_ELSEWHERE", {}))
    COVERED = (*COVERED, *getattr(_fragment, "COVERED", ()))
