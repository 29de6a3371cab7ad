"""One palette for every figure: device kinds, node kinds, link media, bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# One palette, colour-blind safe (Okabe-Ito and Paul Tol's sets): each colour means one
# thing in every figure, and status is also drawn by shape or hatching, never colour alone.
#
# Hardware (elevation, topology, links): GPUs blue-grey, switches tan, network teal.
DEVICE_COLORS = {
    "compute_tray": "#4C72B0",
    "switch_tray": "#C9A66B",
    "power_shelf": "#8C8C8C",
    "network_switch": "#44AA99",
    "cdu": "#88CCEE",
    "blank": "#F2F2F2",
    "other": "#B0B0B0",
}
NODE_COLORS = {"gpu": "#4C72B0", "switch": "#C9A66B", "leaf": "#44AA99", "spine": "#6A5F9E"}
MEDIUM_COLORS = {
    "copper": "#A6611A",
    "active_copper": "#DFC27D",
    "optical": "#5E3C99",
    "pcb": "#8C6D5A",
}
# Where a decode step's time goes (roofline, breakdown, tradeoff): one colour per term of
# topo.perf.decode; a bound takes its term's colour (memory: weights').
TERM_COLORS = {
    "weights": "#0072B2",
    "kv": "#56B4E9",
    "compute": "#CC79A7",
    "communication": "#882255",
    "overhead": "#DDCC77",
}
TERM_LABELS = {
    "weights": "weights (HBM)",
    "kv": "KV cache (HBM)",
    "compute": "compute",
    "communication": "communication",
    "overhead": "kernel overhead and fixed costs",
}
BOUND_COLORS = {
    "memory": TERM_COLORS["weights"],
    "compute": TERM_COLORS["compute"],
    "communication": TERM_COLORS["communication"],
    "overhead": TERM_COLORS["overhead"],
}
BOUND_MARKERS = {"memory": "o", "compute": "s", "communication": "^", "overhead": "D"}
# Status (limits, checks, designs): colour and shape or hatching together.
OK_COLOR, FAIL_COLOR, BIND_COLOR, NA_COLOR = "#009E73", "#D55E00", "#E69F00", "#BBBBBB"
OK_MARKER, FAIL_MARKER = "o", "X"
FAIL_HATCH, BIND_HATCH, NA_HATCH, OPEN_HATCH = "xx", "..", "//", "\\\\"
# Series (one curve per layout, model, policy or duration): colours no status or term
# uses, each with its own marker.
SERIES_COLORS = ("#332288", "#999933", "#661100", "#6699CC", "#AA4499", "#000000")
SERIES_MARKERS = ("o", "s", "^", "v", "P", "*")
REF_COLOR = "#333333"  # reference lines: roofs, floors, thresholds, "this layout"
FORMATS = (".png", ".svg", ".pdf", ".html")


def figure(width: float, height: float) -> Any:
    """A headless figure (no pyplot) with topo's defaults."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def save(fig: Any, path: str | Path) -> None:
    """Write `fig` to `path`; the format follows the suffix (.png, .svg, .pdf, .html).

    SVG carries each hover text (:func:`topo.plot._vector.hover`) as an SVG ``<title>``;
    HTML is one self-contained page around that SVG. SVG, PDF and HTML are byte-reproducible.
    """
    from topo.errors import TopoError

    p = Path(path)
    fmt = p.suffix.lower()
    if fmt not in FORMATS:
        msg = (
            f"{p}: the figure format follows the file name: .png, .svg, .pdf or .html, got {fmt!r}"
        )
        raise TopoError(msg)
    if fmt in (".svg", ".html"):
        from topo.plot._vector import html_page, svg_with_titles

        text = svg_with_titles(fig) if fmt == ".svg" else html_page(fig)
        p.write_text(text, encoding="utf-8", newline="\n")
        return
    import matplotlib

    # Reproducible output: no date in PDF metadata.
    metadata = {".pdf": {"CreationDate": None, "ModDate": None}}
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


def scenario_subtitle(
    plan: Any,
    workload: Any,
    *,
    batch: int | None = None,
    slo_tpot_ms: float | None = None,
) -> str:
    """The scenario under a performance figure's title: plan, batch, context, dtypes, price.

    E.g. ``"tp 8 x ep 1 x pp 1 x dp 1, batch 64, 1,024 in / 128 out tokens, weights fp8,
    KV bf16, $2.00 per GPU-hour, SLO 50 ms per token"``.
    """
    parts = [f"tp {plan.tp} x ep {plan.ep} x pp {plan.pp} x dp {plan.dp}"]
    if batch is not None:
        parts.append(f"batch {batch:,}")
    parts.append(f"{workload.input_tokens:,} in / {workload.output_tokens:,} out tokens")
    if workload.context is not None:
        parts.append(f"context {workload.context:,.0f}")
    parts.append(f"weights {workload.weights}, KV {workload.kv}")
    parts.append(f"${workload.gpu_hour_usd:.2f} per GPU-hour")
    if slo_tpot_ms is not None:
        parts.append(f"SLO {slo_tpot_ms:g} ms per token")
    return ", ".join(parts)


def log_axis(ax: Any, which: str = "x", unit: str = "") -> None:
    """A log axis labelled at 1, 2 and 5 of each decade (``unit`` appended, e.g. " ms").

    Numbers read as people write them: 1, 2, 5, 10, 20, 50, 100, 1k, 2k, 1M.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{short_number(v)}{unit}"))


def short_number(v: float) -> str:
    """1, 2.5, 20, 500, 1k, 20k, 1M, 2G: a tick label without exponents."""
    if v == 0:
        return "0"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"
