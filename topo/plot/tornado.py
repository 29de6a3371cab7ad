"""What moves the largest scale-up domain: a tornado chart of ``topo limits --vary``.

For each input (a rack budget, the tray's power, the rack's height, the cable medium,
...) the layout is changed to a low and a high value of that input alone
(:func:`topo.physical.apply_vary`, as ``topo limits --vary key=value`` does) and the
largest single-rack scale-up domain is worked out again
(:func:`topo.physical.largest_domain`). Each input is one row of two bars from the
layout's own largest domain (the vertical line): the upper bar to the domain at the low
value, the lower bar to the domain at the high value, each end labelled with the input's
value, the domain size [GPUs] and the limit that binds there. Rows are sorted by swing,
the span the two ends and the base cover, widest on top.

Without inputs given, the defaults come from the layout: every budget it states
(rack power, busbar current, liquid and air cooling, coolant flow, frame mass, floor
rating, rear clearance) halved and doubled, the compute tray's power and the rack's height
at 3/4 and 5/4, the power shelves halved and doubled, and the cable swapped for the two
other media.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from topo.physical import VARY_KEYS, DomainLimits, apply_vary, largest_domain
from topo.plot._style import REF_COLOR, SERIES_COLORS, figure
from topo.units import format_quantity

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from topo.layout import Layout

__all__ = ["Swing", "Tornado", "default_vary", "tornado", "tornado_figure"]

LOW_COLOR, HIGH_COLOR = SERIES_COLORS[3], SERIES_COLORS[0]
MEDIA = ("copper", "active_copper", "optical")
BUDGET_FACTORS = (0.5, 2.0)
"""Low and high values of each budget the layout states, as multiples of its own [1]."""
DESIGN_FACTORS = (0.75, 1.25)
"""Low and high compute-tray power and rack height, as multiples of the layout's [1]."""


@dataclass(frozen=True, slots=True)
class Swing:
    """One input of the tornado: its low and high values and the domain at each.

    `key`: a :data:`topo.physical.VARY_KEYS` key; `low`, `high`: the values as
    ``--vary`` takes them (``"66 kW"``, ``"optical"``); `at_low`, `at_high`: the
    :func:`~topo.physical.largest_domain` of the layout with that one input changed.
    """

    key: str
    low: str
    high: str
    at_low: DomainLimits
    at_high: DomainLimits

    def swing_gpus(self, base: int) -> int:
        """The span the two ends and the base domain cover [GPUs]."""
        ends = (self.at_low.max_domain_size, self.at_high.max_domain_size, base)
        return max(ends) - min(ends)


@dataclass(frozen=True, slots=True)
class Tornado:
    """The layout's own largest domain and each input's swing, widest first.

    `base`: :func:`~topo.physical.largest_domain` of the layout as it is; `rows`: one
    :class:`Swing` per input, widest swing first (ties in the order given); `defaults`:
    whether the inputs are :func:`default_vary`'s.
    """

    layout: str
    base: DomainLimits
    rows: tuple[Swing, ...]
    defaults: bool


def _q(value: float, kind: str) -> str:
    return format_quantity(value, kind, digits=3)


def default_vary(layout: Layout) -> tuple[tuple[str, str, str], ...]:
    """Sensible ``(key, low, high)`` inputs for `layout`: only what the layout states.

    Budgets halved and doubled (:data:`BUDGET_FACTORS`), tray power and rack height at
    :data:`DESIGN_FACTORS`, power shelves halved and doubled, the cable swapped for the
    two other media (when the scale-up medium is a cable).
    """
    rack = layout.rack
    lo, hi = BUDGET_FACTORS
    out: list[tuple[str, str, str]] = []
    budgets: list[tuple[str, float | None]] = [
        ("power_budget", rack.power_budget_w),
        ("busbar_current", rack.busbar.current_a),
        ("liquid", rack.cooling.liquid_w),
        ("liquid_flow", rack.cooling.liquid_flow_m3_per_s),
        ("air", rack.cooling.air_w),
        ("max_mass", rack.max_mass_kg),
        ("floor_rating", layout.cluster.floor_rating_kg_per_m2),
    ]
    for key, value in budgets:
        if value:
            kind = VARY_KEYS[key]
            out.append((key, _q(value * lo, kind), _q(value * hi, kind)))
    dlo, dhi = DESIGN_FACTORS
    tray = next((d for d in rack.devices if d.kind == "compute_tray"), None)
    if tray is not None and tray.power_w:
        out.append(("tray_power", _q(tray.power_w * dlo, "power"), _q(tray.power_w * dhi, "power")))
    out.append(("height_u", str(round(rack.height_u * dlo)), str(round(rack.height_u * dhi))))
    shelves = sum(d.count for d in rack.devices if d.kind == "power_shelf")
    if shelves:
        out.append(("power_shelves", str(max(1, shelves // 2)), str(shelves * 2)))
    if layout.scale_up.medium in MEDIA:
        others = [m for m in MEDIA if m != layout.scale_up.medium]
        out.append(("cable", others[0], others[1]))
    out.append(
        (
            "rear_clearance",
            _q(rack.rear_clearance_m * lo, "length"),
            _q(rack.rear_clearance_m * hi, "length"),
        )
    )
    return tuple(out)


def tornado(layout: Layout, vary: Sequence[tuple[str, str, str]] | None = None) -> Tornado:
    """The largest domain with each input of `vary` at its low and high value.

    `vary`: ``(key, low, high)`` with values as ``topo limits --vary`` takes them; None:
    :func:`default_vary`. Raises :class:`~topo.errors.TopoError` for an unknown key or
    a value that does not parse (as ``--vary`` does).
    """
    given = tuple(vary) if vary is not None else default_vary(layout)
    base = largest_domain(layout)
    rows = [
        Swing(
            key,
            low,
            high,
            largest_domain(apply_vary(layout, key, low)),
            largest_domain(apply_vary(layout, key, high)),
        )
        for key, low, high in given
    ]
    size = base.max_domain_size
    rows.sort(key=lambda r: -r.swing_gpus(size))
    return Tornado(layout.name, base, tuple(rows), vary is None)


def _bound(d: DomainLimits) -> str:
    """The limit that binds at `d`, as the figure names it."""
    if not d.binding_all:
        return "none binds"
    return " and ".join(d.binding_all)


def _size(d: DomainLimits) -> str:
    """The domain [GPUs]; "+" where no limit bound up to the largest tried."""
    plus = "+" if d.binding is None else ""
    return f"{d.max_domain_size:,}{plus} GPUs"


def _fit(fig: Figure, ax: Axes, texts: list[Any], lo: float, hi: float) -> None:
    """Widen the x limits until every bar-end label lies inside the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    span = max(hi - lo, 1.0)
    left, right = lo - 0.05 * span, hi + 0.05 * span
    ax.set_xlim(left, right)
    canvas: Any = FigureCanvasAgg(fig)
    for _ in range(4):
        canvas.draw()
        renderer = canvas.get_renderer()
        inv = ax.transData.inverted()
        need_l, need_r = left, right
        for t in texts:
            bb = t.get_window_extent(renderer)
            x0 = inv.transform((bb.x0, bb.y0))[0]
            x1 = inv.transform((bb.x1, bb.y0))[0]
            need_l, need_r = min(need_l, x0), max(need_r, x1)
        if need_l >= left and need_r <= right:
            break
        pad = 0.02 * (need_r - need_l)
        left, right = min(left, need_l - pad), max(right, need_r + pad)
        ax.set_xlim(left, right)


def tornado_figure(layout: Layout, vary: Sequence[tuple[str, str, str]] | None = None) -> Figure:
    """A tornado chart of the largest scale-up domain [GPUs] as each input swings.

    `vary`: ``(key, low, high)`` per input, values as ``topo limits --vary`` takes them
    (``("power_budget", "66 kW", "264 kW")``); None: :func:`default_vary` of the layout.
    """
    t = tornado(layout, vary)
    base = t.base.max_domain_size
    n = len(t.rows)
    width = 11.0
    fig: Figure = figure(width, 1.9 + 0.62 * max(n, 1))
    ax = fig.subplots()
    texts, ends = _bars(ax, t)
    ax.axvline(base, color=REF_COLOR, linewidth=1.2, linestyle="--")
    texts.append(
        ax.annotate(
            f"this layout: {_size(t.base)}, {_bound(t.base)}",
            (base, n - 0.45),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=9,
        )
    )
    ax.set_ylim(-0.7, n + 0.05)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=9)
    _fit(fig, ax, texts, 0.0, float(max(ends)))
    _ticks(ax)
    ax.set_xlabel("largest single-rack scale-up domain [GPUs] (dashed: this layout)", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    _legend(fig)
    fig.suptitle(
        f"{layout.name}: what moves the largest scale-up domain", fontsize=12, weight="bold"
    )
    sub = _subtitle(t)
    ax.set_title("\n".join(textwrap.wrap(sub, int(width * 13))), fontsize=9, loc="left")
    return fig


def _bars(ax: Axes, t: Tornado) -> tuple[list[Any], list[int]]:
    """Each row's low and high bars from the base, labelled; returns the labels and bar ends."""
    base = t.base.max_domain_size
    n = len(t.rows)
    texts: list[Any] = []
    ends = [base]
    for i, row in enumerate(t.rows):
        y = n - 1 - i
        for half, (value, d, color, dy) in enumerate(
            (
                (row.low, row.at_low, LOW_COLOR, 0.2),
                (row.high, row.at_high, HIGH_COLOR, -0.2),
            )
        ):
            end = d.max_domain_size
            ends.append(end)
            ax.barh(
                y + dy,
                abs(end - base),
                0.36,
                left=min(end, base),
                color=color,
                gid=f"{row.key}:{'low' if half == 0 else 'high'}",
            )
            right = end >= base
            label = f"{row.key} = {value}: {_size(d)}, {_bound(d)}"
            if end == base:
                label += " (no change)"
            texts.append(
                ax.annotate(
                    label,
                    (end, y + dy),
                    xytext=(4 if right else -4, 0),
                    textcoords="offset points",
                    ha="left" if right else "right",
                    va="center",
                    fontsize=9,
                )
            )
    return texts, ends


def _subtitle(t: Tornado) -> str:
    """The subtitle: how the inputs were varied, limits that bind together, the layout's note."""
    how = (
        "the layout's budgets halved and doubled, tray power and rack height at 3/4 and 5/4, "
        "power shelves halved and doubled, the cable swapped"
        if t.defaults
        else "each input at the two values given"
    )
    sub = f"One input changed at a time ({how}); the rest as the layout has them."
    if len(t.base.binding_all) > 1:
        sub += (
            f" {' and '.join(t.base.binding_all).capitalize()} bind together: relaxing one "
            "alone does not grow the domain."
        )
    if t.base.note:
        sub += f" Note: {t.base.note}."
    return sub


def _ticks(ax: Axes) -> None:
    """Whole GPU counts from zero up (labels may need room left of zero: no ticks there)."""
    from matplotlib.ticker import MaxNLocator

    left, right = ax.get_xlim()
    ticks = [float(v) for v in MaxNLocator(nbins=8, integer=True).tick_values(left, right)]
    ticks = [v for v in ticks if 0 <= v <= right]
    ax.set_xticks(ticks, [f"{v:,.0f}" for v in ticks])


def _legend(fig: Figure) -> None:
    from matplotlib.patches import Patch

    fig.legend(
        handles=[
            Patch(color=LOW_COLOR, label="input at its low value (upper bar)"),
            Patch(color=HIGH_COLOR, label="input at its high value (lower bar)"),
        ],
        loc="outside lower center",
        ncols=2,
        fontsize=9,
        frameon=False,
    )
