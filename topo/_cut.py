"""Maximum flow between two sets of nodes of an undirected graph, on a contracted graph.

:func:`cut_flow` gives the value networkx's maximum flow gives from a source joined
without bound to side A to a sink joined to side B, every undirected edge carrying
its capacity each way, but contracts the graph first. Each step keeps the minimum
cut (max-flow min-cut), so the value is the same:

1. Terminals: side A becomes the source and side B the sink. An edge between the two
   sides is flow by itself; an edge inside one side carries none; an edge from side A
   to any other node is that node's capacity from the source, ``a``, and likewise
   ``b`` to the sink (a leaf switch's GPUs on each side).
2. Dead ends: a node with no terminal capacity and at most one neighbour carries none.
3. Twins: nodes with the same ``a``, ``b`` and the same capacity to the same
   neighbours (the spines of an even Clos; the leaves wholly on one side) become one
   node, their capacities summed. Twins are never adjacent, and with every other node
   placed, both face the same cost on either side, so some minimum cut keeps them
   together.

What is left splits into connected components. A lone node passes ``min(a, b)``; a
star (a hub joined to nodes joined to nothing else, an even fat tree after step 3)
passes ``min(b_hub + sum min(b, a + c), a_hub + sum min(b + c, a))`` over its points,
``c`` a point's capacity to the hub (the hub on the source side, or on the sink
side). Anything else is a networkx maximum flow on the contracted component, a few
nodes where the links are regular.

Sums of capacities are exact floats while they are whole numbers below 2**53 (B/s
from Gb/s rates are), so the value then equals networkx's on the whole graph exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["cut_flow"]

_Adj = dict[int, dict[int, float]]


def cut_flow(
    side: npt.NDArray[np.int8],
    u: npt.NDArray[np.intp],
    v: npt.NDArray[np.intp],
    capacity: npt.NDArray[np.float64],
) -> float:
    """Maximum flow [capacity units] from the nodes of side 1 to the nodes of side 2.

    Parameters
    ----------
    side
        Per node: 1 (side A), 2 (side B) or 0 (neither: switches, unpaired GPUs).
    u, v, capacity
        The undirected edges, as node indices into `side`, and each one's capacity
        (per direction; no two edges join the same pair).
    """
    su, sv = side[u], side[v]
    flow = float(capacity[((su == 1) & (sv == 2)) | ((su == 2) & (sv == 1))].sum())
    n = len(side)

    def terminal(s: int) -> list[float]:
        into_v = (su == s) & (sv == 0)
        into_u = (sv == s) & (su == 0)
        w = np.zeros(n)
        w += np.bincount(v[into_v], capacity[into_v], minlength=n)
        w += np.bincount(u[into_u], capacity[into_u], minlength=n)
        return [float(x) for x in w]

    a, b = terminal(1), terminal(2)
    free = (su == 0) & (sv == 0) & (u != v)
    adj: _Adj = {int(x): {} for x in np.flatnonzero((np.asarray(a) > 0) | (np.asarray(b) > 0))}
    for x, y, c in zip(u[free].tolist(), v[free].tolist(), capacity[free].tolist(), strict=True):
        nx_ = adj.setdefault(x, {})
        nx_[y] = nx_.get(y, 0.0) + c
        ny_ = adj.setdefault(y, {})
        ny_[x] = ny_.get(x, 0.0) + c
    ta = {x: a[x] for x in adj}
    tb = {x: b[x] for x in adj}
    while True:
        _prune(adj, ta, tb)
        merged = _merge_twins(adj, ta, tb)
        if merged is None:
            break
        adj, ta, tb = merged
    for comp in _components(adj):
        flow += _component_flow(comp, adj, ta, tb)
    return flow


def _prune(adj: _Adj, ta: dict[int, float], tb: dict[int, float]) -> None:
    """Drop dead ends (no terminal capacity, at most one neighbour), repeatedly."""

    def dead(x: int) -> bool:
        return len(adj[x]) <= 1 and not ta[x] and not tb[x]

    stack = [x for x in adj if dead(x)]
    while stack:
        x = stack.pop()
        if x not in adj:
            continue
        for y in adj.pop(x):
            del adj[y][x]
            if dead(y):
                stack.append(y)
        del ta[x], tb[x]


def _merge_twins(
    adj: _Adj, ta: dict[int, float], tb: dict[int, float]
) -> tuple[_Adj, dict[int, float], dict[int, float]] | None:
    """The graph with each class of twins as one node (its first), or None if none."""
    first: dict[tuple[float, float, tuple[tuple[int, float], ...]], int] = {}
    rep: dict[int, int] = {}
    for x, nb in adj.items():
        r = first.setdefault((ta[x], tb[x], tuple(sorted(nb.items()))), x)
        if r != x:
            rep[x] = r
    if not rep:
        return None
    new: _Adj = {}
    na: dict[int, float] = {}
    nb_: dict[int, float] = {}
    for x, nbrs in adj.items():
        r = rep.get(x, x)
        row = new.setdefault(r, {})
        for y, c in nbrs.items():
            ry = rep.get(y, y)
            row[ry] = row.get(ry, 0.0) + c
        na[r] = na.get(r, 0.0) + ta[x]
        nb_[r] = nb_.get(r, 0.0) + tb[x]
    return new, na, nb_


def _components(adj: _Adj) -> list[list[int]]:
    seen: set[int] = set()
    out = []
    for start in adj:
        if start in seen:
            continue
        seen.add(start)
        comp, stack = [start], [start]
        while stack:
            for y in adj[stack.pop()]:
                if y not in seen:
                    seen.add(y)
                    comp.append(y)
                    stack.append(y)
        out.append(comp)
    return out


def _component_flow(
    comp: list[int], adj: _Adj, ta: dict[int, float], tb: dict[int, float]
) -> float:
    if len(comp) == 1:
        x = comp[0]
        return min(ta[x], tb[x])
    hub = max(comp, key=lambda x: len(adj[x]))
    if len(adj[hub]) == len(comp) - 1 and all(len(adj[x]) == 1 for x in comp if x != hub):
        points = [x for x in comp if x != hub]
        hub_source = tb[hub] + sum(min(tb[x], ta[x] + adj[x][hub]) for x in points)
        hub_sink = ta[hub] + sum(min(tb[x] + adj[x][hub], ta[x]) for x in points)
        return min(hub_source, hub_sink)
    import networkx as nx  # only here: most cuts have a closed form

    D = nx.DiGraph()
    src, dst = -1, -2
    for x in comp:
        if ta[x]:
            D.add_edge(src, x, capacity=ta[x])
        if tb[x]:
            D.add_edge(x, dst, capacity=tb[x])
        for y, c in adj[x].items():
            D.add_edge(x, y, capacity=c)
    if src not in D or dst not in D:
        return 0.0
    return float(nx.maximum_flow_value(D, src, dst))
