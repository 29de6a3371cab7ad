"""Facts about a built layout, computed on its graph: counts, bandwidths, bisection.

:func:`summarize` is what ``topo show`` prints; every number comes from the graph or
from the layout's catalogue entries, never from a constant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
import numpy as np

from topo._cut import cut_flow
from topo.build import gpu_nodes
from topo.layout import Layout

__all__ = ["bisection_bandwidth", "per_gpu_bandwidth", "summarize"]


def per_gpu_bandwidth(G: nx.Graph, kind: str) -> list[float]:
    """Per GPU, the summed bandwidth [B/s, per direction] of its `kind` edges."""
    adj = G.adj
    # The GPU's edges in G.edges(g) order, summed by sum() as before: the same floats.
    return [
        sum([a["bandwidth"] for a in adj[g].values() if a["kind"] == kind]) for g in gpu_nodes(G)
    ]


def bisection_bandwidth(G: nx.Graph, *, kind: str = "scale_out") -> dict[str, Any]:
    """Bandwidth [B/s, per direction] across the narrowest of three balanced cuts.

    The GPUs are ordered three ways -- by rank (the first half of the racks against
    the second), rail by rail, and leaf by leaf (whole leaves on each side) -- and
    split in half. For each split, the graph is reduced to the edges of `kind` and
    the maximum flow from one half to the other is the bandwidth across the cut; the
    smallest is reported, with the cut that gave it (the first of the three on a tie).

    Notes
    -----
    A true bisection is the minimum over all balanced cuts (NP-hard in general). For
    the fabrics topo builds the leaf-aligned cut is the narrow one: every byte across
    it climbs to a spine. A non-blocking fat tree gives N/2 x NIC bandwidth; one
    oversubscribed s:1 gives about N/2 x NIC / s.

    Each flow is computed on a contracted graph (:func:`topo._cut.cut_flow`): each
    side's GPUs become the source or the sink, so a leaf keeps the NIC bandwidth of
    its GPUs on each side, and spines (or switch planes, or leaves wholly on one side)
    with the same links become one node. An even fat tree contracts to a star, whose
    flow has a closed form; an uneven one (a last leaf with fewer uplinks than the
    spines) to a few nodes for a maximum flow. The value and cut are those of three
    maximum flows on the whole graph (:func:`_bisection_by_max_flow`), in seconds at
    topo's GPU limit.
    """
    gpus = gpu_nodes(G)
    n = len(gpus)
    if n < 2:
        return {"bandwidth_bytes_per_s": 0.0, "cut": "fewer than 2 GPUs", "gpus_each_side": 0}
    ids: dict[str, int] = {}
    us: list[int] = []
    vs: list[int] = []
    caps: list[float] = []
    for x, y, attrs in G.edges(data=True):
        if attrs["kind"] == kind:
            us.append(ids.setdefault(x, len(ids)))
            vs.append(ids.setdefault(y, len(ids)))
            caps.append(attrs["bandwidth"])
    u = np.array(us, dtype=np.intp)
    v = np.array(vs, dtype=np.intp)
    cap = np.array(caps, dtype=np.float64)
    node = np.array([ids.get(g, -1) for g in gpus], dtype=np.intp)  # -1: no `kind` edge
    nodes = G.nodes

    def leaf_of(g: str) -> int:
        for nb in G.neighbors(g):
            if nodes[nb]["kind"] == "leaf":
                return int(nodes[nb]["index"])
        return -1

    # gpus are in rank order, so a stable sort by rail (leaf) breaks ties by rank.
    orders = {
        "rank order": np.arange(n),
        "rail by rail": np.argsort([nodes[g]["rail"] for g in gpus], kind="stable"),
        "leaf by leaf": np.argsort([leaf_of(g) for g in gpus], kind="stable"),
    }
    half = n // 2
    best: tuple[float, str] | None = None
    for label, order in orders.items():
        side = np.zeros(len(ids), dtype=np.int8)
        for s, part in ((1, order[:half]), (2, order[n - half :])):
            at = node[part]
            side[at[at >= 0]] = s
        value = cut_flow(side, u, v, cap)
        if best is None or value < best[0]:
            best = (value, label)
    value, label = best if best else (0.0, "")
    return {
        "bandwidth_bytes_per_s": value,
        "cut": f"{half} GPUs | {half} GPUs in {label}, {kind} links only",
        "gpus_each_side": half,
    }


def _max_flow(G: nx.Graph, kind: str, side_a: list[str], side_b: list[str]) -> float:
    D = nx.DiGraph()
    for a, b, attrs in G.edges(data=True):
        if attrs["kind"] == kind:
            D.add_edge(a, b, capacity=attrs["bandwidth"])
            D.add_edge(b, a, capacity=attrs["bandwidth"])
    src, dst = "__source__", "__sink__"
    for g in side_a:
        D.add_edge(src, g)  # no capacity attribute: unbounded
    for g in side_b:
        D.add_edge(g, dst)
    return float(nx.maximum_flow_value(D, src, dst))


def _bisection_by_max_flow(G: nx.Graph, *, kind: str = "scale_out") -> dict[str, Any]:
    """The reference for :func:`bisection_bandwidth`: three max-flows on the whole graph.

    Bandwidth [B/s, per direction] across the narrowest of three balanced cuts.

    The GPUs are ordered three ways -- by rank (the first half of the racks against
    the second), rail by rail, and leaf by leaf (whole leaves on each side) -- and
    split in half. For each split, the graph is reduced to the edges of `kind` and
    the maximum flow from one half to the other is the bandwidth across the cut; the
    smallest is reported, with the cut that gave it.

    Notes
    -----
    A true bisection is the minimum over all balanced cuts (NP-hard in general). For
    the fabrics topo builds the leaf-aligned cut is the narrow one: every byte across
    it climbs to a spine. A non-blocking fat tree gives N/2 x NIC bandwidth; one
    oversubscribed s:1 gives about N/2 x NIC / s.
    """
    gpus = gpu_nodes(G)
    n = len(gpus)
    if n < 2:
        return {"bandwidth_bytes_per_s": 0.0, "cut": "fewer than 2 GPUs", "gpus_each_side": 0}
    rank = {g: i for i, g in enumerate(gpus)}

    def leaf_of(g: str) -> int:
        for nb in G.neighbors(g):
            if G.nodes[nb]["kind"] == "leaf":
                return int(G.nodes[nb]["index"])
        return -1

    orders = {
        "rank order": gpus,
        "rail by rail": sorted(gpus, key=lambda g: (G.nodes[g]["rail"], rank[g])),
        "leaf by leaf": sorted(gpus, key=lambda g: (leaf_of(g), rank[g])),
    }
    half = n // 2
    best: tuple[float, str] | None = None
    for label, order in orders.items():
        value = _max_flow(G, kind, order[:half], order[n - half :])
        if best is None or value < best[0]:
            best = (value, label)
    value, label = best if best else (0.0, "")
    return {
        "bandwidth_bytes_per_s": value,
        "cut": f"{half} GPUs | {half} GPUs in {label}, {kind} links only",
        "gpus_each_side": half,
    }


def _links_table(G: nx.Graph) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _, _, a in G.edges(data=True):
        key = (a["kind"], a["medium"], a["link"])
        r = rows.get(key)
        if r is None:
            r = rows[key] = {
                "kind": a["kind"],
                "medium": a["medium"],
                "link": a["link"],
                "edges": 0,
                "links": 0,
                "lanes": 0,
                "bandwidth_bytes_per_s": 0.0,
                "length_m": 0.0,
                "longest_m": 0.0,
            }
        r["edges"] += 1
        r["links"] += a["links"]
        r["lanes"] += a["lanes"]
        r["bandwidth_bytes_per_s"] += a["bandwidth"]
        r["length_m"] += a["length"] * a["links"]
        r["longest_m"] = max(r["longest_m"], a["length"])
    return [rows[k] for k in sorted(rows)]


def summarize(layout: Layout, G: nx.Graph) -> dict[str, Any]:
    """The facts ``topo show`` prints, as plain JSON-ready data in SI units."""
    acc = layout.accelerator
    n = layout.n_gpus
    kinds = Counter(a["kind"] for _, a in G.nodes(data=True))
    up = per_gpu_bandwidth(G, "scale_up")
    out = per_gpu_bandwidth(G, "scale_out")
    adj = G.adj
    degree = [sum(1 for a in adj[g].values() if a["kind"] == "scale_up") for g in gpu_nodes(G)]
    bis = bisection_bandwidth(G)
    up_bw = max(up, default=0.0)
    out_bw = max(out, default=0.0)
    hbm_bw = acc.hbm_bandwidth_bytes_per_s
    return {
        "name": layout.name,
        "description": layout.description,
        "source": layout.source,
        "accelerator": acc.name,
        "accelerator_description": acc.description,
        "gpus": n,
        "racks": layout.cluster.racks,
        "gpus_per_rack": layout.rack.gpus,
        "domains": len({G.nodes[g]["domain"] for g in gpu_nodes(G)}),
        "domain_size": layout.gpus_per_domain,
        "domain_span": layout.scale_up.domain
        if layout.scale_up.racks_per_domain == 1
        else f"{layout.scale_up.racks_per_domain} racks",
        "scale_up_topology": layout.scale_up.topology,
        "scale_up_dims": list(layout.scale_up.dims),
        "scale_up_link": layout.scale_up.link.name,
        "scale_up_links_per_gpu": layout.scale_up.links_per_gpu,
        "scale_up_neighbours_per_gpu": {
            "min": min(degree, default=0),
            "max": max(degree, default=0),
        },
        "scale_up_bandwidth_per_gpu_bytes_per_s": up_bw,
        "scale_out_topology": layout.scale_out.topology,
        "scale_out_link": layout.scale_out.link.name,
        "scale_out_bandwidth_per_gpu_bytes_per_s": out_bw,
        "scale_up_to_scale_out_ratio": up_bw / out_bw if out_bw else None,
        "switches": kinds.get("switch", 0),
        "leaves": kinds.get("leaf", 0),
        "spines": kinds.get("spine", 0),
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "links": _links_table(G),
        "hbm_capacity_bytes": acc.hbm_capacity_bytes * n,
        "hbm_bandwidth_bytes_per_s": hbm_bw * n if hbm_bw is not None else None,
        "hbm_bandwidth_per_gpu_bytes_per_s": hbm_bw,
        "peak_flop_per_s": {k: v * n for k, v in acc.peak_flop_per_s.items()},
        "gpu_power_w": acc.power_w * n if acc.power_w is not None else None,
        "bisection_bandwidth_bytes_per_s": bis["bandwidth_bytes_per_s"],
        "bisection_cut": bis["cut"],
        "sources": list(acc.sources),
    }
