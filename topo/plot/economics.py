"""Economics figures: cost against context, serving latency, cache tiers, compute split."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.plot._style import (
    REF_COLOR,
    SERIES_COLORS,
    SERIES_MARKERS,
    figure,
    human,
    log_axis,
    scenario_subtitle,
    short_number,
)
from topo.plot.roofline import ladder_limits

if TYPE_CHECKING:
    from topo.economics import Price
    from topo.perf import Workload
    from topo.place import Plan

__all__ = ["plot_cache", "plot_lifecycle", "plot_price", "plot_serving"]

_HATCHES = ("", "..", "//", "xx", "\\\\", "--")  # per series, with its colour


def _plan_text(plan: Any) -> str:
    p = plan if isinstance(plan, dict) else {k: getattr(plan, k) for k in ("tp", "ep", "pp", "dp")}
    return f"tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp {p['dp']}"


def _subtitle(ax: Any, plan: Any, workload: Workload | None, extra: str = "") -> None:
    """The scenario under the title (the plan alone when the workload is not given)."""
    if plan is None:
        text = extra
    elif workload is not None:
        from topo.place import Plan

        p = plan if isinstance(plan, Plan) else Plan(**plan)
        text = scenario_subtitle(p, workload) + (f"; {extra}" if extra else "")
    else:
        text = _plan_text(plan) + (f"; {extra}" if extra else "")
    if text:
        ax.set_title("\n".join(textwrap.wrap(text, 120)), fontsize=9, loc="left")


def _usd_axis(ax: Any, which: str) -> None:
    """A 1-2-5 log axis of dollars: $0.01, $0.02, $0.05, $0.1, ..."""
    from matplotlib.ticker import FuncFormatter

    log_axis(ax, which)
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${short_number(v)}"))


def plot_price(results: Sequence[Price], workload: Workload | None = None) -> tuple[Any, Any]:
    """Cheapest cost per million output tokens against context, one line per model.

    `workload`: the one priced, for the scenario subtitle (else the plan alone).
    """
    fig = figure(9.5, 6.2)
    ax = fig.subplots()
    xs: list[float] = []
    ys: list[float] = []
    for i, d in enumerate(results):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        best: dict[float, float] = {}
        for r in d.rows:
            c = r.usd_per_million_output_tokens
            if c is not None:
                best[r.context] = min(best.get(r.context, np.inf), c)
        cx = sorted(best)
        xs += cx
        ys += [best[x] for x in cx]
        ax.plot(
            cx,
            [best[x] for x in cx],
            SERIES_MARKERS[i % len(SERIES_MARKERS)] + "-",
            color=color,
            label=f"{d.model} ({d.attention_kind}), cheapest batch that fits",
        )
        limit = d.no_compute_bound_context
        if limit:
            xs.append(limit)
            ax.axvline(limit, color=color, linestyle=":", linewidth=1.2)
            ax.annotate(
                f"no batch compute-bound\nabove {limit:,.0f} tokens",
                (limit, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(4, -6 - 30 * i),
                textcoords="offset points",
                va="top",
                fontsize=9,
                color=color,
            )
    log_axis(ax, "x")
    _usd_axis(ax, "y")
    if xs and ys:
        ax.set_xlim(*ladder_limits(min(xs) / 1.2, max(xs) * 1.2))
        ax.set_ylim(*ladder_limits(min(ys) / 1.3, max(ys) * 1.3))
    ax.set_xlabel("context [tokens]", fontsize=10)
    ax.set_ylabel("cost [USD per million output tokens]", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    first = results[0]
    fig.suptitle(
        f"{first.layout}: long contexts cost more per output token",
        fontsize=12,
        weight="bold",
    )
    extra = "" if workload is not None else f"${first.gpu_hour_usd:.2f} per GPU-hour"
    _subtitle(ax, first.plan, workload, extra)
    return fig, ax


def plot_serving(runs: list[dict[str, Any]], workload: Workload | None = None) -> tuple[Any, Any]:
    """Time-to-first-token distributions of serving runs (e.g. train against continuous).

    `workload`: the one served, for the scenario subtitle (else the plan alone).
    """
    fig = figure(9.5, 6)
    ax = fig.subplots()
    lo = min(min(r["ttft_samples_s"], default=0.0) for r in runs) * 1e3
    top = max(max(r["ttft_samples_s"], default=0.0) for r in runs) * 1e3
    pad = max(top - lo, 1e-3) * 0.05
    bins = np.linspace(max(lo - pad, 0.0), max(top + pad, 1e-3), 60)
    for i, r in enumerate(runs):
        x = np.array(r["ttft_samples_s"]) * 1e3
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        ax.hist(
            x,
            bins=bins,
            histtype="stepfilled",
            alpha=0.35,
            color=color,
            hatch=_HATCHES[i % len(_HATCHES)],
            edgecolor=color,
            linewidth=1.6,
            label=f"{r['policy']}: mean {r['ttft_s']['mean'] * 1e3:.1f} ms, p99 "
            f"{r['ttft_s']['p99'] * 1e3:.1f} ms",
        )
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel("time to first token [ms]", fontsize=10)
    ax.set_ylabel("requests [count, sampled]", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.legend(fontsize=9)
    r0 = runs[0]
    fig.suptitle(
        f"{r0['model']} on {r0['layout']}: time to first token, {r0['rate_per_s']:g} requests/s",
        fontsize=12,
        weight="bold",
    )
    _subtitle(ax, r0.get("plan"), workload, f"interval {r0['interval_s'] * 1e3:.1f} ms")
    return fig, ax


def plot_cache(
    d: dict[str, Any], plan: Plan | None = None, workload: Workload | None = None
) -> tuple[Any, Any]:
    """The cost of keeping a prefix in each tier for each duration, against recomputing.

    `plan` and `workload`: the serving plan and workload, for the scenario subtitle.
    """
    fig = figure(10.5, 6.2)
    ax = fig.subplots()
    tiers = [t["name"] for t in d["tiers"]]
    labels = list(d["costs_usd"])
    width = 0.8 / len(labels)
    values: list[float] = [d["recompute_usd"]]
    for j, label in enumerate(labels):
        vals = [d["costs_usd"][label][t] for t in tiers]
        values += vals
        x = np.arange(len(tiers)) + j * width
        bars = ax.bar(
            x,
            vals,
            width,
            label=f"keep {label}",
            color=SERIES_COLORS[j % len(SERIES_COLORS)],
            hatch=_HATCHES[j % len(_HATCHES)],
            edgecolor="white",
        )
        chosen = d["choice"][label]
        for b, t in zip(bars, tiers, strict=True):
            if t == chosen:  # the choice: a black edge and a marker above
                b.set_edgecolor("black")
                b.set_linewidth(2)
                ax.plot(b.get_x() + b.get_width() / 2, b.get_height() * 1.5, "v", color="black")
    ax.axhline(
        d["recompute_usd"],
        color=REF_COLOR,
        linestyle="--",
        label=f"recompute: {human(d['recompute_s'], 'time')} of prefill",
    )
    ax.plot([], [], "v", color="black", label="the choice for that duration")
    ax.set_xticks(np.arange(len(tiers)) + width * (len(labels) - 1) / 2, tiers, fontsize=9)
    _usd_axis(ax, "y")
    pos = [v for v in values if v > 0]
    if pos:
        ax.set_ylim(*ladder_limits(min(pos) / 1.5, max(pos) * 4))
    ax.set_ylabel("cost to keep and reload once [USD]", fontsize=10)
    ax.set_xlabel("memory tier", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.legend(fontsize=9, loc="upper right", ncols=2)
    fig.suptitle(
        f"{d['model']} on {d['layout']}: where a {d['prefix_tokens']:,}-token prefix "
        f"({human(d['kv_bytes'], 'data')}) should wait",
        fontsize=12,
        weight="bold",
    )
    _subtitle(ax, plan, workload)
    return fig, ax


def _count(v: float) -> str:
    """8 B, 15 T: parameters and tokens as people say them."""
    for scale, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def _flop(v: float) -> str:
    """FLOP with an SI prefix: 720 ZFLOP, 3.2 YFLOP."""
    if v == 0:
        return "0"
    for scale, prefix in ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}FLOP"
    return f"{v:.3g} FLOP"


def plot_lifecycle(d: dict[str, Any]) -> tuple[Any, Any]:
    """Pre-training, RL and inference compute side by side, with the equal-thirds line."""
    from matplotlib.ticker import FuncFormatter

    fig = figure(8.5, 5.5)
    ax = fig.subplots()
    parts = d["compute"]
    names = list(parts)
    ax.bar(
        names,
        [parts[k] for k in names],
        color=[SERIES_COLORS[i % len(SERIES_COLORS)] for i in range(len(names))],
        hatch=[_HATCHES[i % len(_HATCHES)] for i in range(len(names))],
        edgecolor="white",
    )
    total = sum(parts.values())
    if total:
        ax.axhline(total / 3, color=REF_COLOR, linestyle="--", label="equal thirds")
    for i, k in enumerate(names):
        ax.text(i, parts[k], _flop(parts[k]), ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(parts.values()) * 1.15 if total else 1.0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _flop(v)))
    ax.set_ylabel("compute [FLOP]", fontsize=10)
    ax.set_xlabel("stage of the model's life", fontsize=10)
    ax.tick_params(labelsize=9)
    if total:
        ax.legend(fontsize=9)
    fig.suptitle(
        f"{_count(d['params'])} parameters on {_count(d['tokens'])} tokens: "
        f"{d['overtraining_ratio']:.0f}x past Chinchilla",
        fontsize=12,
        weight="bold",
    )
    return fig, ax
