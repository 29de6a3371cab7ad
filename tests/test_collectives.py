"""Collectives: textbook factors reproduced from link loads, hand-derived numbers, invariants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import bundled_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.build import build_graph, gpu_nodes
from topo.collectives import BUS_FACTOR, OPS, collective
from topo.errors import PlacementError
from topo.layout import load_layout
from topo.place import Plan, place
from topo.routing import Fabric, all_to_all_loads, pair_loads

GB = 1e9
NVL72 = build_graph(load_layout("gb200-nvl72"))
X16 = build_graph(load_layout("gb200-nvl72-x16"))
DGX = build_graph(load_layout("dgx-h100"))
TPU = build_graph(load_layout("tpu-v5p-4x4x4"))
MI = build_graph(load_layout("mi300x-8"))
POD = build_graph(load_layout("dgx-h100-superpod"))


def first(G, n):  # noqa: ANN001, ANN201
    return gpu_nodes(G)[:n]


def test_all_to_all_inside_nvl72() -> None:
    r = collective(NVL72, "all-to-all", first(NVL72, 72), GB, clean=True)
    assert r.beta_s == pytest.approx(71 / 72 * GB / 900e9, rel=1e-9)
    assert (r.racks_spanned, r.domains_spanned) == (1, 1)
    assert r.busiest_link["bandwidth_bytes_per_s"] == 50e9  # one NVLink 5 link to a plane


def test_all_to_all_across_two_racks() -> None:
    r = collective(X16, "all-to-all", first(X16, 144), GB, clean=True)
    # Half of each GPU's buffer goes to the other rack through its 400 Gb/s NIC.
    assert r.beta_s == pytest.approx(72 / 144 * GB / 50e9, rel=0.01)
    assert r.racks_spanned == 2
    inside = collective(NVL72, "all-to-all", first(NVL72, 72), GB, clean=True)
    # (W_up / W_out) x (M - 1) / M = 18 x 1/2 = 9 (x 72/71 for the NVLink part's own share).
    assert r.beta_s / inside.beta_s == pytest.approx(9 * 72 / 71, rel=0.01)


def test_ring_all_reduce_dgx_h100() -> None:
    r = collective(DGX, "all-reduce", first(DGX, 8), GB, algorithm="ring", clean=True)
    assert r.beta_s == pytest.approx(2 * 7 / 8 * GB / 450e9, rel=1e-9)
    assert r.time_s > r.beta_s
    assert r.bus_bandwidth_bytes_per_s == pytest.approx(r.algorithm_bandwidth_bytes_per_s * 1.75)
    auto = collective(DGX, "all-reduce", first(DGX, 8), GB, clean=True)
    assert auto.beta_s == pytest.approx(r.beta_s, rel=1e-9)  # direct: same bytes per link


@pytest.mark.parametrize("op", ["all-gather", "reduce-scatter"])
def test_ring_textbook_factor(op: str) -> None:
    r = collective(NVL72, op, first(NVL72, 72), GB, algorithm="ring", clean=True)
    assert r.beta_s == pytest.approx(71 / 72 * GB / 900e9, rel=1e-9)


def test_non_blocking_fat_tree_reproduces_textbook() -> None:
    # One GPU from each of 16 racks (the same rail): 16 GPUs on the NIC fabric only.
    gpus = [f"r{r}/gpu0" for r in range(16)]
    a2a = collective(X16, "all-to-all", gpus, GB, clean=True)
    assert a2a.beta_s == pytest.approx(15 / 16 * GB / 50e9, rel=1e-9)
    ring = collective(X16, "all-reduce", gpus, GB, algorithm="ring", clean=True)
    assert ring.beta_s == pytest.approx(2 * 15 / 16 * GB / 50e9, rel=1e-9)
    # GPUs on different rails meet through the spines: still non-blocking.
    mixed = [f"r{r}/gpu{r % 4}" for r in range(16)]
    assert collective(X16, "all-to-all", mixed, GB, clean=True).beta_s == pytest.approx(
        15 / 16 * GB / 50e9, rel=1e-9
    )


def test_torus_all_to_all_is_bisection_bound() -> None:
    r = collective(TPU, "all-to-all", first(TPU, 64), GB, clean=True)
    # Halving the 4x4x4 torus in x cuts 2 x 16 links (wraparound) = 32 links of 100 GB/s
    # each way. All-to-all sends 32 x 32 x (1 GB / 64) = 16 GB across: 16 GB / 3.2 TB/s.
    bisection = 2 * 16 * 100e9
    assert r.beta_s == pytest.approx(32 * 32 * GB / 64 / bisection, rel=1e-9)
    assert r.beta_s == pytest.approx(5e-3, rel=1e-9)


def test_full_mesh_direct_uses_every_link() -> None:
    ring = collective(MI, "all-reduce", first(MI, 8), GB, algorithm="ring", clean=True)
    direct = collective(MI, "all-reduce", first(MI, 8), GB, algorithm="direct", clean=True)
    # A ring uses one 64 GB/s link of seven; direct sends 1/8 GB down each link, twice.
    assert ring.beta_s == pytest.approx(2 * 7 / 8 * GB / 64e9, rel=1e-9)
    assert direct.beta_s == pytest.approx(2 * GB / 8 / 64e9, rel=1e-9)
    assert collective(MI, "all-reduce", first(MI, 8), GB).algorithm == "direct"


def test_hierarchical_all_reduce_across_racks() -> None:
    r = collective(X16, "all-reduce", first(X16, 144), GB, clean=True)
    assert r.algorithm == "hierarchical"
    # RS and AG inside each NVL72 (71/72 GB at 900 GB/s each), AR of 1/72 GB shards
    # across the two racks over 400 Gb/s NICs: 2 x 1/2 x (1/72 GB) / 50 GB/s.
    want = 2 * 71 / 72 * GB / 900e9 + 2 * (1 / 2) * GB / 72 / 50e9
    assert r.beta_s == pytest.approx(want, rel=1e-9)
    assert [p.name for p in r.phases] == [
        "reduce-scatter in domain",
        "all-reduce across domains",
        "all-gather in domain",
    ]
    assert r.alternatives["ring"] > r.time_s


def test_p2p_and_broadcast() -> None:
    p2p = collective(X16, "p2p", ["r0/gpu0", "r1/gpu0"], GB, clean=True)
    assert p2p.beta_s == pytest.approx(GB / 50e9)
    assert p2p.bus_bandwidth_bytes_per_s == p2p.algorithm_bandwidth_bytes_per_s
    b = collective(NVL72, "broadcast", first(NVL72, 8), GB, clean=True)
    assert b.beta_s == pytest.approx(GB / 900e9)  # pipelined: each hop carries M once
    assert b.phases[0].steps == 7


def test_alpha_counts_steps_and_overheads() -> None:
    r = collective(DGX, "all-reduce", first(DGX, 8), 1.0, algorithm="ring", clean=True)
    # 14 ring steps x (GPU -> switch -> GPU: 2 x 0.5 us) + 10 us call overhead.
    assert r.alpha_s == pytest.approx(14 * 1e-6 + 10e-6)
    r = collective(X16, "all-to-all", first(X16, 144), 1.0, clean=True)
    # NIC -> leaf -> spine -> leaf -> NIC: 4 hops of 1 us, + 20 us across domains.
    assert r.alpha_s == pytest.approx(4e-6 + 20e-6)


def test_bus_factors() -> None:
    assert BUS_FACTOR("all-reduce", 8) == 1.75
    assert BUS_FACTOR("all-gather", 8) == 0.875
    assert BUS_FACTOR("broadcast", 8) == 1.0


def test_aggregated_all_to_all_equals_pairwise_routing() -> None:
    f = Fabric(POD)
    members = np.array([0, 1, 2, 3, 8, 9, 40, 41, 42, 100, 200, 255])
    agg = all_to_all_loads(f, members, 1e6)
    s, t = np.meshgrid(members, members, indexing="ij")
    pair = pair_loads(f, s.ravel(), t.ravel(), 1e6)
    assert agg.edges() == pytest.approx(pair.edges())
    assert agg.busiest() == pytest.approx(pair.busiest())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"op": "gather"}, "op must be one of"),
        ({"gpus": ["r0/gpu0"]}, "at least 2 GPUs"),
        ({"gpus": ["r0/gpu0", "r0/gpu0"]}, "lists a GPU twice"),
        ({"gpus": ["r0/gpu0", "r9/gpu0"]}, "unknown GPU 'r9/gpu0'"),
        ({"algorithm": "hierarchical"}, "hierarchical needs a group spread evenly"),
        ({"op": "all-to-all", "algorithm": "ring"}, "has no algorithm 'ring'"),
    ],
)
def test_bad_collectives(kwargs: dict, match: str) -> None:
    args = {"op": "all-reduce", "gpus": first(NVL72, 8), **kwargs}
    with pytest.raises(PlacementError, match=match):
        collective(NVL72, args["op"], args["gpus"], GB, algorithm=args.get("algorithm", "auto"))


def test_no_scale_out_fabric(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("dgx-h100-superpod")
    doc["scale_out"] = {"topology": "none"}
    G = build_graph(load_layout(write_layout(doc)))
    with pytest.raises(PlacementError, match="no scale-out fabric"):
        collective(G, "all-to-all", gpu_nodes(G)[:16], GB)


# ---------------------------------------------------------------- invariants
@settings(max_examples=30, deadline=None)
@given(
    op=st.sampled_from(OPS),
    n=st.integers(2, 64),
    nbytes=st.floats(1e3, 1e10),
    more=st.floats(1.01, 10),
)
def test_a_larger_buffer_never_takes_less_time(op: str, n: int, nbytes: float, more: float) -> None:
    gpus = first(POD, n)
    # Charged transfers divide by a share of link rate interpolated between measured
    # sizes; at a few kB two neighbouring sizes may cost the same to 1e-4 (a 0.1 ns wobble
    # of a 4 us call). Anything larger is a real fault.
    small = collective(POD, op, gpus, nbytes).time_s
    assert collective(POD, op, gpus, nbytes * more).time_s >= small * (1 - 1e-4)


@settings(max_examples=25, deadline=None)
@given(
    op=st.sampled_from(OPS),
    n=st.integers(2, 72),
    edge=st.integers(0, 10_000),
    factor=st.floats(1.0, 8.0),
)
def test_more_bandwidth_on_any_link_never_slows(op: str, n: int, edge: int, factor: float) -> None:
    G = X16.copy()
    edges = list(G.edges)
    a, b = edges[edge % len(edges)]
    gpus = first(G, 72)[:n] if n <= 72 else first(G, n)
    before = collective(G, op, gpus, GB).time_s
    G.edges[a, b]["bandwidth"] *= factor
    assert collective(G, op, gpus, GB).time_s <= before * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(OPS), n=st.integers(2, 72), start=st.integers(0, 15))
def test_a_group_inside_one_domain_never_touches_scale_out(op: str, n: int, start: int) -> None:
    f = Fabric(X16)
    gpus = [g for g in gpu_nodes(X16) if X16.nodes[g]["domain"] == start][:n]
    r = collective(f, op, gpus, GB)
    for phase in r.phases:
        link = phase.busiest_link
        assert "fabric/" not in link["u"] + link["v"]
    idx = np.array([f.index[g] for g in gpus])
    loads = all_to_all_loads(f, idx, 1.0)
    assert not loads.nic_up.any()
    assert not loads.leaf_traffic.any()


@settings(max_examples=20, deadline=None)
@given(tp=st.sampled_from([2, 4, 8]), op=st.sampled_from(["all-reduce", "all-gather"]))
def test_naive_never_faster_than_packed_for_tp(tp: int, op: str) -> None:
    for G in (POD, X16):
        packed = place(G, Plan(tp=tp)).groups["tp"][0]
        naive = place(G, Plan(tp=tp), strategy="naive").groups["tp"][0]
        t_packed = collective(G, op, list(packed), GB).time_s
        assert collective(G, op, list(naive), GB).time_s >= t_packed


def test_link_loads_are_the_chosen_algorithms_phases() -> None:
    """288 GPUs (4 NVL72 domains), 1 GB all-reduce: the hierarchical algorithm's bytes.

    In each domain a ring reduce-scatter and all-gather: each GPU sends 2 x 71/72 GB to
    its neighbour (through one switch: two link traversals); across domains a ring
    all-reduce of each GPU's 1/72 shard: 2 x 3/4 x 1 GB / 72 = 20.8 MB out of its NIC.
    """
    from topo.collectives import link_loads

    G = build_graph(load_layout("gb200-nvl72-x16"))
    group = list(place(G, Plan(dp=288)).ranks)
    d = link_loads(G, "all-reduce", group, 1e9).to_dict()
    assert d["collective"]["algorithm"] == "hierarchical"
    up = sum(e["bytes"] for e in d["edges"] if e["kind"] == "scale_up")
    assert up == pytest.approx(2 * 288 * 2 * 71 / 72 * 1e9, rel=1e-9)
    nic_out = [e for e in d["edges"] if e["kind"] == "scale_out" and e["u"] in set(group)]
    assert len(nic_out) == 288
    shard = 2 * 3 / 4 * 1e9 / 72
    assert all(e["bytes"] == pytest.approx(shard) for e in nic_out)
    t = d["collective"]["time_s"]
    assert nic_out[0]["utilisation"] == pytest.approx(shard / (50e9 * t))
    # NVLink: each GPU's 2 x 71/72 GB spread over its 18 links of 50 GB/s.
    gpu_up = [e for e in d["edges"] if e["kind"] == "scale_up" and e["u"] == group[0]]
    per_gpu = sum(e["bytes"] for e in gpu_up)
    assert per_gpu == pytest.approx(2 * 71 / 72 * 1e9)
    assert max(e["utilisation"] for e in gpu_up) == pytest.approx(per_gpu / (900e9 * t), rel=0.01)
    # Racks: 142 GB inside each, 1.5 GB to the next rack's same rail, none elsewhere.
    mat = d["rack_bytes"]
    assert mat[0][0] == pytest.approx(72 * 2 * 71 / 72 * 1e9)
    assert mat[0][1] == pytest.approx(72 * shard)
    assert mat[0][2] == 0.0
    assert "hierarchical" in d["basis"]


def test_link_loads_of_a_ring_and_a_direct_all_to_all() -> None:
    from topo.collectives import link_loads

    G = build_graph(load_layout("dgx-h100"))
    group = list(place(G, Plan(dp=8)).ranks)
    ring = link_loads(G, "all-reduce", group, 1e9, algorithm="ring").to_dict()
    out0 = sum(e["bytes"] for e in ring["edges"] if e["u"] == group[0])
    assert out0 == pytest.approx(2 * 7 / 8 * 1e9)  # a ring all-reduce's bytes per GPU
    a2a = link_loads(G, "all-to-all", group, 1e9).to_dict()
    out0 = sum(e["bytes"] for e in a2a["edges"] if e["u"] == group[0])
    assert out0 == pytest.approx(7 / 8 * 1e9)  # M/n to each of the 7 others
    assert a2a["rack_bytes"] == [[pytest.approx(8 * 7 / 8 * 1e9)]]
