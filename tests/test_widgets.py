"""labkit.widgets: the epsilon explorer's computation and rendering, headless."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from labkit.widgets import ExplorerView, epsilon_explorer, explore, render


@pytest.fixture(scope="module")
def digits_count():
    return 8  # the explorer's index then runs 0 to 7


def test_epsilon_zero_changes_nothing(model, digits):
    x, y = digits
    view = explore(model, x, y, index=2, attack="fgsm", epsilon=0.0)
    assert isinstance(view, ExplorerView)
    assert torch.equal(view.clean, x[2]) and torch.equal(view.adversarial, x[2])
    assert view.linf == 0.0 and view.l2 == 0.0
    assert view.adversarial_prediction == view.clean_prediction == int(y[2]) and not view.fooled


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_a_view_respects_the_budget_and_reports_what_the_model_reads(model, digits, attack):
    x, y = digits
    view = explore(model, x, y, index=1, attack=attack, epsilon=0.25)
    assert view.label == int(y[1]) and view.epsilon == 0.25
    assert view.adversarial.shape == x[1].shape
    assert 0.0 <= float(view.adversarial.min()) and float(view.adversarial.max()) <= 1.0
    assert view.linf <= 0.25 + 1e-5
    with torch.no_grad():
        probabilities = torch.softmax(model(view.adversarial[None]), dim=1)[0]
    assert view.adversarial_prediction == int(probabilities.argmax())
    assert view.adversarial_confidence == pytest.approx(float(probabilities.max()), abs=1e-5)
    assert view.fooled == (view.adversarial_prediction != view.label)
    assert view.fooled, "at epsilon 0.25 both attacks fool the standard cheque reader on this digit"
    assert "epsilon 0.25" in view.summary() and "FOOLED" in view.summary()


def test_pgd_views_are_reproducible(model, digits):
    x, y = digits
    first = explore(model, x, y, index=4, attack="pgd", epsilon=0.1)
    second = explore(model, x, y, index=4, attack="pgd", epsilon=0.1)
    assert torch.equal(first.adversarial, second.adversarial)


def test_bad_requests_are_explained(model, digits):
    x, y = digits
    with pytest.raises(IndexError, match="choose 0 to 7"):
        explore(model, x, y, index=8, attack="fgsm", epsilon=0.1)
    with pytest.raises(ValueError, match="offers fgsm, pgd"):
        explore(model, x, y, index=0, attack="fsgm", epsilon=0.1)
    with pytest.raises(ValueError, match="fixed L-inf epsilon"):
        explore(model, x, y, index=0, attack="cw", epsilon=0.1)
    with pytest.raises(ValueError, match=">= 0"):
        explore(model, x, y, index=0, attack="fgsm", epsilon=-0.1)
    with pytest.raises(ValueError, match="N x C x H x W"):
        explore(model, x[0], y, index=0, attack="fgsm", epsilon=0.1)
    with pytest.raises(ValueError, match="selection of fgsm, pgd"):
        epsilon_explorer(model, x, y, attacks=("boundary",))
    with pytest.raises(ValueError, match="max_epsilon"):
        epsilon_explorer(model, x, y, max_epsilon=0.0)


def test_render_draws_three_labelled_panels(model, digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = digits
    view = explore(model, x, y, index=0, attack="fgsm", epsilon=0.2)
    fig = render(view)
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert len(titles) == 3
        assert f"reads {view.clean_prediction}" in titles[0]
        assert "perturbation" in titles[1] and "0.20" in titles[1]
        assert f"reads {view.adversarial_prediction}" in titles[2]
    finally:
        plt.close(fig)


def test_explorer_widget_follows_its_controls(model, digits):
    x, y = digits
    explorer = epsilon_explorer(model, x, y, max_epsilon=0.3)
    assert explorer.epsilon.max == 0.3 and list(explorer.attack.options) == ["fgsm", "pgd"]
    assert explorer.view.epsilon == pytest.approx(0.1) and explorer.view.attack == "fgsm"
    explorer.epsilon.value = 0.0
    assert explorer.view.linf == 0.0
    explorer.index.value = 3
    explorer.attack.value = "pgd"
    explorer.epsilon.value = 0.2
    assert (explorer.view.index, explorer.view.attack, explorer.view.epsilon) == (3, "pgd", 0.2)
    assert explorer.status.value == explorer.view.summary()
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_importing_widgets_imports_no_ui_or_attack_library():
    code = (
        "import sys, labkit.widgets\n"
        "for name in ('ipywidgets', 'matplotlib.pyplot', 'foolbox'):\n"
        "    assert name not in sys.modules, name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
