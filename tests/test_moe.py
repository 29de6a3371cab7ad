"""MoE dispatch/combine: shares by hand, slowdowns from the layout's own bandwidths."""

from __future__ import annotations

import pytest

from topo.build import build_graph
from topo.errors import PlacementError
from topo.layout import load_layout
from topo.moe import moe_all_to_all

X16 = build_graph(load_layout("gb200-nvl72-x16"))


def test_deepseek_like_layer_inside_one_rack() -> None:
    r = moe_all_to_all(X16, hidden=7168, topk=8, tokens_per_gpu=32, ep=72, dispatch_bytes=1)
    # 32 tokens x 8 experts x 7168 x 1 B (FP8 dispatch), 2 B (BF16 combine).
    assert r.dispatch_bytes_per_gpu == 32 * 8 * 7168
    assert r.combine_bytes_per_gpu == 2 * 32 * 8 * 7168
    assert (r.share_local, r.share_cross_rack) == (pytest.approx(1 / 72), 0.0)
    assert r.share_in_domain == pytest.approx(71 / 72)
    assert r.racks_spanned == 1
    assert r.slowdown_vs_one_domain == pytest.approx(1.0)


@pytest.mark.parametrize("racks", [2, 4, 8])
def test_spread_over_racks(racks: int) -> None:
    ep = 72 * racks
    r = moe_all_to_all(X16, hidden=7168, topk=8, tokens_per_gpu=4096, ep=ep, clean=True)
    # (M - 1) / M of the traffic leaves the rack.
    assert r.share_cross_rack == pytest.approx((racks - 1) / racks)
    assert r.racks_spanned == racks
    # NVLink 5 at 900 GB/s against 400 Gb/s NICs: 18x per byte.
    assert r.per_byte_slowdown_cross_domain == pytest.approx(18.0)
    # Large messages: dispatch vs the same buffer in one domain -> 18 (M-1)/M x 72/71.
    want = 18 * (racks - 1) / racks * 72 / 71
    assert r.slowdown_vs_one_domain == pytest.approx(want, rel=0.02)


def test_largest_layer_in_a_domain() -> None:
    expert = 3 * 7168 * 2048 * 1  # a DeepSeek-V3 expert in FP8
    r = moe_all_to_all(X16, hidden=7168, topk=8, tokens_per_gpu=1, ep=8, expert_bytes=expert)
    assert r.largest_ep_in_domain == 72
    assert r.domain_hbm_capacity_bytes == 72 * 186e9
    assert r.largest_layer_experts_in_domain == int(72 * 186e9 // expert)


def test_bad_moe() -> None:
    with pytest.raises(PlacementError, match="topk must be >= 1"):
        moe_all_to_all(X16, hidden=7168, topk=0, tokens_per_gpu=1, ep=8)
    with pytest.raises(PlacementError, match="needs 2000 GPUs"):
        moe_all_to_all(X16, hidden=7168, topk=8, tokens_per_gpu=1, ep=2000)


@pytest.mark.parametrize(
    ("name", "ep"),
    [("gb200-nvl72-x16", 144), ("dgx-h100-superpod", 64), ("tpu-v5p-4x4x4", 16), ("mi300x-8", 8)],
)
def test_moe_on_the_fabric_is_the_graphs(name: str, ep: int) -> None:
    """`topo moe` runs on the fabric laid out by arithmetic (no graph): every field is
    the graph's, measured and clean, packed and naive."""
    from topo.build import build_graph
    from topo.layout import load_layout
    from topo.moe import moe_all_to_all
    from topo.routing import Fabric

    lay = load_layout(name)
    G, F = build_graph(lay), Fabric.from_layout(lay)
    for strategy in ("packed", "naive"):
        for clean in (False, True):
            kw = {"hidden": 7168, "topk": 8, "tokens_per_gpu": 128, "ep": ep}
            kw |= {"expert_bytes": 44e6, "strategy": strategy, "clean": clean}
            assert moe_all_to_all(F, **kw) == moe_all_to_all(G, **kw)
