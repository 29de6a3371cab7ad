"""Checks every figure test can run on a drawn matplotlib figure (no pyplot).

- :func:`text_overlaps`: pairs of visible texts whose boxes overlap at the saved size.
- :func:`clipped_texts`: visible texts that run off the figure's canvas.
- :func:`thin_axes`: visible axes with fewer than three labelled ticks in view.
- :func:`all_text`: every visible string (titles, subtitles, labels), to look for the plan.
"""

from __future__ import annotations

from typing import Any


def _drawn(fig: Any) -> Any:
    """The figure's renderer after a full draw (Agg, headless)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _hidden_ticks(fig: Any) -> set[int]:
    """Tick labels outside the view, or of an axis not drawn (axes turned off): matplotlib
    keeps them placed but does not draw them."""
    hidden = set()
    for ax in fig.get_axes():
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lim), max(lim)
            span = (hi - lo) * 1e-9
            drawn = ax.axison and axis.get_visible()
            for minor in (False, True):
                locs = axis.get_ticklocs(minor=minor)
                for t, loc in zip(axis.get_ticklabels(minor=minor), locs, strict=False):
                    if not drawn or not lo - span <= loc <= hi + span:
                        hidden.add(id(t))
    return hidden


def _texts(fig: Any) -> list[Any]:
    from matplotlib.text import Text

    hidden = _hidden_ticks(fig)
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in hidden:
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append(t)
    return out


def all_text(fig: Any) -> str:
    """Every visible string in the figure, joined by newlines."""
    _drawn(fig)
    return "\n".join(t.get_text() for t in _texts(fig))


def text_overlaps(fig: Any, *, tolerance_px: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of visible texts (as strings) whose bounding boxes overlap by more than
    `tolerance_px` in both directions, at the figure's own size and dpi."""
    renderer = _drawn(fig)
    boxes = []
    for t in _texts(fig):
        bb = t.get_window_extent(renderer)
        if bb.width <= 0 or bb.height <= 0:
            continue
        boxes.append((t.get_text(), bb))
    hits = []
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1 :]:
            dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if dx > tolerance_px and dy > tolerance_px:
                hits.append((a, b))
    return hits


def clipped_texts(fig: Any, *, tolerance_px: float = 1.0) -> list[str]:
    """Visible texts whose boxes leave the figure's canvas by more than `tolerance_px`
    (a title wider than the figure loses its ends when saved)."""
    renderer = _drawn(fig)
    w, h = fig.canvas.get_width_height()
    out = []
    for t in _texts(fig):
        bb = t.get_window_extent(renderer)
        if bb.width <= 0 or bb.height <= 0:
            continue
        if (
            bb.x0 < -tolerance_px
            or bb.y0 < -tolerance_px
            or bb.x1 > w + tolerance_px
            or bb.y1 > h + tolerance_px
        ):
            out.append(t.get_text())
    return out


def thin_axes(fig: Any, *, least: int = 3) -> list[str]:
    """Visible x or y axes (of axes that draw their frame) with fewer than `least`
    non-empty tick labels inside the view limits; each named "title: x" or "title: y"."""
    _drawn(fig)
    thin = []
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.axison:
            continue
        for name, axis, lim in (
            ("x", ax.xaxis, ax.get_xlim()),
            ("y", ax.yaxis, ax.get_ylim()),
        ):
            if not axis.get_visible():
                continue
            lo, hi = min(lim), max(lim)
            labels = {
                t.get_text()
                for minor in (False, True)
                for t, loc in zip(
                    axis.get_ticklabels(minor=minor), axis.get_ticklocs(minor=minor), strict=False
                )
                if t.get_visible() and t.get_text().strip() and lo <= loc <= hi
            }
            if len(axis.get_ticklocs()) and len(labels) < least:
                thin.append(f"{ax.get_title() or ax.get_label()}: {name}")
    return thin
