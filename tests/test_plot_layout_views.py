"""Figures of a layout and a plan's place on it: placement, bandwidth taper, tornado.

Each figure's drawn numbers are checked against arithmetic from the layout's facts or the
library's own functions, and each passes the figure checks (no overlapping texts, three
labelled ticks per visible axis, fonts of at least 9 pt, no raw exponents).
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any

import pytest
from figure_checks import all_text, clipped_texts, text_overlaps, thin_axes
from helpers import LAYOUT_NAMES
from matplotlib.colors import to_rgba

from topo.build import gpu_nodes
from topo.layout import Layout, load_layout
from topo.physical import apply_vary, largest_domain
from topo.place import Plan, place
from topo.plot.placement import GROUP_COLORS, IDLE_COLOR, STAGE_HATCHES, placement_figure
from topo.plot.taper import taper_figure
from topo.plot.tornado import default_vary, tornado_figure
from topo.scenario import Scenario

RAW_EXPONENT = re.compile(r"\d[eE][+-]?\d|\$\\times\s*10|10\^")


@cache
def layout(name: str) -> Layout:
    return load_layout(name)


def small_fonts(fig: Any) -> list[str]:
    """Visible texts (tick labels included) under 9 pt."""
    from matplotlib.text import Text

    all_text(fig)  # draws
    return [
        t.get_text()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9 - 1e-9
    ]


def assert_clean(fig: Any) -> None:
    assert text_overlaps(fig) == []
    assert clipped_texts(fig) == []
    assert thin_axes(fig) == []
    assert small_fonts(fig) == []
    text = all_text(fig)
    assert not RAW_EXPONENT.search(text), RAW_EXPONENT.search(text)


def bars(fig: Any) -> dict[str, float]:
    """The taper's bars by tier key: their heights [GB/s]."""
    return {p.get_gid(): p.get_height() for p in fig.axes[0].patches if p.get_gid()}


def labels(fig: Any) -> dict[str, str]:
    """The taper's bar labels by tier key."""
    return {
        t.get_gid().removeprefix("label:"): t.get_text()
        for t in fig.axes[0].texts
        if (t.get_gid() or "").startswith("label:")
    }


# -- bandwidth taper ------------------------------------------------------------------


def test_taper_h100_bars_are_the_layout_facts() -> None:
    """DGX H100: 3.35 TB/s of HBM; 18 NVLink 4 links of 25 GB/s each way = 450 GB/s;
    8 x 400 Gb/s NICs for 8 GPUs = 50 GB/s each; a non-blocking fat tree keeps 50 GB/s
    above the leaves and across the bisection."""
    fig = taper_figure(layout("dgx-h100"))
    drawn = bars(fig)
    assert list(drawn) == ["hbm", "scale_up", "nic", "spine", "bisection"]
    assert drawn["hbm"] == pytest.approx(3350.0)
    assert drawn["scale_up"] == pytest.approx(18 * 25.0)
    assert drawn["nic"] == pytest.approx(8 * 400 / 8 / 8)
    assert drawn["spine"] == pytest.approx(50.0)
    assert drawn["bisection"] == pytest.approx(50.0)
    text = labels(fig)
    assert text["hbm"] == "3.35 TB/s"
    assert text["scale_up"] == "450 GB/s\n7.4x less"  # 3,350 / 450 = 7.44
    assert text["nic"] == "50 GB/s\n9x less"  # 450 / 50
    assert text["spine"] == "50 GB/s\nsame"
    assert "1:1 (non-blocking)" in all_text(fig)
    assert "[GB/s]" in fig.axes[0].get_ylabel()
    assert_clean(fig)


def test_taper_shows_oversubscription_above_the_leaves() -> None:
    """The H100 SuperPOD's fat tree made 2:1: leaf uplinks and bisection halve (25 GB/s)."""
    base = layout("dgx-h100-superpod")
    lay = dataclasses.replace(
        base, scale_out=dataclasses.replace(base.scale_out, oversubscription=2.0)
    )
    fig = taper_figure(lay)
    drawn = bars(fig)
    assert drawn["nic"] == pytest.approx(400 / 8)
    assert drawn["spine"] == pytest.approx(400 / 8 / 2)
    assert drawn["bisection"] == pytest.approx(400 / 8 / 2)
    assert labels(fig)["spine"] == "25 GB/s\n2x less"
    assert "2:1 (oversubscribed)" in all_text(fig)
    assert_clean(fig)


def test_taper_gb200_nvlink5() -> None:
    """GB200 NVL72: 8 TB/s HBM, 18 NVLink 5 links of 50 GB/s each way = 900 GB/s, one
    400 Gb/s NIC per GPU (50 GB/s, 18x less)."""
    fig = taper_figure(layout("gb200-nvl72"))
    drawn = bars(fig)
    assert drawn["hbm"] == pytest.approx(8000.0)
    assert drawn["scale_up"] == pytest.approx(18 * 50.0)
    assert drawn["nic"] == pytest.approx(50.0)
    assert labels(fig)["nic"] == "50 GB/s\n18x less"


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_taper_draws_for_every_layout(name: str) -> None:
    lay = layout(name)
    fig = taper_figure(lay)
    drawn = bars(fig)
    assert drawn["hbm"] == pytest.approx(lay.accelerator.hbm_bandwidth_bytes_per_s / 1e9)
    assert drawn["nic"] == pytest.approx(lay.scale_out.nic_bandwidth_bytes_per_s / 1e9)
    assert all(v > 0 for v in drawn.values())
    assert lay.name in all_text(fig)
    assert_clean(fig)


# -- tornado of the largest domain ------------------------------------------------------


def tornado_ends(fig: Any) -> dict[str, tuple[float, float, float]]:
    """Each tornado bar by gid ("key:low" / "key:high"): (left end, right end, y)."""
    return {
        p.get_gid(): (p.get_x(), p.get_x() + p.get_width(), p.get_y() + p.get_height() / 2)
        for p in fig.axes[0].patches
        if p.get_gid()
    }


def test_tornado_bar_ends_are_largest_domain_with_that_input_changed() -> None:
    """Each bar runs from the layout's own largest domain to the domain `topo limits
    --vary key=value` gives, worked out here by the library's apply_vary."""
    lay = layout("gb200-nvl72")
    vary = [
        ("power_budget", "66 kW", "264 kW"),
        ("max_mass", "700 kg", "2.8 t"),
        ("tray_power", "4 kW", "8 kW"),
    ]
    fig = tornado_figure(lay, vary)
    base = largest_domain(lay).max_domain_size
    assert base == 72  # mass and reach bind at 72 GPUs, one NVL72 rack
    ends = tornado_ends(fig)
    assert len(ends) == 2 * len(vary)
    texts = [t.get_text() for t in fig.axes[0].texts]
    swings = {}
    for key, low, high in vary:
        sizes = []
        for end, value in (("low", low), ("high", high)):
            d = largest_domain(apply_vary(lay, key, value))
            left, right, _ = ends[f"{key}:{end}"]
            assert {left, right} == {float(base), float(d.max_domain_size)}
            assert any(
                t.startswith(f"{key} = {value}: {d.max_domain_size:,} GPUs, {d.binding_all[0]}")
                for t in texts
            )
            sizes.append(d.max_domain_size)
        swings[key] = max(*sizes, base) - min(*sizes, base)
    # Halving the power budget to 66 kW: 66 kW / 5.4 kW per tray of 4 GPUs, less the switch
    # trays and the rest, leaves well under 72 GPUs; the bar ends below the base.
    assert ends["power_budget:low"][0] < base
    # Bars sorted by swing, widest on top.
    order = sorted(swings, key=lambda k: -ends[f"{k}:low"][2])
    assert [swings[k] for k in order] == sorted(swings.values(), reverse=True)
    assert swings[order[0]] > swings[order[-1]]
    # The base as a vertical line at 72 GPUs.
    assert any(list(line.get_xdata()) == [base, base] for line in fig.axes[0].get_lines())
    assert "[GPUs]" in fig.axes[0].get_xlabel()
    assert_clean(fig)


def test_tornado_defaults_come_from_the_layout() -> None:
    """Kyber NVL576: every budget it states halved and doubled; no cable swap (its scale-up
    runs on the midplane's PCB); rows sorted by swing."""
    lay = layout("kyber-nvl576")
    vary = default_vary(lay)
    keys = [k for k, _, _ in vary]
    assert "cable" not in keys
    assert ("power_budget", "300 kW", "1.2 MW") in vary  # 600 kW halved and doubled
    fig = tornado_figure(lay)
    ends = tornado_ends(fig)
    base = largest_domain(lay).max_domain_size
    rows = sorted(keys, key=lambda k: -ends[f"{k}:low"][2])
    spans = []
    for k in rows:
        xs = [*ends[f"{k}:low"][:2], *ends[f"{k}:high"][:2], base]
        spans.append(max(xs) - min(xs))
    assert spans == sorted(spans, reverse=True)
    assert spans[0] > 0
    assert_clean(fig)


def test_tornado_of_a_tray_domain_says_it_does_not_move() -> None:
    lay = layout("dgx-h100")
    fig = tornado_figure(lay)
    ends = tornado_ends(fig)
    assert all(left == right == 8 for left, right, _ in ends.values())
    assert "does not grow with the rack" in all_text(fig)
    assert_clean(fig)


# -- placement ----------------------------------------------------------------------


@cache
def scenario(name: str, model: str, weights: str = "bf16", strategy: str = "packed") -> Scenario:
    return Scenario(name, model, weights=weights, strategy=strategy)


def squares(fig: Any) -> dict[str, Any]:
    """The placement's GPU squares by GPU node."""
    return {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}


def check_colours(fig: Any, s: Scenario, plan: Plan, kind: str) -> None:
    """Every GPU's square has its group's colour and its stage's hatching; idle ones grey."""
    placement = place(s.graph, plan, strategy=s.strategy)
    drawn = squares(fig)
    assert set(drawn) == set(gpu_nodes(s.graph))  # every GPU drawn once
    used = set()
    for i, members in enumerate(placement.groups[kind]):
        for g in members:
            assert drawn[g].get_facecolor() == to_rgba(GROUP_COLORS[i % len(GROUP_COLORS)])
            used.add(g)
    for members in placement.groups["pp"]:
        for stage, g in enumerate(members):
            assert (drawn[g].get_hatch() or "") == STAGE_HATCHES[stage]
    grey = to_rgba(IDLE_COLOR)
    assert grey[0] == grey[1] == grey[2]
    for g in set(drawn) - used:
        assert drawn[g].get_facecolor() == grey
        assert not drawn[g].get_hatch()
    assert len(set(drawn) - used) == placement.gpus_total - plan.world


def test_placement_colours_are_the_placements_groups() -> None:
    """SuperPOD, tp 4 x pp 2 x dp 3 packed: 24 GPUs in 6 TP groups of 4; the first group
    is the first four GPUs of the first DGX (rack 0); 256 - 24 = 232 GPUs idle."""
    s = scenario("dgx-h100-superpod", "llama-3-70b")
    plan = Plan(tp=4, pp=2, dp=3)
    fig = placement_figure(s, plan)
    check_colours(fig, s, plan, "tp")
    drawn = squares(fig)
    first = to_rgba(GROUP_COLORS[0])
    assert [g for g in gpu_nodes(s.graph)[:8] if drawn[g].get_facecolor() == first] == [
        "r0/gpu0",
        "r0/gpu1",
        "r0/gpu2",
        "r0/gpu3",
    ]
    text = all_text(fig)
    assert "grey: idle, 232 GPUs" in text
    assert "TP group, 4 GPUs each, 6 in all" in text
    assert "r0 ... r2: data-parallel replicas, 8 GPUs each" in text
    assert {"r0", "r1", "r2"} <= {t.get_text() for t in fig.axes[0].texts}
    assert "llama-3-70b" in text
    assert "dgx-h100-superpod" in text
    assert "tp 4 x ep 1 x pp 2 x dp 3" in text
    assert_clean(fig)


def test_placement_colours_ep_blocks_when_ep_exceeds_tp() -> None:
    s = scenario("gb200-nvl72", "deepseek-v3", "fp8")
    plan = Plan(tp=1, ep=6, pp=4, dp=6)
    fig = placement_figure(s, plan)
    check_colours(fig, s, plan, "ep")
    assert "EP block" in all_text(fig)
    assert_clean(fig)


def test_placement_naive_scatters_and_says_why_no_brackets() -> None:
    s = scenario("dgx-h100-superpod", "llama-3-70b", strategy="naive")
    plan = Plan(tp=4, pp=2, dp=10)
    fig = placement_figure(s, plan)
    check_colours(fig, s, plan, "tp")
    assert "naive placement" in all_text(fig)
    assert "no brackets" in all_text(fig)
    assert_clean(fig)


@pytest.mark.parametrize(
    ("name", "model", "weights"),
    [
        ("dgx-h100", "llama-3-70b", "bf16"),
        ("dgx-h100-superpod", "llama-3-70b", "bf16"),
        ("gb200-nvl72-x16", "deepseek-v3", "fp8"),
    ],
)
def test_placement_draws_the_plan_evaluate_runs(name: str, model: str, weights: str) -> None:
    s = scenario(name, model, weights)
    plan = s.plan(64)
    fig = placement_figure(s, plan)
    check_colours(fig, s, plan, "ep" if plan.ep > plan.tp else "tp")
    assert_clean(fig)


def test_placement_of_a_full_x16_cluster_is_readable() -> None:
    """1,152 GPUs in 16 racks of 18 trays x 4: tp 8 x dp 144 fills them (9 groups a rack)."""
    s = scenario("gb200-nvl72-x16", "deepseek-v3", "fp8")
    plan = Plan(tp=8, dp=144)
    fig = placement_figure(s, plan)
    check_colours(fig, s, plan, "tp")
    assert "grey: idle, 0 GPUs" in all_text(fig)
    racks = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("rack ")]
    assert len(racks) == 16
    assert_clean(fig)


def test_placement_of_more_racks_than_fit_draws_the_first_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where every rack would shrink a GPU's square below the least size, the first racks
    that keep it are drawn (whole figure rows of them), the subtitle says how many of
    how many, and the legend still counts the whole placement. Here the least size is
    raised so that the 16 racks of the x16 cluster do not all fit: 2 rows of 8, each
    block 1.08 + 18 + 0.6 cells tall, make squares 8.5 in / 39.4 cells ~ 0.22 in, under
    0.25: one row (8 racks) is kept."""
    from topo.plot import placement as pl

    monkeypatch.setattr(pl, "_MIN_CELL_IN", 0.25)
    monkeypatch.setattr(pl, "_HEAD_AT_MIN", 0.4 + 0.17 / 0.25)
    s = scenario("gb200-nvl72-x16", "deepseek-v3", "fp8")
    plan = Plan(tp=8, dp=128)  # 1,024 of 1,152 GPUs: 128 idle, in the racks not drawn
    fig = pl.placement_figure(s, plan)
    racks = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("rack ")]
    assert racks == [f"rack {i}" for i in range(8)]
    drawn = squares(fig)
    assert set(drawn) == {g for g in gpu_nodes(s.graph) if int(s.graph.nodes[g]["rack"]) < 8}
    text = all_text(fig)
    assert "the first 8 of 16 racks drawn" in text
    assert "grey: idle, 128 GPUs" in text
    assert "TP group, 8 GPUs each, 128 in all" in text
    assert_clean(fig)
