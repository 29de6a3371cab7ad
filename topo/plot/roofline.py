"""Roofline per GPU, as the plan runs: the roofs it really has and what keeps decode below.

The roofs are HBM at its measured share of the datasheet rate and compute at its
measured efficiency (the datasheet peak drawn thin for reference). Along the decode path
(one point per batch) two more ceilings, in the scaling-book manner: the FLOP/s a step
would reach if it took only its communication, and only its kernel overhead and fixed
costs (``FLOPs / term`` of :func:`topo.perf.decode`). A point sits below the lowest
roof by the time those terms add: the achieved FLOP/s is FLOPs over their sum. The
critical batch (compute time reaches memory time) and the batch where HBM is full are
marked where the model puts them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.plot._style import (
    BOUND_COLORS,
    BOUND_MARKERS,
    REF_COLOR,
    TERM_COLORS,
    figure,
    human,
    log_axis,
    scenario_subtitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from topo.place import Plan
    from topo.scenario import Scenario

__all__ = ["plot_roofline", "roofline_figure"]

_T = 1e12  # the y axis is in TFLOP/s


@dataclass(frozen=True, slots=True)
class _Path:
    """What the decode path adds to :func:`topo.evaluation.roofline_data`'s points.

    Per batch (decode points' order): intensity [FLOP/B], the communication and overhead
    ceilings [FLOP/s] (inf where the term is zero), whether the batch fits in HBM; the
    critical batch and HBM-full point as (batch, intensity, FLOP/s) or None; the
    subtitle.
    """

    intensity: tuple[float, ...]
    comm_ceiling: tuple[float, ...]
    overhead_ceiling: tuple[float, ...]
    fits: tuple[bool, ...]
    critical: tuple[float, float, float] | None
    hbm_full: tuple[float, float, float] | None
    subtitle: str


def roofline_figure(s: Scenario, plan: Plan, batches: Sequence[int]) -> Figure:
    """The roofline of `plan` on `s` with its decode path at `batches` [sequences].

    Every number is the library's: :func:`topo.evaluation.roofline_data` (roofs, points),
    :func:`topo.perf.decode` (communication and overhead terms), the plan's critical
    batch (:func:`topo.perf.critical_batches`) and :func:`topo.perf.memory`'s largest batch.
    """
    from topo.evaluation import roofline_data
    from topo.perf import decode, memory

    bs = sorted({int(b) for b in batches})
    data = roofline_data(
        s.layout, s.fabric, s.model, plan, bs, s.workload, strategy=s.strategy
    ).to_dict()
    comm = s.parts(plan).comm
    d = decode(s.layout, s.model, plan, np.array(bs, dtype=float), s.workload, comm)
    max_batch = memory(s.layout, s.model, plan, 1, s.workload).max_batch
    crit = s.parts(plan).critical

    def at(batch: float) -> tuple[float, float, float]:
        """Batch, intensity [FLOP/B] and achieved FLOP/s of decode at `batch`."""
        e = decode(s.layout, s.model, plan, np.array([batch]), s.workload, comm)
        flops = float(e.flops_per_gpu[0])
        nbytes = float(e.weight_bytes_per_gpu[0] + e.kv_bytes_per_gpu[0])
        return batch, flops / nbytes, flops / (float(e.tpot[0]) / plan.pp)

    stage_flops = d.flops_per_gpu * plan.pp  # FLOPs of a stage over the per-token terms
    with np.errstate(divide="ignore"):
        comm_ceiling = np.where(d.communication > 0, stage_flops / d.communication, np.inf)
        over_ceiling = np.where(d.overhead > 0, stage_flops / d.overhead, np.inf)
    notes = [f"HBM holds up to {max_batch:,} sequences"]
    if crit.kv_aware is None:
        limit = f"; none past {crit.context_limit:,.0f} tokens" if crit.context_limit else ""
        notes.append(f"no batch is compute-bound at context {s.workload.mean_context:,.0f}{limit}")
    else:
        notes.append(f"compute time reaches memory time at batch {crit.kv_aware:,.0f}")
    path = _Path(
        intensity=tuple(
            float(v) for v in d.flops_per_gpu / (d.weight_bytes_per_gpu + d.kv_bytes_per_gpu)
        ),
        comm_ceiling=tuple(float(v) for v in comm_ceiling),
        overhead_ceiling=tuple(float(v) for v in over_ceiling),
        fits=tuple(b <= max_batch for b in bs),
        critical=at(crit.kv_aware) if crit.kv_aware is not None else None,
        hbm_full=at(float(max_batch)) if max_batch >= 1 else None,
        subtitle=scenario_subtitle(plan, s.workload)
        + f"; {s.strategy} placement. "
        + "; ".join(notes)
        + ".",
    )
    fig: Figure = _draw(data, path)[0]
    return fig


def plot_roofline(data: dict[str, Any]) -> tuple[Any, Any]:
    """Draw :func:`topo.evaluation.roofline_data`'s roofs and points (per GPU).

    The roofs and points only; :func:`roofline_figure` adds the communication and
    overhead ceilings, the critical batch, the HBM-full point and the scenario subtitle.
    """
    return _draw(data, None)


def _draw(data: dict[str, Any], path: _Path | None) -> tuple[Any, Any]:
    fig = figure(10, 7)
    ax = fig.subplots()
    pts = data["points"]
    decode = [p for p in pts if p["phase"] == "decode"]
    prefill = [p for p in pts if p["phase"] == "prefill"]
    bw = data["hbm_bandwidth_bytes_per_s"]
    peak = data["peaks"][data["compute_dtype"]]
    xs = [p["intensity_flop_per_byte"] for p in pts]
    marks = [m for m in (path.critical, path.hbm_full) if m is not None] if path else []
    xs += [m[1] for m in marks]
    ridge = peak / bw
    lo = _down(min(xs) / 2)
    hi = _up(max([*xs, ridge]) * 3)
    x = np.logspace(np.log10(lo), np.log10(hi), 300)
    _roofs(ax, data, x)
    if path is not None:
        _ceilings(ax, decode, path)
    _decode_points(ax, decode, path)
    _prefill_points(ax, prefill)
    log_axis(ax, "x")
    log_axis(ax, "y")
    ax.set_xlim(lo, hi)
    ys = [p["flop_per_s"] / _T for p in pts] + [m[2] / _T for m in marks]
    ax.set_ylim(_down(min(ys) / 2), _up(max(peak / _T, *ys) * 1.6))
    ax.set_xlabel("arithmetic intensity [FLOP/byte read from HBM, per GPU]", fontsize=10)
    ax.set_ylabel("achieved [TFLOP/s per GPU]", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, framealpha=0.95)
    plan = data["plan"]
    fig.suptitle(
        f"{data['model']} on {data['layout']} ({data['accelerator']}): roofline per GPU, "
        "decode by batch",
        fontsize=12,
        weight="bold",
    )
    sub = (
        path.subtitle
        if path is not None
        else f"tp {plan['tp']} x ep {plan['ep']} x pp {plan['pp']} x dp {plan['dp']}"
    )
    ax.set_title("\n".join(textwrap.wrap(sub, 130)), fontsize=9, loc="left")
    return fig, ax


def _down(v: float) -> float:
    """The 1-2-5 value at or below `v` (axis limits land on labelled ticks)."""
    k = np.floor(np.log10(v))
    m = v / 10**k
    return float(max(s for s in (1.0, 2.0, 5.0) if s <= m + 1e-9) * 10**k)


def _up(v: float) -> float:
    """The 1-2-5 value at or above `v`."""
    k = np.floor(np.log10(v))
    m = v / 10**k
    return float(min(s for s in (1.0, 2.0, 5.0, 10.0) if s >= m - 1e-9) * 10**k)


def ladder_limits(lo: float, hi: float, least: int = 3) -> tuple[float, float]:
    """Log-axis limits on 1-2-5 values around [lo, hi] (> 0) holding `least` of them.

    Widened downwards first, then upwards, one rung at a time, so a narrow range still
    gets the three labelled ticks :func:`topo.plot._style.log_axis` draws.
    """
    a, b = _down(lo), _up(hi)
    rungs = [a]
    while rungs[-1] < b * (1 - 1e-9):
        rungs.append(_up(rungs[-1] * 1.01))
    down = True
    while len(rungs) < least:
        if down:
            rungs.insert(0, _down(rungs[0] * 0.99))
        else:
            rungs.append(_up(rungs[-1] * 1.01))
        down = not down
    return rungs[0], rungs[-1]


def _roofs(ax: Any, data: dict[str, Any], x: np.ndarray) -> None:
    """The roof the plan has (measured HBM share and compute efficiency), the peak thin."""
    bw = data["hbm_bandwidth_bytes_per_s"]
    eff = data["efficiency"]
    dtype = data["compute_dtype"]
    peak = data["peaks"][dtype]
    ax.plot(
        x,
        np.minimum(peak, x * bw) / _T,
        "--",
        color="#999999",
        linewidth=1.0,
        label=f"datasheet: HBM {human(bw, 'bandwidth')}, {dtype} {human(peak, 'compute')}",
        gid="datasheet",
    )
    bw_m, peak_m = bw * eff["hbm"], peak * eff["flops"]
    ax.plot(
        x,
        np.minimum(peak_m, x * bw_m) / _T,
        "-",
        color=REF_COLOR,
        linewidth=2.2,
        label=f"roof as measured: HBM {human(bw_m, 'bandwidth')}, "
        f"{dtype} {human(peak_m, 'compute')}",
        gid="roof",
    )
    ridge = peak_m / bw_m
    ax.plot([ridge], [peak_m / _T], "o", color=REF_COLOR, markersize=5)
    ax.annotate(
        f"ridge {dtype}: {ridge:,.0f} FLOP/B",
        (ridge, peak_m / _T),
        textcoords="offset points",
        xytext=(0, -14),
        ha="left",
        va="top",
        fontsize=9,
    )


def _ceilings(ax: Any, decode: list[dict[str, Any]], path: _Path) -> None:
    """The communication and overhead ceilings along the decode path, per batch."""
    for name, values, label in (
        ("communication", path.comm_ceiling, "communication ceiling: FLOPs / its time"),
        ("overhead", path.overhead_ceiling, "kernel overhead and fixed costs ceiling"),
    ):
        keep = [(i, v) for i, v in zip(path.intensity, values, strict=True) if np.isfinite(v)]
        if not keep:
            ax.plot([], [], "-", color=TERM_COLORS[name], label=f"no {name} term")
            continue
        ax.plot(
            [i for i, _ in keep],
            [v / _T for _, v in keep],
            "-",
            color=TERM_COLORS[name],
            linewidth=1.8,
            marker=".",
            markersize=7,
            label=label,
            gid=name,
        )
    del decode


def _decode_points(ax: Any, decode: list[dict[str, Any]], path: _Path | None) -> None:
    """Decode points by bound (colour and shape), joined in batch order, some labelled."""
    xs = [p["intensity_flop_per_byte"] for p in decode]
    ys = [p["flop_per_s"] / _T for p in decode]
    ax.plot(xs, ys, "-", color=REF_COLOR, linewidth=0.8, alpha=0.6, zorder=2, gid="decode")
    fits = path.fits if path is not None else tuple(True for _ in decode)
    seen: set[str] = set()
    for p, x, y, ok in zip(decode, xs, ys, fits, strict=True):
        bound = p["bound"]
        color = BOUND_COLORS.get(bound, REF_COLOR)
        marker = BOUND_MARKERS.get(bound, "o")
        if bound not in seen:  # the legend's entry, filled whether or not this one fits
            seen.add(bound)
            ax.plot([], [], marker, markersize=8, color=color, label=f"decode, {bound}-bound")
        ax.plot(
            x,
            y,
            marker,
            markersize=8,
            color=color if ok else "white",
            markeredgecolor=color if ok else REF_COLOR,
            zorder=3,
        )
    if path is not None and not all(fits):
        ax.plot([], [], "o", color="white", markeredgecolor=REF_COLOR, label="does not fit in HBM")
    # Labels below and right of their points, few enough not to collide: from the last
    # point back, each far enough on the log axes from the one labelled before it.
    last: tuple[float, float] | None = None
    for k in range(len(decode) - 1, -1, -1):
        x, y = xs[k], ys[k]
        if last is not None and abs(np.log10(x / last[0])) + abs(np.log10(y / last[1])) < 0.45:
            continue
        last = (x, y)
        ax.annotate(
            f"B = {decode[k]['batch']:,}",
            (x, y),
            textcoords="offset points",
            xytext=(8, -6),
            va="top",
            fontsize=9,
        )
    if path is not None:
        _marks(ax, path)


def _marks(ax: Any, path: _Path) -> None:
    """The critical batch (diamond) and the HBM-full point (square), where decode puts them."""
    for where, marker, text, gid in (
        (path.critical, "D", "compute = memory at B = {:,.0f}", "critical"),
        (path.hbm_full, "s", "HBM full at B = {:,.0f}", "hbm-full"),
    ):
        if where is None:
            continue
        batch, x, y = where
        ax.plot(
            x,
            y / _T,
            marker,
            markersize=14,
            markerfacecolor="none",
            markeredgecolor=REF_COLOR,
            markeredgewidth=1.8,
            zorder=4,
            label=text.format(batch),
            gid=gid,
        )


def _prefill_points(ax: Any, prefill: list[dict[str, Any]]) -> None:
    """Prefill as stars coloured by bound, labelled with their tokens."""
    for p in prefill:
        ax.plot(
            p["intensity_flop_per_byte"],
            p["flop_per_s"] / _T,
            "*",
            markersize=15,
            color=BOUND_COLORS.get(p["bound"], REF_COLOR),
            markeredgecolor="black",
            zorder=3,
            label=f"prefill of {p['tokens']:,} tokens, {p['bound']}-bound",
        )
