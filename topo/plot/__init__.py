"""Figures: the only place matplotlib is imported, and only inside these functions.

Every ``plot_*`` function takes data that the library already computed (a layout, a
graph, a report dict) and returns ``(fig, ax)``; :func:`save` writes PNG, SVG or PDF by
the file name. Figures are :class:`matplotlib.figure.Figure` objects, never pyplot, so
they render headless without global state.
"""

from __future__ import annotations

from topo.plot._style import save
from topo.plot.design import plot_compare, plot_study, plot_validation
from topo.plot.economics import plot_cache, plot_lifecycle, plot_price, plot_serving
from topo.plot.elevation import plot_elevation
from topo.plot.limits import plot_limits
from topo.plot.links import plot_links
from topo.plot.roofline import plot_roofline
from topo.plot.topology import plot_topology
from topo.plot.tradeoff import plot_tradeoff

__all__ = [
    "plot_cache",
    "plot_compare",
    "plot_elevation",
    "plot_lifecycle",
    "plot_limits",
    "plot_links",
    "plot_price",
    "plot_roofline",
    "plot_serving",
    "plot_study",
    "plot_topology",
    "plot_tradeoff",
    "plot_validation",
    "save",
]
