"""Latency against throughput: time per output token against tokens/s per GPU by batch."""

from __future__ import annotations

from typing import Any

from topo.plot._style import figure

__all__ = ["plot_tradeoff"]

_COLORS = ["#4C72B0", "#C44E52", "#55A868", "#8172B3", "#DD8452", "#64B5CD"]


def plot_tradeoff(sweeps: list[dict[str, Any]]) -> tuple[Any, Any]:
    """One curve per :func:`topo.evaluation.sweep` result: floor, critical batch, cost."""
    fig = figure(9.5, 6)
    ax = fig.subplots()
    for i, s in enumerate(sweeps):
        _curve(ax, i, s)
    ax.set_xscale("log")
    ax.set_xlabel("throughput [output tokens/s per GPU]")
    ax.set_ylabel("time per output token [ms]")
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(v)[0] in "25" else ""))
    ax.grid(True, alpha=0.3)
    _legend(ax)
    model = sweeps[0]["model"] if sweeps else ""
    ax.set_title(
        f"{model}: faster tokens cost more (batch B per curve point, $ per million output tokens)",
        fontsize=11,
        weight="bold",
    )
    return fig, ax


def _curve(ax: Any, i: int, s: dict[str, Any]) -> None:
    """Sweep `i`'s rows that fit: its curve, floor, a few costs and its critical batch."""
    color = _COLORS[i % len(_COLORS)]
    rows = [r for r in s["rows"] if r["fits"]]
    if not rows:
        return
    x = [r["tokens_per_s_per_gpu"] for r in rows]
    y = [r["time_per_output_token_s"] * 1e3 for r in rows]
    p = s["plan"]
    label = f"{s['layout']}, tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp {p['dp']}"
    ax.plot(x, y, "o-", color=color, label=label, markersize=5)
    ax.axhline(s["latency_floor_s"] * 1e3, color=color, linestyle=":", linewidth=1.2)
    ax.annotate(
        f"floor {s['latency_floor_s'] * 1e3:.2f} ms",
        (1.0, s["latency_floor_s"] * 1e3),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(-4, -11),
        fontsize=8,
        color=color,
        ha="right",
    )
    crit = s["critical_batch"]["kv_aware"]
    # A few labelled points, above the first curve and below the others.
    marks = sorted({0, len(rows) // 3, (2 * len(rows)) // 3} - {len(rows) - 1})
    for j in marks:
        r = rows[j]
        ax.annotate(
            f"B={r['batch']}: ${r['usd_per_million_output_tokens']:.2f}/M",
            (x[j], y[j]),
            textcoords="offset points",
            xytext=(4, 8) if i % 2 == 0 else (4, -14),
            fontsize=8,
            color=color,
        )
    past = [j for j, r in enumerate(rows) if r["batch"] >= crit] if crit is not None else []
    if past:
        _mark_critical(ax, x[past[0]], y[past[0]], crit, color)


def _mark_critical(ax: Any, x: float, y: float, crit: float, color: str) -> None:
    """A hollow diamond at the first point past the critical batch, labelled."""
    ax.plot(
        x,
        y,
        "D",
        markersize=11,
        markerfacecolor="none",
        markeredgecolor=color,
        markeredgewidth=2,
    )
    ax.annotate(
        f"compute-bound from B~{crit:,.0f}",
        (x, y),
        textcoords="offset points",
        xytext=(-12, 0),
        fontsize=8,
        color=color,
        ha="right",
        va="center",
    )


def _legend(ax: Any) -> None:
    """The curves' legend with entries for the latency floor and the critical batch."""
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], linestyle=":", color="#555555", label="latency floor"),
        Line2D(
            [],
            [],
            marker="D",
            linestyle="",
            markerfacecolor="none",
            markeredgecolor="#555555",
            label="critical batch",
        ),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
