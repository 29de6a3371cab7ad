"""Economics figures: cost against context, serving latency, cache tiers, compute split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.plot._style import figure, human

if TYPE_CHECKING:
    from topo.economics import Price

__all__ = ["plot_cache", "plot_lifecycle", "plot_price", "plot_serving"]

_COLORS = ["#4C72B0", "#C44E52", "#55A868", "#8172B3", "#DD8452", "#64B5CD"]


def plot_price(results: Sequence[Price]) -> tuple[Any, Any]:
    """Cheapest cost per million output tokens against context, one line per model."""
    fig = figure(9, 5.5)
    ax = fig.subplots()
    for i, d in enumerate(results):
        best: dict[float, float] = {}
        for r in d.rows:
            c = r.usd_per_million_output_tokens
            if c is not None:
                best[r.context] = min(best.get(r.context, np.inf), c)
        xs = sorted(best)
        ax.plot(
            xs,
            [best[x] for x in xs],
            "o-",
            color=_COLORS[i % len(_COLORS)],
            label=f"{d.model} ({d.attention_kind}), cheapest batch that fits",
        )
        limit = d.no_compute_bound_context
        if limit:
            ax.axvline(limit, color=_COLORS[i % len(_COLORS)], linestyle=":", linewidth=1)
            ax.annotate(
                f"no batch compute-bound\nabove {limit:,.0f} tokens",
                (limit, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(4, -24),
                textcoords="offset points",
                fontsize=8,
                color=_COLORS[i % len(_COLORS)],
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("context [tokens]")
    ax.set_ylabel("cost [USD per million output tokens]")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        f"{results[0].layout}: long contexts cost more per output token "
        f"(${results[0].gpu_hour_usd:.2f} per GPU-hour)",
        fontsize=11,
        weight="bold",
    )
    return fig, ax


def plot_serving(runs: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Time-to-first-token distributions of serving runs (e.g. train against continuous)."""
    fig = figure(9, 5.5)
    ax = fig.subplots()
    top = max(max(r["ttft_samples_s"], default=0.0) for r in runs) * 1e3
    bins = np.linspace(0, max(top, 1e-3), 60)
    for i, r in enumerate(runs):
        x = np.array(r["ttft_samples_s"]) * 1e3
        ax.hist(
            x,
            bins=bins,
            alpha=0.55,
            color=_COLORS[i % len(_COLORS)],
            label=f"{r['policy']}: mean {r['ttft_s']['mean'] * 1e3:.1f} ms, p99 "
            f"{r['ttft_s']['p99'] * 1e3:.1f} ms",
        )
    ax.set_xlabel("time to first token [ms]")
    ax.set_ylabel("requests [count, sampled]")
    ax.legend(fontsize=8)
    r0 = runs[0]
    ax.set_title(
        f"{r0['model']} on {r0['layout']}: {r0['rate_per_s']:g} requests/s, "
        f"interval {r0['interval_s'] * 1e3:.1f} ms",
        fontsize=11,
        weight="bold",
    )
    return fig, ax


def plot_cache(d: dict[str, Any]) -> tuple[Any, Any]:
    """The cost of keeping a prefix in each tier for each duration, against recomputing."""
    fig = figure(10, 5.5)
    ax = fig.subplots()
    tiers = [t["name"] for t in d["tiers"]]
    labels = list(d["costs_usd"])
    width = 0.8 / len(labels)
    for j, label in enumerate(labels):
        vals = [d["costs_usd"][label][t] for t in tiers]
        x = np.arange(len(tiers)) + j * width
        bars = ax.bar(x, vals, width, label=f"keep {label}", color=_COLORS[j % len(_COLORS)])
        chosen = d["choice"][label]
        for b, t in zip(bars, tiers, strict=True):
            if t == chosen:
                b.set_edgecolor("black")
                b.set_linewidth(2)
    ax.axhline(
        d["recompute_usd"],
        color="#333333",
        linestyle="--",
        label=f"recompute: {human(d['recompute_s'], 'time')} of prefill",
    )
    ax.set_xticks(np.arange(len(tiers)) + width * (len(labels) - 1) / 2, tiers, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("cost to keep and reload once [USD]")
    ax.set_xlabel("memory tier (black edge: the choice for that duration)")
    ax.legend(fontsize=8)
    ax.set_title(
        f"{d['model']}: where a {d['prefix_tokens']:,}-token prefix "
        f"({human(d['kv_bytes'], 'data')}) should wait",
        fontsize=11,
        weight="bold",
    )
    return fig, ax


def plot_lifecycle(d: dict[str, Any]) -> tuple[Any, Any]:
    """Pre-training, RL and inference compute side by side, with the equal-thirds line."""
    fig = figure(8, 5)
    ax = fig.subplots()
    parts = d["compute"]
    names = list(parts)
    ax.bar(names, [parts[k] for k in names], color=_COLORS[: len(names)])
    total = sum(parts.values())
    if total:
        ax.axhline(total / 3, color="#333333", linestyle="--", label="equal thirds")
    for i, k in enumerate(names):
        ax.text(i, parts[k], f"{parts[k]:.2g} FLOPs", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("compute [FLOPs]")
    ax.set_xlabel("stage of the model's life")
    ax.legend(fontsize=8)
    ax.set_title(
        f"{d['params']:.3g} parameters on {d['tokens']:.3g} tokens: "
        f"{d['overtraining_ratio']:.0f}x past Chinchilla",
        fontsize=11,
        weight="bold",
    )
    return fig, ax
