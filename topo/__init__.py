"""topo: model GPU clusters for LLM serving and training, from rack layout to tokens/s.

Describe a rack layout in YAML, build it as a NetworkX graph, and ask what it can do
and whether it can be built. The public API::

    from topo import load_layout, build_graph, summarize
    layout = load_layout("gb200-nvl72")
    G = build_graph(layout)
    summarize(layout, G)["hbm_bandwidth_bytes_per_s"]
"""

from __future__ import annotations

__version__ = "0.1.0"

from topo.build import build_graph  # noqa: E402
from topo.catalogue import Accelerator, Link, load_catalogue  # noqa: E402
from topo.errors import LayoutError, PlacementError, TopoError  # noqa: E402
from topo.layout import Layout, bundled_layouts, load_layout  # noqa: E402
from topo.stats import summarize  # noqa: E402
from topo.units import format_quantity, parse_quantity  # noqa: E402

__all__ = [
    "Accelerator",
    "Layout",
    "LayoutError",
    "Link",
    "PlacementError",
    "TopoError",
    "__version__",
    "build_graph",
    "bundled_layouts",
    "format_quantity",
    "load_catalogue",
    "load_layout",
    "parse_quantity",
    "summarize",
]
