"""Interactive explorers for the notebooks: compute and render headless, wire up ipywidgets lazily.

`explore` computes one view and `render` draws it (both work without a kernel, so tests and static
notebook output use them); `epsilon_explorer` puts sliders on top for a live JupyterLab session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.evasion import ATTACK_NAMES, make_attack
from labkit.attacks.robustness import adversarial_examples

EXPLORER_ATTACKS = ("fgsm", "pgd")  # L-inf attacks with a fixed epsilon: the slider means one thing


@dataclass(frozen=True)
class ExplorerView:
    """One image, attacked at one epsilon: both images and what the model reads in each."""

    index: int
    attack: str
    epsilon: float
    label: int
    clean: torch.Tensor  # C x H x W in [0, 1]
    adversarial: torch.Tensor  # C x H x W in [0, 1]
    clean_prediction: int
    clean_confidence: float
    adversarial_prediction: int
    adversarial_confidence: float

    @property
    def perturbation(self) -> torch.Tensor:
        """adversarial - clean (C x H x W)."""
        return self.adversarial - self.clean

    @property
    def linf(self) -> float:
        """Largest change to any pixel."""
        return float(self.perturbation.abs().max())

    @property
    def l2(self) -> float:
        """Euclidean size of the perturbation."""
        return float(self.perturbation.norm())

    @property
    def fooled(self) -> bool:
        """Whether the model reads the adversarial image as something other than its true label."""
        return self.adversarial_prediction != self.label

    def summary(self) -> str:
        """One line: what the model reads before and after the attack."""
        verdict = "FOOLED" if self.fooled else "still correct"
        return (
            f"image {self.index} (label {self.label}), {self.attack} at epsilon {self.epsilon:.2f}: "
            f"reads {self.clean_prediction} ({self.clean_confidence:.0%}) -> "
            f"{self.adversarial_prediction} ({self.adversarial_confidence:.0%}), {verdict}; "
            f"L-inf {self.linf:.3f}, L2 {self.l2:.2f}"
        )


def _attack(name: str) -> Any:
    if name == "pgd":
        return make_attack("pgd", random_start=False)  # deterministic: the same view every time
    return make_attack(name)


def _check_explorer_inputs(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    v.module("model", model)
    v.images("x", x)
    v.model_labels("y", y, model=model, x=x)


def _check_attack(attack: str) -> None:
    if not isinstance(attack, str) or attack not in ATTACK_NAMES:
        raise ValueError(
            f"attack {attack!r} is not known: the explorer offers {', '.join(EXPLORER_ATTACKS)}."
        )
    if attack not in EXPLORER_ATTACKS:
        raise ValueError(
            f"attack {attack!r} does not take a fixed L-inf epsilon; "
            f"use one of {', '.join(EXPLORER_ATTACKS)}."
        )


def explore(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    index: int,
    attack: str,
    epsilon: float,
    device: torch.device | None = None,
) -> ExplorerView:
    """Attack image `index` of (x, y) with a named L-inf attack at `epsilon` and read both images.

    Threat model: white-box (gradients of `model`), L-inf budget epsilon, pixels stay in [0, 1].
    PGD runs without a random start so that the same settings always give the same view.
    """
    _check_explorer_inputs(model, x, y)
    index = v.position("index", index, length=len(x))
    _check_attack(attack)
    epsilon = v.nonnegative_float("epsilon", epsilon)
    xi, yi = x[index : index + 1].cpu(), y[index : index + 1].cpu()
    if epsilon == 0:
        adv = xi.clone()
    else:
        adv, _ = adversarial_examples(model, xi, yi, _attack(attack), epsilon=float(epsilon), device=device)
    first = next(iter(model.parameters()), None)
    where = first.device if first is not None else torch.device("cpu")
    model.eval()
    with torch.no_grad():
        probabilities = torch.softmax(model(torch.cat([xi, adv.cpu()]).to(where)), dim=1).cpu()
    confidence, prediction = probabilities.max(dim=1)
    return ExplorerView(
        index=index,
        attack=attack,
        epsilon=float(epsilon),
        label=int(yi[0]),
        clean=xi[0],
        adversarial=adv[0].cpu(),
        clean_prediction=int(prediction[0]),
        clean_confidence=float(confidence[0]),
        adversarial_prediction=int(prediction[1]),
        adversarial_confidence=float(confidence[1]),
    )


def render(view: ExplorerView, *, size: float = 2.4) -> Any:
    """Clean image, perturbation (stretched so that it is visible) and adversarial image; a Figure."""
    import matplotlib.pyplot as plt

    if not isinstance(view, ExplorerView):
        raise TypeError(f"view must be an ExplorerView (see explore), not {view!r}.")
    size = v.positive_float("size", size)

    fig, axes = plt.subplots(1, 3, figsize=(3 * size, size * 1.2))
    delta = view.perturbation.squeeze(0)
    scale = float(delta.abs().max()) or 1.0
    axes[0].imshow(view.clean.squeeze(0), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"clean: reads {view.clean_prediction} ({view.clean_confidence:.0%})", fontsize=9)
    axes[1].imshow(delta, cmap="RdBu_r", vmin=-scale, vmax=scale)
    stretch = f", shown x{1 / scale:.0f}" if view.linf > 0 else ""
    axes[1].set_title(f"perturbation (L-inf {view.linf:.2f}{stretch})", fontsize=9)
    axes[2].imshow(view.adversarial.squeeze(0), cmap="gray", vmin=0, vmax=1)
    axes[2].set_title(
        f"adversarial: reads {view.adversarial_prediction} ({view.adversarial_confidence:.0%})",
        fontsize=9,
        color="crimson" if view.fooled else "black",
    )
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"{view.attack.upper()} at epsilon {view.epsilon:.2f}, true label {view.label}", fontsize=10)
    fig.tight_layout()
    return fig


def _check_attacks(attacks: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(attacks, str) or not isinstance(attacks, (tuple, list)):
        raise TypeError(f"attacks must be a tuple of attack names, not {attacks!r}.")
    if not attacks or any(a not in EXPLORER_ATTACKS for a in attacks):
        raise ValueError(
            f"attacks must be a non-empty selection of {', '.join(EXPLORER_ATTACKS)}, got {tuple(attacks)!r}."
        )
    return tuple(attacks)


class EpsilonExplorer:
    """Sliders for image index, attack and epsilon over `explore` + `render` (display it in Jupyter)."""

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        attacks: tuple[str, ...],
        max_epsilon: float,
        index: int = 0,
        epsilon: float | None = None,
    ) -> None:
        import ipywidgets as widgets

        _check_explorer_inputs(model, x, y)
        _check_attacks(attacks)
        max_epsilon = v.finite_float("max_epsilon", max_epsilon, low=0.0, high=1.0, low_open=True)
        index = v.position("index", index, length=len(x))
        if epsilon is not None:
            epsilon = v.finite_float("epsilon", epsilon, low=0.0, high=max_epsilon)
        self.model, self.x, self.y = model, x, y
        self.index = widgets.IntSlider(
            value=index, min=0, max=len(x) - 1, description="image", continuous_update=False
        )
        self.attack = widgets.Dropdown(options=list(attacks), value=attacks[0], description="attack")
        start = min(max_epsilon, 0.1) if epsilon is None else epsilon
        self.epsilon = widgets.FloatSlider(
            value=start,
            min=0.0,
            max=max_epsilon,
            step=0.01,
            description="epsilon",
            readout_format=".2f",
            continuous_update=False,
        )
        self.status = widgets.Label()
        self.output = widgets.Output()
        self.widget = widgets.VBox(
            [widgets.HBox([self.index, self.attack, self.epsilon]), self.status, self.output]
        )
        for control in (self.index, self.attack, self.epsilon):
            control.observe(self.update, names="value")
        self.view: ExplorerView = self.update()

    def update(self, _change: Any = None) -> ExplorerView:
        """Recompute the view for the current slider values and redraw it (in a live kernel)."""
        self.view = explore(
            self.model,
            self.x,
            self.y,
            index=int(self.index.value),
            attack=str(self.attack.value),
            epsilon=float(self.epsilon.value),
        )
        self.status.value = self.view.summary()
        from IPython import get_ipython

        if get_ipython() is not None:  # drawing needs a front end; headless use keeps the view only
            import matplotlib.pyplot as plt
            from IPython.display import clear_output, display

            with self.output:
                clear_output(wait=True)
                fig = render(self.view)
                display(fig)
                plt.close(fig)
        return self.view

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def epsilon_explorer(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attacks: tuple[str, ...] = ("fgsm", "pgd"),
    max_epsilon: float = 0.3,
) -> EpsilonExplorer:
    """An ipywidgets explorer: pick an image and an attack, move epsilon, watch the model's reading.

    Needs a live Jupyter kernel to be interactive; `explore` and `render` give the same view statically.
    """
    _check_explorer_inputs(model, x, y)
    attacks = _check_attacks(attacks)
    max_epsilon = v.finite_float("max_epsilon", max_epsilon, low=0.0, high=1.0, low_open=True)
    try:
        import ipywidgets  # noqa: F401 - fail early with a clear message
    except ImportError as error:  # pragma: no cover - ipywidgets is a course dependency
        raise ImportError(
            "the explorer needs ipywidgets: run `make lab` to set up the environment, "
            "or use labkit.widgets.explore and render for a static view."
        ) from error
    return EpsilonExplorer(model, x, y, attacks=attacks, max_epsilon=float(max_epsilon))
