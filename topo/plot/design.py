"""Designs side by side (``topo compare``) and a study's Pareto front (``topo plot study``)."""

from __future__ import annotations

import math
from typing import Any

from topo.plot._style import (
    FAIL_COLOR,
    FAIL_HATCH,
    FAIL_MARKER,
    NA_COLOR,
    NA_HATCH,
    OK_COLOR,
    OK_MARKER,
    REF_COLOR,
    SERIES_COLORS,
    SERIES_MARKERS,
    figure,
    log_axis,
)
from topo.plot.roofline import ladder_limits

__all__ = ["plot_compare", "plot_study", "plot_validation"]

_PANELS = (
    ("tokens_per_s_per_gpu", "output tokens/s per GPU", "{:,.0f}"),
    ("tokens_per_s_per_kw", "output tokens/s per kW of rack power", "{:,.0f}"),
    ("usd_per_million_tco", "USD per million output tokens (TCO)", "${:,.3f}"),
    ("binding_margin", "margin of the binding physical limit", "{:+.0%}"),
)


def plot_compare(data: dict[str, Any]) -> tuple[Any, Any]:
    """One panel per metric, one bar per design; infeasible designs hatched, with why.

    Each design's name is written above its bars in the left panels (rows line up across
    panels), so a comparison of two designs reads as well as one of ten.
    """
    from matplotlib.ticker import FuncFormatter

    rows = data["designs"]
    fig = figure(13, 2.8 + 1.3 * len(rows))
    axes = fig.subplots(2, 2).ravel()
    names = [r["layout"] + (f" ({r['id']})" if r.get("id") else "") for r in rows]
    y = list(range(len(rows)))[::-1]
    for k, (ax, (key, title, fmt)) in enumerate(zip(axes, _PANELS, strict=True)):
        values = [r.get(key) for r in rows]
        known = [abs(v) for v in values if isinstance(v, (int, float))]
        span = max(known) if known else 1.0
        for yi, r, v, name in zip(y, rows, values, names, strict=True):
            if k % 2 == 0:  # the design's name above its bar, in the left panels
                ax.text(0, yi + 0.3, name, va="bottom", ha="left", fontsize=9, weight="bold")
            if not isinstance(v, (int, float)):
                ax.barh(yi, span, color="none", edgecolor=NA_COLOR, hatch=NA_HATCH, height=0.5)
                why = (r.get("reasons") or ["n/a"])[0]
                ax.text(span * 0.02, yi, why[:60], va="center", fontsize=9, color="#555555")
                continue
            good = r["feasible"] and (key != "binding_margin" or v >= 0)
            ax.barh(
                yi,
                v,
                color=OK_COLOR if good else FAIL_COLOR,
                hatch=None if good else FAIL_HATCH,
                edgecolor="white",
                height=0.5,
            )
            label = fmt.format(v)
            if key == "binding_margin":
                if 0 < abs(v) < 0.0095:  # 40.8 of 41 kW: "+0.5%", not "+0%"
                    label = f"{v:+.1%}"
                label += f" {r.get('binding_limit') or ''}"
            ax.text(max(v, 0), yi, " " + label, va="center", fontsize=9)
        ax.set_ylim(-0.6, len(rows) - 0.1)
        ax.yaxis.set_visible(False)
        ax.set_title(title, fontsize=10)
        ax.margins(x=0.3)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=9)
        if key == "binding_margin":
            from matplotlib.ticker import PercentFormatter

            ax.axvline(0, color=REF_COLOR, lw=0.8)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            nums = [0.0, *(v for v in values if isinstance(v, (int, float)))]
            lo, hi = min(nums), max(nums)
            ax.set_xlim(lo * 1.3 - 0.05, max(0.3, hi * 1.7, -lo))
        elif key.startswith("usd"):
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.3g}"))
        else:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    model = rows[0]["model"] if rows else ""
    fig.suptitle(
        f"{model}: designs compared at their best plan (red, cross-hatched: infeasible)",
        fontweight="bold",
    )
    return fig, axes


_LABELS = {
    "usd_per_million_tco": "USD per million output tokens (TCO)",
    "usd_per_million_gpu_hour": "USD per million output tokens (GPU-hour price)",
    "tokens_per_s_per_gpu": "output tokens/s per GPU",
    "tokens_per_s_per_kw": "output tokens/s per kW",
    "time_per_output_token_s": "time per output token [ms]",
    "time_to_first_token_s": "time to first token [ms]",
}


def _scale(key: str) -> float:
    """Objectives in seconds are drawn in milliseconds."""
    return 1e3 if key.endswith("_s") else 1.0


def plot_study(
    data: dict[str, Any], x: str, y: str, knobs: list[str] | None = None
) -> tuple[Any, Any]:
    """A study's designs: on two objectives, and against scale-up domain size.

    Left: every design on objectives `x` and `y`, the Pareto front joined. Right: tokens/s
    per GPU against domain size, one line per NIC speed, infeasible designs crossed.

    A study of several models or workloads gives each its colour and its own front on the
    left (designs compete to serve one), and its own panel on the right. Where a study
    varies more than the domain and the NIC, each point on the right is the best design
    of its domain and NIC (the feasible ones first), and a panel's title says over what.
    `knobs`: the study's variations (:func:`topo.study.study_knobs`; default: guessed
    from the rows, :func:`topo.study.varied`).
    """
    from topo.study import served, varied, workload_label

    rows = data["designs"]
    groups = list(served(rows).items())
    knobs = [k for k in varied(rows, knobs) if k not in ("domain_gpus", "nic")]
    shown = groups[:_MAX_PANELS]
    fig = figure(15, max(6.5, 2.9 * len(shown) + 0.8))
    if len(groups) == 1:
        ax, ax2 = fig.subplots(1, 2)
        right = [ax2]
        _objectives_panel(ax, rows, set(data["pareto"]), x, y)
    else:
        grid = fig.add_gridspec(len(shown), 2)
        ax = fig.add_subplot(grid[:, 0])
        right = [fig.add_subplot(grid[i, 1]) for i in range(len(shown))]
        _groups_panel(ax, groups, set(data["pareto"]), x, y)
    for k, (ax2, ((model, _), members)) in enumerate(zip(right, shown, strict=False)):
        drawn = _best_by_domain(members) if knobs else members
        _domain_panel(ax2, drawn, legend=k == 0, every=members)
        if len(groups) > 1 or knobs:
            label = model + (
                f" ({wl})" if (wl := workload_label(members[0].get("workload"))) else ""
            )
            over = f": the best over {', '.join(knobs)}" if knobs else ""
            ax2.set_title(label + over, fontsize=10)
        if len(groups) > 1:
            ax2.set_ylabel("output tokens/s per GPU", fontsize=10)
            if k < len(shown) - 1:
                ax2.set_xlabel("")
    models = sorted({r["model"] for r in rows})
    more = len(groups) > len(shown)
    fig.suptitle(
        f"study {data.get('study', '')}: {len(rows)} designs, {', '.join(models)}"
        + (
            f" (right: the first {len(shown)} of {len(groups)} models and workloads)"
            if more
            else ""
        ),
        fontweight="bold",
    )
    return fig, ax


# At most this many models and workloads get a domain panel of their own.
_MAX_PANELS = 4
# Colours of a study's models and workloads (not the NIC series' of the domain panels).
_GROUP_COLORS = ("#0072B2", "#CC79A7", "#009E73", "#E69F00", "#56B4E9", "#555555")


def _best_by_domain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each layout, domain size and NIC, the design of most tokens/s per GPU.

    The feasible ones first (the panel says where none can be built from all the designs).
    """
    best: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for r in rows:
        if r.get("tokens_per_s_per_gpu") is None:
            continue
        key = (r["layout"], r.get("domain_gpus"), r.get("nic_gbps"))
        rank = (bool(r["feasible"]), r["tokens_per_s_per_gpu"])
        have = best.get(key)
        if have is None or rank > (bool(have["feasible"]), have["tokens_per_s_per_gpu"]):
            best[key] = r
    return list(best.values())


def _groups_panel(
    ax: Any,
    groups: list[tuple[tuple[str, str], list[dict[str, Any]]]],
    front_ids: set[Any],
    x: str,
    y: str,
) -> None:
    """Every design on objectives `x` and `y`, coloured by model and workload, each its front.

    Feasible designs are dots, infeasible ones crosses; a front's designs at the same
    values are named once, with how many they are.
    """
    from topo.study import workload_label

    values: list[tuple[float, float]] = []
    for k, ((model, _), rows) in enumerate(groups):
        wl = workload_label(rows[0].get("workload"))
        name = model + (f" ({wl})" if wl else "")
        color = _GROUP_COLORS[k % len(_GROUP_COLORS)]
        values += _group_points(ax, rows, front_ids, (x, y), name, color)
    ax.scatter(
        [],
        [],
        marker=FAIL_MARKER,
        color=NA_COLOR,
        label="infeasible: would do this if it could be built",
    )
    ax.plot(
        [],
        [],
        "-o",
        color=REF_COLOR,
        ms=12,
        mfc="none",
        label="each one's Pareto front (×n: n designs tie)",
    )
    _objective_axis(ax, "x", x, [v[0] for v in values])
    _objective_axis(ax, "y", y, [v[1] for v in values])
    ax.set_xlabel(_LABELS.get(x, x), fontsize=10)
    ax.set_ylabel(_LABELS.get(y, y), fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)
    # Below the panel: the groups' designs fill it.
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2)
    ax.set_title("designs on the objectives, by model and workload", fontsize=10)


def _group_points(
    ax: Any,
    rows: list[dict[str, Any]],
    front_ids: set[Any],
    xy: tuple[str, str],
    name: str,
    color: str,
) -> list[tuple[float, float]]:
    """One model and workload's designs (dots; crosses: infeasible) and its front, named.

    Returns the points drawn, in the axes' units.
    """
    x, y = xy
    sx, sy = _scale(x), _scale(y)
    have = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    feas = [r for r in have if r["feasible"]]
    bad = [r for r in have if not r["feasible"]]
    for drawn, marker, alpha in ((feas, OK_MARKER, 0.75), (bad, FAIL_MARKER, 0.35)):
        ax.scatter(
            [r[x] * sx for r in drawn],
            [r[y] * sy for r in drawn],
            s=30 if drawn is feas else 34,
            marker=marker,
            color=color,
            alpha=alpha,
            linewidths=0 if drawn is bad else None,
            label=f"{name}: {len(feas)} feasible" if drawn is feas else None,
        )
    front = sorted((r for r in feas if r["id"] in front_ids), key=lambda r: r[x])
    ties: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for r in front:
        ties.setdefault((r[x] * sx, r[y] * sy), []).append(r)
    ax.plot([p[0] for p in ties], [p[1] for p in ties], "-o", color=color, ms=12, mfc="none",
            mew=1.5)  # fmt: skip
    for j, (at, tie) in enumerate(ties.items()):  # neighbours above and below
        more = f" (×{len(tie)})" if len(tie) > 1 else ""
        ax.annotate(
            _short(tie[0], _layouts(rows) > 1) + more,
            at,
            textcoords="offset points",
            xytext=(9, 5 if j % 2 == 0 else -14),
            fontsize=9,
            color=color,
        )
    return [(r[x] * sx, r[y] * sy) for r in have]


def _objectives_panel(
    ax: Any, rows: list[dict[str, Any]], front_ids: set[Any], x: str, y: str
) -> None:
    """Every design on objectives `x` and `y`, infeasible ones crossed, the front joined."""
    have = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    feas = [r for r in have if r["feasible"]]
    bad = [r for r in have if not r["feasible"]]
    sx, sy = _scale(x), _scale(y)
    ax.scatter(
        [r[x] * sx for r in feas],
        [r[y] * sy for r in feas],
        s=36,
        marker=OK_MARKER,
        color=OK_COLOR,
        alpha=0.8,
        label=f"feasible ({len(feas)})",
    )
    if bad:
        ax.scatter(
            [r[x] * sx for r in bad],
            [r[y] * sy for r in bad],
            s=50,
            marker=FAIL_MARKER,
            color=FAIL_COLOR,
            label=f"infeasible ({len(bad)}): would do this if it could be built",
        )
    front = sorted((r for r in feas if r["id"] in front_ids), key=lambda r: r[x])
    if front:
        ax.plot(
            [r[x] * sx for r in front],
            [r[y] * sy for r in front],
            "-o",
            color=REF_COLOR,
            ms=11,
            mfc="none",
            label=f"Pareto front ({len(front)})",
        )
        for r in front:
            ax.annotate(
                _short(r, _layouts(rows) > 1),
                (r[x] * sx, r[y] * sy),
                textcoords="offset points",
                xytext=(8, 6),
                fontsize=9,
            )
    _objective_axis(ax, "x", x, [r[x] * sx for r in have])
    _objective_axis(ax, "y", y, [r[y] * sy for r in have])
    ax.set_xlabel(_LABELS.get(x, x), fontsize=10)
    ax.set_ylabel(_LABELS.get(y, y), fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    ax.set_title("designs on the objectives", fontsize=10)


def _objective_axis(ax: Any, which: str, key: str, values: list[float]) -> None:
    """Log (1-2-5) for positive values spread over 5x; else plain numbers, no offset.

    Dollars carry a "$"; designs that all sit at one value (an SLO) read as such.
    """
    from matplotlib.ticker import FuncFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    usd = key.startswith("usd")
    if values and all(v > 0 for v in values) and max(values) > 5 * min(values):
        log_axis(ax, which)
        lo, hi = ladder_limits(min(values) / 1.2, max(values) * 1.2)
        (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)
        if usd:
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:g}"))
        return
    ax.ticklabel_format(axis=which, useOffset=False, style="plain")
    if usd:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:.4g}"))
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    if hi - lo < 1e-3 * max(abs(hi), 1e-30):
        mid = (hi + lo) / 2
        (ax.set_xlim if which == "x" else ax.set_ylim)(mid * 0.9, mid * 1.1)


def _domain_panel(
    ax2: Any,
    rows: list[dict[str, Any]],
    *,
    legend: bool = True,
    every: list[dict[str, Any]] | None = None,
) -> None:
    """Tokens/s per GPU against domain size, one line per NIC speed, infeasible crossed.

    `rows`: one design per domain size and NIC (and layout: a line for each layout and
    NIC, where the rows have several); `every`: all the designs they were chosen from
    (default: `rows`), which say where none can be built, and why.
    """
    from matplotlib.ticker import FuncFormatter

    layouts = list(dict.fromkeys(r["layout"] for r in rows)) if _layouts(rows) > 1 else [None]
    nics = sorted({r["nic_gbps"] for r in rows if r.get("nic_gbps") is not None})
    series = [(lay, nic) for lay in layouts for nic in nics]
    for k, (lay, nic) in enumerate(series):
        pts = sorted(
            (
                r
                for r in rows
                if r.get("nic_gbps") == nic
                and r.get("tokens_per_s_per_gpu")
                and lay in (None, r["layout"])
            ),
            key=lambda r: r["domain_gpus"],
        )
        if not pts:
            continue
        ax2.plot(
            [r["domain_gpus"] for r in pts],
            [r["tokens_per_s_per_gpu"] for r in pts],
            "-" + SERIES_MARKERS[k % len(SERIES_MARKERS)],
            color=SERIES_COLORS[k % len(SERIES_COLORS)],
            ms=7 + 3 * (len(series) - 1 - k),  # earlier lines larger: equal values stay visible
            mfc="none" if k < len(series) - 1 else None,
            label=(f"{lay}, " if lay else "") + f"{nic:g} Gb/s NIC",
        )
        nb = [r for r in pts if not r["feasible"]]
        ax2.scatter(
            [r["domain_gpus"] for r in nb],
            [r["tokens_per_s_per_gpu"] for r in nb],
            marker=FAIL_MARKER,
            s=90,
            color=FAIL_COLOR,
            zorder=3,
        )
    if any(not r["feasible"] for r in rows):
        _mark_first_infeasible(ax2, every if every is not None else rows)
    ax2.set_xscale("log", base=2)
    doms = sorted({r["domain_gpus"] for r in rows if r.get("domain_gpus")})
    if doms:
        if len(doms) < 3:  # one or two sizes: their neighbours too, so the axis reads
            doms = sorted({doms[0] / 2, *doms, doms[-1] * 2})
            ax2.set_xlim(doms[0] / 1.2, doms[-1] * 1.2)
        ax2.set_xticks(doms, [f"{d:g}" for d in doms])
        ax2.minorticks_off()
    ax2.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax2.set_xlabel("scale-up domain [GPUs]", fontsize=10)
    ax2.set_ylabel("output tokens/s per GPU (best plan under the objectives)", fontsize=10)
    ax2.tick_params(labelsize=9)
    ax2.grid(alpha=0.3)
    if legend:
        ax2.legend(fontsize=9, loc="upper left")
    ax2.set_title("what the domain size buys", fontsize=10)


def _mark_first_infeasible(ax2: Any, rows: list[dict[str, Any]]) -> None:
    """A dotted line at the smallest domain no design can be built at, with a reason."""
    fine = {r.get("domain_gpus") for r in rows if r["feasible"]}
    bad = [r for r in rows if r.get("domain_gpus") and r["domain_gpus"] not in fine]
    first_bad = None
    if bad:
        # Of that domain's designs, the reason of the one nearest to being built: what
        # stops every variant (a power budget can be raised; a cable's reach cannot).
        at = min(r["domain_gpus"] for r in bad)
        first_bad = max(
            (r for r in bad if r["domain_gpus"] == at),
            key=_margin,
        )
    if first_bad is not None:
        at = first_bad["domain_gpus"]
        ax2.axvline(at, color=FAIL_COLOR, ls=":", lw=1)
        # Under the data, or over it where the points left of the line lie low.
        lo, hi = ax2.get_ylim()
        near = [
            (r["tokens_per_s_per_gpu"] - lo) / (hi - lo)
            for r in rows
            if r.get("tokens_per_s_per_gpu") and at / 8 < r["domain_gpus"] < at
        ]
        top = sum(f < 0.2 for f in near) > sum(f > 0.8 for f in near)
        ax2.annotate(
            f"infeasible from {at} GPUs:\n" + first_bad["reasons"][0],
            (at, 0.96 if top else 0.04),
            xycoords=("data", "axes fraction"),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="top" if top else "baseline",
            fontsize=9,
            color=FAIL_COLOR,
        )


def _layouts(rows: list[dict[str, Any]]) -> int:
    """How many layouts the rows are of."""
    return len({r["layout"] for r in rows})


def _margin(r: dict[str, Any]) -> float:
    """A design's binding margin (-inf where its layout was not built)."""
    m = r.get("binding_margin")
    return float(m) if m is not None else -math.inf


def _short(r: dict[str, Any], layout: bool = False) -> str:
    """A design by its domain and NIC (and its `layout`'s name, where a study has several)."""
    parts = [r["layout"]] if layout else []
    parts.append(f"{r['domain_gpus']} GPU domain")
    if r.get("nic_gbps"):
        parts.append(f"{r['nic_gbps']:g}G NIC")
    return ", ".join(parts)


def plot_validation(data: dict[str, Any]) -> tuple[Any, Any]:
    """Predicted against measured for every point of ``topo validate``, by metric.

    Times are drawn in milliseconds, rates in tokens/s per GPU, on 1-2-5 log axes; two
    panels a row.
    """
    rows = data["points"]
    metrics = sorted({r["what"].rsplit(": ", 1)[-1] for r in rows})
    cols = min(2, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig = figure(6.2 * cols, 5.6 * nrows)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    for ax, metric in zip(axes, metrics, strict=False):
        rate = "tokens_per_s" in metric
        scale = 1.0 if rate else 1e3
        unit = "tokens/s per GPU" if rate else "ms"
        pts = [r for r in rows if r["what"].rsplit(": ", 1)[-1] == metric]
        x = [r["measured"] * scale for r in pts]
        y = [r["predicted"] * scale for r in pts]
        lo, hi = ladder_limits(min(x + y) / 1.3, max(x + y) * 1.3)
        ax.fill_between(
            [lo, hi],
            [lo / 1.15, hi / 1.15],
            [lo * 1.15, hi * 1.15],
            color=OK_COLOR,
            alpha=0.15,
            label="within 15%",
        )
        ax.plot([lo, hi], [lo, hi], color=REF_COLOR, lw=0.8, label="topo = measured")
        ax.scatter(x, y, s=28, color=SERIES_COLORS[0], marker="o", zorder=3, label="a measurement")
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"measured [{unit}]", fontsize=10)
        ax.set_ylabel(f"topo [{unit}]", fontsize=10)
        ax.tick_params(labelsize=9)
        points = f"{len(pts)} point" + ("s" if len(pts) != 1 else "")
        ax.set_title(f"{metric.replace('_', ' ')} ({points})", fontsize=10)
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=9, loc="upper left")
    fig.suptitle(
        f"topo against {len(rows)} measurements: median |error| "
        f"{data['median_abs_error']:.0%}, 90th percentile {data['p90_abs_error']:.0%}",
        fontweight="bold",
    )
    return fig, axes
