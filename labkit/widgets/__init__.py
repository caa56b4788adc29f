"""Interactive controls for the notebooks: headless compute + render, ipywidgets on top.

One file per kind of control; the public names are re-exported here."""

from labkit.widgets.alerts import ThresholdPoint, render_threshold, threshold_curve, threshold_explorer
from labkit.widgets.explorer import EpsilonExplorer, ExplorerView, epsilon_explorer, explore, render
from labkit.widgets.patch_size import patch_size_explorer, patch_size_points, render_patch_sizes
from labkit.widgets.quiz import QuizQuestion, catalogue_quiz, grade, quiz
from labkit.widgets.rule_tuner import RuleView, rule_tuner, tune_rule
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

__all__ = [
    # module 06: the epsilon explorer
    "EpsilonExplorer",
    "ExplorerView",
    "epsilon_explorer",
    "explore",
    "render",
    # modules 04 and 11: a slider over a precomputed sweep
    "SweepExplorer",
    "SweepPoint",
    "render_sweep",
    "sweep_explorer",
    # module 01: the catalogue quiz
    "QuizQuestion",
    "catalogue_quiz",
    "grade",
    "quiz",
    # module 13: the detection threshold
    "ThresholdPoint",
    "render_threshold",
    "threshold_curve",
    "threshold_explorer",
    # module 15: the rule tuner
    "RuleView",
    "rule_tuner",
    "tune_rule",
    # module 07: the patch-size slider
    "patch_size_explorer",
    "patch_size_points",
    "render_patch_sizes",
]
