"""One palette for every figure: device kinds, node kinds, link media, bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEVICE_COLORS = {
    "compute_tray": "#4C72B0",
    "switch_tray": "#DD8452",
    "power_shelf": "#8C8C8C",
    "network_switch": "#55A868",
    "cdu": "#64B5CD",
    "blank": "#F2F2F2",
    "other": "#B0B0B0",
}
NODE_COLORS = {"gpu": "#4C72B0", "switch": "#DD8452", "leaf": "#55A868", "spine": "#8172B3"}
MEDIUM_COLORS = {
    "copper": "#C44E52",
    "active_copper": "#E39C3A",
    "optical": "#8172B3",
    "pcb": "#937860",
}
BOUND_COLORS = {"memory": "#4C72B0", "compute": "#C44E52", "communication": "#DD8452"}
OK_COLOR, FAIL_COLOR, BIND_COLOR, NA_COLOR = "#55A868", "#C44E52", "#E39C3A", "#BBBBBB"
FORMATS = (".png", ".svg", ".pdf")


def figure(width: float, height: float) -> Any:
    """A headless figure (no pyplot) with topo's defaults."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def save(fig: Any, path: str | Path) -> None:
    """Write `fig` to `path`; the format follows the suffix (.png, .svg, .pdf)."""
    from topo.errors import TopoError

    p = Path(path)
    fmt = p.suffix.lower()
    if fmt not in FORMATS:
        msg = f"{p}: the figure format follows the file name: .png, .svg or .pdf, got {fmt!r}"
        raise TopoError(msg)
    import matplotlib

    # Reproducible output: no date in SVG/PDF metadata, fixed SVG element ids.
    metadata = {".svg": {"Date": None}, ".pdf": {"CreationDate": None, "ModDate": None}}
    with matplotlib.rc_context({"svg.hashsalt": "topo"}):
        fig.savefig(
            p,
            format=fmt[1:],
            dpi=150 if fmt == ".png" else None,
            metadata=metadata.get(fmt),
        )


def human(value: float, kind: str) -> str:
    """A quantity for a label."""
    from topo.units import format_quantity

    return format_quantity(value, kind, digits=3)
