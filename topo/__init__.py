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
    topo.summarize(layout, G).hbm_bandwidth_bytes_per_s
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Names load when first used, so `import topo` (and the command line's start) costs only
# what a command needs. `topo.evaluate` and `topo.plan` are the one-call functions below;
# `topo.api.place` and `topo.api.catalogue` keep the names of modules (topo.place,
# topo.catalogue), so they are reached through topo.api.
_WHERE = {
    **dict.fromkeys(
        (
            "cache", "check", "collective", "compare", "evaluate", "layouts", "lifecycle",
            "limits", "memory", "plan", "price", "serve", "show", "sweep",
        ),
        "topo.api",
    ),
    "build_graph": "topo.build",
    "Accelerator": "topo.catalogue",
    "Link": "topo.catalogue",
    "load_catalogue": "topo.catalogue",
    "LayoutError": "topo.errors",
    "PlacementError": "topo.errors",
    "TopoError": "topo.errors",
    "Layout": "topo.layout",
    "bundled_layouts": "topo.layout",
    "load_layout": "topo.layout",
    "Evaluation": "topo.results",
    "Sweep": "topo.results",
    "Scenario": "topo.scenario",
    "summarize": "topo.stats",
    "format_quantity": "topo.units",
    "parse_quantity": "topo.units",
}  # fmt: skip

if TYPE_CHECKING:
    from topo.api import (
        cache,
        check,
        collective,
        compare,
        evaluate,
        layouts,
        lifecycle,
        limits,
        memory,
        plan,
        price,
        serve,
        show,
        sweep,
    )
    from topo.build import build_graph
    from topo.catalogue import Accelerator, Link, load_catalogue
    from topo.errors import LayoutError, PlacementError, TopoError
    from topo.layout import Layout, bundled_layouts, load_layout
    from topo.results import Evaluation, Sweep
    from topo.scenario import Scenario
    from topo.stats import summarize
    from topo.units import format_quantity, parse_quantity


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    import importlib

    where = _WHERE.get(name)
    if where is None:
        msg = f"module 'topo' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
    "plan",
    "price",
    "serve",
    "show",
    "summarize",
    "sweep",
]
