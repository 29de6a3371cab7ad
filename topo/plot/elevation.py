"""Rack elevation: the trays at their rack units, and power, cooling and mass against limits."""

from __future__ import annotations

from typing import Any

from topo.layout import Layout
from topo.plot._style import (
    DEVICE_COLORS,
    FAIL_COLOR,
    NA_COLOR,
    OK_COLOR,
    REF_COLOR,
    figure,
    human,
)
from topo.plot._vector import hover

__all__ = ["plot_elevation"]

# Units of the checks' values: the kind topo.units formats them as, or a plain count.
_KINDS = {
    "W": "power",
    "kg": "mass",
    "m^3/s": "flow",
    "kg/m^2": "floor_load",
    "A": "current",
    "m": "length",
}
_DESIGN = ("ports",)  # families full by design (a switch's ports), not physical limits


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
    fig = figure(12, 7.5)
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
            patch = _rect(0.05, y + 0.06, 0.9, d.height_u - 0.12, color, "white", 0.5, label=label)
            ax.add_patch(patch)
            hover(patch, _device_text(d, i, y + 0.5))
        text = d.name + (f" x{d.count}" if d.count > 1 else "")
        if d.gpus:
            text += f"  ({d.gpus} GPUs each)"
        if d.power_w:
            text += f", {human(d.power_w, 'power')}"
        ax.text(1.05, g["bottom"] + g["height"] / 2 - 0.5, text, va="center", fontsize=9)
    used = sum(g["height"] for g in _groups(layout))
    if used < H:
        ax.text(
            0.5,
            (H - used) / 2 + 0.5,
            f"{H - used:g} U free",
            ha="center",
            va="center",
            fontsize=9,
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
        + (f"; {racks:,} racks alike" if racks > 1 else ""),
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=9, frameon=False, bbox_to_anchor=(1.02, 0.0), ncols=1)
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


def _device_text(d: Any, i: int, bottom_u: float) -> str:
    """A device's hover text: name, kind, power [kW], mass [kg], height [U]."""
    parts = [
        f"{d.name} ({d.kind.replace('_', ' ')}"
        + (f", {i + 1} of {d.count}" if d.count > 1 else "")
        + f") at U{bottom_u:g}",
        "power " + (f"{d.power_w / 1e3:.3g} kW" if d.power_w else "not given"),
        "mass " + (f"{d.mass_kg:.3g} kg" if d.mass_kg else "not given"),
        f"height {d.height_u:g} U",
    ]
    if d.gpus:
        parts.append(f"{d.gpus} GPUs")
    if d.capacity_w:
        parts.append(f"capacity {d.capacity_w / 1e3:.3g} kW")
    return "; ".join(parts)


def _amount(value: float, unit: str) -> str:
    """A check's value for the figure: "1,200 kg/m²" (the CLI writes "1200 kg/m^2")."""
    kind = _KINDS.get(unit)
    if kind is None:
        return f"{value:g} U" if unit == "U" else f"{value:,.0f} {unit}".strip()
    number, _, symbol = human(value, kind).partition(" ")
    if number.lstrip("-").isdigit():  # a whole number: its thousands separated
        number = f"{int(number):,}"
    return f"{number} {symbol.replace('^2', '²').replace('^3', '³')}"


def _left(margin: float) -> str:
    """What a margin leaves, to the nearest per cent; a tenth of one under 1%.

    40.8 kW of 41 kW used leaves "0.5% left", not "0% left".
    """
    share = margin * 100
    return f"{share:.1f}% left" if 0 < share < 0.95 else f"{share:.0f}% left"


def _rows(checks: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Checks with a margin (tightest first), those full by design, and the unchecked."""
    from topo.physical import CHECKS

    families = [c.family for c in CHECKS] if len(CHECKS) == len(checks["checks"]) else [""] * 99
    limits, design, unchecked = [], [], []
    for c, fam in zip(checks["checks"], families, strict=False):
        if c["ok"] is None or c["value"] is None or not c["limit"]:
            unchecked.append(c)
        elif fam in _DESIGN or (not fam and "ports" in c["name"]):
            design.append(c)
        else:
            limits.append(c)
    limits.sort(key=lambda c: (c["margin"], c["name"]))
    return limits, design, unchecked


def _budget_bars(ax: Any, checks: dict[str, Any]) -> None:
    """Every check as its share of the limit, tightest first, then the rest.

    Design fullness (switch ports) is kept apart from the physical limits; the checks
    that could not be made follow, each with why.
    """
    limits, design, unchecked = _rows(checks)
    rows: list[tuple[str, dict[str, Any] | None]] = [(c["name"], c) for c in limits]
    if design:
        rows.append(("full by design (not a physical limit)", None))
        rows += [(c["name"], c) for c in design]
    if unchecked:
        rows.append(("not checked or not applicable", None))
        rows += [(c["name"], c) for c in unchecked]
    n = len(rows)
    shares = [c["value"] / c["limit"] * 100 for c in limits + design]
    right = max([*shares, 100.0])
    text_x = right + 3
    ax.set_xlim(0, right * 2.05)
    names, ys, bars = [], [], []
    for k, (name, c) in enumerate(rows):
        y = n - 1 - k
        if c is None:
            ax.text(0, y, name, fontsize=9, weight="bold", va="center", ha="left", color="#444444")
            continue
        names.append(name)
        ys.append(y)
        if c in unchecked:
            note = c["note"]
            ax.text(
                2,
                y,
                note if len(note) < 60 else note[:57] + "...",
                fontsize=9,
                va="center",
                color="#666666",
            )
            continue
        share = c["value"] / c["limit"] * 100
        color = OK_COLOR if c["ok"] else FAIL_COLOR
        if c in design:
            color = NA_COLOR
        bar = ax.barh([y], [share], color=color, height=0.62)[0]
        bars.append(y)
        left = "full" if c in design and c["margin"] == 0 else _left(c["margin"])
        note = f"{_amount(c['value'], c['unit'])} of {_amount(c['limit'], c['unit'])}, {left}"
        ax.text(text_x, y, note, va="center", fontsize=9)
        hover(bar, f"{c['name']}: {note}; {c['note']}")
    for y in bars:  # the limit, beside each bar only (not through the section titles)
        ax.plot([100, 100], [y - 0.5, y + 0.5], color=REF_COLOR, linewidth=1, linestyle="--")
    ax.set_yticks(ys, names, fontsize=9)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xticks([t for t in (0, 25, 50, 75, 100) if t <= right * 2])
    ax.set_xlabel("use of the rack's limit [%] (dashed line: the limit)")
    ax.set_title("Every physical check, tightest first", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
