"""Physical limits as ``topo limits`` computes them: the largest domain each limit allows.

One bar per limit family (power, cooling, mass, space, cables, reach, bend radius, ports):
the largest scale-up domain that family's checks allow when the rack is refilled tray by
tray, the current domain marked, the binding family highlighted. Families still passing
at the largest domain tried are drawn open-ended ("> N"); switch ports, which a design
fills on purpose, are set apart from the physical limits.
"""

from __future__ import annotations

from typing import Any

from topo.plot._style import BIND_COLOR, OK_COLOR, figure

__all__ = ["plot_limits"]

_BY_DESIGN = ("ports",)  # full by design, not a physical limit


def plot_limits(limits: dict[str, Any]) -> tuple[Any, Any]:
    """Bars of the largest domain [GPUs] each limit allows, from ``DomainLimits.to_dict()``."""
    by = dict(limits["by_limit"])
    open_ended = dict(limits.get("not_binding_up_to") or {})
    physical = [f for f in by if f not in _BY_DESIGN]
    designed = [f for f in by if f in _BY_DESIGN]
    order = physical + designed
    fig = figure(10, 0.5 * max(len(order), 1) + 2.0)
    ax = fig.subplots()
    y = list(range(len(order)))[::-1]
    current = limits["current_domain_size"]
    binding = set(limits.get("binding_all") or [])
    top = max([current, *by.values()], default=current)
    for yi, fam in zip(y, order, strict=True):
        gpus = by[fam]
        bound = fam in binding
        hatch = "//" if fam in open_ended or fam in _BY_DESIGN else None
        ax.barh(
            yi,
            gpus,
            color=OK_COLOR if not bound else BIND_COLOR,
            height=0.6,
            hatch=hatch,
            edgecolor="white" if hatch else "none",
        )
        text = (
            f"> {gpus:,} GPUs (holds at every size tried)"
            if fam in open_ended
            else f"{gpus:,} GPUs"
        )
        if bound:
            text += "   <- binds first"
        if fam in _BY_DESIGN:
            text += "   (full by design)"
        ax.text(
            gpus + top * 0.01,
            yi,
            text,
            va="center",
            fontsize=9,
            weight="bold" if bound else "normal",
        )
    ax.axvline(current, color="#333333", linestyle="--", linewidth=1.2)
    ax.text(current, -0.75, f" this layout: {current:,}", fontsize=9, va="center")
    ax.set_yticks(y, order, fontsize=9)
    ax.set_ylim(-1.1, len(order) - 0.4)
    ax.set_xscale("log")
    right = top * 8
    ax.set_xlim(1, right)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= right]
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(
        "largest single-rack scale-up domain the limit allows [GPUs] (dashed: this layout)"
    )
    ax.set_title(
        f"{limits['layout']}: largest domain {limits['max_domain_size']:,} GPUs, "
        f"bound by {', '.join(sorted(binding)) or 'nothing tried'}",
        fontsize=12,
        weight="bold",
    )
    _legend(ax)
    if limits.get("note"):
        fig.text(0.01, 0.01, limits["note"], fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _legend(ax: Any) -> None:
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=OK_COLOR, label="limit"),
            Patch(color=BIND_COLOR, label="binds first"),
            Patch(
                facecolor=OK_COLOR, edgecolor="white", hatch="//", label="holds at every size tried"
            ),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=3,
        fontsize=8,
        frameon=False,
    )
