"""A query-budget control (module 10): pick the number of queries an API key may send and read how
faithful and how accurate the attacker's stolen copy is at that budget, per output policy.

The copies are trained once in the notebook (one per budget, policy and seed); `budget_points` turns
the measured curves into sweep points, `render_query_budget` draws them with one budget marked, and
`query_budget_explorer` puts the sweep slider on top.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from labkit import validate as v
from labkit.widgets.sweep import SweepExplorer, SweepPoint, _check_points


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


def render_query_budget(points: Sequence[SweepPoint], *, selected: int) -> Any:  # noqa: ANN401 - a figure
    """Fidelity (solid) and accuracy (dashed) per policy against the budget, the chosen budget marked."""
    import matplotlib.pyplot as plt

    points = _check_points(points, selected)
    xs = [p.x for p in points]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name in points[0].values:
        if not name.startswith("fidelity"):
            continue
        (line,) = ax.plot(xs, [p.values[name] for p in points], "o-", label=name)
        twin = name.replace("fidelity", "accuracy", 1)
        if twin in points[0].values:
            ax.plot(xs, [p.values[twin] for p in points], "--", color=line.get_color(), alpha=0.6, label=twin)
    ax.axvline(points[selected].x, color="black", linestyle=":")
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{int(x):,}" for x in xs])
    ax.minorticks_off()
    ax.set(xlabel="queries a key may send", ylabel="on the bank's test digits", ylim=(0, 1))
    ax.set_title(f"the copy an attacker gets with {points[selected].label}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


class QueryBudgetExplorer(SweepExplorer):
    """The sweep slider over budgets, with its own figure and a status line that is never cut short."""

    def __init__(self, points: list[SweepPoint], *, selected: int) -> None:
        import ipywidgets as widgets

        super().__init__(
            points, description="query budget", x_label="queries", log_x=True, detail=None, selected=selected
        )
        self.status = widgets.HTML()
        self.widget = widgets.VBox([self.slider, self.status, self.output])
        self.update()

    def update(self, _change: Any = None) -> SweepPoint:  # noqa: ANN401
        """Show the selected budget's numbers and redraw the figure (in a live kernel)."""
        self.status.value = html.escape(self.point.summary())
        from IPython import get_ipython

        if get_ipython() is not None:
            import matplotlib.pyplot as plt
            from IPython.display import clear_output, display

            with self.output:
                clear_output(wait=True)
                fig = render_query_budget(self.points, selected=int(self.slider.value))
                display(fig)
                plt.close(fig)
        return self.point


def query_budget_explorer(
    budgets: Sequence[int], curves: Mapping[str, Sequence[tuple[float, float]]], *, selected: int = 0
) -> QueryBudgetExplorer:
    """A slider over the query budgets: the copy's fidelity and accuracy per policy at the chosen one."""
    points = budget_points(budgets, curves)
    v.position("selected", selected, length=len(points))
    return QueryBudgetExplorer(points, selected=selected)
