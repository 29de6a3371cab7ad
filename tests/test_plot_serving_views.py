"""The serving views: interactivity against throughput, and latency under load.

Drawn numbers are checked against the library's own answers (the plan search, ``topo
serve``'s simulation) and against arithmetic on the layout's and set-up's facts.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pytest
from figure_checks import all_text, clipped_texts, text_overlaps, thin_axes

import topo.api
from topo.place import Plan
from topo.plans import candidate_plans, search
from topo.plot import save
from topo.plot.interactivity import interactivity_figure
from topo.plot.load import KNEE_FACTOR, load_figure
from topo.scenario import Scenario

mpl.use("Agg")

EXPONENT = re.compile(r"\d[eE][+-]?\d")


def _legible(fig: Any) -> None:
    """The checks every figure passes: no overlaps, three ticks, 9 pt, no exponents."""
    from matplotlib.text import Text

    assert text_overlaps(fig) == []
    assert clipped_texts(fig) == []
    assert thin_axes(fig) == []
    text = all_text(fig)
    assert not EXPONENT.search(text), text
    small = [
        (t.get_text(), t.get_fontsize())
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9
    ]
    assert small == []


def _curves(ax: Any) -> dict[str, list[tuple[float, float]]]:
    """Each data line's points by its label (legend-only helpers left out)."""
    return {
        ln.get_label(): [(float(x), float(y)) for x, y in ln.get_xydata()]
        for ln in ax.get_lines()
        if not ln.get_label().startswith("_") and len(ln.get_xdata()) > 1
    }


# -- interactivity ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def h100() -> Scenario:
    return Scenario("dgx-h100", "llama-3-70b")


def test_interactivity_points_are_search_rows_on_the_frontier(
    h100: Scenario, tmp_path: Path
) -> None:
    fig = interactivity_figure([h100])
    save(fig, tmp_path / "interactivity.png")
    ax = fig.axes[0]
    (label, points), *_ = _curves(ax).items()
    assert label.startswith("dgx-h100")
    assert len(points) >= 5
    # The library's own search over every plan of the layout (copies of a block too).
    s = h100
    rows = search(
        s.layout,
        s.graph,
        s.model,
        s.workload,
        plans=candidate_plans(s.layout, s.model),
        strategies=("packed",),
    )
    table = [(1.0 / r.time_per_output_token_s, r.tokens_per_s_per_gpu) for r in rows]
    for x, y in points:
        assert any(math.isclose(x, a, rel_tol=1e-9) and math.isclose(y, b, rel_tol=1e-9)
                   for a, b in table), (x, y)  # fmt: skip
    # A frontier: as tokens/s per user grow, tokens/s per GPU never do ...
    by_x = sorted(points)
    assert all(b[1] <= a[1] for a, b in zip(by_x, by_x[1:], strict=False))
    # ... and no row of the search beats a drawn point on both.
    for a, b in table:
        assert any(x >= a * (1 - 1e-9) and y >= b * (1 - 1e-9) for x, y in points), (a, b)
    # The subtitle names the plan of the highest-throughput row.
    best = max(rows, key=lambda r: r.tokens_per_s_per_gpu)
    p = best.plan
    assert f"most throughput: tp {p.tp} x ep {p.ep} x pp {p.pp} x dp {p.dp}" in all_text(fig)
    _legible(fig)


def test_interactivity_against_the_layouts_facts(h100: Scenario) -> None:
    fig = interactivity_figure([h100])
    ax = fig.axes[0]
    (_, points), *_ = _curves(ax).items()
    # One user can go no faster than 8 H100s reading every bf16 weight once per token.
    acc = h100.layout.accelerator
    assert acc.hbm_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert h100.layout.n_gpus == 8
    weights = 70.6e9 * 2  # Llama 3 70B, bf16 [B]
    hbm_bound = 8 * 3.35e12 / weights  # ~190 tokens/s per user
    fastest = max(x for x, _ in points)
    assert 0.4 * hbm_bound < fastest < hbm_bound
    # Each label says plan and batch B (one micro-batch; pp of them are in flight):
    # tokens/s per GPU = pp x B x tokens/s per user / GPUs.
    labels = [t for t in ax.texts if ", B " in t.get_text()]
    assert 2 <= len(labels) <= 5
    for t in labels:
        m = re.fullmatch(
            r"tp(\d+)(?: ep(\d+))?(?: pp(\d+))?(?: dp(\d+))?, B ([\d,]+)", t.get_text()
        )
        assert m, t.get_text()
        tp, ep, pp, dp = (int(v) if v else 1 for v in m.groups()[:4])
        batch = int(m.group(5).replace(",", ""))
        gpus = Plan(tp=tp, ep=ep, pp=pp, dp=dp).world
        x, y = t.xy
        assert y == pytest.approx(pp * batch * x / gpus, rel=1e-9)


def test_interactivity_compare_draws_one_curve_per_layout(h100: Scenario, tmp_path: Path) -> None:
    others = [Scenario(name, "llama-3-70b") for name in ("gb200-nvl72", "mi300x-8")]
    fig = interactivity_figure([h100, *others])
    save(fig, tmp_path / "compare.png")
    ax = fig.axes[0]
    curves = _curves(ax)
    assert [k.split(",")[0] for k in curves] == ["dgx-h100", "gb200-nvl72", "mi300x-8"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(",")[0] for t in legend] == ["dgx-h100", "gb200-nvl72", "mi300x-8"]
    for pts in curves.values():
        by_x = sorted(pts)
        assert all(b[1] <= a[1] for a, b in zip(by_x, by_x[1:], strict=False))
    # NVL72's frontier reaches faster tokens per user than one 8-GPU box: TP across 72.
    fastest = {k.split(",")[0]: max(x for x, _ in v) for k, v in curves.items()}
    assert fastest["gb200-nvl72"] > fastest["dgx-h100"]
    _legible(fig)


def test_interactivity_max_gpus_limits_the_plans(h100: Scenario) -> None:
    nvl = Scenario("gb200-nvl72", "llama-3-70b")
    fig = interactivity_figure([nvl], max_gpus=8)
    ax = fig.axes[0]
    assert "up to 8 GPUs" in next(iter(_curves(ax)))
    for t in ax.texts:
        m = re.match(r"tp(\d+)", t.get_text())
        if m:
            assert int(m.group(1)) <= 8


# -- load ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(h100: Scenario) -> tuple[Any, Plan, int]:
    plan = Plan(tp=4, ep=1, pp=2, dp=1)
    requests = 4_592  # four rounds of its 574 seats on each of 2 trains (the default)
    fig = load_figure(h100, plan, requests=requests)
    return fig, plan, requests


def _serve(plan: Plan, rate: float, requests: int) -> Any:
    return topo.api.serve(
        "dgx-h100",
        "llama-3-70b",
        rate=rate,
        requests=requests,
        seed=0,
        tp=plan.tp,
        ep=plan.ep,
        pp=plan.pp,
        dp=plan.dp,
    )


def test_load_light_load_ttft_is_topo_serves(loaded: tuple[Any, Plan, int], tmp_path: Path) -> None:
    fig, plan, requests = loaded
    save(fig, tmp_path / "load.png")
    top, bottom = fig.axes[:2]
    curves = _curves(top)
    p50, p99 = curves["TTFT p50"], curves["TTFT p99"]
    rate = p50[0][0]
    r = _serve(plan, rate, requests)
    assert p50[0][1] == pytest.approx(r.stats.ttft_s.p50 * 1e3, rel=1e-12)
    assert p99[0][1] == pytest.approx(r.stats.ttft_s.p99 * 1e3, rel=1e-12)
    # The seed's rule (claim 8): at light load a request waits half a departure interval
    # on the median, then prefills; the set-up's facts give both.
    setup = r.setup
    assert p50[0][1] == pytest.approx((setup.prefill_s + setup.interval_s / 2) * 1e3, rel=0.05)
    # Train schedule: every request's token comes one train round apart, at any load.
    tpot = _curves(bottom)["TPOT, p50 = p99 (train schedule: every token one departure apart)"]
    assert all(y == pytest.approx(setup.interval_s * setup.trains * 1e3) for _, y in tpot)
    text = all_text(fig)
    assert "tp 4 x ep 1 x pp 2 x dp 1" in text
    assert "4,592 Poisson arrivals per rate, seed 0" in text
    _legible(fig)


def test_load_knee_and_max_throughput(loaded: tuple[Any, Plan, int]) -> None:
    fig, plan, requests = loaded
    top = fig.axes[0]
    rates = [x for x, _ in _curves(top)["TTFT p99"]]
    # Default rates reach past saturation.
    p99 = [_serve(plan, x, requests).stats.ttft_s.p99 for x in rates]
    knee = next(x for x, t in zip(rates, p99, strict=True) if t > KNEE_FACTOR * p99[0])
    marks = {ln.get_label().split(":")[0]: ln.get_xdata()[0] for ln in top.get_lines()}
    assert marks["knee"] == pytest.approx(knee, rel=1e-12)
    # Max throughput from the set-up's facts: 574 seats on each of 2 trains, each held for
    # the departures a request needs (prefill, then 127 tokens a train round apart).
    setup = _serve(plan, 1.0, 1).setup
    assert (setup.seats, setup.trains) == (574, 2)
    tau = setup.interval_s
    own = math.ceil((setup.prefill_s + 127 * tau * 2) / (tau * 2))
    most = setup.seats * 2 / (own * 2 * tau)
    assert marks["max throughput"] == pytest.approx(most, rel=0.01)
    assert rates[-1] == pytest.approx(1.2 * marks["max throughput"], rel=1e-9)
    assert rates[0] < 0.1 * most  # from light load
    assert marks["max throughput"] * 0.9 < knee <= rates[-1]


def test_load_given_rates_and_continuous(h100: Scenario) -> None:
    plan = Plan(tp=8, ep=1, pp=1, dp=1)
    fig = load_figure(h100, plan, [2.0, 10.0, 40.0], policy="continuous", requests=400)
    top = fig.axes[0]
    assert [x for x, _ in _curves(top)["TTFT p50"]] == [2.0, 10.0, 40.0]
    r = topo.api.serve(
        "dgx-h100", "llama-3-70b", rate=10.0, requests=400, seed=0, policy="continuous", tp=8
    )
    assert _curves(top)["TTFT p50"][1][1] == pytest.approx(r.stats.ttft_s.p50 * 1e3)
    assert "continuous schedule" in all_text(fig)
    _legible(fig)
