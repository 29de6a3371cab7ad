"""Physical limits: each check as a bar of use against its limit, the binding one marked."""

from __future__ import annotations

from typing import Any

from topo.plot._style import BIND_COLOR, FAIL_COLOR, NA_COLOR, OK_COLOR, figure, human

__all__ = ["plot_limits"]

_KINDS = {
    "W": "power",
    "A": "current",
    "kg": "mass",
    "m^3/s": "flow",
    "kg/m^2": "floor_load",
    "m": "length",
}


def _fmt(value: float, unit: str) -> str:
    kind = _KINDS.get(unit)
    return human(value, kind) if kind else f"{value:,.0f} {unit}"


def plot_limits(checks: dict[str, Any]) -> tuple[Any, Any]:
    """Bars of value / limit for every check of ``check_limits(...).to_dict()``."""
    fig = figure(10, 0.42 * len(checks["checks"]) + 1.6)
    ax = fig.subplots()
    rows = checks["checks"]
    y = list(range(len(rows)))[::-1]
    for yi, c in zip(y, rows, strict=True):
        if c["ok"] is None:
            ax.barh(yi, 100, color="none", edgecolor=NA_COLOR, hatch="//", height=0.6)
            note = c["note"].split(" (")[0]
            ax.text(2, yi, note, va="center", fontsize=8, color="#666666")
            continue
        share = c["value"] / c["limit"] * 100 if c["limit"] else 0.0
        binding = c["name"] == checks["binding"]
        color = FAIL_COLOR if not c["ok"] else OK_COLOR
        ax.barh(
            yi,
            share,
            color=color,
            height=0.6,
            edgecolor=BIND_COLOR if binding else "none",
            linewidth=2.5 if binding else 0,
        )
        label = f"{_fmt(c['value'], c['unit'])} of {_fmt(c['limit'], c['unit'])}"
        if binding:
            label += "   <- binds first"
        ax.text(
            share + 1.5, yi, label, va="center", fontsize=8, weight="bold" if binding else "normal"
        )
    ax.axvline(100, color="#333333", linestyle="--", linewidth=1)
    ax.set_yticks(y, [c["name"] for c in rows], fontsize=8)
    top = max(
        [100.0]
        + [c["value"] / c["limit"] * 100 for c in rows if c["ok"] is not None and c["limit"]]
    )
    ax.set_xlim(0, top * 1.5)
    ax.set_xlabel("use of the limit [%] (dashed: the limit)")
    verdict = "every checked limit holds" if checks["ok"] else "some limits fail"
    ax.set_title(f"{checks['layout']}: physical limits, {verdict}", fontsize=12, weight="bold")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=OK_COLOR, label="holds"),
            Patch(color=FAIL_COLOR, label="fails"),
            Patch(
                facecolor="white", edgecolor=BIND_COLOR, linewidth=2, label="binding (least margin)"
            ),
            Patch(
                facecolor="white",
                edgecolor=NA_COLOR,
                hatch="//",
                label="not checked / not applicable",
            ),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.09),
        ncols=4,
        fontsize=8,
        frameon=False,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax
