"""Where each node of a drawing goes: pure functions of the graph (no matplotlib here)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from topo.build import gpu_nodes

__all__ = ["gpu_level", "rack_level", "torus_slices"]

GPU_LEVEL_MAX = 128  # above this, single GPUs blur: draw domains as boxes


def _spread(nodes: list[str], y: float, x0: float, x1: float) -> dict[str, tuple[float, float]]:
    if not nodes:
        return {}
    if len(nodes) == 1:
        return {nodes[0]: ((x0 + x1) / 2, y)}
    step = (x1 - x0) / (len(nodes) - 1)
    return {n: (x0 + i * step, y) for i, n in enumerate(nodes)}


def _by_kind(G: nx.Graph, kind: str) -> list[str]:
    return sorted(
        (n for n, a in G.nodes(data=True) if a["kind"] == kind),
        key=lambda n: (G.nodes[n]["rack"], G.nodes[n]["index"], n),
    )


def gpu_level(G: nx.Graph) -> dict[str, tuple[float, float]]:
    """GPUs in a row grouped by domain, their switches above, leaves and spines on top."""
    gpus = gpu_nodes(G)
    pos: dict[str, tuple[float, float]] = {}
    x = 0.0
    domains: dict[int, list[str]] = {}
    for g in gpus:
        domains.setdefault(G.nodes[g]["domain"], []).append(g)
    spans = {}
    for d, members in domains.items():
        start = x
        for g in members:
            pos[g] = (x, 0.0)
            x += 1.0
        spans[d] = (start, x - 1.0)
        x += 2.0  # a gap between domains
    width = max(x - 3.0, 1.0)
    switches = _by_kind(G, "switch")
    for d, (a, b) in spans.items():
        mine = [s for s in switches if G.nodes[s]["domain"] == d]
        inset = 0.5 if b - a >= 2 else 0.0  # off the GPUs' verticals to their leaves
        pos.update(_spread(mine, 1.0, a + inset, b - inset))
    pos.update(_spread(_by_kind(G, "leaf"), 2.0, 0.0, width))
    pos.update(_spread(_by_kind(G, "spine"), 3.0, width * 0.1, width * 0.9))
    return pos


def rack_level(G: nx.Graph) -> tuple[dict[str, tuple[float, float]], dict[int, list[str]]]:
    """One box per scale-up domain in a row; leaves and spines above (domain -> its nodes)."""
    members: dict[int, list[str]] = {}
    for n, a in G.nodes(data=True):
        if a["kind"] in ("gpu", "switch"):
            members.setdefault(a["domain"], []).append(n)
    doms = sorted(members)
    pos: dict[str, tuple[float, float]] = {
        f"domain{d}": (float(i), 0.0) for i, d in enumerate(doms)
    }
    width = max(len(doms) - 1, 1)
    pos.update(_spread(_by_kind(G, "leaf"), 2.0, 0.0, float(width)))
    pos.update(_spread(_by_kind(G, "spine"), 3.2, width * 0.05, width * 0.95))
    return pos, members


def torus_slices(G: nx.Graph, dims: tuple[int, ...]) -> dict[str, tuple[float, float]]:
    """A 3-D (or 2-D) torus as side-by-side panels of its z slices, x across, y down."""
    pos: dict[str, tuple[float, float]] = {}
    nx_, ny = dims[0], dims[1] if len(dims) > 1 else 1
    gap = 1.5
    for g in gpu_nodes(G):
        c = [int(v) for v in G.nodes[g]["coords"].split(",")]
        while len(c) < 3:
            c.append(0)
        # c is (x, y, z) in C order: the last coordinate varies fastest.
        x, y, z = c[0], c[1], c[2]
        pos[g] = (z * (ny + gap) + y, -float(x))
    del nx_
    return pos


def summary_text(summary: dict[str, Any]) -> str:
    """One line under a topology figure."""
    from topo.units import format_quantity

    up = format_quantity(summary["scale_up_bandwidth_per_gpu_bytes_per_s"], "bandwidth")
    out = format_quantity(summary["scale_out_bandwidth_per_gpu_bytes_per_s"], "bandwidth")
    return (
        f"{summary['gpus']:,} GPUs in {summary['domains']:,} domain(s) of "
        f"{summary['domain_size']}; per GPU {up} scale-up, {out} scale-out (per direction)"
    )
