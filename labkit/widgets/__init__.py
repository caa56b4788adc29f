"""Interactive controls for the notebooks: headless compute + render, ipywidgets on top.

One file per kind of control; the public names are re-exported here."""

from labkit.widgets.explorer import EpsilonExplorer, ExplorerView, epsilon_explorer, explore, render
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

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
