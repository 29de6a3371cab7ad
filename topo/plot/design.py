"""Designs side by side (``topo compare``) and a study's Pareto front (``topo plot study``)."""

from __future__ import annotations

from typing import Any

from topo.plot._style import FAIL_COLOR, NA_COLOR, OK_COLOR, figure

__all__ = ["plot_compare", "plot_study"]

_PANELS = (
    ("tokens_per_s_per_gpu", "output tokens/s per GPU", "{:,.0f}"),
    ("tokens_per_s_per_kw", "output tokens/s per kW of rack power", "{:,.0f}"),
    ("usd_per_million_tco", "USD per million output tokens (TCO)", "${:,.3f}"),
    ("binding_margin", "margin of the binding physical limit", "{:+.0%}"),
)


def plot_compare(data: dict[str, Any]) -> tuple[Any, Any]:
    """One panel per metric, one bar per design; infeasible designs hatched, with why."""
    rows = data["designs"]
    fig = figure(13, 2.6 + 1.1 * len(rows))
    axes = fig.subplots(2, 2).ravel()
    names = [r["layout"] + (f" ({r['id']})" if r.get("id") else "") for r in rows]
    y = list(range(len(rows)))[::-1]
    for ax, (key, title, fmt) in zip(axes, _PANELS, strict=True):
        values = [r.get(key) for r in rows]
        known = [abs(v) for v in values if isinstance(v, (int, float))]
        span = max(known) if known else 1.0
        for yi, r, v in zip(y, rows, values, strict=True):
            if not isinstance(v, (int, float)):
                ax.barh(yi, span, color="none", edgecolor=NA_COLOR, hatch="//", height=0.6)
                why = (r.get("reasons") or ["n/a"])[0]
                ax.text(span * 0.02, yi, why[:48], va="center", fontsize=7, color="#555555")
                continue
            good = r["feasible"] and (key != "binding_margin" or v >= 0)
            ax.barh(yi, v, color=OK_COLOR if good else FAIL_COLOR, height=0.6)
            label = fmt.format(v)
            if key == "binding_margin":
                label += f" {r.get('binding_limit') or ''}"
            ax.text(max(v, 0), yi, " " + label, va="center", fontsize=8)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.margins(x=0.25)
        ax.grid(axis="x", alpha=0.3)
        if key == "binding_margin":
            from matplotlib.ticker import PercentFormatter

            ax.axvline(0, color="#333333", lw=0.8)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            nums = [0.0, *(v for v in values if isinstance(v, (int, float)))]
            lo, hi = min(nums), max(nums)
            ax.set_xlim(lo * 1.3 - 0.05, max(0.3, hi * 1.7, -lo))
    model = rows[0]["model"] if rows else ""
    fig.suptitle(
        f"{model}: designs compared at their best plan (red: infeasible)", fontweight="bold"
    )
    return fig, axes


def plot_study(data: dict[str, Any], x: str, y: str) -> tuple[Any, Any]:
    """Every design of a study on two objectives; feasible ones, the Pareto front joined."""
    rows = data["designs"]
    front_ids = set(data["pareto"])
    fig = figure(10, 6.5)
    ax = fig.subplots()
    feas = [r for r in rows if r["feasible"] and r.get(x) is not None and r.get(y) is not None]
    bad = [r for r in rows if not r["feasible"] and r.get(x) is not None and r.get(y) is not None]
    ax.scatter(
        [r[x] for r in feas],
        [r[y] for r in feas],
        s=28,
        color=OK_COLOR,
        alpha=0.6,
        label=f"feasible ({len(feas)})",
    )
    if bad:
        ax.scatter(
            [r[x] for r in bad],
            [r[y] for r in bad],
            s=28,
            marker="x",
            color=FAIL_COLOR,
            label=f"infeasible: physics or objectives ({len(bad)})",
        )
    front = sorted((r for r in feas if r["id"] in front_ids), key=lambda r: r[x])
    if front:
        ax.plot(
            [r[x] for r in front],
            [r[y] for r in front],
            "-o",
            color="#333333",
            ms=7,
            mfc="none",
            label=f"Pareto front ({len(front)})",
        )
        for r in front:
            ax.annotate(
                _short(r), (r[x], r[y]), textcoords="offset points", xytext=(6, 4), fontsize=7
            )
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"study {data.get('study', '')}: {len(rows)} designs", fontweight="bold")
    return fig, ax


def _short(r: dict[str, Any]) -> str:
    parts = [f"{r['domain_gpus']} GPU domain"]
    if r.get("nic_gbps"):
        parts.append(f"{r['nic_gbps']:g}G NIC")
    return ", ".join(parts)
