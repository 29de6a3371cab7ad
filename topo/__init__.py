"""topo: model GPU clusters for LLM serving and training, from rack layout to tokens/s.

Describe a rack layout in YAML, build it as a NetworkX graph, and ask what it can do
and whether it can be built. One call per question, as the ``topo`` commands ask it::

    import topo
    r = topo.evaluate("gb200-nvl72", "deepseek-v3", batch=64, weights="fp8")
    r.decode.time_per_output_token_s, r.decode.bound, r.floor.per_token_s
    topo.check("gb200-nvl72").binding

Many questions of one set-up: ``s = topo.Scenario("dgx-h100", "llama-3-70b")`` then
``s.evaluate(batch=b)``. The layout graph itself::

    layout = topo.load_layout("gb200-nvl72")
    G = topo.build_graph(layout)
    topo.summarize(layout, G)["hbm_bandwidth_bytes_per_s"]
"""

from __future__ import annotations

__version__ = "0.1.0"

# The one-call functions last: `topo.evaluate` and `topo.plan` are these, not modules.
from topo.api import (  # noqa: E402
    cache,
    catalogue,
    check,
    collective,
    compare,
    evaluate,
    layouts,
    lifecycle,
    limits,
    memory,
    place,
    plan,
    price,
    serve,
    show,
    sweep,
)
from topo.build import build_graph  # noqa: E402
from topo.catalogue import Accelerator, Link, load_catalogue  # noqa: E402
from topo.errors import LayoutError, PlacementError, TopoError  # noqa: E402
from topo.layout import Layout, bundled_layouts, load_layout  # noqa: E402
from topo.results import Evaluation, Sweep  # noqa: E402
from topo.scenario import Scenario  # noqa: E402
from topo.stats import summarize  # noqa: E402
from topo.units import format_quantity, parse_quantity  # noqa: E402

__all__ = [
    "Accelerator",
    "Evaluation",
    "Scenario",
    "Sweep",
    "Layout",
    "LayoutError",
    "Link",
    "PlacementError",
    "TopoError",
    "__version__",
    "build_graph",
    "bundled_layouts",
    "cache",
    "catalogue",
    "check",
    "collective",
    "compare",
    "evaluate",
    "format_quantity",
    "layouts",
    "lifecycle",
    "limits",
    "load_catalogue",
    "load_layout",
    "memory",
    "parse_quantity",
    "place",
    "plan",
    "price",
    "serve",
    "show",
    "summarize",
    "sweep",
]
