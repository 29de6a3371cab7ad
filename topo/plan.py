"""Plan search: every tp x ep x pp x dp that fits the layout, both strategies, every batch.

Plans are enumerated in powers of two (and the domain size for TP): TP up to the
scale-up domain and the model's heads, PP up to 16 and the layers, DP to fill the
GPUs, EP (MoE only) from TP up to the experts. Each plan is placed once and its
collectives reduced to linear costs (:func:`topo.perf.comm_model`); then the batch
axis is evaluated as one numpy array, so the search costs microseconds per
configuration once placements are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from topo.errors import TopoError
from topo.layout import Layout
from topo.models import Model
from topo.perf import Workload, bound_of, comm_model, decode, memory
from topo.place import Plan, place
from topo.routing import Fabric

__all__ = [
    "OBJECTIVES",
    "PlanRow",
    "candidate_plans",
    "largest_batch_within",
    "pareto",
    "rank",
    "search",
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


def candidate_plans(
    layout: Layout, model: Model, *, max_gpus: int | None = None, replicas: bool = True
) -> list[Plan]:
    """The plans the search tries (see the module notes).

    With ``replicas=False`` plans whose data-parallel degree only adds copies of the
    tp x ep block (tp x dp > max(tp, ep)) are left out: per GPU they do what the plan with
    one copy does, so a search for the best tokens/s per GPU need not place them.
    """
    total = max_gpus or layout.n_gpus
    domain = layout.gpus_per_domain
    tps = sorted(
        {t for t in _powers(domain) if t <= model.heads}
        | ({domain} if domain <= model.heads else set())
    )
    pps = [p for p in _powers(16) if p <= model.layers]
    plans = []
    for tp in tps:
        for pp in pps:
            for dp in _powers(total // (tp * pp)):
                eps = _powers(min(tp * dp, model.moe["experts"])) if model.moe else [1]
                for ep in eps:
                    plan = Plan(tp=tp, ep=ep, pp=pp, dp=dp)
                    if not replicas and tp * dp > max(tp, ep):
                        continue
                    if plan.world <= total:
                        try:
                            plan.check()
                        except TopoError:
                            continue
                        plans.append(plan)
    return plans


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

    Two vectorised passes on the step model: 256 batches spread geometrically, then every
    whole batch between the last that meets the limit and the first that does not.
    """
    if max_batch < 1:
        return 0
    grid = np.unique(np.round(np.geomspace(1, max_batch, 256)))
    t = decode(layout, model, plan, grid, workload, comm)["tpot"]
    ok = np.nonzero(t <= max_latency_s)[0]
    if not len(ok):
        return 0
    k = int(ok[-1])
    lo = int(grid[k])
    hi = int(grid[k + 1]) if k + 1 < len(grid) else lo
    if hi <= lo + 1:
        return lo
    fine = np.arange(lo, hi + 1, dtype=float)
    t = decode(layout, model, plan, fine, workload, comm)["tpot"]
    ok = np.nonzero(t <= max_latency_s)[0]
    return int(fine[ok[-1]]) if len(ok) else lo


def search(
    layout: Layout,
    G: nx.Graph,
    model: Model,
    workload: Workload,
    *,
    plans: list[Plan] | None = None,
    batches: list[int] | None = None,
    strategies: tuple[str, ...] = ("packed", "naive"),
    max_latency_s: float | None = None,
    refine_latency_s: float | None = None,
) -> list[PlanRow]:
    """Every plan x strategy x batch that fits in memory (and the latency limit).

    Batches are powers of two up to the memory limit, plus, under a latency limit
    (`max_latency_s`, or `refine_latency_s` to add the batch without filtering rows), the
    largest batch that meets it.
    """
    target = max_latency_s if max_latency_s is not None else refine_latency_s
    workload.check()
    fabric = Fabric(G)
    rows: list[PlanRow] = []
    seen: set[tuple[Any, ...]] = set()
    for plan in plans if plans is not None else candidate_plans(layout, model):
        mem1 = memory(layout, model, plan, 1, workload)
        if not mem1["fits"]:
            continue
        max_b = mem1["max_batch"]
        bs = np.array(batches if batches else _powers(max(max_b, 1)), dtype=float)
        bs = bs[bs <= max_b]
        if not len(bs):
            continue
        for strategy in strategies:
            placement = place(G, plan, strategy=strategy)
            key = (plan, placement.ranks)
            if key in seen:  # naive == packed on this layout: report it once
                continue
            seen.add(key)
            comm = comm_model(fabric, placement)
            run = bs
            if target is not None and not batches:
                # Not only powers of two: the largest batch that meets the latency limit.
                top = largest_batch_within(layout, model, plan, workload, comm, max_b, target)
                if top:
                    run = np.unique(np.append(bs, float(top)))
            d = decode(layout, model, plan, run, workload, comm)
            bs_run = run
            usd = plan.world * workload.gpu_hour_usd / 3600 / d["tokens_per_s"] * 1e6
            for i, b in enumerate(bs_run):
                tpot = float(d["tpot"][i])
                if max_latency_s is not None and tpot > max_latency_s:
                    continue
                rows.append(
                    PlanRow(
                        plan,
                        strategy,
                        int(b),
                        plan.world,
                        tpot,
                        float(d["tokens_per_s"][i]) / plan.world,
                        float(usd[i]),
                        bound_of(d, i),
                        float(d["floor"][i]),
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
    for r in sorted(rows, key=lambda r: (r.time_per_output_token_s, -r.tokens_per_s_per_gpu)):
        if r.tokens_per_s_per_gpu > best:
            front.append(r)
            best = r.tokens_per_s_per_gpu
    return front
