"""Plan search: every tp x ep x pp x dp that fits the layout, both strategies, every batch.

Plans are enumerated in powers of two (and the domain size for TP): TP up to the
scale-up domain and the model's heads, PP up to 16 and the layers, DP to fill the
GPUs, EP (MoE only) from TP up to the experts. Each plan is placed once and its
collectives reduced to linear costs (:func:`topo.perf.comm_model`); then the batch
axis is evaluated as one numpy array, so the search costs microseconds per
configuration once placements are built.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo._arrays import unique
from topo._memo import bounded_put
from topo._memo import value_key as _value_key
from topo.errors import TopoError
from topo.layout import Layout
from topo.models import Model
from topo.perf import (
    DecodeTerms,
    Workload,
    bound_of,
    decode,
    decode_tpots,
    floor_key,
    floor_steps,
    keep_steps,
    memory,
    plan_comm,
)
from topo.place import Plan, plan_ranks
from topo.routing import Fabric, fabric_of

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "OBJECTIVES",
    "PlanRow",
    "PlanGroup",
    "PlanSearch",
    "candidate_plans",
    "collapse_replicas",
    "plan_search",
    "largest_batch_within",
    "pareto",
    "rank",
    "search",
    "search_bounded",
]

OBJECTIVES = ("throughput", "latency", "cost")


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One plan at one batch: the numbers a ranking needs."""

    plan: Plan
    strategy: str
    batch: int
    gpus: int
    time_per_output_token_s: float
    tokens_per_s_per_gpu: float
    usd_per_million_output_tokens: float
    bound: str
    latency_floor_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "plan": {
                "tp": self.plan.tp,
                "ep": self.plan.ep,
                "pp": self.plan.pp,
                "dp": self.plan.dp,
            },
            "strategy": self.strategy,
            "batch": self.batch,
            "gpus": self.gpus,
            "time_per_output_token_s": self.time_per_output_token_s,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
            "bound": self.bound,
            "latency_floor_s": self.latency_floor_s,
        }


def _powers(limit: int) -> list[int]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small) | {n // d for d in small})


def _sizes(total: int, domain: int) -> list[int]:
    """GPU counts a plan may occupy: each divisor of the domain, whole domains, powers of two.

    Whole domains are every count up to 64 domains, then powers of two of domains, and
    the whole cluster; so a 72-GPU rack runs plans on 72 GPUs, not only on 64.
    """
    domains = max(total // domain, 1)
    ks = set(range(1, min(domains, 64) + 1)) | set(_powers(domains)) | {domains}
    sizes = set(_divisors(domain)) | {k * domain for k in ks} | set(_powers(total))
    return sorted(s for s in sizes if s <= total)


def _tp_degrees(model: Model, domain: int) -> list[int]:
    """Tensor-parallel degrees inside one domain that split heads (and KV heads) whole."""
    out = []
    for t in range(1, min(domain, model.heads) + 1):
        if model.heads % t:
            continue
        kv = model.kv_heads
        if not model.mla and kv % t and t % kv:
            continue
        out.append(t)
    return out


def _ep_degrees(model: Model, ranks: int, domain: int) -> list[int]:
    """Expert-parallel degrees over `ranks` GPUs (tp x dp of one stage).

    Each must divide the ranks. Kept: those that split the experts evenly, the whole
    stage, and whole domains (a GPU then holds ceil(E / ep) experts, as DeepSeek's
    redundant experts do).
    """
    if not model.moe:
        return [1]
    experts = int(model.moe["experts"])
    return [
        e
        for e in _divisors(ranks)
        if e <= experts and (experts % e == 0 or e == ranks or e % domain == 0)
    ]


def candidate_plans(
    layout: Layout, model: Model, *, max_gpus: int | None = None, replicas: bool = True
) -> list[Plan]:
    """The plans the search tries (see the module notes).

    TP: every degree up to the domain that splits the heads whole; PP: powers of two up
    to 16 and the layers; DP: whatever makes tp x pp x dp one of :func:`_sizes` (a divisor
    of the domain, whole domains, a power of two); EP: :func:`_ep_degrees`. Left out: plans
    whose tp or ep groups, packed, would straddle domains (:func:`_straddling`).

    With ``replicas=False`` plans whose data-parallel degree only adds copies of the
    tp x ep block (tp x dp > max(tp, ep)) are left out: per GPU they do what the plan with
    one copy does, so a search for the best tokens/s per GPU need not place them.
    """
    total = max_gpus or layout.n_gpus
    domain = layout.gpus_per_domain
    key = (_value_key(model), total, domain, replicas)
    if key not in _CANDIDATES:
        bounded_put(_CANDIDATES, key, tuple(_candidates(model, total, domain, replicas)), 256)
    return [p for p in _CANDIDATES[key] if not _straddling(layout, p)]


def _straddling(layout: Layout, plan: Plan) -> bool:
    """Whether some tp or ep group of `plan`, packed, spans more domains than its first.

    A plan is timed on its slowest group of each kind (:func:`topo.place.timed_ranks`),
    and a search keeps to plans whose groups are alike. Packed
    placement skips GPUs to keep groups inside domains, but a plan that needs every GPU
    cannot: 32-GPU EP groups on 1,152 GPUs of 72-GPU racks put GPUs 64-95 across two.
    Only plans that :func:`_straddles` allows are placed (by rank arithmetic) to see;
    kept by the plan and the layout's shape (GPUs, domain, rack).
    """
    domain = layout.gpus_per_domain
    if not any(_straddles(g, plan.world, domain) for g in (plan.tp, plan.ep)):
        return False
    key = (plan, layout.n_gpus, domain, layout.rack.gpus)
    got = _STRADDLING.get(key)
    if got is None:
        from topo.place import rank_positions
        from topo.routing import Fabric

        fabric = _FABRICS.get(key[1:])
        if fabric is None:
            fabric = Fabric.from_layout(layout)
            bounded_put(_FABRICS, key[1:], fabric, 4)  # 131,072 GPUs: hundreds of MB each
        domains = fabric.domain[rank_positions(fabric, plan)]
        got = False
        for size in (plan.tp, plan.ep):  # each kind's groups: runs of consecutive ranks
            d = np.sort(domains.reshape(-1, size), axis=1)
            spans = 1 + np.count_nonzero(np.diff(d, axis=1), axis=1)
            got = got or bool(spans.max() > spans[0])
        bounded_put(_STRADDLING, key, got, 1 << 16)
    return got


# Plans that straddle, by plan and layout shape; the fabrics of the last shapes asked about.
_STRADDLING: dict[tuple[Any, ...], bool] = {}
_FABRICS: dict[tuple[int, int, int], Any] = {}


# Candidate plans by what they depend on: the model, the GPUs, the domain size (a
# study's designs that differ in anything else share them).
_CANDIDATES: dict[tuple[Any, ...], tuple[Plan, ...]] = {}


def _candidates(model: Model, total: int, domain: int, replicas: bool) -> list[Plan]:
    from topo.evaluation import check_plan  # not needed at start-up

    sizes = _sizes(total, domain)
    pps = [p for p in _powers(16) if p <= model.layers]
    plans = []
    for tp in _tp_degrees(model, domain):
        for pp in pps:
            dps = sorted({s // (tp * pp) for s in sizes if s % (tp * pp) == 0})
            for dp in dps:
                for ep in _ep_degrees(model, tp * dp, domain):
                    if not replicas and tp * dp > max(tp, ep):
                        continue
                    plan = Plan(tp=tp, ep=ep, pp=pp, dp=dp)
                    try:
                        check_plan(model, plan)
                    except TopoError:
                        continue
                    plans.append(plan)
    return plans


def _straddles(group: int, world: int, domain: int) -> bool:
    """Whether a plan's tp or ep groups of `group` GPUs may span more domains than its first.

    `world`: the plan's GPUs. Within one domain, or where the group divides the domain
    or the domain the group, no group can; otherwise :func:`_straddling` places the plan
    to see (this never misses one: a test checks it against every candidate placed).
    """
    if world <= domain:
        return False
    return bool(domain % group) if group <= domain else bool(group % domain)


def largest_batch_within(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    comm: Any,
    max_batch: int,
    max_latency_s: float,
) -> int:
    """The largest batch (up to `max_batch`) whose time per token meets the limit; 0: none.

    Batches are whole multiples of dp (each data-parallel rank runs whole sequences). Two
    vectorised passes on the step model: 256 batches spread geometrically, then every
    multiple between the last that meets the limit and the first that does not.
    """
    return _largest_batches(layout, model, workload, [(plan, comm, max_batch)], max_latency_s)[0]


def _largest_batches(
    layout: Layout,
    model: Model,
    workload: Workload,
    items: Sequence[tuple[Plan, Any, int]],
    limit: float,
) -> list[int]:
    """:func:`largest_batch_within` of each (plan, collectives, memory limit).

    Each pass's steps without collectives are worked out for all the plans at once, as
    stacks (:func:`topo.perf.keep_steps`: the same floats as one plan at a time).
    """
    tops = [max_b // p.dp for p, _, max_b in items]
    keep_steps(
        layout, model, workload,
        [(p, _grid(t) * p.dp) for (p, _, _), t in zip(items, tops, strict=True) if t >= 1],
    )  # fmt: skip
    out = [0] * len(items)
    fine: dict[int, np.ndarray] = {}
    for i, ((plan, comm, _), top) in enumerate(zip(items, tops, strict=True)):
        if top < 1:
            continue
        grid, _, ok = _grid_pass(layout, model, plan, workload, comm, top, limit)
        if not len(ok):
            continue
        k = int(ok[-1])
        out[i] = lo = int(grid[k])
        hi = int(grid[k + 1]) if k + 1 < len(grid) else lo
        if hi > lo + 1:
            fine[i] = np.arange(lo, hi + 1, dtype=float)
    keep_steps(
        layout, model, workload, [(items[i][0], f * items[i][0].dp) for i, f in fine.items()]
    )
    for i, f in fine.items():
        plan, comm, _ = items[i]
        tpot = decode(layout, model, plan, f * plan.dp, workload, comm).tpot
        ok = np.nonzero(np.asarray(tpot) <= limit)[0]
        out[i] = int(f[ok[-1]]) if len(ok) else out[i]
    return [lo * p.dp for lo, (p, _, _) in zip(out, items, strict=True)]


def _grid_pass(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    comm: Any,
    top: int,
    limit: float,
) -> tuple[np.ndarray, DecodeTerms, np.ndarray]:
    """The plan run at its grid of batches per rank up to `top`.

    Returns the grid, the decode terms and the indices of the batches that meet `limit`.
    """
    grid = _grid(top)
    d = decode(layout, model, plan, grid * plan.dp, workload, comm)
    return grid, d, np.nonzero(np.asarray(d.tpot) <= limit)[0]


@functools.lru_cache(maxsize=4096)
def _grid(top: int) -> np.ndarray:
    """256 batches per rank spread geometrically over 1..top (whole, distinct; read-only)."""
    grid = unique(np.round(np.geomspace(1, top, 256)))
    grid.flags.writeable = False
    return grid


def search(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    workload: Workload,
    *,
    plans: list[Plan] | None = None,
    batches: list[int] | None = None,
    strategies: tuple[str, ...] = ("packed", "naive"),
    max_latency_s: float | None = None,
    refine_latency_s: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    fabric: Fabric | None = None,
) -> list[PlanRow]:
    """Every plan x strategy x batch that fits in memory (and the latency limit).

    Batches are dp x (powers of two up to the memory limit, and the limit itself), plus,
    under a latency limit (`max_latency_s`, or `refine_latency_s` to add the batch without
    filtering rows), the largest batch that meets it.
    """
    target = max_latency_s if max_latency_s is not None else refine_latency_s
    workload.check()
    fabric = fabric or fabric_of(G)
    rows: list[PlanRow] = []
    same = _SameRanks()
    todo = plans if plans is not None else candidate_plans(layout, model)
    for done, plan in enumerate(todo):
        if progress is not None:
            progress(done, len(todo))
        if done % _AHEAD == 0:
            ahead = todo[done : done + _AHEAD]
            _steps_ahead(layout, model, workload, ahead, batches, target, strategies, fabric)
        bs, max_b = _batches(layout, model, plan, workload, batches)
        if not len(bs) or _too_slow(layout, model, plan, workload, max_latency_s):
            continue
        placed: list[tuple[str, ...]] = []
        for strategy in strategies:
            ranks = plan_ranks(fabric, plan, strategy=strategy)
            if any(same(r, ranks) for r in placed):  # naive == packed here: report it once
                continue
            placed.append(ranks)
            comm = plan_comm(fabric, plan, strategy, ranks)
            rows += _plan_rows(
                layout, model, plan, workload, comm, strategy,
                batches=bs, given=bool(batches), max_b=max_b,
                target=target, limit=max_latency_s,
            )  # fmt: skip
    if progress is not None:
        progress(len(todo), len(todo))
    return rows


class _SameRanks:
    """Whether two rank lists are equal, each pair of lists compared once.

    A search compares each plan's packed and naive ranks; those lists are kept per
    (strategy, block, world) (:func:`topo.place.plan_ranks`), so plans share them, and a
    list may hold 131,072 GPUs: comparing (or hashing) it for every plan cost seconds.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[int, int], bool] = {}
        self._held: list[tuple[str, ...]] = []  # alive while their ids are keys

    def __call__(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        if a is b:
            return True
        key = (id(a), id(b))
        got = self._known.get(key)
        if got is None:
            got = self._known[key] = a == b
            self._held += [a, b]
        return got


def _steps_ahead(
    layout: Layout,
    model: Model,
    workload: Workload,
    plans: list[Plan],
    batches: list[int] | None,
    target: float | None,
    strategies: tuple[str, ...],
    fabric: Fabric,
) -> None:
    """The steps without collectives that :func:`search` decodes `plans` at, stacked.

    Each plan's rows run at its batches; under a latency target, at them and the largest
    batch that meets it (:func:`_largest_batches`, its passes stacked too), and first at dp
    alone (:func:`_too_slow`: short runs are stacked too, each fitted exactly). Kept
    (:func:`topo.perf.keep_steps`): the same floats as one plan at a time.
    """
    fits = [(p, *_batches(layout, model, p, workload, batches)) for p in plans]
    fits = [(p, bs, max_b) for p, bs, max_b in fits if len(bs)]
    if target is None or batches:
        keep_steps(layout, model, workload, [(p, bs) for p, bs, _ in fits])
        return
    # Each plan's step at dp alone, which says whether it can meet the target at all.
    keep_steps(layout, model, workload, [(p, np.array([float(p.dp)])) for p, _, _ in fits])
    items = [
        (p, plan_comm(fabric, p, strategy, plan_ranks(fabric, p, strategy=strategy)), max_b, bs)
        for p, bs, max_b in fits
        if not _too_slow(layout, model, p, workload, target)
        for strategy in strategies
    ]
    tops = _largest_batches(layout, model, workload, [it[:3] for it in items], target)
    rows = [
        (p, unique(np.append(bs, float(top))))
        for (p, _, _, bs), top in zip(items, tops, strict=True)
        if top >= p.dp
    ]
    keep_steps(layout, model, workload, rows)


# search() works out this many plans' steps without collectives at a time, stacked.
_AHEAD = 256


# A plan's rows depend on the accelerator, model, plan, workload, its collectives (a
# value: the same lines on another design's fabric give the same times) and the limits:
# designs of a study that share them (another NIC where the plan stays inside a domain,
# another domain size that holds its groups) reuse them.
_ROWS: dict[tuple[Any, ...], list[PlanRow]] = {}


def _plan_rows(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    comm: Any,
    strategy: str,
    *,
    batches: np.ndarray,
    given: bool,
    max_b: int,
    target: float | None,
    limit: float | None,
) -> list[PlanRow]:
    """`plan`'s rows at `batches` (and, under `target`, the largest batch that meets it)."""
    key = (
        _value_key(layout.accelerator), _value_key(model), plan, workload, comm, strategy,
        batches.tobytes(), given, max_b, target, limit,
    )  # fmt: skip
    if key in _ROWS:
        return _ROWS[key]
    run = batches
    if target is not None and not given:
        # Not only powers of two: the largest batch that meets the latency limit.
        top = largest_batch_within(layout, model, plan, workload, comm, max_b, target)
        if top >= plan.dp:
            run = unique(np.append(batches, float(top)))
    d = decode(layout, model, plan, run, workload, comm)
    rows = _rows(plan, strategy, run, d, workload, limit)
    if len(_ROWS) > 1 << 16:
        _ROWS.clear()
    _ROWS[key] = rows
    return rows


def search_bounded(
    layout: Layout,
    G: nx.Graph | Fabric | None,
    model: Model,
    workload: Workload,
    plans: list[Plan],
    *,
    max_latency_s: float | None,
    weight: Callable[[PlanRow], float],
    feasible: Callable[[PlanRow], bool] | None = None,
    fabric: Fabric | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PlanRow]:
    """:func:`search` (packed) over the plans that can still beat the best found.

    Each plan's tokens/s per GPU is bounded from above by its step without collectives
    (they only add time) on its grid of batches (:func:`_grid_bounds`); plans are run best
    bound first, and the search stops at a plan whose bound x `weight` is below the best
    `feasible` row's tokens/s per GPU x `weight` (asked once per plan: of its plan and
    GPUs, not its speed). Every row that could rank first (ties included) is therefore in
    the result. A plan still above the best is bounded again with collectives its
    placement cannot beat, from its ranks alone (:func:`topo.perf.comm_floor`), then,
    still above it, placed and bounded with its own; below the best at either, skipped.
    `progress(done, total)`: plans passed, best bound first (the rest at once at the end).
    """
    weighed = _per_plan(weight)
    bare = zip(plans, _bounds(layout, model, plans, workload, max_latency_s), strict=True)
    bounds = sorted((-ub * weighed(p), i, p) for i, (p, ub) in enumerate(bare) if ub is not None)
    rows: list[PlanRow] = []
    best = -math.inf
    if fabric is None:
        if G is None:
            msg = "search_bounded needs the layout's graph or its fabric"
            raise ValueError(msg)
        fabric = fabric_of(G)
    workload.check()
    # By position: the plan's collectives, their bound, its batches and memory limit.
    placed: dict[int, tuple[Any, float, np.ndarray, int]] = {}
    # By position: the bound with collectives no placement can beat (comm_floor), taken
    # once a best is known, at once for every plan still above it.
    floors: dict[int, float] | None = None
    chunk = _CHUNK
    for k, (neg, _, plan) in enumerate(bounds):
        (progress or _quiet)(k, len(bounds))
        if -neg < best:
            break
        if k not in placed:
            # This plan and the next that can still beat the best, placed and bounded
            # with their collectives together (the first is searched whatever its bound).
            ahead = [j for j in range(k, min(k + chunk, len(bounds))) if -bounds[j][0] >= best]
            sizes = {j: _batches(layout, model, bounds[j][2], workload, None) for j in ahead}
            if best > -math.inf:
                floors = floors or _floors_above(
                    layout, model, workload, fabric, bounds, k, best, max_latency_s
                )
                # A plan below the best with the floor is below it placed too: skipped.
                for j in list(ahead):
                    if floors[j] * weighed(bounds[j][2]) < best:
                        placed[j] = (None, floors[j], *sizes[j])
                        ahead.remove(j)
            comms = [plan_comm(fabric, bounds[j][2]) for j in ahead]
            runs = [(bounds[j][2], c, sizes[j][1]) for j, c in zip(ahead, comms, strict=True)]
            ubs = _comm_bounds(layout, model, workload, runs, max_latency_s)
            for j, c, ub in zip(ahead, comms, ubs, strict=True):
                placed[j] = (c, ub, *sizes[j])
            chunk = min(2 * chunk, _CHUNK_MAX)
        comm, ub, bs, max_b = placed[k]
        if best > -math.inf and ub * weighed(plan) < best:
            continue
        # As search() runs one plan, packed, at its own batches (it has placed it here).
        got = _plan_rows(
            layout, model, plan, workload, comm, "packed", batches=bs, given=False,
            max_b=max_b, target=max_latency_s, limit=max_latency_s,
        )  # fmt: skip
        rows += got
        for r in got:
            if feasible is None or feasible(r):
                best = max(best, r.tokens_per_s_per_gpu * weight(r))
    (progress or _quiet)(len(bounds), len(bounds))
    return rows


def _quiet(done: int, total: int) -> None:
    """A progress callback that reports nothing."""


def _floors_above(
    layout: Layout,
    model: Model,
    workload: Workload,
    fabric: Fabric,
    bounds: list[tuple[float, int, Plan]],
    start: int,
    best: float,
    limit: float | None,
) -> dict[int, float]:
    """By position: :func:`_floor_bounds` of the plans from `start` still at `best` or above.

    `bounds`: (negated bound, index, plan), best first.
    """
    rest = [j for j in range(start, len(bounds)) if -bounds[j][0] >= best]
    runs = [(bounds[j][2], _batches(layout, model, bounds[j][2], workload, None)[1]) for j in rest]
    got = _floor_bounds(layout, model, workload, fabric, runs, limit)
    return dict(zip(rest, got, strict=True))


def _per_plan(weight: Callable[[PlanRow], float]) -> Callable[[Plan], float]:
    """`weight` of a plan's rows, asked once per plan (of a row standing for them)."""
    weights: dict[Plan, float] = {}

    def weighed(plan: Plan) -> float:
        got = weights.get(plan)
        if got is None:
            got = weights[plan] = weight(_probe(plan))
        return got

    return weighed


@functools.lru_cache(maxsize=1 << 13)
def _probe(plan: Plan) -> PlanRow:
    """A row standing for the plan's rows (for the search's weight: plan and GPUs; kept)."""
    return PlanRow(plan, "packed", 1, plan.world, 0.0, 0.0, 0.0, "", 0.0)


# Plans placed and bounded together in search_bounded: the first alone (it sets the best
# that the floors of the next are held to), then twice as many each time up to the most.
_CHUNK, _CHUNK_MAX = 1, 256


def _comm_bounds(
    layout: Layout,
    model: Model,
    workload: Workload,
    runs: list[tuple[Plan, Any, int]],
    limit: float | None,
) -> list[float]:
    """A bound on each run's tokens/s per GPU, their steps run at once.

    Runs are (plan, collectives or None, memory limit). Under `limit`, its grid's
    (:func:`_grid_bounds`); without one, the most tokens/s of the batches its rows run
    and the memory limit (tokens/s need not rise with the batch: past some batch a step
    can grow faster than it, and they fall), raised by :data:`_PATH_MARGIN`.
    """
    if limit is not None:
        return _grid_bounds(layout, model, workload, runs, limit)
    batches = [_on_curve(_batches(layout, model, p, workload, None)[0], b) for p, _, b in runs]
    steps = decode_tpots(
        layout, model, workload, [(p, bs, c) for (p, c, _), bs in zip(runs, batches, strict=True)]
    )
    return [
        float(np.max(tps)) / p.world * (1 + _PATH_MARGIN)
        for (p, _, _), (_, tps) in zip(runs, steps, strict=True)
    ]


def _on_curve(batches: np.ndarray, max_batch: int) -> np.ndarray:
    """A plan's batches and its memory limit, as a bound runs them: at least 9.

    The last is repeated up to 9, so that the kernel layer reads its cached curves and
    the runs are stacked. Its rows (8 batches or fewer) fit each GEMM exactly instead, to
    about 1% of the curve: :data:`_PATH_MARGIN` covers it. Repeating a batch leaves the
    most tokens/s as it is.
    """
    run = np.append(batches, float(max_batch))
    return np.append(run, np.full(max(0, 9 - len(run)), run[-1]))


def _floor_bounds(
    layout: Layout,
    model: Model,
    workload: Workload,
    fabric: Fabric,
    runs: list[tuple[Plan, int]],
    limit: float | None,
) -> list[float]:
    """:func:`_comm_bounds` of each (plan, memory limit) with :func:`comm_floor`'s collectives.

    Their steps run as the rows of one array (:func:`topo.perf.floor_steps`): the same
    floats, for hundreds of plans in a few array calls.
    """
    out = [0.0] * len(runs)
    todo, batches, keys = [], [], {}
    acc, mod = _value_key(layout.accelerator), _value_key(model)
    for i, (plan, max_batch) in enumerate(runs):
        top = max_batch if limit is None else max_batch // plan.dp
        key = (acc, mod, plan, workload, floor_key(fabric, plan), top, limit)
        got = _FLOOR_BOUNDS.get(key)
        if got is not None:
            out[i] = got
            continue
        keys[i] = key
        if limit is None:
            batches.append(_on_curve(_batches(layout, model, plan, workload, None)[0], max_batch))
        elif max_batch // plan.dp >= 1:
            batches.append(_grid(max_batch // plan.dp) * plan.dp)
        else:
            continue
        todo.append(i)
    if not todo:
        return out
    tpot, tokens, n = floor_steps(
        layout,
        model,
        workload,
        fabric,
        [(runs[i][0], b) for i, b in zip(todo, batches, strict=True)],
    )
    col = np.arange(tpot.shape[1])
    upto = n - 1
    if limit is not None:
        # As _grid_bounds: up to the first grid batch past the last within the limit.
        last = np.max(np.where((tpot <= limit) & (col < n[:, None]), col, -1), axis=1)
        upto = np.where(last >= 0, np.minimum(last + 1, n - 1), -1)
    most = np.max(np.where(col <= upto[:, None], tokens, -np.inf), axis=1)
    for i, got, end in zip(todo, most.tolist(), upto.tolist(), strict=True):
        if limit is None or end >= 0:  # else none of its grid meets the limit: 0
            out[i] = got / runs[i][0].world * (1 + _PATH_MARGIN)
    for i, key in keys.items():
        bounded_put(_FLOOR_BOUNDS, key, out[i], 1 << 18)
    return out


# Floor bounds by value (accelerator, model, plan, workload, what the floor depends on,
# the grid's top or memory limit, the latency limit): designs whose floors match share them.
_FLOOR_BOUNDS: dict[tuple[Any, ...], float] = {}


def _grid_bounds(
    layout: Layout,
    model: Model,
    workload: Workload,
    runs: list[tuple[Plan, Any, int]],
    limit: float,
) -> list[float]:
    """A bound on each plan's tokens/s per GPU with its collectives, from the search's grid.

    :func:`largest_batch_within` first runs the plan at its grid of batches; the largest
    batch that meets `limit` lies below the first grid batch after the last that does (or
    is the last), so the most tokens/s of the grid up to there (raised by
    :data:`_PATH_MARGIN`) bound every row. Tokens/s need not rise with the batch (past
    some batch a step can grow faster than it, and they fall); they must only not peak
    between two neighbouring grid batches by more than the margin. The same steps
    :func:`_plan_rows` then runs (kept, so it pays nothing twice). Runs are (plan,
    collectives, memory limit); their decode steps are run together
    (:func:`topo.perf.decode_tpots`: collectives timed in one call per group's lines), so
    bounding hundreds of placed plans costs a few array calls; kept by value
    (:data:`_GRID_BOUNDS`).
    """
    out = [0.0] * len(runs)
    todo: list[tuple[int, tuple[Any, ...], Plan, np.ndarray]] = []
    acc, mod = _value_key(layout.accelerator), _value_key(model)
    for i, (plan, comm, max_batch) in enumerate(runs):
        top = max_batch // plan.dp
        if top < 1:
            continue
        key = (acc, mod, plan, workload, comm, top, limit)
        got = _GRID_BOUNDS.get(key)
        if got is None:
            todo.append((i, key, plan, _grid(top)))
        else:
            out[i] = got
    steps = decode_tpots(
        layout, model, workload, [(plan, grid * plan.dp, runs[i][1]) for i, _, plan, grid in todo]
    )
    for (i, key, plan, grid), (tpot, tokens_per_s) in zip(todo, steps, strict=True):
        ok = np.nonzero(tpot <= limit)[0]
        got = 0.0
        if len(ok):
            first_out = min(int(ok[-1]) + 1, len(grid) - 1)
            most = float(np.max(tokens_per_s[: first_out + 1]))
            got = most / plan.world * (1 + _PATH_MARGIN)
        bounded_put(_GRID_BOUNDS, key, got, 1 << 18)
        out[i] = got
    return out


# Grid bounds by value (accelerator, model, plan, workload, collectives, limit): designs
# where a plan's collectives are the same (another NIC, inside a domain) share them.
_GRID_BOUNDS: dict[tuple[Any, ...], float] = {}


# A plan's rows may run at a few batches at once (8 or fewer: its batches without a
# latency limit, or a grid batch and the largest within it), where the kernel layer fits
# each GEMM shape exactly, not on its cached curve. The two differ by up to 1.2% of a
# step (3,170 sampled batches of random plans on ten layout and model pairs: MI300X's
# sparse GEMM table the widest; tests/test_design.py checks a sample against half this
# margin). Every bound (taken on the curve, at more batches) is raised by this much so
# that it stays above such a row (and above a row between two grid batches, a few per
# cent apart, where tokens/s peak).
_PATH_MARGIN = 2e-2


# Bounds depend on the accelerator, model, plan, workload and limit only (no network):
# designs of a study that share them (another NIC, domain size or cost) reuse them.
_BOUNDS: dict[tuple[Any, ...], float | None] = {}


def _bounds(
    layout: Layout, model: Model, plans: list[Plan], bare: Workload, limit: float | None
) -> list[float | None]:
    """An upper bound on each plan's tokens/s per GPU under `limit` (None: it cannot run).

    The step without collectives: never slower than with them, so its bound
    (:func:`_comm_bounds` with no collectives) is above every row the search can find for
    the plan. Kept for the process (:data:`_BOUNDS`); the steps not kept yet run together.
    A list of plans asked for again (a study's designs of one domain size) is kept whole.
    """
    acc, mod = _value_key(layout.accelerator), _value_key(model)
    whole = (acc, mod, bare, limit, tuple(plans))
    got = _BOUND_LISTS.get(whole)
    if got is not None:
        return list(got)
    keys = [(acc, mod, plan, bare, limit) for plan in plans]
    todo = [
        (k, p, _batches(layout, model, p, bare, None))
        for k, p in zip(keys, plans, strict=True)
        if k not in _BOUNDS
    ]
    runs = [(p, None, max_b) for _, p, (bs, max_b) in todo if len(bs)]
    ubs = iter(_comm_bounds(layout, model, bare, runs, limit))
    for key, _, (bs, _) in todo:
        ub = next(ubs) if len(bs) else 0.0
        bounded_put(_BOUNDS, key, ub if ub > 0 else None, 1 << 18)
    out = [_BOUNDS.get(k) for k in keys]
    bounded_put(_BOUND_LISTS, whole, tuple(out), 64)
    return out


# _bounds' answers by their whole list of plans (at most 64 lists).
_BOUND_LISTS: dict[tuple[Any, ...], tuple[float | None, ...]] = {}


def _batches(
    layout: Layout, model: Model, plan: Plan, workload: Workload, batches: list[int] | None
) -> tuple[np.ndarray, int]:
    """The batches to run `plan` at (none if it does not fit), and its memory limit.

    Kept by value (accelerator, model, plan, workload, batches): designs share them.
    """
    key = (
        _value_key(layout.accelerator), _value_key(model), plan, workload,
        tuple(batches) if batches else None,
    )  # fmt: skip
    got = _BATCHES.get(key)
    if got is None:
        got = _batches_of(layout, model, plan, workload, batches)
        got[0].flags.writeable = False
        bounded_put(_BATCHES, key, got, 1 << 16)
    return got


_BATCHES: dict[tuple[Any, ...], tuple[np.ndarray, int]] = {}


def _batches_of(
    layout: Layout, model: Model, plan: Plan, workload: Workload, batches: list[int] | None
) -> tuple[np.ndarray, int]:
    mem1 = memory(layout, model, plan, 1, workload)
    if not mem1.fits:
        return np.zeros(0), 0
    max_b = mem1.max_batch
    if batches:
        bs = unique(np.array(batches, dtype=float))
    else:
        # Per data-parallel rank: powers of two and the most that fits (throughput rises
        # with batch, so without a latency limit a plan's best is at its memory limit,
        # not at a power of two); whole sequences on every rank.
        top = max_b // plan.dp
        bs = unique(np.array([*_powers(top), top], dtype=float)) * plan.dp
    # Every data-parallel rank needs a sequence: fewer leave whole replicas idle.
    return bs[(bs <= max_b) & (bs >= plan.dp)], max_b


def _too_slow(
    layout: Layout, model: Model, plan: Plan, workload: Workload, limit: float | None
) -> bool:
    """Whether `plan` misses the limit even without communication (then at every batch).

    Communication only adds time, so such a plan meets the limit nowhere it is placed.
    """
    if limit is None:
        return False
    bare = decode(layout, model, plan, np.array([float(plan.dp)]), workload, None)
    return float(bare.tpot[0]) > limit


def _rows(
    plan: Plan,
    strategy: str,
    batches: np.ndarray,
    d: DecodeTerms,
    workload: Workload,
    limit: float | None,
) -> list[PlanRow]:
    usd = plan.world * workload.gpu_hour_usd / 3600 / d.tokens_per_s * 1e6
    rows = []
    for i, b in enumerate(batches):
        tpot = float(d.tpot[i])
        if limit is not None and tpot > limit:
            continue
        rows.append(
            PlanRow(
                plan,
                strategy,
                int(b),
                plan.world,
                tpot,
                float(d.tokens_per_s[i]) / plan.world,
                float(usd[i]),
                bound_of(d, i),
                float(d.floor[i]),
            )
        )
    return rows


def rank(rows: list[PlanRow], objective: str) -> list[PlanRow]:
    """Best first: lowest latency, highest tokens/s per GPU, or lowest cost per token."""
    if objective not in OBJECTIVES:
        msg = f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        raise TopoError(msg)
    if objective == "latency":
        return sorted(
            rows, key=lambda r: (r.time_per_output_token_s, -r.tokens_per_s_per_gpu, r.gpus)
        )
    if objective == "cost":
        return sorted(
            rows, key=lambda r: (r.usd_per_million_output_tokens, r.time_per_output_token_s, r.gpus)
        )
    return sorted(rows, key=lambda r: (-r.tokens_per_s_per_gpu, r.time_per_output_token_s, r.gpus))


def pareto(rows: list[PlanRow]) -> list[PlanRow]:
    """The rows no other row beats on both latency and tokens/s per GPU, fastest first."""
    front: list[PlanRow] = []
    best = -1.0
    for r in sorted(
        rows, key=lambda r: (r.time_per_output_token_s, -r.tokens_per_s_per_gpu, r.gpus)
    ):
        if r.tokens_per_s_per_gpu > best:
            front.append(r)
            best = r.tokens_per_s_per_gpu
    return front


def _replica_key(r: PlanRow) -> tuple[Any, ...] | None:
    p = r.plan
    unit = max(p.tp, p.ep) // p.tp  # data-parallel ranks of one tp x ep block
    if p.dp % unit:
        return None
    copies = p.dp // unit
    return (
        p.tp,
        p.ep,
        p.pp,
        unit,
        r.strategy,
        r.batch / copies,
        f"{r.time_per_output_token_s:.6g}",
        f"{r.tokens_per_s_per_gpu:.6g}",
        r.bound,
    )


def collapse_replicas(rows: list[PlanRow]) -> list[tuple[PlanRow, list[PlanRow]]]:
    """Rows that differ only in copies of one tp x ep x pp block, folded into the first.

    Order is kept (rank first). A plan with dp = c x (max(tp, ep) / tp) is c copies of its
    block; at c times the batch it has the same time per token and tokens/s per GPU, so a
    table shows it once, with the copies that exist.
    """
    out: list[tuple[PlanRow, list[PlanRow]]] = []
    where: dict[tuple[Any, ...], int] = {}
    for r in rows:
        key = _replica_key(r)
        if key is not None and key in where:
            out[where[key]][1].append(r)
            continue
        if key is not None:
            where[key] = len(out)
        out.append((r, [r]))
    return out


@dataclass(frozen=True, slots=True)
class PlanGroup:
    """A ranked row and the rows that differ from it only in copies of its block."""

    row: PlanRow
    copies: tuple[PlanRow, ...]  # by GPUs, the row among them

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON, with ``replicas`` (dp, GPUs, batch of each copy count)."""
        d = self.row.to_dict()
        if len(self.copies) > 1:
            d["replicas"] = {
                "dp": [r.plan.dp for r in self.copies],
                "gpus": [r.gpus for r in self.copies],
                "batch": [r.batch for r in self.copies],
            }
        return d


@dataclass(frozen=True, slots=True)
class PlanSearch:
    """``topo plan``: every configuration that fits, the best, the top, the Pareto front."""

    model: str
    layout: str
    objective: str
    rows: tuple[PlanRow, ...]  # every configuration that fits (and meets the limit)
    ranked: tuple[PlanGroup, ...]  # the top groups, best first
    pareto: tuple[PlanGroup, ...]

    @property
    def best(self) -> PlanRow:
        """The best configuration by the objective."""
        return self.ranked[0].row

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo plan --json`` prints."""
        return {
            "model": self.model,
            "layout": self.layout,
            "objective": self.objective,
            "configurations": len(self.rows),
            "best": self.best.to_dict(),
            "ranked": [g.to_dict() for g in self.ranked],
            "pareto": [g.to_dict() for g in self.pareto],
        }

    def records(self) -> list[dict[str, Any]]:
        """Every configuration as a flat row, for a DataFrame."""
        return [{**r.to_dict().pop("plan"), **_flat(r)} for r in self.rows]


def _flat(r: PlanRow) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("plan")
    return d


def plan_search(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    workload: Workload,
    objective: str = "throughput",
    max_latency_s: float | None = None,
    *,
    top: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> PlanSearch:
    """Search, rank by `objective`, fold copies of one block, and find the Pareto front."""
    rows = search(layout, G, model, workload, max_latency_s=max_latency_s, progress=progress)
    if not rows:
        msg = "no plan fits in memory" + (
            f" within {round(max_latency_s * 1e3, 9)!r} ms per token" if max_latency_s else ""
        )
        raise TopoError(msg)
    ranked = rank(rows, objective)
    groups = collapse_replicas(ranked)
    folded = {
        id(first): PlanGroup(first, tuple(sorted(same, key=lambda r: r.gpus)))
        for first, same in groups
    }
    return PlanSearch(
        model=model.name,
        layout=layout.name,
        objective=objective,
        rows=tuple(rows),
        ranked=tuple(folded[id(first)] for first, _ in groups[:top]),
        pareto=tuple(folded[id(r)] for r in pareto([first for first, _ in groups])),
    )
