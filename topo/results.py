"""Typed results of the library: frozen dataclasses with ``to_dict()`` equal to ``--json``.

Each result is what one question returns -- one decode step, one prefill, the latency
floor, the critical batches, memory per GPU, cost -- gathered in :class:`Evaluation`
(``topo evaluate``) and :class:`Sweep` (``topo sweep``). Fields are SI floats (s, B, B/s,
FLOP, USD); ``to_dict()`` is the one serialiser the CLI prints, so a renamed field fails
in mypy, not at run time. ``records()`` gives flat rows for a DataFrame
(``pandas.DataFrame(sweep.records())``) without pandas being a dependency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from topo.place import Plan

__all__ = [
    "Cost",
    "CriticalBatches",
    "Decode",
    "Evaluation",
    "Floor",
    "FloorBasis",
    "Memory",
    "Prefill",
    "StageStep",
    "Sweep",
    "SweepRow",
    "plan_dict",
]


def plan_dict(plan: Plan) -> dict[str, int]:
    """A plan as JSON: ``{"tp": .., "ep": .., "pp": .., "dp": ..}``."""
    return {"tp": plan.tp, "ep": plan.ep, "pp": plan.pp, "dp": plan.dp}


@dataclass(frozen=True, slots=True)
class StageStep:
    """What one GPU reads and computes in one stage-step [B, B, FLOP]."""

    weight_bytes: float
    kv_bytes: float
    flops: float


@dataclass(frozen=True, slots=True)
class Decode:
    """One decode step at one batch: its time, which term binds, and the terms [s]."""

    step_time_s: float
    time_per_output_token_s: float
    tokens_per_s: float
    tokens_per_s_per_gpu: float
    sequences_in_flight: int
    bound: str  # memory | compute | communication | overhead
    memory_bound_by: str  # weights | kv
    breakdown_s: Mapping[str, float]  # weights, kv, compute, communication, overhead
    kernels_s: Mapping[str, float]  # by kernel class ({} on the clean roofline)
    dominant_kernel_class: str | None
    moe_imbalance: float
    per_gpu_stage_step: StageStep


@dataclass(frozen=True, slots=True)
class Prefill:
    """One prompt's prefill on the plan [s, tokens/s]."""

    time_s: float
    tokens_per_s: float
    bound: str
    prompt_tokens: int
    kernels_s: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class FloorBasis:
    """Whose HBM bandwidth the floor uses, and the tokens one step emits."""

    dense_weights_gpus: int
    expert_weights_gpus: int | None
    tokens_per_step: float
    note: str


@dataclass(frozen=True, slots=True)
class Floor:
    """The latency floor of the plan: touched weights over peak HBM bandwidth [s]."""

    per_token_s: float
    per_step_s: float
    all_weights_s: float  # the seed's convention: every weight over the block's GPUs
    basis: FloorBasis


@dataclass(frozen=True, slots=True)
class CriticalBatches:
    """The batch where decode turns compute-bound, three ways, and the context limit."""

    ridge_flop_per_byte: float
    seed_rule: float
    per_expert: float | None
    kv_aware: float | None
    context_limit: float | None


@dataclass(frozen=True, slots=True)
class Memory:
    """Memory per GPU against usable HBM [B], and the largest batch that fits."""

    weights_bytes_per_gpu: float
    kv_bytes_per_gpu: float
    activation_bytes_per_gpu: float
    sequences_in_flight: float
    usable_bytes_per_gpu: float
    fits: bool
    over_by_bytes: float
    max_batch: int


@dataclass(frozen=True, slots=True)
class Cost:
    """Cost per million tokens at a GPU-hour price [USD]."""

    gpu_hour_usd: float
    usd_per_million_output_tokens: float
    usd_per_million_input_tokens: float
    decode_to_prefill_cost_ratio: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything ``topo evaluate`` reports for one plan at one batch."""

    model: str
    layout: str
    plan: Plan
    strategy: str
    batch: int
    context: float
    dtypes: Mapping[str, str]
    decode: Decode
    prefill: Prefill
    floor: Floor
    critical_batch: CriticalBatches
    memory: Memory
    cost: Cost
    efficiency: Mapping[str, float]
    efficiency_basis: Mapping[str, str]
    overlap: str
    ideal: bool
    fidelity: Mapping[str, Any]

    @property
    def gpus(self) -> int:
        """GPUs the plan uses."""
        return self.plan.world

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo evaluate --json`` prints."""
        return {
            "model": self.model,
            "layout": self.layout,
            "plan": plan_dict(self.plan),
            "strategy": self.strategy,
            "gpus": self.gpus,
            "batch": self.batch,
            "context": self.context,
            "dtypes": dict(self.dtypes),
            "decode": _plain(self.decode),
            "prefill": _plain(self.prefill),
            "latency_floor_s": self.floor.per_token_s,
            "latency_floor_step_s": self.floor.per_step_s,
            "latency_floor_basis": _plain(self.floor.basis),
            "latency_floor_all_weights_s": self.floor.all_weights_s,
            "critical_batch": _plain(self.critical_batch),
            "memory": _plain(self.memory),
            "cost": _plain(self.cost),
            "efficiency": dict(self.efficiency),
            "efficiency_basis": dict(self.efficiency_basis),
            "overlap": self.overlap,
            "ideal": self.ideal,
            "fidelity": dict(self.fidelity),
        }

    def record(self) -> dict[str, Any]:
        """One flat row (plan, batch, times, throughput, cost) for a table of many."""
        d = self.decode
        return {
            **plan_dict(self.plan),
            "layout": self.layout,
            "model": self.model,
            "batch": self.batch,
            "gpus": self.gpus,
            "time_per_output_token_s": d.time_per_output_token_s,
            "tokens_per_s_per_gpu": d.tokens_per_s_per_gpu,
            "bound": d.bound,
            **{f"{k}_s": v for k, v in d.breakdown_s.items()},
            "latency_floor_s": self.floor.per_token_s,
            "time_to_first_token_s": self.prefill.time_s,
            "usd_per_million_output_tokens": self.cost.usd_per_million_output_tokens,
            "fits": self.memory.fits,
        }


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One batch of a sweep."""

    batch: int
    time_per_output_token_s: float
    tokens_per_s_per_user: float
    tokens_per_s_per_gpu: float
    usd_per_million_output_tokens: float
    bound: str
    latency_floor_s: float
    breakdown_s: Mapping[str, float]
    fits: bool


@dataclass(frozen=True, slots=True)
class Sweep:
    """The latency-throughput table of one plan across batches (``topo sweep``)."""

    model: str
    layout: str
    plan: Plan
    strategy: str
    context: float
    latency_floor_s: float
    latency_floor_step_s: float
    latency_floor_basis: FloorBasis
    latency_floor_all_weights_s: float
    critical_batch: CriticalBatches
    max_batch: int
    rows: tuple[SweepRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo sweep --json`` prints."""
        return {
            "model": self.model,
            "layout": self.layout,
            "plan": plan_dict(self.plan),
            "strategy": self.strategy,
            "gpus": self.plan.world,
            "context": self.context,
            "latency_floor_s": self.latency_floor_s,
            "latency_floor_step_s": self.latency_floor_step_s,
            "latency_floor_basis": _plain(self.latency_floor_basis),
            "latency_floor_all_weights_s": self.latency_floor_all_weights_s,
            "critical_batch": _plain(self.critical_batch),
            "max_batch": self.max_batch,
            "rows": [_plain(r) for r in self.rows],
        }

    def records(self) -> list[dict[str, Any]]:
        """Flat rows, one a batch, for ``pandas.DataFrame(sweep.records())``."""
        out = []
        for r in self.rows:
            row = _plain(r)
            breakdown = row.pop("breakdown_s")
            out.append(
                {
                    **plan_dict(self.plan),
                    "layout": self.layout,
                    "model": self.model,
                    **row,
                    **{f"{k}_s": v for k, v in breakdown.items()},
                }
            )
        return out


def _plain(obj: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready data (mappings copied to dicts)."""
    return asdict(obj)
