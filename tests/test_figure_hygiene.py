"""Figure hygiene for the performance and report figures, and the step breakdown's numbers.

Every figure kind is built as a user would (``topo.api.figure`` where it covers the kind)
on two layouts where the kind takes one, and checked: no overlapping texts, at least three
labelled ticks on every visible axis, fonts of at least 9 pt, no raw exponents, and the
scenario subtitle (the plan, "tp ...") on the performance figures.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from figure_checks import all_text, clipped_texts, text_overlaps, thin_axes

from topo import api
from topo.perf import decode, memory
from topo.place import Plan
from topo.plot import plot_cache, plot_compare, plot_lifecycle, plot_price, plot_validation
from topo.plot._style import FAIL_HATCH
from topo.plot.breakdown import breakdown_figure
from topo.plot.roofline import roofline_figure
from topo.plot.tradeoff import plot_tradeoff
from topo.scenario import Scenario

SETUPS = (
    ("dgx-h100", "llama-3-70b", {}),
    ("gb200-nvl72", "deepseek-v3", {"weights": "fp8"}),
)
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
RAW_EXPONENT = re.compile(r"\d[eE][+-]?\d|\$\\times\s*10|10\^")


@cache
def scenario(layout: str, model: str, weights: str = "bf16") -> Scenario:
    return Scenario(layout, model, weights=weights)


def small_fonts(fig: Any) -> list[str]:
    """Visible texts (tick labels included) under 9 pt."""
    from matplotlib.text import Text

    all_text(fig)  # draws
    return [
        t.get_text()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9 - 1e-9
    ]


def assert_clean(fig: Any, *, performance: bool) -> None:
    assert text_overlaps(fig) == []
    assert clipped_texts(fig) == []
    assert thin_axes(fig) == []
    assert small_fonts(fig) == []
    text = all_text(fig)
    assert not RAW_EXPONENT.search(text), RAW_EXPONENT.search(text)
    if performance:
        assert "tp " in text


# -- the step breakdown ---------------------------------------------------------------


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_breakdown_segments_are_the_decode_terms(
    layout: str, model: str, opts: dict[str, str]
) -> None:
    s = scenario(layout, model, **opts)
    plan = s.plan(1)
    fig = breakdown_figure(s, plan, BATCHES)
    ax = fig.axes[0]
    drawn = {p.get_gid(): p.get_height() for p in ax.patches if p.get_gid()}
    d = decode(
        s.layout, s.model, plan, np.array(BATCHES, dtype=float), s.workload, s.parts(plan).comm
    )
    for i, b in enumerate(BATCHES):
        w, kv, c = float(d.weights[i]), float(d.kv[i]), float(d.compute[i])
        comm, over = float(d.communication[i]), float(d.overhead[i])
        # No --overlap: the step is the binding roofline side + overhead + communication.
        binding = {"weights": w, "kv": kv} if w + kv >= c else {"compute": c}
        stacked = {**binding, "overhead": over, "communication": comm}
        for term, secs in stacked.items():
            assert drawn[f"{term}@{b}"] == pytest.approx(secs * 1e3, rel=1e-12)
        assert sum(drawn[f"{t}@{b}"] for t in stacked) == pytest.approx(
            float(d.tpot[i]) * 1e3, rel=1e-9
        )
        hidden = {"compute"} if "kv" in binding else {"weights", "kv"}
        assert {g.split("@")[0] for g in drawn if g.endswith(f"@{b}")} == set(stacked) | {
            f"hidden {t}" for t in hidden
        }
    assert_clean(fig, performance=True)


def test_breakdown_names_the_bound_and_where_hbm_fills() -> None:
    """dgx-h100 at tp 8: llama-3-70b is memory-bound at batch 1 and its HBM fills before
    batch 2,048; the bars say so, at the batch worked out here from the layout's facts."""
    s = scenario("dgx-h100", "llama-3-70b")
    plan = Plan(tp=8)
    fig = breakdown_figure(s, plan, (1, 64, 2048))
    texts = [t.get_text() for t in fig.axes[0].texts]
    # Per GPU: bf16 weights / 8; KV per sequence of 1,024 + 128 tokens: 80 layers x 8 KV
    # heads x 128 x (K, V) x 2 B / 8; a few activations (8 x d_model x 2 B); 90% of 80 GB.
    mdl = s.model
    weights = mdl.params.total * 2 / 8
    per_seq = 80 * 8 * 128 * 2 * 2 * 1152 / 8 + 8 * 8192 * 2
    assert (mdl.layers, mdl.kv_heads, mdl.head_dim, mdl.d_model) == (80, 8, 128, 8192)
    max_batch = int((0.9 * 80e9 - weights) // per_seq)
    assert 64 <= max_batch < 2048
    assert memory(s.layout, mdl, plan, 1, s.workload).max_batch == max_batch
    assert f"HBM full at B = {max_batch:,}" in texts
    assert any(t.endswith("\nmemory") for t in texts)
    assert any(t.endswith("\ndoes not fit") for t in texts)
    # Batch 1: the step is mostly reading weights, 2 B x params / 8 at the measured HBM rate.
    acc = s.layout.accelerator
    read = weights / (acc.hbm_bandwidth_bytes_per_s * acc.efficiency.hbm)
    bar = {p.get_gid(): p.get_height() for p in fig.axes[0].patches if p.get_gid()}
    assert bar["weights@1"] == pytest.approx(read * 1e3, rel=0.02)
    assert_clean(fig, performance=True)


def test_breakdown_shares_add_to_one_hundred() -> None:
    s = scenario("gb200-nvl72", "deepseek-v3", "fp8")
    fig = breakdown_figure(s, s.plan(1), (1, 32, 1024), share=True)
    ax = fig.axes[0]
    for b in (1, 32, 1024):
        total = sum(
            p.get_height()
            for p in ax.patches
            if p.get_gid() and p.get_gid().endswith(f"@{b}") and "hidden" not in p.get_gid()
        )
        assert total == pytest.approx(100.0)
    assert "[%]" in ax.get_ylabel()
    assert_clean(fig, performance=True)


# -- the roofline ---------------------------------------------------------------------


def lines(fig: Any) -> dict[str, Any]:
    return {ln.get_gid(): ln for ln in fig.axes[0].get_lines() if ln.get_gid()}


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_roofline_draws_the_plans_roofs_and_ceilings(
    layout: str, model: str, opts: dict[str, str]
) -> None:
    s = scenario(layout, model, **opts)
    plan = s.plan(1)
    fig = roofline_figure(s, plan, BATCHES)
    drawn = lines(fig)
    d = decode(
        s.layout, s.model, plan, np.array(BATCHES, dtype=float), s.workload, s.parts(plan).comm
    )
    intensity = d.flops_per_gpu / (d.weight_bytes_per_gpu + d.kv_bytes_per_gpu)
    # The decode path: FLOPs of a stage over its time, in TFLOP/s.
    x, y = drawn["decode"].get_data()
    assert np.allclose(x, intensity)
    assert np.allclose(y, d.flops_per_gpu / (d.tpot / plan.pp) / 1e12)
    # The communication ceiling: the FLOP/s if the step took only its communication.
    x, y = drawn["communication"].get_data()
    assert np.allclose(x, intensity)
    assert np.allclose(y, d.flops_per_gpu * plan.pp / d.communication / 1e12)
    x, y = drawn["overhead"].get_data()
    assert np.allclose(y, d.flops_per_gpu * plan.pp / d.overhead / 1e12)
    # Every point sits below every ceiling: the step is the sum of its terms.
    assert np.all(drawn["decode"].get_data()[1] < y)
    # The HBM-full square at memory's largest batch, on the decode curve.
    mb = memory(s.layout, s.model, plan, 1, s.workload).max_batch
    e = decode(s.layout, s.model, plan, np.array([mb], dtype=float), s.workload, s.parts(plan).comm)
    hx, hy = drawn["hbm-full"].get_data()
    assert hx[0] == pytest.approx(
        e.flops_per_gpu[0] / (e.weight_bytes_per_gpu[0] + e.kv_bytes_per_gpu[0])
    )
    assert hy[0] == pytest.approx(e.flops_per_gpu[0] / (e.tpot[0] / plan.pp) / 1e12)
    assert f"HBM full at B = {mb:,}" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert_clean(fig, performance=True)


def test_roofline_roof_and_critical_batch_on_dgx_h100() -> None:
    """H100 SXM: 3.35 TB/s and 989 TFLOP/s bf16 on the datasheet, at the measured shares;
    at tp 8 llama-3-70b turns compute-bound at the measured ridge."""
    s = scenario("dgx-h100", "llama-3-70b")
    plan = Plan(tp=8)
    fig = roofline_figure(s, plan, BATCHES)
    drawn = lines(fig)
    acc = s.layout.accelerator
    assert acc.hbm_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert acc.peak_flop_per_s["bf16"] == pytest.approx(989e12, rel=1e-3)
    bw = 3.35e12 * acc.efficiency.hbm
    peak = acc.peak_flop_per_s["bf16"] * acc.efficiency.compute
    x, y = drawn["roof"].get_data()
    assert np.allclose(y, np.minimum(peak, x * bw) / 1e12)
    # The critical batch: compute time = memory time; there FLOPs / bytes is the ridge of
    # the roof as the decode step charges it (within the attention and GEMM shares).
    crit = s.parts(plan).critical.kv_aware
    assert crit is not None
    assert 1 < crit < 1024
    cx, _ = drawn["critical"].get_data()
    assert cx[0] == pytest.approx(peak / bw, rel=0.1)
    e = decode(s.layout, s.model, plan, np.array([crit]), s.workload, None)
    assert float(e.compute[0]) == pytest.approx(float(e.weights[0] + e.kv[0]), rel=1e-6)
    at_crit = e.flops_per_gpu[0] / (e.weight_bytes_per_gpu[0] + e.kv_bytes_per_gpu[0])
    assert cx[0] == pytest.approx(at_crit, rel=1e-9)  # not the nearest batch drawn
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"compute = memory at B = {crit:,.0f}" in legend
    assert any("roof as measured: HBM 2.9" in t for t in legend)
    assert_clean(fig, performance=True)


# -- the latency-throughput trade-off ------------------------------------------------------


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_tradeoff_is_clean(layout: str, model: str, opts: dict[str, str]) -> None:
    """The known failure: on dgx-h100 a cost label sat over the legend."""
    fig = api.figure("tradeoff", layout, model, **opts)
    assert_clean(fig, performance=True)


def test_tradeoff_marks_the_critical_batch_between_the_batches_around_it() -> None:
    """dgx-h100 at tp 8: compute reaches memory at B ~ 852, between the rows 512 and 1,024;
    the diamond sits there on the drawn curve, not on the 1,024 point."""
    s = scenario("dgx-h100", "llama-3-70b")
    sweep = s.sweep([256, 512, 1024], plan=Plan(tp=8)).to_dict()
    fig, ax = plot_tradeoff([sweep], s.workload)
    crit = sweep["critical_batch"]["kv_aware"]
    assert 512 < crit < 1024
    (diamond,) = [ln for ln in ax.get_lines() if ln.get_gid() == "critical0"]
    x, y = (float(v[0]) for v in diamond.get_data())
    r512, r1024 = sweep["rows"][1], sweep["rows"][2]
    # On the log-log segment from 512 to 1,024 at the share log(crit / 512) / log(2).
    share = np.log(crit / 512) / np.log(2)
    tps = (r512["tokens_per_s_per_gpu"], r1024["tokens_per_s_per_gpu"])
    ms = (r512["time_per_output_token_s"] * 1e3, r1024["time_per_output_token_s"] * 1e3)
    assert x == pytest.approx(tps[0] * (tps[1] / tps[0]) ** share)
    assert y == pytest.approx(ms[0] * (ms[1] / ms[0]) ** share)
    assert tps[0] < x < tps[1]
    assert_clean(fig, performance=True)
    assert "weights bf16" in all_text(fig)  # the workload's subtitle


# -- links and limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "gpus"),
    [("dgx-h100", 8), ("gb200-nvl72", 8), ("gb200-nvl72", 72), ("gb200-nvl72-x16", 1152)],
)
def test_links_is_clean(layout: str, gpus: int) -> None:
    """The known failure: one rack drew a 1 x 1 rack matrix with a single tick."""
    fig = api.figure("links", layout, gpus=gpus)
    assert_clean(fig, performance=False)


def test_links_over_many_domains_is_clean(tmp_path: Path) -> None:
    """128 DGX domains side by side: every k-th labelled (the labels all fit nowhere),
    the squares narrowed to leave gaps between them."""
    big = tmp_path / "pod-x4.yaml"
    big.write_text("extends: dgx-h100-superpod\nname: pod-x4\ncluster: {racks: 32}\n")
    fig = api.figure("links", str(big), gpus=1024)
    assert_clean(fig, performance=False)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_text().isdigit()]
    assert labels[0] == "0"
    assert 8 < len(labels) < 128
    step = int(labels[1])
    assert labels == [str(k) for k in range(0, 128, step)]


@pytest.mark.parametrize("layout", ["dgx-h100", "gb200-nvl72", "tpu-v5p-4x4x4", "kyber-nvl576"])
def test_limits_is_clean(layout: str) -> None:
    fig = api.figure("limits", layout)
    assert_clean(fig, performance=False)


# -- designs, studies, validation ----------------------------------------------------------


def test_compare_is_clean_and_marks_infeasible_by_hatching(tmp_path: Path) -> None:
    tight = tmp_path / "tight-pod.yaml"
    tight.write_text("extends: dgx-h100-superpod\nname: tight-pod\nrack: {power_budget: 30 kW}\n")
    data = api.compare(["dgx-h100", "gb200-nvl72", str(tight)], "llama-3.1-8b").to_dict()
    fig, axes = plot_compare(data)
    assert_clean(fig, performance=False)
    bad = [r for r in data["designs"] if not r["feasible"]]
    assert [r["layout"] for r in bad] == ["tight-pod"]
    hatched = [p for p in axes[0].patches if p.get_hatch() == FAIL_HATCH]
    assert len(hatched) == 1  # the infeasible design: colour and hatching
    assert hatched[0].get_width() == pytest.approx(bad[0]["tokens_per_s_per_gpu"])
    # A margin under 1% to a tenth: 4 DGX H100 a rack, 40.8 kW of a 41 kW budget.
    pod = api.compare(["dgx-h100-superpod"], "llama-3.1-8b").to_dict()
    (row,) = pod["designs"]
    assert row["binding_margin"] == pytest.approx((41 - 4 * 10.2) / 41)
    fig, _ = plot_compare(pod)
    assert "+0.5% power vs rack budget" in all_text(fig)


@pytest.fixture(scope="module")
def study_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import yaml
    from test_design import SMALL

    folder = tmp_path_factory.mktemp("study")
    spec = folder / "s.yaml"
    spec.write_text(yaml.safe_dump(SMALL))
    api.study(spec, folder / "out")
    return folder / "out"


def test_study_is_clean_in_milliseconds(study_out: Path) -> None:
    fig = api.figure("study", study_out)
    assert_clean(fig, performance=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "time per output token [ms]"
    data = api.study_results(study_out)
    feasible = [r for r in data["designs"] if r["feasible"]]
    drawn = ax.collections[0].get_offsets()
    assert sorted(float(v) for v in drawn[:, 1]) == pytest.approx(
        sorted(r["time_per_output_token_s"] * 1e3 for r in feasible)
    )


def test_a_study_of_two_models_and_a_cable_is_clean(tmp_path: Path) -> None:
    """Each model its colour and front on the left, its own panel on the right, where
    each point is the best over the cables (feasible first), named in the panel's title."""
    import yaml
    from test_design import SMALL

    spec = tmp_path / "s.yaml"
    vary = {"domain_gpus": [8, 72, 144], "nic": ["400 Gb/s"], "cable": ["copper", "optical"]}
    models = ["llama-3.1-8b", "llama-2-7b"]
    spec.write_text(yaml.safe_dump(dict(SMALL, vary=vary, models=models)))
    api.study(spec, tmp_path / "out")
    fig = api.figure("study", tmp_path / "out")
    assert_clean(fig, performance=False)
    left, *right = fig.axes
    assert [ax.get_title() for ax in right] == [f"{m}: the best over cable" for m in models]
    data = api.study_results(tmp_path / "out")
    for ax, model in zip(right, models, strict=True):
        rows = [r for r in data["designs"] if r["model"] == model]
        (line,) = [ln for ln in ax.get_lines() if ln.get_label().endswith("NIC")]
        for dom, got in zip(line.get_xdata(), line.get_ydata(), strict=True):
            at = [r for r in rows if r["domain_gpus"] == dom]
            pick = [r for r in at if r["feasible"]] or at  # the buildable ones, where any
            assert got == max(r["tokens_per_s_per_gpu"] for r in pick)
    # Every model's designs are on the left, each on its own front.
    for k, model in enumerate(models):
        rows = [r for r in data["designs"] if r["model"] == model and r["feasible"]]
        dots = left.collections[2 * k].get_offsets()
        assert len(dots) == len(rows)
    assert "infeasible from 144 GPUs" in all_text(fig)


def test_a_study_of_layouts_names_each() -> None:
    """Designs of several layouts are named by layout on the front, a line for each."""
    from topo.plot import plot_study

    def row(i: str, layout: str, usd: float, tps: float) -> dict[str, Any]:
        return {"id": i, "layout": layout, "model": "m", "domain_gpus": 8, "nic_gbps": 400.0,
                "feasible": True, "reasons": [], "usd_per_million_tco": usd,
                "tokens_per_s_per_gpu": tps}  # fmt: skip

    rows = [row("d1", "dgx-h100", 0.12, 2800.0), row("d2", "dgx-b200", 0.09, 5000.0),
            row("d3", "mi300x-8", 0.07, 3800.0)]  # fmt: skip
    data = {"study": "s", "designs": rows, "pareto": ["d2", "d3"]}
    fig, _ = plot_study(data, "usd_per_million_tco", "tokens_per_s_per_gpu")
    assert_clean(fig, performance=False)
    text = all_text(fig)
    assert "dgx-b200, 8 GPU domain, 400G NIC" in text
    assert "mi300x-8, 8 GPU domain, 400G NIC" in text
    lines = [ln for ln in fig.axes[1].get_lines() if ln.get_label().endswith("NIC")]
    assert [ln.get_label() for ln in lines] == [f"{r['layout']}, 400 Gb/s NIC" for r in rows]
    assert [float(ln.get_ydata()[0]) for ln in lines] == [2800.0, 5000.0, 3800.0]


def test_a_study_says_why_a_domain_cannot_be_built_by_its_nearest_design() -> None:
    """Where no design of a domain size can be built, the reason given is that of the
    design nearest to being built (a bigger power budget does not fix the cable)."""
    from topo.plot import plot_study

    def row(i: str, dom: int, budget: str, ok: bool, margin: float, why: str) -> dict[str, Any]:
        return {"id": i, "layout": "l", "model": "m", "domain_gpus": dom, "nic_gbps": 400.0,
                "power_budget": budget, "feasible": ok, "reasons": [] if ok else [why],
                "binding_margin": margin, "usd_per_million_tco": 0.1,
                "tokens_per_s_per_gpu": 1000.0 + dom}  # fmt: skip

    rows = [
        row("d1", 72, "50 kW", False, -1.3, "power vs rack budget: over by 130.9%"),
        row("d2", 72, "132 kW", True, 0.0, ""),
        row("d3", 100, "50 kW", False, -2.2, "power vs rack budget: over by 221.5%"),
        row("d4", 100, "132 kW", False, -0.3, "cables: copper reach: over by 30.6%"),
    ]
    data = {"study": "s", "designs": rows, "pareto": ["d2"]}
    fig, _ = plot_study(data, "usd_per_million_tco", "tokens_per_s_per_gpu")
    assert_clean(fig, performance=False)
    text = all_text(fig)
    assert "infeasible from 100 GPUs:\ncables: copper reach: over by 30.6%" in text
    assert fig.axes[1].get_title() == "m: the best over power_budget"


def test_validation_is_clean() -> None:
    data = api.validate("validation/public_serving.yaml").to_dict()
    fig, _ = plot_validation(data)
    assert_clean(fig, performance=False)


# -- price, cache, serving, lifecycle -----------------------------------------------------


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_price_is_clean_and_draws_the_cheapest_batch(
    layout: str, model: str, opts: dict[str, str]
) -> None:
    s = scenario(layout, model, **opts)
    (result,) = api.price_models(
        s, [s.model], {}, contexts=[1000, 8000, 64000], batches=[1, 8, 64, 256]
    )
    fig, ax = plot_price([result], s.workload)
    assert_clean(fig, performance=True)
    x, y = ax.get_lines()[0].get_data()
    for c, cost in zip(x, y, strict=True):
        costs = [
            r.usd_per_million_output_tokens
            for r in result.rows
            if r.context == c and r.usd_per_million_output_tokens is not None
        ]
        assert cost == pytest.approx(min(costs))


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_cache_is_clean(layout: str, model: str, opts: dict[str, str]) -> None:
    import dataclasses

    from topo.scenario import serving_plan

    s = scenario(layout, model, **opts)
    d = api.cache_scenario(s, {}, prefix=100_000, durations=["5m", "1h", "1d"]).to_dict()
    held = dataclasses.replace(s.workload, input_tokens=100_000, output_tokens=1)
    plan = serving_plan(s.layout, s.graph, s.model, held)
    fig, _ = plot_cache(d, plan, s.workload)
    assert_clean(fig, performance=True)


@pytest.mark.parametrize(("layout", "model", "opts", "rate"), [(*SETUPS[0], 40), (*SETUPS[1], 200)])
def test_serving_is_clean(layout: str, model: str, opts: dict[str, str], rate: float) -> None:
    s = scenario(layout, model, **opts)
    r = api.serve_scenario(s, {}, rate=rate, policy="train", requests=2000, seed=0)
    fig = api.serving_figure(r, s.workload.output_tokens)
    assert_clean(fig, performance=True)


def test_lifecycle_in_words_people_use() -> None:
    """8e9 parameters on 15e12 tokens: 6 N D = 7.2e23 FLOP of pre-training, as 720 ZFLOP."""
    d = api.lifecycle(params=8e9, tokens=15e12, inference_tokens=2e13, rl_flops=1e23).to_dict()
    fig, ax = plot_lifecycle(d)
    assert_clean(fig, performance=False)
    text = all_text(fig)
    assert "8 B parameters on 15 T tokens" in text
    assert "720 ZFLOP" in text
    bars = {
        t.get_text(): p.get_height() for t, p in zip(ax.get_xticklabels(), ax.patches, strict=True)
    }
    assert bars["pretraining"] == pytest.approx(6 * 8e9 * 15e12)


@pytest.mark.parametrize(("layout", "model", "opts"), SETUPS)
def test_roofline_kind_is_clean(layout: str, model: str, opts: dict[str, str]) -> None:
    """``topo plot roofline`` as wired today (the roofs and points of roofline_data)."""
    fig = api.figure("roofline", layout, model, **opts)
    assert_clean(fig, performance=True)


def test_roofline_marks_hbm_full_past_the_batches_drawn() -> None:
    """llama-3-8b on dgx-h100 fits hundreds of sequences: the square is in view."""
    s = scenario("dgx-h100", "llama-3-8b")
    plan = s.plan(1)
    fig = roofline_figure(s, plan, (1, 2, 4, 8))
    (x,), (y,) = lines(fig)["hbm-full"].get_data()
    ax = fig.axes[0]
    assert ax.get_xlim()[0] <= x <= ax.get_xlim()[1]
    assert ax.get_ylim()[0] <= y <= ax.get_ylim()[1]
    assert memory(s.layout, s.model, plan, 1, s.workload).max_batch > 8
    assert_clean(fig, performance=True)
