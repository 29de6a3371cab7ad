"""The graph: counts and bandwidths checked against hand arithmetic, and invariants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
from helpers import LAYOUT_NAMES, bundled_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.build import build_graph, gpu_nodes
from topo.layout import load_layout
from topo.schema import EDGE_ATTRS, NODE_ATTRS
from topo.stats import bisection_bandwidth, per_gpu_bandwidth, summarize


def edges_of(G: nx.Graph, kind: str) -> list[dict]:
    return [a for _, _, a in G.edges(data=True) if a["kind"] == kind]


def test_nvl72_counts_by_hand() -> None:
    G = build_graph(load_layout("gb200-nvl72"))
    kinds = Counter(a["kind"] for _, a in G.nodes(data=True))
    assert kinds["gpu"] == 72
    assert kinds["switch"] == 18  # 9 switch trays x 2 NVSwitch chips
    up = edges_of(G, "scale_up")
    assert len(up) == 72 * 18 == 1296  # every GPU to every switch chip, one link each
    assert sum(a["links"] for a in up) == 1296
    # Copper pairs: 72 GPUs x 18 links x 2 lanes x 2 directions = 5,184 (physical_limits.md).
    assert sum(a["lanes"] for a in up) * 2 == 5184
    # Switch ports used: 1,296 = 9 trays x 144 ports.
    assert sum(G.degree(n) for n, a in G.nodes(data=True) if a["kind"] == "switch") == 9 * 144
    assert set(per_gpu_bandwidth(G, "scale_up")) == {18 * 50e9}  # 900 GB/s per direction
    assert {a["medium"] for a in up} == {"copper"}
    # Longest spine cable: farthest compute tray to farthest switch tray, + slack.
    longest = max(a["length"] for a in up)
    assert 0.6 < longest < 1.2


def test_nvl72_longest_spine_cable_by_hand() -> None:
    lay = load_layout("gb200-nvl72")
    G = build_graph(lay)
    # From the top of the 48U rack: 2 ToR (U48-47), 4 power shelves (U46-43), 10 compute
    # trays (U42-33), 9 switch trays (U32-24), 8 compute trays (U23-16).
    us = sorted({a["u"] for _, a in G.nodes(data=True) if a["kind"] == "switch"})
    assert us == list(range(24, 33))
    # Farthest pair: compute tray at U42 to switch tray at U24, 18 U = 0.80 m
    # (physical_limits.md: "18 RU centre-to-centre = 0.80 m"), plus the slack.
    want = 18 * 0.04445 + lay.scale_up.cable_slack_m
    assert max(a["length"] for a in edges_of(G, "scale_up")) == pytest.approx(want)


def test_dgx_h100_links_split_5_4_4_5() -> None:
    G = build_graph(load_layout("dgx-h100"))
    g = gpu_nodes(G)[0]
    links = sorted(a["links"] for _, _, a in G.edges(g, data=True) if a["kind"] == "scale_up")
    assert links == [4, 4, 5, 5]  # 18 links over 4 NVSwitch chips
    assert set(per_gpu_bandwidth(G, "scale_up")) == {18 * 25e9}  # 450 GB/s per direction
    # Every GPU has the same 5+4+4+5 pattern: switch chips carry 8 x 5 or 8 x 4 links.
    sw = [n for n, a in G.nodes(data=True) if a["kind"] == "switch"]
    assert sorted(sum(a["links"] for _, _, a in G.edges(s, data=True)) for s in sw) == [
        32,
        32,
        40,
        40,
    ]


def test_mi300x_full_mesh() -> None:
    G = build_graph(load_layout("mi300x-8"))
    up = edges_of(G, "scale_up")
    assert len(up) == 8 * 7 // 2 == 28
    assert {a["bandwidth"] for a in up} == {64e9}  # one xGMI link per pair
    assert set(per_gpu_bandwidth(G, "scale_up")) == {7 * 64e9}  # 448 GB/s per direction


def test_tpu_v5p_torus_has_six_neighbours_each() -> None:
    G = build_graph(load_layout("tpu-v5p-4x4x4"))
    gpus = gpu_nodes(G)
    assert len(gpus) == 64
    up = edges_of(G, "scale_up")
    assert len(up) == 64 * 6 // 2 == 192
    for g in gpus:
        assert sum(1 for _, _, a in G.edges(g, data=True) if a["kind"] == "scale_up") == 6
    # 3 dimensions x 16 rings, each closed by one wraparound link through optics.
    assert Counter(a["medium"] for a in up) == {"copper": 144, "optical": 48}
    assert set(per_gpu_bandwidth(G, "scale_up")) == {6 * 100e9}  # 1,200 GB/s bidirectional
    # Neighbours differ by one in exactly one coordinate (mod 4).
    for a, b, attrs in G.edges(data=True):
        if attrs["kind"] != "scale_up":
            continue
        ca = [int(x) for x in G.nodes[a]["coords"].split(",")]
        cb = [int(x) for x in G.nodes[b]["coords"].split(",")]
        diffs = [(x - y) % 4 for x, y in zip(ca, cb, strict=True)]
        assert sorted(diffs) in ([0, 0, 1], [0, 0, 3])


def test_torus_without_wraparound(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("tpu-v5p-4x4x4")
    doc["scale_up"]["wraparound"] = False
    G = build_graph(load_layout(write_layout(doc)))
    # A 4x4x4 mesh: 3 x (3 x 16) = 144 edges; corners have 3 neighbours.
    assert len(edges_of(G, "scale_up")) == 144
    degrees = Counter(
        sum(1 for _, _, a in G.edges(g, data=True) if a["kind"] == "scale_up") for g in gpu_nodes(G)
    )
    assert degrees == {3: 8, 4: 24, 5: 24, 6: 8}


def test_x16_fat_tree_by_hand() -> None:
    G = build_graph(load_layout("gb200-nvl72-x16"))
    kinds = Counter(a["kind"] for _, a in G.nodes(data=True))
    assert kinds["gpu"] == 1152
    # 4 rails x 288 GPUs; 64-port leaves non-blocking: 32 down, so 9 leaves a rail.
    assert kinds["leaf"] == 4 * 9
    # 36 leaves x 32 uplinks = 1,152 uplinks need at least 1,152 / 64 = 18 spines; for an
    # even Clos the count divides 32, so 32 spines, one link to every leaf (36 ports used).
    assert kinds["spine"] == 32
    assert {G.degree(n) for n, a in G.nodes(data=True) if a["kind"] == "spine"} == {36}
    assert len({G.nodes[g]["domain"] for g in gpu_nodes(G)}) == 16
    assert set(per_gpu_bandwidth(G, "scale_out")) == {50e9}  # 400 Gb/s per GPU
    # Non-blocking: half the GPUs can send to the other half at full NIC speed.
    assert bisection_bandwidth(G).bandwidth_bytes_per_s == pytest.approx(576 * 50e9)


def test_superpod_fat_tree_by_hand() -> None:
    G = build_graph(load_layout("dgx-h100-superpod"))
    kinds = Counter(a["kind"] for _, a in G.nodes(data=True))
    assert (kinds["gpu"], kinds["switch"], kinds["leaf"], kinds["spine"]) == (256, 128, 8, 4)
    assert bisection_bandwidth(G).bandwidth_bytes_per_s == pytest.approx(128 * 50e9)


def test_oversubscription_narrows_bisection(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("dgx-h100-superpod")
    doc["scale_out"] = {"oversubscription": 3}
    G = build_graph(load_layout(write_layout(doc)))
    # 64-port leaves at 3:1 take up to 48 GPUs. Each of the 8 rails has 32 GPUs on one
    # leaf with ceil(32 / 3) = 11 uplinks of 50 GB/s. The narrowest cut puts 4 whole
    # leaves on each side: 4 x 11 x 50 GB/s.
    assert bisection_bandwidth(G).bandwidth_bytes_per_s == pytest.approx(4 * 11 * 50e9)
    doc["cluster"] = {"racks": 16}  # 64 GPUs a rail: leaves of 48 and 16 GPUs
    G = build_graph(load_layout(write_layout(doc)))
    # Leaf of 48 needs ceil(48 / 3) = 16 uplinks, leaf of 16 ceil(16 / 3) = 6. Four whole
    # rails on each side: 4 x (16 + 6) x 50 GB/s.
    # The spines (ceil(176 / 64) = 3) cannot split every leaf's uplinks evenly, so the
    # flow may lose up to one uplink per spine against that bound.
    value = bisection_bandwidth(G).bandwidth_bytes_per_s
    assert (4 * 22 - 3) * 50e9 <= value <= 4 * 22 * 50e9


def test_attributes_follow_the_schema() -> None:
    G = build_graph(load_layout("gb200-nvl72"))
    for _, a in G.nodes(data=True):
        assert set(a) == set(NODE_ATTRS)
    for _, _, a in G.edges(data=True):
        assert set(a) == set(EDGE_ATTRS)
        assert a["bandwidth"] > 0
        assert a["latency"] >= 0
        assert a["length"] > 0
    assert G.graph["layout"] == "gb200-nvl72"


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_bundled_layout_builds_connected(name: str) -> None:
    lay = load_layout(name)
    G = build_graph(lay)
    assert len(gpu_nodes(G)) == lay.n_gpus
    s = summarize(lay, G)
    assert s.gpus == lay.n_gpus
    assert s.domain_size == lay.gpus_per_domain
    if lay.scale_out.topology != "none":
        assert nx.is_connected(G)
    for dom in {G.nodes[g]["domain"] for g in gpu_nodes(G)}:
        members = [n for n, a in G.nodes(data=True) if a["domain"] == dom]
        sub = G.edge_subgraph(
            (a, b) for a, b, e in G.edges(members, data=True) if e["kind"] == "scale_up"
        )
        assert nx.is_connected(sub), f"domain {dom} is not connected by scale-up links"


def test_no_scale_out(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("gb200-nvl72")
    doc["scale_out"] = {"topology": "none"}
    G = build_graph(load_layout(write_layout(doc)))
    assert not edges_of(G, "scale_out")
    assert bisection_bandwidth(G).bandwidth_bytes_per_s == 0


@settings(max_examples=25, deadline=None)
@given(
    links=st.integers(1, 40),
    switches=st.integers(1, 12),
    gpus=st.integers(1, 16),
)
def test_switched_links_are_conserved(links: int, switches: int, gpus: int) -> None:
    """Every GPU gets exactly links_per_gpu links; edges = GPUs x min(links, switches)."""
    from helpers import tray_layout

    G = build_graph(tray_layout(gpus=gpus, links=links, switches=switches))
    for g in gpu_nodes(G):
        assert (
            sum(a["links"] for _, _, a in G.edges(g, data=True) if a["kind"] == "scale_up") == links
        )
    assert len(edges_of(G, "scale_up")) == gpus * min(links, switches)


@settings(max_examples=20, deadline=None)
@given(nic_gbps=st.sampled_from([100, 200, 400, 800]), more=st.sampled_from([2, 4]))
def test_more_nic_bandwidth_never_less_bisection(nic_gbps: int, more: int) -> None:
    from helpers import tray_layout

    lo = build_graph(tray_layout(gpus=8, trays=4, nic=f"{nic_gbps} Gb/s"))
    hi = build_graph(tray_layout(gpus=8, trays=4, nic=f"{nic_gbps * more} Gb/s"))
    b_lo = bisection_bandwidth(lo).bandwidth_bytes_per_s
    b_hi = bisection_bandwidth(hi).bandwidth_bytes_per_s
    assert b_hi >= b_lo
    assert b_lo == pytest.approx(16 * nic_gbps * 1e9 / 8)  # 32 GPUs, non-blocking
