"""Rack elevation: the trays at their rack units, and power, cooling and mass against limits."""

from __future__ import annotations

from typing import Any

from topo.layout import Layout
from topo.plot._style import DEVICE_COLORS, FAIL_COLOR, NA_COLOR, OK_COLOR, figure, human

__all__ = ["plot_elevation"]

_BUDGETS = (
    "power vs rack budget",
    "cooling: liquid heat",
    "cooling: air heat",
    "cooling: coolant flow",
    "mass vs frame rating",
    "mass: floor load",
)
_KINDS = {"W": "power", "kg": "mass", "m^3/s": "flow", "kg/m^2": "floor_load"}


def _groups(layout: Layout) -> list[dict[str, Any]]:
    """Consecutive devices of the elevation, top to bottom, with their lowest U."""
    top = float(layout.rack.height_u)
    out = []
    for d in layout.rack.devices:
        height = d.count * d.height_u
        out.append({"device": d, "bottom": top - height + 1, "height": height})
        top -= height
    return out


def plot_elevation(layout: Layout, checks: dict[str, Any]) -> tuple[Any, Any]:
    """The rack's front and, beside it, its budgets' use (from :func:`check_limits`).

    Parameters
    ----------
    layout
        The layout whose rack is drawn (all racks of a layout are alike).
    checks
        ``check_limits(layout).to_dict()``.
    """
    fig = figure(11, 7.5)
    ax, bx = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
    rack = layout.rack
    H = rack.height_u
    ax.add_patch(_rect(0, 0.5, 1, H, "white", "#333333", 1.5))
    seen: set[str] = set()
    for g in _groups(layout):
        d = g["device"]
        color = DEVICE_COLORS.get(d.kind, DEVICE_COLORS["other"])
        for i in range(d.count):
            y = g["bottom"] + g["height"] - (i + 1) * d.height_u - 0.5
            label = d.kind.replace("_", " ") if d.kind not in seen else None
            seen.add(d.kind)
            ax.add_patch(
                _rect(0.05, y + 0.06, 0.9, d.height_u - 0.12, color, "white", 0.5, label=label)
            )
        text = d.name + (f" x{d.count}" if d.count > 1 else "")
        if d.gpus:
            text += f"  ({d.gpus} GPUs each)"
        if d.power_w:
            text += f", {human(d.power_w, 'power')}"
        ax.text(1.05, g["bottom"] + g["height"] / 2 - 0.5, text, va="center", fontsize=8)
    used = sum(g["height"] for g in _groups(layout))
    if used < H:
        ax.text(
            0.5,
            (H - used) / 2 + 0.5,
            f"{H - used:g} U free",
            ha="center",
            va="center",
            fontsize=8,
            color="#777777",
        )
    ax.set_xlim(-0.05, 2.6)
    ax.set_ylim(min(0.0, H - used) - 0.5, H + 1.5)
    ax.set_yticks([u for u in range(1, H + 1) if u % 4 == 0 or u == 1])
    ax.set_ylabel("rack unit [U], U1 at the bottom")
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    racks = layout.cluster.racks
    ax.set_title(
        f"Front of one rack ({rack.gpus} GPUs, {H} U)"
        + (f"; {racks} racks alike" if racks > 1 else ""),
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=7, frameon=False, bbox_to_anchor=(1.0, 0.06), ncols=2)
    _budget_bars(bx, checks)
    fig.suptitle(f"{layout.name}: rack elevation and budgets", fontsize=12, weight="bold")
    return fig, ax


def _rect(
    x: float,
    y: float,
    w: float,
    h: float,
    face: str,
    edge: str,
    lw: float,
    label: str | None = None,
) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor=face, edgecolor=edge, linewidth=lw, label=label)


def _budget_bars(ax: Any, checks: dict[str, Any]) -> None:
    rows = [c for c in checks["checks"] if c["name"] in _BUDGETS]
    names, shares, colors, notes = [], [], [], []
    for c in rows:
        names.append(c["name"].replace("vs ", "vs\n").replace(": ", ":\n"))
        if c["ok"] is None:
            shares.append(0.0)
            colors.append(NA_COLOR)
            notes.append("not checked: no data" if "not checked" in c["note"] else "not applicable")
            continue
        share = c["value"] / c["limit"] * 100
        shares.append(share)
        colors.append(OK_COLOR if c["ok"] else FAIL_COLOR)
        kind = _KINDS.get(c["unit"], "power")
        notes.append(f"{human(c['value'], kind)} of {human(c['limit'], kind)}")
    y = list(range(len(rows)))[::-1]
    ax.barh(y, shares, color=colors, height=0.6)
    for yi, s, note in zip(y, shares, notes, strict=True):
        ax.text(max(s, 0) + 2, yi, note, va="center", fontsize=8)
    ax.axvline(100, color="#333333", linewidth=1, linestyle="--")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, max([*shares, 100]) * 1.45)
    ax.set_xlabel("use of the rack's limit [%] (dashed line: the limit)")
    ax.set_title("Power, cooling and mass against the rack's limits", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
