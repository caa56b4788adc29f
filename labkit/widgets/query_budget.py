"""A query-budget control (module 10): pick the number of queries an API key may send and read how
faithful and how accurate the attacker's stolen copy is at that budget, per output policy.

The copies are trained once in the notebook (one per budget, policy and seed); `budget_points` turns
the measured curves into sweep points, and `query_budget_explorer` puts the sweep slider on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from labkit import validate as v
from labkit.widgets.sweep import SweepExplorer, SweepPoint, sweep_explorer


def budget_points(
    budgets: Sequence[int], curves: Mapping[str, Sequence[tuple[float, float]]]
) -> list[SweepPoint]:
    """One point per budget: fidelity and accuracy of the copy under each policy. `curves[policy]`
    holds one (fidelity, accuracy) pair per budget, each a fraction in [0, 1]."""
    if isinstance(budgets, (str, bytes)) or not isinstance(budgets, Sequence) or not budgets:
        raise TypeError(f"budgets must be a non-empty list of query counts, not {budgets!r:.60}.")
    counts = [v.positive_int(f"budgets[{i}]", n) for i, n in enumerate(budgets)]
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(
            f"curves must be a non-empty dict of policy -> (fidelity, accuracy) pairs, not {curves!r:.60}."
        )
    values: list[dict[str, float]] = [{} for _ in counts]
    for policy, pairs in curves.items():
        v.text("curves key", policy)
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or len(pairs) != len(counts):
            raise ValueError(
                f"curves[{policy!r}] must hold one (fidelity, accuracy) pair per budget ({len(counts)}), "
                f"not {pairs!r:.60}."
            )
        for row, pair in zip(values, pairs, strict=True):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValueError(
                    f"curves[{policy!r}] must hold (fidelity, accuracy) pairs, not {pair!r:.60}."
                )
            row[f"fidelity ({policy})"] = v.probability(f"curves[{policy!r}] fidelity", pair[0])
            row[f"accuracy ({policy})"] = v.probability(f"curves[{policy!r}] accuracy", pair[1])
    return [
        SweepPoint(label=f"{n:,} queries", x=float(n), values=row)
        for n, row in zip(counts, values, strict=True)
    ]


def query_budget_explorer(
    budgets: Sequence[int], curves: Mapping[str, Sequence[tuple[float, float]]], *, selected: int = 0
) -> SweepExplorer:
    """A slider over the query budgets: the copy's fidelity and accuracy per policy at the chosen one."""
    points = budget_points(budgets, curves)
    v.position("selected", selected, length=len(points))
    return sweep_explorer(
        points, description="query budget", x_label="queries (images sent)", log_x=True, selected=selected
    )
