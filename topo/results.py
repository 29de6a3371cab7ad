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
    """What one GPU reads and computes in one stage-step [B, B, FLOP].

    Attributes
    ----------
    weight_bytes
        Weights read from HBM [B].
    kv_bytes
        KV cache read from HBM [B].
    flops
        Arithmetic done [FLOP].
    """

    weight_bytes: float
    kv_bytes: float
    flops: float


@dataclass(frozen=True, slots=True)
class Decode:
    """One decode step at one batch: its time, which term binds, and the terms [s].

    Attributes
    ----------
    step_time_s
        The decode step per output token [s]: equal to `time_per_output_token_s`.
    time_per_output_token_s
        Time between a sequence's tokens [s] (the step over the tokens a step emits).
    tokens_per_s
        Output tokens per second of the plan's GPUs together [tokens/s].
    tokens_per_s_per_gpu
        The same per GPU [tokens/s].
    sequences_in_flight
        Sequences decoded at once, pipeline micro-batches included [sequences].
    bound
        The largest term: ``"memory"``, ``"compute"``, ``"communication"``, ``"overhead"``.
    memory_bound_by
        Which read dominates memory time: ``"weights"`` or ``"kv"``.
    breakdown_s
        The step's terms [s]: ``weights`` and ``kv`` (HBM reads), ``compute``,
        ``communication`` and ``overhead`` (kernels beyond the roofline, launches).
    kernels_s
        The step by kernel class [s] (empty on the clean roofline).
    dominant_kernel_class
        The kernel class that takes longest, or None.
    moe_imbalance
        The busiest expert's load over the mean [1] (1 for dense models).
    per_gpu_stage_step
        Bytes [B] and FLOP one GPU handles in one stage-step.
    """

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
    """One prompt's prefill on the plan [s, tokens/s].

    Attributes
    ----------
    time_s
        Prefill of one prompt: the time to first token [s].
    tokens_per_s
        Prompt tokens per second [tokens/s].
    bound
        The largest term (``"compute"``, ``"memory"``, ...).
    prompt_tokens
        Tokens in the prompt [tokens].
    kernels_s
        Prefill by kernel class [s].
    """

    time_s: float
    tokens_per_s: float
    bound: str
    prompt_tokens: int
    kernels_s: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class FloorBasis:
    """Whose HBM bandwidth the floor uses, and the tokens one step emits.

    Attributes
    ----------
    dense_weights_gpus
        GPUs whose HBM holds one copy of the dense weights [GPUs].
    expert_weights_gpus
        GPUs over which the experts are spread [GPUs] (None for dense models).
    tokens_per_step
        Tokens a step emits per sequence [tokens].
    note
        The basis in words.
    """

    dense_weights_gpus: int
    expert_weights_gpus: int | None
    tokens_per_step: float
    note: str


@dataclass(frozen=True, slots=True)
class Floor:
    """The latency floor of the plan: touched weights over peak HBM bandwidth [s].

    Attributes
    ----------
    per_token_s
        Floor per output token [s].
    per_step_s
        Floor per decode step [s].
    all_weights_s
        Every touched weight over the bandwidth of all the block's GPUs [s].
    basis
        Whose bandwidth and how many tokens a step.
    """

    per_token_s: float
    per_step_s: float
    all_weights_s: float  # the seed's convention: every weight over the block's GPUs
    basis: FloorBasis


@dataclass(frozen=True, slots=True)
class CriticalBatches:
    """The batch where decode turns compute-bound, three ways, and the context limit.

    Attributes
    ----------
    ridge_flop_per_byte
        Peak FLOP/s over peak HBM bandwidth [FLOP/B].
    seed_rule
        Ridge x (weight bytes / 2) x (total / active parameters) [sequences].
    per_expert
        The batch at which every expert is compute-bound [sequences] (None: dense).
    kv_aware
        The smallest batch whose compute time reaches its memory time at the workload's
        context [sequences] (None: none does).
    context_limit
        The context beyond which no batch is compute-bound [tokens] (None: none).
    """

    ridge_flop_per_byte: float
    seed_rule: float
    per_expert: float | None
    kv_aware: float | None
    context_limit: float | None


@dataclass(frozen=True, slots=True)
class Memory:
    """Memory per GPU against usable HBM [B], and the largest batch that fits.

    Attributes
    ----------
    weights_bytes_per_gpu, kv_bytes_per_gpu, activation_bytes_per_gpu
        What one GPU holds [B].
    sequences_in_flight
        Sequences whose KV cache is held [sequences].
    usable_bytes_per_gpu
        HBM left for weights, KV and activations [B].
    fits
        Whether they fit.
    over_by_bytes
        How much they exceed usable HBM by [B] (0 when they fit).
    max_batch
        The largest batch that fits [sequences].
    """

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
    """Cost per million tokens at a GPU-hour price [USD].

    Attributes
    ----------
    gpu_hour_usd
        Price of one GPU-hour [USD].
    usd_per_million_output_tokens
        Decode cost of a million output tokens [USD].
    usd_per_million_input_tokens
        Prefill cost of a million prompt tokens [USD].
    decode_to_prefill_cost_ratio
        Cost of an output token over a prompt token [1].
    """

    gpu_hour_usd: float
    usd_per_million_output_tokens: float
    usd_per_million_input_tokens: float
    decode_to_prefill_cost_ratio: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything ``topo evaluate`` reports for one plan at one batch.

    Attributes
    ----------
    model, layout
        Names.
    plan
        The degrees run (tp, ep, pp, dp [GPUs]).
    strategy
        Placement: ``"packed"`` or ``"naive"``.
    batch
        Sequences decoded together [sequences].
    context
        Context a decode step reads [tokens].
    dtypes
        Dtypes of weights, KV cache and compute.
    decode, prefill, floor, critical_batch, memory, cost
        The parts, each in its own units ([s], [B], [USD]).
    efficiency
        Shares of peak HBM bandwidth and FLOP/s the chip reaches, as measured [1].
    efficiency_basis
        Where each share comes from.
    overlap
        Collectives hidden behind compute.
    ideal
        Peak rates and no communication (the seed's formulas).
    fidelity
        The loss terms in force.
    """

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
        """One flat row (plan, batch, times, throughput, cost) for a table of many.

        Keys end in their unit: ``_s`` [s], ``tokens_per_s_per_gpu`` [tokens/s],
        ``usd_per_million_output_tokens`` [USD]; ``batch`` [sequences].
        """
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
    """One batch of a sweep.

    Attributes
    ----------
    batch
        Sequences decoded together [sequences].
    time_per_output_token_s
        Time between a sequence's tokens [s].
    tokens_per_s_per_user
        Output tokens per second one sequence sees [tokens/s].
    tokens_per_s_per_gpu
        Output tokens per second per GPU [tokens/s].
    usd_per_million_output_tokens
        Cost of a million output tokens [USD].
    bound
        The largest term of the step.
    latency_floor_s
        The plan's floor per token [s].
    breakdown_s
        The step's terms [s], as :attr:`Decode.breakdown_s`.
    fits
        Whether the batch fits in HBM.
    """

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
    """The latency-throughput table of one plan across batches (``topo sweep``).

    Attributes
    ----------
    model, layout
        Names.
    plan
        The degrees run (tp, ep, pp, dp [GPUs]).
    strategy
        Placement: ``"packed"`` or ``"naive"``.
    context
        Context a decode step reads [tokens].
    latency_floor_s, latency_floor_step_s, latency_floor_all_weights_s
        The floor per token, per step, and over all the block's GPUs [s].
    latency_floor_basis
        Whose bandwidth the floor uses.
    critical_batch
        Where decode turns compute-bound [sequences].
    max_batch
        The largest batch that fits [sequences].
    rows
        One :class:`SweepRow` per batch.
    """

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
        """Flat rows, one a batch, for ``pandas.DataFrame(sweep.records())``.

        Each row: the plan's degrees, layout, model, :class:`SweepRow`'s fields with
        ``breakdown_s`` spread into ``weights_s``, ``kv_s``, ... [s].
        """
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
