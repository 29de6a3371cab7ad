"""One plan on one layout, reported whole: ``evaluate`` (one batch) and ``sweep`` (many).

Builds the placement and its collectives, runs the roofline engine of
:mod:`topo.perf` and gathers decode, prefill, floor, critical batch, memory and cost
into the plain data that ``topo evaluate`` and ``topo sweep`` print.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.errors import PlacementError, TopoError
from topo.layout import Layout
from topo.models import Model
from topo.perf import (
    CommModel,
    DecodeTerms,
    Workload,
    _compute_dtype,
    bound_of,
    comm_model,
    critical_batches,
    decode,
    memory,
    placement_domains,
    prefill,
)
from topo.place import Placement, Plan, place, timed_note
from topo.results import (
    Cost,
    CriticalBatches,
    Decode,
    Evaluation,
    Floor,
    FloorBasis,
    Memory,
    Prefill,
    StageStep,
    Sweep,
    SweepRow,
)
from topo.routing import Fabric, fabric_of

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "PlanParts",
    "RooflineData",
    "RooflineEfficiency",
    "RooflinePoint",
    "check_fits",
    "check_plan",
    "evaluate",
    "plan_parts",
    "roofline_data",
    "sweep",
]


def evaluate(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    plan: Plan,
    batch: int,
    workload: Workload,
    *,
    strategy: str = "packed",
    fabric: Fabric | None = None,
    parts: PlanParts | None = None,
    decoded: tuple[DecodeTerms, int] | None = None,
) -> Evaluation:
    """Everything ``topo evaluate`` reports for one plan and batch.

    `parts` (the plan's placement, collectives, prefill and critical batches) and
    `decoded` (decode arrays and the index of `batch` in them) let a caller that asks
    many questions of one plan (:class:`topo.scenario.Scenario`) compute them once.
    """
    workload.check()
    if batch < 1:
        msg = f"--batch must be >= 1, got {batch}"
        raise TopoError(msg)
    check_plan(model, plan)
    if parts is None:
        parts = plan_parts(layout, G, model, plan, workload, strategy=strategy, fabric=fabric)
    d, i = decoded or (
        decode(layout, model, plan, np.array([float(batch)]), workload, parts.comm),
        0,
    )
    mem = memory(layout, model, plan, batch, workload)
    cost = _cost(d, i, plan, workload, parts.prefill)
    acc = layout.accelerator
    return Evaluation(
        model=model.name,
        layout=layout.name,
        plan=plan,
        strategy=strategy,
        batch=batch,
        context=workload.mean_context,
        dtypes={
            "weights": workload.weights,
            "kv": workload.kv,
            "compute": _compute_dtype(layout, workload),
        },
        decode=_decode_result(d, i, plan, batch, workload),
        prefill=parts.prefill,
        floor=_floor(d, i, model, plan, workload),
        critical_batch=parts.critical,
        memory=mem,
        cost=cost,
        efficiency={
            "hbm": 1.0 if workload.ideal else acc.efficiency.hbm,
            "flops": 1.0 if workload.ideal else acc.efficiency.compute,
        },
        efficiency_basis=_basis(layout, workload) | _groups(parts.placement, fabric or G),
        overlap=workload.overlap,
        ideal=workload.ideal,
        fidelity=workload.losses.to_dict(),
    )


def _decode_result(d: DecodeTerms, i: int, plan: Plan, batch: int, workload: Workload) -> Decode:
    """The decode step at index `i` of `d`: times, rates, bound, terms and kernel classes."""
    n = plan.world
    kernels = _kernel_breakdown(d, workload, i)
    return Decode(
        step_time_s=float(d.tpot[i]),
        time_per_output_token_s=float(d.tpot[i]),
        tokens_per_s=float(d.tokens_per_s[i]),
        tokens_per_s_per_gpu=float(d.tokens_per_s[i]) / n,
        sequences_in_flight=plan.pp * batch,
        bound=bound_of(d, i),
        memory_bound_by="weights" if d.weights[i] >= d.kv[i] else "kv",
        breakdown_s=d.breakdown(i),
        kernels_s=kernels,
        dominant_kernel_class=max(kernels, key=lambda k: kernels[k]) if kernels else None,
        moe_imbalance=float(d.moe_imbalance[i]),
        per_gpu_stage_step=StageStep(
            weight_bytes=float(d.weight_bytes_per_gpu[i]),
            kv_bytes=float(d.kv_bytes_per_gpu[i]),
            flops=float(d.flops_per_gpu[i]),
        ),
    )


def _cost(d: DecodeTerms, i: int, plan: Plan, workload: Workload, pre: Prefill) -> Cost:
    """USD per million output tokens (decode at index `i` of `d`) and input tokens (prefill)."""
    usd_per_s = plan.world * workload.gpu_hour_usd / 3600
    out_cost = usd_per_s / float(d.tokens_per_s[i]) * 1e6
    in_cost = usd_per_s / pre.tokens_per_s * 1e6
    return Cost(
        gpu_hour_usd=workload.gpu_hour_usd,
        usd_per_million_output_tokens=out_cost,
        usd_per_million_input_tokens=in_cost,
        decode_to_prefill_cost_ratio=out_cost / in_cost if in_cost > 0 else None,
    )


@dataclass(slots=True)
class PlanParts:
    """What one plan's questions share, whatever the batch (each part made when asked)."""

    layout: Layout
    model: Model
    plan: Plan
    workload: Workload
    placement: Placement
    comm: CommModel
    _prefill: Prefill | None = None
    _critical: CriticalBatches | None = None

    @property
    def prefill(self) -> Prefill:
        """One prompt's prefill on the plan."""
        if self._prefill is None:
            pre = prefill(self.layout, self.model, self.plan, self.workload, self.comm)
            self._prefill = Prefill(
                time_s=pre.time_s,
                tokens_per_s=pre.tokens_per_s,
                bound=pre.bound,
                prompt_tokens=self.workload.input_tokens,
                kernels_s=pre.kernels_s,
            )
        return self._prefill

    @property
    def critical(self) -> CriticalBatches:
        """The critical batches (they do not depend on the batch)."""
        if self._critical is None:
            self._critical = critical_batches(self.layout, self.model, self.plan, self.workload)
        return self._critical


def plan_parts(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    plan: Plan,
    workload: Workload,
    *,
    strategy: str = "packed",
    fabric: Fabric | None = None,
) -> PlanParts:
    """Place the plan and reduce its collectives to costs.

    Prefill and critical batches follow when first asked for.
    """
    placement = place(G, plan, strategy=strategy)
    comm = comm_model(fabric or fabric_of(G), placement)
    return PlanParts(layout, model, plan, workload, placement, comm)


def _floor(d: DecodeTerms, i: int, model: Model, plan: Plan, workload: Workload) -> Floor:
    return Floor(
        per_token_s=float(d.floor[i]),
        per_step_s=float(d.floor_step[i]),
        # The reference's convention: every weight, the whole input embedding included.
        all_weights_s=float(d.floor_all_weights[i]),
        basis=_floor_basis(model, plan, workload),
    )


def _kernel_breakdown(d: DecodeTerms, workload: Workload, i: int = 0) -> dict[str, float]:
    """Time of one decode step by kernel class [s] ({} on the clean roofline)."""
    from topo.perf import KERNEL_CLASSES

    if not workload.losses.enabled:
        return {}
    out = {k: float(d.kernels[k][i]) for k in KERNEL_CLASSES}
    if not any(out.values()):
        return {}
    out["communication"] = float(d.communication[i])
    out["host"] = workload.losses.step_overhead_s * (out["gemm"] > 0)
    return out


def _groups(placement: Placement, G: nx.Graph | Fabric) -> dict[str, str]:
    """``{"groups": ...}`` where a kind is timed on another group than rank 0's, else {}.

    (:func:`topo.place.timed_note`: the groups of a kind differ across domains.)
    """
    note = timed_note(placement.plan, placement_domains(fabric_of(G), placement))
    return {"groups": note} if note else {}


def _basis(layout: Layout, workload: Workload) -> dict[str, str]:
    """Where the kernel and collective efficiencies come from, in words."""
    from topo.kernels import collective_basis, gemm_basis, has_engine_curve

    if not workload.losses.enabled:
        return {"all": "clean roofline: catalogue fractions, link-rate collectives"}
    acc = layout.accelerator
    dtype = _compute_dtype(layout, workload)
    link = str(layout.scale_up.link.name)  # the graph's scale_up_link
    return {
        "gemm": gemm_basis(acc, dtype),
        "hbm": acc.efficiency.basis,
        "collectives": collective_basis(link, "all-reduce", 8, "library")
        + (
            "; engines' own all-reduce where faster" if has_engine_curve(link, "all-reduce") else ""
        ),
    }


def _floor_basis(model: Model, plan: Plan, workload: Workload) -> FloorBasis:
    """Whose bandwidth the floor of this plan uses, and the tokens a step emits."""
    block = max(plan.tp, plan.ep) if model.moe else plan.tp
    return FloorBasis(
        dense_weights_gpus=plan.tp,
        expert_weights_gpus=block if model.moe else None,
        tokens_per_step=workload.losses.accepted_tokens_per_step,
        note=(
            "data-parallel attention: each of the "
            f"{block // plan.tp} tp groups of an EP block holds its own dense weights"
            if block > plan.tp
            else ""
        ),
    )


def check_plan(model: Model, plan: Plan) -> None:
    """Raise :class:`PlacementError` for a plan the model cannot be split by."""
    plan.check()
    if plan.tp > model.heads:
        msg = f"tp {plan.tp} is more than {model.name}'s {model.heads} attention heads"
        raise PlacementError(msg)
    if model.heads % plan.tp:
        msg = (
            f"tp {plan.tp} does not divide {model.name}'s {model.heads} attention heads "
            "(each tensor-parallel rank holds whole heads)"
        )
        raise PlacementError(msg)
    kv = model.kv_heads
    if not model.mla and kv % plan.tp and plan.tp % kv:
        msg = (
            f"tp {plan.tp} and {model.name}'s {kv} KV heads: each rank needs whole KV heads "
            "(tp must divide them, or be a multiple of them to replicate them)"
        )
        raise PlacementError(msg)
    if plan.pp > model.layers:
        msg = f"pp {plan.pp} is more than {model.name}'s {model.layers} layers"
        raise PlacementError(msg)
    if model.moe and plan.ep > model.moe["experts"]:
        msg = f"ep {plan.ep} is more than {model.name}'s {model.moe['experts']} experts"
        raise PlacementError(msg)
    if not model.moe and plan.ep > 1:
        msg = f"{model.name} has no experts: ep must be 1, got {plan.ep}"
        raise PlacementError(msg)


def check_fits(mem: Memory | dict[str, Any], plan: Plan, batch: int) -> None:
    """Raise :class:`PlacementError` saying by how much a plan misses HBM."""
    if isinstance(mem, Memory):
        mem = asdict(mem)
    if not mem["fits"]:
        gb = mem["over_by_bytes"] / 1e9
        msg = (
            f"tp {plan.tp} x ep {plan.ep} x pp {plan.pp} x dp {plan.dp} at batch {batch} "
            f"needs {gb:.1f} GB more HBM per GPU than the usable "
            f"{mem['usable_bytes_per_gpu'] / 1e9:.1f} GB (largest batch that fits: "
            f"{mem['max_batch']})"
        )
        raise PlacementError(msg)


def sweep(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    plan: Plan,
    batches: list[int],
    workload: Workload,
    *,
    strategy: str = "packed",
    parts: PlanParts | None = None,
) -> Sweep:
    """The latency-throughput table of one plan across batches, floor and critical batch."""
    workload.check()
    check_plan(model, plan)
    if parts is None:
        parts = plan_parts(layout, G, model, plan, workload, strategy=strategy)
    B = np.array(batches, dtype=float)
    d = decode(layout, model, plan, B, workload, parts.comm)
    mem_max = memory(layout, model, plan, 1, workload).max_batch
    n = plan.world
    usd = n * workload.gpu_hour_usd / 3600 / d.tokens_per_s * 1e6
    rows = tuple(
        SweepRow(
            batch=int(b),
            time_per_output_token_s=float(d.tpot[i]),
            tokens_per_s_per_user=1.0 / float(d.tpot[i]),
            tokens_per_s_per_gpu=float(d.tokens_per_s[i]) / n,
            usd_per_million_output_tokens=float(usd[i]),
            bound=bound_of(d, i),
            latency_floor_s=float(d.floor[i]),
            breakdown_s=d.breakdown(i),
            fits=bool(b <= mem_max),
        )
        for i, b in enumerate(B)
    )
    floor = _floor(d, 0, model, plan, workload)
    return Sweep(
        model=model.name,
        layout=layout.name,
        plan=plan,
        strategy=strategy,
        context=workload.mean_context,
        latency_floor_s=floor.per_token_s,
        latency_floor_step_s=floor.per_step_s,
        latency_floor_basis=floor.basis,
        latency_floor_all_weights_s=floor.all_weights_s,
        critical_batch=parts.critical,
        max_batch=mem_max,
        rows=rows,
    )


@dataclass(frozen=True, slots=True)
class RooflinePoint:
    """One point of a roofline figure, per GPU.

    `phase`: ``decode`` (at `batch` [sequences]) or ``prefill`` (of `tokens` [tokens]);
    `bound`: the binding term; `intensity_flop_per_byte` [FLOP/B]; `flop_per_s`
    [FLOP/s] achieved over the pipeline stage's time.
    """

    phase: str
    bound: str
    intensity_flop_per_byte: float
    flop_per_s: float
    batch: int | None = None
    tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The point as JSON: phase, then batch (decode) or tokens (prefill), then the rest."""
        out: dict[str, Any] = {"phase": self.phase}
        if self.batch is not None:
            out["batch"] = self.batch
        if self.tokens is not None:
            out["tokens"] = self.tokens
        out["bound"] = self.bound
        out["intensity_flop_per_byte"] = self.intensity_flop_per_byte
        out["flop_per_s"] = self.flop_per_s
        return out


@dataclass(frozen=True, slots=True)
class RooflineEfficiency:
    """The shares of peak the model charges [dimensionless]: `hbm` bandwidth, `flops`."""

    hbm: float
    flops: float

    def to_dict(self) -> dict[str, Any]:
        """``{"hbm": ..., "flops": ...}``."""
        return {"hbm": self.hbm, "flops": self.flops}


@dataclass(frozen=True, slots=True)
class RooflineData:
    """What a roofline figure draws (:func:`roofline_data`).

    `hbm_bandwidth_bytes_per_s` [B/s per GPU] and `peaks` [FLOP/s per GPU by dtype] are
    the ceilings; `compute_dtype` the dtype charged; `points` per GPU.
    """

    model: str
    layout: str
    accelerator: str
    plan: Plan
    hbm_bandwidth_bytes_per_s: float | None
    peaks: Mapping[str, float]
    compute_dtype: str
    efficiency: RooflineEfficiency
    points: tuple[RooflinePoint, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON :func:`topo.plot.plot_roofline` draws."""
        p = self.plan
        return {
            "model": self.model,
            "layout": self.layout,
            "accelerator": self.accelerator,
            "plan": {"tp": p.tp, "ep": p.ep, "pp": p.pp, "dp": p.dp},
            "hbm_bandwidth_bytes_per_s": self.hbm_bandwidth_bytes_per_s,
            "peaks": dict(self.peaks),
            "compute_dtype": self.compute_dtype,
            "efficiency": self.efficiency.to_dict(),
            "points": [pt.to_dict() for pt in self.points],
        }


def roofline_data(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    plan: Plan,
    batches: list[int],
    workload: Workload,
    *,
    strategy: str = "packed",
) -> RooflineData:
    """The points a roofline figure draws: per GPU, intensity and achieved FLOP/s.

    Decode at each batch and one prefill of the prompt; the ceilings are the
    accelerator's dense peaks per dtype and its peak HBM bandwidth.
    """
    workload.check()
    check_plan(model, plan)
    comm = comm_model(fabric_of(G), place(G, plan, strategy=strategy))
    B = np.array(batches, dtype=float)
    d = decode(layout, model, plan, B, workload, comm)
    points = []
    for i, b in enumerate(batches):
        nbytes = float(d.weight_bytes_per_gpu[i] + d.kv_bytes_per_gpu[i])
        flops = float(d.flops_per_gpu[i])
        stage_s = float(d.tpot[i]) / plan.pp
        points.append(
            RooflinePoint(
                phase="decode",
                batch=b,
                bound=bound_of(d, i),
                intensity_flop_per_byte=flops / nbytes,
                flop_per_s=flops / stage_s if stage_s > 0 else 0.0,
            )
        )
    pre = prefill(layout, model, plan, workload, comm)
    stage = pre.time_s / plan.pp
    points.append(
        RooflinePoint(
            phase="prefill",
            tokens=workload.input_tokens,
            bound=pre.bound,
            intensity_flop_per_byte=pre.flops_per_gpu / pre.bytes_per_gpu,
            flop_per_s=pre.flops_per_gpu / stage if stage > 0 else 0.0,
        )
    )
    acc = layout.accelerator
    return RooflineData(
        model=model.name,
        layout=layout.name,
        accelerator=acc.name,
        plan=plan,
        hbm_bandwidth_bytes_per_s=acc.hbm_bandwidth_bytes_per_s,
        peaks=dict(acc.peak_flop_per_s),
        compute_dtype=_compute_dtype(layout, workload),
        efficiency=RooflineEfficiency(
            hbm=1.0 if workload.ideal else acc.efficiency.hbm,
            flops=1.0 if workload.ideal else acc.efficiency.compute,
        ),
        points=tuple(points),
    )
