"""Topology drawings people can read: bundled links, rails coloured, racks grouped.

Leaves are labelled, a single node is drawn as a node, and every link bundle has a tooltip.

Three drawings, by what the layout is:

- one node (every GPU on one tray): its GPUs, the scale-up switch chips or the full mesh
  above them, and below them the host side (CPUs, PCIe, one NIC per GPU) and the NICs'
  ports to the scale-out network;
- a torus (up to 4,096 chips): one panel per z slice;
- anything else: GPUs in at most 40 boxes (trays, nodes or domains) framed by rack, the
  scale-up switch trays or planes below, leaves by rail and spines above, each pair of
  boxes joined by one bundle labelled ``count x rate`` (:func:`topo.plot.positions.bundled`).

Every link bundle and box carries a hover text (:func:`topo.plot._vector.hover`): the SVG
and HTML output show its endpoints, ``count x bandwidth`` per direction and its medium.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import networkx as nx

from topo.layout import Layout
from topo.plot._style import MEDIUM_COLORS, NODE_COLORS, figure, human
from topo.plot._vector import hover
from topo.plot.positions import (
    BOX_H,
    ROW_Y,
    Box,
    Bundle,
    Bundled,
    bundled,
    summary_text,
    torus_slices,
)

__all__ = ["RAIL_COLORS", "plot_topology"]

# Rails (Paul Tol's bright and vibrant sets): apart from the media's browns and purple.
RAIL_COLORS = (
    "#009988",
    "#EE3377",
    "#33BBEE",
    "#CCBB44",
    "#228833",
    "#CC3311",
    "#0077BB",
    "#AA4499",
)
_BOX_EDGE = "#333333"
_SWITCH_FACE = NODE_COLORS["switch"]


def _rail_color(rail: int) -> str:
    return RAIL_COLORS[rail % len(RAIL_COLORS)] if rail >= 0 else "#777777"


def _medium_color(medium: str) -> str:
    return MEDIUM_COLORS.get(medium, "#777777")


def _width(bw: float, lo: float, hi: float) -> float:
    """Line width on a log scale of bandwidth: 0.6 to 4 points."""
    if hi <= lo:
        return 1.5
    t = (math.log10(bw) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return 0.6 + 3.4 * max(0.0, min(1.0, t))


def _rate(bw: float) -> str:
    return human(bw, "bandwidth")


def _count_rate(links: int, bandwidth: float) -> str:
    """``"8 x 50 GB/s"``: links times the rate of one link, per direction."""
    return f"{links:,} x {_rate(bandwidth / links)}"


def _ranks(G: nx.Graph, gpus: tuple[str, ...] | list[str]) -> str:
    idx = sorted(int(G.nodes[g]["index"]) for g in gpus)
    if len(idx) == 1:
        return f"GPU {idx[0]}"
    if idx[-1] - idx[0] + 1 == len(idx):
        return f"GPUs {idx[0]}-{idx[-1]}"
    return f"{len(idx):,} GPUs"


def _line(
    ax: Any,
    xs: list[float],
    ys: list[float],
    color: str,
    width: float,
    tip: str,
    *,
    alpha: float = 0.75,
    zorder: float = 1.0,
    style: str = "-",
) -> Any:
    (ln,) = ax.plot(
        xs,
        ys,
        color=color,
        linewidth=width,
        alpha=alpha,
        zorder=zorder,
        linestyle=style,
        solid_capstyle="butt",
    )
    hover(ln, tip)
    return ln


def _box(
    ax: Any,
    x: float,
    y: float,
    w: float,
    h: float,
    face: str,
    tip: str,
    *,
    edge: str = _BOX_EDGE,
    lw: float = 1.0,
    zorder: float = 3.0,
    alpha: float = 1.0,
) -> Any:
    from matplotlib.patches import FancyBboxPatch

    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0,rounding_size=0.04",
        facecolor=face,
        edgecolor=edge,
        linewidth=lw,
        zorder=zorder,
        alpha=alpha,
    )
    ax.add_patch(patch)
    hover(patch, tip)
    return patch


def _text(ax: Any, x: float, y: float, s: str, **kw: Any) -> Any:
    kw.setdefault("fontsize", 9)
    t = ax.text(x, y, s, **kw)
    t.set_in_layout(False)
    return t


def _place_labels(
    fig: Any, ax: Any, requests: list[tuple[str, list[tuple[float, float, str]]]]
) -> None:
    """Each label at the first of its candidate points where it overlaps no other text.

    A candidate is (x, y, colour). A label that fits nowhere is left out (its bundles
    still carry it on hover).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    taken = [
        t.get_window_extent(renderer).expanded(1.05, 1.15)
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    for text, candidates in requests:
        for x, y, color in candidates:
            t = _text(
                ax,
                x,
                y,
                text,
                ha="center",
                va="center",
                color=color,
                zorder=6,
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "facecolor": "white",
                    "edgecolor": color,
                    "linewidth": 0.6,
                    "alpha": 0.95,
                },
            )
            bb = t.get_window_extent(renderer).expanded(1.1, 1.3)
            if any(bb.overlaps(o) for o in taken):
                t.remove()
                continue
            taken.append(bb)
            break


def plot_topology(
    G: nx.Graph, summary: dict[str, Any], *, layout: Layout | None = None
) -> tuple[Any, Any]:
    """Draw a layout's graph: one node as a node, a torus by z slice, else bundled boxes.

    Parameters
    ----------
    G
        :func:`topo.build.build_graph` of the layout.
    summary
        ``summarize(layout, G).to_dict()``.
    layout
        The layout, for a single node's CPUs and NICs; None reads it from
        ``summary["source"]`` when that file is there (else the CPUs are left out).
    """
    n = summary["gpus"]
    if G.graph.get("scale_up_topology") == "torus" and n <= 4096:
        return _torus(G, summary)
    trays = {(a["rack"], a["tray"]) for _, a in G.nodes(data=True) if a["kind"] == "gpu"}
    if len(trays) == 1:
        return _node(G, summary, layout or _layout_of(summary))
    return _bundled(G, summary)


def _layout_of(summary: dict[str, Any]) -> Layout | None:
    from topo.errors import TopoError
    from topo.layout import load_layout

    src = summary.get("source")
    if not src or not Path(str(src)).is_file():
        return None
    try:
        lay = load_layout(str(src))
    except TopoError:
        return None
    return lay if lay.name == summary.get("name") else None


# --- Bundled boxes: trays, nodes or domains; switch trays; leaves; spines ---------------


def _gpus_a_box(units: list[Box]) -> str:
    """GPUs in each box of the GPU row: "3,280", or "3,152-3,280" where boxes differ."""
    sizes = [len(u.members) for u in units]
    lo, hi = min(sizes), max(sizes)
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def _unit_row(G: nx.Graph, B: Bundled, n: str) -> str:
    """The GPU row's label, at most 14 characters a line (`n`: GPUs a box)."""
    if B.unit == "tray":
        return f"compute trays\n({n} GPUs each)"
    if B.unit == "node":
        return f"nodes, one\ndomain each\n({n} GPUs)"
    if B.unit == "domain" and _racks_are_domains(G, B):
        return f"racks, one\ndomain each\n({n} GPUs)"
    if B.unit == "domain":
        return f"domains\n({n} GPUs each)"
    what = "tray groups" if B.unit == "trays" else "domain groups"
    return f"{what}\n({n} GPUs each)"


def _racks_are_domains(G: nx.Graph, B: Bundled) -> bool:
    return all(
        u.rack >= 0 and u.label == f"rack {u.rack}" for u in B.boxes.values() if u.kind == "unit"
    )


def _bundled(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    B = bundled(G)
    fig = figure(13, 7.5)
    ax = fig.subplots()
    units = [b for b in B.boxes.values() if b.kind == "unit"]
    xmin, xmax = units[0].x, units[-1].x
    width = xmax - xmin + 1.2
    left = xmin - 0.6 - 0.16 * width  # room for the rows' labels
    ax.set_xlim(left, xmax + 0.6)
    has = {k for k in ("switch", "leaf", "spine") if any(b.kind == k for b in B.boxes.values())}
    bottom = ROW_Y["switch"] - 0.55 if "switch" in has else ROW_Y["unit"] - 0.75
    top = ROW_Y["spine" if "spine" in has else "leaf"] + 0.45
    ax.set_ylim(bottom, top)
    # Points per unit of x and y, about: the axes are some 9.4 x 6.3 inches.
    scale = (9.4 * 72 / (xmax + 0.6 - left), 6.3 * 72 / (top - bottom))
    bws = [b.bandwidth for b in B.bundles] or [1.0]
    lo, hi = min(bws), max(bws)
    _rack_frames(ax, G, B)
    _unit_boxes(ax, G, B, scale)
    _switch_boxes(ax, G, B)
    _leaf_marks(ax, G, B)
    _spine_marks(ax, G, B)
    requests = _bundle_lines(ax, G, B, lo, hi)
    rows = [("unit", _unit_row(G, B, _gpus_a_box(units)))]
    if "switch" in has:
        planes = any(b.key.startswith("sp") for b in B.boxes.values() if b.kind == "switch")
        rows.append(("switch", "switch planes" if planes else "switch trays"))
    if "leaf" in has:
        rows.append(("leaf", "leaves\n(by rail)"))
    if "spine" in has:
        rows.append(("spine", "spines"))
    for row, label in rows:
        _text(ax, left, ROW_Y[row], label, ha="left", va="center")
    ax.set_axis_off()
    _bundled_legend(ax, G, B, lo, hi)
    ax.set_title(_bundled_title(G, summary, B), fontsize=12, weight="bold")
    fig.text(0.01, 0.01, summary_text(summary), fontsize=9)
    fig.text(
        0.99,
        0.01,
        "one line per bundle of links between two boxes, labelled count x rate per direction;"
        "\nhover over a line or box in the SVG or HTML output for its details",
        fontsize=9,
        ha="right",
    )
    _place_labels(fig, ax, requests)
    return fig, ax


def _bundled_title(G: nx.Graph, summary: dict[str, Any], B: Bundled) -> str:
    n, name = summary["gpus"], G.graph["layout"]
    units = sum(1 for b in B.boxes.values() if b.kind == "unit")
    if B.unit in ("node", "domain"):
        return (
            f"{name}: {n:,} GPUs drawn by scale-up domain, {units} boxes (one per {B.unit}); "
            "links bundled"
        )
    if B.unit == "domains":
        units_ = [u for u in B.boxes.values() if u.kind == "unit"]
        each = [len({G.nodes[g]["domain"] for g in u.members}) for u in units_]
        lo, hi = min(each), max(each)
        per = f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"
        # Two lines: the name, a 6-digit GPU count and the box count fill one too wide.
        return (
            f"{name}: {n:,} GPUs drawn by scale-up domain,\n{units} boxes of {per} domains; "
            "links bundled"
        )
    switch = "switch plane" if any(k.startswith("sp") for k in B.boxes) else "switch tray"
    what = "compute tray" if B.unit == "tray" else "group of trays"
    return (
        f"{name}: {n:,} GPUs in {units} boxes (one per {what}); links bundled by box and {switch}"
    )


def _unit_name(G: nx.Graph, B: Bundled, u: Box) -> str:
    where = f" of rack {u.rack}" if u.rack >= 0 and B.unit in ("tray", "trays", "node") else ""
    what = {"tray": "tray", "node": "node", "trays": "trays", "domain": "", "domains": ""}[B.unit]
    label = u.label if not what or u.label.startswith(what) else f"{what} {u.label}"
    return f"{label}{where} ({_ranks(G, u.members)})"


def _box_name(G: nx.Graph, B: Bundled, b: Box) -> str:
    if b.kind == "unit":
        return _unit_name(G, B, b)
    if b.kind == "rack":
        return f"rack {b.rack} ({_ranks(G, [g for g in b.members if G.nodes[g]['kind'] == 'gpu'])})"
    if b.kind == "switch":
        chips = ", ".join(b.members) if len(b.members) <= 4 else f"{len(b.members)} chips"
        what = "switch plane" if b.key.startswith("sp") else "switch tray"
        where = f" of rack {b.rack}" if b.rack >= 0 else ""
        return f"{what} {b.label}{where} ({chips})"
    if b.kind == "leaf":
        if len(b.members) > 1:
            return f"rail {b.rail}'s {len(b.members)} leaves"
        return f"leaf {b.members[0]} (rail {b.rail})"
    return b.label if b.key == "spines" else f"spine {b.members[0]}"


def _rack_frames(ax: Any, G: nx.Graph, B: Bundled) -> None:
    from matplotlib.patches import Rectangle

    switches = [b for b in B.boxes.values() if b.kind == "switch"]
    for r in (b for b in B.boxes.values() if b.kind == "rack"):
        low = ROW_Y["unit"] - BOX_H["unit"] / 2 - 0.12
        if any(s.rack == r.rack for s in switches):
            low = ROW_Y["switch"] - BOX_H["switch"] / 2 - 0.1
        high = ROW_Y["unit"] + BOX_H["unit"] / 2 + 0.1
        frame = Rectangle(
            (r.x - r.width / 2, low),
            r.width,
            high - low,
            facecolor="#F4F4F4",
            edgecolor="#999999",
            linewidth=1.0,
            zorder=0,
        )
        ax.add_patch(frame)
        gpus = [g for g in r.members if G.nodes[g]["kind"] == "gpu"]
        doms = sorted({int(G.nodes[g]["domain"]) for g in gpus})
        tip = f"rack {r.rack}: {len(gpus):,} GPUs ({_ranks(G, gpus)}), " + (
            f"scale-up domain {doms[0]}" if len(doms) == 1 else f"{len(doms)} scale-up domains"
        )
        hover(frame, tip)
        label = f"rack {r.rack}"
        if len(doms) == 1 and B.unit == "tray":
            label += f": domain {doms[0]} ({len(gpus)} GPUs)"
        _text(ax, r.x, low - 0.05, label, ha="center", va="top", color="#444444")


def _unit_boxes(ax: Any, G: nx.Graph, B: Bundled, scale: tuple[float, float]) -> None:
    """Unit boxes (edge: the scale-up medium inside), their GPUs or count, a label below."""
    units = [b for b in B.boxes.values() if b.kind == "unit"]
    longest = max(len(_under(G, B, u)) for u in units)
    pitch = (units[1].x - units[0].x if len(units) > 1 else 1.0) * scale[0]
    every = max(1, math.ceil(longest * 9 * 0.62 / max(pitch * 0.95, 1e-9)))
    y, h = ROW_Y["unit"], BOX_H["unit"]
    squares: list[Any] = []
    for i, u in enumerate(units):
        ins = B.inside.get(u.key)
        edge = _medium_color(ins.medium) if ins else _BOX_EDGE
        tip = _unit_name(G, B, u)
        n = len(u.members)
        if ins:
            tip += (
                f"; scale-up inside: {ins.links:,} links"
                f" ({ins.links // max(n, 1)} per GPU) x {_rate(ins.bandwidth / ins.links)}"
                f" per direction, {ins.medium} ({ins.link})"
                + (f", {ins.switches} switch chips" if ins.switches else "")
            )
        _box(ax, u.x, y, u.width, h, "#DCE6F2", tip, edge=edge, lw=2.0 if ins else 1.0)
        w_pt, h_pt = u.width * scale[0], h * scale[1]
        if B.unit in ("tray", "node") and n <= 16:
            squares += _gpu_grid(u.x, y, n, (u.width, h), (w_pt, h_pt))
        elif w_pt > 24:
            _text(ax, u.x, y, f"{n:,}\nGPUs", ha="center", va="center", zorder=5)
        if i % every == 0:
            _text(ax, u.x, y - h / 2 - 0.04, _under(G, B, u), ha="center", va="top")
    if squares:
        from matplotlib.collections import PatchCollection

        ax.add_collection(
            PatchCollection(squares, facecolor=NODE_COLORS["gpu"], edgecolor="none", zorder=4)
        )


def _gpu_grid(
    x: float, y: float, n: int, size: tuple[float, float], size_pt: tuple[float, float]
) -> list[Any]:
    """`n` GPU squares in the grid that makes them largest inside a box of `size`."""
    from matplotlib.patches import Rectangle

    best = max(
        range(1, n + 1),
        key=lambda c: min(size_pt[0] * 0.8 / c, size_pt[1] * 0.8 / math.ceil(n / c)),
    )
    cols, rows = best, math.ceil(n / best)
    side_pt = min(size_pt[0] * 0.8 / cols, size_pt[1] * 0.8 / rows) * 0.8
    sx, sy = side_pt * size[0] / size_pt[0], side_pt * size[1] / size_pt[1]
    cw, ch = size[0] * 0.8 / cols, size[1] * 0.8 / rows
    out = []
    for k in range(n):
        r, c = divmod(k, cols)
        gx = x - size[0] * 0.4 + cw * (c + 0.5)
        gy = y + size[1] * 0.4 - ch * (r + 0.5)
        out.append(Rectangle((gx - sx / 2, gy - sy / 2), sx, sy))
    return out


def _under(G: nx.Graph, B: Bundled, u: Box) -> str:
    if B.unit == "tray":
        return u.label.removeprefix("tray ")
    if B.unit == "node":
        return u.label.removeprefix("node ")
    if B.unit == "domain" and _racks_are_domains(G, B):
        return u.label.removeprefix("rack ")
    if B.unit == "domain":
        return u.label
    return u.key.removeprefix("u")


def _switch_boxes(ax: Any, G: nx.Graph, B: Bundled) -> None:
    links: dict[str, int] = {}
    gpus: dict[str, int] = {}
    for b in B.bundles:
        if b.tier == "scale_up":
            links[b.b] = links.get(b.b, 0) + b.links
            gpus[b.b] = gpus.get(b.b, 0) + len(B.boxes[b.a].members)
    for s in (b for b in B.boxes.values() if b.kind == "switch"):
        tip = f"{_box_name(G, B, s)}: {links.get(s.key, 0):,} links to {gpus.get(s.key, 0):,} GPUs"
        _box(ax, s.x, s.y, s.width, BOX_H["switch"], _SWITCH_FACE, tip)
        _text(ax, s.x, s.y, s.label, ha="center", va="center", zorder=5)


def _leaf_marks(ax: Any, G: nx.Graph, B: Bundled) -> None:
    down: dict[str, int] = {}
    up: dict[str, int] = {}
    for b in B.bundles:
        if b.tier == "rail":
            down[b.b] = down.get(b.b, 0) + b.links
        elif b.tier == "uplink":
            up[b.a] = up.get(b.a, 0) + b.links
    leaves = [b for b in B.boxes.values() if b.kind == "leaf"]
    by_rail: dict[int, list[Box]] = {}
    for lf in leaves:
        by_rail.setdefault(lf.rail, []).append(lf)
        (m,) = ax.plot(
            [lf.x],
            [lf.y],
            marker="s",
            markersize=9,
            color=_rail_color(lf.rail),
            markeredgecolor="white",
            linestyle="",
            zorder=4,
        )
        hover(
            m,
            f"{_box_name(G, B, lf)}: {down.get(lf.key, 0):,} GPU links down, "
            f"{up.get(lf.key, 0):,} uplinks",
        )
    for rail, group in by_rail.items():
        k = sum(len(lf.members) for lf in group)
        x = (group[0].x + group[-1].x) / 2
        # On two lines past 4 rails of several leaves each: 8 labels side by side then fit.
        many = f"\n{k:,} leaves" if len(by_rail) > 4 else f" ({k:,} leaves)"
        label = f"rail {rail}" + (many if k > 1 else " leaf")
        _text(
            ax,
            x,
            group[0].y + 0.13,
            label,
            ha="center",
            va="bottom",
            color=_rail_color(rail),
            zorder=5,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )


def _spine_marks(ax: Any, G: nx.Graph, B: Bundled) -> None:
    spines = [b for b in B.boxes.values() if b.kind == "spine"]
    up = sum(b.links for b in B.bundles if b.tier == "uplink")
    if B.spine_bar and spines:
        s = spines[0]
        tip = f"{s.label}: {up:,} uplinks from the leaves in all"
        _box(ax, s.x, s.y, s.width, 0.28, "#E4DEEF", tip, edge=NODE_COLORS["spine"], lw=1.5)
        _text(
            ax,
            s.x,
            s.y,
            f"{s.label}, every leaf linked to each",
            ha="center",
            va="center",
            zorder=5,
        )
        return
    label_each = len(spines) <= 12
    for s in spines:
        mine = sum(b.links for b in B.bundles if b.b == s.key)
        (m,) = ax.plot(
            [s.x],
            [s.y],
            marker="o",
            markersize=10,
            color=NODE_COLORS["spine"],
            markeredgecolor="white",
            linestyle="",
            zorder=4,
        )
        hover(m, f"{_box_name(G, B, s)}: {mine:,} uplinks from the leaves")
        if label_each:
            name = s.members[0].rsplit("/", 1)[-1].replace("spine", "spine ")
            _text(ax, s.x, s.y + 0.14, name, ha="center", va="bottom")


def _ends(B: Bundled, b: Bundle, rails: int) -> tuple[tuple[float, float], tuple[float, float]]:
    A, Z = B.boxes[b.a], B.boxes[b.b]
    top_unit = ROW_Y["unit"] + BOX_H["unit"] / 2
    if b.tier == "scale_up":
        return (A.x, ROW_Y["unit"] - BOX_H["unit"] / 2), (Z.x, Z.y + BOX_H["switch"] / 2)
    if b.tier == "rail":
        off = ((b.rail % rails) + 0.5) / rails - 0.5
        y0 = top_unit + (0.1 if A.kind == "rack" else 0.0)
        return (A.x + off * A.width * 0.8, y0), (Z.x, Z.y)
    if b.tier == "uplink":
        if Z.key == "spines":
            return (A.x, A.y), (A.x, Z.y - 0.14)
        return (A.x, A.y), (Z.x, Z.y)
    return (A.x, ROW_Y["unit"] - BOX_H["unit"] / 2), (Z.x, ROW_Y["unit"] - BOX_H["unit"] / 2)


_FAN = 60  # a tier with more bundles than this is a dense fan, drawn thin


def _bundle_width(b: Bundle, lo: float, hi: float, in_tier: int) -> float:
    """Width by bandwidth; a dense fan's lines at a third of it, so that they stay apart."""
    w = _width(b.bandwidth, lo, hi)
    if in_tier > _FAN:
        return max(0.5, w / 3)
    return max(w, 1.0) if b.tier == "rail" else w


def _bundle_color(b: Bundle) -> str:
    return _rail_color(b.rail) if b.tier == "rail" else _medium_color(b.medium)


def _bundle_lines(
    ax: Any, G: nx.Graph, B: Bundled, lo: float, hi: float
) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """Draw every bundle with its hover text; the count x rate labels to place, by class."""
    rails = max([b.rail + 1 for b in B.bundles if b.tier == "rail"] or [1])
    per_tier: dict[str, int] = {}
    for b in B.bundles:
        per_tier[b.tier] = per_tier.get(b.tier, 0) + 1
    classes: dict[tuple[str, int, float], list[tuple[float, float, str]]] = {}
    for b in B.bundles:
        (x0, y0), (x1, y1) = _ends(B, b, rails)
        color = _bundle_color(b)
        tip = (
            f"{_box_name(G, B, B.boxes[b.a])} ↔ {_box_name(G, B, B.boxes[b.b])}: "
            f"{_count_rate(b.links, b.bandwidth)} = {_rate(b.bandwidth)} per direction, "
            f"{b.medium.replace('_', ' ')} ({b.link})"
        )
        if b.tier == "mesh":
            _arc(ax, x0, x1, y0, -1.0, color, _width(b.bandwidth, lo, hi), tip)
            mid = ((x0 + x1) / 2, y0 - 0.3)
        else:
            _line(
                ax,
                [x0, x1],
                [y0, y1],
                color,
                _bundle_width(b, lo, hi, per_tier[b.tier]),
                tip,
                alpha=0.5 if per_tier[b.tier] > _FAN else (0.6 if b.tier == "uplink" else 0.8),
            )
            mid = ((x0 + x1) / 2, (y0 + y1) / 2)
        key = (b.tier, b.links, round(b.bandwidth / b.links, 3))
        cands = classes.setdefault(key, [])
        for t in (0.5, 0.35, 0.65):
            cands.append(
                (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, color)
                if b.tier != "mesh"
                else (*mid, color)
            )
    # The three commonest classes of each tier get a label; the rest are on hover.
    order = sorted(classes, key=lambda k: -len(classes[k]))
    shown: dict[str, int] = {}
    out = []
    for k in order:
        shown[k[0]] = shown.get(k[0], 0) + 1
        if shown[k[0]] <= 3:
            out.append((f"{k[1]:,} x {_rate(k[2])}", _spaced(classes[k])))
    return out


def _spaced(cands: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Candidates from the middle of the drawing outwards, so a label sits centrally."""
    if not cands:
        return cands
    cx = sum(c[0] for c in cands) / len(cands)
    return sorted(cands, key=lambda c: abs(c[0] - cx))


def _arc(
    ax: Any, x0: float, x1: float, y: float, sign: float, color: str, width: float, tip: str
) -> None:
    """A quadratic arc between two points on a row, bulging by `sign` (up +, down -)."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    lift = sign * (0.25 + 0.18 * abs(x1 - x0))
    path = MplPath(
        [(x0, y), ((x0 + x1) / 2, y + 2 * lift), (x1, y)],
        [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3],
    )
    patch = PathPatch(path, facecolor="none", edgecolor=color, linewidth=width, alpha=0.8, zorder=1)
    ax.add_patch(patch)
    hover(patch, tip)


def _width_handles(lo: float, hi: float, what: str) -> list[Any]:
    from matplotlib.lines import Line2D

    if hi > lo * 1.0001:
        return [
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=_width(b, lo, hi),
                label=f"{_rate(b)} per direction ({what})",
            )
            for b in (lo, hi)
        ]
    return [
        Line2D(
            [],
            [],
            color="#555555",
            linewidth=1.5,
            label=f"{_rate(hi)} per direction (every {what})",
        )
    ]


def _media_handles(G: nx.Graph, inside: set[str]) -> list[Any]:
    """One line per link medium; for media inside the boxes, a box with that edge too."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    media = sorted({a["medium"] for *_, a in G.edges(data=True)})
    out: list[Any] = [
        Line2D([], [], color=_medium_color(m), linewidth=2.5, label=f"{m.replace('_', ' ')} link")
        for m in media
    ]
    out += [
        Patch(
            facecolor="#DCE6F2",
            edgecolor=_medium_color(m),
            linewidth=2.0,
            label=f"box edge: {m.replace('_', ' ')} scale-up inside",
        )
        for m in sorted(inside)
    ]
    return out


def _rail_handles(rails: list[int], what: str = "GPU to leaf") -> list[Any]:
    from matplotlib.lines import Line2D

    shown = rails[: len(RAIL_COLORS)]
    out = [
        Line2D([], [], color=_rail_color(r), linewidth=2.5, label=f"rail {r} ({what})")
        for r in shown
    ]
    if len(rails) > len(shown):
        out.append(
            Line2D([], [], color="none", label=f"rails {len(shown)}-{rails[-1]}: colours repeat")
        )
    return out


def _bundled_legend(ax: Any, G: nx.Graph, B: Bundled, lo: float, hi: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    units = [b for b in B.boxes.values() if b.kind == "unit"]
    what = {
        "tray": "a compute tray",
        "node": "a node",
        "domain": "a scale-up domain",
        "trays": "a run of trays",
        "domains": "a run of domains",
    }[B.unit]
    handles: list[Any] = [
        Patch(
            facecolor="#DCE6F2",
            edgecolor=_BOX_EDGE,
            label=f"box: {what} ({_gpus_a_box(units)} GPUs)",
        )
    ]
    if any(b.kind == "switch" for b in B.boxes.values()):
        handles.append(Patch(facecolor=_SWITCH_FACE, edgecolor=_BOX_EDGE, label="scale-up switch"))
    if any(b.kind == "leaf" for b in B.boxes.values()):
        handles.append(
            Line2D([], [], marker="s", linestyle="", color="#777777", label="leaf (colour: rail)")
        )
    if any(b.kind == "spine" for b in B.boxes.values()):
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=NODE_COLORS["spine"], label="spine")
        )
    handles += _media_handles(G, {v.medium for v in B.inside.values()})
    handles += _rail_handles(sorted({b.rail for b in B.bundles if b.tier == "rail"}))
    handles += _width_handles(lo, hi, "bundle")
    tiers: dict[str, int] = {}
    for b in B.bundles:
        tiers[b.tier] = tiers.get(b.tier, 0) + 1
    if any(n > _FAN for n in tiers.values()):
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=0.8,
                label=f"over {_FAN} in a fan: a third as wide",
            )
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False
    )


# --- One node: GPUs, switch chips or mesh, CPUs, PCIe, NICs -----------------------------

_Y_SW, _Y_GPU, _Y_CPU, _Y_NIC, _Y_NET = 3.3, 2.0, 1.0, 0.0, -0.9
_CPU_FACE, _NIC_FACE, _PCIE = "#D9D9D9", "#CFE8D5", "#8C8C8C"


def _tray_facts(layout: Layout | None, gpus: int) -> tuple[int, int, str]:
    """CPUs and NICs of the node's compute tray (0 when unknown) and its name."""
    if layout is None:
        return 0, 0, ""
    for d in layout.rack.devices:
        if d.kind == "compute_tray" and d.gpus == gpus:
            return d.cpus, d.nics, d.name
    return 0, 0, ""


def _node(G: nx.Graph, summary: dict[str, Any], layout: Layout | None) -> tuple[Any, Any]:
    gpus = sorted(
        (v for v, a in G.nodes(data=True) if a["kind"] == "gpu"), key=lambda v: G.nodes[v]["index"]
    )
    n = len(gpus)
    x = {g: float(i) for i, g in enumerate(gpus)}
    fig = figure(12.5, 7.0)
    ax = fig.subplots()
    ups = [(u, v, a) for u, v, a in G.edges(data=True) if a["kind"] == "scale_up"]
    outs = [
        (u, v, a)
        for u, v, a in G.edges(data=True)
        if a["kind"] == "scale_out" and {G.nodes[u]["kind"], G.nodes[v]["kind"]} == {"gpu", "leaf"}
    ]
    bws = [a["bandwidth"] for *_, a in ups + outs] or [1.0]
    lo, hi = min(bws), max(bws)
    accel = G.graph.get("accelerator", "GPU")
    requests = _node_scale_up(ax, G, gpus, x, ups, lo, hi)
    for g in gpus:
        mine = [a for u, v, a in ups if g in (u, v)]
        links = sum(int(a["links"]) for a in mine)
        bw = sum(float(a["bandwidth"]) for a in mine)
        tip = f"GPU {G.nodes[g]['index']} ({accel}, {g})"
        if links:
            tip += f": {_count_rate(links, bw)} = {_rate(bw)} per direction scale-up"
        _box(ax, x[g], _Y_GPU, 0.62, 0.42, NODE_COLORS["gpu"], tip)
        _text(
            ax,
            x[g],
            _Y_GPU,
            f"GPU {G.nodes[g]['index']}",
            ha="center",
            va="center",
            color="white",
            zorder=5,
        )
    cpus, nics, tray = _tray_facts(layout, n)
    rails = _node_host(ax, G, gpus, x, outs, cpus, nics, lo, hi)
    ax.set_xlim(-2.3, n - 0.4)
    ax.set_ylim(_Y_NET - 0.45, _Y_SW + 0.55)
    rows = [(_Y_GPU, "GPUs"), (_Y_NIC, "NICs")]
    if any(G.nodes[v]["kind"] == "switch" for v in G):
        rows.append((_Y_SW, "scale-up switch chips"))
    if cpus:
        rows.append((_Y_CPU, "host: CPUs, PCIe"))
    for y, label in rows:
        _text(ax, -2.25, y, label, ha="left", va="center")
    ax.set_axis_off()
    _node_legend(ax, G, cpus, rails, lo, hi)
    kind = G.graph.get("scale_up_topology", "")
    n_sw = sum(1 for v in G if G.nodes[v]["kind"] == "switch")
    how = f"{n_sw} switch chips" if kind == "switched" else kind.replace("_", " ")
    ax.set_title(
        f"{G.graph['layout']}: one node{f' ({tray})' if tray else ''}, {n} x {accel} on "
        f"{G.graph.get('scale_up_link', '')} ({how})",
        fontsize=12,
        weight="bold",
    )
    fig.text(0.01, 0.01, summary_text(summary), fontsize=9)
    fig.text(
        0.99,
        0.01,
        "hover over a line or box in the SVG or HTML output for its details",
        fontsize=9,
        ha="right",
    )
    _place_labels(fig, ax, requests)
    return fig, ax


def _node_scale_up(
    ax: Any,
    G: nx.Graph,
    gpus: list[str],
    x: dict[str, float],
    ups: list[tuple[str, str, dict[str, Any]]],
    lo: float,
    hi: float,
) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """Switch chips above the GPUs (or the mesh's arcs); the count x rate labels to place."""
    switches = sorted(
        (v for v in G if G.nodes[v]["kind"] == "switch"), key=lambda v: G.nodes[v]["index"]
    )
    n = len(gpus)
    sx = {s: (n - 1) * (i + 0.5) / len(switches) for i, s in enumerate(switches)}
    for i, s in enumerate(switches):
        links = sum(int(a["links"]) for u, v, a in ups if s in (u, v))
        _box(
            ax,
            sx[s],
            _Y_SW,
            min(0.9, 0.8 * (n - 1) / len(switches)),
            0.36,
            _SWITCH_FACE,
            f"switch chip {s}: {links:,} links to {n} GPUs",
        )
        _text(ax, sx[s], _Y_SW, f"switch {i}", ha="center", va="center", zorder=5)
    classes: dict[tuple[int, float], list[tuple[float, float, str]]] = {}
    idx = {g: int(G.nodes[g]["index"]) for g in gpus}
    for u, v, a in ups:
        color = _medium_color(a["medium"])
        links, bw = int(a["links"]), float(a["bandwidth"])
        w = _width(bw, lo, hi)
        if G.nodes[u]["kind"] == "switch":
            u, v = v, u
        if G.nodes[v]["kind"] == "switch":
            tip = (
                f"GPU {idx[u]} ↔ switch chip {v}: {_count_rate(links, bw)} = {_rate(bw)} "
                f"per direction, {a['medium'].replace('_', ' ')} ({a['link']})"
            )
            x0, y0, x1, y1 = x[u], _Y_GPU + 0.21, sx[v], _Y_SW - 0.18
            _line(ax, [x0, x1], [y0, y1], color, w, tip, alpha=0.7)
            pts = [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, color) for t in (0.3, 0.5, 0.7)]
        else:
            tip = (
                f"GPU {idx[u]} ↔ GPU {idx[v]}: {_count_rate(links, bw)} = {_rate(bw)} "
                f"per direction, {a['medium'].replace('_', ' ')} ({a['link']})"
            )
            x0, x1 = sorted((x[u], x[v]))
            _arc(ax, x0, x1, _Y_GPU + 0.21, 1.0, color, w, tip)
            lift = 0.25 + 0.18 * (x1 - x0)
            pts = [((x0 + x1) / 2, _Y_GPU + 0.21 + lift, color)]
        classes.setdefault((links, round(bw / links, 3)), []).extend(pts)
    order = sorted(classes, key=lambda k: -len(classes[k]))
    return [(f"{k[0]} x {_rate(k[1])}", _spaced(classes[k])[::-1]) for k in order]


def _node_host(
    ax: Any,
    G: nx.Graph,
    gpus: list[str],
    x: dict[str, float],
    outs: list[tuple[str, str, dict[str, Any]]],
    cpus: int,
    nics: int,
    lo: float,
    hi: float,
) -> list[int]:
    """CPUs (PCIe roots), one NIC per GPU with a scale-out link, PCIe, ports to the network."""
    _node_cpus(ax, G, gpus, x, cpus)
    port: dict[str, tuple[str, dict[str, Any]]] = {}
    for u, v, a in outs:
        g, leaf = (u, v) if G.nodes[u]["kind"] == "gpu" else (v, u)
        port[g] = (leaf, a)
    rails = sorted({int(G.nodes[leaf]["rail"]) for leaf, _ in port.values()})
    link = _node_nics(ax, G, gpus, x, port, cpus, nics, lo, hi)
    if port:
        _node_network(ax, len(gpus), port, rails, link)
    return rails


def _node_cpus(ax: Any, G: nx.Graph, gpus: list[str], x: dict[str, float], cpus: int) -> None:
    """One box per CPU under the GPUs it is assumed the PCIe root of (an even split)."""
    n = len(gpus)
    idx = {g: int(G.nodes[g]["index"]) for g in gpus}
    per = math.ceil(n / cpus) if cpus else n
    for c in range(cpus):
        mine = gpus[c * per : (c + 1) * per]
        if not mine:
            continue
        x0, x1 = x[mine[0]], x[mine[-1]]
        _box(
            ax,
            (x0 + x1) / 2,
            _Y_CPU,
            x1 - x0 + 0.7,
            0.34,
            _CPU_FACE,
            f"CPU {c}: PCIe root of GPUs {idx[mine[0]]}-{idx[mine[-1]]} and their NICs "
            f"(split assumed even; topo does not model PCIe)",
            alpha=0.95,
        )
        _text(ax, (x0 + x1) / 2, _Y_CPU, f"CPU {c} (PCIe root)", ha="center", va="center", zorder=5)


def _node_nics(
    ax: Any,
    G: nx.Graph,
    gpus: list[str],
    x: dict[str, float],
    port: dict[str, tuple[str, dict[str, Any]]],
    cpus: int,
    nics: int,
    lo: float,
    hi: float,
) -> str:
    """Per GPU with a port: PCIe to its NIC, the NIC, its link down; returns the last link."""
    n = len(gpus)
    idx = {g: int(G.nodes[g]["index"]) for g in gpus}
    per = math.ceil(n / cpus) if cpus else n
    link = ""
    for k, g in enumerate(gpus):
        if g not in port:
            continue
        leaf, a = port[g]
        rail = int(G.nodes[leaf]["rail"])
        link = a["link"]
        bw = float(a["bandwidth"])
        _line(
            ax,
            [x[g], x[g]],
            [_Y_GPU - 0.21, _Y_NIC + 0.19],
            _PCIE,
            1.6,
            f"GPU {idx[g]} ↔ NIC {k}: PCIe"
            + (f" under CPU {k // per}" if cpus else "")
            + " (drawn for orientation; topo does not model PCIe)",
            style="--",
            alpha=0.9,
            zorder=0.5,
        )
        note = f"; the layout lists {nics} NICs a node" if nics and nics != len(port) else ""
        _box(
            ax,
            x[g],
            _Y_NIC,
            0.62,
            0.38,
            _NIC_FACE,
            f"NIC {k} of GPU {idx[g]}: {human(bw * 8, 'bitrate')} ({a['link']}), rail {rail}{note}",
            edge=_rail_color(rail),
            lw=1.8,
        )
        _text(ax, x[g], _Y_NIC, f"NIC {k}", ha="center", va="center", zorder=5)
        _line(
            ax,
            [x[g], x[g]],
            [_Y_NIC - 0.19, _Y_NET + 0.15],
            _rail_color(rail),
            _width(bw, lo, hi),
            f"NIC {k} → leaf {leaf} (rail {rail}): {_count_rate(int(a['links']), bw)} = "
            f"{_rate(bw)} per direction, {a['medium'].replace('_', ' ')} ({a['link']})",
        )
    return link


def _node_network(
    ax: Any, n: int, port: dict[str, tuple[str, dict[str, Any]]], rails: list[int], link: str
) -> None:
    """The scale-out network as one band under the NICs (its leaves and spines not drawn)."""
    bw = sum(float(a["bandwidth"]) for _, a in port.values())
    _box(
        ax,
        (n - 1) / 2,
        _Y_NET,
        n - 0.2,
        0.3,
        "#F2F2F2",
        f"scale-out network: {len(rails)} rails of {link}, {_rate(bw)} per direction "
        "from this node",
        edge="#999999",
    )
    _text(
        ax,
        (n - 1) / 2,
        _Y_NET,
        f"to the scale-out network: {len(port)} x {human(bw / len(port) * 8, 'bitrate')} "
        f"({link}), one rail each; its leaves and spines are not drawn for one node",
        ha="center",
        va="center",
        zorder=5,
    )


def _node_legend(ax: Any, G: nx.Graph, cpus: int, rails: list[int], lo: float, hi: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=NODE_COLORS["gpu"], edgecolor=_BOX_EDGE, label="GPU")]
    if any(G.nodes[v]["kind"] == "switch" for v in G):
        handles.append(
            Patch(facecolor=_SWITCH_FACE, edgecolor=_BOX_EDGE, label="scale-up switch chip")
        )
    if cpus:
        handles.append(Patch(facecolor=_CPU_FACE, edgecolor=_BOX_EDGE, label="CPU (PCIe root)"))
    handles.append(Patch(facecolor=_NIC_FACE, edgecolor=_BOX_EDGE, label="NIC (edge: rail)"))
    handles += _media_handles(G, set())
    handles.append(
        Line2D([], [], color=_PCIE, linestyle="--", linewidth=1.6, label="PCIe (not modelled)")
    )
    handles += _rail_handles(rails, "NIC to its leaf")
    handles += _width_handles(lo, hi, "link")
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False
    )


# --- Torus: one panel per z slice ---


def _torus(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    from matplotlib.lines import Line2D

    dims = tuple(int(x) for x in str(G.graph["torus_dims"]).split(","))
    pos = torus_slices(G, dims)
    ny = dims[1] if len(dims) > 1 else 1
    nz = dims[2] if len(dims) > 2 else 1
    fig = figure(12, 4.0)
    ax = fig.subplots()
    bws = [a["bandwidth"] for *_, a in G.edges(data=True) if a["kind"] == "scale_up"] or [1.0]
    lo, hi = min(bws), max(bws)
    straight, stubs, between = _torus_segments(G, pos, dims)
    for (x0, y0), (x1, y1), medium, bw, tip in straight + stubs:
        _line(ax, [x0, x1], [y0, y1], _medium_color(medium), _width(bw, lo, hi), tip, alpha=0.85)
    gpus = [v for v, a in G.nodes(data=True) if a["kind"] == "gpu"]
    ax.scatter(
        [pos[g][0] for g in gpus],
        [pos[g][1] for g in gpus],
        s=90,
        color=NODE_COLORS["gpu"],
        zorder=3,
        edgecolors="white",
    )
    bottom = min(p[1] for p in pos.values())
    for z in range(nz):
        ax.text(
            z * (ny + 1.5) + (ny - 1) / 2, bottom - 0.8, f"slice z = {z}", ha="center", fontsize=9
        )
    if between:
        _z_links(ax, between, ny, nz, bottom)
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_ylim(bottom - 2.0, 1.0)
    extra = [
        Line2D([], [], color="#555555", linewidth=1.5, label="stub at an edge: wraparound link")
    ]
    gpu = Line2D([], [], marker="o", linestyle="", color=NODE_COLORS["gpu"], label="gpu")
    handles = [gpu, *_media_handles(G, set()), *_width_handles(lo, hi, "link"), *extra]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False
    )
    ax.set_title(
        f"{G.graph['layout']}: {'x'.join(map(str, dims))} torus, one panel per z "
        "slice (x down, y across)",
        fontsize=11,
        weight="bold",
    )
    fig.text(0.01, 0.01, summary_text(summary) + "; scale-out fabric not drawn", fontsize=9)
    return fig, ax


def _torus_segments(
    G: nx.Graph, pos: dict[str, Any], dims: tuple[int, ...]
) -> tuple[list[Any], list[Any], list[Any]]:
    """Scale-up links in a z slice (straight, or wraparound stubs) and those between slices."""
    straight, stubs, between = [], [], []
    z_of = {g: int(str(G.nodes[g]["coords"]).split(",")[-1]) if len(dims) > 2 else 0 for g in pos}
    for u, v, a in G.edges(data=True):
        if a["kind"] != "scale_up":
            continue
        tip = (
            f"chip {G.nodes[u]['index']} ({G.nodes[u]['coords']}) ↔ chip {G.nodes[v]['index']} "
            f"({G.nodes[v]['coords']}): {_count_rate(int(a['links']), a['bandwidth'])} = "
            f"{_rate(a['bandwidth'])} per direction, {a['medium'].replace('_', ' ')} ({a['link']})"
        )
        if z_of[u] != z_of[v]:
            between.append(a)
            continue
        (x0, y0), (x1, y1) = pos[u], pos[v]
        if abs(x0 - x1) + abs(y0 - y1) <= 1.0 + 1e-9:
            straight.append((pos[u], pos[v], a["medium"], a["bandwidth"], tip))
            continue
        # A wraparound: a short stub leaving each end outward (the ring closes off-grid).
        for (xa, ya), (xb, yb) in ((pos[u], pos[v]), (pos[v], pos[u])):
            dx = 0.0 if xa == xb else (-0.38 if xa < xb else 0.38)
            dy = 0.0 if ya == yb else (-0.38 if ya < yb else 0.38)
            stubs.append(
                ((xa, ya), (xa + dx, ya + dy), a["medium"], a["bandwidth"], "wraparound: " + tip)
            )
    return straight, stubs, between


def _z_links(ax: Any, between: list[dict[str, Any]], ny: int, nz: int, bottom: float) -> None:
    """Arrows between neighbouring z slices, and a note on the z links and their wrap."""
    medium = sorted({a["medium"] for a in between})
    per = len(between) // max(nz, 1)
    for z in range(nz - 1):
        x0 = z * (ny + 1.5) + ny - 1 + 0.25
        arrow = ax.annotate(
            "",
            xy=(x0 + 1.0, bottom / 2),
            xytext=(x0, bottom / 2),
            arrowprops={
                "arrowstyle": "<->",
                "color": MEDIUM_COLORS.get(medium[0], "#777"),
                "linewidth": 2,
            },
        )
        a = between[0]
        hover(
            arrow,
            f"z links between slices {z} and {z + 1}: {per} chips, each "
            f"{_count_rate(int(a['links']), a['bandwidth'])} per direction, "
            f"{'/'.join(m.replace('_', ' ') for m in medium)} ({a['link']})",
        )
    ax.text(
        (nz * (ny + 1.5)) / 2 - 1,
        bottom - 1.5,
        f"z links: every chip to the same (x, y) in the slices beside it "
        f"({human(between[0]['bandwidth'], 'bandwidth')} each; slice {nz - 1} wraps "
        f"to slice 0 over {'/'.join(m.replace('_', ' ') for m in medium)})",
        ha="center",
        fontsize=9,
    )
