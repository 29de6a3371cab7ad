"""The kernel cost layer: every kernel costed from measured component data.

A serving step is a list of kernels (GEMMs by shape, grouped expert GEMMs, attention,
norms and other elementwise kernels, collectives). Each kernel takes

    t = max(floor, bytes / achievable HBM bandwidth, FLOPs / (peak x efficiency(shape)))

so it never takes less than its memory or compute floor at the measured rates, and small
kernels cost what the shortest measured kernel of their chip cost (launch and tail).

The measured data live in ``topo/data/kernel_tables.json``, written by
``validation/derive_tables.py`` from ``validation/components.yaml`` (published GEMM,
HBM, nccl-tests/rccl-tests, attention and DeepEP measurements, each with its source):

- **GEMM efficiency** per chip and dtype: the fraction of the dense peak measured at
  each (m, n, k), interpolated in log space (a local linear fit over log2 m, n, k weighted
  by inverse distance; exact at measured shapes, inside the measured box). Rows below the
  smallest measured m keep that m's rate down to one 64-row tensor-core tile and fall
  linearly below it (a tile computes 64 rows whatever m is). Chips of one die share
  points (H100, H200 and H800 have the same SMs and clocks). A chip without data for a
  dtype uses the nearest measured chip of the same vendor, else the nearest by peak, and
  says so (:func:`gemm_basis`); fp16 uses bf16 rows, int8 fp8 rows, and fp4 the chip's
  fp8 rows (no fp4 GEMM was measured).
- **Kernel floor** per chip: the shortest GEMM measured on it.
- **HBM**: the fraction of peak bandwidth a streaming copy reaches (BabelStream).
- **Collectives** per scale-up link and op: a per-call latency (the shortest
  latency-bound call; NVLink 4's for a curve measured at large sizes only) and the share
  of topo's link-rate time reached at each message size (nccl-tests and XLA sweeps);
  see :func:`collective_efficiency`.
- **Attention**: decode attention streams its KV at the HBM rate above and computes at
  the measured fraction of FlashMLA's dense decode kernel when compute-bound; prefill
  attention at the fraction FlashAttention-3 (Hopper) or fmha-sm100 (Blackwell)
  reached, by sequence length.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from topo._arrays import unique
from topo._memo import bounded_put

__all__ = [
    "TILE_ROWS",
    "Tables",
    "attention_fraction",
    "collective_efficiency",
    "has_engine_curve",
    "point_runtime",
    "gemm_basis",
    "gemm_efficiency",
    "gemm_time",
    "hbm_fraction",
    "kernel_floor",
    "leave_one_out",
    "series_exclusion",
    "tables",
]

TILE_ROWS = 64.0  # rows of one tensor-core tile (Hopper wgmma m64, Blackwell tcgen05 m64)
_M_GRID = np.linspace(0.0, 24.0, 193)  # log2 m of the cached efficiency curves
_M_STEPS = 8.0  # grid points per doubling of m (grid_index relies on it)


@dataclass(frozen=True)
class GemmTable:
    """Measured GEMM points of one die and dtype: log2 shapes and log fraction of peak."""

    name: str
    dtype: str
    members: tuple[str, ...]
    shape: np.ndarray  # (P, 3): log2 m, n, k
    log_fraction: np.ndarray  # (P,)
    sources: tuple[str, ...]

    @property
    def m_low(self) -> float:
        """log2 of the smallest measured m."""
        return float(self.shape[:, 0].min())


@dataclass(frozen=True)
class CollectiveCurve:
    """One link and op: per-call latency and achieved share of link-rate time by size."""

    link: str
    op: str
    gpus: int
    runtime: str
    latency_s: float
    log2_bytes: np.ndarray
    share: np.ndarray
    sources: tuple[str, ...]
    latency_basis: str = ""  # where the latency comes from when not this curve's own calls


@dataclass(frozen=True)
class Tables:
    """Everything in ``kernel_tables.json``, ready to use."""

    gemm: dict[tuple[str, str], GemmTable]
    floor_s: dict[str, float]
    vendor: dict[str, str]
    hbm: dict[str, float]
    collectives: dict[tuple[str, str], list[CollectiveCurve]]
    attention: dict[str, Any]
    raw: dict[str, Any]


@functools.cache
def tables() -> Tables:
    """The shipped kernel tables (read once)."""
    import json

    text = resources.files("topo.data").joinpath("kernel_tables.json").read_text("utf-8")
    return _make_tables(json.loads(text))


def _make_tables(raw: dict[str, Any]) -> Tables:
    gemm: dict[tuple[str, str], GemmTable] = {}
    for t in raw["gemm"]:
        pts = np.array([p[:4] for p in t["points"]], dtype=float)
        table = GemmTable(
            name=t["die"],
            dtype=t["dtype"],
            members=tuple(t["members"]),
            shape=np.log2(pts[:, :3]),
            log_fraction=np.log(pts[:, 3]),
            sources=tuple(t["sources"]),
        )
        for member in t["members"]:
            gemm[(member, t["dtype"])] = table
    curves: dict[tuple[str, str], list[CollectiveCurve]] = {}
    for c in raw["collectives"]:
        pts = np.array(c["points"], dtype=float)
        curves.setdefault((c["link"], c["op"]), []).append(
            CollectiveCurve(
                link=c["link"],
                op=c["op"],
                gpus=int(c["gpus"]),
                runtime=str(c["runtime"]),
                latency_s=float(c["latency_s"]),
                log2_bytes=np.log2(pts[:, 0]),
                share=pts[:, 1],
                sources=tuple(c["sources"]),
                latency_basis=str(c.get("latency_basis", "")),
            )
        )
    return Tables(
        gemm=gemm,
        floor_s={k: float(v) for k, v in raw["kernel_floor_s"].items()},
        vendor=dict(raw["vendors"]),
        hbm={k: float(v["fraction"]) for k, v in raw["hbm"].items()},
        collectives=curves,
        attention=raw["attention"],
        raw=raw,
    )


# --- which chip's data stands in for a chip without its own ---------------------------

_DTYPE_ROWS = {"fp16": "bf16", "int8": "fp8", "fp4": "fp8", "int4": "fp8", "fp6": "fp8"}


def _stand_in(acc: Any, dtype: str) -> tuple[str, str]:
    """(chip, dtype) whose GEMM points apply to `acc` at `dtype`.

    The chip's own rows of the dtype; else of the dtype it stands for (fp16 -> bf16,
    int8 and fp4 -> fp8); else those rows on the measured chip of the same vendor whose
    dense bf16 peak is nearest, else on the nearest chip of any vendor.
    """
    t = tables()
    if (acc.name, dtype) in t.gemm:
        return acc.name, dtype
    rows = _DTYPE_ROWS.get(dtype, dtype)
    if (acc.name, rows) in t.gemm:
        return acc.name, rows
    measured = sorted({c for c, d in t.gemm if d == rows})
    if not measured:
        rows = "bf16"
        measured = sorted({c for c, d in t.gemm if d == rows})
    same = [c for c in measured if t.vendor.get(c) == acc.vendor] or measured
    peak = float(acc.peak_flop_per_s.get("bf16") or max(acc.peak_flop_per_s.values()))

    def distance(chip: str) -> float:
        return abs(math.log(float(t.raw["bf16_peaks"][chip]) / peak))

    return min(same, key=distance), rows


def gemm_basis(acc: Any, dtype: str) -> str:
    """Where the GEMM efficiencies of `acc` at `dtype` come from, in words."""
    chip, rows = _stand_in(acc, dtype)
    table = tables().gemm[(chip, rows)]
    own = chip == acc.name and rows == dtype
    what = f"{len(table.log_fraction)} measured {rows} GEMMs on {'/'.join(table.members)}"
    if own:
        return what
    return f"{what} (no {dtype} GEMM measured on {acc.name}: nearest measured data)"


def _interp(table: GemmTable, q: np.ndarray) -> np.ndarray:
    """Log fraction at query shapes (Q, 3) in log2 space; exact at measured shapes.

    Tables that span m, n and k (at least 20 points, 3 distinct values on each axis: the
    XLA grids, H100 FP8 from cuBLASLt and DeepGEMM) take a local linear fit: each query
    fits a plane through the measured points weighted by 1 / distance^6 (a little ridge
    keeps it stable), so it follows the local slope along m, n and k. Left out in turn, a
    point of the full grids is predicted to a few percent (inverse-distance averaging of
    neighbours: ~20%). Sparse tables (a handful of square shapes) cannot fix a slope per
    axis and take inverse-distance weights (power 4) instead.
    """
    diff = table.shape[None, :, :] - q[:, None, :]  # (Q, P, 3)
    d2 = (diff**2).sum(axis=2)
    exact = d2 < 1e-12
    hit = exact.any(axis=1)
    spans = _spans(table)
    if not spans:
        wi = 1.0 / np.maximum(d2, 1e-12) ** 2
        est = (wi * table.log_fraction[None, :]).sum(axis=1) / wi.sum(axis=1)
        if hit.any():
            est[hit] = table.log_fraction[exact[hit].argmax(axis=1)]
        return np.asarray(est)
    w = 1.0 / np.maximum(d2, 1e-12) ** 3
    X = np.concatenate([np.ones(diff.shape[:2] + (1,)), diff], axis=2)  # (Q, P, 4)
    A = np.einsum("qpi,qp,qpj->qij", X, w, X)
    A = A + 1e-3 * w.sum(axis=1)[:, None, None] * np.eye(4)[None]
    b = np.einsum("qpi,qp,p->qi", X, w, table.log_fraction)
    est = np.linalg.solve(A, b[..., None])[:, 0, 0]
    est = np.minimum(est, table.log_fraction.max())  # never above the best measured
    if hit.any():
        est[hit] = table.log_fraction[exact[hit].argmax(axis=1)]
    return np.asarray(est)


_SPANS: dict[int, tuple[GemmTable, bool]] = {}


def _spans(table: GemmTable) -> bool:
    """Whether `table` spans m, n and k (see :func:`_interp`), worked out once per table."""
    got = _SPANS.get(id(table))
    if got is None or got[0] is not table:
        spans = len(table.log_fraction) >= 20 and all(
            len(unique(table.shape[:, i])) >= 3 for i in range(3)
        )
        got = _SPANS[id(table)] = (table, spans)
    return got[1]


def leave_one_out(table: GemmTable) -> np.ndarray:
    """Each measured point's time predicted from the others: error (predicted / measured - 1).

    The honest accuracy of the interpolation between measured shapes (at a measured shape
    the tables are exact by construction).
    """
    P = len(table.log_fraction)
    out = np.empty(P)
    for i in range(P):
        keep = np.arange(P) != i
        rest = GemmTable(
            table.name,
            table.dtype,
            table.members,
            table.shape[keep],
            table.log_fraction[keep],
            table.sources,
        )
        est = float(_interp(rest, table.shape[i : i + 1])[0])
        out[i] = math.exp(table.log_fraction[i] - est) - 1.0  # time goes as 1 / fraction
    return out


def _direct_fraction(table: GemmTable, m: np.ndarray, n: float, k: float) -> np.ndarray:
    return _fractions(table, m, math.log2(max(n, 1.0)), math.log2(max(k, 1.0)))


def _fractions(table: GemmTable, m: np.ndarray, log_n: Any, log_k: Any) -> np.ndarray:
    """Fractions at rows `m` and log2 n, log2 k (scalars, or one per row)."""
    lo, hi = table.shape.min(axis=0), table.shape.max(axis=0)
    lm = np.log2(np.maximum(m, 1e-9))
    q = np.empty((len(lm), 3))
    q[:, 0] = np.clip(lm, lo[0], hi[0])
    q[:, 1] = np.clip(log_n, lo[1], hi[1])
    q[:, 2] = np.clip(log_k, lo[2], hi[2])
    frac = np.exp(_interp(table, q))
    # Below the smallest measured m: the same rate per row down to one tile, then the
    # tile's time whatever the rows (the rate falls with m).
    below = lm < table.m_low
    if below.any():
        mm = m[below]
        frac[below] = frac[below] * mm / np.maximum(mm, TILE_ROWS)
    return np.asarray(np.minimum(frac, 1.0))


@functools.lru_cache(maxsize=4096)
def _log_curve(chip: str, rows: str, n: float, k: float) -> np.ndarray:
    """The natural log of :func:`_curve` (floored at 1e-12), as its path interpolates it."""
    return np.asarray(np.log(np.maximum(_curve(chip, rows, n, k), 1e-12)))


@functools.lru_cache(maxsize=4096)
def _curve(chip: str, rows: str, n: float, k: float) -> np.ndarray:
    table = tables().gemm[(chip, rows)]
    return _direct_fraction(table, 2.0**_M_GRID, n, k)


# The measured tables' fractions at single shapes, by (chip, rows, m, n, k): a local fit
# costs ~50 us a call, so each shape is fitted once, and a step's shapes in one call.
_EXACT: dict[tuple[str, str, float, float, float], float] = {}


def _exact(chip: str, rows: str, m: float, n: float, k: float) -> float:
    """The measured table's fraction at one shape (kept)."""
    key = (chip, rows, m, n, k)
    if key not in _EXACT:
        _fit_exact([key])
    return _EXACT[key]


def _fit_exact(shapes: list[tuple[str, str, float, float, float]]) -> None:
    """Fit every shape not yet in :data:`_EXACT`, one call per table (:func:`_exact_values`).

    The same fractions as :func:`_exact` one by one, to the bit: each query's fit reads
    only its own row (tests compare the two).
    """
    _exact_values(shapes)


def exact_shapes(acc: Any, dtype: str, m: Any, n: float, k: float) -> list[tuple[Any, ...]]:
    """The keys :func:`gemm_efficiency` looks up for these shapes ([] on its curve path)."""
    flat = np.atleast_1d(np.asarray(m, dtype=float)).ravel()
    if flat.size > 8:
        return []
    chip, rows = _stand_in(acc, dtype)
    fn, fk = float(n), float(k)
    return [(chip, rows, float(x), fn, fk) for x in np.maximum(flat, 1e-9)]


def gemm_efficiency(acc: Any, dtype: str, m: Any, n: float, k: float) -> np.ndarray:
    """Fraction of the dense `dtype` peak a GEMM of m x n x k reaches on `acc`."""
    chip, rows = _stand_in(acc, dtype)
    mm = np.asarray(m, dtype=float)
    flat = np.atleast_1d(mm).ravel()
    if flat.size <= 8:  # exact (validation, single points), each shape fitted once
        fn, fk = float(n), float(k)
        out = np.array([_exact(chip, rows, float(x), fn, fk) for x in np.maximum(flat, 1e-9)])
    else:
        lm = np.log2(np.maximum(flat, 1.0))
        out = np.exp(np.interp(lm, _M_GRID, _log_curve(chip, rows, float(n), float(k))))
        out = np.where(flat < 1.0, out * np.maximum(flat, 0.0), out)
    return np.asarray(out.reshape(mm.shape))


def _curve_efficiencies(acc: Any, calls: list[_Call], rs: list[np.ndarray]) -> np.ndarray | None:
    """:func:`gemm_efficiency` of every call on its curve path, in one pass.

    None where some call has 8 rows or fewer, or the calls' rows differ in shape. Each
    row interpolates its own curve as ``np.interp`` does (the same slope, offset and end
    rule, element by element), so the fractions are the same floats. A call's n and k
    may be columns (one per row of its rows: plans stacked), each row on its own curve.
    Calls with the same rows (the same m and groups) share where their rows fall.
    """
    if not rs or any(r.size <= 8 or r.shape != rs[0].shape for r in rs):
        return None
    shape = rs[0].shape
    per = int(np.prod(shape[:-1])) if len(shape) > 1 else 1  # rows of each call
    keys = []
    for dtype, _, n, k, _, _ in calls:
        chip, rows = _stand_in(acc, dtype)
        ns = np.broadcast_to(np.asarray(n, dtype=float).reshape(-1), (per,)).tolist()
        ks = np.broadcast_to(np.asarray(k, dtype=float).reshape(-1), (per,)).tolist()
        keys += [(chip, rows, a, b) for a, b in zip(ns, ks, strict=True)]
    distinct = tuple(dict.fromkeys(keys))
    # A plan's few curves are kept stacked; a stack of plans' are stacked afresh (each
    # curve kept by _log_curve), so that no large stack stays in the cache.
    stack = _curve_stack if len(distinct) <= 64 else _curve_stack.__wrapped__
    curves, slopes = stack(distinct)
    at = {key: i for i, key in enumerate(distinct)}
    row = np.array([at[key] for key in keys]).reshape(len(rs), per, 1)
    out = np.empty((len(rs), per, shape[-1]))
    where: dict[tuple[int, bytes], tuple[np.ndarray, ...]] = {}
    for i, ((_, m, _, _, _, groups), r) in enumerate(zip(calls, rs, strict=True)):
        key = (id(m), np.asarray(groups, dtype=float).tobytes())
        if key not in where:
            R = r.reshape(per, -1)
            x = np.log2(np.maximum(R, 1.0))
            j = grid_index(x)
            where[key] = (R, x, j)
        R, x, j = where[key]
        got = np.exp(interp_rows(x, _M_GRID, curves, slopes, row[i], j))
        out[i] = np.where(R < 1.0, got * np.maximum(R, 0.0), got)
    return out.reshape((len(rs), *shape))


def _exact_rows(acc: Any, calls: list[_Call], rs: list[np.ndarray]) -> np.ndarray:
    """:func:`gemm_efficiency` of every call, each row a run of 8 batches or fewer.

    The rows are plans x batches; each element is fitted exactly, as its run alone would
    be (not on the cached curves). A call's n and k may be columns (one per plan). Shapes
    not fitted yet are fitted in one call per table; every value is :func:`_exact`'s for
    its shape, to the bit.
    """
    keys: list[tuple[str, str, float, float, float]] = []
    for (dtype, _, n, k, _, _), r in zip(calls, rs, strict=True):
        chip, rows = _stand_in(acc, dtype)
        R = np.maximum(np.atleast_2d(r), 1e-9)
        ns = np.broadcast_to(np.asarray(n, dtype=float).reshape(-1), (len(R),)).tolist()
        ks = np.broadcast_to(np.asarray(k, dtype=float).reshape(-1), (len(R),)).tolist()
        for row, fn, fk in zip(R.tolist(), ns, ks, strict=True):
            keys += [(chip, rows, x, fn, fk) for x in row]
    values = _exact_values(keys)
    return np.array(values).reshape((len(rs), *np.atleast_2d(rs[0]).shape))


def _exact_values(keys: list[tuple[str, str, float, float, float]]) -> list[float]:
    """:func:`_exact` of each key: those not kept fitted in one call per table."""
    got = {key: _EXACT[key] for key in dict.fromkeys(keys) if key in _EXACT}
    todo: dict[tuple[str, str], list[tuple[str, str, float, float, float]]] = {}
    for key in dict.fromkeys(keys):
        if key not in got:
            todo.setdefault(key[:2], []).append(key)
    for (chip, rows), some in todo.items():
        table = tables().gemm[(chip, rows)]
        m = np.array([key[2] for key in some])
        n = np.array([math.log2(max(key[3], 1.0)) for key in some])
        k = np.array([math.log2(max(key[4], 1.0)) for key in some])
        for key, value in zip(some, _fractions(table, m, n, k).tolist(), strict=True):
            got[key] = value
            bounded_put(_EXACT, key, value, 1 << 16)
    return [got[key] for key in keys]


def grid_index(x: np.ndarray) -> np.ndarray:
    """For each log2 m in `x`, the segment of :data:`_M_GRID` it falls in.

    ``searchsorted(_M_GRID, x, "right") - 1`` clipped to the first and last segments, by
    arithmetic: the grid is every 1/8 from 0, each point exact.
    """
    return np.clip(np.floor(x * _M_STEPS), 0, len(_M_GRID) - 2).astype(np.int64)


def interp_rows(
    x: np.ndarray,
    xp: np.ndarray,
    fp: np.ndarray,
    slopes: np.ndarray,
    row: np.ndarray | None = None,
    j: np.ndarray | None = None,
) -> np.ndarray:
    """``np.interp(x[i], xp, fp[row[i]])`` for every row i, to the bit, in one pass.

    `slopes`: ``np.diff(fp, axis=1) / np.diff(xp)``; `row` (a column): each row's curve
    (default: row i on curve i); `j`: each point's segment, if known (as computed here).
    As ``np.interp`` computes it: the slope of the segment a point falls in, times its
    offset from the segment's start, plus the start's value; the end values beyond the
    ends.
    """
    if j is None:
        j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    row = np.arange(len(x))[:, None] if row is None else row
    inner = slopes[row, j] * (x - xp[j]) + fp[row, j]
    inner = np.where(x >= xp[-1], fp[row, -1], inner)
    return np.asarray(np.where(x < xp[0], fp[row, 0], inner))


@functools.lru_cache(maxsize=1024)
def _curve_stack(keys: tuple[tuple[str, str, float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """The log curves of `keys` stacked, and the slopes between their grid points."""
    curves = np.stack([_log_curve(*key) for key in keys])
    slopes = np.diff(curves, axis=1) / np.diff(_M_GRID)
    return curves, slopes


def kernel_floor(acc: Any) -> float:
    """The shortest time a kernel takes on `acc` [s]: its shortest measured GEMM."""
    t = tables()
    if acc.name in t.floor_s:
        return t.floor_s[acc.name]
    chip, _ = _stand_in(acc, "bf16")
    return t.floor_s.get(chip, min(t.floor_s.values()))


def hbm_fraction(acc: Any) -> float:
    """Share of peak HBM bandwidth a streaming copy reaches on `acc` (or its stand-in)."""
    t = tables()
    if acc.name in t.hbm:
        return t.hbm[acc.name]
    same = [c for c in t.hbm if t.vendor.get(c) == acc.vendor]
    if same:
        return min(t.hbm[c] for c in same)
    return float(np.median(list(t.hbm.values())))


def gemm_time(
    acc: Any,
    dtype: str,
    m: Any,
    n: float,
    k: float,
    *,
    weight_bytes: float,
    act_bytes: float = 2.0,
    groups: Any = 1.0,
    hbm_bw: float | None = None,
    compute_scale: float = 1.0,
) -> np.ndarray:
    """Time [s] of `groups` GEMMs of m x n x k run as one (grouped) kernel.

    Weights (n x k per group, `weight_bytes` per element) stream from HBM once;
    activations in and out at `act_bytes`. The efficiency is that of the whole kernel's
    rows (groups x m: a grouped GEMM fills the GPU like one GEMM of all its rows).
    """
    call = (dtype, m, n, k, weight_bytes, groups)
    return np.asarray(_gemm_times(acc, [call], act_bytes, hbm_bw, compute_scale)[0])


# One GEMM of :func:`_gemm_times`: (dtype, m, n, k, weight bytes, groups).
_Call = tuple[str, Any, Any, Any, float, Any]  # n, k: numbers, or columns of plans


def _gemm_times(
    acc: Any,
    calls: list[_Call],
    act_bytes: float,
    hbm_bw: float | None,
    compute_scale: float,
    exact_rows: bool = False,
) -> np.ndarray:
    """:func:`gemm_time` of each call, stacked (calls x the rows' shape).

    Each call's efficiency is looked up alone; the arithmetic runs on all calls at once,
    element by element the same operations as one call at a time (the same floats).
    `exact_rows`: the rows are a stack of plans' runs of 8 batches or fewer, each row's
    shapes fitted exactly (:func:`_exact_rows`), as its run alone would be.
    """
    peaks = acc.peak_flop_per_s
    bw = hbm_bw if hbm_bw is not None else acc.hbm_bandwidth_bytes_per_s * hbm_fraction(acc)
    moved, flops = [], []
    rs = [groups * np.asarray(m, dtype=float) for _, m, _, _, _, groups in calls]
    R = np.stack(rs)
    W = []
    effs = _exact_rows(acc, calls, rs) if exact_rows else _curve_efficiencies(acc, calls, rs)
    E = effs if effs is not None and compute_scale == 1.0 else np.empty_like(R)
    for i, (dtype, _, n, k, weight_bytes, groups) in enumerate(calls):
        if E is not effs:
            eff = effs[i] if effs is not None else gemm_efficiency(acc, dtype, rs[i], n, k)
            E[i] = np.minimum(eff * compute_scale, 1.0) if compute_scale != 1.0 else eff
        peak = peaks.get(dtype) or peaks.get("bf16") or max(peaks.values())
        W.append(groups * (n * k * weight_bytes))  # weight bytes, once per group
        moved.append((k + n) * act_bytes)  # activation bytes per row, in and out
        flops.append(2.0 * n * k / peak)  # compute seconds per row at peak
    # Per call: a number, or a column of plans (plans x 1) when the calls are stacked.
    M, F = np.array(moved, dtype=float), np.array(flops, dtype=float)
    M, F = (a.reshape(a.shape + (1,) * (R.ndim - a.ndim)) for a in (M, F))
    # memory: weights once per group, activations in and out; compute at the efficiency
    # (in place: the same operations, without a fresh array for each)
    t_m = R * M
    for i, w in enumerate(W):
        t_m[i] += w
    t_m /= bw
    t_c = R * F
    t_c /= np.maximum(E, 1e-12, out=E if E is not effs else None)
    np.maximum(t_m, t_c, out=t_m)
    return np.asarray(np.maximum(t_m, kernel_floor(acc), out=t_m))


def attention_fraction(acc: Any, kind: str, seq: float | None = None) -> tuple[float, str]:
    """Fraction of the dense bf16 peak an attention kernel reaches, and its source.

    ``kind``: ``decode`` (compute-bound decode, FlashMLA dense) or ``prefill`` (causal
    forward at `seq` tokens).
    """
    att = tables().attention
    fam = att["families"].get(acc.name) or att["families"].get(_stand_in(acc, "bf16")[0], "hopper")
    entry = att[kind][fam]
    if kind == "prefill" and "by_seq" in entry:
        xs = np.log2([p[0] for p in entry["by_seq"]])
        ys = [p[1] for p in entry["by_seq"]]
        s = math.log2(max(seq or 4096.0, 1.0))
        return float(np.interp(s, xs, ys)), entry["source"]
    return float(entry["fraction"]), entry["source"]


_SCALE_OUT_PREFIXES = ("ib-", "eth-", "roce", "pcie")


# Which measured curves a runtime prefers, in order ("deepep" is a library too).
RUNTIMES = {
    "library": ("library", "deepep", "xla", "engine"),
    "xla": ("xla", "library", "deepep", "engine"),
    "engine": ("engine", "library", "deepep", "xla"),
}


def point_runtime(point: dict[str, Any]) -> str:
    """The software a measured collective ran.

    Its ``runtime`` field, else ``xla`` for XLA's tables and ``library`` (nccl-tests,
    rccl-tests) otherwise.
    """
    if point.get("runtime") in RUNTIMES:
        return str(point["runtime"])
    return "xla" if "openxla" in str(point.get("source", "")) else "library"


@functools.lru_cache(maxsize=4096)
def _curve_for(link: str, op: str, gpus: int, runtime: str = "library") -> CollectiveCurve:
    """The measured curve for `op` on `link`.

    The runtime's preferred kind of timing, then the nearest group size; without one, the
    fallbacks of :func:`collective_efficiency`.
    """
    c = tables().collectives
    fb = tables().raw["collective_fallback"]
    other = fb["scale_out"] if link.startswith(_SCALE_OUT_PREFIXES) else fb["scale_up"]
    order = RUNTIMES.get(runtime, RUNTIMES["library"])

    def nearest(curves: list[CollectiveCurve]) -> CollectiveCurve:
        return min(curves, key=lambda cv: (abs(math.log(cv.gpus / max(gpus, 2))), -cv.gpus))

    if runtime == "engine":  # an engine kernel measured on a link of the same family
        engine = [
            cv
            for (lk, o), curves in c.items()
            if o == op and _family(lk) == _family(link)
            for cv in curves
            if cv.runtime == "engine"
        ]
        if engine:
            return nearest(engine)
    # Then the op on the scale-up fallback (NVLink 4, the best-measured fabric) and its
    # all-reduce: a scale-out link measured for one op only (InfiniBand: DeepEP's
    # all-to-all) took whichever curve the tables listed first for every other op.
    up = fb["scale_up"]
    for key in (
        (link, op), (other, op), (link, "all-reduce"), (other, "all-reduce"),
        (up, op), (up, "all-reduce"),
    ):  # fmt: skip
        if key in c:
            curves = c[key]
            best = min(order.index(cv.runtime) for cv in curves)
            return nearest([cv for cv in curves if order.index(cv.runtime) == best])
    return next(iter(c.values()))[0]


def _family(link: str) -> str:
    """A link's family: its name without the generation (nvlink4 -> nvlink)."""
    return link.rstrip("0123456789").rstrip("-")


def has_engine_curve(link: str, op: str) -> bool:
    """Whether an engine's own kernel was measured for `op` on `link` or its family.

    NVLink 4 stands in for NVLink 5: the same one-shot kernels on faster links.
    """
    c = tables().collectives
    return any(
        cv.runtime == "engine"
        for (lk, o), curves in c.items()
        if o == op and _family(lk) == _family(link)
        for cv in curves
    )


def collective_efficiency(
    link: str, op: str, nbytes: Any, gpus: int = 8, runtime: str = "library"
) -> tuple[float, np.ndarray]:
    """(per-call latency [s], share of the link-rate time reached) for `nbytes` per GPU.

    From the curve of `op` on `link` measured with the nearest group size. A link without
    that op uses the op on ``collective_fallback`` (scale-out links, named ``ib-``,
    ``eth-``, ``roce``, ``pcie``: InfiniBand NDR as DeepEP measured it; scale-up links:
    NVLink 4, the best-measured fabric), then the all-reduce curves, then the op on
    NVLink 4 and its all-reduce (a scale-out all-reduce or pipeline hop: no nccl-tests
    sweep across nodes was found).
    """
    c = _curve_for(link, op, gpus, runtime)
    lb = np.log2(np.maximum(np.asarray(nbytes, dtype=float), 1.0))
    # Log-log interpolation: a share that at most doubles per doubling of size never
    # gives a larger message a shorter time.
    return c.latency_s, np.asarray(np.exp(np.interp(lb, c.log2_bytes, np.log(c.share))))


def collective_efficiencies(
    link: str, op: str, nbytes: np.ndarray, gpus: np.ndarray, runtime: str = "library"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`collective_efficiency` of each row of `nbytes` for its row's group size.

    Returns the latency of each row (a column) and the shares (shaped as `nbytes`); the
    rows whose group sizes take the same measured curve are looked up together, each
    element as :func:`collective_efficiency` computes it alone.
    """
    latency = np.empty((len(gpus), 1))
    share = np.empty(np.shape(nbytes))
    curves: dict[int, tuple[CollectiveCurve, list[int]]] = {}
    for i, g in enumerate(gpus.tolist()):
        c = _curve_for(link, op, g, runtime)
        curves.setdefault(id(c), (c, []))[1].append(i)
    for c, rows in curves.values():
        lb = np.log2(np.maximum(nbytes[rows], 1.0))
        share[rows] = np.exp(np.interp(lb, c.log2_bytes, np.log(c.share)))
        latency[rows] = c.latency_s
    return latency, share


def collective_basis(link: str, op: str, gpus: int = 8, runtime: str = "library") -> str:
    """Where a collective's latency and bandwidth share come from, in words."""
    c = _curve_for(link, op, gpus, runtime)
    what = f"{c.op} on {c.gpus} GPUs of {c.link} ({len(c.share)} sizes, {c.runtime} timings)"
    if c.latency_basis:
        what += f", latency {c.latency_basis}"
    if (c.link, c.op) == (link, op):
        return f"measured {what}"
    return f"no {op} measured on {link}: {what}"


def series_exclusion(
    points: list[dict[str, Any]], peaks: dict[str, dict[str, float]]
) -> dict[tuple[str, str, str], str]:
    """Series of GEMM points that are not hardware figures, by a fixed rule.

    A series is one source (its first word: repository@commit) on one chip and dtype. It
    is excluded when (1) any point runs above the chip's dense peak (physically
    impossible), or (2) its median fraction of peak is below a quarter of the same
    source's bf16 median on the same chip (the library missed its fast path). Returns
    ``{(source, chip, dtype): reason}``.
    """
    series: dict[tuple[str, str, str], list[float]] = {}
    for p in points:
        if p.get("kind") != "gemm":
            continue
        key = (str(p.get("source", "")).split(" ")[0], p["accelerator"], p.get("dtype", "bf16"))
        peak = peaks.get(p["accelerator"], {}).get(key[2])
        if not peak:
            continue
        frac = 2.0 * p["m"] * p["n"] * p["k"] / p["time_s"] / peak
        series.setdefault(key, []).append(frac)
    out = {}
    for key, fr in series.items():
        if max(fr) > 1.0:
            out[key] = f"runs above the dense peak ({max(fr):.2f} x peak): not a hardware figure"
            continue
        base = series.get((key[0], key[1], "bf16"))
        if key[2] != "bf16" and base and np.median(fr) < np.median(base) / 4:
            out[key] = (
                f"median {np.median(fr):.3f} of peak, under a quarter of the same source's "
                f"bf16 median {np.median(base):.3f}: a missed fast path, not the hardware"
            )
    return out


# --- the kernels of one step ------------------------------------------------------------

# Elementwise kernels per layer as fused serving engines launch them (assumed: residual
# add + RMSNorm before attention and before the FFN, and the gated activation; MoE layers
# add routing (softmax/top-k) and the permute and unpermute of tokens).
ELEMENTWISE_PER_LAYER = 3
ELEMENTWISE_PER_MOE_LAYER = 3
ACT = 2.0  # activations in bf16


@dataclass(frozen=True)
class Gemm:
    """One GEMM of a layer as one GPU runs it: n x k weights, `groups` of them."""

    name: str
    kind: str  # "gemm" or "moe_gemm"
    # A number each, or a column of them for plans stacked (one per plan: _gemms).
    n: float | np.ndarray
    k: float | np.ndarray
    per_stage: float | np.ndarray  # times a stage runs it per step (layers of its kind)
    groups: float | np.ndarray = 1.0
    weight_bytes: float | None = None  # None: the weights' dtype


def layer_gemms(model: Any, plan: Any) -> list[Gemm]:
    """Every GEMM a GPU of one pipeline stage runs per step, with its shape (experts apart).

    Attention: fused QKV and the output projection (MLA as served: the replicated down
    projections, q up, the absorbed per-head key and value maps, output). Dense FFN:
    fused gate/up and down, split ``tp`` ways. MoE layers: the router and the shared
    experts; routed experts are :func:`moe_gemms`. The LM head once per step.
    """
    p = model.params
    tp, pp = plan.tp, plan.pp
    layers = model.layers / pp
    dense = p.dense_layers / pp
    moe = p.moe_layers / pp
    D, H = model.d_model, model.heads
    out: list[Gemm] = []
    if model.mla:
        m = model.mla
        qk = m["qk_nope_head_dim"] + m["qk_rope_head_dim"]
        q_lora = m.get("q_lora_rank") or 0
        down = (q_lora or 0) + m["kv_lora_rank"] + m["qk_rope_head_dim"]
        out.append(Gemm("attention down (q, kv latents)", "gemm", down, D, layers))
        if q_lora:
            out.append(Gemm("q up", "gemm", H * qk / tp, q_lora, layers))
        else:
            out.append(Gemm("q", "gemm", H * qk / tp, D, layers))
        out.append(
            Gemm(
                "absorbed key map",
                "gemm",
                m["kv_lora_rank"],
                m["qk_nope_head_dim"],
                layers,
                groups=H / tp,
            )
        )
        out.append(
            Gemm("absorbed value map", "gemm", m["v_head_dim"], m["kv_lora_rank"], layers, H / tp)
        )
        out.append(Gemm("attention out", "gemm", D, H * m["v_head_dim"] / tp, layers))
    else:
        kv = _larger(model.kv_heads / tp, 1.0)
        out.append(Gemm("qkv", "gemm", (H / tp + 2 * kv) * model.head_dim, D, layers))
        out.append(Gemm("attention out", "gemm", D, H * model.head_dim / tp, layers))
    up = 2 if model.gated else 1
    if p.dense_layers:  # the model's, not the stage's: a stack's plans run the same GEMMs
        out.append(Gemm("ffn up", "gemm", up * model.ffn / tp, D, dense))
        out.append(Gemm("ffn down", "gemm", D, model.ffn / tp, dense))
    if p.moe_layers:
        out.append(Gemm("router", "gemm", p.experts, D, moe, weight_bytes=ACT))
        shared = model.moe.get("shared_experts", 0) * model.moe["expert_ffn"]
        if shared:
            out.append(Gemm("shared expert up", "gemm", up * shared / tp, D, moe))
            out.append(Gemm("shared expert down", "gemm", D, shared / tp, moe))
    out.append(Gemm("lm head", "gemm", model.vocab / tp, D, 1.0 / pp))
    return out


def moe_gemms(model: Any, plan: Any) -> list[Gemm]:
    """The grouped expert GEMMs of one MoE layer on one GPU (n, k of one local expert)."""
    if not model.moe:
        return []
    block = _larger(plan.tp, plan.ep)
    split = block / plan.ep  # tensor-parallel ways of each expert
    f = model.moe["expert_ffn"] / split
    up = 2 if model.gated else 1
    moe = model.params.moe_layers / plan.pp
    return [
        Gemm("expert up", "moe_gemm", up * f, model.d_model, moe),
        Gemm("expert down", "moe_gemm", model.d_model, f, moe),
    ]


def _gemms(make: Callable[[Any, Any], list[Gemm]], model: Any, plan: Any) -> list[Gemm]:
    """`make`'s GEMMs of `plan`; of plans stacked (``plan.plans``), each field a column.

    Stacked plans run the same GEMMs (one model): `make` runs once on the stack's degrees
    as (plans x 1) columns, so each field holds every plan's value (the same floats as
    each plan's own: the same operations on the same numbers) and the step's arithmetic
    runs on all of them at once.
    """
    plans = getattr(plan, "plans", None)
    if plans is None:
        return make(model, plan)
    n = len(plans)

    def col(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (n, 1)).copy()

    return [
        Gemm(g.name, g.kind, col(g.n), col(g.k), col(g.per_stage), col(g.groups), g.weight_bytes)
        for g in make(model, plan)
    ]


def _larger(a: Any, b: Any) -> Any:
    """max(a, b), of numbers or, element by element, of a stack's columns."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.maximum(a, b)
    return max(a, b)


def step_kernels(
    acc: Any,
    model: Any,
    plan: Any,
    *,
    dtype: str,
    weight_bytes: float,
    rows: np.ndarray,
    expert_rows: np.ndarray,
    experts_touched: np.ndarray,
    kv_bytes: np.ndarray,
    attn_flops: np.ndarray,
    attention: str,
    prefill_seq: float | None = None,
    hbm_bw: float | None = None,
    compute_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Time of one stage-step by kernel class [s], vectorised over the batch.

    rows: matmul rows per GPU (tokens per attention rank); expert_rows: rows per touched
    local expert (busiest GPU); experts_touched: local experts some token selects;
    kv_bytes, attn_flops: per GPU for the stage's layers; attention: decode or prefill.
    Returns ``gemm``, ``moe_gemm``, ``attention``, ``elementwise`` (each an array).
    """
    rows = np.asarray(rows, dtype=float)
    bw = hbm_bw if hbm_bw is not None else acc.hbm_bandwidth_bytes_per_s * hbm_fraction(acc)
    floor = kernel_floor(acc)
    out = {k: np.zeros_like(rows) for k in ("gemm", "moe_gemm", "attention", "elementwise")}
    # (class, dtype, rows, n, k, weight bytes, groups, per stage) of every GEMM.
    calls: list[tuple[str, str, np.ndarray, Any, Any, float, Any, Any]] = []
    for g in _gemms(layer_gemms, model, plan):
        wb = weight_bytes if g.weight_bytes is None else g.weight_bytes
        # Router weights stay 16-bit: a bf16 GEMM where the chip has a bf16 peak.
        gd = dtype if g.weight_bytes is None or "bf16" not in acc.peak_flop_per_s else "bf16"
        calls.append(("gemm", gd, rows, g.n, g.k, wb, g.groups, g.per_stage))
    touched = np.maximum(experts_touched, 1e-9)
    for g in _gemms(moe_gemms, model, plan):
        calls.append(("moe_gemm", dtype, expert_rows, g.n, g.k, weight_bytes, touched, g.per_stage))
    # A stack of short runs (each row 8 batches or fewer) fits every shape exactly, as
    # each run alone would; else the step's single shapes fitted in one call per table.
    exact_rows = bool(getattr(plan, "exact_rows", False))
    if not exact_rows:
        _fit_exact(
            [
                key
                for _, gd, m, n, k, _, groups, _ in calls
                for key in exact_shapes(acc, gd, groups * np.asarray(m, dtype=float), n, k)
            ]
        )
    times = _gemm_times(acc, [c[1:7] for c in calls], 2.0, bw, compute_scale, exact_rows)
    for (cls, *_, per_stage), t in zip(calls, times, strict=True):
        out[cls] = out[cls] + per_stage * t
    layers = model.layers / plan.pp
    moe_layers = model.params.moe_layers / plan.pp
    peak = acc.peak_flop_per_s.get("bf16") or max(acc.peak_flop_per_s.values())
    frac, _ = attention_fraction(acc, attention, prefill_seq)
    frac = min(frac * compute_scale, 1.0)
    per_layer_kv = np.asarray(kv_bytes) / np.maximum(layers, 1e-9)
    per_layer_fl = np.asarray(attn_flops) / np.maximum(layers, 1e-9)
    t_att = np.maximum(np.maximum(per_layer_kv / bw, per_layer_fl / (peak * frac)), floor)
    out["attention"] = layers * t_att
    ew_bytes = rows * model.d_model * ACT * 3  # read input and residual, write output
    t_ew = np.maximum(ew_bytes / bw, floor)
    out["elementwise"] = (
        layers * ELEMENTWISE_PER_LAYER * t_ew + moe_layers * ELEMENTWISE_PER_MOE_LAYER * t_ew
    )
    return out
