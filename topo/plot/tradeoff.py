"""Latency against throughput: time per output token against tokens/s per GPU by batch."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.plot._style import (
    REF_COLOR,
    SERIES_COLORS,
    SERIES_MARKERS,
    figure,
    log_axis,
    scenario_subtitle,
)
from topo.plot.roofline import ladder_limits

if TYPE_CHECKING:
    from topo.perf import Workload

__all__ = ["plot_tradeoff"]


def plot_tradeoff(
    sweeps: list[dict[str, Any]], workload: Workload | None = None
) -> tuple[Any, Any]:
    """One curve per :func:`topo.evaluation.sweep` result (its ``to_dict()``).

    Each curve: the batches that fit, the latency floor, a few costs, the critical batch
    and where HBM is full.

    `workload`: the one the sweeps ran, for the scenario subtitle (tokens, dtypes, price);
    without it the subtitle gives the plans and the context.
    """
    fig = figure(10, 7)
    ax = fig.subplots()
    xs: list[float] = []
    ys: list[float] = []
    for i, s in enumerate(sweeps):
        x, y = _curve(ax, i, s)
        xs += x
        ys += y
    log_axis(ax, "x")
    log_axis(ax, "y", " ms")
    if xs:
        ax.set_xlim(*ladder_limits(min(xs) / 1.15, max(xs) * 1.15))
        floors = [s["latency_floor_s"] * 1e3 for s in sweeps]
        ax.set_ylim(*ladder_limits(min([*ys, *floors]) / 1.15, max(ys) * 1.3))
    ax.set_xlabel("throughput [output tokens/s per GPU]", fontsize=10)
    ax.set_ylabel("time per output token [ms]", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, which="major", alpha=0.3)
    _legend(fig, ax)
    model = sweeps[0]["model"] if sweeps else ""
    fig.suptitle(
        f"{model}: faster tokens cost more (B: batch; $ per million output tokens)",
        fontsize=12,
        weight="bold",
    )
    ax.set_title(_subtitle(sweeps, workload), fontsize=9, loc="left")
    return fig, ax


def _subtitle(sweeps: list[dict[str, Any]], workload: Workload | None) -> str:
    """The scenario of the first curve (and the others' plans)."""
    if not sweeps:
        return ""
    plans = [_plan(s) for s in sweeps]
    if workload is not None:
        from topo.place import Plan

        first = scenario_subtitle(Plan(**sweeps[0]["plan"]), workload)
    else:
        first = f"{plans[0]}, context {sweeps[0]['context']:,.0f} tokens"
    more = "; ".join(f"{s['layout']}: {p}" for s, p in zip(sweeps[1:], plans[1:], strict=True))
    text = f"{sweeps[0]['layout']}: {first}" + (f"; {more}" if more else "")
    return "\n".join(textwrap.wrap(text, 130))


def _plan(s: dict[str, Any]) -> str:
    p = s["plan"]
    return f"tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp {p['dp']}"


def _curve(ax: Any, i: int, s: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Sweep `i`'s rows that fit: its curve, floor, a few costs, critical batch, HBM full."""
    color = SERIES_COLORS[i % len(SERIES_COLORS)]
    marker = SERIES_MARKERS[i % len(SERIES_MARKERS)]
    rows = [r for r in s["rows"] if r["fits"]]
    crit = s["critical_batch"]["kv_aware"]
    label = f"{s['layout']}, {_plan(s)}: HBM full at B = {s['max_batch']:,}, " + (
        f"compute = memory at B = {crit:,.0f}" if crit is not None else "never compute-bound"
    )
    if not rows:
        ax.plot([], [], marker + "-", color=color, label=f"{label}: no batch fits")
        return [], []
    x = [r["tokens_per_s_per_gpu"] for r in rows]
    y = [r["time_per_output_token_s"] * 1e3 for r in rows]
    ax.plot(x, y, marker + "-", color=color, label=label, markersize=6, zorder=3, gid=f"curve{i}")
    floor = s["latency_floor_s"] * 1e3
    ax.axhline(floor, color=color, linestyle=":", linewidth=1.2)
    ax.annotate(
        f"floor {floor:.3g} ms",
        (1.0, floor),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(-4, -4),
        fontsize=9,
        color=color,
        ha="right",
        va="top",
    )
    # A few costs: the first, the middle and the last batch that fits.
    marks = sorted({0, len(rows) // 2, len(rows) - 1})
    for j in marks:
        r = rows[j]
        ax.annotate(
            f"B = {r['batch']:,}: ${r['usd_per_million_output_tokens']:.3g}/M",
            (x[j], y[j]),
            textcoords="offset points",
            xytext=(6 if j < len(rows) - 1 else -6, 8 if i % 2 == 0 else -8),
            ha="left" if j < len(rows) - 1 else "right",
            va="bottom" if i % 2 == 0 else "top",
            fontsize=9,
            color=color,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            zorder=5,
        )
    every = s["rows"]
    at = _on_curve(every, crit) if crit is not None and crit <= s["max_batch"] else None
    if at is not None:
        ax.plot(*at, "D", markersize=12, markerfacecolor="none", markeredgecolor=color,
                markeredgewidth=2, zorder=4, gid=f"critical{i}")  # fmt: skip
        x, y = [*x, at[0]], [*y, at[1]]
    full = _on_curve(every, float(s["max_batch"]))
    if full is not None and s["max_batch"] > rows[-1]["batch"]:
        ax.plot([x[len(rows) - 1], full[0]], [y[len(rows) - 1], full[1]], "--", color=color,
                linewidth=1.2)  # fmt: skip
        ax.plot(*full, "s", markersize=11, markerfacecolor="none", markeredgecolor=color,
                markeredgewidth=2, zorder=4, gid=f"hbm-full{i}")  # fmt: skip
        x, y = [*x, full[0]], [*y, full[1]]
    return x, y


def _on_curve(rows: list[dict[str, Any]], batch: float) -> tuple[float, float] | None:
    """Where `batch` falls on the drawn curve (None outside the rows).

    Between the two sweep rows around it, straight on the log-log axes, as drawn.
    """
    bs = np.array([r["batch"] for r in rows], dtype=float)
    if len(bs) < 2 or not bs[0] <= batch <= bs[-1]:
        return None
    lx = np.log([r["tokens_per_s_per_gpu"] for r in rows])
    ly = np.log([r["time_per_output_token_s"] * 1e3 for r in rows])
    lb = np.log(bs)
    return float(np.exp(np.interp(np.log(batch), lb, lx))), float(
        np.exp(np.interp(np.log(batch), lb, ly))
    )


def _legend(fig: Any, ax: Any) -> None:
    """Below the axes: the curves, then the floor, critical batch and HBM-full marks."""
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], linestyle=":", color=REF_COLOR, label="latency floor"),
        Line2D(
            [],
            [],
            marker="D",
            linestyle="",
            markerfacecolor="none",
            markeredgecolor=REF_COLOR,
            markeredgewidth=1.5,
            label="critical batch (compute = memory)",
        ),
        Line2D(
            [],
            [],
            marker="s",
            linestyle="--",
            markerfacecolor="none",
            markeredgecolor=REF_COLOR,
            color=REF_COLOR,
            markeredgewidth=1.5,
            label="HBM full (largest batch that fits)",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=1, fontsize=9, frameon=False)
