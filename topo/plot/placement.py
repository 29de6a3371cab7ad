"""Where a plan's ranks land: every GPU of the layout, rack by rack, tray by tray.

Each rack is a block of small squares, one per GPU: a row per compute tray (top of the
rack first, a gap where switch trays or another scale-up domain sit between trays), a
column per GPU of the tray. A GPU the plan uses is coloured by its tensor-parallel group
(or by its expert-parallel block when ``ep > tp``, the GPUs that share one copy of the
experts); its pipeline stage is drawn as hatching; GPUs the plan leaves idle are grey.
Brackets beside each rack mark the data-parallel replicas (one copy of the whole model:
``max(tp, ep) x pp`` GPUs), labelled ``r0``, ``r1``, ... where there is room. The
placement is :func:`topo.place.place`'s, with the scenario's strategy; the groups, stages
and replicas are read from its ``groups``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from topo.build import gpu_nodes
from topo.place import Placement, Plan, place
from topo.plot._style import NA_COLOR, figure, scenario_subtitle

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from topo.scenario import Scenario

__all__ = [
    "GROUP_COLORS",
    "IDLE_COLOR",
    "STAGE_HATCHES",
    "GpuCell",
    "placement_cells",
    "placement_figure",
]

GROUP_COLORS = (
    "#77AADD",
    "#EE8866",
    "#EEDD88",
    "#FFAABB",
    "#99DDFF",
    "#44BB99",
    "#BBCC33",
    "#AAAA00",
)
"""Colours of the TP groups (EP blocks) in placement order, repeating (Paul Tol's light set,
its grey left for idle GPUs)."""
IDLE_COLOR = NA_COLOR
"""GPUs the plan leaves idle."""
STAGE_HATCHES = ("", "////", "\\\\\\\\", "xxxx", "....", "||||", "----", "++++")
"""Hatching of pipeline stages 0, 1, 2, ... (repeating)."""
_EDGE = "#333333"
_GAP = 0.5  # rows of space where the tray order jumps (switch trays, another domain)
_MARGIN = 2.6  # columns left of each rack for the replica brackets and labels
_BETWEEN = 1.0  # columns between racks


@dataclass(frozen=True, slots=True)
class GpuCell:
    """One GPU as the figure draws it.

    `gpu`: the graph's node; `rack`; `row`, `col`: its place in the rack's block [rows
    from the top, columns from the left]; `group`: its TP group (EP block when ep > tp)
    in placement order, None if idle; `stage`: its pipeline stage; `replica`: its
    data-parallel replica (None if idle).
    """

    gpu: str
    rack: int
    row: float
    col: int
    group: int | None
    stage: int | None
    replica: int | None


def _grid(G: nx.Graph) -> dict[str, tuple[int, float, int]]:
    """Each GPU's (rack, row, column): trays top first, a gap where the order jumps."""
    nodes = G.nodes
    by_rack: dict[int, list[str]] = {}
    for g in gpu_nodes(G):
        by_rack.setdefault(int(nodes[g]["rack"]), []).append(g)
    out: dict[str, tuple[int, float, int]] = {}
    for rack, gpus in by_rack.items():
        trays: dict[int, list[str]] = {}
        for g in gpus:
            trays.setdefault(int(nodes[g]["tray"]), []).append(g)
        order = sorted(trays, key=lambda t: (-float(nodes[trays[t][0]]["u"]), t))
        row = 0.0
        prev: tuple[int, Any] | None = None
        for t in order:
            dom = nodes[trays[t][0]]["domain"]
            if prev is not None and (t != prev[0] + 1 or dom != prev[1]):
                row += _GAP
            for col, g in enumerate(sorted(trays[t], key=lambda g: int(nodes[g]["index"]))):
                out[g] = (rack, row, col)
            row += 1.0
            prev = (t, dom)
    return out


def _colour_kind(plan: Plan) -> str:
    return "ep" if plan.ep > plan.tp else "tp"


def placement_cells(G: nx.Graph, placement: Placement) -> list[GpuCell]:
    """Every GPU of the graph with its place in the figure and its groups.

    Groups, stages and replicas come from ``placement.groups``: a GPU's group is the
    index of its TP group (EP block when ep > tp); its stage its position in its PP
    group; its replica its position in its DP group over the data-parallel ranks that
    share one EP block (``plan.dp_in_ep``).
    """
    plan = placement.plan
    group: dict[str, int] = {}
    for i, members in enumerate(placement.groups[_colour_kind(plan)]):
        for g in members:
            group[g] = i
    stage: dict[str, int] = {}
    for members in placement.groups["pp"]:
        for j, g in enumerate(members):
            stage[g] = j
    replica: dict[str, int] = {}
    for members in placement.groups["dp"]:
        for j, g in enumerate(members):
            replica[g] = j // plan.dp_in_ep
    return [
        GpuCell(g, rack, row, col, group.get(g), stage.get(g), replica.get(g))
        for g, (rack, row, col) in _grid(G).items()
    ]


def _per_row(racks: int, racks_per_row: int, block_w: float) -> int:
    """How many racks stand side by side in the figure.

    The layout's row, at most what 64 columns hold, preferring a count that divides the
    racks evenly (8 racks as 4 + 4 rather than 5 + 3).
    """
    cap = max(1, min(racks_per_row, racks, int(64 // block_w)))
    even = [d for d in range(cap, 0, -1) if racks % d == 0 and 2 * d >= cap]
    return even[0] if even else cap


def _blocks(
    cells: list[GpuCell], racks_per_row: int, head: float
) -> tuple[dict[int, tuple[float, float]], float, float]:
    """Each rack's block origin (x, y of its top-left cell) and the grid's size [cells].

    `head`: rows above each block for the rack's name.
    """
    racks = sorted({c.rack for c in cells})
    cols = max(c.col for c in cells) + 1
    rows = max(c.row for c in cells) + 1
    block_w = _MARGIN + cols + _BETWEEN
    per_row = _per_row(len(racks), racks_per_row, block_w)
    block_h = head + rows + 0.6
    origin = {
        r: ((i % per_row) * block_w + _MARGIN, (i // per_row) * block_h + head)
        for i, r in enumerate(racks)
    }
    grid_w = per_row * block_w - _BETWEEN
    grid_h = ((len(racks) + per_row - 1) // per_row) * block_h
    return origin, grid_w, grid_h


def _legible(cells: list[GpuCell], racks_per_row: int) -> list[GpuCell]:
    """The cells of the first racks that keep each GPU's square legible.

    At least :data:`_MIN_CELL_IN` tall, one figure row of racks at the least: all of them
    on the bundled layouts; on 131,072 GPUs every square would be a speck.
    """
    origin, _, grid_h = _blocks(cells, racks_per_row, _HEAD_AT_MIN)
    if _ROWS_TALL / grid_h >= _MIN_CELL_IN:
        return cells
    racks = sorted(origin)
    per_row = sum(1 for r in racks if origin[r][1] == origin[racks[0]][1])
    block_h = grid_h / ((len(racks) + per_row - 1) // per_row)
    keep = set(racks[: per_row * max(1, int(_ROWS_TALL / _MIN_CELL_IN // block_h))])
    return [c for c in cells if c.rack in keep]


# The figure's grid is at most this tall [in]; a GPU's square at least this [in] where the
# racks would allow (then the racks past it are left out), with a rack's name this many
# cells above it at that size.
_ROWS_TALL = 8.5
_MIN_CELL_IN = 0.1
_HEAD_AT_MIN = 0.4 + 0.17 / _MIN_CELL_IN


def placement_figure(s: Scenario, plan: Plan) -> Figure:
    """Every GPU of the scenario's layout, coloured by the group of `plan` on it.

    Colour: the TP group (EP block when ep > tp); hatching: the pipeline stage; brackets:
    the data-parallel replicas; grey: idle GPUs. The placement is
    :func:`topo.place.place` with the scenario's strategy.
    """
    layout = s.layout
    placement = place(s.graph, plan, strategy=s.strategy)
    racks_per_row = layout.cluster.racks_per_row if layout.cluster.racks_per_row > 0 else 8
    every = placement_cells(s.graph, placement)
    cells = _legible(every, min(racks_per_row, 8))
    head = 2.0
    for _ in range(2):  # the rack's name takes about 0.2 in whatever the cell size
        origin, grid_w, grid_h = _blocks(cells, min(racks_per_row, 8), head)
        cell_in = min(0.26, 11.0 / grid_w, _ROWS_TALL / grid_h)
        head = 0.4 + max(0.8, 0.17 / cell_in)
    width = max(8.0, grid_w * cell_in + 0.4)
    used = len(placement.ranks)
    note = f"{s.strategy} placement: {used:,} of {placement.gpus_total:,} GPUs used"
    if placement.gpus_idle_in_span:
        note += f", {placement.gpus_idle_in_span:,} left idle to keep groups inside domains"
    racks = len({c.rack for c in every})
    if len(cells) < len(every):
        drawn = len({c.rack for c in cells})
        note += f"; the first {drawn:,} of {racks:,} racks drawn"
    sub = textwrap.wrap(
        f"{scenario_subtitle(plan, s.workload)}; {note}.", int(width * 11.5), break_on_hyphens=False
    )
    spans = _replica_spans(cells)
    handles, names = _legend_entries(placement, every, bracketed=bool(spans))
    # Two legend columns where the longest entry leaves room (about 0.075 in a character).
    ncols = 2 if 2 * (max(map(len, names)) * 0.075 + 0.6) < width else 1
    legend_rows = (len(names) + ncols - 1) // ncols
    height = max(3.6, grid_h * cell_in + 0.7 + 0.2 * len(sub) + 0.28 * legend_rows + 0.3)
    fig: Figure = figure(width, height)
    ax = fig.subplots()
    squares = _draw_cells(ax, cells, origin)
    _draw_racks(ax, cells, origin)
    labels = _draw_replicas(ax, spans, origin)
    ax.set_xlim(-0.2, grid_w + 0.2)  # provisional: _square sets the final limits
    ax.set_ylim(grid_h, -0.1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_axis_off()
    fig.legend(
        handles,
        names,
        handler_map={tuple: _tuple_handler()},
        loc="outside lower center",
        ncols=ncols,
        handlelength=3.0,
        fontsize=9,
        frameon=False,
    )
    fig.suptitle(
        f"{s.model.name} on {layout.name}: where the plan's ranks land",
        fontsize=12,
        weight="bold",
    )
    ax.set_title("\n".join(sub), fontsize=9, loc="left")
    _square(fig, ax, grid_w, grid_h, squares)
    _thin(fig, labels, squares)
    return fig


def _draw_cells(
    ax: Axes, cells: list[GpuCell], origin: dict[int, tuple[float, float]]
) -> list[Artist]:
    """A square per GPU (the axes' limits are set by the caller: none are updated here)."""
    from matplotlib.patches import Rectangle

    pad = 0.07
    out = []
    for c in cells:
        x0, y0 = origin[c.rack]
        used = c.group is not None
        hatch = STAGE_HATCHES[(c.stage or 0) % len(STAGE_HATCHES)] if used else ""
        square = ax.add_artist(
            Rectangle(
                (x0 + c.col + pad, y0 + c.row + pad),
                1 - 2 * pad,
                1 - 2 * pad,
                facecolor=GROUP_COLORS[c.group % len(GROUP_COLORS)]
                if c.group is not None
                else IDLE_COLOR,
                edgecolor=_EDGE if hatch else "none",
                linewidth=0.3,
                hatch=hatch or None,
                gid=c.gpu,
            )
        )
        out.append(square)
    return out


def _layout_draw(fig: Figure, hidden: list[Artist]) -> Any:
    """Draw `fig` to place its axes, legend and texts; returns the canvas.

    The GPU squares (`hidden`, most of a draw's time) are left out: they lie inside the
    axes, so they move nothing.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas: Any = FigureCanvasAgg(fig)
    for a in hidden:
        a.set_visible(False)
    try:
        canvas.draw()
    finally:
        for a in hidden:
            a.set_visible(True)
    return canvas


def _square(fig: Figure, ax: Axes, grid_w: float, grid_h: float, squares: list[Artist]) -> None:
    """Limits that keep every GPU square in the axes the layout gave.

    The grid sits at the top, centred across (no ``set_aspect``, so the subtitle stays at
    the figure's left).
    """
    gw, gh = grid_w + 0.6, grid_h + 0.2
    for _ in range(3):
        _layout_draw(fig, squares)
        box = ax.get_position()
        w_in = box.width * fig.get_figwidth()
        h_in = box.height * fig.get_figheight()
        unit = min(w_in / gw, h_in / gh)  # inches per cell
        spare = h_in - gh * unit
        if spare < 0.05:
            break
        fig.set_figheight(fig.get_figheight() - spare)  # no empty band above the legend
    span_x, span_y = w_in / unit, h_in / unit
    left = -(span_x - grid_w) / 2
    ax.set_xlim(left, left + span_x)
    ax.set_ylim(span_y - 0.1, -0.1)


def _draw_racks(ax: Axes, cells: list[GpuCell], origin: dict[int, tuple[float, float]]) -> None:
    """Each rack's name above its block."""
    cols: dict[int, int] = {}
    for c in cells:
        cols[c.rack] = max(cols.get(c.rack, 0), c.col + 1)
    for rack, (x0, y0) in origin.items():
        ax.text(
            x0 + cols[rack] / 2,
            y0 - 0.35,
            f"rack {rack}",
            ha="center",
            va="bottom",
            fontsize=9,
        )


def _replica_spans(cells: list[GpuCell]) -> dict[tuple[int, int], tuple[float, float]]:
    """The first and last row each replica takes in each rack, by (rack, replica).

    Empty when some tray row holds GPUs of two replicas: brackets would overlap, so the
    figure draws none and the legend says so.
    """
    per_row: dict[tuple[int, float], set[int]] = {}
    spans: dict[tuple[int, int], tuple[float, float]] = {}
    for c in cells:
        if c.replica is None:
            continue
        per_row.setdefault((c.rack, c.row), set()).add(c.replica)
        lo, hi = spans.get((c.rack, c.replica), (c.row, c.row))
        spans[(c.rack, c.replica)] = (min(lo, c.row), max(hi, c.row))
    if not spans or max(len(v) for v in per_row.values()) > 1:
        return {}
    return spans


def _draw_replicas(
    ax: Axes,
    spans: dict[tuple[int, int], tuple[float, float]],
    origin: dict[int, tuple[float, float]],
) -> list[Any]:
    """A bracket left of each rack over the rows each replica takes there; the labels."""
    labels = []
    for (rack, rep), (lo, hi) in sorted(spans.items()):
        x0, y0 = origin[rack]
        x = x0 - 0.3
        top, bottom = y0 + lo + 0.1, y0 + hi + 0.9
        ax.plot([x + 0.2, x, x, x + 0.2], [top, top, bottom, bottom], color=_EDGE, lw=1.0)
        labels.append(
            ax.text(x - 0.15, (top + bottom) / 2, f"r{rep}", ha="right", va="center", fontsize=9)
        )
    return labels


def _thin(fig: Figure, labels: list[Any], squares: list[Artist]) -> None:
    """Hide replica labels that would overlap a label already kept (brackets stay)."""
    if not labels:
        return
    canvas = _layout_draw(fig, squares)
    renderer = canvas.get_renderer()
    kept: list[Any] = []
    for t in labels:
        bb = t.get_window_extent(renderer).expanded(1.0, 1.15)
        if any(bb.overlaps(k) for k in kept):
            t.set_visible(False)
        else:
            kept.append(bb)


def _tuple_handler() -> Any:
    from matplotlib.legend_handler import HandlerTuple

    return HandlerTuple(ndivide=None, pad=0.0)


def _legend_entries(
    placement: Placement, cells: list[GpuCell], *, bracketed: bool
) -> tuple[list[Any], list[str]]:
    """Legend handles and texts: group colours, stage hatches, idle grey, replicas.

    `cells`: every GPU of the layout (drawn or not: the counts are the whole placement's).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plan = placement.plan
    kind = _colour_kind(plan)
    groups = placement.groups[kind]
    size = len(groups[0]) if groups else 0
    n = len(groups)
    swatches = tuple(
        Patch(facecolor=GROUP_COLORS[i], edgecolor="none") for i in range(min(n, len(GROUP_COLORS)))
    )
    what = "TP group" if kind == "tp" else "EP block (GPUs sharing one copy of the experts)"
    repeat = f"; colours repeat every {len(GROUP_COLORS)}" if n > len(GROUP_COLORS) else ""
    handles: list[Any] = [swatches]
    names = [f"colour: {what}, {size:,} GPUs each, {n:,} in all{repeat}"]
    if plan.pp > 1:
        for j in range(min(plan.pp, len(STAGE_HATCHES))):
            handles.append(
                Patch(facecolor="white", edgecolor=_EDGE, hatch=STAGE_HATCHES[j] or None)
            )
            again = j + len(STAGE_HATCHES)
            more = f" (and {again}, ...)" if plan.pp > again else ""
            names.append(f"hatching: pipeline stage {j}{more}")
    else:
        handles.append(Patch(facecolor="white", edgecolor=_EDGE))
        names.append("no hatching: one pipeline stage")
    idle = sum(1 for c in cells if c.group is None)
    handles.append(Patch(facecolor=IDLE_COLOR, edgecolor="none"))
    names.append(f"grey: idle, {idle:,} GPUs")
    copies = plan.dp // plan.dp_in_ep
    copy = max(plan.tp, plan.ep) * plan.pp
    reps = "r0" if copies == 1 else f"r0 ... r{copies - 1}"
    if bracketed:
        handles.append(Line2D([], [], color=_EDGE, lw=1.0))
        names.append(f"{reps}: data-parallel replicas, {copy:,} GPUs each")
    else:
        handles.append(Line2D([], [], color="none"))
        names.append(
            f"{copies:,} data-parallel replicas of {copy:,} GPUs (they share trays: no brackets)"
        )
    return handles, names
