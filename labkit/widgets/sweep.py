"""A control over a measured sweep: pick one setting (DP epsilon, poisoned fraction...) and see its
numbers, where it sits on the trade-off curve, and a detail plot for it.

The sweep is measured once in the notebook (training per setting is too slow for a live slider);
`render_sweep` draws one selection headless, `sweep_explorer` puts a slider on top in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit import validate as v


@dataclass(frozen=True)
class SweepPoint:
    """One measured setting: its slider label, its x position and its named metrics (each in [0, 1])."""

    label: str
    x: float
    values: dict[str, float]
    extra: Any = field(default=None, repr=False)  # what a detail plot needs (a ROC curve, images...)

    def __post_init__(self) -> None:
        v.text("label", self.label)
        v.finite_float("x", self.x)
        if not isinstance(self.values, dict) or not self.values:
            raise ValueError(f"values must be a non-empty dict of metric name -> number, not {self.values!r}")
        for name, value in self.values.items():
            v.text("values key", name)
            v.finite_float(f"values[{name!r}]", value)

    def summary(self) -> str:
        """One line: the label and every metric."""
        return f"{self.label}: " + ", ".join(f"{name} {value:.1%}" for name, value in self.values.items())


def _check_points(points: Any, selected: int | None = None) -> list[SweepPoint]:  # noqa: ANN401
    if not isinstance(points, (list, tuple)) or not points:
        raise ValueError(f"points must be a non-empty list of SweepPoint, not {points!r:.60}.")
    for point in points:
        if not isinstance(point, SweepPoint):
            raise TypeError(f"points must hold SweepPoint values, not {point!r:.60}.")
    names = list(points[0].values)
    if any(list(point.values) != names for point in points):
        raise ValueError("every point must report the same metrics, in the same order.")
    if selected is not None:
        v.position("selected", selected, length=len(points))
    return list(points)


def render_sweep(
    points: list[SweepPoint],
    *,
    selected: int = 0,
    x_label: str = "setting",
    log_x: bool = False,
    detail: Callable[[SweepPoint, Any], Any] | None = None,
) -> Any:  # noqa: ANN401 - a matplotlib figure
    """Every metric against x, the selected point ringed; `detail(point, ax)` draws a second panel."""
    import matplotlib.pyplot as plt

    points = _check_points(points, selected)
    v.text("x_label", x_label)
    if detail is not None:
        v.function("detail", detail)
    fig, axes = plt.subplots(1, 2 if detail else 1, figsize=(10 if detail else 5.5, 3.8), squeeze=False)
    ax = axes[0][0]
    order = sorted(range(len(points)), key=lambda i: points[i].x)
    for name in points[0].values:
        xs = [points[i].x for i in order]
        ys = [points[i].values[name] for i in order]
        (line,) = ax.plot(xs, ys, "o-", label=name)
        ax.plot(
            [points[selected].x],
            [points[selected].values[name]],
            "o",
            ms=13,
            mfc="none",
            mec=line.get_color(),
            mew=2,
        )
    if log_x and all(p.x > 0 for p in points):
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(points[selected].summary(), fontsize=8)
    if detail is not None:
        detail(points[selected], axes[0][1])
    fig.tight_layout()
    return fig


class SweepExplorer:
    """A slider over the measured settings; the figure redraws for the selected one (needs a kernel)."""

    def __init__(
        self,
        points: list[SweepPoint],
        *,
        description: str,
        x_label: str,
        log_x: bool,
        detail: Callable[[SweepPoint, Any], Any] | None,
        selected: int,
    ) -> None:
        import ipywidgets as widgets

        points = _check_points(points, selected)
        self.points = points
        self.options = dict(x_label=x_label, log_x=log_x, detail=detail)
        self.slider = widgets.SelectionSlider(
            options=[(p.label, i) for i, p in enumerate(points)],
            value=selected,
            description=description,
            continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="60%"),
        )
        self.status = widgets.Label()
        self.output = widgets.Output()
        self.widget = widgets.VBox([self.slider, self.status, self.output])
        self.slider.observe(self.update, names="value")
        self.update()

    @property
    def point(self) -> SweepPoint:
        """The selected setting."""
        return self.points[int(self.slider.value)]

    def update(self, _change: Any = None) -> SweepPoint:  # noqa: ANN401
        """Show the selected setting's numbers and redraw its figure (in a live kernel)."""
        self.status.value = self.point.summary()
        from IPython import get_ipython

        if get_ipython() is not None:
            import matplotlib.pyplot as plt
            from IPython.display import clear_output, display

            with self.output:
                clear_output(wait=True)
                fig = render_sweep(self.points, selected=int(self.slider.value), **self.options)  # type: ignore[arg-type]
                display(fig)
                plt.close(fig)
        return self.point

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # noqa: ANN401
        return self.widget._repr_mimebundle_(**kwargs)


def sweep_explorer(
    points: list[SweepPoint],
    *,
    description: str = "setting",
    x_label: str = "setting",
    log_x: bool = False,
    detail: Callable[[SweepPoint, Any], Any] | None = None,
    selected: int = 0,
) -> SweepExplorer:
    """An ipywidgets slider over a measured sweep (e.g. DP epsilon, poisoned fraction)."""
    points = _check_points(points, selected)
    v.text("description", description)
    v.text("x_label", x_label)
    if detail is not None:
        v.function("detail", detail)
    if not isinstance(log_x, bool):
        raise TypeError(f"log_x must be True or False, not {log_x!r}.")
    return SweepExplorer(
        points, description=description, x_label=x_label, log_x=log_x, detail=detail, selected=selected
    )
