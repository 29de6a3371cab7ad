"""Interactivity against throughput: what each user gets against what each GPU earns.

The chart serving people compare systems on (SemiAnalysis InferenceMAX style): x is the
interactivity of one user, tokens/s per user (1 / time per output token), y the
throughput, tokens/s per GPU over all GPUs of the plan. Each layout is one curve: the
Pareto frontier over every plan and batch the library's plan search
(:func:`topo.plans.search` over :func:`topo.plans.candidate_plans`) finds, so moving
right along a curve buys faster tokens for each user with fewer tokens per GPU. The first
scenario is the main one; the others are drawn beside it (``--compare``). A few points
carry their plan and batch B (one micro-batch, as ``topo plan`` reports it: with pp
stages, pp micro-batches are in flight); the subtitle names the plan of the main layout's
highest-throughput point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from topo.errors import TopoError
from topo.place import Plan
from topo.plans import PlanRow, candidate_plans, pareto, search
from topo.plot._style import SERIES_COLORS, SERIES_MARKERS, figure, log_axis, scenario_subtitle

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from topo.scenario import Scenario

__all__ = ["frontier", "interactivity_figure", "ladder_axis", "plan_label", "ticks_in_view"]

_COLORS = SERIES_COLORS  # one colour and marker per layout, as in every series figure
_LADDER = (1.0, 2.0, 5.0)  # the 1-2-5 ticks of :func:`log_axis`


def frontier(s: Scenario, *, max_gpus: int | None = None) -> list[PlanRow]:
    """The Pareto frontier of `s`'s plan search, by tokens/s per user, slowest first.

    Plans are :func:`topo.plans.candidate_plans` up to `max_gpus` [GPUs] (None: the
    layout's size) without data-parallel copies of one block (per GPU they do what one
    copy does), on the scenario's placement strategy, at the search's batches (powers of
    two per data-parallel rank and the memory limit). Each row is one the search returned:
    along the list tokens/s per user rises and tokens/s per GPU falls.
    """
    plans = candidate_plans(s.layout, s.model, max_gpus=max_gpus, replicas=False)
    rows = search(
        s.layout,
        s.fabric,
        s.model,
        s.workload,
        plans=plans,
        strategies=(s.strategy,),
        fabric=s.fabric,
    )
    return pareto(rows)[::-1]


def plan_label(plan: Plan) -> str:
    """A plan in a few characters: ``"tp4 pp2"``, ``"tp8 ep32 dp4"`` (degrees of 1 left out)."""
    parts = [f"tp{plan.tp}"]
    parts += [f"{k}{v}" for k, v in (("ep", plan.ep), ("pp", plan.pp), ("dp", plan.dp)) if v > 1]
    return " ".join(parts)


def interactivity_figure(scenarios: Sequence[Scenario], *, max_gpus: int | None = None) -> Figure:
    """Tokens/s per GPU against tokens/s per user: one Pareto frontier per layout.

    Parameters
    ----------
    scenarios
        The main layout first, then the layouts it is compared with; each with its model
        and workload.
    max_gpus
        The most GPUs a plan may take [GPUs]; None: each layout's size.
    """
    if not scenarios:
        msg = "interactivity_figure needs at least one scenario"
        raise TopoError(msg)
    fronts = [frontier(s, max_gpus=max_gpus) for s in scenarios]
    if not fronts[0]:
        s = scenarios[0]
        msg = f"{s.model.name} fits on no plan of {s.layout.name}"
        raise TopoError(msg)
    fig: Figure = figure(10, 6.5)
    ax = fig.subplots()
    xs: list[float] = []
    ys: list[float] = []
    for i, (s, rows) in enumerate(zip(scenarios, fronts, strict=True)):
        color = _COLORS[i % len(_COLORS)]
        marker = SERIES_MARKERS[i % len(SERIES_MARKERS)]
        x = [1.0 / r.time_per_output_token_s for r in rows]
        y = [r.tokens_per_s_per_gpu for r in rows]
        xs += x
        ys += y
        bound = min(max_gpus or s.layout.n_gpus, s.layout.n_gpus)
        label = f"{s.layout.name}, {s.model.name}: plans on up to {bound:,} GPUs"
        if not rows:
            label = f"{s.layout.name}, {s.model.name}: no plan fits"
        ax.plot(x, y, f"{marker}-", color=color, label=label, markersize=5, linewidth=1.8, zorder=3)
    ladder_axis(ax, "x", min(xs), max(xs))
    ladder_axis(ax, "y", min(ys), max(ys))
    ax.set_xlabel("interactivity [tokens/s per user] = 1 / time per output token", fontsize=10)
    ax.set_ylabel("throughput [tokens/s per GPU]", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", alpha=0.08)
    ax.legend(loc="lower left", fontsize=9, framealpha=0.9)
    main = scenarios[0]
    best = max(fronts[0], key=lambda r: r.tokens_per_s_per_gpu)
    fig.suptitle(
        f"{main.model.name}: tokens/s per GPU against tokens/s per user "
        "(Pareto frontier over plans and batches B)",
        fontsize=12,
        weight="bold",
    )
    ax.set_title(
        "most throughput: "
        + scenario_subtitle(best.plan, main.workload, batch=best.batch)
        + f"; {main.strategy} placement",
        fontsize=9,
        loc="left",
    )
    _label_points(fig, ax, fronts)
    return fig


def _ladder(k: int) -> float:
    """The k-th value of the 1-2-5 ladder: ..., 0.5, 1, 2, 5, 10, 20, ..."""
    return _LADDER[k % 3] * 10.0 ** (k // 3)


def _ladder_index(v: float) -> int:
    """The largest k with ``_ladder(k) <= v``."""
    import math

    k = 3 * math.floor(math.log10(v))
    while _ladder(k + 1) <= v * (1 + 1e-9):
        k += 1
    while _ladder(k) > v * (1 + 1e-9):
        k -= 1
    return k


def _ladder_limits(lo: float, hi: float) -> tuple[float, float]:
    """Log limits around [lo, hi] on 1-2-5 values holding at least three of them."""
    a = _ladder_index(lo / 1.1)
    b = _ladder_index(hi * 1.1) + 1
    while b - a < 2:
        b += 1
    # A hair beyond the ticks at the ends, so both are inside the view and labelled.
    return _ladder(a) / 1.02, _ladder(b) * 1.02


def ladder_axis(ax: Any, which: str, lo: float, hi: float) -> None:
    """:func:`log_axis` on [lo, hi] widened to hold three 1-2-5 ticks, ticks only in view.

    Ticks are fixed to those inside the limits: a log locator's ticks outside the view
    keep stale labels that text checks would see.
    """
    log_axis(ax, which)
    (ax.set_xlim if which == "x" else ax.set_ylim)(*_ladder_limits(lo, hi))
    ticks_in_view(ax, which)


def ticks_in_view(ax: Any, which: str) -> None:
    """Fix `ax`'s major ticks on `which` axis to those its locator puts inside the limits.

    Call once the limits are final. Matplotlib keeps a label for each tick its locator
    gives, drawn or not; those outside the view sit where nothing is drawn and text
    overlap checks would see them.
    """
    from matplotlib.ticker import FixedLocator

    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    locs = [float(v) for v in axis.get_majorticklocs() if lo <= v <= hi]
    axis.set_major_locator(FixedLocator(locs))


def _label_points(fig: Any, ax: Any, fronts: Sequence[Sequence[PlanRow]]) -> None:
    """Plan and batch at a few points of each curve, where no text or marker is.

    Candidates by priority: each curve's highest-throughput and most interactive points,
    then the first point of each plan along the curve. Each tries a few offsets and is
    kept at the first that stays inside the axes and clear of every marker, the legend
    and the labels already kept; candidates with no such place are left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    frame = ax.get_window_extent(renderer)
    taken: list[Any] = []
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))
    taken.append(ax.title.get_window_extent(renderer))
    for rows in fronts:
        for r in rows:
            px, py = ax.transData.transform(
                (1.0 / r.time_per_output_token_s, r.tokens_per_s_per_gpu)
            )
            taken.append(Bbox.from_extents(px - 5, py - 5, px + 5, py + 5))
    offsets = ((8, 6), (8, -16), (-8, 6), (-8, -16), (10, -5), (-10, -5), (0, 12), (0, -20))
    per_curve = 3 if len(fronts) > 1 else 5
    for i, rows in enumerate(fronts):
        color = _COLORS[i % len(_COLORS)]
        kept = 0
        for r in _candidates(rows):
            if kept >= per_curve:
                break
            xy = (1.0 / r.time_per_output_token_s, r.tokens_per_s_per_gpu)
            for dx, dy in offsets:
                t = ax.annotate(
                    f"{plan_label(r.plan)}, B {r.batch:,}",
                    xy,
                    textcoords="offset points",
                    xytext=(dx, dy),
                    ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                    fontsize=9,
                    color=color,
                    zorder=4,
                )
                t.set_in_layout(False)
                box = t.get_window_extent(renderer)
                inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                if inside and not any(box.overlaps(b) for b in taken):
                    taken.append(box)
                    kept += 1
                    break
                t.remove()


def _candidates(rows: Sequence[PlanRow]) -> list[PlanRow]:
    """The points worth a label, most useful first: both ends, then each plan's first."""
    if not rows:
        return []
    ends = [max(rows, key=lambda r: r.tokens_per_s_per_gpu), rows[-1]]
    changes = [r for j, r in enumerate(rows) if j == 0 or r.plan != rows[j - 1].plan]
    out: list[PlanRow] = []
    for r in ends + changes[::-1]:
        if all(r is not o for o in out):
            out.append(r)
    return out
