"""The target as a black-box attacker sees it: a query-counting, output-limiting wrapper, and
budget curves for decision-based attacks run through it.

Threat model: black-box. The attacker sends inputs and reads back only what the service's output
policy allows (all probabilities, the top-k probabilities, or the label alone); no weights, no
gradients, and every input counts against a query budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.evasion import Attack, as_foolbox, check_images, foolbox, resolve_attack
from labkit.policy import apply_policy, check_policy
from labkit.runtime import get_device, progress_bar


class QueryBudgetExceeded(RuntimeError):
    """Raised when a call to a black-box model would spend more queries than its budget allows."""


class GradientsNotAvailable(RuntimeError):
    """Raised when something tries to backpropagate through a black-box model."""


class _Opaque(torch.autograd.Function):
    """Answers a query; refuses to give gradients (a real API cannot differentiate for you)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, box: BlackBoxModel) -> torch.Tensor:  # noqa: ANN401
        return box._answer(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Any:  # noqa: ANN401
        raise GradientsNotAvailable(
            "this is a black-box model: it returns outputs, never gradients. Use a decision-based "
            "attack (boundary, hopskipjump), a transfer attack from a surrogate, or query-based "
            "gradient estimation instead."
        )


class BlackBoxModel(nn.Module):
    """A model behind an API: counts every input as one query against `budget` and returns only
    what the output `policy` allows (see `labkit.policy`: "probabilities", "rounded" to `decimals`,
    the `top_k` largest with the rest zeroed, or "label" as a one-hot row). Its weights are not
    reachable through it (`parameters()` is empty)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        budget: int | None = None,
        policy: str = "label",
        top_k: int = 3,
        decimals: int = 2,
    ) -> None:
        super().__init__()
        v.module("model", model)
        check_policy(policy, decimals=decimals, top_k=top_k)
        if budget is not None:
            budget = v.nonnegative_int("budget", budget)
        # stored without registering it as a submodule: the attacker gets no parameters through us
        object.__setattr__(self, "_target", model.eval())
        self.budget = budget
        self.policy = policy
        self.top_k = top_k
        self.decimals = decimals
        self.queries = 0
        self.calls = 0

    @property
    def remaining(self) -> int | None:
        """Queries left in the budget (None when there is no budget)."""
        return None if self.budget is None else self.budget - self.queries

    def reset(self, *, budget: int | None = None) -> BlackBoxModel:
        """Start counting from zero again, optionally with a new budget; returns self."""
        self.queries, self.calls = 0, 0
        if budget is not None:
            self.budget = budget
        return self

    def _answer(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"send a batch of inputs (N x ...), got a tensor of shape {tuple(x.shape)}.")
        n = len(x)
        if self.budget is not None and self.queries + n > self.budget:
            raise QueryBudgetExceeded(
                f"query budget spent: {self.queries} of {self.budget} queries used and this call "
                f"asks for {n} more. Attack within the budget, or reset() the wrapper for a new run."
            )
        self.queries += n
        self.calls += 1
        target: nn.Module = self.__dict__["_target"]
        device = next(target.parameters()).device
        with torch.no_grad():
            logits = target(x.detach().to(device)).float()
        probabilities = torch.softmax(logits, dim=1)
        out = apply_policy(probabilities, self.policy, decimals=self.decimals, top_k=self.top_k)
        if out is None:  # label only: a one-hot row, so that argmax still reads the label
            out = nn.functional.one_hot(logits.argmax(dim=1), logits.shape[1]).float()
        return out.to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Opaque.apply(x, self)

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted label of each input (costs one query per input, like any call)."""
        return self(x).argmax(dim=1)

    def extra_repr(self) -> str:
        return f"policy={self.policy!r}, budget={self.budget}, queries={self.queries}"


class _AttackerLog(nn.Module):
    """The attacker's own notebook: watches the answers to its queries and keeps, per image, the
    closest input seen so far that the black box labelled differently from the true label.

    foolbox's decision-based attacks query one candidate per image per call, so row i of every
    call belongs to image i."""

    def __init__(self, box: BlackBoxModel, originals: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__()
        self.box = box
        self.originals = originals.flatten(1)
        self.labels = labels
        self.best = torch.full((len(originals),), math.inf)
        self.best_inputs = originals.clone()
        self.history: list[torch.Tensor] = []  # best L2 per image after each call
        self.device = torch.device("cpu")
        self.bar: Any = None  # a tqdm bar counting calls (queries per image), if any

    def _apply(self, fn: Any, recurse: bool = True) -> _AttackerLog:  # noqa: ANN401 - follows .to()
        self.device = fn(torch.empty(0)).device
        return super()._apply(fn, recurse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) != len(self.originals):
            raise ValueError(
                f"the attack sent {len(x)} inputs in one call for {len(self.originals)} images; "
                f"budget curves need one candidate per image per call (foolbox's boundary and "
                f"hopskipjump attacks do this)."
            )
        out = self.box(x)
        wrong = out.argmax(dim=1).cpu() != self.labels
        flat = x.detach().cpu().flatten(1)
        distance = (flat - self.originals).norm(dim=1)
        better = wrong & (distance < self.best)
        self.best = torch.where(better, distance, self.best)
        self.best_inputs[better] = x.detach().cpu()[better]
        self.history.append(self.best.clone())
        if self.bar is not None:
            self.bar.update(1)
        return out


def _starting_points(log: _AttackerLog, x: torch.Tensor, y: torch.Tensor, *, tries: int = 5) -> torch.Tensor:
    """For each image, the nearest other image in the batch with a different true label that the
    black box also labels differently (one query per image per try, logged like any other)."""
    distance = torch.cdist(x.flatten(1), x.flatten(1))
    distance[y[:, None] == y[None, :]] = math.inf
    order = distance.argsort(dim=1)
    choice = torch.zeros(len(x), dtype=torch.long)
    pending = torch.ones(len(x), dtype=torch.bool)
    for attempt in range(tries):
        choice[pending] = order[pending, attempt]
        if torch.isinf(distance[torch.arange(len(x)), choice]).any():
            break
        starts = x[choice]
        pending = log(starts.to(log.device)).argmax(dim=1).cpu() == y
        if not pending.any():
            return starts
    raise ValueError(
        "could not find a starting point the black box labels differently for every image; pass "
        "a larger batch with several images of each class."
    )


@dataclass(frozen=True)
class BudgetCurve:
    """A decision-based attack's progress against its query budget (queries per image)."""

    attack: str
    budgets: tuple[int, ...]
    success_rates: tuple[float, ...]
    median_l2: tuple[float, ...]
    epsilon: float
    queries_used: int

    def table(self) -> str:
        """A markdown table of budget against success rate and median L2."""
        rows = [f"| queries per image | success (L2 <= {self.epsilon:g}) | median L2 |", "|---|---|---|"]
        rows += [
            f"| {b} | {s:.0%} | {m:.2f} |"
            for b, s, m in zip(self.budgets, self.success_rates, self.median_l2, strict=True)
        ]
        return "\n".join(rows)

    def plot(self, axes: Sequence[Any] | None = None, *, label: str | None = None) -> Sequence[Any]:
        """Success rate and median L2 against the budget on two axes (new ones if none are given)."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        left, right = axes
        left.plot(self.budgets, self.success_rates, marker="o", label=label or self.attack)
        left.set_ylabel(f"success rate (L2 <= {self.epsilon:g})")
        left.set_ylim(0, 1.02)
        right.plot(self.budgets, self.median_l2, marker="o", label=label or self.attack)
        right.set_ylabel("median L2 of best adversarial")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("query budget per image")
            ax.grid(alpha=0.3)
            ax.legend()
        return axes


def budget_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    budgets: Sequence[int],
    epsilon: float = 2.0,
    policy: str = "label",
    device: torch.device | None = None,
    progress: bool = True,
) -> tuple[BudgetCurve, torch.Tensor]:
    """Run a decision-based foolbox attack through a BlackBoxModel with a budget of max(budgets)
    queries per image, and read off success rate (best L2 <= epsilon) and median L2 at each budget.

    The attack starts from the nearest image of another class in the batch (foolbox's noise start
    fails on some digits), so the batch needs several classes; every image must be classified
    correctly to begin with. Returns the curve and the best adversarial inputs found within the budget
    (an image with no adversarial found keeps its clean input and an infinite L2). `progress` shows
    a bar of the queries spent per image (foolbox's own attacks report no progress).
    Threat model: black-box, label-only by default; each image costs one query per candidate.
    """
    from labkit.training import predict_logits

    v.module("model", model)
    if isinstance(budgets, (str, bytes)) or not isinstance(budgets, Sequence) or not budgets:
        raise ValueError(
            f"budgets must be a non-empty list of positive query counts per image, not {budgets!r}."
        )
    budgets = [v.positive_int("budgets", b) for b in budgets]
    check_images(x, y)
    v.model_labels("y", y, model=model, x=x)
    epsilon = v.nonnegative_float("epsilon", epsilon)
    check_policy(policy)
    resolve_attack(attack)
    device = device or get_device()
    x, y = x.cpu(), y.cpu()
    # a precondition of the experiment, checked on the model itself (not charged to the attacker)
    wrong = int((predict_logits(model, x).argmax(dim=1) != y).sum())
    if wrong:
        raise ValueError(
            f"{wrong} of {len(x)} images are already misclassified by the model; a budget curve "
            f"measures the cost of changing a correct answer, so pass only correctly classified images."
        )
    per_image = max(budgets)
    box = BlackBoxModel(model, budget=per_image * len(x), policy=policy)
    log = _AttackerLog(box, x, y)
    fmodel = as_foolbox(log, device=device)
    criterion = foolbox().criteria.Misclassification(y.to(device))
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, not {progress!r}.")
    name = type(attack).__name__ if not isinstance(attack, str) else attack
    with progress_bar(
        total=per_image, desc=f"{name}: queries per image", enabled=progress, leave=False
    ) as bar:
        log.bar = bar
        try:
            starts = _starting_points(log, x, y)
            resolve_attack(attack).run(fmodel, x.to(device), criterion, starting_points=starts.to(device))
        except QueryBudgetExceeded:
            pass  # the budget ended the attack; the attacker keeps what it has seen so far
        finally:
            log.bar = None
    history = torch.stack(log.history) if log.history else torch.full((1, len(x)), math.inf)
    successes, medians = [], []
    for budget in budgets:
        best = history[min(budget, len(history)) - 1]
        successes.append(float((best <= epsilon).float().mean()))
        medians.append(float(best.median()))
    curve = BudgetCurve(
        type(attack).__name__,
        tuple(int(b) for b in budgets),
        tuple(successes),
        tuple(medians),
        float(epsilon),
        box.queries,
    )
    return curve, log.best_inputs
