"""Designs side by side (``topo compare``) and a study's Pareto front (``topo plot study``)."""

from __future__ import annotations

from typing import Any

from topo.plot._style import FAIL_COLOR, NA_COLOR, OK_COLOR, figure

__all__ = ["plot_compare", "plot_study", "plot_validation"]

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
                ax.text(span * 0.02, yi, why[:64], va="center", fontsize=7, color="#555555")
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


_LABELS = {
    "usd_per_million_tco": "USD per million output tokens (TCO)",
    "usd_per_million_gpu_hour": "USD per million output tokens (GPU-hour price)",
    "tokens_per_s_per_gpu": "output tokens/s per GPU",
    "tokens_per_s_per_kw": "output tokens/s per kW",
    "time_per_output_token_s": "time per output token [s]",
    "time_to_first_token_s": "time to first token [s]",
}


def plot_study(data: dict[str, Any], x: str, y: str) -> tuple[Any, Any]:
    """A study's designs: on two objectives, and against scale-up domain size.

    Left: every design on objectives `x` and `y`, the Pareto front joined. Right: tokens/s
    per GPU against domain size, one line per NIC speed, infeasible designs crossed.
    """
    rows = data["designs"]
    fig = figure(15, 6.5)
    ax, ax2 = fig.subplots(1, 2)
    _objectives_panel(ax, rows, set(data["pareto"]), x, y)
    _domain_panel(ax2, rows)
    models = sorted({r["model"] for r in rows})
    fig.suptitle(
        f"study {data.get('study', '')}: {len(rows)} designs, {', '.join(models)}",
        fontweight="bold",
    )
    return fig, ax


def _objectives_panel(
    ax: Any, rows: list[dict[str, Any]], front_ids: set[Any], x: str, y: str
) -> None:
    """Every design on objectives `x` and `y`, infeasible ones crossed, the front joined."""
    have = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    feas = [r for r in have if r["feasible"]]
    bad = [r for r in have if not r["feasible"]]
    ax.scatter(
        [r[x] for r in feas],
        [r[y] for r in feas],
        s=30,
        color=OK_COLOR,
        alpha=0.7,
        label=f"feasible ({len(feas)})",
    )
    if bad:
        ax.scatter(
            [r[x] for r in bad],
            [r[y] for r in bad],
            s=30,
            marker="x",
            color=FAIL_COLOR,
            label=f"infeasible ({len(bad)}): would do this if it could be built",
        )
    front = sorted((r for r in feas if r["id"] in front_ids), key=lambda r: r[x])
    if front:
        ax.plot(
            [r[x] for r in front],
            [r[y] for r in front],
            "-o",
            color="#333333",
            ms=9,
            mfc="none",
            label=f"Pareto front ({len(front)})",
        )
        for r in front:
            ax.annotate(
                _short(r), (r[x], r[y]), textcoords="offset points", xytext=(8, 6), fontsize=8
            )
    _objective_y_scale(ax, [r[y] for r in have])
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel(_LABELS.get(y, y))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("designs on the objectives", fontsize=10)


def _objective_y_scale(ax: Any, ys: list[float]) -> None:
    """Log scale for positive values spread over 5x; else plain numbers, no offset."""
    if all(v > 0 for v in ys) and ys and max(ys) > 5 * min(ys):
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:  # plain numbers, no offset: designs that all sit at an SLO read as such
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        lo, hi = ax.get_ylim()
        if hi - lo < 1e-3 * max(abs(hi), 1e-30):
            mid = (hi + lo) / 2
            ax.set_ylim(mid * 0.9, mid * 1.1)


def _domain_panel(ax2: Any, rows: list[dict[str, Any]]) -> None:
    """Tokens/s per GPU against domain size, one line per NIC speed, infeasible crossed."""
    nics = sorted({r["nic_gbps"] for r in rows if r.get("nic_gbps") is not None})
    cmap = ["#4C72B0", "#DD8452", "#8172B3", "#937860", "#DA8BC3"]
    for k, nic in enumerate(nics):
        pts = sorted(
            (r for r in rows if r.get("nic_gbps") == nic and r.get("tokens_per_s_per_gpu")),
            key=lambda r: r["domain_gpus"],
        )
        if not pts:
            continue
        color = cmap[k % len(cmap)]
        ax2.plot(
            [r["domain_gpus"] for r in pts],
            [r["tokens_per_s_per_gpu"] for r in pts],
            "-o",
            color=color,
            ms=5,
            label=f"{nic:g} Gb/s NIC",
        )
        nb = [r for r in pts if not r["feasible"]]
        ax2.scatter(
            [r["domain_gpus"] for r in nb],
            [r["tokens_per_s_per_gpu"] for r in nb],
            marker="x",
            s=80,
            color=FAIL_COLOR,
            zorder=3,
        )
    if any(not r["feasible"] for r in rows):
        _mark_first_infeasible(ax2, rows)
    ax2.set_xscale("log", base=2)
    doms = sorted({r["domain_gpus"] for r in rows if r.get("domain_gpus")})
    if doms:
        ax2.set_xticks(doms, [str(d) for d in doms])
        ax2.minorticks_off()
    ax2.set_xlabel("scale-up domain [GPUs]")
    ax2.set_ylabel("output tokens/s per GPU (best plan under the objectives)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="upper left")
    ax2.set_title("what the domain size buys", fontsize=10)


def _mark_first_infeasible(ax2: Any, rows: list[dict[str, Any]]) -> None:
    """A dotted line at the smallest infeasible domain, with its first reason."""
    first_bad = min(
        (r for r in rows if not r["feasible"] and r.get("domain_gpus")),
        key=lambda r: r["domain_gpus"],
        default=None,
    )
    if first_bad is not None:
        ax2.axvline(first_bad["domain_gpus"], color=FAIL_COLOR, ls=":", lw=1)
        ax2.annotate(
            f"x infeasible from {first_bad['domain_gpus']} GPUs:\n" + first_bad["reasons"][0],
            (first_bad["domain_gpus"], 0.04),
            xycoords=("data", "axes fraction"),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=8,
            color=FAIL_COLOR,
        )


def _short(r: dict[str, Any]) -> str:
    parts = [f"{r['domain_gpus']} GPU domain"]
    if r.get("nic_gbps"):
        parts.append(f"{r['nic_gbps']:g}G NIC")
    return ", ".join(parts)


def plot_validation(data: dict[str, Any]) -> tuple[Any, Any]:
    """Predicted against measured for every point of ``topo validate``, by metric."""
    rows = data["points"]
    metrics = sorted({r["what"].rsplit(": ", 1)[-1] for r in rows})
    fig = figure(6.5 * len(metrics), 6.2)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        pts = [r for r in rows if r["what"].rsplit(": ", 1)[-1] == metric]
        x = [r["measured"] for r in pts]
        y = [r["predicted"] for r in pts]
        lo, hi = min(x + y) / 1.5, max(x + y) * 1.5
        ax.fill_between(
            [lo, hi],
            [lo / 1.15, hi / 1.15],
            [lo * 1.15, hi * 1.15],
            color=OK_COLOR,
            alpha=0.15,
            label="within 15%",
        )
        ax.plot([lo, hi], [lo, hi], color="#333333", lw=0.8, label="topo = measured")
        ax.scatter(x, y, s=26, color="#4C72B0", zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        unit = "tokens/s per GPU" if "tokens_per_s" in metric else "s"
        ax.set_xlabel(f"measured [{unit}]")
        ax.set_ylabel(f"topo [{unit}]")
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"topo against {len(rows)} measurements: median |error| "
        f"{data['median_abs_error']:.0%}, 90th percentile {data['p90_abs_error']:.0%}",
        fontweight="bold",
    )
    return fig, axes
