"""Placement: groups by hand, strategies, spans and bottlenecks, bad plans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.build import build_graph, gpu_nodes
from topo.errors import PlacementError
from topo.layout import load_layout
from topo.place import Plan, group_order, place

X16 = build_graph(load_layout("gb200-nvl72-x16"))
SUPERPOD = build_graph(load_layout("dgx-h100-superpod"))


def test_group_order_by_hand() -> None:
    g = group_order(Plan(tp=2, pp=2, dp=2))
    # Rank = tp_i + 2 * (pp_i + 2 * dp_i): TP innermost, PP, then DP.
    assert g["tp"] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert g["pp"] == [[0, 2], [1, 3], [4, 6], [5, 7]]
    assert g["dp"] == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert g["ep"] == [[0], [1], [2], [3], [4], [5], [6], [7]]


def test_ep_groups_span_data_parallel_attention_ranks() -> None:
    # Attention tp 2 x dp 4 per stage; experts ep 8 over those same 8 GPUs.
    g = group_order(Plan(tp=2, ep=8, dp=4))
    assert g["ep"] == [[0, 1, 2, 3, 4, 5, 6, 7]]
    # ep smaller than tp: experts split inside each TP group.
    assert group_order(Plan(tp=4, ep=2))["ep"] == [[0, 1], [2, 3]]


def test_nvl72_x16_plan_spans() -> None:
    p = place(X16, Plan(tp=8, pp=4, dp=36))
    r = {g.kind: g for g in p.reports}
    assert (r["tp"].size, r["tp"].count, r["tp"].domains_spanned) == (8, 144, 1)
    assert r["tp"].bottleneck == "scale_up"
    assert r["tp"].bottleneck_bandwidth_per_gpu_bytes_per_s == 900e9
    assert r["dp"].racks_spanned == 16  # DP outermost: one replica per block, all racks
    assert r["dp"].bottleneck_bandwidth_per_gpu_bytes_per_s == 50e9  # 400 Gb/s NICs
    assert len(p.ranks) == 1152
    assert len(set(p.ranks)) == 1152


def test_packed_keeps_blocks_inside_domains() -> None:
    # tp 5 does not divide 72: 14 groups a domain, 2 GPUs idle at each domain's end.
    p = place(X16, Plan(tp=5, dp=28))
    r = {g.kind: g for g in p.reports}
    assert r["tp"].domains_spanned == 1
    assert p.gpus_idle_in_span == 2
    # More groups than fit that way: pack tightly instead, straddling domains.
    p = place(X16, Plan(tp=5, dp=230))
    assert {g.kind: g for g in p.reports}["tp"].domains_spanned == 2


def test_naive_spreads_over_racks() -> None:
    p = place(SUPERPOD, Plan(tp=8), strategy="naive")
    assert p.reports[0].racks_spanned == 8  # round-robin over the 8 racks
    assert p.reports[0].bottleneck == "scale_out"
    packed = place(SUPERPOD, Plan(tp=8))
    assert packed.reports[0].racks_spanned == 1
    assert packed.reports[0].bottleneck_bandwidth_per_gpu_bytes_per_s == 450e9


def test_fewer_gpus_than_the_layout() -> None:
    p = place(X16, Plan(tp=4, dp=2))
    assert p.ranks == tuple(gpu_nodes(X16)[:8])
    assert p.gpus_total == 1152


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        (Plan(tp=8, dp=200), "needs 1600 GPUs; the layout has 1152"),
        (Plan(tp=4, ep=6, dp=3), "ep 6 must be a multiple of tp 4"),
        (Plan(tp=4, ep=3), "ep 3 must divide tp 4"),
        (Plan(tp=2, ep=4, dp=1), "ep 4 must divide tp x dp = 2"),
        (Plan(tp=0), "tp must be a whole number >= 1"),
    ],
)
def test_bad_plans(plan: Plan, match: str) -> None:
    with pytest.raises(PlacementError, match=match):
        place(X16, plan)


def test_unknown_strategy() -> None:
    with pytest.raises(PlacementError, match="strategy must be one of"):
        place(X16, Plan(), strategy="random")


@settings(max_examples=40, deadline=None)
@given(tp=st.sampled_from([1, 2, 4, 8]), pp=st.integers(1, 4), dp=st.integers(1, 8))
def test_every_rank_gets_its_own_gpu(tp: int, pp: int, dp: int) -> None:
    for strategy in ("packed", "naive"):
        p = place(SUPERPOD, Plan(tp=tp, pp=pp, dp=dp), strategy=strategy)
        assert len(p.ranks) == tp * pp * dp == len(set(p.ranks))
        for kind, size in (("tp", tp), ("pp", pp), ("dp", dp)):
            assert all(len(g) == size for g in p.groups[kind])
            # Each kind's groups partition the ranks.
            assert sorted(x for g in p.groups[kind] for x in g) == sorted(p.ranks)


@pytest.mark.parametrize("tp", [1, 2, 4, 8])
@pytest.mark.parametrize("ep", [1, 2, 6, 8, 72])
@pytest.mark.parametrize("pp", [1, 3])
@pytest.mark.parametrize("dp", [1, 2, 9, 18])
def test_groups_by_arithmetic_equal_the_rank_walk(tp: int, ep: int, pp: int, dp: int) -> None:
    """The vectorised group arrays are group_order's lists, group for group; the first
    groups written out (first_ranks) are their first."""
    import numpy as np

    from topo.place import PlacementError, _order_arrays, first_ranks, group_order

    plan = Plan(tp=tp, ep=ep, pp=pp, dp=dp)
    try:
        plan.check()
    except PlacementError:
        return
    got = _order_arrays(plan)
    for kind, groups in group_order(plan).items():
        assert np.array_equal(got[kind], np.array(groups)), kind
        assert list(first_ranks(plan)[kind]) == groups[0], kind


@settings(max_examples=40, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    ep=st.sampled_from([1, 2, 8, 16, 72, 144]),
    pp=st.integers(1, 4),
    dp=st.sampled_from([1, 2, 4, 8, 18, 36]),
    strategy=st.sampled_from(["packed", "naive"]),
    on_fabric=st.booleans(),
)
def test_rank_positions_are_the_ranks_gpus(
    tp: int, ep: int, pp: int, dp: int, strategy: str, on_fabric: bool
) -> None:
    """rank_positions(...)[r] is where plan_ranks(...)[r] stands in the GPU list, on the
    graph and on its fabric; a plan that cannot be placed is refused alike."""
    from topo.place import plan_ranks, rank_positions
    from topo.routing import Fabric

    plan = Plan(tp=tp, ep=ep, pp=pp, dp=dp)
    G = Fabric.from_layout(load_layout("gb200-nvl72-x16")) if on_fabric else X16
    gpus = gpu_nodes(X16)
    try:
        ranks = plan_ranks(G, plan, strategy=strategy)
    except PlacementError as e:
        with pytest.raises(PlacementError, match=str(e)[:30]):
            rank_positions(G, plan, strategy=strategy)
        return
    at = rank_positions(G, plan, strategy=strategy)
    assert [gpus[i] for i in at] == list(ranks) == list(place(G, plan, strategy=strategy).ranks)
    assert not at.flags.writeable
