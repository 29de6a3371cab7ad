"""``build_graph(layout) -> nx.Graph``: every GPU, switch and link of a layout.

Nodes are physical things (``gpu``, ``switch``, ``leaf``, ``spine``) with their rack,
scale-up domain and rack-unit position; edges are links with bandwidth per
direction [B/s], latency [s], medium, length [m], lanes and link count (the
attributes are listed in :mod:`topo.schema`). Parallel links between the same two
nodes are one edge whose ``links``, ``lanes`` and ``bandwidth`` are the sums.

Node ids are readable and stable: ``r3/gpu17`` (GPU 17 of rack 3), ``r0/sw5``
(scale-up switch chip 5 in rack 0), ``r0/t2/sw1`` (switch chip on the board of tray
2), ``d4/sw0`` (a switch plane of domain 4 with no tray of its own),
``fabric/leaf1.0`` (leaf 0 of rail 1) and ``fabric/spine7``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from topo import __version__
from topo.layout import Layout

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["RACK_UNIT_M", "build_graph", "gpu_nodes"]

RACK_UNIT_M = 0.04445  # EIA-310: 1.75 in


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one tray sits: rack, tray index in the elevation, lowest U."""

    rack: int
    tray: int
    u: float
    gpus: int
    chips: int


def _elevation(layout: Layout, rack: int) -> list[_Slot]:
    """Trays of one rack, top to bottom, with their lowest rack unit (U1 at the bottom)."""
    slots = []
    top = float(layout.rack.height_u)  # the first device's top edge is the rack's top
    tray = 0
    for dev in layout.rack.devices:
        for _ in range(dev.count):
            slots.append(_Slot(rack, tray, top - dev.height_u + 1, dev.gpus, dev.switch_chips))
            top -= dev.height_u
            tray += 1
    return slots


def layout_slots(layout: Layout) -> list[_Slot]:
    """Every tray of every rack, rack by rack, top to bottom."""
    return [s for r in range(layout.cluster.racks) for s in _elevation(layout, r)]


@dataclass(slots=True)  # not frozen: a layout makes thousands, and frozen inits are slow
class GpuSlot:
    """One GPU as :func:`build_graph` names and places it."""

    name: str
    rack: int
    domain: int
    u: float
    tray: int
    index: int
    local: int  # position on its tray
    rail: int


def layout_gpus(layout: Layout, slots: list[_Slot] | None = None) -> list[GpuSlot]:
    """The layout's GPUs in rank order (the graph's GPU nodes, without the graph)."""
    su = layout.scale_up
    per_rack, rails, by_tray = layout.rack.gpus, layout.scale_out.rails, su.domain == "tray"
    out = []
    index = 0
    tray_domain = 0
    for s in layout_slots(layout) if slots is None else slots:
        if not s.gpus:
            continue
        dom = tray_domain if by_tray else s.rack // su.racks_per_domain
        first = s.rack * per_rack
        for j in range(s.gpus):
            name = f"r{s.rack}/gpu{index - first}"
            out.append(GpuSlot(name, s.rack, dom, s.u, s.tray, index, j, j % rails))
            index += 1
        tray_domain += 1
    return out


_GPUS: weakref.WeakKeyDictionary[nx.Graph, tuple[int, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def gpu_nodes(G: nx.Graph) -> list[str]:
    """GPU node ids in rank order (the ``index`` attribute); kept while the graph's size is."""
    n = G.number_of_nodes()
    hit = _GPUS.get(G)
    if hit is None or hit[0] != n:
        gpus = [(a["index"], node) for node, a in G.nodes(data=True) if a["kind"] == "gpu"]
        hit = (n, tuple(node for _, node in sorted(gpus)))
        _GPUS[G] = hit
    return list(hit[1])


def _add_node(G: nx.Graph, node: str, kind: str, **attrs: float | int | str) -> None:
    """Add a node with every attribute of the schema: -1 or "" where it has none."""
    base: dict[str, float | int | str] = {
        "rack": -1,
        "domain": -1,
        "u": -1.0,
        "tray": -1,
        "index": -1,
        "local": -1,
        "coords": "",
        "rail": -1,
    }
    G.add_node(node, kind=kind, **{**base, **attrs})


def _cable_m(a: dict[str, float], b: dict[str, float], layout: Layout) -> float:
    """Cable run between two nodes in racks: vertical + across racks + slack [m]."""
    vertical = abs(a["u"] - b["u"]) * RACK_UNIT_M if a["u"] >= 0 and b["u"] >= 0 else 0.0
    across = abs(a["rack"] - b["rack"]) * layout.rack.width_m
    return float(vertical + across + layout.scale_up.cable_slack_m)


@dataclass(frozen=True, slots=True)
class _Wire:
    """What one kind of link between two nodes is made of."""

    kind: str  # scale_up | scale_out
    link: str  # catalogue name
    bandwidth_per_link: float  # [B/s] per direction
    lanes_per_link: int
    latency_s: float
    medium: str
    length_m: float | None = None  # None: from the two nodes' positions


_Edges = dict[tuple[str, str], dict[str, Any]]


def _add_link(
    G: nx.Graph, edges: _Edges, a: str, b: str, n_links: int, wire: _Wire, layout: Layout
) -> None:
    """Add `n_links` links of `wire` between `a` and `b`, bundling parallel links in one edge.

    The edge goes into `edges` (in the order it is first added); :func:`build_graph`
    adds them all to `G` at the end, in one call.
    """
    if n_links <= 0 or a == b:
        return
    e = edges.get((a, b))
    if e is None:
        e = edges.get((b, a))
    if e is not None:
        e["links"] += n_links
        e["lanes"] += n_links * wire.lanes_per_link
        e["bandwidth"] += n_links * wire.bandwidth_per_link
        return
    length = wire.length_m
    if length is None:
        length = _cable_m(G.nodes[a], G.nodes[b], layout)
    edges[a, b] = {
        "kind": wire.kind,
        "bandwidth": n_links * wire.bandwidth_per_link,
        "latency": wire.latency_s,
        "medium": wire.medium,
        "length": length,
        "lanes": n_links * wire.lanes_per_link,
        "links": n_links,
        "link": wire.link,
    }


def build_graph(layout: Layout, progress: Callable[[int, int], None] | None = None) -> nx.Graph:
    """Build the graph of every GPU, switch and link of `layout`.

    Parameters
    ----------
    layout
        A checked layout (:func:`topo.layout.load_layout`).
    progress
        Called as ``progress(done, total)`` as the graph is built: one step per
        scale-up domain, then as many again for the scale-out fabric and the links
        added (about the time they take on a large rail-optimised fat tree).

    Returns
    -------
    networkx.Graph
        Nodes and edges with the attributes of :data:`topo.schema.NODE_ATTRS` and
        :data:`topo.schema.EDGE_ATTRS`; ``G.graph`` holds ``layout``, ``accelerator``
        and ``topo_version``.

    Notes
    -----
    Switched domains connect every GPU to every switch plane: ``links_per_gpu`` links
    spread as evenly as they go over the domain's switch chips (NVL72: 18 links on 18
    chips, one each, 72 x 18 = 1,296 edges). Tori get dimension-order neighbours at
    +-1 in each dimension, closing each ring when ``wraparound``. Full meshes get
    ``links_per_gpu // (n - 1)`` links per pair. The rail-optimised fat tree puts
    GPU ``i`` of every tray on rail ``i mod rails``; leaves split their ports
    down:up by the oversubscription; spines are as many as the uplinks need.
    """
    import networkx as nx  # here, not at import: commands that need no graph skip it

    G = nx.Graph(
        layout=layout.name,
        accelerator=layout.accelerator.name,
        topo_version=__version__,
        scale_up_topology=layout.scale_up.topology,
        scale_up_domain=layout.scale_up.domain,
        torus_dims=",".join(map(str, layout.scale_up.dims)),
        wraparound=layout.scale_up.wraparound,
        scale_up_overhead=layout.scale_up.collective_overhead_s,
        scale_out_overhead=layout.scale_out.collective_overhead_s,
        scale_up_link=layout.scale_up.link.name,
        scale_out_link=layout.scale_out.link.name,
        hbm_capacity_bytes=layout.accelerator.hbm_capacity_bytes,
    )
    slots = layout_slots(layout)
    for g in layout_gpus(layout, slots):
        _add_node(
            G, g.name, "gpu", rack=g.rack, domain=g.domain, u=g.u, tray=g.tray, index=g.index,
            local=g.local, rail=g.rail,
        )  # fmt: skip
    edges: _Edges = {}
    tick = progress or (lambda done, total: None)
    by_domain = _domains(G)
    domains = len(by_domain)
    _build_scale_up(G, edges, layout, slots, by_domain, lambda done: tick(done, 2 * domains))
    if layout.scale_out.topology == "rail_fat_tree":
        _build_fat_tree(G, edges, layout)
    tick(domains + domains // 2, 2 * domains)
    # In one call, each attribute dict dropped once copied (less peak memory).
    G.add_edges_from((a, b, edges.pop((a, b))) for a, b in list(edges))
    tick(2 * domains, 2 * domains)
    return G


def _domains(G: nx.Graph) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for n in gpu_nodes(G):
        out.setdefault(G.nodes[n]["domain"], []).append(n)
    return out


def _build_scale_up(
    G: nx.Graph,
    edges: _Edges,
    layout: Layout,
    slots: list[_Slot],
    domains: dict[int, list[str]],
    tick: Callable[[int], None],
) -> None:
    """Every domain's scale-up links (`domains`: its GPUs), ticking with the domains done."""
    su = layout.scale_up
    wire = _Wire(
        kind="scale_up",
        link=su.link.name,
        bandwidth_per_link=su.link.bandwidth_bytes_per_s,
        lanes_per_link=su.link.lanes or 0,
        latency_s=su.link.latency_s,
        medium=su.medium,
    )
    by_domain = domain_slots(layout, slots)
    for done, (dom, gpus) in enumerate(domains.items(), 1):
        if su.topology == "switched":
            switches = _switch_nodes(G, layout, by_domain.get(dom, []), dom, gpus)
            counts = plane_links(su.links_per_gpu, len(switches))
            for g in gpus:
                for sw, n in zip(switches, counts, strict=True):
                    _add_link(G, edges, g, sw, n, wire, layout)
        elif su.topology == "torus":
            _build_torus(G, edges, layout, gpus, wire)
        else:  # full mesh
            per_pair = su.links_per_gpu // max(len(gpus) - 1, 1)
            for i, a in enumerate(gpus):
                for b in gpus[i + 1 :]:
                    _add_link(G, edges, a, b, per_pair, wire, layout)
        tick(done)


def _switch_nodes(
    G: nx.Graph, layout: Layout, slots: list[_Slot], dom: int, gpus: list[str]
) -> list[str]:
    """Add the switch chips (planes) of one switched domain; return their ids."""
    first = G.nodes[gpus[0]]
    planes = switch_planes(layout, slots, dom, first["rack"], first["tray"], first["u"])
    for node, attrs in planes:
        _add_node(G, node, "switch", **attrs)
    return [node for node, _ in planes]


def domain_slots(layout: Layout, slots: list[_Slot]) -> dict[int, list[_Slot]]:
    """The slots in each domain's racks, in layout order (for :func:`switch_planes`).

    Empty for tray domains (their planes do not depend on the slots).
    """
    per = layout.scale_up.racks_per_domain
    out: dict[int, list[_Slot]] = {}
    if layout.scale_up.domain == "tray" or not per:
        return out
    for s in slots:
        out.setdefault(s.rack // per, []).append(s)
    return out


def switch_planes(
    layout: Layout, slots: list[_Slot], dom: int, rack: int, tray: int, u: float
) -> list[tuple[str, dict[str, Any]]]:
    """The switch chips (planes) of switched domain `dom`: ids and node attributes.

    `rack`, `tray`, `u`: those of the domain's first GPU; `slots`: the layout's, or only
    those in the domain's racks (:func:`domain_slots`: the same planes, found faster).
    """
    su = layout.scale_up
    if su.domain == "tray":
        return [
            (
                f"r{rack}/t{tray}/sw{k}",
                {"rack": rack, "domain": dom, "u": u, "tray": tray, "index": k},
            )
            for k in range(su.switches)
        ]
    racks = range(dom * su.racks_per_domain, (dom + 1) * su.racks_per_domain)
    chip_slots = [(s, c) for s in slots if s.rack in racks for c in range(s.chips)]
    out = []
    for k in range(su.switches):
        if chip_slots:
            s, _ = chip_slots[k * len(chip_slots) // su.switches]
            rack_chip = sum(
                1 for t, _ in chip_slots[: k * len(chip_slots) // su.switches] if t.rack == s.rack
            )
            node = f"r{s.rack}/sw{rack_chip}"
            attrs: dict[str, Any] = {"rack": s.rack, "u": s.u, "tray": s.tray}
        else:
            node = f"d{dom}/sw{k}"
            attrs = {"rack": rack, "u": -1.0, "tray": -1}
        out.append((node, {"domain": dom, "index": k, **attrs}))
    return out


def plane_links(links_per_gpu: int, planes: int) -> list[int]:
    """Links from each GPU to each switch plane: spread as evenly as they go.

    The remainder spread over the planes, the same for every GPU (DGX H100: 5+4+4+5), so
    any two GPUs meet with all their links.
    """
    base, extra = divmod(links_per_gpu, planes)
    return [base + (k * extra // planes != (k + 1) * extra // planes) for k in range(planes)]


def _build_torus(G: nx.Graph, edges: _Edges, layout: Layout, gpus: list[str], wire: _Wire) -> None:
    su = layout.scale_up
    dims = su.dims
    per_dir = max(1, su.links_per_gpu // (2 * len(dims)))
    coords = np.array(np.unravel_index(np.arange(len(gpus)), dims)).T
    at = {tuple(int(x) for x in c): g for c, g in zip(coords, gpus, strict=True)}
    for c, g in zip(coords, gpus, strict=True):
        G.nodes[g]["coords"] = ",".join(str(int(x)) for x in c)
    for c, g in zip(coords, gpus, strict=True):
        for d, size in enumerate(dims):
            if size < 2:
                continue
            nxt = [int(x) for x in c]
            nxt[d] += 1
            wrap = nxt[d] == size
            if wrap:
                if not su.wraparound:
                    continue
                nxt[d] = 0
            # A ring of 2 closes onto the same neighbour: the wrap adds a second link.
            w = replace(wire, medium=su.wrap_medium) if wrap else wire
            _add_link(G, edges, g, at[tuple(nxt)], per_dir, w, layout)


def _build_fat_tree(G: nx.Graph, edges: _Edges, layout: Layout) -> None:
    so = layout.scale_out
    port_wire = _Wire(
        kind="scale_out",
        link=so.link.name,
        bandwidth_per_link=so.link.bandwidth_bytes_per_s,
        lanes_per_link=so.link.lanes or 0,
        latency_s=so.latency_s,
        medium=so.medium,
        length_m=so.cable_length_m,
    )
    nic_wire = replace(port_wire, bandwidth_per_link=so.nic_bandwidth_bytes_per_s)
    rails = [G.nodes[g]["rail"] for g in gpu_nodes(G)]
    tree = fat_tree(layout, rails)
    gpus = gpu_nodes(G)
    for k, (leaf, rail, members, _) in enumerate(tree.leaves):
        _add_node(G, leaf, "leaf", index=k, rail=rail)
        for i in members:
            _add_link(G, edges, gpus[i], leaf, 1, nic_wire, layout)
    for k in range(tree.spines):
        _add_node(G, f"fabric/spine{k}", "spine", index=k)
    for leaf, spine in tree.uplinks:
        _add_link(G, edges, leaf, f"fabric/spine{spine}", 1, port_wire, layout)


@dataclass(frozen=True, slots=True)
class FatTree:
    """A rail-optimised two-tier fat tree: its leaves, spines and uplinks, in build order.

    `leaves`: (id, rail, GPU indices, uplinks) each; `spines`: how many;
    `uplinks`: (leaf id, spine) for every leaf-to-spine link, in the order they are
    dealt (one link each).
    """

    leaves: tuple[tuple[str, int, tuple[int, ...], int], ...]
    spines: int
    uplinks: tuple[tuple[str, int], ...]


def fat_tree(layout: Layout, rails: list[int]) -> FatTree:
    """The fat tree of `layout` over GPUs on `rails` (each GPU's rail, in rank order).

    GPU ``i`` of every tray sits on rail ``i mod rails``; leaves split their ports
    down:up by the oversubscription; spines are as many as the uplinks need.
    """
    so = layout.scale_out
    nic = so.nic_bandwidth_bytes_per_s
    port = so.link.bandwidth_bytes_per_s
    down = max(1, math.floor(so.leaf_radix * so.oversubscription / (1 + so.oversubscription)))
    by_rail: dict[int, list[int]] = {}
    for i, rail in enumerate(rails):
        by_rail.setdefault(rail, []).append(i)
    leaves: list[tuple[str, int, tuple[int, ...], int]] = []
    for rail, gpus in sorted(by_rail.items()):
        for j in range(0, len(gpus), down):
            members = tuple(gpus[j : j + down])
            need = math.ceil(len(members) * nic / so.oversubscription / port - 1e-9)
            up = min(need, so.leaf_radix - len(members))
            leaves.append((f"fabric/leaf{rail}.{j // down}", rail, members, up))
    if len(leaves) < 2:
        return FatTree(tuple(leaves), 0, ())
    n_spines = _spine_count([n for *_, n in leaves], so.spine_radix)
    uplinks = []
    cursor = 0  # deal uplinks to spines in turn, across leaves, so spines fill evenly
    for leaf, _, _, n_up in leaves:
        for _ in range(n_up):
            uplinks.append((leaf, cursor % n_spines))
            cursor += 1
    return FatTree(tuple(leaves), n_spines, tuple(uplinks))


def _spine_count(uplinks: list[int], radix: int) -> int:
    """Spines of a two-tier fabric whose leaves have `uplinks` uplinks each.

    The fewest spines that have ports for all uplinks, chosen among the divisors of
    the largest leaf's uplinks, so that every full leaf has the same number of links
    to every spine (an even Clos). When the leaves outnumber a spine's ports, no
    two-tier fabric exists: each spine node is then a spine *plane*, a non-blocking
    group of chips with one port per leaf (the exact contraction of a three-tier Clos).
    """
    u_max = max(uplinks)
    if u_max <= 0:
        return 1
    need = math.ceil(sum(uplinks) / radix)
    for s in range(max(need, 1), u_max + 1):
        if u_max % s == 0 and len(uplinks) * (u_max // s) <= radix:
            return s
    return u_max
