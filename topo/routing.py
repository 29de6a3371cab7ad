"""Routes and link loads: which links a transfer crosses, and how many bytes each carries.

Traffic is routed as the fabrics route it:

- switched domain: a transfer spreads over the switch planes both ends reach, in
  proportion to ``min(links of the sender, links of the receiver)`` on each plane
  (each plane is non-blocking), so two GPUs use all their links;
- torus: dimension-order routing, the shorter way round each ring; a transfer
  halfway round an even ring goes half each way;
- full mesh: the direct link;
- between domains: the sender's NIC to its leaf; if the receiver hangs off another
  leaf, up the leaf's uplinks to the spines that reach the receiver's leaf
  (equal-cost multipath: in proportion to the uplinks' link counts), down to that
  leaf, and out the receiver's NIC.

Loads are bytes per direction on each directed link ``(u, v)``. They are kept in
numpy arrays indexed by GPU, plane and leaf, which is exact and lets a uniform
all-to-all over many GPUs be summed by counting (:func:`all_to_all_loads`) instead of
pair by pair: the contracted sums give the same loads as routing every pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from topo._arrays import unique
from topo._memo import bounded_put, value_key
from topo.build import (
    build_graph,
    domain_slots,
    fat_tree,
    gpu_nodes,
    layout_gpus,
    layout_slots,
    plane_links,
    switch_planes,
)
from topo.errors import PlacementError
from topo.layout import Layout

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Fabric", "LinkLoads", "all_to_all_loads", "fabric_of", "pair_loads"]


class Fabric:
    """A read-only index of a built graph for routing (the graph is not changed).

    Parameters
    ----------
    G
        A graph from :func:`topo.build.build_graph`.
    """

    def __init__(self, G: nx.Graph) -> None:
        self._G: nx.Graph | None = G
        self._layout: Layout | None = None
        self.gpus = gpu_nodes(G)
        n = len(self.gpus)
        self.index = {g: i for i, g in enumerate(self.gpus)}
        self.domain = np.array([G.nodes[g]["domain"] for g in self.gpus], dtype=np.int64)
        self.rack = np.array([G.nodes[g]["rack"] for g in self.gpus], dtype=np.int64)
        self.topology = str(G.graph.get("scale_up_topology", "switched"))
        self.wraparound = True
        self.overhead_up_s = float(G.graph.get("scale_up_overhead", 10e-6))
        self.overhead_out_s = float(G.graph.get("scale_out_overhead", 20e-6))
        self.up_link = str(G.graph.get("scale_up_link", ""))  # catalogue names, for the
        self.out_link = str(G.graph.get("scale_out_link", ""))  # measured efficiencies
        # Position of each GPU among its domain's GPUs, and the domain's GPUs.
        self.members: dict[int, list[int]] = {}
        for i, d in enumerate(self.domain.tolist()):
            self.members.setdefault(d, []).append(i)
        self.pos = np.zeros(n, dtype=np.int64)
        for idx in self.members.values():
            self.pos[idx] = np.arange(len(idx))
        self._scale_up(G)
        self._scale_out(G)

    @property
    def G(self) -> nx.Graph:
        """The layout's graph (built on first use for a fabric made by :meth:`from_layout`)."""
        if self._G is None:
            assert self._layout is not None  # noqa: S101 (set by from_layout)
            self._G = build_graph(self._layout)
        return self._G

    @property
    def hbm_capacity_bytes(self) -> float:
        """One GPU's HBM [B]: the layout's accelerator's (as the graph records it)."""
        if self._layout is not None:
            return float(self._layout.accelerator.hbm_capacity_bytes)
        return float(self.G.graph.get("hbm_capacity_bytes", 0.0))

    @classmethod
    def from_layout(cls, layout: Layout) -> Fabric:
        """The fabric of `layout` by arithmetic on its regular structure, without the graph.

        The same index as ``Fabric(build_graph(layout))`` (the reference the tests compare
        it with, array for array); the graph is built only if :attr:`G` is asked for.
        Switched domains and the rail-optimised fat tree are laid out here; tori and full
        meshes come from the graph.
        """
        if layout.scale_up.topology != "switched":
            return cls(build_graph(layout))
        self = cls.__new__(cls)
        self._G, self._layout = None, layout
        # The GPUs and their scale-up links depend on the racks, their count, the
        # scale-up fabric and the rails: designs that share them (another NIC, another
        # cost) share the work, each with its own copies.
        key = (
            value_key(layout.rack), layout.cluster.racks, value_key(layout.scale_up),
            layout.scale_out.rails,
        )  # fmt: skip
        kept = _SCALE_UP.get(key)
        if kept is None:
            kept = Fabric._scale_up_from_layout(layout)
            bounded_put(_SCALE_UP, key, kept, 8)
        self.gpus = list(kept["gpus"])
        self.index = dict(kept["index"])
        self.domain = kept["domain"].copy()
        self.rack = kept["rack"].copy()
        self.topology = layout.scale_up.topology
        self.wraparound = True
        self.overhead_up_s = float(layout.scale_up.collective_overhead_s)
        self.overhead_out_s = float(layout.scale_out.collective_overhead_s)
        self.up_link = str(layout.scale_up.link.name)
        self.out_link = str(layout.scale_out.link.name)
        self.members = {d: list(v) for d, v in kept["members"].items()}
        self.pos = kept["pos"].copy()
        self.up_latency_s = kept["up_latency_s"]
        self.planes = {d: list(v) for d, v in kept["planes"].items()}
        self.links = kept["links"].copy()
        self.link_bw = kept["link_bw"].copy()
        self._gpu_bw = {"scale_up": list(kept["_gpu_bw"]["scale_up"])}
        self._fat_tree_from_layout(layout, kept["rails"])
        return self

    @staticmethod
    def _scale_up_from_layout(layout: Layout) -> dict[str, Any]:
        """The GPUs, domains and switched scale-up links of :meth:`from_layout`, by name."""
        part = Fabric.__new__(Fabric)
        slots = layout_slots(layout)
        gpus = layout_gpus(layout, slots)
        n = len(gpus)
        part.gpus = [g.name for g in gpus]
        part.index = {g: i for i, g in enumerate(part.gpus)}
        part.domain = np.array([g.domain for g in gpus], dtype=np.int64)
        part.rack = np.array([g.rack for g in gpus], dtype=np.int64)
        part.members = {}
        for i, d in enumerate(part.domain.tolist()):
            part.members.setdefault(d, []).append(i)
        part.pos = np.zeros(n, dtype=np.int64)
        for idx in part.members.values():
            part.pos[idx] = np.arange(len(idx))
        part._switched_from_layout(layout, slots, gpus)
        names = ("gpus", "index", "domain", "rack", "members", "pos", "up_latency_s", "planes")
        out = {name: getattr(part, name) for name in names}
        out |= {"links": part.links, "link_bw": part.link_bw, "_gpu_bw": part._gpu_bw}
        out["rails"] = [g.rail for g in gpus]
        return out

    def gpu_bandwidth(self, kind: str) -> list[float]:
        """Per GPU, the summed bandwidth [B/s, per direction] of its `kind` links.

        :func:`topo.stats.per_gpu_bandwidth` on the graph, or the same sums laid out by
        :meth:`from_layout` (in the graph's edge order: the same floats).
        """
        laid = getattr(self, "_gpu_bw", None)
        if laid is not None:
            return list(laid[kind])
        from topo.stats import per_gpu_bandwidth

        return per_gpu_bandwidth(self.G, kind)

    # ------------------------------------------------------------ scale-up index
    def _scale_up(self, G: nx.Graph) -> None:
        n = len(self.gpus)
        self.up_latency_s = 0.0
        if self.topology == "switched":
            # planes[d] lists the switch nodes of domain d; links[i, k]: GPU i to plane k.
            self.planes: dict[int, list[str]] = {}
            for d, idx in self.members.items():
                sws = sorted(
                    {
                        v
                        for g in (self.gpus[i] for i in idx)
                        for v in G.neighbors(g)
                        if G.nodes[v]["kind"] == "switch"
                    },
                    key=lambda v: G.nodes[v]["index"],
                )
                self.planes[d] = sws
            s_max = max((len(v) for v in self.planes.values()), default=0)
            self.links = np.zeros((n, max(s_max, 1)))
            self.link_bw = np.zeros((n, max(s_max, 1)))  # bandwidth of one link [B/s]
            for d, sws in self.planes.items():
                col = {sw: k for k, sw in enumerate(sws)}
                for i in self.members[d]:
                    for _, v, a in G.edges(self.gpus[i], data=True):
                        if v in col:
                            self.links[i, col[v]] = a["links"]
                            self.link_bw[i, col[v]] = a["bandwidth"] / a["links"]
                            self.up_latency_s = max(self.up_latency_s, a["latency"])
        elif self.topology == "torus":
            dims = tuple(int(x) for x in str(G.graph["torus_dims"]).split(","))
            self.dims = dims
            # An open mesh (wraparound: false) has no links from one end of a ring to the
            # other: routes go the direct way along each dimension.
            self.wraparound = str(G.graph.get("wraparound", True)).lower() not in ("false", "0")
            self.coords = np.array(
                [[int(c) for c in G.nodes[g]["coords"].split(",")] for g in self.gpus],
                dtype=np.int64,
            )
            # node_at[d][coords] -> GPU index: members are in C order of their coords.
            self.torus_bw = np.zeros((n, len(dims), 2))  # out-link of i along dim, +/-
            for i, g in enumerate(self.gpus):
                for _, v, a in G.edges(g, data=True):
                    if a["kind"] != "scale_up":
                        continue
                    j = self.index[v]
                    self.up_latency_s = max(self.up_latency_s, a["latency"])
                    for dim, size in enumerate(dims):
                        delta = (self.coords[j, dim] - self.coords[i, dim]) % size
                        others = np.delete(self.coords[j] - self.coords[i], dim)
                        if np.any(others):
                            continue
                        per_dir = a["bandwidth"] / (2 if size == 2 else 1)
                        if delta == 1:
                            self.torus_bw[i, dim, 0] = per_dir
                        if delta == size - 1:
                            self.torus_bw[i, dim, 1] = per_dir
        else:  # full mesh: mesh_bw[i, pos_j] is the direct link i -> j
            size = max(len(v) for v in self.members.values())
            self.mesh_bw = np.zeros((n, size))
            for i, g in enumerate(self.gpus):
                for _, v, a in G.edges(g, data=True):
                    if a["kind"] == "scale_up":
                        self.mesh_bw[i, self.pos[self.index[v]]] = a["bandwidth"]
                        self.up_latency_s = max(self.up_latency_s, a["latency"])

    def _switched_from_layout(self, layout: Layout, slots: list[Any], gpus: list[Any]) -> None:
        """:meth:`_scale_up` of a switched layout, from the layout (see :meth:`from_layout`)."""
        su = layout.scale_up
        n = len(gpus)
        self.up_latency_s = 0.0
        self.planes = {}
        rows: dict[int, list[int]] = {}  # links of each domain's GPUs to its planes
        by_domain = domain_slots(layout, slots)
        for d, idx in self.members.items():
            first = gpus[idx[0]]
            planes = switch_planes(layout, by_domain.get(d, []), d, first.rack, first.tray, first.u)
            counts = plane_links(su.links_per_gpu, len(planes))
            # A plane no GPU has a link to is no plane of the domain's routes.
            self.planes[d] = [sw for (sw, _), k in zip(planes, counts, strict=True) if k > 0]
            rows[d] = [k for k in counts if k > 0]
        s_max = max((len(v) for v in self.planes.values()), default=0)
        self.links = np.zeros((n, max(s_max, 1)))
        self.link_bw = np.zeros((n, max(s_max, 1)))
        per_link = su.link.bandwidth_bytes_per_s
        for d, idx in self.members.items():
            counts = rows[d]
            if not counts:
                continue
            # As the graph's edges hold them: k links' bandwidth, over k links.
            self.links[idx, : len(counts)] = counts
            self.link_bw[idx, : len(counts)] = [k * per_link / k for k in counts]
            self.up_latency_s = max(self.up_latency_s, su.link.latency_s)
        # Each GPU's scale-up links summed as stats.per_gpu_bandwidth sums its edges.
        per_domain = {d: sum([k * per_link for k in counts]) for d, counts in rows.items()}
        self._gpu_bw = {"scale_up": [per_domain[g.domain] for g in gpus]}

    def _fat_tree_from_layout(self, layout: Layout, rails: list[int]) -> None:
        """:meth:`_scale_out` from the layout (see :meth:`from_layout`)."""
        so = layout.scale_out
        n = len(self.gpus)
        self.leaf = np.full(n, -1, dtype=np.int64)
        self.nic_bw = np.zeros(n)
        self.out_latency_s = 0.0
        tree = fat_tree(layout, rails) if so.topology == "rail_fat_tree" else None
        leaves = tree.leaves if tree is not None else ()
        self.leaves = [leaf for leaf, *_ in leaves]
        self.spines = [f"fabric/spine{k}" for k in range(tree.spines if tree else 0)]
        out: list[float] = [0] * n  # sum([]) of a GPU without a NIC, as in the graph
        nic = sum([1 * so.nic_bandwidth_bytes_per_s])  # one NIC's edge, summed as the graph's
        for k, (_, _, members, _) in enumerate(leaves):
            idx = list(members)
            self.leaf[idx] = k
            self.nic_bw[idx] = 1 * so.nic_bandwidth_bytes_per_s
            for i in idx:
                out[i] = nic
            if idx:
                self.out_latency_s = max(self.out_latency_s, so.latency_s)
        self._gpu_bw["scale_out"] = out
        self.up = np.zeros((len(self.leaves), max(len(self.spines), 1)))
        self.port_bw = 0.0
        if tree is None:
            return
        # Each leaf's spine links bundled per spine. fat_tree deals them in turn, leaf by
        # leaf, so leaf L's n uplinks from cursor c give spine k n // S links, one more
        # where (k - c) mod S < n mod S. The graph's last bundle (the last leaf's first
        # dealt last) sets port_bw, as in _scale_out: its rate summed link by link, over
        # its count.
        if not tree.uplinks:
            return
        port = so.link.bandwidth_bytes_per_s
        S = tree.spines
        ks = np.arange(S)
        cursor, last = 0, None
        for L, (_, _, _, n_up) in enumerate(leaves):
            self.up[L, :S] = n_up // S + ((ks - cursor) % S < n_up % S)
            if n_up:  # its last new bundle: the spine its min(n_up, S)-th link went to
                last = (L, int(self.up[L, (cursor + min(n_up, S) - 1) % S]))
            cursor += n_up
        if last is not None:
            count = last[1]
            bw = 1 * port
            for _ in range(count - 1):
                bw = bw + port
            self.port_bw = bw / count

    # ------------------------------------------------------------ scale-out index
    def _scale_out(self, G: nx.Graph) -> None:
        n = len(self.gpus)
        self.leaf = np.full(n, -1, dtype=np.int64)
        self.nic_bw = np.zeros(n)
        self.out_latency_s = 0.0
        leaves = sorted(
            (v for v, a in G.nodes(data=True) if a["kind"] == "leaf"),
            key=lambda v: G.nodes[v]["index"],
        )
        spines = sorted(
            (v for v, a in G.nodes(data=True) if a["kind"] == "spine"),
            key=lambda v: G.nodes[v]["index"],
        )
        self.leaves, self.spines = leaves, spines
        leaf_idx = {v: k for k, v in enumerate(leaves)}
        spine_idx = {v: k for k, v in enumerate(spines)}
        for i, g in enumerate(self.gpus):
            for _, v, a in G.edges(g, data=True):
                if a["kind"] == "scale_out" and v in leaf_idx:
                    self.leaf[i] = leaf_idx[v]
                    self.nic_bw[i] = a["bandwidth"]
                    self.out_latency_s = max(self.out_latency_s, a["latency"])
        # up[L, k]: links from leaf L to spine k; port_bw: bandwidth of one such link.
        self.up = np.zeros((len(leaves), max(len(spines), 1)))
        self.port_bw = 0.0
        for leaf, L in leaf_idx.items():
            for _, v, a in G.edges(leaf, data=True):
                if v in spine_idx:
                    self.up[L, spine_idx[v]] = a["links"]
                    self.port_bw = a["bandwidth"] / a["links"]

    @property
    def has_scale_out(self) -> bool:
        """Whether the GPUs hang off a scale-out fabric."""
        return bool(np.all(self.leaf >= 0)) and len(self.gpus) > 0

    @property
    def routes_key(self) -> bytes | None:
        """What a switched fabric's link loads depend on, as bytes (None: not switched).

        Domains, positions, link counts to the planes, leaves and latencies; not the
        links' rates: fabrics that differ only there (another NIC, another leaf-to-spine
        taper) load their links alike.
        """
        if self.topology != "switched":
            return None
        key = getattr(self, "_routes_key", None)
        if key is None:
            parts = (self.domain, self.pos, self.links, self.leaf)
            latencies = np.array([self.up_latency_s, self.out_latency_s, len(self.leaves)])
            key = hashlib.sha256(
                b"".join(np.ascontiguousarray(a).tobytes() for a in (*parts, latencies))
                + str(self.links.shape).encode()
            ).digest()
            self._routes_key = key
        return key


# The scale-up part of Fabric.from_layout by what it depends on (see there); at most 8.
_SCALE_UP: dict[tuple[Any, ...], dict[str, Any]] = {}


def fabric_of(G: nx.Graph | Fabric) -> Fabric:
    """`G` if it is a :class:`Fabric`, else the fabric of the graph."""
    return G if isinstance(G, Fabric) else Fabric(G)


_LOAD_ARRAYS = (
    "sw_up", "sw_down", "torus", "mesh", "nic_up", "nic_down", "leaf_traffic", "leaf_busy",
)  # fmt: skip


@dataclass(slots=True)
class LinkLoads:
    """Bytes per direction on every link a set of transfers uses, by fabric part.

    Arrays are indexed like :class:`Fabric`'s: ``sw_up[i, k]`` is GPU i to plane k,
    ``sw_down[i, k]`` plane k to GPU i, ``torus[i, dim, 0|1]`` GPU i's link out along
    +dim / -dim, ``mesh[i, p]`` GPU i to the member at position p of its domain,
    ``nic_up[i]`` / ``nic_down[i]`` GPU i to / from its leaf, ``leaf_up[L, k]`` /
    ``spine_down[L, k]`` leaf L to / from spine k (all its links together).
    """

    fabric: Fabric
    sw_up: np.ndarray = field(init=False)
    sw_down: np.ndarray = field(init=False)
    torus: np.ndarray = field(init=False)
    mesh: np.ndarray = field(init=False)
    nic_up: np.ndarray = field(init=False)
    nic_down: np.ndarray = field(init=False)
    leaf_traffic: np.ndarray = field(init=False)  # [L, L'] bytes leaf to leaf via spines
    leaf_busy: np.ndarray = field(init=False)  # [L] whether the leaf sends or receives there
    max_hops: int = 0
    max_latency_s: float = 0.0
    crosses_domains: bool = False

    def __post_init__(self) -> None:
        f = self.fabric
        n = len(f.gpus)
        # np.zeros, not zeros_like: the pages a collective never touches are never written
        # (a 131,072-GPU fabric's leaf matrix is 134 MB; a group touches a few rows).
        self.sw_up = _zeros(f.links) if f.topology == "switched" else np.zeros((n, 0))
        self.sw_down = _zeros(self.sw_up)
        self.torus = _zeros(f.torus_bw) if f.topology == "torus" else np.zeros((n, 0, 2))
        self.mesh = _zeros(f.mesh_bw) if f.topology == "full_mesh" else np.zeros((n, 0))
        self.nic_up = np.zeros(n)
        self.nic_down = np.zeros(n)
        self.leaf_traffic = np.zeros((len(f.leaves), len(f.leaves)))
        self.leaf_busy = np.zeros(len(f.leaves), dtype=bool)

    @property
    def nbytes(self) -> int:
        """Bytes its arrays hold."""
        return sum(getattr(self, name).nbytes for name in _LOAD_ARRAYS)

    def on(self, fabric: Fabric) -> LinkLoads:
        """A copy of these loads on `fabric` (one that routes alike: the same routes_key)."""
        out = object.__new__(LinkLoads)  # not zeros first: each array is copied in
        out.fabric = fabric
        for name in _LOAD_ARRAYS:
            setattr(out, name, getattr(self, name).copy())
        out.max_hops = self.max_hops
        out.max_latency_s = self.max_latency_s
        out.crosses_domains = self.crosses_domains
        return out

    def _spine_loads(self) -> tuple[np.ndarray, np.ndarray]:
        """Leaf-to-spine and spine-to-leaf loads [B] from the leaf traffic matrix (ECMP)."""
        f = self.fabric
        T = self.leaf_traffic
        # Only the leaves that send or receive: the others' rows are zero (a group on a
        # few leaves of thousands costs its own leaves, not the whole matrix, which is
        # not read: the routes mark the leaves they load).
        busy = self.leaf_busy
        if not busy.any():
            return _zeros(f.up), _zeros(f.up)
        every = bool(busy.all())
        act = np.flatnonzero(busy)
        A = f.up if every else f.up[act]  # links leaf -> spine
        B = (A > 0).astype(float)  # spine reaches leaf
        Z = A @ B.T  # [L, L']: uplinks of L that lead to a spine reaching L'
        if not every:
            T = T[np.ix_(act, act)]
        if np.any((T > 0) & (Z == 0)):
            msg = "two leaves share no spine: the scale-out fabric does not connect them"
            raise PlacementError(msg)
        R = np.divide(T, Z, out=np.zeros_like(T), where=Z > 0)
        if every:
            return A * (R @ B), B * (R.T @ A)
        up, down = _zeros(f.up), _zeros(f.up)
        up[act] = A * (R @ B)
        down[act] = B * (R.T @ A)
        return up, down

    def busiest(self) -> tuple[str, str, float, float]:
        """The link whose bytes / bandwidth is largest: (u, v, bytes, bandwidth per dir)."""
        best: tuple[float, str, str, float, float] = (-1.0, "", "", 0.0, 0.0)

        def consider(load: np.ndarray, bw: np.ndarray, name: object) -> None:
            nonlocal best
            if load.size == 0 or not load.any():
                return
            # bytes over no bandwidth: inf; no bytes: 0 (over no bandwidth too)
            t = np.divide(load, bw, out=np.zeros(load.shape), where=load > 0)
            k = int(np.argmax(t))
            if t.flat[k] > best[0]:
                u, v = name(np.unravel_index(k, load.shape))  # type: ignore[operator]
                best = (float(t.flat[k]), u, v, float(load.flat[k]), float(bw.flat[k]))

        with np.errstate(divide="ignore"):
            self._consider_all(consider)
        _, u, v, load, bw_ = best
        return u, v, load, bw_

    def _consider_all(self, consider: Callable[[np.ndarray, np.ndarray, object], None]) -> None:
        """Every link kind's loads and bandwidths, to :meth:`busiest`'s `consider`."""
        f = self.fabric
        if f.topology == "switched":
            bw = f.links * f.link_bw
            consider(self.sw_up, bw, lambda ik: (f.gpus[ik[0]], self._plane(ik)))
            consider(self.sw_down, bw, lambda ik: (self._plane(ik), f.gpus[ik[0]]))
        elif f.topology == "torus":
            consider(self.torus, f.torus_bw, lambda idk: (f.gpus[idk[0]], self._torus_next(idk)))
        else:
            consider(self.mesh, f.mesh_bw, lambda ip: (f.gpus[ip[0]], self._mesh_peer(ip)))
        consider(self.nic_up, f.nic_bw, lambda i: (f.gpus[i[0]], f.leaves[f.leaf[i[0]]]))
        consider(self.nic_down, f.nic_bw, lambda i: (f.leaves[f.leaf[i[0]]], f.gpus[i[0]]))
        up, down = self._spine_loads()
        bw = f.up * f.port_bw
        consider(up, bw, lambda lk: (f.leaves[lk[0]], f.spines[lk[1]]))
        consider(down, bw, lambda lk: (f.spines[lk[1]], f.leaves[lk[0]]))

    def edges(self) -> dict[tuple[str, str], float]:
        """Every loaded directed link and its bytes (for figures and reports)."""
        f = self.fabric
        out: dict[tuple[str, str], float] = {}

        def put(load: np.ndarray, name: object) -> None:
            for k in zip(*np.nonzero(load), strict=True):
                out[name(k)] = out.get(name(k), 0.0) + float(load[k])  # type: ignore[operator]

        if f.topology == "switched":
            put(self.sw_up, lambda ik: (f.gpus[ik[0]], self._plane(ik)))
            put(self.sw_down, lambda ik: (self._plane(ik), f.gpus[ik[0]]))
        elif f.topology == "torus":
            put(self.torus, lambda idk: (f.gpus[idk[0]], self._torus_next(idk)))
        else:
            put(self.mesh, lambda ip: (f.gpus[ip[0]], self._mesh_peer(ip)))
        put(self.nic_up, lambda i: (f.gpus[i[0]], f.leaves[f.leaf[i[0]]]))
        put(self.nic_down, lambda i: (f.leaves[f.leaf[i[0]]], f.gpus[i[0]]))
        up, down = self._spine_loads()
        put(up, lambda lk: (f.leaves[lk[0]], f.spines[lk[1]]))
        put(down, lambda lk: (f.spines[lk[1]], f.leaves[lk[0]]))
        return out

    def _plane(self, ik: tuple[int, ...]) -> str:
        f = self.fabric
        return f.planes[int(f.domain[ik[0]])][int(ik[1])]

    def _torus_next(self, idk: tuple[int, ...]) -> str:
        f = self.fabric
        i, dim, sign = (int(x) for x in idk)
        c = f.coords[i].copy()
        c[dim] = (c[dim] + (1 if sign == 0 else -1)) % f.dims[dim]
        pos = int(np.ravel_multi_index(tuple(c), f.dims))
        return f.gpus[f.members[int(f.domain[i])][pos]]

    def _mesh_peer(self, ip: tuple[int, ...]) -> str:
        f = self.fabric
        return f.gpus[f.members[int(f.domain[ip[0]])][int(ip[1])]]


def _zeros(like: np.ndarray) -> np.ndarray:
    """Zeros of `like`'s shape and type (allocated zeroed: untouched pages cost nothing)."""
    return np.zeros(like.shape, dtype=like.dtype)


# ---------------------------------------------------------------- pair routing
def _route_switched(loads: LinkLoads, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
    f = loads.fabric
    share = np.minimum(f.links[src], f.links[dst])
    total = share.sum(axis=1, keepdims=True)
    if np.any(total == 0):
        msg = "two GPUs of a switched domain share no switch plane"
        raise PlacementError(msg)
    flow = share / total * w[:, None]
    _add_rows(loads.sw_up, src, flow)
    _add_rows(loads.sw_down, dst, flow)
    loads.max_hops = max(loads.max_hops, 2)
    loads.max_latency_s = max(loads.max_latency_s, 2 * f.up_latency_s)


def _add_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``np.add.at(target, index, values)``: each value added to its row, in order.

    Onto a target still all zero, by ``np.bincount``, which adds each bin's values in
    the same order from the same zero: the same sums, several times faster.
    """
    if target.any() or not len(index):
        np.add.at(target, index, values)
        return
    if target.ndim == 1:
        flat, weights = index, np.broadcast_to(values, index.shape)
    else:
        k = target.shape[1]
        flat = (index[:, None] * k + np.arange(k)).ravel()
        weights = np.broadcast_to(values, (len(index), k)).ravel()
    target[...] = np.bincount(flat, weights, minlength=target.size).reshape(target.shape)


def _all_pairs_switched(loads: LinkLoads, groups: list[np.ndarray], w: float) -> bool:
    """Every pair of each group (all in one switched domain) routed by counting.

    Where a group's members have the same links to the planes, every pair's flow is one
    vector, and :func:`_route_switched` adds it to each member's row once per other
    member, in order, from zero: the same sums, added here without the pairs. False (and
    nothing added) where that does not hold, or the loads are not all zero yet.
    """
    f = loads.fabric
    if f.topology != "switched" or w <= 0 or not groups or loads.sw_up.any():
        return False
    rows = [f.links[idx] for idx in groups]
    if any(not (r == r[:1]).all() or not r[0].any() for r in rows):
        return False
    for idx, r in zip(groups, rows, strict=True):
        share = np.minimum(r[:1], r[:1])
        flow = share / share.sum(axis=1, keepdims=True) * np.array([w])[:, None]
        total = np.zeros_like(flow)
        for _ in range(len(idx) - 1):
            total = total + flow
        loads.sw_up[idx] = total
        loads.sw_down[idx] = total
    loads.max_hops = max(loads.max_hops, 2)
    loads.max_latency_s = max(loads.max_latency_s, 2 * f.up_latency_s)
    return True


def _route_torus(loads: LinkLoads, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
    """Dimension-order routing, the shorter way round; half each way at a tie."""
    f = loads.fabric
    dims = f.dims
    cur = f.coords[src].copy()
    target = f.coords[dst]
    members = {d: np.array(v) for d, v in f.members.items()}
    dom = f.domain[src]
    hops = np.zeros(len(src), dtype=np.int64)
    for dim, size in enumerate(dims):
        if f.wraparound:
            delta = (target[:, dim] - cur[:, dim]) % size
            fwd = delta < size - delta
            tie = (2 * delta == size) & (delta > 0)
            ways: list[tuple[int, np.ndarray, np.ndarray, float]] = [
                (0, fwd & ~tie, delta, 1.0),
                (1, ~fwd & ~tie & (delta > 0), size - delta, 1.0),
                (0, tie, delta, 0.5),
                (1, tie, size - delta, 0.5),
            ]
            dim_hops = np.minimum(delta, size - delta)
        else:  # open mesh: the direct way, never round the end
            diff = target[:, dim] - cur[:, dim]
            ways = [(0, diff > 0, diff, 1.0), (1, diff < 0, -diff, 1.0)]
            dim_hops = np.abs(diff)
        for sign, mask, steps, frac in ways:
            if not mask.any():
                continue
            rows = np.nonzero(mask)[0]
            for step in range(int(steps[rows].max())):
                live = rows[steps[rows] > step]
                c = cur[live].copy()
                c[:, dim] = (c[:, dim] + (step if sign == 0 else -step)) % size
                pos = np.ravel_multi_index(tuple(c.T), dims)
                node = np.array([members[int(d)][p] for d, p in zip(dom[live], pos, strict=True)])
                np.add.at(
                    loads.torus,
                    (node, np.full_like(node, dim), np.full_like(node, sign)),
                    w[live] * frac,
                )
        hops += dim_hops
        cur[:, dim] = target[:, dim]
    if len(hops):
        loads.max_hops = max(loads.max_hops, int(hops.max()))
        loads.max_latency_s = max(loads.max_latency_s, int(hops.max()) * f.up_latency_s)


def _route_mesh(loads: LinkLoads, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
    f = loads.fabric
    np.add.at(loads.mesh, (src, f.pos[dst]), w)
    loads.max_hops = max(loads.max_hops, 1)
    loads.max_latency_s = max(loads.max_latency_s, f.up_latency_s)


def _route_out(loads: LinkLoads, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
    f = loads.fabric
    if not f.has_scale_out:
        msg = "the group spans scale-up domains but the layout has no scale-out fabric"
        raise PlacementError(msg)
    _add_rows(loads.nic_up, src, w)
    _add_rows(loads.nic_down, dst, w)
    ls, ld = f.leaf[src], f.leaf[dst]
    other = ls != ld
    np.add.at(loads.leaf_traffic, (ls[other], ld[other]), w[other])
    sent = other & (w != 0)  # bytes are never negative: these are the entries not zero
    loads.leaf_busy[ls[sent]] = True
    loads.leaf_busy[ld[sent]] = True
    hops = 4 if other.any() else 2
    loads.max_hops = max(loads.max_hops, hops)
    loads.max_latency_s = max(loads.max_latency_s, hops * f.out_latency_s)
    loads.crosses_domains = True


_UP = {"switched": _route_switched, "torus": _route_torus, "full_mesh": _route_mesh}


def pair_loads(
    fabric: Fabric,
    src: np.ndarray,
    dst: np.ndarray,
    nbytes: np.ndarray | float,
    loads: LinkLoads | None = None,
) -> LinkLoads:
    """Route transfers ``src[k] -> dst[k]`` of ``nbytes[k]`` bytes (GPU indices).

    Transfers inside a domain go over its scale-up fabric, the others over the
    scale-out fabric; `loads` accumulates onto an existing result.
    """
    out = loads if loads is not None else LinkLoads(fabric)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.broadcast_to(np.asarray(nbytes, dtype=float), src.shape).copy()
    keep = (src != dst) & (w > 0)
    src, dst, w = src[keep], dst[keep], w[keep]
    same = fabric.domain[src] == fabric.domain[dst]
    if same.any():
        _UP[fabric.topology](out, src[same], dst[same], w[same])
    if (~same).any():
        _route_out(out, src[~same], dst[~same], w[~same])
    return out


def all_to_all_loads(fabric: Fabric, members: np.ndarray, nbytes_per_pair: float) -> LinkLoads:
    """Loads of a uniform all-to-all: every member sends `nbytes_per_pair` to every other.

    Notes
    -----
    Summed by counting rather than pair by pair, which is exact: inside a domain the
    pairs are routed as :func:`pair_loads` would (they are few); between domains a
    GPU's NIC carries ``w x (members outside its domain)`` each way, and leaf L sends
    leaf L' ``w x (c_L c_L' - sum_d c_Ld c_L'd)`` bytes, where ``c_Ld`` counts the
    members on leaf L in domain d (pairs in one domain stay on its scale-up fabric).
    """
    f = fabric
    members = np.asarray(members, dtype=np.int64)
    w = float(nbytes_per_pair)
    key = f.routes_key
    if key is not None:
        key += members.tobytes() + np.float64(w).tobytes()
        kept = _A2A.get(key)
        if kept is not None:
            return kept.on(f)
    loads = _all_to_all_loads(f, members, w)
    if key is not None and loads.nbytes <= _A2A_MAX_BYTES:
        bounded_put(_A2A, key, loads.on(f), 128)
    return loads


# Loads of all-to-alls by the fabric's routes and the group (a study's designs that
# differ only in link rates load the same links alike); at most 128, each a copy, of
# fabrics small enough that a copy costs less than routing afresh: at most 8 MB each
# (a 1,152-GPU fabric's take 0.4 MB; a 131,072-GPU one's 170 MB, its leaf matrix most).
_A2A: dict[bytes, LinkLoads] = {}
_A2A_MAX_BYTES = 8 << 20


def _all_to_all_loads(f: Fabric, members: np.ndarray, w: float) -> LinkLoads:
    loads = LinkLoads(f)
    # Each domain's members in their order, the domains in order: by one stable sort.
    dom = f.domain[members]
    order = np.argsort(dom, kind="stable")
    ranked = dom[order]
    starts = np.flatnonzero(np.r_[len(ranked) > 0, ranked[1:] != ranked[:-1]])
    doms, counts = ranked[starts], np.diff(np.r_[starts, len(ranked)])
    by_domain: dict[int, np.ndarray] = {
        d: members[order[a : a + c]]
        for d, a, c in zip(doms.tolist(), starts.tolist(), counts.tolist(), strict=True)
    }
    # Every domain's pairs routed in one call: the loads are added in the same order as
    # domain by domain, so they are the same sums.
    inside = [idx for idx in by_domain.values() if len(idx) > 1]
    pairs = (
        []
        if _all_pairs_switched(loads, inside, w)
        else [np.meshgrid(idx, idx, indexing="ij") for idx in inside]
    )
    if pairs:
        src = np.concatenate([s.ravel() for s, _ in pairs])
        dst = np.concatenate([t.ravel() for _, t in pairs])
        pair_loads(f, src, dst, w, loads)
    if len(by_domain) > 1:
        if not f.has_scale_out:
            msg = "the group spans scale-up domains but the layout has no scale-out fabric"
            raise PlacementError(msg)
        n = len(members)
        count_in_domain = counts[np.searchsorted(doms, dom)]
        np.add.at(loads.nic_up, members, w * (n - count_in_domain))
        np.add.at(loads.nic_down, members, w * (n - count_in_domain))
        # Counts on the leaves the members sit on (products of whole counts: exact).
        on = unique(f.leaf[members])
        at = np.searchsorted(on, f.leaf[members])  # each member's leaf among them
        c = np.bincount(at, minlength=len(on)).astype(float)
        T = np.outer(c, c)
        for a, cnt in zip(starts.tolist(), counts.tolist(), strict=True):
            cl = np.bincount(at[order[a : a + cnt]], minlength=len(on)).astype(float)
            nz = np.nonzero(cl)[0]
            T[np.ix_(nz, nz)] -= np.outer(cl[nz], cl[nz])
        np.fill_diagonal(T, 0.0)
        block = w * T
        loads.leaf_traffic[np.ix_(on, on)] += block
        loads.leaf_busy[on[block.any(axis=1) | block.any(axis=0)]] = True
        hops = 4 if T.any() else 2
        loads.max_hops = max(loads.max_hops, hops)
        loads.max_latency_s = max(loads.max_latency_s, hops * f.out_latency_s)
        loads.crosses_domains = True
    return loads
