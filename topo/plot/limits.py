"""Physical limits as ``topo limits`` computes them: the largest domain each limit allows.

One bar per limit family (power, cooling, mass, space, cables, reach, bend radius, ports):
the largest scale-up domain that family's checks allow when the rack is refilled tray by
tray, the current domain marked, the binding family highlighted. Families still passing
at the largest domain tried are drawn open-ended ("> N"); switch ports, which a design
fills on purpose, are set apart from the physical limits.
"""

from __future__ import annotations

from typing import Any

from topo.plot._style import BIND_COLOR, BIND_HATCH, OK_COLOR, OPEN_HATCH, REF_COLOR, figure

__all__ = ["plot_limits"]

_BY_DESIGN = ("ports",)  # full by design, not a physical limit


def plot_limits(limits: dict[str, Any]) -> tuple[Any, Any]:
    """Bars of the largest domain [GPUs] each limit allows, from ``DomainLimits.to_dict()``."""
    by = dict(limits["by_limit"])
    open_ended = dict(limits.get("not_binding_up_to") or {})
    physical = [f for f in by if f not in _BY_DESIGN]
    designed = [f for f in by if f in _BY_DESIGN]
    order = physical + designed
    fig = figure(10, 0.5 * max(len(order), 1) + 2.4)
    ax = fig.subplots()
    if not order:
        return _nothing_to_draw(fig, ax, limits)
    y = list(range(len(order)))[::-1]
    current = limits["current_domain_size"]
    binding = set(limits.get("binding_all") or [])
    top = max([current, *by.values()], default=current)
    for yi, fam in zip(y, order, strict=True):
        gpus = by[fam]
        bound = fam in binding
        # Status by colour and hatching: binds first (dotted), holds at every size (striped).
        hatch = BIND_HATCH if bound else (OPEN_HATCH if fam in open_ended else None)
        ax.barh(
            yi,
            gpus,
            color=OK_COLOR if not bound else BIND_COLOR,
            height=0.6,
            hatch=hatch,
            edgecolor="white" if hatch and not bound else ("black" if bound else "none"),
            linewidth=0.8 if bound else 0.0,
        )
        text = (
            f"> {gpus:,} GPUs, holds at every size tried" if fam in open_ended else f"{gpus:,} GPUs"
        )
        if bound:
            text += "   <- binds first"
        ax.text(
            gpus + top * 0.01,
            yi,
            text,
            va="center",
            fontsize=9,
            weight="bold" if bound else "normal",
        )
    # The layout's own domain: a thin reference bar under the limits, and a dashed line.
    ax.barh(-1, current, color=REF_COLOR, height=0.3)
    ax.text(current * 1.04, -1, f"{current:,} GPUs", va="center", fontsize=9)
    ax.axvline(current, color=REF_COLOR, linestyle="--", linewidth=1.2)
    names = [f"{f} (full by design)" if f in _BY_DESIGN else f for f in order]
    ax.set_yticks([*y, -1], [*names, "this layout"], fontsize=9)
    ax.set_ylim(-1.5, len(order) - 0.4)
    ax.set_xscale("log")
    right = top * 8
    ax.set_xlim(1, right)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= right]
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(
        "largest single-rack scale-up domain the limit allows [GPUs] (dashed: this layout)"
    )
    note = limits.get("note")
    ax.set_title(
        f"{limits['layout']}: largest domain {limits['max_domain_size']:,} GPUs, "
        f"bound by {', '.join(sorted(binding)) or 'nothing tried'}",
        fontsize=12,
        weight="bold",
        pad=20 if note else 6,
    )
    _legend(ax)
    if note:  # under the title, in the room its padding leaves
        ax.annotate(
            note,
            (0.0, 1.0),
            xycoords="axes fraction",
            xytext=(0, 5),
            textcoords="offset points",
            fontsize=9,
            va="bottom",
        )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _nothing_to_draw(fig: Any, ax: Any, limits: dict[str, Any]) -> tuple[Any, Any]:
    """No limit grows with the rack (e.g. the domain is one board): the answer in words."""
    binding = ", ".join(limits.get("binding_all") or []) or "nothing tried"
    ax.set_axis_off()
    ax.set_title(
        f"{limits['layout']}: largest domain {limits['max_domain_size']:,} GPUs, "
        f"bound by {binding}",
        fontsize=12,
        weight="bold",
    )
    ax.text(
        0.5,
        0.5,
        f"{limits.get('note') or 'no rack limit applies'}\n"
        f"this layout: {limits['current_domain_size']:,} GPUs",
        ha="center",
        va="center",
        fontsize=11,
        transform=ax.transAxes,
    )
    del fig
    return ax.figure, ax


def _legend(ax: Any) -> None:
    from matplotlib.patches import Patch

    ax.figure.legend(
        handles=[
            Patch(color=OK_COLOR, label="limit"),
            Patch(
                facecolor=BIND_COLOR,
                edgecolor="black",
                hatch=BIND_HATCH,
                linewidth=0.8,
                label="binds first",
            ),
            Patch(
                facecolor=OK_COLOR,
                edgecolor="white",
                hatch=OPEN_HATCH,
                label="holds at every size tried",
            ),
        ],
        loc="outside lower center",
        ncols=3,
        fontsize=9,
        frameon=False,
    )
