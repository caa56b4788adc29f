"""Interactive controls for the notebooks: headless compute + render, ipywidgets on top.

One file per kind of control; the public names are re-exported here."""

from labkit.widgets.alerts import ThresholdPoint, render_threshold, threshold_curve, threshold_explorer
from labkit.widgets.cleanse import cleanse_cost_explorer, cleanse_cost_sweep, render_cleanse_costs
from labkit.widgets.element_view import (
    ElementExplorer,
    ElementView,
    element_explorer,
    element_view,
    render_element,
)
from labkit.widgets.explorer import EpsilonExplorer, ExplorerView, epsilon_explorer, explore, render
from labkit.widgets.patch_size import patch_size_explorer, patch_size_points, render_patch_sizes
from labkit.widgets.query_budget import (
    QueryBudgetExplorer,
    budget_points,
    query_budget_explorer,
    render_query_budget,
)
from labkit.widgets.quiz import QuizQuestion, catalogue_quiz, grade, quiz
from labkit.widgets.review_queue import (
    QueuePoint,
    ReviewQueueExplorer,
    render_review_queue,
    review_curve,
    review_queue_explorer,
)
from labkit.widgets.rule_tuner import RuleView, rule_tuner, tune_rule
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

__all__ = [
    # module 00: the review-queue threshold
    "QueuePoint",
    "ReviewQueueExplorer",
    "render_review_queue",
    "review_curve",
    "review_queue_explorer",
    # module 01: the catalogue quiz
    "QuizQuestion",
    "catalogue_quiz",
    "grade",
    "quiz",
    # module 02: a threat model, element by element
    "ElementExplorer",
    "ElementView",
    "element_explorer",
    "element_view",
    "render_element",
    # module 05: Neural Cleanse's L1 cost
    "cleanse_cost_explorer",
    "cleanse_cost_sweep",
    "render_cleanse_costs",
    # module 06: the epsilon explorer
    "EpsilonExplorer",
    "ExplorerView",
    "epsilon_explorer",
    "explore",
    "render",
    # module 07: the patch-size slider
    "patch_size_explorer",
    "patch_size_points",
    "render_patch_sizes",
    # module 10: the query budget
    "QueryBudgetExplorer",
    "budget_points",
    "query_budget_explorer",
    "render_query_budget",
    # modules 04 and 11: a slider over a precomputed sweep
    "SweepExplorer",
    "SweepPoint",
    "render_sweep",
    "sweep_explorer",
    # module 13: the detection threshold
    "ThresholdPoint",
    "render_threshold",
    "threshold_curve",
    "threshold_explorer",
    # module 15: the rule tuner
    "RuleView",
    "rule_tuner",
    "tune_rule",
]
