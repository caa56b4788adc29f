"""Interactive controls for the notebooks: headless compute + render, ipywidgets on top.

One file per kind of control; the public names are re-exported here."""

from labkit.widgets.explorer import EpsilonExplorer, ExplorerView, epsilon_explorer, explore, render
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

__all__ = ["EpsilonExplorer", "ExplorerView", "epsilon_explorer", "explore", "render"]

from labkit.widgets.quiz import QuizQuestion, catalogue_quiz, grade, quiz  # noqa: E402 - module 01

__all__ += ["QuizQuestion", "catalogue_quiz", "grade", "quiz"]
from labkit.widgets.alerts import ThresholdPoint, render_threshold, threshold_curve, threshold_explorer  # noqa: E402

__all__ += ["ThresholdPoint", "render_threshold", "threshold_curve", "threshold_explorer"]
from labkit.widgets.rule_tuner import RuleView, rule_tuner, tune_rule  # noqa: E402

__all__ += ["RuleView", "rule_tuner", "tune_rule"]
__all__ = [
    "EpsilonExplorer",
    "ExplorerView",
    "epsilon_explorer",
    "explore",
    "render",
    "SweepExplorer",
    "SweepPoint",
    "render_sweep",
    "sweep_explorer",
]
