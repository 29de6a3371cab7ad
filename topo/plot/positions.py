"""Where each node of a drawing goes: pure functions of the graph (no matplotlib here)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx

from topo.build import gpu_nodes

__all__ = [
    "Box",
    "Bundle",
    "Bundled",
    "Inside",
    "bundled",
    "gpu_level",
    "rack_level",
    "torus_slices",
]

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
    from topo.units import count, format_quantity

    up = format_quantity(summary["scale_up_bandwidth_per_gpu_bytes_per_s"], "bandwidth")
    out = format_quantity(summary["scale_out_bandwidth_per_gpu_bytes_per_s"], "bandwidth")
    return (
        f"{summary['gpus']:,} GPUs in {count(summary['domains'], 'domain')} of "
        f"{summary['domain_size']}; per GPU {up} scale-up, {out} scale-out (per direction)"
    )


# --- Bundled drawings: GPUs grouped into boxes, links summed into bundles ---------------

UNITS_MAX = 40  # boxes in the GPU row, at most
LEAVES_MAX = 48  # single leaves above this are grouped by rail
PAIRS_MAX = 160  # bundles of one tier, at most, before they are summed more coarsely
ROW_Y = {"switch": 0.0, "unit": 1.0, "leaf": 2.3, "spine": 3.4}
BOX_H = {"switch": 0.34, "unit": 0.5, "leaf": 0.0, "spine": 0.0}
_RACK_GAP = 0.7  # extra space between racks


@dataclass(frozen=True, slots=True)
class Box:
    """A node of a bundled drawing: a group of GPUs (a unit), switches, leaves or spines.

    ``x``, ``y`` in drawing coordinates (rows at :data:`ROW_Y`), ``width`` across;
    ``members`` the graph nodes it stands for; ``rack``, ``domain``, ``rail`` -1 where the
    box spans several or has none.
    """

    key: str
    kind: str  # "unit", "switch", "leaf", "spine", "rack"
    label: str
    members: tuple[str, ...]
    x: float
    y: float
    width: float
    rack: int = -1
    domain: int = -1
    rail: int = -1


@dataclass(frozen=True, slots=True)
class Bundle:
    """Links between two boxes summed.

    ``links`` links over ``edges`` graph edges, together ``bandwidth`` [B/s] per
    direction, on one ``medium`` and link type; ``tier`` is ``"scale_up"`` (GPU to
    switch), ``"mesh"`` (GPU to GPU), ``"rail"`` (GPU to leaf) or ``"uplink"`` (leaf to
    spine).
    """

    a: str
    b: str
    tier: str
    links: int
    edges: int
    bandwidth: float
    medium: str
    link: str
    rail: int = -1


@dataclass(frozen=True, slots=True)
class Inside:
    """Scale-up links inside one unit (not drawn as lines).

    Link count, bandwidth [B/s] per direction summed, switch chips, medium and link type.
    """

    links: int
    bandwidth: float
    switches: int
    medium: str
    link: str


@dataclass(frozen=True, slots=True)
class Bundled:
    """A whole bundled drawing: boxes by key, bundles, and what each unit holds inside.

    ``unit`` names what a unit box is: ``"tray"``, ``"node"`` (a tray that is a whole
    scale-up domain), ``"domain"``, ``"trays"`` or ``"domains"`` (consecutive groups).
    """

    boxes: dict[str, Box]
    bundles: list[Bundle]
    inside: dict[str, Inside]
    unit: str
    spine_bar: bool
    leaves_by_rail: bool


def _span(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _unit_groups(G: nx.Graph) -> tuple[str, list[list[str]]]:
    """GPUs in rank order cut into at most :data:`UNITS_MAX` boxes, and what a box is."""
    trays: dict[tuple[int, int], list[str]] = {}
    domains: dict[int, list[str]] = {}
    for g in gpu_nodes(G):
        a = G.nodes[g]
        trays.setdefault((a["rack"], a["tray"]), []).append(g)
        domains.setdefault(a["domain"], []).append(g)
    if len(trays) <= UNITS_MAX:
        return ("node" if len(trays) == len(domains) else "tray"), list(trays.values())
    if 1 < len(domains) <= UNITS_MAX:
        return "domain", list(domains.values())
    if len(domains) == 1:
        per = _per_box(len(trays), 24)
        groups = list(trays.values())
        return "trays", [sum(groups[i : i + per], []) for i in range(0, len(groups), per)]
    per = _per_box(len(domains), UNITS_MAX)
    groups = list(domains.values())
    return "domains", [sum(groups[i : i + per], []) for i in range(0, len(groups), per)]


def _per_box(n: int, most: int) -> int:
    """How many of `n` trays or domains go in a box, for at most `most` boxes.

    The fewest that divide `n` evenly, so that every box holds as many (16,384 domains:
    32 boxes of 512, not 39 of 410 and one of 394), unless that leaves fewer than half
    the boxes; then the fewest that fit, the last box holding the rest.
    """
    per = math.ceil(n / most)
    return next((p for p in range(per, 2 * per + 1) if n % p == 0), per)


def _one(values: set[int]) -> int:
    return next(iter(values)) if len(values) == 1 else -1


def _unit_label(G: nx.Graph, kind: str, members: list[str], nth_in_rack: int) -> str:
    a = G.nodes[members[0]]
    if kind == "tray":
        return f"tray {nth_in_rack}"
    if kind == "node":
        return f"node {a['domain']}"
    if kind == "domain":
        racks = {G.nodes[g]["rack"] for g in members}
        return f"rack {a['rack']}" if len(racks) == 1 else f"domain {a['domain']}"
    trays = sorted({G.nodes[g]["tray"] for g in members})
    if kind == "trays":
        return f"trays {trays[0]}-{trays[-1]}" if len(trays) > 1 else f"tray {trays[0]}"
    return "domains " + _span([G.nodes[g]["domain"] for g in members])


def _units(G: nx.Graph) -> tuple[str, list[Box]]:
    kind, groups = _unit_groups(G)
    boxes: list[Box] = []
    racks_of = [_one({G.nodes[g]["rack"] for g in members}) for members in groups]
    framed = len({r for r in racks_of if r >= 0}) < len(groups)  # some rack holds two
    x, last_rack, nth = 0.0, None, 0
    for i, members in enumerate(groups):
        rack = racks_of[i]
        if last_rack is not None and rack != last_rack:
            x += _RACK_GAP if framed else 0.0
            nth = 0
        label = _unit_label(G, kind, members, nth)
        boxes.append(
            Box(
                key=f"u{i}",
                kind="unit",
                label=label,
                members=tuple(members),
                x=x,
                y=ROW_Y["unit"],
                width=0.8,
                rack=rack,
                domain=_one({G.nodes[g]["domain"] for g in members}),
            )
        )
        x += 1.0
        nth += 1
        last_rack = rack
    return kind, boxes


def _racks(units: list[Box]) -> list[Box]:
    """One frame per rack around its units, when a rack holds more than one unit."""
    by_rack: dict[int, list[Box]] = {}
    for u in units:
        if u.rack >= 0:
            by_rack.setdefault(u.rack, []).append(u)
    if not by_rack or all(len(v) == 1 for v in by_rack.values()):
        return []
    out = []
    for r, us in by_rack.items():
        x0, x1 = us[0].x - 0.5, us[-1].x + 0.5
        members = tuple(g for u in us for g in u.members)
        out.append(
            Box(f"rack{r}", "rack", f"rack {r}", members, (x0 + x1) / 2, ROW_Y["unit"], x1 - x0, r)
        )
    return out


def _spread_boxes(
    groups: list[tuple[str, str, tuple[str, ...], int]],
    kind: str,
    x0: float,
    x1: float,
    width: float,
    *,
    rails: dict[str, int] | None = None,
) -> list[Box]:
    pos = _spread([k for k, *_ in groups], ROW_Y[kind], x0, x1)
    return [
        Box(
            key,
            kind,
            label,
            members,
            pos[key][0],
            pos[key][1],
            width,
            rack=rack,
            rail=(rails or {}).get(key, -1),
        )
        for key, label, members, rack in groups
    ]


def bundled(G: nx.Graph) -> Bundled:
    """The bundled drawing of a fabric: boxes of GPUs, switches, leaves, spines; bundles.

    GPUs go in at most 40 boxes (trays, nodes, domains or runs of them) grouped by rack;
    scale-up switches outside a box sit below by switch tray or plane; leaves (by rail;
    grouped by rail above 48) and spines (one bar when leaf-spine pairs exceed 160) above.
    Every link is summed into the bundle between the two boxes that hold its ends, or
    into the inside of one box.
    """
    kind, units = _units(G)
    unit_of = {g: u.key for u in units for g in u.members}
    boxes: dict[str, Box] = {u.key: u for u in units}
    for r in _racks(units):
        boxes[r.key] = r
    xs = [u.x for u in units]
    xmin, xmax = min(xs), max(xs)

    group_of: dict[str, str] = {}
    _switch_boxes(G, units, unit_of, boxes, group_of)
    by_rail = _leaf_boxes(G, boxes, group_of, xmin, xmax)
    bar = _spine_boxes(G, boxes, group_of, xmin, xmax)

    group_of.update(unit_of)
    bundles, inside = _bundle_edges(G, boxes, group_of, unit_of)
    return Bundled(boxes, bundles, inside, kind, bar, by_rail)


def _switch_boxes(
    G: nx.Graph,
    units: list[Box],
    unit_of: dict[str, str],
    boxes: dict[str, Box],
    group_of: dict[str, str],
) -> None:
    """Switches inside a unit when all their GPUs are; else boxes by switch tray or plane.

    Adds the boxes to `boxes` and each switch's box key to `group_of`.
    """
    xs = [u.x for u in units]
    outside: dict[str, list[str]] = {}
    meta: dict[str, tuple[int, int, int]] = {}
    for s, a in G.nodes(data=True):
        if a["kind"] != "switch":
            continue
        homes = {unit_of[n] for n in G[s] if n in unit_of}
        if len(homes) == 1:
            group_of[s] = next(iter(homes))
            continue
        key = f"st{a['rack']}.{a['tray']}" if a["tray"] >= 0 else f"sp{s}"
        group_of[s] = key
        outside.setdefault(key, []).append(s)
        meta[key] = (a["rack"], a["tray"], a["domain"])
    by_domain: dict[int, list[str]] = {}
    for key in sorted(outside, key=lambda k: (meta[k], outside[k])):
        by_domain.setdefault(meta[key][2], []).append(key)
    for d, keys in by_domain.items():
        mine = [u.x for u in units if u.domain in (d, -1)] or xs
        groups = [
            (
                k,
                f"{i}",
                tuple(sorted(outside[k], key=lambda s: G.nodes[s]["index"])),
                meta[k][0],
            )
            for i, k in enumerate(keys)
        ]
        inset = 0.5 if max(mine) - min(mine) >= 2 else 0.0
        step = (max(mine) - min(mine) - 2 * inset) / max(len(keys) - 1, 1)
        width = min(0.8, 0.8 * step) if len(keys) > 1 else 0.8
        for b in _spread_boxes(groups, "switch", min(mine) + inset, max(mine) - inset, width):
            boxes[b.key] = b


def _leaf_boxes(
    G: nx.Graph, boxes: dict[str, Box], group_of: dict[str, str], xmin: float, xmax: float
) -> bool:
    """Leaves: one box each, or one per rail above LEAVES_MAX; True when by rail.

    Adds the boxes to `boxes` and each leaf's box key to `group_of`.
    """
    leaves = _by_kind(G, "leaf")
    leaves.sort(key=lambda n: (G.nodes[n]["rail"], G.nodes[n]["index"], n))
    by_rail = len(leaves) > LEAVES_MAX
    leaf_groups: dict[str, list[str]] = {}
    leaf_rail: dict[str, int] = {}
    for n in leaves:
        rail = int(G.nodes[n]["rail"])
        key = f"rail{rail}" if by_rail else n
        leaf_groups.setdefault(key, []).append(n)
        leaf_rail[key] = rail
        group_of[n] = key
    lgroups = [
        (k, f"rail {leaf_rail[k]}" if by_rail else n_[0], tuple(n_), -1)
        for k, n_ in leaf_groups.items()
    ]
    for b in _spread_boxes(lgroups, "leaf", xmin, xmax, 0.0, rails=leaf_rail):
        boxes[b.key] = b
    return by_rail


def _spine_boxes(
    G: nx.Graph, boxes: dict[str, Box], group_of: dict[str, str], xmin: float, xmax: float
) -> bool:
    """Spines: one box each, or one bar when too many; True when drawn as a bar.

    Adds the boxes to `boxes` and each spine's box key to `group_of`.
    """
    spines = _by_kind(G, "spine")
    pairs = {
        (group_of[u] if G.nodes[u]["kind"] == "leaf" else group_of[v], s)
        for u, v, a in G.edges(data=True)
        for s in (u, v)
        if G.nodes[s]["kind"] == "spine"
    }
    bar = len(spines) > LEAVES_MAX or len(pairs) > PAIRS_MAX
    if bar and spines:
        boxes["spines"] = Box(
            "spines",
            "spine",
            f"{len(spines):,} spines",
            tuple(spines),
            (xmin + xmax) / 2,
            ROW_Y["spine"],
            max(xmax - xmin, 0.8),
        )
        group_of.update({s: "spines" for s in spines})
    else:
        inset = (xmax - xmin) * 0.08
        sg: list[tuple[str, str, tuple[str, ...], int]] = [(s, s, (s,), -1) for s in spines]
        for b in _spread_boxes(sg, "spine", xmin + inset, xmax - inset, 0.0):
            boxes[b.key] = b
        group_of.update({s: s for s in spines})
    return bar and bool(spines)


def _bundle_edges(
    G: nx.Graph, boxes: dict[str, Box], group_of: dict[str, str], unit_of: dict[str, str]
) -> tuple[list[Bundle], dict[str, Inside]]:
    """Sum every edge into (box, box) bundles; GPU-leaf bundles by rack when too many."""
    acc: dict[tuple[str, str, str, str, str, int], list[float]] = {}
    inner: dict[str, list[Any]] = {}
    rack_of_unit = {k: b.rack for k, b in boxes.items() if b.kind == "unit"}
    frames = {b.rack for b in boxes.values() if b.kind == "rack"}
    rail_pairs = {
        (group_of[u] if u in unit_of else group_of[v], group_of[v] if u in unit_of else group_of[u])
        for u, v, a in G.edges(data=True)
        if a["kind"] == "scale_out" and (u in unit_of) != (v in unit_of)
    }
    by_rack = len(rail_pairs) > PAIRS_MAX and bool(frames)
    for u, v, a in G.edges(data=True):
        gu, gv = group_of[u], group_of[v]
        if gu == gv:
            box = inner.setdefault(gu, [0, 0.0, set(), a["medium"], a["link"]])
            box[0] += int(a["links"])
            box[1] += float(a["bandwidth"])
            box[2].update(n for n in (u, v) if G.nodes[n]["kind"] == "switch")
            continue
        ku, kv = G.nodes[u]["kind"], G.nodes[v]["kind"]
        if kv == "gpu" and ku != "gpu":
            (u, gu, ku), (v, gv, kv) = (v, gv, kv), (u, gu, ku)
        rail = -1
        if a["kind"] == "scale_out" and ku == "gpu":
            tier = "rail"
            rail = int(G.nodes[v]["rail"])
            if by_rack and rack_of_unit.get(gu, -1) in frames:
                gu = f"rack{rack_of_unit[gu]}"
        elif a["kind"] == "scale_out":
            tier = "uplink"
            if kv == "leaf":
                gu, gv = gv, gu
        else:
            tier = "mesh" if kv == "gpu" else "scale_up"
            if tier == "mesh" and gu > gv:
                gu, gv = gv, gu
        key = (gu, gv, tier, a["medium"], a["link"], rail)
        row = acc.setdefault(key, [0, 0, 0.0])
        row[0] += int(a["links"])
        row[1] += 1
        row[2] += float(a["bandwidth"])
    bundles = [
        Bundle(gu, gv, tier, int(n), int(e), bw, medium, link, rail)
        for (gu, gv, tier, medium, link, rail), (n, e, bw) in acc.items()
    ]
    inside = {
        k: Inside(int(v[0]), float(v[1]), len(v[2]), str(v[3]), str(v[4]))
        for k, v in inner.items()
        if k in unit_of.values()
    }
    return bundles, inside
