"""Facts about a built layout, computed on its graph: counts, bandwidths, bisection.

:func:`summarize` is what ``topo show`` prints; every number comes from the graph or
from the layout's catalogue entries, never from a constant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo._cut import cut_flow
from topo.build import gpu_nodes
from topo.layout import Layout

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "Bisection",
    "LinkRow",
    "NeighbourRange",
    "Summary",
    "bisection_bandwidth",
    "per_gpu_bandwidth",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class Bisection:
    """The narrowest of three balanced cuts.

    `bandwidth_bytes_per_s` [B/s, per direction] across the cut; `cut` says which
    split gave it; `gpus_each_side` [GPUs].
    """

    bandwidth_bytes_per_s: float
    cut: str
    gpus_each_side: int

    def to_dict(self) -> dict[str, Any]:
        """The cut as JSON: the fields in order."""
        return {
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "cut": self.cut,
            "gpus_each_side": self.gpus_each_side,
        }


@dataclass(frozen=True, slots=True)
class NeighbourRange:
    """Fewest and most scale-up neighbours of any GPU [GPUs, switches]."""

    min: int
    max: int

    def to_dict(self) -> dict[str, Any]:
        """``{"min": ..., "max": ...}``."""
        return {"min": self.min, "max": self.max}


@dataclass(frozen=True, slots=True)
class LinkRow:
    """The edges of one (kind, medium, link), summed.

    `edges`, `links`, `lanes` [counts]; `bandwidth_bytes_per_s` [B/s, per direction,
    summed over edges]; `length_m` [m, cable summed over links]; `longest_m` [m].
    """

    kind: str
    medium: str
    link: str
    edges: int
    links: int
    lanes: int
    bandwidth_bytes_per_s: float
    length_m: float
    longest_m: float

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON: the fields in order."""
        return {
            "kind": self.kind,
            "medium": self.medium,
            "link": self.link,
            "edges": self.edges,
            "links": self.links,
            "lanes": self.lanes,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "length_m": self.length_m,
            "longest_m": self.longest_m,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """The facts ``topo show`` prints about a built layout [SI units].

    Counts: `gpus`, `racks`, `gpus_per_rack`, `domains`, `domain_size`, `switches`,
    `leaves`, `spines`, `nodes`, `edges`, `scale_up_links_per_gpu`. Bandwidths per GPU
    per direction [B/s]: `scale_up_bandwidth_per_gpu_bytes_per_s`,
    `scale_out_bandwidth_per_gpu_bytes_per_s`, `hbm_bandwidth_per_gpu_bytes_per_s`
    (None when the catalogue has none); whole-cluster: `hbm_capacity_bytes` [B],
    `hbm_bandwidth_bytes_per_s` [B/s], `peak_flop_per_s` [FLOP/s by precision],
    `gpu_power_w` [W], `bisection_bandwidth_bytes_per_s` [B/s, per direction].
    `scale_up_to_scale_out_ratio` [dimensionless] is None without scale-out.
    """

    name: str
    description: str
    source: str
    accelerator: str
    accelerator_description: str
    gpus: int
    racks: int
    gpus_per_rack: int
    domains: int
    domain_size: int
    domain_span: str
    scale_up_topology: str
    scale_up_dims: tuple[int, ...]
    scale_up_link: str
    scale_up_links_per_gpu: int
    scale_up_neighbours_per_gpu: NeighbourRange
    scale_up_bandwidth_per_gpu_bytes_per_s: float
    scale_out_topology: str
    scale_out_link: str
    scale_out_bandwidth_per_gpu_bytes_per_s: float
    scale_up_to_scale_out_ratio: float | None
    switches: int
    leaves: int
    spines: int
    nodes: int
    edges: int
    links: tuple[LinkRow, ...]
    hbm_capacity_bytes: float
    hbm_bandwidth_bytes_per_s: float | None
    hbm_bandwidth_per_gpu_bytes_per_s: float | None
    peak_flop_per_s: Mapping[str, float]
    gpu_power_w: float | None
    bisection_bandwidth_bytes_per_s: float
    bisection_cut: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo show --json`` prints."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "accelerator": self.accelerator,
            "accelerator_description": self.accelerator_description,
            "gpus": self.gpus,
            "racks": self.racks,
            "gpus_per_rack": self.gpus_per_rack,
            "domains": self.domains,
            "domain_size": self.domain_size,
            "domain_span": self.domain_span,
            "scale_up_topology": self.scale_up_topology,
            "scale_up_dims": list(self.scale_up_dims),
            "scale_up_link": self.scale_up_link,
            "scale_up_links_per_gpu": self.scale_up_links_per_gpu,
            "scale_up_neighbours_per_gpu": self.scale_up_neighbours_per_gpu.to_dict(),
            "scale_up_bandwidth_per_gpu_bytes_per_s": self.scale_up_bandwidth_per_gpu_bytes_per_s,
            "scale_out_topology": self.scale_out_topology,
            "scale_out_link": self.scale_out_link,
            "scale_out_bandwidth_per_gpu_bytes_per_s": self.scale_out_bandwidth_per_gpu_bytes_per_s,
            "scale_up_to_scale_out_ratio": self.scale_up_to_scale_out_ratio,
            "switches": self.switches,
            "leaves": self.leaves,
            "spines": self.spines,
            "nodes": self.nodes,
            "edges": self.edges,
            "links": [r.to_dict() for r in self.links],
            "hbm_capacity_bytes": self.hbm_capacity_bytes,
            "hbm_bandwidth_bytes_per_s": self.hbm_bandwidth_bytes_per_s,
            "hbm_bandwidth_per_gpu_bytes_per_s": self.hbm_bandwidth_per_gpu_bytes_per_s,
            "peak_flop_per_s": dict(self.peak_flop_per_s),
            "gpu_power_w": self.gpu_power_w,
            "bisection_bandwidth_bytes_per_s": self.bisection_bandwidth_bytes_per_s,
            "bisection_cut": self.bisection_cut,
            "sources": list(self.sources),
        }


def per_gpu_bandwidth(G: nx.Graph, kind: str) -> list[float]:
    """Per GPU, the summed bandwidth [B/s, per direction] of its `kind` edges."""
    adj = G.adj
    # The GPU's edges in G.edges(g) order, summed by sum() as before: the same floats.
    return [
        sum([a["bandwidth"] for a in adj[g].values() if a["kind"] == kind]) for g in gpu_nodes(G)
    ]


def bisection_bandwidth(G: nx.Graph, *, kind: str = "scale_out") -> Bisection:
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
        return Bisection(0.0, "fewer than 2 GPUs", 0)
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
    return Bisection(value, f"{half} GPUs | {half} GPUs in {label}, {kind} links only", half)


def _max_flow(G: nx.Graph, kind: str, side_a: list[str], side_b: list[str]) -> float:
    import networkx as nx

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


def _bisection_by_max_flow(G: nx.Graph, *, kind: str = "scale_out") -> Bisection:
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
        return Bisection(0.0, "fewer than 2 GPUs", 0)
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
    return Bisection(value, f"{half} GPUs | {half} GPUs in {label}, {kind} links only", half)


def _links_table(G: nx.Graph) -> tuple[LinkRow, ...]:
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
    return tuple(LinkRow(**rows[k]) for k in sorted(rows))


def summarize(
    layout: Layout, G: nx.Graph, progress: Callable[[int, int], None] | None = None
) -> Summary:
    """The facts ``topo show`` prints [SI units]; ``.to_dict()`` is its JSON.

    `progress`: called as ``progress(done, total)`` after each of its 4 parts (per-GPU
    bandwidths, neighbours, bisection, links table).
    """
    tick = progress or (lambda done, total: None)
    acc = layout.accelerator
    n = layout.n_gpus
    kinds = Counter(a["kind"] for _, a in G.nodes(data=True))
    up = per_gpu_bandwidth(G, "scale_up")
    out = per_gpu_bandwidth(G, "scale_out")
    tick(1, 4)
    adj = G.adj
    degree = [sum(1 for a in adj[g].values() if a["kind"] == "scale_up") for g in gpu_nodes(G)]
    tick(2, 4)
    bis = bisection_bandwidth(G)
    tick(3, 4)
    links = _links_table(G)
    tick(4, 4)
    up_bw = max(up, default=0.0)
    out_bw = max(out, default=0.0)
    hbm_bw = acc.hbm_bandwidth_bytes_per_s
    return Summary(
        name=layout.name,
        description=layout.description,
        source=layout.source,
        accelerator=acc.name,
        accelerator_description=acc.description,
        gpus=n,
        racks=layout.cluster.racks,
        gpus_per_rack=layout.rack.gpus,
        domains=len({G.nodes[g]["domain"] for g in gpu_nodes(G)}),
        domain_size=layout.gpus_per_domain,
        domain_span=layout.scale_up.domain
        if layout.scale_up.racks_per_domain == 1
        else f"{layout.scale_up.racks_per_domain} racks",
        scale_up_topology=layout.scale_up.topology,
        scale_up_dims=tuple(layout.scale_up.dims),
        scale_up_link=layout.scale_up.link.name,
        scale_up_links_per_gpu=layout.scale_up.links_per_gpu,
        scale_up_neighbours_per_gpu=NeighbourRange(min(degree, default=0), max(degree, default=0)),
        scale_up_bandwidth_per_gpu_bytes_per_s=up_bw,
        scale_out_topology=layout.scale_out.topology,
        scale_out_link=layout.scale_out.link.name,
        scale_out_bandwidth_per_gpu_bytes_per_s=out_bw,
        scale_up_to_scale_out_ratio=up_bw / out_bw if out_bw else None,
        switches=kinds.get("switch", 0),
        leaves=kinds.get("leaf", 0),
        spines=kinds.get("spine", 0),
        nodes=G.number_of_nodes(),
        edges=G.number_of_edges(),
        links=links,
        hbm_capacity_bytes=acc.hbm_capacity_bytes * n,
        hbm_bandwidth_bytes_per_s=hbm_bw * n if hbm_bw is not None else None,
        hbm_bandwidth_per_gpu_bytes_per_s=hbm_bw,
        peak_flop_per_s={k: v * n for k, v in acc.peak_flop_per_s.items()},
        gpu_power_w=acc.power_w * n if acc.power_w is not None else None,
        bisection_bandwidth_bytes_per_s=bis.bandwidth_bytes_per_s,
        bisection_cut=bis.cut,
        sources=tuple(acc.sources),
    )
