"""labkit.widgets.cleanse: the Neural Cleanse L1-cost slider (module 05), driven from Python."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from labkit.checks.m05_cleanse import _fake_digits, _fake_reader  # noqa: E402
from labkit.widgets import cleanse_cost_explorer, cleanse_cost_sweep, render_cleanse_costs  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def points(one_thread):
    """A hand-built reader whose class 2 has a 4-pixel backdoor; class 3 is honest."""
    torch.manual_seed(0)
    model = _fake_reader(1, 2)
    x = _fake_digits(model, 1)
    return cleanse_cost_sweep(
        model, x, targets=[2, 3], costs=[0.001, 0.05, 1.0], steps=100, batch_size=10, progress=False
    )


def test_sweep_measures_each_cost_and_a_larger_cost_finds_smaller_masks(points):
    assert [p.label for p in points] == ["λ = 0.001", "λ = 0.05", "λ = 1"]
    masks = [p.values["class 3: mask"] for p in points]
    assert masks[0] > masks[1] > masks[2]
    middle = points[1].values
    assert middle["class 2: success"] == 1.0 and middle["class 3: success"] == 1.0
    assert middle["class 2: mask"] < middle["class 3: mask"] / 2, "the backdoor needs far fewer pixels"
    assert set(points[1].extra) == {2, 3} and points[1].extra[2].shape == (8, 8)


def test_slider_changes_what_the_explorer_shows(points):
    explorer = cleanse_cost_explorer(points, selected=1)
    shown = explorer.status.value
    assert shown.startswith("λ = 0.05:") and "class 2: success 100.0%" in shown
    explorer.slider.value = 2
    assert explorer.status.value != shown and explorer.status.value.startswith("λ = 1:")
    assert explorer.point is points[2]


def test_detail_panel_draws_the_recovered_masks(points):
    fig = render_cleanse_costs(points, selected=0)
    assert fig.axes[0].get_xscale() == "log"
    assert len(fig.axes) == 2 and "recovered masks" in fig.axes[1].get_title()
    assert fig.axes[1].images[0].get_array().shape == (8, 16)


def test_explorer_needs_a_cleanse_sweep(points):
    with pytest.raises(ValueError, match="points"):
        cleanse_cost_explorer([])
    with pytest.raises(TypeError, match="cleanse_cost_sweep"):
        cleanse_cost_explorer([*points[:1], "x"])
