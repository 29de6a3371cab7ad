"""The roofline engine: decode and prefill step times, floor, critical batch, memory, cost.

Everything is per GPU of one pipeline stage and vectorised over the batch (numpy
arrays), so sweeps and plan searches cost microseconds per configuration.

Model of a serving instance (one plan: ``tp x pp x dp`` GPUs, ``B`` sequences):

- Each pipeline stage holds ``1/pp`` of the layers on ``tp x dp`` GPUs. Non-expert
  weights (attention, dense FFN, shared experts, embeddings) are split ``tp`` ways and
  replicated over the ``dp`` attention ranks. Routed experts are split over blocks of
  ``max(tp, ep)`` GPUs (ep-way expert parallel x the rest tensor parallel), one copy
  of every expert per block.
- Decode: the batch ``B`` is one micro-batch; with ``pp`` stages, ``pp`` micro-batches
  are in flight (``pp x B`` sequences), each stage working on one. A stage reads its
  non-expert weights, the experts that some token of the micro-batch selects (expected
  count under uniform routing, ``1 - (1 - k/E)^tokens``), and the micro-batch's KV
  cache; it computes 2 FLOPs per weight and token plus attention over the context.
  ``t_stage = max(t_mem, t_compute) + t_comm`` (``overlap="full"``: the max of the
  three); a token takes ``pp x t_stage + (pp - 1) x t_hop``, so pipeline parallelism
  never lowers the time per token (the hops add) and leaves tokens/s per GPU as it is,
  but holds ``1/pp`` of the weights per GPU: room for a larger batch.
- Communication per stage: two TP all-reduces per layer, an EP dispatch and combine per
  MoE layer, timed by :func:`topo.collectives.collective` on the placement's first
  group of each kind (groups are timed alone).

Reference: ``reference/seed_formulas.md`` claims 1-3, 5-7 and 10.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import numpy as np

from topo._arrays import unique
from topo._memo import bounded_put, value_key
from topo.collectives import charge, collective, curve_memos
from topo.errors import TopoError
from topo.fidelity import CLEAN, DEFAULT, Fidelity, busiest_load
from topo.kernels import collective_efficiencies, has_engine_curve, step_kernels
from topo.layout import Layout
from topo.models import Model, dtype_bytes
from topo.place import (
    Placement,
    Plan,
    pipeline_hops,
    plan_ranks,
    rank_positions,
    timed_ranks,
)
from topo.results import CriticalBatches, Memory
from topo.routing import Fabric

__all__ = [
    "CommModel",
    "DecodeTerms",
    "PrefillTerms",
    "Workload",
    "comm_floor",
    "comm_model",
    "critical_batches",
    "decode",
    "decode_many",
    "decode_tpots",
    "experts_touched_share",
    "floor_key",
    "floor_steps",
    "keep_steps",
    "memory",
    "plan_comm",
    "prefill",
]

ACT_BYTES = 2.0  # activations travel in bf16
KERNEL_CLASSES = ("gemm", "moe_gemm", "attention", "elementwise")
ATTENTION_KERNELS = ("grouped", "per-query-head")


@dataclass(frozen=True, slots=True)
class Workload:
    """What is served and how: lengths, dtypes, price, overlap, efficiency."""

    input_tokens: int = 1024
    output_tokens: int = 128
    context: float | None = None  # default: input + output / 2
    weights: str = "bf16"
    kv: str = "bf16"
    compute: str | None = None  # default: the weights' dtype if the chip has it, else bf16
    gpu_hour_usd: float = 2.0
    overlap: str = "none"  # "none" | "full" | per term, e.g. "tp=none,ep=full"
    ideal: bool = False  # peak FLOP/s and bandwidth, no communication (the seed's formulas)
    hbm_usable: float = 0.9  # share of HBM for weights, KV and activations
    # Decode attention of GQA models: "grouped" (one read of each KV head serves all the
    # query heads that share it: XQA, FlashInfer, FlashAttention) or "per-query-head" (a
    # masked-MHA kernel that reads each KV head once per query head, as engines did for
    # GQA before their grouped kernels: TensorRT-LLM before v0.7.1, and after for shapes
    # its XQA kernels do not cover).
    attention_kernel: str = "grouped"
    fidelity: Fidelity = DEFAULT  # loss terms (topo.fidelity); CLEAN: the clean roofline

    @property
    def losses(self) -> Fidelity:
        """The loss terms in force: none in ideal mode (speculative decoding still counts)."""
        if not self.ideal:
            return self.fidelity
        f = self.fidelity
        if f.accepted_tokens_per_step == 1.0 and f.draft_tokens == 0:
            return CLEAN
        return replace(
            CLEAN,
            accepted_tokens_per_step=f.accepted_tokens_per_step,
            draft_tokens=f.draft_tokens,
        )

    @property
    def mean_context(self) -> float:
        """Context a decode step attends to on average [tokens]."""
        if self.context is not None:
            return float(self.context)
        return self.input_tokens + self.output_tokens / 2

    @property
    def overlapped(self) -> dict[str, bool]:
        """Which collectives hide behind compute: ``{"tp": ..., "ep": ...}``.

        ``none`` (the default: serving engines run TP all-reduces and EP all-to-alls in
        line with the layers), ``full``, or per term: ``tp=none,ep=full`` (e.g. two-batch
        overlap of expert-parallel dispatch and combine). Pipeline hops always overlap.
        """
        if self.overlap in ("none", "full"):
            v = self.overlap == "full"
            return {"tp": v, "ep": v}
        out = {"tp": False, "ep": False}
        for part in self.overlap.split(","):
            key, _, value = part.strip().partition("=")
            if key not in out or value not in ("none", "full"):
                msg = (
                    "--overlap must be none, full or per term like tp=none,ep=full; "
                    f"got {self.overlap!r}"
                )
                raise TopoError(msg)
            out[key] = value == "full"
        return out

    def check(self) -> None:
        """Raise :class:`TopoError` for impossible values."""
        for name in ("input_tokens", "output_tokens"):
            v = getattr(self, name)
            if not 0 <= v <= 100_000_000:
                msg = f"--{name.split('_')[0]} must be from 0 to 1e8 tokens, got {v}"
                raise TopoError(msg)
        if self.context is not None and not 0 <= self.context <= 100_000_000:
            msg = f"--context must be from 0 to 1e8 tokens, got {self.context}"
            raise TopoError(msg)
        self.overlapped  # noqa: B018 - parses, raising on a bad setting
        if not 0 <= self.gpu_hour_usd <= 1e6:
            msg = f"--gpu-hour-usd must be a price from 0 to 1e6, got {self.gpu_hour_usd}"
            raise TopoError(msg)
        for name in ("weights", "kv"):
            dtype_bytes(getattr(self, name))
        if self.attention_kernel not in ATTENTION_KERNELS:
            msg = (
                f"--attention-kernel must be one of {', '.join(ATTENTION_KERNELS)}, "
                f"got {self.attention_kernel!r}"
            )
            raise TopoError(msg)


# One algorithm of a collective on a group, linear in the message size M:
# (op, bare alpha [s], the steps' hop latencies [s], ((phase name, bare beta per byte
#  [s/B], link), ...), latency link, pipelined phases, group size, the scale-up link
#  whose measured latency a call across domains pays at least, or "").
Line = tuple[str, float, float, tuple[tuple[str, float, str], ...], str, bool, int, str]


@dataclass(frozen=True, slots=True)
class CommModel:
    """The plan's collectives: every algorithm's bare alpha and per-byte phase betas.

    :meth:`time` charges them as :func:`topo.collectives.collective` does (measured
    latency and bandwidth share by size), so a step pays what ``topo collective`` prints.
    """

    tp_all_reduce: tuple[Line, ...]
    ep_all_to_all: tuple[Line, ...]
    pp_hop: tuple[Line, ...]
    ep_domains: int = 1  # scale-up domains the expert-parallel block spans
    # A pipeline whose hops differ (some across domains, some inside one): `pp_hop` is
    # the hop across, for this share of hops; `pp_hop_rest` the hop inside, for the rest.
    pp_hop_rest: tuple[Line, ...] = ()
    pp_hop_share: float = 1.0

    def hop_weight(self, call: str) -> float:
        """The share of a token's pipeline hops that call ``hop`` or ``hop_rest`` stands for."""
        return {"hop": self.pp_hop_share, "hop_rest": 1.0 - self.pp_hop_share}.get(call, 1.0)

    @staticmethod
    def time(
        lines: tuple[Line, ...],
        nbytes: np.ndarray | float,
        losses: Fidelity | None = None,
    ) -> np.ndarray:
        """Time [s] of `nbytes` [B per GPU] on the fastest algorithm.

        Without `losses` (or with them off): the bare link-rate alpha + beta. With them:
        the measured charge of :func:`topo.collectives.charge`, then the calibration's
        extra latency and bandwidth scale (:meth:`topo.fidelity.Fidelity.comm_time`).
        """
        m = np.asarray(nbytes, dtype=float)
        if not lines:
            return np.zeros_like(m)
        key = (lines, m.shape, m.tobytes(), losses)
        got = _TIMES.get(key)
        if got is None:
            got = CommModel._time(lines, m, losses)
            got.flags.writeable = False  # shared by every caller with the same key
            bounded_put(_TIMES, key, got, 1 << 15)
        return got

    @staticmethod
    def _time(
        lines: tuple[Line, ...],
        m: np.ndarray,
        losses: Fidelity | None,
        memos: dict[int, dict[tuple[str, str, str], tuple[float, np.ndarray]]] | None = None,
    ) -> np.ndarray:
        """:meth:`time` computed; `memos`: curve look-ups at `m` by group size, if known."""
        out = []
        memos = {} if memos is None else memos
        for op, alpha, hops, phases, latency_link, pipelined, n, inside in lines:
            if losses is None or not losses.enabled:
                out.append(alpha + sum(b for _, b, _ in phases) * m)
                continue
            a, b = charge(
                op,
                m,
                hops,
                [(name, beta * m, link) for name, beta, link in phases],
                latency_link,
                pipelined=pipelined,
                gpus=n,
                memo=memos.setdefault(n, {}),  # the lines' algorithms share curves
                inside_link=inside,
            )
            out.append(losses.comm_time(a, b))
        return np.asarray(np.min(out, axis=0))


# Collective times by value: the lines, the message sizes and the losses (a study's
# designs and plans that share a group's lines and batches share its times).
_TIMES: dict[tuple[Any, ...], np.ndarray] = {}


# Per fabric (weakly held: a fabric's lines go with it, and a new fabric never sees the
# lines of an old one that happened to have the same id).
_CACHE: weakref.WeakKeyDictionary[Fabric, dict[tuple[str, tuple[str, ...]], tuple[Line, ...]]] = (
    weakref.WeakKeyDictionary()
)


def _lines(fabric: Fabric, op: str, gpus: tuple[str, ...]) -> tuple[Line, ...]:
    """Every algorithm of `op` on `gpus` as bare alpha and per-byte phase betas."""
    if len(gpus) < 2:
        return ()
    cache = _CACHE.setdefault(fabric, {})
    key = (op, gpus)
    if key in cache:
        return cache[key]
    local = _local_key(fabric, op, gpus)
    if local is not None and local in _SHARED:
        cache[key] = _SHARED[local]
    else:
        ref = 1e9
        out = []
        r = collective(fabric, op, list(gpus), ref, clean=True)
        results = [r] + [
            collective(fabric, op, list(gpus), ref, algorithm=a, clean=True) for a in r.alternatives
        ]
        for res in results:
            crosses = any(p.crosses_domains for p in res.phases)
            phases = tuple(
                (p.name, p.beta_s / ref, fabric.out_link if p.crosses_domains else fabric.up_link)
                for p in res.phases
            )
            latency_link = fabric.out_link if crosses else fabric.up_link
            pipelined = res.algorithm == "hierarchical"
            hops = sum(p.alpha_s for p in res.phases)
            inside = fabric.up_link if crosses else ""
            out.append((op, res.alpha_s, hops, phases, latency_link, pipelined, len(gpus), inside))
        cache[key] = tuple(out)
        if local is not None:
            bounded_put(_SHARED, local, cache[key], 1 << 14)
    return cache[key]


# Lines of groups inside one switched domain, by what they depend on: the members' links
# to the switch planes (count and rate, in group order), the fabric's scale-up latency,
# per-call overhead and link name. Shared between fabrics: another NIC, or another
# domain size built of the same switches, gives the same lines.
_SHARED: dict[tuple[Any, ...], tuple[Line, ...]] = {}


def _local_key(fabric: Fabric, op: str, gpus: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The key of `_SHARED` for a group inside one switched domain (None: any other group)."""
    if fabric.topology != "switched":
        return None
    idx = np.array([fabric.index[g] for g in gpus], dtype=np.int64)
    if (fabric.domain[idx] != fabric.domain[idx[0]]).any():
        return None
    return (
        op, fabric.up_latency_s, fabric.overhead_up_s, fabric.up_link, fabric.links.shape[1],
        fabric.links[idx].tobytes(), fabric.link_bw[idx].tobytes(),
    )  # fmt: skip


def comm_model(fabric: Fabric, placement: Placement) -> CommModel:
    """The plan's collectives, each kind's timed on its slowest group (:func:`timed_ranks`)."""
    domains = placement_domains(fabric, placement)
    timed = timed_ranks(placement.plan, domains)
    return _comm_of(fabric, placement.plan, _names(timed, placement.ranks))


def placement_domains(fabric: Fabric, placement: Placement) -> np.ndarray:
    """The scale-up domain of each rank of `placement` (what :func:`timed_ranks` reads)."""
    return fabric.domain[[fabric.index[g] for g in placement.ranks]]


def _names(
    timed: Mapping[str, tuple[int, ...]], ranks: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """The GPUs of the timed groups' ranks (tp, ep and the pipeline hop)."""
    return {k: tuple(map(ranks.__getitem__, timed[k])) for k in ("tp", "ep", "pp")}


def plan_comm(
    fabric: Fabric, plan: Plan, strategy: str = "packed", ranks: tuple[str, ...] | None = None
) -> CommModel:
    """:func:`comm_model` of `plan` placed by `strategy`, from its timed groups alone.

    `ranks`: the GPU of each rank, if already placed (:func:`topo.place.plan_ranks`).
    """
    if ranks is None:
        ranks = plan_ranks(fabric, plan, strategy=strategy)
    return _comm_of(fabric, plan, _names(_timed(fabric, plan, strategy), ranks))


def _timed(fabric: Fabric, plan: Plan, strategy: str) -> Mapping[str, tuple[int, ...]]:
    """:func:`timed_ranks` of `plan` placed by `strategy` (kept by fabric shape)."""
    shared = _floor_rates(fabric)[2]
    key = (strategy, plan)
    got = shared.timed.get(key)
    if got is None:
        dom = _ranked_domains(fabric, plan, strategy, shared.ranked)[0]
        where = (strategy, max(plan.tp, plan.ep), plan.world)  # as the domains are kept
        got = shared.timed[key] = timed_ranks(plan, dom, shared.memos.setdefault(where, {}))
    return got


def comm_floor(fabric: Fabric, plan: Plan, strategy: str = "packed") -> CommModel:
    """Collectives that `plan` placed by `strategy` cannot beat: a lower bound, not routed.

    Each time is at most the plan's own (:func:`plan_comm`) at every message size, so a
    step with them is no slower. Only the plan's ranks are found (which scale-up domain
    each GPU of the groups it is timed on lies in, :func:`_timed`), no routing:

    - Every call pays at least the measured per-call latency of the link it is charged
      on (:func:`topo.collectives.charge` takes the larger of that and the hops'): the
      scale-up link's for a group inside one domain, the scale-out link's for one that
      spans domains (each algorithm then has a phase that crosses), and no less than the
      scale-up link's.
    - In a switched domain every byte a member sends leaves through its own links to the
      switch planes, so a phase takes at least its bytes per member over the largest
      such sum of link rates of any GPU: an all-to-all sends (n - 1)/n of the buffer, an
      all-reduce (ring, or reduce-scatter then all-gather) twice that, a pipeline hop all
      of it. The floor's one phase is charged by the same measured share as the
      algorithms' phases are (the op's own curve on the scale-up link, none pipelined
      inside one domain).
    - Across domains a member's bytes for a GPU in another domain leave through its own
      NIC (:func:`topo.routing.pair_loads`): an all-to-all member with c members in its
      domain sends (n - c)/n of its buffer there, so the member of the smallest share of
      the group in a domain bounds the phase, over the fastest NIC; a pipeline hop sends
      its whole buffer. Each is charged on the scale-out link as the op's own phase is.
      An all-reduce across domains (hierarchical ones pipeline their phases): the latency
      alone. The copies per token of the expert all-to-all are the plan's own (the
      domains its block spans).
    """
    nic, up, shared = _floor_rates(fabric)
    tp, ep, hop, spans, rest, share = _floor_parts(fabric, plan, strategy, shared)

    def line(op: str, part: _Part | None) -> tuple[Line, ...]:
        if part is None:
            return ()
        n, across, share = part
        link, rate = (fabric.out_link, nic) if across else (fabric.up_link, up)
        phases = ((op, share / rate * _UNDER, link),) if share > 0 and rate > 0 else ()
        return ((op, 0.0, 0.0, phases, link, False, n, fabric.up_link if across else ""),)

    return CommModel(
        line("all-reduce", tp), line("all-to-all", ep), line("p2p", hop), spans,
        line("p2p", rest), share,
    )  # fmt: skip


def floor_key(fabric: Fabric, plan: Plan, strategy: str = "packed") -> tuple[Any, ...]:
    """What :func:`comm_floor` of `plan` depends on, as a value.

    Its groups, and the rates and links they are charged on: equal keys give equal
    floors, on any design's fabric.
    """
    nic, up, shared = _floor_rates(fabric)
    parts = _floor_parts(fabric, plan, strategy, shared)
    groups = (parts[0], parts[1], parts[2], parts[4])  # tp, ep, hop, the other hop
    rates = tuple(None if p is None else (nic if p[1] else up) for p in groups)
    return (parts, rates, fabric.up_link, fabric.out_link)


# One group of comm_floor's: its size, whether it spans domains, and the share of its
# buffer a member sends through one GPU's links (inside a domain) or its NIC (across).
_Part: TypeAlias = tuple[int, bool, float]
# tp, expert block, pipeline hop, the block's domains, the pipeline's other hop (inside
# a domain where some hops cross) and the share of hops the first hop stands for.
_Parts: TypeAlias = tuple[
    "_Part | None", "_Part | None", "_Part | None", int, "_Part | None", float
]


def _floor_parts(fabric: Fabric, plan: Plan, strategy: str, shared: _Shared) -> _Parts:
    """:func:`comm_floor`'s groups (tp, expert block, pipeline hops), block's domains.

    What the floor takes from the plan's ranks; kept by fabric shape (:class:`_Shared`).
    """
    key = (strategy, plan)
    got = shared.parts.get(key)
    if got is not None:
        return got
    ranked = _ranked_domains(fabric, plan, strategy, shared.ranked)
    first = _timed(fabric, plan, strategy)

    def part(op: str, group: tuple[int, ...], inside: float) -> tuple[_Part | None, int]:
        """The group's part, and the domains it spans.

        `inside`: a member's bytes inside one domain, as a multiple of (n - 1)/n of its
        buffer.
        """
        n = len(group)
        if n < 2:
            return None, 1
        counts = _spread(group, *ranked)
        if len(counts) == 1:
            return (n, False, inside * (n - 1) / n), 1
        share = {"all-to-all": (n - min(counts)) / n, "p2p": 1.0}.get(op, 0.0)
        return (n, True, share), len(counts)

    tp, _ = part("all-reduce", first["tp"], 2.0)
    ep, spans = part("all-to-all", first["ep"] if plan.ep >= plan.tp else first["tp"], 1.0)
    # A hop sends its member's whole buffer; a pipeline's hops as the step charges them.
    stages = first["pp"]
    hop = rest = None
    share = 1.0
    if len(stages) > 1:
        i, j, share = pipeline_hops([ranked[0][r] for r in stages])
        hop, _ = part("p2p", stages[i : i + 2], 2.0)
        rest = None if j is None else part("p2p", stages[j : j + 2], 2.0)[0]
    got = shared.parts[key] = (tp, ep, hop, spans, rest, share)
    return got


_Ranked: TypeAlias = tuple[np.ndarray, int, dict[int, tuple[int, ...]]]


@dataclass(frozen=True, slots=True)
class _Shared:
    """What :func:`comm_floor` keeps for fabrics whose GPUs share domains and racks.

    `ranked`: the ranks' domains by placement (:func:`_ranked_domains`); `parts`: each
    plan's groups by (strategy, plan) (:func:`_floor_parts`); `timed`: the groups each
    plan is timed on (:func:`_timed`), and what :func:`timed_ranks` keeps of each
    placement's domains (`memos`, by strategy, block and world, as `ranked`).
    """

    ranked: dict[tuple[str, int, int], _Ranked]
    parts: dict[tuple[str, Plan], _Parts]
    timed: dict[tuple[str, Plan], Mapping[str, tuple[int, ...]]]
    memos: dict[tuple[str, int, int], dict[Any, Any]]  # timed_ranks' memo by placement


def _floor_rates(fabric: Fabric) -> tuple[float, float, _Shared]:
    """:func:`comm_floor`'s facts of a fabric, kept per fabric.

    Its fastest NIC, the largest sum of a GPU's scale-up link rates (switched domains; 0
    otherwise), and what it shares with fabrics of the same domains and racks.
    """
    got = _FLOOR.get(fabric)
    if got is None:
        nic = float(np.max(fabric.nic_bw)) if len(fabric.nic_bw) else 0.0
        switched = fabric.topology == "switched" and len(fabric.links)
        up = float(np.max(np.sum(fabric.links * fabric.link_bw, axis=1))) if switched else 0.0
        # Ranks and their domains follow from the GPUs' domains and racks alone: fabrics
        # that share those (another NIC) share them.
        shape = (len(fabric.gpus), fabric.domain.tobytes(), fabric.rack.tobytes())
        if shape not in _RANK_DOMAINS:
            bounded_put(_RANK_DOMAINS, shape, _Shared({}, {}, {}, {}), 16)
        got = _FLOOR[fabric] = (nic, up, _RANK_DOMAINS[shape])
    return got


def _ranked_domains(
    fabric: Fabric, plan: Plan, strategy: str, by_ranks: dict[tuple[str, int, int], _Ranked]
) -> _Ranked:
    """Where the ranks of `plan` lie, kept by placement (strategy, block, world).

    The domain of each rank, how many ranks from rank 0 share rank 0's domain, and (filled
    by :func:`_spread`) the members per domain of ranks 0..n-1 by n.
    """
    key = (strategy, max(plan.tp, plan.ep), plan.world)
    kept = by_ranks.get(key)
    if kept is None:
        dom = fabric.domain[rank_positions(fabric, plan, strategy=strategy)]
        prefix = int(np.argmax(dom != dom[0])) if (dom != dom[0]).any() else len(dom)
        kept = by_ranks[key] = (dom, prefix, {})
    return kept


def _spread(
    group: tuple[int, ...], dom: np.ndarray, prefix: int, leading: dict[int, tuple[int, ...]]
) -> tuple[int, ...]:
    """How many of the group's members (ranks, from rank 0) lie in each domain it touches."""
    n = len(group)
    if group[-1] < prefix:
        return (n,)
    if n == 2:
        return (2,) if dom[group[0]] == dom[group[1]] else (1, 1)
    if group[-1] == n - 1:  # ranks 0..n-1
        got = leading.get(n)
        if got is None:
            got = leading[n] = tuple(np.unique(dom[:n], return_counts=True)[1].tolist())
        return got
    return tuple(np.unique(dom[list(group)], return_counts=True)[1].tolist())


# A floor's bytes a hair under their share (the routed sum of the same bytes may round
# a bit lower than the share written out).
_UNDER = 1 - 1e-9


# Per fabric: its fastest NIC and largest sum of a GPU's scale-up link rates (switched
# domains), and what comm_floor keeps of its ranks (_Shared): shared by fabrics whose
# GPUs have the same domains and racks (_RANK_DOMAINS, by those arrays: at most 16).
_FLOOR: weakref.WeakKeyDictionary[Fabric, tuple[float, float, _Shared]] = (
    weakref.WeakKeyDictionary()
)
_RANK_DOMAINS: dict[tuple[int, bytes, bytes], _Shared] = {}


def _comm_of(fabric: Fabric, plan: Plan, groups: Mapping[str, tuple[str, ...]]) -> CommModel:
    """The plan's collectives from the GPUs of the groups it is timed on (tp, ep, pp)."""
    stages = groups["pp"]
    hop: tuple[str, ...] = ()
    rest: tuple[str, ...] = ()
    share = 1.0
    if len(stages) > 1:
        i, j, share = pipeline_hops([fabric.domain[fabric.index[g]] for g in stages])
        hop = (stages[i], stages[i + 1])
        rest = () if j is None else (stages[j], stages[j + 1])
    block = groups["ep"] if plan.ep >= plan.tp else groups["tp"]
    return CommModel(
        tp_all_reduce=_lines(fabric, "all-reduce", groups["tp"]),
        ep_all_to_all=_lines(fabric, "all-to-all", block),
        pp_hop=_lines(fabric, "p2p", hop),
        ep_domains=_domains(fabric, block),
        pp_hop_rest=_lines(fabric, "p2p", rest),
        pp_hop_share=share,
    )


def _domains(fabric: Fabric, gpus: tuple[str, ...]) -> int:
    """Scale-up domains `gpus` span (kept per fabric, as its lines are)."""
    cache = _SPANS.setdefault(fabric, {})
    got = cache.get(gpus)
    if got is None:
        got = len(unique(fabric.domain[[fabric.index[gpu] for gpu in gpus]]))
        cache[gpus] = got
    return got


_SPANS: weakref.WeakKeyDictionary[Fabric, dict[tuple[str, ...], int]] = weakref.WeakKeyDictionary()


def dispatch_bytes(weights: str) -> float:
    """Bytes per element of dispatched activations: FP8 with FP8 (or narrower) experts.

    DeepEP and the engines built on it quantise before sending; otherwise BF16.
    """
    return 1.0 if dtype_bytes(weights) <= 1.0 else ACT_BYTES


def expert_all_to_all(
    comm: CommModel,
    model: Model,
    ep: int,
    tokens: np.ndarray | float,
    weights: str,
    losses: Fidelity | None,
    *,
    low_latency: bool = False,
) -> np.ndarray:
    """Time [s] of one MoE layer's dispatch plus combine for `tokens` tokens per GPU.

    As DeepEP-style engines run it: dispatch in FP8 when the experts are FP8
    (:func:`dispatch_bytes`), combine in BF16. Inside one scale-up domain each token goes
    once to every distinct GPU holding one of its k experts (uniform routing:
    ep (1 - (1 - 1/ep)^k) GPUs). Across domains the normal (throughput) kernels send one
    copy per destination domain over the scale-out fabric and forward it inside, so the
    scale-out bytes shrink by distinct domains over distinct remote GPUs; the
    low-latency kernels (decode) send one copy per selected expert straight to its GPU.
    """
    sizes = _a2a_bytes(comm, model, ep, tokens, weights, low_latency)
    if sizes is None:
        return np.zeros_like(np.asarray(tokens, dtype=float))
    out = CommModel.time(comm.ep_all_to_all, sizes[0], losses)
    back = CommModel.time(comm.ep_all_to_all, sizes[1], losses)
    return np.asarray(out + back)


def _a2a_bytes(
    comm: CommModel,
    model: Model,
    ep: int,
    tokens: np.ndarray | float,
    weights: str,
    low_latency: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Bytes per GPU of :func:`expert_all_to_all`'s dispatch and combine (None: no call)."""
    t = np.asarray(tokens, dtype=float)
    if not model.moe or ep < 2:
        return None
    k = model.moe["experts_per_token"]
    copies = ep * (1 - (1 - 1 / ep) ** k)  # distinct GPUs per token
    nodes = comm.ep_domains
    if nodes > 1 and low_latency:
        copies = float(k)
    elif nodes > 1:
        per_node = ep / nodes
        remote_ranks = copies * (ep - per_node) / ep
        remote_nodes = (nodes - 1) * (1 - (1 - 1 / nodes) ** k)
        copies *= min(1.0, remote_nodes / max(remote_ranks, 1e-12))
    per_token = copies * model.d_model
    return t * per_token * dispatch_bytes(weights), t * per_token * ACT_BYTES


def _kernels(
    layout: Layout,
    model: Model,
    plan: Plan | _PlanStack,
    workload: Workload,
    hw: _Hw,
    meeting: np.ndarray,
    imbalance: np.ndarray | float,
    rows: np.ndarray,
    kv_bytes: np.ndarray,
    attn_flops: np.ndarray,
    attention: str,
    prefill_seq: float | None = None,
) -> dict[str, np.ndarray]:
    """One stage-step's kernel times by class (:func:`topo.kernels.step_kernels`).

    For decode or prefill; experts are those the step's `meeting` tokens touch on the
    busiest GPU.
    """
    expert_rows, touched = _local_experts(model, plan, meeting, imbalance)
    return step_kernels(
        layout.accelerator,
        model,
        plan,
        dtype=_compute_dtype(layout, workload),
        weight_bytes=dtype_bytes(workload.weights),
        rows=rows,
        expert_rows=expert_rows,
        experts_touched=touched,
        kv_bytes=kv_bytes,
        attn_flops=attn_flops,
        attention=attention,
        prefill_seq=prefill_seq,
        hbm_bw=hw.bw,
        compute_scale=workload.losses.compute_scale,
    )


def _local_experts(
    model: Model, plan: Plan | _PlanStack, meeting: np.ndarray, imbalance: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows per touched expert on the busiest GPU, and the GPU's experts some token selects.

    `meeting`: tokens that meet one copy of the experts (an EP block) in a step; each GPU
    holds ceil(E / ep) experts and receives that share of the block's selections (times the
    busiest rank's `imbalance`).
    """
    meeting = np.asarray(meeting, dtype=float)
    if not model.moe:
        return np.zeros_like(meeting), np.zeros_like(meeting)
    k, E = model.moe["experts_per_token"], model.moe["experts"]
    held = _per_plan(plan, lambda p: math.ceil(E / p.ep))  # the busiest GPU's experts
    touched = held * experts_touched_share(model, meeting)
    rows = meeting * k * held / E * imbalance / np.maximum(touched, 1e-9)
    return np.asarray(rows), np.asarray(touched)


def _kv_rereads(model: Model, plan: Plan, workload: Workload) -> float:
    """Times decode attention reads each KV head.

    Query heads per KV head on a GPU for a per-query-head kernel on a GQA model, else once.
    """
    if workload.attention_kernel != "per-query-head" or model.mla or workload.ideal:
        return 1.0
    if not workload.losses.enabled:
        return 1.0
    q = model.heads / plan.tp
    kv = max(model.kv_heads / plan.tp, 1.0)
    return max(q / kv, 1.0)


def _compute_dtype(layout: Layout, w: Workload) -> str:
    peaks = layout.accelerator.peak_flop_per_s
    if w.compute:
        if w.compute not in peaks:
            msg = (
                f"{layout.accelerator.name} has no published {w.compute} peak "
                f"(has: {', '.join(peaks)})"
            )
            raise TopoError(msg)
        return w.compute
    if w.weights in peaks:
        return w.weights
    if "bf16" in peaks:
        return "bf16"
    wanted = w.weights if w.weights == "bf16" else f"{w.weights} or bf16"
    msg = (
        f"{layout.accelerator.name} has no published {wanted} peak; "
        f"give --compute (has: {', '.join(peaks)})"
    )
    raise TopoError(msg)


@dataclass(frozen=True, slots=True)
class _Hw:
    bw: float  # achievable HBM bandwidth per GPU [B/s]
    flops: float  # achievable FLOP/s per GPU
    bw_peak: float
    flops_peak: float
    capacity: float


def _hw(layout: Layout, w: Workload) -> _Hw:
    acc = layout.accelerator
    if acc.hbm_bandwidth_bytes_per_s is None:
        msg = f"{acc.name} has no published HBM bandwidth"
        raise TopoError(msg)
    peak = acc.peak_flop_per_s[_compute_dtype(layout, w)]
    e_hbm = 1.0 if w.ideal else min(1.0, acc.efficiency.hbm * w.losses.hbm_scale)
    e_c = 1.0 if w.ideal else min(1.0, acc.efficiency.compute * w.losses.compute_scale)
    return _Hw(
        acc.hbm_bandwidth_bytes_per_s * e_hbm,
        peak * e_c,
        acc.hbm_bandwidth_bytes_per_s,
        peak,
        acc.hbm_capacity_bytes,
    )


def experts_touched_share(model: Model, tokens: np.ndarray | float) -> np.ndarray:
    """Expected share of a layer's routed experts that `tokens` tokens select.

    Under uniform routing each expert is missed by one token with probability
    1 - k/E, so by all of them with (1 - k/E)^tokens.

    Examples
    --------
    >>> from topo.models import load_model
    >>> round(float(experts_touched_share(load_model("deepseek-v3"), 32)), 3)
    0.638
    """
    tokens = np.asarray(tokens, dtype=float)
    if not model.moe:
        return np.zeros_like(tokens)
    k, E = model.moe["experts_per_token"], model.moe["experts"]
    if k >= E:
        return np.asarray(np.where(tokens > 0, 1.0, 0.0))
    # (1 - k/E)^tokens as one exp (a float power over a large array is several times slower)
    return np.asarray(-np.expm1(np.maximum(tokens, 0.0) * math.log1p(-k / E)))


def _shape(model: Model, plan: Plan) -> dict[str, float]:
    """Per-GPU shares of the plan: what one GPU of a stage holds and does."""
    p = model.params
    block = max(plan.tp, plan.ep)
    kv_shard = 1 if model.mla else min(plan.tp, model.kv_heads)
    # An ep that does not divide the experts leaves the busiest GPU ceil(E / ep) of them
    # (the slots DeepSeek fills with redundant experts): it holds and runs that many.
    uneven = 1.0
    if model.moe:
        E = model.moe["experts"]
        uneven = math.ceil(E / plan.ep) * plan.ep / E
    return {
        "block": block,
        "kv_shard": kv_shard,
        "dp_in_block": block / plan.tp,
        "non_expert": (p.non_expert - p.embedding) / plan.pp / plan.tp,
        "routed": p.routed / plan.pp / block * uneven,
        "matmul": (p.non_expert - p.embedding - p.norms) / plan.pp / plan.tp,
        "expert_matmul": p.expert * p.experts_per_token * p.moe_layers / plan.pp / block * uneven,
        "moe_layers": p.moe_layers / plan.pp,
        "layers": model.layers / plan.pp,
    }


@dataclass(frozen=True)
class _PlanStack:
    """Plans run through one decode step together: each degree a (plans x 1) column.

    The step's arithmetic broadcasts them against (plans x batches) arrays; what needs a
    number per plan (its shape, logs, ceilings) comes from :func:`_per_plan`.
    """

    plans: tuple[Plan, ...]
    tp: np.ndarray
    ep: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    # Each plan's run is 8 batches or fewer: the kernel layer fits each GEMM shape of a
    # row exactly, as it does for such a run alone (not on its cached curves).
    exact_rows: bool = False

    @classmethod
    def of(cls, plans: Sequence[Plan], *, exact_rows: bool = False) -> _PlanStack:
        def col(name: str) -> np.ndarray:
            return np.array([getattr(p, name) for p in plans], dtype=float)[:, None]

        return cls(tuple(plans), col("tp"), col("ep"), col("pp"), col("dp"), exact_rows)


def _per_plan(plan: Plan | _PlanStack, value: Callable[[Plan], float]) -> Any:
    """`value` of the plan, or a column of it for each plan of a stack."""
    if isinstance(plan, _PlanStack):
        return np.array([value(p) for p in plan.plans], dtype=float)[:, None]
    return value(plan)


def _shape_of(model: Model, plan: Plan | _PlanStack) -> dict[str, Any]:
    """:func:`_shape` of the plan, or each entry a column over a stack's plans."""
    if not isinstance(plan, _PlanStack):
        return _shape(model, plan)
    shapes = [_shape(model, p) for p in plan.plans]
    return {k: np.array([sh[k] for sh in shapes], dtype=float)[:, None] for k in shapes[0]}


TERMS = ("weights", "kv", "compute", "communication", "overhead")


@dataclass(frozen=True, slots=True)
class DecodeTerms:
    """A decode step's terms for each batch of a run (arrays, one entry a batch).

    Times are per output token [s]: `tpot` and its terms (`weights`, `kv`, `compute`,
    `communication`, `overhead`); `tokens_per_s` of the instance; per GPU of one
    stage-step, `weight_bytes_per_gpu` and `kv_bytes_per_gpu` [B] and `flops_per_gpu`
    [FLOP]; the latency floor per token, per step, and the seed's all-weights floor [s];
    `kernels` the step's time by kernel class [s] (zeros on the clean roofline).
    """

    batch: np.ndarray
    tpot: np.ndarray
    weights: np.ndarray
    kv: np.ndarray
    compute: np.ndarray
    communication: np.ndarray
    overhead: np.ndarray
    moe_imbalance: np.ndarray
    tokens_per_s: np.ndarray
    weight_bytes_per_gpu: np.ndarray
    kv_bytes_per_gpu: np.ndarray
    flops_per_gpu: np.ndarray
    floor: np.ndarray
    floor_step: np.ndarray
    floor_all_weights: np.ndarray
    kernels: Mapping[str, np.ndarray]

    def term(self, name: str) -> np.ndarray:
        """One of :data:`TERMS` by name [s]."""
        if name not in TERMS:
            msg = f"no decode term {name!r}; terms: {', '.join(TERMS)}"
            raise KeyError(msg)
        value: np.ndarray = getattr(self, name)
        return value

    def breakdown(self, i: int = 0) -> dict[str, float]:
        """The terms of batch `i` [s], by name."""
        return {k: float(self.term(k)[i]) for k in TERMS}

    def at(self, i: int) -> dict[str, float]:
        """Every array's entry `i` as floats (kernel classes as ``kernel_<class>``)."""
        out = {f: float(getattr(self, f)[i]) for f in self.__dataclass_fields__ if f != "kernels"}
        return {**out, **{f"kernel_{k}": float(v[i]) for k, v in self.kernels.items()}}


def decode(
    layout: Layout,
    model: Model,
    plan: Plan,
    batch: np.ndarray | float,
    workload: Workload,
    comm: CommModel | None = None,
) -> DecodeTerms:
    """Decode step terms for each batch (instance sequences), as arrays (:class:`DecodeTerms`)."""
    B = np.asarray(batch, dtype=float)
    return _decode_of(model, plan, workload, comm, _decode_bare(layout, model, plan, B, workload))


def decode_many(
    layout: Layout,
    model: Model,
    workload: Workload,
    runs: Sequence[tuple[Plan, np.ndarray, CommModel | None]],
) -> list[DecodeTerms]:
    """:func:`decode` of each (plan, batches, collectives): the same terms, to the bit.

    The steps without collectives of the runs of more than 8 batches are worked out as
    stacks of plans, not one plan at a time (each run's the floats of its own).
    """
    bares = _decode_bares(
        layout, model, workload, [(p, np.asarray(B, dtype=float)) for p, B, _ in runs]
    )
    return [
        _decode_of(model, p, workload, comm, bare)
        for (p, _, comm), bare in zip(runs, bares, strict=True)
    ]


def _decode_of(
    model: Model, plan: Plan, workload: Workload, comm: CommModel | None, bare: _Bare
) -> DecodeTerms:
    """:func:`decode`'s terms from the step without collectives and the collectives."""
    w, s = bare.work, bare.shape
    t_tp, t_ep, t_hop = _decode_comm(comm, model, plan, workload, s, w, bare.imbalance)
    tpot = _tpot(plan.pp, workload, bare.body, bare.fixed, t_tp, t_ep, t_hop)
    return DecodeTerms(
        batch=bare.batch,
        tpot=tpot,
        weights=bare.weights,
        kv=bare.kv,
        compute=bare.compute,
        communication=plan.pp * (t_tp + t_ep) + (plan.pp - 1) * t_hop,
        overhead=bare.overhead,
        moe_imbalance=bare.imbalance,
        # pp micro-batches of B are in flight: each stage works on one of them.
        tokens_per_s=plan.pp * bare.batch / tpot,
        weight_bytes_per_gpu=w.w_bytes,
        kv_bytes_per_gpu=w.kv_bytes,
        flops_per_gpu=bare.flops,
        floor=bare.floor,
        floor_step=bare.floor_step,
        floor_all_weights=bare.floor_all_weights,
        kernels=bare.kernels,
    )


def _tpot(
    pp: Any,
    workload: Workload,
    body: np.ndarray,
    fixed: Any,
    t_tp: np.ndarray,
    t_ep: np.ndarray,
    t_hop: np.ndarray,
) -> np.ndarray:
    """A decode step's time per output token [s] from its bare terms and collectives.

    `pp`, `fixed`: numbers, or arrays of them (one per element: runs laid end to end).
    """
    t_stage = _with_comm(body, t_tp, t_ep, workload.overlapped) + fixed
    # A step emits `accepted_tokens_per_step` tokens per sequence (1 without speculation).
    return np.asarray((pp * t_stage + (pp - 1) * t_hop) / workload.losses.accepted_tokens_per_step)


def decode_tpots(
    layout: Layout,
    model: Model,
    workload: Workload,
    runs: Sequence[tuple[Plan, np.ndarray, CommModel | None]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(time per output token, tokens/s) of :func:`decode` for many (plan, batches, comm).

    The collectives of every run are timed together, one call per distinct group lines
    (the message sizes of all runs concatenated), so a search's bounds on hundreds of
    plans cost a few array calls. Equal to :func:`decode`'s to the last bits of float
    rounding (array kernels may round a message's time differently at another position).
    """
    f = workload.losses
    bares = _decode_bares(layout, model, workload, [(plan, batch) for plan, batch, _ in runs])
    calls = [
        _decode_calls(
            comm, model, plan, workload, bare.shape, bare.work, bare.imbalance, _sizes_of(bare)
        )
        for (plan, _, comm), bare in zip(runs, bares, strict=True)
    ]
    by_lines: dict[tuple[Line, ...], list[tuple[dict[str, np.ndarray], str, np.ndarray]]] = {}
    times: list[dict[str, np.ndarray]] = []
    weights: list[CommModel | None] = []  # whose hop_weight scales each run's hops
    for run, (_, _, comm) in zip(calls, runs, strict=True):
        got: dict[str, np.ndarray] = {}
        times.append(got)
        weights.append(comm)
        for name, (lines, nbytes) in run.items():
            by_lines.setdefault(lines, []).append((got, name, nbytes))
    flats = [
        (lines, np.concatenate([m.ravel() for _, _, m in asked]))
        for lines, asked in by_lines.items()
    ]
    # Every curve the charges read looked up once, over all the lines' sizes.
    memos = curve_memos(flats) if f.enabled else [None] * len(flats)
    for (lines, flat), memo, asked in zip(flats, memos, by_lines.values(), strict=True):
        every = CommModel._time(lines, flat, f, memo) if lines else np.zeros_like(flat)
        at = 0
        for got, name, m in asked:
            got[name] = every[at : at + m.size].reshape(m.shape)
            at += m.size
    for got, comm in zip(times, weights, strict=True):
        if comm is not None and comm.pp_hop_rest:
            for name in ("hop", "hop_rest"):
                if name in got:
                    got[name] = got[name] * comm.hop_weight(name)
    if not runs:
        return []
    # Every run's step assembled at once, the runs laid end to end (each element the
    # same operations on the same numbers as its run alone).
    sizes = [bare.batch.size for bare in bares]
    ends = np.cumsum(sizes)[:-1]

    def each(values: list[float]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=float), sizes)

    zero = np.zeros(int(sum(sizes)))
    names = {name for got in times for name in got}
    laid = {
        name: np.concatenate(
            [got.get(name, np.zeros(n)) for got, n in zip(times, sizes, strict=True)]
        )
        for name in names
    }
    layers = each([bare.shape["layers"] for bare in bares])
    moe_layers = each([bare.shape["moe_layers"] for bare in bares])
    t_tp, t_ep, t_hop = _decode_comm_of(layers, moe_layers, zero, laid)
    pp = each([plan.pp for plan, _, _ in runs])
    body = np.concatenate([bare.body for bare in bares])
    fixed = each([bare.fixed for bare in bares])
    tpot = _tpot(pp, workload, body, fixed, t_tp, t_ep, t_hop)
    tokens = pp * np.concatenate([bare.batch for bare in bares]) / tpot
    return list(zip(np.split(tpot, ends), np.split(tokens, ends), strict=True))


def floor_steps(
    layout: Layout,
    model: Model,
    workload: Workload,
    fabric: Fabric,
    runs: Sequence[tuple[Plan, np.ndarray]],
    strategy: str = "packed",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decode_tpots` of each (plan, batches) with :func:`comm_floor`'s collectives.

    Returns (time per output token, tokens/s, each run's number of batches) as rows of
    two arrays, a shorter run's row padded past its length with its last batch's step
    (ignore those). The floors' charges are stacked: each of a call's rows pays its own
    latency and per-byte cost, the rows of one link whose group sizes take one measured
    curve looked up on it at once, so hundreds of plans cost a few dozen array calls.
    Element by element the operations :func:`decode_tpots` does (the same floats, tested).
    """
    n = np.array([len(b) for _, b in runs], dtype=np.int64)
    if (n < 1).any():
        msg = "floor_steps: every run needs at least one batch"
        raise ValueError(msg)
    if not len(runs):
        return np.zeros((0, 0)), np.zeros((0, 0)), n
    f = workload.losses
    if not f.enabled or workload.ideal:  # no measured charges to stack
        steps = decode_tpots(
            layout, model, workload, [(p, b, comm_floor(fabric, p, strategy)) for p, b in runs]
        )
        width = int(n.max())
        return _laid([t for t, _ in steps], width), _laid([k for _, k in steps], width), n
    nic, up, shared = _floor_rates(fabric)
    rows = _floor_rows(layout, model, workload, runs)
    shape = (len(runs), int(n.max()))
    # By call: the runs that make it, their sizes and their groups.
    asked: dict[str, tuple[str, list[int], list[np.ndarray], list[_Part]]] = {
        name: (op, [], [], []) for name, op in _FLOOR_CALLS.items()
    }
    hop_share = np.ones((len(runs), 1))  # share of each run's hops its "hop" stands for
    for i, ((plan, _), row) in enumerate(zip(runs, rows, strict=True)):
        tp, ep, hop, spans, rest, hop_share[i] = _floor_parts(fabric, plan, strategy, shared)
        groups = {"tp": tp, "dispatch": ep, "combine": ep, "hop": hop, "hop_rest": rest}
        for name, nbytes in row.calls(spans > 1).items():
            part = groups[name]
            if part is not None:
                _, at, sizes, parts = asked[name]
                at.append(i)
                sizes.append(nbytes)
                parts.append(part)
    times = {
        name: _floor_times(op, fabric, nic, up, f, shape, at, sizes, parts)
        for name, (op, at, sizes, parts) in asked.items()
        if at
    }
    if "hop_rest" in times:  # each kind of hop weighted by its share of the run's hops
        times["hop"] = times["hop"] * hop_share
        times["hop_rest"] = times["hop_rest"] * (1 - hop_share)
    layers, moe_layers, pp, fixed = (
        np.array([getattr(r, k) for r in rows])[:, None]
        for k in ("layers", "moe_layers", "pp", "fixed")
    )
    body = _laid([r.body for r in rows], shape[1])
    t_tp, t_ep, t_hop = _decode_comm_of(layers, moe_layers, np.zeros(shape), times)
    tpot = _tpot(pp, workload, body, fixed, t_tp, t_ep, t_hop)
    return tpot, pp * _laid([r.batch for r in rows], shape[1]) / tpot, n


@dataclass(frozen=True, slots=True)
class _FloorRow:
    """What :func:`floor_steps` reads of a run's decode step (kept by run)."""

    body: np.ndarray
    batch: np.ndarray
    layers: float
    moe_layers: float
    pp: float
    fixed: float
    sizes: dict[bool, dict[str, np.ndarray]]  # by whether the expert block spans domains
    bare: _Bare
    plan: Plan
    model: Model
    workload: Workload

    def calls(self, spans: bool) -> dict[str, np.ndarray]:
        """The step's collective calls and their message sizes (:func:`_decode_calls`)."""
        got = self.sizes.get(spans)
        if got is None:
            b = self.bare
            calls = _decode_calls(
                _SPANS_ONLY[spans], self.model, self.plan, self.workload, b.shape, b.work,
                b.imbalance, _sizes_of(b),
            )  # fmt: skip
            got = self.sizes[spans] = {name: nbytes for name, (_, nbytes) in calls.items()}
            if "hop" in got:  # the pipeline's other hop, where its floor has one
                got["hop_rest"] = got["hop"]
        return got


def _floor_rows(
    layout: Layout, model: Model, workload: Workload, runs: Sequence[tuple[Plan, np.ndarray]]
) -> list[_FloorRow]:
    """Each run's :class:`_FloorRow`, those not kept yet from their steps.

    Kept by value (accelerator, model, workload), then by plan and batches.
    """
    whole = (value_key(layout.accelerator), value_key(model), workload)
    kept = _FLOOR_ROWS.get(whole)
    if kept is None:
        kept = {}
        bounded_put(_FLOOR_ROWS, whole, kept, 2)
    keys = [(plan, np.asarray(b, dtype=float).tobytes()) for plan, b in runs]
    rows = [kept.get(k) for k in keys]
    todo = [i for i, r in enumerate(rows) if r is None]
    bares = _decode_bares(layout, model, workload, [runs[i] for i in todo])
    for i, bare in zip(todo, bares, strict=True):
        plan = runs[i][0]
        s = bare.shape
        rows[i] = _FloorRow(
            bare.body, bare.batch, s["layers"], s["moe_layers"], plan.pp, bare.fixed, {},
            bare, plan, model, workload,
        )  # fmt: skip
        bounded_put(kept, keys[i], rows[i], _BARE_MAX_STEPS)
    return [r for r in rows if r is not None]


# _floor_rows' rows by (accelerator, model, workload), then by (plan, batches).
_FLOOR_ROWS: dict[tuple[Any, ...], dict[tuple[Plan, bytes], _FloorRow]] = {}


# comm_floor's calls by decode step call name, and their ops.
_FLOOR_CALLS = {
    "tp": "all-reduce", "dispatch": "all-to-all", "combine": "all-to-all", "hop": "p2p",
    "hop_rest": "p2p",
}  # fmt: skip
# Stand-ins for a floor in _decode_calls: only whether the expert block spans domains
# (the message sizes depend on it); the lines are the floor's own.
_SPANS_ONLY = {False: CommModel((), (), (), 1), True: CommModel((), (), (), 2)}


def _floor_times(
    op: str,
    fabric: Fabric,
    nic: float,
    up: float,
    f: Fidelity,
    shape: tuple[int, int],
    rows: list[int],
    sizes: list[np.ndarray],
    parts: list[_Part],
) -> np.ndarray:
    """One floor call's time per run (rows of `shape`; zero where a run does not make it).

    As :meth:`CommModel._time` charges comm_floor's one line (:func:`topo.collectives.charge`,
    serving): the measured latency of its link (across domains, no less than the
    scale-up link's), its bytes over the link's rate and the
    measured share at each size; an all-reduce also by the engine's kernel where that is
    faster; then the calibration's latency and bandwidth scale.
    """
    out = np.zeros(shape)
    M = _laid(sizes, shape[1])
    group = np.array([p[0] for p in parts])
    across = np.array([p[1] for p in parts])
    share = np.array([p[2] for p in parts])
    rate = np.where(across, nic, up)
    phase = (share > 0) & (rate > 0)
    beta = np.zeros(len(parts))
    np.divide(share, rate, out=beta, where=phase)
    beta = (beta * _UNDER)[:, None]
    at = np.array(rows)
    for x in (False, True):
        sel = across == x
        if not sel.any():
            continue
        link = fabric.out_link if x else fabric.up_link
        m, has, b_sel = M[sel], phase[sel][:, None], beta[sel]
        engine = op == "all-reduce" and has_engine_curve(link, op)
        charged = []
        for runtime in ("library", "engine") if engine else ("library",):
            latency, got = collective_efficiencies(link, op, m, group[sel], runtime)
            inside = fabric.up_link
            if x and inside and inside != link:  # as charge: across, at least inside's
                floor, _ = collective_efficiencies(inside, op, m[:, :1], group[sel], runtime)
                latency = np.maximum(latency, floor)
            # As charge: the larger of no bare alpha (0) and the measured latency.
            charged.append((np.maximum(0.0, latency), np.where(has, b_sel * m / got, 0.0)))
        a, b = charged[0]
        if engine:
            a2, b2 = charged[1]
            pick = np.asarray(a2 + b2) < np.asarray(a + b)
            a, b = np.where(pick, a2, a), np.where(pick, b2, b)
        out[at[sel]] = f.comm_time(a, b)
    return out


def _laid(rows: list[np.ndarray], width: int) -> np.ndarray:
    """`rows` (1-D, up to `width` values each) as one array's rows, padded with their last."""
    n = np.array([len(r) for r in rows])
    at = np.cumsum(n) - n
    idx = at[:, None] + np.minimum(np.arange(width), n[:, None] - 1)
    return np.asarray(np.concatenate(rows)[idx])


@dataclass(frozen=True, slots=True)
class _Bare:
    """A decode step's terms that do not depend on the network (arrays read-only)."""

    batch: np.ndarray
    shape: dict[str, float]
    work: _StepWork
    imbalance: np.ndarray
    body: np.ndarray  # the stage's compute and memory time before collectives [s]
    fixed: float  # per-step overhead and launches [s]
    weights: np.ndarray
    kv: np.ndarray
    compute: np.ndarray
    overhead: np.ndarray
    flops: np.ndarray
    floor: np.ndarray
    floor_step: np.ndarray
    floor_all_weights: np.ndarray
    kernels: Mapping[str, np.ndarray]


# A step's network-free terms depend on the accelerator, model, plan, batches and
# workload only: a study's designs (and a plan's bound and its rows) share them.
_BARE: dict[tuple[Any, ...], _Bare] = {}


def _decode_bare(
    layout: Layout, model: Model, plan: Plan, B: np.ndarray, workload: Workload
) -> _Bare:
    key = (
        value_key(layout.accelerator), value_key(model), plan, workload, B.shape, B.tobytes()
    )  # fmt: skip
    got = _BARE.get(key)
    if got is None:
        got = _bare_terms(layout, model, plan, B.copy(), workload)
        if B.size <= _BARE_MAX_POINTS:  # a scenario keeps its long tables itself
            bounded_put(_BARE, key, got, _BARE_MAX_STEPS)
    return got


def keep_steps(
    layout: Layout, model: Model, workload: Workload, runs: Sequence[tuple[Plan, np.ndarray]]
) -> None:
    """Work out the network-free decode steps of many (plan, batches) together; keep them.

    :func:`decode` of each run then finds its step (the same floats). A search that
    decodes plans one by one asks for the next few hundred first: their steps run as
    stacks (runs of more than 8 batches), not one plan at a time. Runs of more than
    :data:`_BARE_MAX_POINTS` batches are not kept, so not worked out here either.
    """
    _decode_bares(layout, model, workload, [r for r in runs if len(r[1]) <= _BARE_MAX_POINTS])


def _decode_bares(
    layout: Layout, model: Model, workload: Workload, runs: Sequence[tuple[Plan, np.ndarray]]
) -> list[_Bare]:
    """:func:`_decode_bare` of each (plan, batches); those not kept yet run as stacks.

    Runs of more than 8 batches (the kernel layer's curve path) are stacked, up to
    :data:`_STACK_POINTS` batches at a time (:func:`_bare_stack`); so are runs of 8 or
    fewer, apart from them (each row's GEMMs fitted exactly, as for the run alone). Each
    step is the same floats as its own run, and is kept as that run's (runs of at most
    :data:`_BARE_MAX_POINTS` batches).
    """
    acc, mod = value_key(layout.accelerator), value_key(model)
    out: list[_Bare | None] = []
    todo: list[tuple[int, tuple[Any, ...], Plan, np.ndarray]] = []
    short: list[tuple[int, tuple[Any, ...], Plan, np.ndarray]] = []
    for plan, batch in runs:
        B = np.asarray(batch, dtype=float)
        key = (acc, mod, plan, workload, B.shape, B.tobytes())
        got = _BARE.get(key)
        if got is None and B.ndim == 1 and B.size:
            (todo if B.size > 8 else short).append((len(out), key, plan, B))
        elif got is None:
            got = _decode_bare(layout, model, plan, B, workload)
        out.append(got)
    for part in (*_stacks(todo, _STACK_POINTS), *_stacks(short, _SHORT_STACK_POINTS)):
        steps = _bare_stack(layout, model, [(p, B) for _, _, p, B in part], workload)
        for (i, key, _, B), bare in zip(part, steps, strict=True):
            if B.size <= _BARE_MAX_POINTS:  # longer ones: the caller keeps its own tables
                bounded_put(_BARE, key, bare, _BARE_MAX_STEPS)
            out[i] = bare
    return [b for b in out if b is not None]


def _stacks(todo: list[_Todo], most: int) -> Iterator[list[_Todo]]:
    """`todo` in parts of at most `most` batches in all (at least one run each)."""
    at = 0
    while at < len(todo):
        end, points = at, 0
        while end < len(todo) and (end == at or points + todo[end][3].size <= most):
            points += todo[end][3].size
            end += 1
        yield todo[at:end]
        at = end


# A run waiting for its step: (position, key, plan, batches).
_Todo: TypeAlias = tuple[int, tuple[Any, ...], Plan, np.ndarray]
# Batches of short runs stacked at most: each row's GEMM shapes are looked up one by one.
_SHORT_STACK_POINTS = 1 << 12


# Batches of all the plans run as one stack at most (~40 arrays of them: ~20 MB; 256 plans
# of the search's 256 batches).
_STACK_POINTS = 1 << 16


def _bare_stack(
    layout: Layout, model: Model, runs: Sequence[tuple[Plan, np.ndarray]], workload: Workload
) -> list[_Bare]:
    """:func:`_bare_terms` of each (plan, batches), the plans stacked into one pass.

    Each run's batches fill a row (the shorter ones repeat their last batch); every
    operation is element by element, so each row is the floats of its run alone.
    """
    n = max(len(B) for _, B in runs)
    stack = _PlanStack.of([p for p, _ in runs], exact_rows=n <= 8)
    B2 = np.empty((len(runs), n))
    for i, (_, B) in enumerate(runs):
        B2[i, : len(B)] = B
        B2[i, len(B) :] = B[-1]
    bare = _bare_terms(layout, model, stack, B2, workload)  # its arrays read-only
    w = bare.work
    works = [getattr(w, f) for f in _StepWork.__slots__]
    fields = [f for f in _Bare.__slots__ if f not in ("batch", "shape", "work", "fixed", "kernels")]
    arrays = [getattr(bare, f) for f in fields]
    fixed = np.broadcast_to(np.asarray(bare.fixed, dtype=float).reshape(-1, 1), (len(runs), 1))
    out = []
    for i, (plan, B) in enumerate(runs):
        m = len(B)
        batch = B.copy()
        batch.flags.writeable = False

        def row(a: Any, i: int = i, m: int = m) -> Any:
            return a[i, :m] if isinstance(a, np.ndarray) and a.ndim == 2 else a

        out.append(
            _Bare(
                batch=batch,
                shape=_shape(model, plan),
                work=_StepWork(*map(row, works)),
                fixed=float(fixed[i, 0]),
                kernels={k: row(v) for k, v in bare.kernels.items()},
                **dict(zip(fields, map(row, arrays), strict=True)),
            )
        )
    return out


# Steps of at most this many batches are kept (a study's searches run 256 at most), and
# at most _BARE_MAX_STEPS of them: ~40 arrays a step (a stacked step's rows keep their
# stack, padded to its longest run), so ~330 MB even all at the most (the bundled DeepSeek
# study keeps about 1,100).
_BARE_MAX_POINTS = 256
_BARE_MAX_STEPS = 1 << 12


def _bare_terms(
    layout: Layout, model: Model, plan: Plan | _PlanStack, B: np.ndarray, workload: Workload
) -> _Bare:
    hw = _hw(layout, workload)
    s = _shape_of(model, plan)
    f = workload.losses
    w = _step_work(model, plan, workload, s, B)
    imbalance = np.ones_like(B)
    many = np.asarray(s["block"] > 1)
    if f.enabled and model.moe and many.any():
        per_gpu = w.tokens_block * w.verify * model.moe["experts_per_token"] / s["block"]
        mu = np.maximum(np.asarray(per_gpu, dtype=float), 1e-9)
        log_block = _per_plan(plan, lambda p: math.log(max(p.tp, p.ep, 2)))
        imbalance = np.where(many, busiest_load(mu, log_block, f.moe_skew), imbalance)
    t_w = w.w_bytes / hw.bw
    t_kv = w.kv_bytes / hw.bw
    cv_factor = np.ones_like(B)
    spread_dp = np.asarray(plan.dp > 1)
    if f.enabled and f.context_cv > 0 and spread_dp.any():
        # Data-parallel attention: the step waits for the rank holding the most KV.
        log_dp = _per_plan(plan, lambda p: math.log(max(p.dp, 2)))
        spread = np.sqrt(2 * log_dp / np.maximum(w.per_rank, 1e-9))
        cv_factor = np.where(spread_dp, 1 + f.context_cv * spread, cv_factor)
        t_kv = t_kv * cv_factor
    t_c = (
        w.dense_flops / f.gemm_efficiency(w.rows)
        + w.expert_flops * imbalance / f.gemm_efficiency(_expert_rows(model, w))
        + w.attn_flops
    ) / hw.flops
    roof = np.maximum(t_w + t_kv, t_c)
    body = roof  # the stage's compute and memory time before collectives
    kern: dict[str, np.ndarray] = {}
    if f.enabled and not workload.ideal:
        # The kernel layer: every GEMM, attention and elementwise kernel at its measured
        # efficiency (topo.kernels); the roofline terms above stay as the explanation.
        meeting = w.tokens_block * w.verify + w.chunk * s["dp_in_block"]
        kern = _kernels(
            layout, model, plan, workload, hw, meeting, imbalance, w.rows,
            w.kv_bytes * cv_factor, w.attn_flops, "decode",
        )  # fmt: skip
        body = np.maximum(sum(kern.values(), np.zeros_like(B)), roof)
    fixed = f.step_overhead_s + f.launch_per_layer_s * s["layers"] if f.enabled else 0.0
    t_over = body - roof + fixed
    floor, floor_step, floor_all = _floors(model, plan, workload, s, hw, w)
    bare = _Bare(
        batch=B,
        shape=s,
        work=w,
        imbalance=imbalance,
        body=body,
        fixed=fixed,
        weights=plan.pp * t_w,
        kv=plan.pp * t_kv,
        compute=plan.pp * t_c,
        overhead=plan.pp * t_over,
        flops=w.dense_flops + w.expert_flops + w.attn_flops,
        floor=floor,
        floor_step=floor_step,
        floor_all_weights=floor_all,
        # Time of a step by kernel class (zeros on the clean roofline).
        kernels={k: plan.pp * kern.get(k, np.zeros_like(B)) for k in KERNEL_CLASSES},
    )
    _freeze(bare)
    return bare


def _freeze(bare: _Bare) -> None:
    """Make every array of a cached step read-only (callers share them)."""
    arrays = [getattr(bare, f) for f in bare.__slots__ if f not in ("shape", "work", "kernels")]
    arrays += [getattr(bare.work, f) for f in bare.work.__slots__]
    arrays += list(bare.kernels.values())
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False


@dataclass(frozen=True, slots=True)
class _StepWork:
    """What one GPU of a stage reads and computes in one decode step, per batch [B, FLOP]."""

    per_rank: np.ndarray  # sequences per attention rank in one micro-batch
    tokens_block: np.ndarray  # tokens meeting one copy of the experts
    verify: float  # tokens a sequence runs through per step (speculation)
    chunk: float  # chunked-prefill prompt tokens each attention rank adds to a step
    rows: np.ndarray  # matmul rows per attention rank
    w_bytes: np.ndarray
    kv_bytes: np.ndarray
    dense_flops: np.ndarray
    expert_flops: np.ndarray
    attn_flops: np.ndarray


def _step_work(
    model: Model, plan: Plan | _PlanStack, workload: Workload, s: dict[str, Any], B: np.ndarray
) -> _StepWork:
    b_w, b_kv = dtype_bytes(workload.weights), dtype_bytes(workload.kv)
    S = workload.mean_context
    per_rank = B / plan.dp
    tokens_block = per_rank * s["dp_in_block"]
    f = workload.losses
    verify = 1 + f.draft_tokens
    chunk = f.prefill_chunk_tokens if f.enabled else 0.0
    touching = tokens_block + chunk * s["dp_in_block"]
    w_bytes = (s["non_expert"] + experts_touched_share(model, touching) * s["routed"]) * b_w
    w_bytes = w_bytes + per_rank * model.d_model * b_w / plan.tp / plan.pp  # embedding rows
    kv_bytes = per_rank * model.kv_bytes(S, b_kv) / plan.pp / s["kv_shard"]
    kv_bytes = kv_bytes * _per_plan(plan, lambda p: _kv_rereads(model, p, workload))
    rows = per_rank * verify + chunk
    dense_flops = 2 * rows * s["matmul"]
    expert_flops = 2 * (tokens_block * verify + chunk * s["dp_in_block"]) * s["expert_matmul"]
    attn_flops = per_rank * verify * model.attention_flops_per_token(S) / plan.pp / plan.tp
    if chunk:
        half = workload.input_tokens / 2
        attn_flops = attn_flops + chunk * model.attention_flops_per_token(half) / plan.pp / plan.tp
        kv_bytes = kv_bytes + chunk * model.kv_bytes_per_token(b_kv) / plan.pp / s["kv_shard"]
    return _StepWork(
        per_rank, tokens_block, verify, chunk, rows, w_bytes, kv_bytes, dense_flops,
        expert_flops, attn_flops,
    )  # fmt: skip


def _expert_rows(model: Model, w: _StepWork) -> np.ndarray:
    """Rows of each expert GEMM: tokens per expert that some token selects (at least 1).

    Skinny GEMMs reach a share of the achievable FLOP/s; dense GEMMs have the tokens per
    attention rank as rows.
    """
    if not model.moe:
        return np.ones_like(w.per_rank)
    routed = w.tokens_block * w.verify
    share = np.maximum(experts_touched_share(model, routed), 1e-12)
    return np.asarray(
        np.maximum(routed * model.moe["experts_per_token"] / model.moe["experts"] / share, 1.0)
    )


def _decode_comm(
    comm: CommModel | None,
    model: Model,
    plan: Plan,
    workload: Workload,
    s: dict[str, float],
    w: _StepWork,
    imbalance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP all-reduces, EP dispatch and combine, and one PP hop of a decode step [s]."""
    calls = _decode_calls(comm, model, plan, workload, s, w, imbalance)
    f = workload.losses
    times = {k: CommModel.time(lines, nbytes, f) for k, (lines, nbytes) in calls.items()}
    if comm is not None and "hop_rest" in times:  # each kind of hop for its share of them
        times["hop"] = times["hop"] * comm.hop_weight("hop")
        times["hop_rest"] = times["hop_rest"] * comm.hop_weight("hop_rest")
    return _decode_comm_of(s["layers"], s["moe_layers"], np.zeros_like(w.per_rank), times)


# One collective call of a step: its group's lines and the bytes per GPU it moves.
_Call = tuple[tuple[Line, ...], np.ndarray]


def _decode_calls(
    comm: CommModel | None,
    model: Model,
    plan: Plan,
    workload: Workload,
    s: dict[str, float],
    w: _StepWork,
    imbalance: np.ndarray,
    kept: dict[Any, Any] | None = None,
) -> dict[str, _Call]:
    """A decode step's collective calls, by name: those it makes.

    ``tp`` (one all-reduce), ``dispatch`` and ``combine`` (one MoE layer's), ``hop`` (one
    pipeline hop). `kept`: the step's message sizes from an earlier call on the same step
    (filled here; they depend on the step and on whether the expert block spans domains).
    """
    if comm is None or workload.ideal:
        return {}
    kept = {} if kept is None else kept
    calls: dict[str, _Call] = {}
    # Rows through the TP all-reduce: every token of the step, chunk included.
    act = kept.get("act")
    if act is None:
        act = kept["act"] = (w.per_rank * w.verify + w.chunk) * model.d_model * ACT_BYTES
    if plan.tp > 1:
        calls["tp"] = (comm.tp_all_reduce, act)
    if s["block"] > 1 and plan.ep > 1 and model.moe:
        # Low-latency dispatch: the sizes depend on the domains spanned only through
        # whether there are more than one.
        spans = comm.ep_domains > 1
        sizes = kept.get(spans)
        if sizes is None:
            tokens = w.per_rank / plan.tp * w.verify * imbalance
            sizes = kept[spans] = _a2a_bytes(comm, model, plan.ep, tokens, workload.weights, True)
        if sizes is not None:
            calls["dispatch"] = (comm.ep_all_to_all, sizes[0])
            calls["combine"] = (comm.ep_all_to_all, sizes[1])
    if plan.pp > 1:
        calls["hop"] = (comm.pp_hop, act)
        if comm.pp_hop_rest:
            calls["hop_rest"] = (comm.pp_hop_rest, act)
    return calls


def _sizes_of(bare: _Bare) -> dict[Any, Any]:
    """Where :func:`_decode_calls` keeps a kept step's message sizes (by the step)."""
    got = _SIZES.get(id(bare))
    if got is None or got[0] is not bare:
        got = (bare, {})
        bounded_put(_SIZES, id(bare), got, 1 << 10)
    return got[1]


# Message sizes of kept decode steps, by the step's id (the step kept with them, so an id
# is not reused while its entry stands); at most 1,024, which holds a design's searches.
_SIZES: dict[int, tuple[_Bare, dict[Any, Any]]] = {}


def _decode_comm_of(
    layers: Any, moe_layers: Any, zero: np.ndarray, times: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_decode_comm` from the times of its calls (:func:`_decode_calls`).

    `layers`, `moe_layers`: the stage's (numbers, or one per element); `zero`: zeros
    shaped as the step's batches.
    """
    t_tp, t_ep, t_hop = zero, zero, zero
    if "tp" in times:
        t_tp = t_tp + 2 * layers * times["tp"]
    if "dispatch" in times:
        t_ep = t_ep + moe_layers * np.asarray(times["dispatch"] + times["combine"])
    if "hop" in times:  # per hop: each kind of hop weighted by its share of them
        t_hop = times["hop"] + times["hop_rest"] if "hop_rest" in times else times["hop"]
    return t_tp, t_ep, t_hop


def _floors(
    model: Model,
    plan: Plan | _PlanStack,
    workload: Workload,
    s: dict[str, Any],
    hw: _Hw,
    w: _StepWork,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latency floor per token and per step, and the seed's all-weights floor [s].

    One step's floor: the weights its tokens pass through, over the peak bandwidth of the
    GPUs that hold one copy of them -- the TP group for attention and dense layers (with
    data-parallel attention each TP group holds its own copy), the EP block for experts.
    A token passes through one row of the input embedding, not the table. Per token it is
    the step's floor over the tokens a step emits.
    """
    p = model.params
    b_w = dtype_bytes(workload.weights)
    experts = experts_touched_share(model, w.tokens_block) * s["routed"] * plan.pp
    dense = (p.non_expert - p.embedding) / plan.tp
    floor_step = (dense + experts) * b_w / hw.bw_peak
    floor_step = floor_step + w.per_rank * model.d_model * b_w / (plan.tp * hw.bw_peak)
    # The seed's rule: the touched weights over the bandwidth of all the block's GPUs.
    touched = p.non_expert + experts_touched_share(model, w.tokens_block) * p.routed
    floor_all = touched * b_w / (s["block"] * hw.bw_peak)
    return floor_step / workload.losses.accepted_tokens_per_step, floor_step, floor_all


def bound_of(d: DecodeTerms, i: int = 0) -> str:
    """Which term binds: ``memory``, ``compute``, ``communication`` or ``overhead``."""
    terms = {
        "memory": float(d.weights.flat[i] + d.kv.flat[i]),
        "compute": float(d.compute.flat[i]),
        "communication": float(d.communication.flat[i]),
        "overhead": float(d.overhead.flat[i]),
    }
    return max(terms, key=lambda k: terms[k])


def _with_comm(
    roof: np.ndarray, t_tp: np.ndarray, t_ep: np.ndarray, overlapped: dict[str, bool]
) -> np.ndarray:
    """A stage's time: overlapped collectives hide behind the roof, the others add to it."""
    hidden = t_tp * overlapped["tp"] + t_ep * overlapped["ep"]
    exposed = t_tp * (not overlapped["tp"]) + t_ep * (not overlapped["ep"])
    return np.asarray(np.maximum(roof, hidden) + exposed)


def prefill(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    comm: CommModel | None = None,
    prompts: float = 1.0,
) -> PrefillTerms:
    """`prompts` prompts per attention rank in one step, through every stage.

    Returns the time, tokens/s and the binding term; weights are read once per step
    whatever the number of prompts (a static batch's context phase).
    """
    hw = _hw(layout, workload)
    s = _shape(model, plan)
    n = float(max(prompts, 1.0))
    T1 = float(max(workload.input_tokens, 1))
    T = n * T1
    b_w, b_kv = dtype_bytes(workload.weights), dtype_bytes(workload.kv)
    tokens_block = T * s["dp_in_block"]
    w_bytes = (
        s["non_expert"] + float(experts_touched_share(model, np.array(tokens_block))) * s["routed"]
    ) * b_w
    kv_bytes = T * model.kv_bytes_per_token(b_kv) / plan.pp / s["kv_shard"]  # written once
    # Causal attention: token t attends to t tokens; the mean is T / 2.
    dense_flops = 2 * T * s["matmul"]
    expert_flops = 2 * tokens_block * s["expert_matmul"]
    attn_flops = T * model.attention_flops_per_token(T1 / 2) / plan.pp / plan.tp
    flops = dense_flops + expert_flops + attn_flops
    f = workload.losses
    expert_rows = _prefill_expert_rows(model, tokens_block)
    t_mem = (w_bytes + kv_bytes) / hw.bw
    t_c = (
        dense_flops / float(f.gemm_efficiency(np.array(T)))
        + expert_flops / float(f.gemm_efficiency(np.array(expert_rows)))
        + attn_flops
    ) / hw.flops
    body = max(t_mem, t_c)
    kern: dict[str, np.ndarray] = {}
    if f.enabled and not workload.ideal:
        kern = _kernels(
            layout, model, plan, workload, hw, np.array([tokens_block]), 1.0, np.array([T]),
            np.array([kv_bytes]), np.array([attn_flops]), "prefill", prefill_seq=T1,
        )  # fmt: skip
        body = max(body, float(sum(float(v[0]) for v in kern.values())))
    t_tp, t_ep, t_hop = _prefill_comm(comm, model, plan, workload, s, T)
    t_comm = t_tp + t_ep
    t_stage = float(_with_comm(np.array(body), np.array(t_tp), np.array(t_ep), workload.overlapped))
    if f.enabled:  # one step's fixed costs: launches of the stage's layers, the host
        t_stage += f.step_overhead_s + f.launch_per_layer_s * s["layers"]
    terms = {"memory": t_mem, "compute": t_c, "communication": t_comm}
    if kern:  # with the kernel layer, the kernels' own time says what binds
        terms = {
            "memory": t_mem,
            "compute": max(t_c, body - t_mem) if body > t_mem else t_c,
            "communication": t_comm,
        }
    return PrefillTerms(
        kernels_s={k: plan.pp * float(v[0]) for k, v in kern.items()},
        time_s=plan.pp * t_stage + (plan.pp - 1) * t_hop,
        # Stages work on different prompts at once: one prompt per rank per stage time.
        tokens_per_s=plan.dp * T / (t_stage + t_hop),
        bound=max(terms, key=lambda k: terms[k]),
        flops_per_gpu=flops,
        bytes_per_gpu=w_bytes + kv_bytes,
    )


@dataclass(frozen=True, slots=True)
class PrefillTerms:
    """One prefill step through every stage.

    Its time [s], tokens/s, the binding term, and per GPU of one stage its FLOPs [FLOP]
    and bytes [B]; the time by kernel class [s] (``{}`` on the clean roofline).
    """

    kernels_s: Mapping[str, float]
    time_s: float
    tokens_per_s: float
    bound: str
    flops_per_gpu: float
    bytes_per_gpu: float


def _prefill_expert_rows(model: Model, tokens_block: float) -> float:
    """Tokens per expert that some token selects (at least 1; 1 for a dense model)."""
    if not model.moe:
        return 1.0
    share = max(float(experts_touched_share(model, np.array(tokens_block))), 1e-12)
    k, E = model.moe["experts_per_token"], model.moe["experts"]
    return float(max(tokens_block * k / E / share, 1.0))


def _prefill_comm(
    comm: CommModel | None,
    model: Model,
    plan: Plan,
    workload: Workload,
    s: dict[str, float],
    T: float,
) -> tuple[float, float, float]:
    """TP all-reduces, EP dispatch and combine, and one PP hop of a prefill of T tokens [s]."""
    t_tp = t_ep = t_hop = 0.0
    if comm is None or workload.ideal:
        return t_tp, t_ep, t_hop
    f = workload.losses
    act = T * model.d_model * ACT_BYTES
    if plan.tp > 1:
        t_tp = 2 * s["layers"] * float(CommModel.time(comm.tp_all_reduce, act, f))
    if s["block"] > 1 and plan.ep > 1 and model.moe:
        a2a = expert_all_to_all(comm, model, plan.ep, T / plan.tp, workload.weights, f)
        t_ep = s["moe_layers"] * float(a2a)
    if plan.pp > 1:
        t_hop = comm.pp_hop_share * float(CommModel.time(comm.pp_hop, act, f))
        if comm.pp_hop_rest:
            t_hop += (1 - comm.pp_hop_share) * float(CommModel.time(comm.pp_hop_rest, act, f))
    return t_tp, t_ep, t_hop


def memory(layout: Layout, model: Model, plan: Plan, batch: float, workload: Workload) -> Memory:
    """Weights, KV cache and activations per GPU against usable HBM; the largest batch."""
    hw = _hw(layout, workload)
    s = _shape(model, plan)
    b_w, b_kv = dtype_bytes(workload.weights), dtype_bytes(workload.kv)
    p = model.params
    weights = (s["non_expert"] + s["routed"]) * b_w + p.embedding * b_w / plan.pp / plan.tp
    full_context = workload.input_tokens + workload.output_tokens
    kv_seq = model.kv_bytes(full_context, b_kv) / plan.pp / s["kv_shard"]  # per sequence
    act_seq = 8 * model.d_model * ACT_BYTES  # a few hidden-size buffers per sequence in flight
    per_seq = kv_seq + act_seq
    usable = workload.hbm_usable * hw.capacity
    # Each stage holds the KV of its layers for all pp micro-batches of `batch` sequences.
    held = plan.pp * batch / plan.dp
    used = weights + held * per_seq
    room = usable - weights
    max_batch = int(plan.dp * room // (plan.pp * per_seq)) if room > 0 and per_seq > 0 else 0
    return Memory(
        weights_bytes_per_gpu=weights,
        kv_bytes_per_gpu=held * kv_seq,
        activation_bytes_per_gpu=held * act_seq,
        sequences_in_flight=plan.pp * batch,
        usable_bytes_per_gpu=usable,
        fits=bool(used <= usable),
        over_by_bytes=max(0.0, used - usable),
        max_batch=max_batch,
    )


def critical_batches(
    layout: Layout, model: Model, plan: Plan, workload: Workload, comm: CommModel | None = None
) -> CriticalBatches:
    """The batch where decode turns compute-bound, three ways, and the context limit.

    ``seed_rule`` = (peak FLOP/s / HBM bandwidth) x (weight bytes / 2) x (total /
    active); ``per_expert`` = ridge x (weight bytes / 2) x E / k (every expert
    compute-bound); ``kv_aware`` = the smallest batch whose compute time reaches its
    memory time in the step model at the workload's context (None when none does);
    ``context_limit`` = the context beyond which no batch is compute-bound.
    """
    hw = _hw(layout, workload)
    p = model.params
    b_w = dtype_bytes(workload.weights)
    ridge = hw.flops_peak / hw.bw_peak * b_w / 2
    return CriticalBatches(
        ridge_flop_per_byte=hw.flops_peak / hw.bw_peak,
        seed_rule=ridge * p.total / p.active,
        per_expert=(
            ridge * model.moe["experts"] / model.moe["experts_per_token"] if model.moe else None
        ),
        kv_aware=_crossing(layout, model, plan, workload),
        context_limit=_context_limit(layout, model, plan, workload),
    )


def _crossing(layout: Layout, model: Model, plan: Plan, workload: Workload) -> float | None:
    """The smallest batch whose compute time reaches its memory time (None: never)."""

    def gap(b: np.ndarray) -> np.ndarray:
        d = decode(layout, model, plan, b, workload, None)
        return np.asarray(d.compute - d.weights - d.kv)

    grid = np.logspace(0, 8, 400)
    crossed = np.nonzero(gap(grid) >= 0)[0]
    if not len(crossed):
        return None
    k = int(crossed[0])
    if k == 0:
        return 1.0
    lo, hi = float(grid[k - 1]), float(grid[k])
    for _ in range(4):  # between the grid points, 1,024 at a time: to 1e-13 of the value
        pts = np.linspace(lo, hi, 1025)
        j = max(int(np.argmax(gap(pts) >= 0)), 1)
        lo, hi = float(pts[j - 1]), float(pts[j])
    return hi


def _context_limit(layout: Layout, model: Model, plan: Plan, workload: Workload) -> float | None:
    """Context at which even an unbounded batch stops being compute-bound [tokens]."""

    def excess(S: float) -> float:
        """Compute time over memory time at an unbounded batch and context `S` [s]."""
        w = Workload(**{**_fields(workload), "context": S})
        d = decode(layout, model, plan, np.array([1e12]), w, None)
        return float(d.compute[0] - d.weights[0] - d.kv[0])

    def compute_bound(S: float) -> bool:
        return excess(S) >= 0

    lo, hi = 0.0, 1e8
    e0 = excess(lo)
    if e0 < 0:
        return 0.0
    if compute_bound(hi):
        return None
    # Both sides grow linearly with the context (attention FLOPs, KV reads): the root of
    # the line through two points, kept if the step model agrees on either side of it.
    e1 = excess(1e4)
    if e1 < e0:
        root = e0 * 1e4 / (e0 - e1)
        if (
            0 < root < hi
            and compute_bound(root * (1 - 1e-9))
            and not compute_bound(root * (1 + 1e-9))
        ):
            return root * (1 + 1e-9)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if compute_bound(mid) else (lo, mid)
    return hi


def _fields(w: Workload) -> dict[str, Any]:
    return {k: getattr(w, k) for k in Workload.__dataclass_fields__}
