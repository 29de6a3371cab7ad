"""Where a decode step's time goes: one stacked bar per batch, split by decode's terms.

The terms are :func:`topo.perf.decode`'s: weights, KV, compute, communication, overhead.

A step is the binding side of the roofline (weights + KV read from HBM, or compute),
then the kernels' overhead beyond the roofline and the fixed costs, then the
communication the step waits for. The side that does not bind runs under the one that
does: it is drawn as a hollow bar beside the step, not stacked into it (so is
communication hidden behind the kernels with ``--overlap``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.plot._style import (
    NA_HATCH,
    REF_COLOR,
    TERM_COLORS,
    TERM_LABELS,
    figure,
    scenario_subtitle,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from topo.perf import DecodeTerms, Workload
    from topo.place import Plan
    from topo.scenario import Scenario

__all__ = ["StepSplit", "breakdown_figure", "step_split"]


@dataclass(frozen=True, slots=True)
class StepSplit:
    """One decode step split for a stacked bar.

    `step_s` [s]: the time of a step, time per output token x the tokens a step emits per
    sequence (the step itself without speculation); `stacked`: (term, seconds) from the
    bottom, adding up to `step_s`; `hidden`: (term, seconds) of the work that runs under
    the stacked terms (the roofline side that does not bind, overlapped communication);
    `bound`: :func:`topo.perf.bound_of`'s binding term.
    """

    batch: int
    step_s: float
    bound: str
    stacked: tuple[tuple[str, float], ...]
    hidden: tuple[tuple[str, float], ...]


def step_split(d: DecodeTerms, i: int, workload: Workload) -> StepSplit:
    """Batch `i` of `d` as a stack: binding roofline side, overhead, exposed communication.

    ``tpot x accepted = max(weights + kv, compute) + overhead + exposed communication``
    (:func:`topo.perf.decode`); communication is exposed whole unless ``--overlap`` hides
    some of it behind the kernels, in which case the exposed part is what the step adds.
    """
    from topo.perf import bound_of

    t = d.breakdown(i)
    step = float(d.tpot[i]) * workload.losses.accepted_tokens_per_step
    memory = t["weights"] + t["kv"]
    if memory >= t["compute"]:
        roof: list[tuple[str, float]] = [("weights", t["weights"]), ("kv", t["kv"])]
        hidden = [("compute", t["compute"])]
        roof_s = memory
    else:
        roof = [("compute", t["compute"])]
        hidden = [("weights", t["weights"]), ("kv", t["kv"])]
        roof_s = t["compute"]
    comm = t["communication"]
    if any(workload.overlapped.values()):
        exposed = min(comm, max(0.0, step - roof_s - t["overhead"]))
        if comm - exposed > 0:
            hidden.append(("communication", comm - exposed))
        comm = exposed
    stacked = (*roof, ("overhead", t["overhead"]), ("communication", comm))
    return StepSplit(
        batch=int(d.batch[i]),
        step_s=step,
        bound=bound_of(d, i),
        stacked=stacked,
        hidden=tuple(hidden),
    )


def breakdown_figure(
    s: Scenario, plan: Plan, batches: Sequence[int], *, share: bool = False
) -> Figure:
    """Stacked bars of a decode step per batch: where the time goes, the bound named.

    Parameters
    ----------
    s
        The scenario (layout, model, workload).
    plan
        The plan drawn (e.g. ``s.plan(min(batches))``, what ``topo evaluate`` runs).
    batches
        Batches [sequences], one bar each.
    share
        Bars as shares of the step [%] rather than milliseconds.
    """
    from topo.perf import decode, memory

    bs = sorted({int(b) for b in batches})
    if not bs or bs[0] < 1:
        msg = "breakdown needs batches of at least one sequence"
        raise ValueError(msg)
    d = decode(s.layout, s.model, plan, np.array(bs, dtype=float), s.workload, s.parts(plan).comm)
    splits = [step_split(d, i, s.workload) for i in range(len(bs))]
    max_batch = memory(s.layout, s.model, plan, 1, s.workload).max_batch
    critical = s.parts(plan).critical
    width = max(9.0, 0.85 * len(bs) + 4.0)
    fig: Figure = figure(width, 6.4)
    ax = fig.subplots()
    top = max(sp.step_s for sp in splits) * 1e3
    ylim = 125.0 if share else top * 1.25
    for k, sp in enumerate(splits):
        # A share is written inside a segment tall enough for a 9 pt line (1/20 of the axis).
        _bar(ax, k, sp, share, fits=sp.batch <= max_batch, min_label=ylim / 20)
    ax.set_xticks(range(len(bs)), [f"{b:,}" for b in bs])
    ax.set_xlim(-0.6, len(bs) - 0.4)
    ax.tick_params(labelsize=9)
    ax.set_xlabel("batch [sequences decoded together]", fontsize=10)
    steps = "step" if s.workload.losses.accepted_tokens_per_step == 1 else "step (all its tokens)"
    if share:
        ax.set_ylim(0, ylim)
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        ax.set_ylabel(f"share of a decode {steps} [%]", fontsize=10)
    else:
        ax.set_ylim(0, ylim)
        ax.set_ylabel(f"time of a decode {steps} [ms]", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _marks(ax, bs, max_batch, critical.kv_aware)
    _legend(fig, ax)
    fig.suptitle(
        f"{s.model.name} on {s.layout.name} ({s.layout.accelerator.name}): "
        "where a decode step's time goes",
        fontsize=12,
        weight="bold",
    )
    note = _note(bs, max_batch, critical.kv_aware, critical.context_limit, s.workload)
    sub = scenario_subtitle(plan, s.workload) + f"; {s.strategy} placement. " + note
    ax.set_title("\n".join(textwrap.wrap(sub, int(width * 13))), fontsize=9, loc="left")
    return fig


def _bar(ax: Any, k: int, sp: StepSplit, share: bool, *, fits: bool, min_label: float) -> None:
    """The stack at x = `k`, its hidden terms beside it, total and bound on top."""
    scale = 100.0 / sp.step_s if share else 1e3
    bottom = 0.0
    alpha = 1.0 if fits else 0.35
    for term, secs in sp.stacked:
        h = secs * scale
        (rect,) = ax.bar(
            k,
            h,
            0.62,
            bottom=bottom,
            color=TERM_COLORS[term],
            edgecolor="white",
            linewidth=0.6,
            alpha=alpha,
        )
        rect.set_gid(f"{term}@{sp.batch}")
        if h >= min_label and secs / sp.step_s >= 0.05:
            dark = term in ("weights", "communication", "compute")
            ax.text(
                k,
                bottom + h / 2,
                f"{secs / sp.step_s:.0%}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark and fits else "black",
            )
        bottom += h
    x = k + 0.31 + 0.06
    under = 0.0
    for term, secs in sp.hidden:
        (rect,) = ax.bar(
            x,
            secs * scale,
            0.1,
            bottom=under,
            color="none",
            edgecolor=TERM_COLORS[term],
            hatch=NA_HATCH,
            linewidth=1.0,
            alpha=alpha,
        )
        rect.set_gid(f"hidden {term}@{sp.batch}")
        under += secs * scale
    total = f"{sp.step_s * 1e3:.3g} ms"
    label = f"{total}\n{sp.bound}" if fits else f"{total}\ndoes not fit"
    ax.text(k, bottom, label, ha="center", va="bottom", fontsize=9, linespacing=1.1)


def _position(bs: list[int], batch: float) -> float | None:
    """Where `batch` falls on the bars' axis (log-interpolated between bars), if inside."""
    if not bs[0] <= batch <= bs[-1] or len(bs) < 2:
        return None
    return float(np.interp(np.log(batch), np.log(bs), np.arange(len(bs))))


def _marks(ax: Any, bs: list[int], max_batch: int, critical: float | None) -> None:
    """Dashed lines between the bars where HBM fills and where compute reaches memory."""
    marks: list[tuple[float, str, str]] = []
    fit = [k for k, b in enumerate(bs) if b <= max_batch]
    if fit and len(fit) < len(bs):
        marks.append((fit[-1] + 0.5, f"HBM full at B = {max_batch:,}", "--"))
    pos = _position(bs, critical) if critical is not None else None
    if pos is not None:
        marks.append((pos, f"compute = memory at B = {critical:,.0f}", ":"))
    for k, (x, text, style) in enumerate(marks):  # one line of text below the other
        ax.axvline(x, color=REF_COLOR, linestyle=style, linewidth=1.2, zorder=0.5)
        left = x < (len(bs) - 1) / 2
        ax.annotate(
            text,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4 if left else -4, -3 - 14 * k),
            textcoords="offset points",
            ha="left" if left else "right",
            va="top",
            fontsize=9,
        )


def _note(
    bs: list[int],
    max_batch: int,
    critical: float | None,
    context_limit: float | None,
    w: Workload,
) -> str:
    """The sentence under the title: where HBM fills and the critical batch, when off-chart."""
    parts = []
    if max_batch < bs[-1]:
        parts.append(f"HBM holds up to {max_batch:,} sequences (fainter bars do not fit)")
    else:
        parts.append(f"HBM holds up to {max_batch:,} sequences")
    if critical is None:
        limit = f" (none past {context_limit:,.0f} tokens)" if context_limit else ""
        parts.append(f"no batch is compute-bound at context {w.mean_context:,.0f}{limit}")
    else:
        parts.append(f"compute time reaches memory time at batch {critical:,.0f}")
    return "; ".join(parts) + "."


def _legend(fig: Any, ax: Any) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=TERM_COLORS[t], label=TERM_LABELS[t]) for t in TERM_COLORS]
    handles.append(
        Patch(
            facecolor="none",
            edgecolor=REF_COLOR,
            hatch=NA_HATCH,
            label="hollow, beside a bar: runs under the bar (not binding, or overlapped)",
        )
    )
    del ax
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
