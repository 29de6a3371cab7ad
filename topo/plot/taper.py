"""Bandwidth taper: how much bandwidth one GPU has at each tier of the hierarchy.

One bar per tier, per GPU and per direction, on a log axis: the GPU's own memory (HBM),
its scale-up links (NVLink, Infinity Fabric, ICI: every scale-up edge of the GPU summed),
its NIC (scale-out per GPU), the scale-out fabric above the leaves (the leaf-to-spine
links summed, shared by all GPUs) and the bisection (the narrowest of
:func:`topo.stats.bisection_bandwidth`'s balanced cuts, shared by the GPUs of one half).
Each bar carries its value and how many times less it is than the tier above it; the
subtitle states the fat tree's oversubscription. Every number is the library's:
:func:`topo.stats.summarize` for HBM, scale-up, NIC and bisection, the graph's own
leaf-to-spine edges for the tier above the leaves.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from topo._progress import part
from topo.build import build_graph
from topo.plot._style import NODE_COLORS, figure, human, log_axis
from topo.stats import summarize

if TYPE_CHECKING:
    from collections.abc import Callable

    import networkx as nx
    from matplotlib.figure import Figure

    from topo.layout import Layout

__all__ = ["Tier", "taper_figure", "taper_tiers"]

_COLORS = {
    "hbm": NODE_COLORS["gpu"],
    "scale_up": NODE_COLORS["switch"],
    "nic": NODE_COLORS["leaf"],
    "spine": NODE_COLORS["spine"],
    "bisection": NODE_COLORS["spine"],
}


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of the bandwidth hierarchy, per GPU.

    `key`: ``"hbm"``, ``"scale_up"``, ``"nic"``, ``"spine"`` or ``"bisection"``; `label`:
    the tier as the figure names it; `bandwidth_per_gpu_bytes_per_s` [B/s per GPU, per
    direction]; `detail`: where the number comes from, for the axis label.
    """

    key: str
    label: str
    bandwidth_per_gpu_bytes_per_s: float
    detail: str


def _spine_per_gpu(G: nx.Graph, gpus: int) -> tuple[float, int]:
    """The leaf-to-spine links' bandwidth [B/s per direction] over all GPUs, and spines."""
    nodes = G.nodes
    total = 0.0
    for u, v, a in G.edges(data=True):
        if {nodes[u]["kind"], nodes[v]["kind"]} == {"leaf", "spine"}:
            total += a["bandwidth"]
    spines = sum(1 for _, a in G.nodes(data=True) if a["kind"] == "spine")
    return total / gpus if gpus else 0.0, spines


def taper_tiers(
    layout: Layout,
    G: nx.Graph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Tier, ...]:
    """The tiers :func:`taper_figure` draws, top first; tiers the layout lacks are left out.

    HBM from the accelerator (when the catalogue gives it); scale-up and NIC as
    :func:`topo.stats.summarize` reports them (the most any GPU has); the tier above the
    leaves as the graph's leaf-to-spine bandwidth over all GPUs; the bisection over the
    GPUs of one half (``summarize``'s bisection / (GPUs / 2)). `progress(done, total)`:
    per cent of the work (building the graph, then its summary).
    """
    G = build_graph(layout, progress=part(progress, 0, 45)) if G is None else G
    s = summarize(layout, G, progress=part(progress, 45, 95))
    tiers: list[Tier] = []
    if s.hbm_bandwidth_per_gpu_bytes_per_s:
        tiers.append(Tier("hbm", "HBM", s.hbm_bandwidth_per_gpu_bytes_per_s, s.accelerator))
    if s.scale_up_bandwidth_per_gpu_bytes_per_s > 0:
        su = layout.scale_up
        tiers.append(
            Tier(
                "scale_up",
                "scale-up",
                s.scale_up_bandwidth_per_gpu_bytes_per_s,
                f"{su.links_per_gpu} x {su.link.name}",
            )
        )
    if s.scale_out_bandwidth_per_gpu_bytes_per_s > 0:
        so = layout.scale_out
        nic = human(so.nic_bandwidth_bytes_per_s * 8, "bitrate")
        tiers.append(
            Tier("nic", "NIC", s.scale_out_bandwidth_per_gpu_bytes_per_s, f"{nic} {so.link.name}")
        )
        spine, spines = _spine_per_gpu(G, s.gpus)
        if spine > 0:
            tiers.append(
                Tier(
                    "spine",
                    "leaf uplinks",
                    spine,
                    f"{s.leaves:,} leaves to {spines:,} spine{'s' if spines != 1 else ''}",
                )
            )
        half = s.gpus // 2
        if half and s.bisection_bandwidth_bytes_per_s > 0:
            tiers.append(
                Tier(
                    "bisection",
                    "bisection",
                    s.bisection_bandwidth_bytes_per_s / half,
                    f"{half:,} | {half:,} GPUs",
                )
            )
    return tuple(tiers)


def _ratio(above: float, value: float) -> str:
    """The ratio of `value` to the tier above it: "9x less", "same", "2x more"."""
    r = above / value
    if abs(r - 1) < 0.005:
        return "same"
    word = "less" if r > 1 else "more"
    r = max(r, 1 / r)
    return f"{r:,.0f}x {word}" if r >= 9.95 else f"{r:.2g}x {word}"


def _oversubscription(layout: Layout) -> str:
    so = layout.scale_out
    if so.topology == "none":
        return "no scale-out fabric"
    s = so.oversubscription
    kind = "non-blocking" if s == 1 else "oversubscribed"
    return f"{so.topology.replace('_', ' ')} {s:g}:1 ({kind}) leaf to spine"


def taper_figure(
    layout: Layout,
    *,
    graph: nx.Graph | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Figure:
    """Bars of per-GPU bandwidth [GB/s, per direction] by tier, labelled with ratios.

    Each bar carries its value and the ratio to the tier above; `graph`: the layout's,
    if already built (else built here); `progress(done, total)`: per cent of the work.
    """
    tiers = taper_tiers(layout, graph, progress)
    width = max(7.5, 1.6 * len(tiers) + 2.0)
    fig: Figure = figure(width, 5.2)
    ax = fig.subplots()
    values = [t.bandwidth_per_gpu_bytes_per_s / 1e9 for t in tiers]
    xs = list(range(len(tiers)))
    for x, t, v in zip(xs, tiers, values, strict=True):
        ax.bar(
            x,
            v,
            0.62,
            color=_COLORS[t.key],
            hatch="//" if t.key == "bisection" else None,
            edgecolor="white",
            gid=t.key,
        )
        label = human(t.bandwidth_per_gpu_bytes_per_s, "bandwidth")
        if x:
            label += "\n" + _ratio(tiers[x - 1].bandwidth_per_gpu_bytes_per_s, v * 1e9)
        ax.annotate(
            label,
            (x, v),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
            gid=f"label:{t.key}",
        )
    lo, hi = min(values, default=1.0), max(values, default=1.0)
    log_axis(ax, "y", " GB/s")
    ax.set_ylim(lo / 2.5, hi * 3)
    ax.set_xlim(-0.6, len(tiers) - 0.4)
    ax.set_xticks(xs, [f"{t.label}\n{t.detail}" for t in tiers], fontsize=9)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_ylabel("bandwidth per GPU, per direction [GB/s]", fontsize=10)
    ax.grid(True, axis="y", which="major", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.suptitle(f"{layout.name}: bandwidth per GPU, tier by tier", fontsize=12, weight="bold")
    sub = (
        f"{layout.n_gpus:,} x {layout.accelerator.name}; {_oversubscription(layout)}; "
        "ratios against the tier on the left; leaf uplinks and bisection shared out over "
        "the GPUs that share them"
    )
    ax.set_title("\n".join(textwrap.wrap(sub, int(width * 13))), fontsize=9, loc="left")
    if progress is not None:
        progress(100, 100)
    return fig
