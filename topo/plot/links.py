"""Link loads of a collective: links coloured by utilisation, and rack-to-rack traffic."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np

from topo.plot._style import NODE_COLORS, figure, human
from topo.plot.positions import gpu_level, rack_level

__all__ = ["plot_links"]


def plot_links(G: nx.Graph, data: dict[str, Any]) -> tuple[Any, Any]:
    """Draw :func:`topo.collectives.link_loads`: the fabric coloured by busy share, and racks.

    The group's GPUs and the links it loads are drawn (by domain when the group is large);
    colour is a link's utilisation, bytes / (bandwidth x the collective's time).
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    fig = figure(13, 6.2)
    ax, hx = fig.subplots(1, 2, width_ratios=[2.3, 1.0])
    cmap = colormaps["viridis"]
    edges = data["edges"]
    group = set(data["gpus"])
    # Keep, per undirected link, its busier direction.
    util: dict[tuple[str, str], float] = {}
    for e in edges:
        key = (e["u"], e["v"]) if e["u"] < e["v"] else (e["v"], e["u"])
        util[key] = max(util.get(key, 0.0), e["utilisation"])
    # The scale reaches past 1 when a link is busier than its rate allows in the charged
    # time: those links are drawn as they are, not clipped to 1.
    top = max([1.0, *util.values()])
    norm = Normalize(0.0, top)
    nodes = {n for k in util for n in k} | group
    domains = {G.nodes[g]["domain"] for g in group}
    switched = G.graph.get("scale_up_topology") == "switched"
    if len(domains) > 1:
        note = _by_domain(ax, G, util, cmap, norm)
    elif switched and len(group) > 16:
        note = _matrix(fig, ax, G, util, cmap, norm)
    else:
        note = _every_node(ax, G, nodes, util, cmap, norm)
    if not ax.images:
        ax.set_xticks([])  # no tick labels left behind the hidden frame
        ax.set_yticks([])
        ax.set_axis_off()
    _colorbar(fig, ax, cmap, norm, top)
    c = data["collective"]
    fig.suptitle(
        f"{G.graph['layout']}: {c['op']} of {human(c['bytes_per_gpu'], 'data')} per GPU over "
        f"{c['gpus']:,} GPUs ({c['algorithm']}, {human(c['time_s'], 'time')}): link loads",
        fontsize=12,
        weight="bold",
    )
    basis = data.get("basis")
    fig.supxlabel(
        note + (f"\nutilisation: {basis}" if basis else ""), x=0.01, ha="left", fontsize=9
    )
    if len(data["racks"]) >= 3:
        _heatmap(fig, hx, data)
    else:
        _histogram(hx, util, cmap, norm, data)
    return fig, ax


def _every_node(
    ax: Any,
    G: nx.Graph,
    nodes: set[str],
    util: dict[tuple[str, str], float],
    cmap: Any,
    norm: Any,
) -> str:
    """Every drawn node at its GPU-level position and every loaded link; returns the note."""
    pos = _respread({n: p for n, p in gpu_level(G).items() if n in nodes})
    _segments(ax, pos, util, cmap, norm, 1.2)
    for kind, size in (("gpu", 30), ("switch", 60), ("leaf", 70), ("spine", 70)):
        ns = [n for n in pos if G.nodes[n]["kind"] == kind]
        if ns:
            ax.scatter(
                [pos[n][0] for n in ns],
                [pos[n][1] for n in ns],
                s=size,
                color=NODE_COLORS[kind],
                zorder=3,
                edgecolors="white",
                linewidths=0.5,
                label=kind,
            )
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    return "every GPU of the group and every link it loads"


def _colorbar(fig: Any, ax: Any, cmap: Any, norm: Any, top: float) -> None:
    """The utilisation colour bar beside `ax`, marked at the link rate when the scale passes 1."""
    sm = __import__("matplotlib.cm", fromlist=["ScalarMappable"]).ScalarMappable(
        norm=norm, cmap=cmap
    )
    bar = fig.colorbar(
        sm,
        ax=ax,
        shrink=0.7,
        label="link utilisation [share of the collective's time busy, busier direction]",
    )
    if top > 1.0:
        bar.ax.axhline(1.0, color="white", linewidth=1.5)
        bar.ax.text(
            1.6, 1.0, "link rate", va="center", fontsize=9, transform=bar.ax.get_yaxis_transform()
        )


def _respread(pos: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """The drawn nodes of each level spread evenly over the widest level, in their order.

    A small group of a large domain is drawn as itself, not as a corner of the domain.
    """
    rows: dict[float, list[str]] = {}
    for n, (_, y) in pos.items():
        rows.setdefault(y, []).append(n)
    width = float(max((len(ns) for ns in rows.values()), default=1))
    out = {}
    for y, ns in rows.items():
        ns.sort(key=lambda n: pos[n][0])
        step = width / len(ns)
        out.update({n: ((k + 0.5) * step, y) for k, n in enumerate(ns)})
    return out


def _histogram(
    ax: Any, util: dict[tuple[str, str], float], cmap: Any, norm: Any, data: dict[str, Any]
) -> None:
    """One or two racks: links counted by utilisation (the rack matrix would be too small)."""
    values = np.array(list(util.values()), dtype=float)
    top = norm.vmax
    edges = np.linspace(0.0, top, 21)
    counts, _ = np.histogram(np.clip(values, 0.0, top), bins=edges)
    mids = (edges[:-1] + edges[1:]) / 2
    ax.bar(mids, counts, width=np.diff(edges), color=[cmap(norm(m)) for m in mids],
           edgecolor="white", linewidth=0.5)  # fmt: skip
    ax.set_xlim(0.0, top)
    ax.set_ylim(0, max(int(counts.max()), 1) * 1.15)
    ax.set_xlabel("link utilisation [share of the collective's time busy]", fontsize=10)
    ax.set_ylabel("links [count]", fontsize=10)
    ax.tick_params(labelsize=9)
    mat = np.array(data["rack_bytes"], dtype=float)
    total = float(mat.sum())
    if len(data["racks"]) == 1:
        where = f"all {human(total, 'data')} stay in rack {data['racks'][0]}"
    else:
        off = (total - float(np.trace(mat))) / total if total else 0.0
        where = f"{off:.0%} of {human(total, 'data')} leave their rack"
    ax.set_title(f"links by utilisation\n{where}", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _by_domain(
    ax: Any, G: nx.Graph, util: dict[tuple[str, str], float], cmap: Any, norm: Any
) -> str:
    """Domains as squares (their busiest scale-up link), leaves and spines above."""
    _, members = rack_level(G)
    where = {n: f"domain{d}" for d, ns in members.items() for n in ns}
    agg: dict[tuple[str, str], float] = {}
    for (u, v), x in util.items():
        a, b = where.get(u, u), where.get(v, v)
        key = (a, b) if a <= b else (b, a)
        agg[key] = max(agg.get(key, 0.0), x)
    inner = {a: x for (a, b), x in agg.items() if a == b}
    draw = {k: x for k, x in agg.items() if k[0] != k[1]}
    shown = {n for k in draw for n in k} | set(inner)
    doms = sorted((n for n in shown if n.startswith("domain")), key=lambda n: int(n[6:]))
    leaves = sorted(n for n in shown if not n.startswith("domain") and G.nodes[n]["kind"] == "leaf")
    spines = sorted(
        n for n in shown if not n.startswith("domain") and G.nodes[n]["kind"] == "spine"
    )
    width = float(max(len(leaves), len(spines), len(doms), 2))

    def row(ns: list[str], y: float) -> dict[str, tuple[float, float]]:
        return {n: ((k + 0.5) * width / len(ns), y) for k, n in enumerate(ns)}

    pos = {**row(doms, 0.0), **row(leaves, 2.0), **row(spines, 3.2)}
    _segments(ax, pos, draw, cmap, norm, 1.4)
    # Each domain's share of the axes' width [in] (the x range is 1.17 x `width`):
    # squares up to 0.28 in, narrower where
    # many stand side by side (a gap left between them), and every k-th domain labelled
    # where all the labels would not fit (about 0.09 in a character, 9 pt).
    room = ax.get_position().width * ax.figure.get_figwidth() / (1.17 * len(doms))
    roomy = 0.8 * room * 72 >= math.sqrt(_DOMAIN_SQUARE)
    ax.scatter(
        [pos[d][0] for d in doms],
        [pos[d][1] for d in doms],
        s=_DOMAIN_SQUARE if roomy else (0.8 * room * 72) ** 2,
        marker="s",
        c=[cmap(norm(inner.get(d, 0.0))) for d in doms],
        edgecolors="black",
        linewidths=None if roomy else 0.5,
        zorder=3,
    )
    widest = max(len(d[6:]) for d in doms)
    step = max(1, math.ceil((widest + 1) * 0.09 / room)) if len(doms) > 8 else 1
    for k, d in enumerate(doms):
        if k % step:
            continue
        name = f"domain {d[6:]}" if len(doms) <= 8 else d[6:]
        ax.text(pos[d][0], pos[d][1] - 0.32, name, ha="center", va="top", fontsize=9)
    for ns, kind in ((leaves, "leaf"), (spines, "spine")):
        ax.scatter(
            [pos[n][0] for n in ns],
            [pos[n][1] for n in ns],
            s=50,
            color=NODE_COLORS[kind],
            zorder=3,
            label=kind,
        )
    for y, label in ((0.0, "domains"), (2.0, "leaves"), (3.2, "spines")):
        ax.text(-0.02 * width, y, label, ha="right", va="center", fontsize=9)
    ax.set_xlim(-0.15 * width, width * 1.02)
    # Room above the spines for the legend, on one line (it sat on the last spines).
    ax.set_ylim(-0.9, 3.85)
    ax.legend(loc="upper right", fontsize=9, frameon=False, ncols=2, borderaxespad=0.0)
    return (
        "drawn by scale-up domain (square colour: its busiest scale-up link); lines: the "
        "busiest link between a domain and a leaf, and leaf-spine links"
    )


# A domain's square where there is room for it [pt^2, as scatter's s].
_DOMAIN_SQUARE = 420.0


def _matrix(
    fig: Any, ax: Any, G: nx.Graph, util: dict[tuple[str, str], float], cmap: Any, norm: Any
) -> str:
    """A dense switched domain: GPU x switch-plane utilisation as a grid."""
    gpus = sorted(
        {n for k in util for n in k if G.nodes[n]["kind"] == "gpu"},
        key=lambda n: G.nodes[n]["index"],
    )
    planes = sorted(
        {n for k in util for n in k if G.nodes[n]["kind"] == "switch"},
        key=lambda n: G.nodes[n]["index"],
    )
    grid = np.zeros((len(gpus), len(planes)))
    gi = {g: i for i, g in enumerate(gpus)}
    pi = {p: j for j, p in enumerate(planes)}
    for (u, v), x in util.items():
        g, p = (u, v) if u in gi else (v, u)
        if g in gi and p in pi:
            grid[gi[g], pi[p]] = max(grid[gi[g], pi[p]], x)
    ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_xlabel(f"switch plane (of {len(planes)})")
    ax.set_ylabel(f"GPU (of {len(gpus)})")
    step = max(1, len(planes) // 9)
    ax.set_xticks(range(0, len(planes), step), [str(j) for j in range(0, len(planes), step)])
    del fig
    return (
        "each cell: the link from a GPU to a switch plane, coloured by its busier "
        "direction's utilisation"
    )


def _segments(
    ax: Any,
    pos: dict[str, tuple[float, float]],
    util: dict[tuple[str, str], float],
    cmap: Any,
    norm: Any,
    width: float,
) -> None:
    from matplotlib.collections import LineCollection

    items = sorted(
        ((k, x) for k, x in util.items() if k[0] in pos and k[1] in pos), key=lambda kx: kx[1]
    )  # busiest drawn last, on top
    if not items:
        return
    lc = LineCollection(
        [[pos[u], pos[v]] for (u, v), _ in items],
        colors=[cmap(norm(x)) for _, x in items],
        linewidths=width,
        zorder=1,
    )
    ax.add_collection(lc)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)


def _heatmap(fig: Any, ax: Any, data: dict[str, Any]) -> None:
    mat = np.array(data["rack_bytes"], dtype=float)
    racks = data["racks"]
    scale = max(mat.max(), 1.0)
    im = ax.imshow(mat / 1e9, cmap="Blues", vmin=0, vmax=scale / 1e9)
    ticks = list(range(len(racks)))
    step = max(1, len(racks) // 8)
    ax.set_xticks(ticks[::step], [f"r{r}" for r in racks][::step], fontsize=9)
    ax.set_yticks(ticks[::step], [f"r{r}" for r in racks][::step], fontsize=9)
    ax.set_xlabel("to rack")
    ax.set_ylabel("from rack")
    if len(racks) <= 8:
        for i in range(len(racks)):
            for j in range(len(racks)):
                ax.text(
                    j,
                    i,
                    human(mat[i, j], "data"),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if mat[i, j] > scale / 2 else "black",
                )
    total = mat.sum()
    off = total - np.trace(mat)
    ax.set_title(
        f"rack-to-rack traffic\n{off / total:.0%} of the bytes leave their rack"
        if total
        else "rack-to-rack traffic",
        fontsize=10,
    )
    fig.colorbar(im, ax=ax, shrink=0.7, label="bytes sent [GB]")
