"""labkit.widgets.sweep: a control over a measured sweep, headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from labkit.widgets import SweepPoint, render_sweep, sweep_explorer  # noqa: E402


def _points():
    return [
        SweepPoint(label=f"ε = {e}", x=e, values={"accuracy": a, "attack": t}, extra=e)
        for e, a, t in ((8.0, 0.7, 0.05), (2.0, 0.4, 0.02), (0.5, 0.2, 0.01))
    ]


def test_render_rings_the_selected_point_and_draws_the_detail():
    seen = []
    fig = render_sweep(_points(), selected=1, log_x=True, detail=lambda p, ax: seen.append(p.extra))
    assert seen == [2.0] and len(fig.axes) == 2
    assert fig.axes[0].get_title() == "ε = 2.0: accuracy 40.0%, attack 2.0%"
    assert fig.axes[0].get_xscale() == "log"


def test_explorer_moves_with_its_slider():
    explorer = sweep_explorer(_points(), description="DP ε", selected=2)
    assert explorer.point.label == "ε = 0.5" and "20.0%" in explorer.status.value
    explorer.slider.value = 0
    assert explorer.point.label == "ε = 8.0" and "70.0%" in explorer.status.value


def test_points_must_report_the_same_metrics():
    mixed = [*_points(), SweepPoint(label="x", x=1.0, values={"other": 0.5})]
    with pytest.raises(ValueError, match="same metrics"):
        render_sweep(mixed)
