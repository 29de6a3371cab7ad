"""Topology drawings: GPUs, switches, domains and racks, the fabric above, links by medium."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx

from topo.plot._style import MEDIUM_COLORS, NODE_COLORS, figure, human
from topo.plot.positions import GPU_LEVEL_MAX, gpu_level, rack_level, summary_text, torus_slices

__all__ = ["plot_topology"]


def _width(bw: float, lo: float, hi: float) -> float:
    """Line width on a log scale of bandwidth: 0.4 to 3.5 points."""
    if hi <= lo:
        return 1.5
    t = (math.log10(bw) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return 0.4 + 3.1 * max(0.0, min(1.0, t))


def _draw_edges(
    ax: Any,
    segs: list[tuple[tuple[float, float], tuple[float, float], str, float]],
    lo: float,
    hi: float,
    alpha: float,
    zorder: int = 1,
) -> None:
    from matplotlib.collections import LineCollection

    by_medium: dict[str, list[Any]] = {}
    for a, b, medium, bw in segs:
        by_medium.setdefault(medium, []).append((a, b, _width(bw, lo, hi)))
    for medium, items in by_medium.items():
        lc = LineCollection(
            [[a, b] for a, b, _ in items],
            linewidths=[w for *_, w in items],
            colors=MEDIUM_COLORS.get(medium, "#777777"),
            alpha=alpha,
            zorder=zorder,
        )
        ax.add_collection(lc)


def _legend(
    ax: Any,
    kinds: list[str],
    media: list[str],
    lo: float,
    hi: float,
    extra: list[Any] | None = None,
) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=NODE_COLORS[k], label=k) for k in kinds
    ]
    handles += [
        Line2D(
            [],
            [],
            color=MEDIUM_COLORS.get(m, "#777"),
            linewidth=2,
            label=f"{m.replace('_', ' ')} link",
        )
        for m in media
    ]
    if hi > lo:
        handles += [
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=_width(b, lo, hi),
                label=f"{human(b, 'bandwidth')} per direction",
            )
            for b in (lo, hi)
        ]
    elif hi > 0:
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=_width(hi, lo, hi),
                label=f"{human(hi, 'bandwidth')} per direction (every link)",
            )
        )
    handles += extra or []
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
    )


def plot_topology(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    """Draw the layout's graph at GPU level (<= 128 GPUs), as a torus grid, or by rack."""
    n = summary["gpus"]
    if G.graph.get("scale_up_topology") == "torus" and n <= 4096:
        return _torus(G, summary)
    if n <= GPU_LEVEL_MAX:
        return _gpus(G, summary)
    return _racks(G, summary)


def _bw_range(G: nx.Graph) -> tuple[float, float]:
    bws = [a["bandwidth"] for _, _, a in G.edges(data=True)]
    return (min(bws), max(bws)) if bws else (1.0, 1.0)


def _media(G: nx.Graph) -> list[str]:
    return sorted({a["medium"] for _, _, a in G.edges(data=True)})


def _gpus(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    pos = gpu_level(G)
    fig = figure(12, 6.5)
    ax = fig.subplots()
    lo, hi = _bw_range(G)
    if G.graph.get("scale_up_topology") == "full_mesh":
        pos = _mesh_positions(G, pos)
    segs = [(pos[u], pos[v], a["medium"], a["bandwidth"]) for u, v, a in G.edges(data=True)]
    dense = G.number_of_edges() > 400
    _draw_edges(ax, segs, lo, hi, alpha=0.25 if dense else 0.7)
    kinds = []
    for kind, size in (("gpu", 30), ("switch", 60), ("leaf", 70), ("spine", 70)):
        nodes = [v for v, a in G.nodes(data=True) if a["kind"] == kind]
        if not nodes:
            continue
        kinds.append(kind)
        ax.scatter(
            [pos[v][0] for v in nodes],
            [pos[v][1] for v in nodes],
            s=size,
            color=NODE_COLORS[kind],
            zorder=3,
            edgecolors="white",
            linewidths=0.5,
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    pad = (max(xs) - min(xs)) * 0.03 + 0.5
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.5)
    for y, label in ((0.0, "GPUs"), (1.0, "scale-up switches"), (2.0, "leaves"), (3.0, "spines")):
        if (
            any(abs(p[1] - y) < 1e-9 for p in pos.values())
            and G.graph.get("scale_up_topology") != "full_mesh"
        ):
            ax.text(min(xs) - pad, y, label + " ", ha="right", va="center", fontsize=9)
    if G.graph.get("scale_up_topology") != "full_mesh":
        _domain_labels(ax, G, pos)
    ax.set_axis_off()
    _legend(ax, kinds, _media(G), lo, hi)
    ax.set_title(
        f"{G.graph['layout']}: all {summary['gpus']} GPUs and their {G.number_of_edges():,} links",
        fontsize=12,
        weight="bold",
    )
    fig.text(0.01, 0.01, summary_text(summary), fontsize=9)
    return fig, ax


def _mesh_positions(
    G: nx.Graph, pos: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """Full-mesh domains as circles, side by side, under the fabric."""
    out = dict(pos)
    doms: dict[int, list[str]] = {}
    for v, a in G.nodes(data=True):
        if a["kind"] == "gpu":
            doms.setdefault(a["domain"], []).append(v)
    for i, (_, gpus) in enumerate(sorted(doms.items())):
        cx = i * 3.0 + 1.0
        for k, g in enumerate(sorted(gpus, key=lambda g: G.nodes[g]["index"])):
            t = 2 * math.pi * k / len(gpus)
            out[g] = (cx + math.cos(t), 0.2 + 0.8 * math.sin(t))
    leaves = [v for v, a in G.nodes(data=True) if a["kind"] == "leaf"]
    spines = [v for v, a in G.nodes(data=True) if a["kind"] == "spine"]
    width = max(3.0 * len(doms) - 1, 2.0)
    for k, v in enumerate(sorted(leaves)):
        out[v] = (width * (k + 0.5) / len(leaves), 2.2)
    for k, v in enumerate(sorted(spines)):
        out[v] = (width * (k + 0.5) / len(spines), 3.0)
    return out


def _domain_labels(ax: Any, G: nx.Graph, pos: dict[str, tuple[float, float]]) -> None:
    doms: dict[int, list[float]] = {}
    for v, a in G.nodes(data=True):
        if a["kind"] == "gpu":
            doms.setdefault(a["domain"], []).append(pos[v][0])
    if len(doms) > 16:
        return
    for d, xs in doms.items():
        ax.text(
            (min(xs) + max(xs)) / 2,
            -0.35,
            f"domain {d} ({len(xs)} GPUs)",
            ha="center",
            va="top",
            fontsize=8,
        )


def _racks(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    pos, members = rack_level(G)
    fig = figure(13, 7)
    ax = fig.subplots()
    lo, hi = _bw_range(G)
    segs, lo2, hi2 = _rack_segments(G, pos, lo, hi)
    _draw_edges(ax, segs, lo2, hi2, alpha=0.35)
    up = summary["scale_up_bandwidth_per_gpu_bytes_per_s"]
    dom_color = _domain_color(G)
    _domain_boxes(ax, G, pos, members, dom_color)
    kinds = ["gpu"]
    for kind, size in (("leaf", 60), ("spine", 60)):
        nodes = [v for v, a in G.nodes(data=True) if a["kind"] == kind]
        if nodes:
            kinds.append(kind)
            ax.scatter(
                [pos[v][0] for v in nodes],
                [pos[v][1] for v in nodes],
                s=size,
                color=NODE_COLORS[kind],
                zorder=3,
                edgecolors="white",
                linewidths=0.5,
            )
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 2.2, max(xs) + 0.6)
    ax.set_ylim(-0.6, 3.6)
    for y, label in ((0.0, "domains"), (2.0, "leaves"), (3.2, "spines")):
        ax.text(min(xs) - 0.6, y, label, ha="right", va="center", fontsize=9)
    ax.set_axis_off()
    from matplotlib.patches import Patch

    extra = [
        Patch(
            facecolor=NODE_COLORS["gpu"],
            edgecolor=dom_color,
            linewidth=2,
            label=f"domain box: its GPUs on {human(up, 'bandwidth')} each (edge: scale-up medium)",
        )
    ]
    _legend(ax, kinds[1:], _media(G), lo2, hi2, extra)
    ax.set_title(
        f"{G.graph['layout']}: {summary['gpus']:,} GPUs drawn by scale-up domain "
        "(single GPUs would blur)",
        fontsize=11,
        weight="bold",
    )
    fig.text(0.99, 0.01, "GPU-leaf links summed per domain and leaf", fontsize=8, ha="right")
    fig.text(0.01, 0.01, summary_text(summary), fontsize=9)
    return fig, ax


def _rack_segments(
    G: nx.Graph, pos: dict[str, Any], lo: float, hi: float
) -> tuple[list[Any], float, float]:
    """Scale-out segments with GPU-leaf links summed per (domain, leaf); the width range."""
    agg: dict[tuple[int, str], list[Any]] = {}
    segs = []
    for u, v, a in G.edges(data=True):
        ku, kv = G.nodes[u]["kind"], G.nodes[v]["kind"]
        if a["kind"] != "scale_out":
            continue
        if {ku, kv} == {"gpu", "leaf"}:
            g, leaf = (u, v) if ku == "gpu" else (v, u)
            key = (G.nodes[g]["domain"], leaf)
            agg.setdefault(key, [0.0, a["medium"]])
            agg[key][0] += a["bandwidth"]
        else:
            segs.append((pos[u], pos[v], a["medium"], a["bandwidth"]))
    lo2 = min([lo, *[b for b, _ in agg.values()]])
    hi2 = max([hi, *[b for b, _ in agg.values()]])
    segs += [(pos[f"domain{d}"], pos[leaf], m, b) for (d, leaf), (b, m) in agg.items()]
    return segs, lo2, hi2


def _domain_color(G: nx.Graph) -> str:
    """The colour of the first scale-up link's medium (grey without scale-up links)."""
    if not any(a["kind"] == "scale_up" for *_, a in G.edges(data=True)):
        return "#777"
    first = next(iter((u, v) for u, v, a in G.edges(data=True) if a["kind"] == "scale_up"))
    return MEDIUM_COLORS.get(G.edges[first]["medium"], "#777")


def _domain_boxes(
    ax: Any, G: nx.Graph, pos: dict[str, Any], members: dict[int, Any], dom_color: str
) -> None:
    """One rounded box per scale-up domain, labelled with its GPUs (at most ~16 labels)."""
    from matplotlib.patches import FancyBboxPatch

    n_dom = len(members)
    label_every = max(1, math.ceil(n_dom / 16))
    for d, nodes in members.items():
        x, y = pos[f"domain{d}"]
        gpus = sum(1 for v in nodes if G.nodes[v]["kind"] == "gpu")
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.36, y - 0.3),
                0.72,
                0.6,
                boxstyle="round,pad=0.02",
                facecolor=NODE_COLORS["gpu"],
                edgecolor=dom_color,
                linewidth=2.5,
                alpha=0.9,
                zorder=3,
            )
        )
        if d % label_every == 0:
            ax.text(
                x,
                y,
                f"{gpus}\nGPUs",
                ha="center",
                va="center",
                color="white",
                fontsize=7 if n_dom > 24 else 8,
                zorder=4,
            )


def _torus(G: nx.Graph, summary: dict[str, Any]) -> tuple[Any, Any]:
    from matplotlib.lines import Line2D

    dims = tuple(int(x) for x in str(G.graph["torus_dims"]).split(","))
    pos = torus_slices(G, dims)
    ny = dims[1] if len(dims) > 1 else 1
    nz = dims[2] if len(dims) > 2 else 1
    fig = figure(12, 4.0)
    ax = fig.subplots()
    lo, hi = _bw_range(G)
    straight, stubs, between = _torus_segments(G, pos, dims)
    _draw_edges(ax, straight, lo, hi, alpha=0.85)
    _draw_edges(ax, stubs, lo, hi, alpha=0.85)
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
    _legend(ax, ["gpu"], _media(G), lo, hi, extra)
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
        if z_of[u] != z_of[v]:
            between.append(a)
            continue
        (x0, y0), (x1, y1) = pos[u], pos[v]
        if abs(x0 - x1) + abs(y0 - y1) <= 1.0 + 1e-9:
            straight.append((pos[u], pos[v], a["medium"], a["bandwidth"]))
            continue
        # A wraparound: a short stub leaving each end outward (the ring closes off-grid).
        for (xa, ya), (xb, yb) in ((pos[u], pos[v]), (pos[v], pos[u])):
            dx = 0.0 if xa == xb else (-0.38 if xa < xb else 0.38)
            dy = 0.0 if ya == yb else (-0.38 if ya < yb else 0.38)
            stubs.append(((xa, ya), (xa + dx, ya + dy), a["medium"], a["bandwidth"]))
    return straight, stubs, between


def _z_links(ax: Any, between: list[dict[str, Any]], ny: int, nz: int, bottom: float) -> None:
    """Arrows between neighbouring z slices, and a note on the z links and their wrap."""
    medium = sorted({a["medium"] for a in between})
    for z in range(nz - 1):
        x0 = z * (ny + 1.5) + ny - 1 + 0.25
        ax.annotate(
            "",
            xy=(x0 + 1.0, bottom / 2),
            xytext=(x0, bottom / 2),
            arrowprops={
                "arrowstyle": "<->",
                "color": MEDIUM_COLORS.get(medium[0], "#777"),
                "linewidth": 2,
            },
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
