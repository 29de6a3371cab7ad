"""The bisection on a contracted graph against three max-flows on the whole graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from helpers import LAYOUT_NAMES, bundled_doc, tray_layout
from hypothesis import given, settings
from hypothesis import strategies as st

from topo import build_graph, load_layout
from topo._cut import cut_flow
from topo.stats import _bisection_by_max_flow, bisection_bandwidth

KINDS = ("scale_out", "scale_up")


def _same(G: nx.Graph) -> None:
    for kind in KINDS:
        assert bisection_bandwidth(G, kind=kind) == _bisection_by_max_flow(G, kind=kind), kind


def _counting_max_flow(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the networkx max-flows run from now on."""
    calls = [0]
    real = nx.maximum_flow_value

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(nx, "maximum_flow_value", counted)
    return calls


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_bundled_layouts_match_the_max_flow(name: str) -> None:
    _same(build_graph(load_layout(name)))


def _variant(
    write_layout: Callable[..., Path], base: str, sections: dict[str, dict[str, Any]]
) -> nx.Graph:
    doc = bundled_doc(base)
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    return build_graph(load_layout(write_layout(doc)))


VARIANTS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    # 32 GPUs a rail on one 3:1 leaf, 11 uplinks on 11 spines: an even Clos.
    "oversubscribed": ("dgx-h100-superpod", {"scale_out": {"oversubscription": 3}}),
    # 64 GPUs a rail: leaves of 48 and 16 GPUs, 16 and 6 uplinks on 4 spines (uneven).
    "oversubscribed, uneven leaves": (
        "dgx-h100-superpod",
        {"scale_out": {"oversubscription": 3}, "cluster": {"racks": 16}},
    ),
    "two rails": ("dgx-h100-superpod", {"scale_out": {"rails": 2}}),
    "two rails, small leaves": (
        "dgx-h100-superpod",
        {"scale_out": {"rails": 2, "leaf_radix": 24, "spine_radix": 16}},
    ),
    "odd racks, 2:1": (
        "dgx-h100-superpod",
        {"scale_out": {"oversubscription": 2, "leaf_radix": 16}, "cluster": {"racks": 5}},
    ),
    # 3 racks of one domain each: the middle torus is cut in half by rank.
    "torus": ("tpu-v5p-4x4x4", {"cluster": {"racks": 3}}),
    "torus with rings of 2": (
        "tpu-v5p-4x4x4",
        {"scale_up": {"dims": [2, 2, 16]}, "cluster": {"racks": 3}},
    ),
    "torus without wraparound": (
        "tpu-v5p-4x4x4",
        {"scale_up": {"wraparound": False, "dims": [2, 4, 8]}, "cluster": {"racks": 3}},
    ),
    "full mesh": ("mi300x-8", {"cluster": {"racks": 3}}),
    "switched, 2 racks a domain": (
        "gb200-nvl72",
        {"scale_up": {"domain": "2 racks"}, "cluster": {"racks": 4}},
    ),
    "no scale-out": ("gb200-nvl72", {"scale_out": {"topology": "none"}}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_match_the_max_flow(variant: str, write_layout: Callable[..., Path]) -> None:
    base, sections = VARIANTS[variant]
    _same(_variant(write_layout, base, sections))


def test_odd_gpu_count_matches_the_max_flow() -> None:
    # 9 GPUs: 4 | 4, the middle GPU on neither side (a dead end off its leaf).
    _same(build_graph(tray_layout(gpus=3, trays=3, switches=3, links=6)))


def test_oversubscription_cut_is_rail_by_rail(
    write_layout: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    G = _variant(write_layout, *VARIANTS["oversubscribed"])
    calls = _counting_max_flow(monkeypatch)
    bis = bisection_bandwidth(G)
    # Rank order leaves each rail's 32-GPU leaf half on each side: 8 x 16 x 50 GB/s stays
    # on the leaves. Rail by rail (here the same as leaf by leaf, and listed first) puts
    # 4 whole leaves on each side, and everything climbs their ceil(32 / 3) = 11 uplinks
    # of 50 GB/s: 4 x 11 x 50 GB/s.
    assert bis.bandwidth_bytes_per_s == 4 * 11 * 50e9
    assert bis.cut == "128 GPUs | 128 GPUs in rail by rail, scale_out links only"
    assert calls[0] == 0  # an even Clos contracts to a star: closed form
    assert bis == _bisection_by_max_flow(G)


def test_uneven_spines_fall_back_to_a_small_max_flow(
    write_layout: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    G = _variant(write_layout, *VARIANTS["oversubscribed, uneven leaves"])
    calls = _counting_max_flow(monkeypatch)
    bis = bisection_bandwidth(G)
    assert calls[0] > 0
    assert bis == _bisection_by_max_flow(G)
    # Four whole rails a side, (16 + 6) uplinks a rail, at most 4 x 22 x 50 GB/s.
    assert bis.bandwidth_bytes_per_s <= 4 * 22 * 50e9


def test_even_fat_tree_at_scale_is_closed_form(
    write_layout: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8,192 GPUs: 1,024 a rail, 32 leaves a rail of 32 down and 32 up; 256 leaves > 64
    # ports, so 32 spine planes with one link to every leaf. Non-blocking: half the GPUs
    # at the full 400 Gb/s = 50 GB/s of their NIC.
    G = _variant(write_layout, "dgx-h100-superpod", {"cluster": {"racks": 256}})
    calls = _counting_max_flow(monkeypatch)
    bis = bisection_bandwidth(G)
    assert calls[0] == 0
    assert bis.bandwidth_bytes_per_s == 4096 * 50e9
    assert bis.cut == "4096 GPUs | 4096 GPUs in rank order, scale_out links only"


# ---------------------------------------------------------------- cut_flow on random graphs
@st.composite
def _graphs(draw: st.DrawFn) -> tuple[nx.Graph, list[int]]:
    """A random graph with whole-number capacities, some twins, and a side per node."""
    n = draw(st.integers(2, 9))
    G = nx.Graph()
    G.add_nodes_from(range(n))
    for a in range(n):
        for b in range(a + 1, n):
            if draw(st.booleans()):
                G.add_edge(a, b, capacity=float(draw(st.integers(1, 4)) * 25e9))
    for _ in range(draw(st.integers(0, 4))):  # a twin of a node: the same links
        of = draw(st.integers(0, n - 1))
        t = G.number_of_nodes()
        G.add_node(t)
        for nb, attrs in list(G.adj[of].items()):
            G.add_edge(t, nb, capacity=attrs["capacity"])
    sides = [draw(st.sampled_from([0, 0, 1, 2])) for _ in range(G.number_of_nodes())]
    return G, sides


@settings(max_examples=300, deadline=None)
@given(_graphs())
def test_cut_flow_is_the_max_flow(case: tuple[nx.Graph, list[int]]) -> None:
    G, sides = case
    D = nx.DiGraph()
    for a, b, c in G.edges(data="capacity"):
        D.add_edge(a, b, capacity=c)
        D.add_edge(b, a, capacity=c)
    for x, s in enumerate(sides):
        D.add_node(x)
        if s == 1:
            D.add_edge("src", x)
        elif s == 2:
            D.add_edge(x, "dst")
    expected = float(nx.maximum_flow_value(D, "src", "dst")) if "src" in D and "dst" in D else 0.0
    edges = list(G.edges(data="capacity"))
    u = np.array([a for a, _, _ in edges], dtype=np.intp)
    v = np.array([b for _, b, _ in edges], dtype=np.intp)
    cap = np.array([c for _, _, c in edges], dtype=np.float64)
    assert cut_flow(np.array(sides, dtype=np.int8), u, v, cap) == expected


def test_cut_flow_star_by_hand() -> None:
    # Leaves 0 and 1 (3 and 1 GPUs on side A; 0 and 2 on side B) under one spine 2, 2
    # uplinks each; GPUs 3..8 hang off the leaves with 1 unit each. Leaf 1 keeps 1 unit
    # local; leaf 0 sends min(3, 2) = 2 up, leaf 1 can take min(2 - 1, 2) = 1 from the
    # spine: 1 + 1 = 2.
    edges = [(0, 2, 2.0), (1, 2, 2.0), (3, 0, 1.0), (4, 0, 1.0), (5, 0, 1.0)]
    edges += [(6, 1, 1.0), (7, 1, 1.0), (8, 1, 1.0)]
    side = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2], dtype=np.int8)
    u, v, c = (np.array(col) for col in zip(*edges, strict=True))
    assert cut_flow(side, u.astype(np.intp), v.astype(np.intp), c.astype(np.float64)) == 2.0
