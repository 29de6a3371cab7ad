"""Roofline: the accelerator's ceilings per dtype, the model's decode and prefill as points."""

from __future__ import annotations

from typing import Any

import numpy as np

from topo.plot._style import BOUND_COLORS, figure, human

__all__ = ["plot_roofline"]

_DTYPE_STYLE = {"fp4": ":", "fp8": "--", "bf16": "-", "fp16": "-", "int8": "-.", "tf32": ":"}


def plot_roofline(data: dict[str, Any]) -> tuple[Any, Any]:
    """Draw :func:`topo.evaluation.roofline_data`'s ceilings and points (per GPU)."""
    fig = figure(9, 6)
    ax = fig.subplots()
    bw = data["hbm_bandwidth_bytes_per_s"]
    pts = data["points"]
    xs = [p["intensity_flop_per_byte"] for p in pts]
    lo = max(min([*xs, 1.0]) / 3, 0.1)
    hi = max([*xs, *(f / bw for f in data["peaks"].values())]) * 4
    x = np.logspace(np.log10(lo), np.log10(hi), 200)
    _ceilings(ax, data, x)
    _decode_points(ax, [p for p in pts if p["phase"] == "decode"])
    _prefill_points(ax, [q for q in pts if q["phase"] == "prefill"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity [FLOP/byte of HBM traffic, per GPU]")
    ax.set_ylabel("achieved FLOP/s per GPU [FLOP/s]")
    _legend(ax)
    ax.grid(True, which="major", alpha=0.3)
    plan = data["plan"]
    ax.set_title(
        f"{data['model']} on {data['layout']} ({data['accelerator']}, tp {plan['tp']} "
        f"x ep {plan['ep']} x pp {plan['pp']} x dp {plan['dp']}): roofline per GPU, "
        f"HBM {human(bw, 'bandwidth')}",
        fontsize=10,
        weight="bold",
    )
    return fig, ax


def _ceilings(ax: Any, data: dict[str, Any], x: np.ndarray) -> None:
    """Peak ceilings of up to three dtypes with their ridge points, and the achievable one."""
    bw = data["hbm_bandwidth_bytes_per_s"]
    shown = [d for d in ("fp4", "fp8", "bf16") if d in data["peaks"]] or list(data["peaks"])[:3]
    for dtype in shown:
        peak = data["peaks"][dtype]
        ax.plot(
            x,
            np.minimum(peak, x * bw),
            _DTYPE_STYLE.get(dtype, "-"),
            color="#333333",
            linewidth=1.4,
            label=f"{dtype} peak {human(peak, 'compute')}",
        )
        ridge = peak / bw
        ax.plot([ridge], [peak], "o", color="#333333", markersize=4)
        ax.annotate(
            f"ridge {dtype}: {ridge:,.0f} FLOP/B",
            (ridge, peak),
            textcoords="offset points",
            ha="right",
            xytext=(-6, 6),
            fontsize=8,
        )
    eff = data["efficiency"]
    peak_c = data["peaks"][data["compute_dtype"]] * eff["flops"]
    ax.plot(
        x,
        np.minimum(peak_c, x * bw * eff["hbm"]),
        "-",
        color="#DD8452",
        linewidth=1.2,
        alpha=0.8,
        label=f"achievable {data['compute_dtype']}: {eff['flops']:.0%} of FLOP/s, "
        f"{eff['hbm']:.0%} of HBM",
    )


def _decode_points(ax: Any, decode: list[dict[str, Any]]) -> None:
    """Decode points coloured by bound, joined in batch order, every other one labelled."""
    for p in decode:
        ax.plot(
            p["intensity_flop_per_byte"],
            p["flop_per_s"],
            "o",
            markersize=7,
            color=BOUND_COLORS.get(p["bound"], "#333333"),
        )
    ax.plot(
        [p["intensity_flop_per_byte"] for p in decode],
        [p["flop_per_s"] for p in decode],
        "-",
        color="#4C72B0",
        linewidth=0.8,
        alpha=0.6,
    )
    for i, p in enumerate(decode):
        if i % 2 == 0:
            ax.annotate(
                f"B={p['batch']}",
                (p["intensity_flop_per_byte"], p["flop_per_s"]),
                textcoords="offset points",
                xytext=(7, -10),
                fontsize=8,
            )


def _prefill_points(ax: Any, prefill: list[dict[str, Any]]) -> None:
    """Prefill points as stars coloured by bound, labelled with their tokens."""
    for p in prefill:
        ax.plot(
            p["intensity_flop_per_byte"],
            p["flop_per_s"],
            "*",
            markersize=14,
            color=BOUND_COLORS.get(p["bound"], "#333333"),
            markeredgecolor="black",
        )
        ax.annotate(
            f"prefill {p['tokens']:,} tokens",
            (p["intensity_flop_per_byte"], p["flop_per_s"]),
            textcoords="offset points",
            xytext=(0, -20),
            fontsize=8,
            ha="center",
        )


def _legend(ax: Any) -> None:
    """The ceilings' legend with a marker per decode bound and one for prefill."""
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], marker="o", linestyle="", color=c, label=f"decode, {b}-bound")
        for b, c in BOUND_COLORS.items()
    ]
    handles += [
        Line2D(
            [],
            [],
            marker="*",
            linestyle="",
            color="#999999",
            markersize=12,
            markeredgecolor="black",
            label="prefill",
        )
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
