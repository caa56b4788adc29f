"""An alert-threshold control: move a detector's threshold and see precision, recall and alert fatigue.

`threshold_curve` scores a detector statistic at many thresholds (headless), `render_threshold` draws
the trade-off and the alerts per client at one threshold, and `threshold_explorer` puts a slider on top
for a live session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labkit import validate as v
from labkit.response.detection import Alert, Score, _time, alerts_by_client, score
from labkit.response.groundtruth import label_clients


@dataclass(frozen=True)
class ThresholdPoint:
    """A detector's score at one threshold, and how many alerts each client raised."""

    threshold: float
    score: Score
    per_client: dict[str, int]


def _points(points: Any) -> list[tuple[dict[str, Any], float]]:  # noqa: ANN401
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise TypeError(f"points must be a list of (record, statistic) pairs, not {points!r:.60}.")
    for pair in points:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], dict)):
            raise TypeError(f"points must hold (record, statistic) pairs, not {pair!r:.60}.")
    return list(points)


def threshold_curve(
    points: Sequence[tuple[dict[str, Any], float]],
    records: Sequence[dict[str, Any]],
    *,
    thresholds: Sequence[float],
    kind: str | None = None,
    name: str = "detector",
) -> list[ThresholdPoint]:
    """Score the alerts "statistic below threshold" at each threshold (e.g. PRADA's W per request)."""
    pairs = _points(points)
    values = v.numbers_list("thresholds", thresholds)
    v.text("name", name)
    out = []
    for threshold in values:
        alerts = [
            Alert(name, r["client"], _time(r["time"]), r.get("request_id")) for r, s in pairs if s < threshold
        ]
        out.append(ThresholdPoint(threshold, score(alerts, records, kind=kind), alerts_by_client(alerts)))
    return out


def render_threshold(curve: Sequence[ThresholdPoint], index: int) -> Any:  # noqa: ANN401
    """Draw precision and recall against the threshold (the chosen one marked) and, at it, the alerts
    per client (attackers in red): the figure."""
    import matplotlib.pyplot as plt

    if not curve or not all(isinstance(p, ThresholdPoint) for p in curve):
        raise TypeError("curve must be a non-empty list of ThresholdPoint (see threshold_curve).")
    index = v.position("index", index, length=len(curve))
    point = curve[index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
    xs = [p.threshold for p in curve]
    left.plot(xs, [p.score.precision for p in curve], label="precision")
    left.plot(xs, [p.score.recall for p in curve], label="recall")
    left.axvline(point.threshold, color="black", linestyle=":")
    left.set(
        xlabel="threshold", ylim=(-0.05, 1.05), title=f"{point.score.alerts} alerts at {point.threshold:g}"
    )
    left.legend(loc="lower right")
    clients = list(point.per_client)[:12]
    bad = label_clients(clients) if clients else []
    right.barh(clients[::-1], [point.per_client[c] for c in clients][::-1],
               color=["tab:red" if b else "tab:gray" for b in bad][::-1])  # fmt: skip
    right.set(xlabel="alerts in the day", title=f"{point.score.false_alerts} false alerts (gray: benign)")
    fig.tight_layout()
    return fig


def threshold_explorer(curve: Sequence[ThresholdPoint]) -> Any:  # noqa: ANN401
    """A slider over the thresholds of `curve` that redraws `render_threshold` (ipywidgets)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not curve or not all(isinstance(p, ThresholdPoint) for p in curve):
        raise TypeError("curve must be a non-empty list of ThresholdPoint (see threshold_curve).")
    slider = widgets.SelectionSlider(
        options=[(f"{p.threshold:g}", i) for i, p in enumerate(curve)],
        value=len(curve) // 2,
        description="threshold",
        continuous_update=False,
    )
    out = widgets.Output()

    def draw(_: Any = None) -> None:  # noqa: ANN401
        with out:
            out.clear_output(wait=True)
            display(render_threshold(curve, slider.value))
            plt.close("all")

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])
