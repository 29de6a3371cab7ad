"""topo's costs set beside published prices, and the seed's readings of those prices.

The prices are facts copied with their sources into ``topo/data/published_prices.yaml``
(a long-context tier, faster tiers, the output/input band, prompt-cache writes). The
seed reads them as signs of the hardware: a 200k-token tier as the switch from compute
to KV bandwidth (claim 13), a 5-minute cache tier as HBM residency (claim 15). The
functions here say, for the model and hardware at hand, where that switch really is and
what the tier then pays for, and whether HBM is the cheapest place to hold a prefix for
5 minutes and, when it is not, which input decides it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from topo._yaml import load_data
from topo.layout import Layout
from topo.models import Model
from topo.perf import CommModel, Workload, bound_of, decode, memory, prefill
from topo.place import Plan

__all__ = [
    "CacheTier",
    "ContextPoint",
    "FiveMinutes",
    "FlipPoint",
    "LongContextTier",
    "context_point",
    "five_minutes_against_hbm",
    "long_context_tier",
    "published_prices",
]

FIVE_MINUTES_S = 300.0


@dataclass(frozen=True, slots=True)
class CacheTier:
    """One memory tier holding a cached prefix on the plan's GPUs.

    Attributes
    ----------
    name
        The tier (``hbm``, ``host-dram``, ...).
    capacity_bytes
        What the plan's GPUs together can hold in it [B].
    reload_s, write_s
        Time to read the prefix back and to write it out [s] (0 for HBM).
    usd_per_gb_hour
        Rent of a GB for an hour [USD/GB-hour].
    note
        Where the assumed inputs come from.
    holds
        Whether the prefix fits.
    read_bytes_per_s_per_gpu, write_bytes_per_s_per_gpu
        The assumed bandwidths [B/s per GPU]; None for HBM, priced by the GPU-hour.
    usd_per_gb
        The assumed purchase price [USD/GB]; None for HBM.
    life_years
        The assumed life over which it is paid off [years]; None for HBM.
    """

    name: str
    capacity_bytes: float
    reload_s: float
    write_s: float
    usd_per_gb_hour: float
    note: str
    holds: bool
    read_bytes_per_s_per_gpu: float | None
    write_bytes_per_s_per_gpu: float | None
    usd_per_gb: float | None
    life_years: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo cache --json``'s ``tiers`` entries)."""
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class FlipPoint:
    """One input moved alone to where 5 minutes in HBM ties with the cheapest choice.

    Attributes
    ----------
    input
        The input, in words.
    assumed
        Its assumed value [`unit`].
    flips_at
        The value at which HBM ties [`unit`].
    unit
        The unit of `assumed` and `flips_at` (``s``, ``B/s``, ``USD/GB``, ``USD/GPU-hour``).
    direction
        Whether HBM wins ``above`` or ``below`` `flips_at`.
    factor
        flips_at / assumed [dimensionless]; inf when nothing is assumed.
    """

    input: str
    assumed: float
    flips_at: float
    unit: str
    direction: str
    factor: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``five_minutes.flip_points`` entries)."""
        return {f: getattr(self, f) for f in self.__slots__}


def _flip(input: str, assumed: float, flips_at: float, unit: str, direction: str) -> FlipPoint:
    factor = flips_at / assumed if assumed else math.inf
    return FlipPoint(input, assumed, flips_at, unit, direction, factor)


@dataclass(frozen=True, slots=True)
class FiveMinutes:
    """Is HBM the cheapest place for a prefix kept 5 minutes (the seed's claim 15), and why.

    Attributes
    ----------
    duration_s
        The duration priced [s] (300).
    seed
        The seed's reading, in words.
    cheapest
        The cheapest place (a tier's name or ``recompute``).
    cheapest_usd, hbm_usd
        Its cost and HBM's for 5 minutes [USD].
    hbm_holds
        Whether the prefix fits in the plan's HBM.
    agrees
        Whether HBM is cheapest, as the seed has it.
    cheaper_than_hbm
        The places cheaper than HBM, cheapest first.
    hbm_cheapest_below_s
        Below what holding time HBM beats the cheapest [s]; None when not worked out.
    flip_points
        Each input of the cheapest moved alone to where HBM ties, smallest change first.
    deciding_assumption
        The first of `flip_points`, or None.
    reading
        The answer in words.
    """

    duration_s: float
    seed: str
    cheapest: str
    cheapest_usd: float
    hbm_usd: float
    hbm_holds: bool
    agrees: bool
    cheaper_than_hbm: tuple[str, ...]
    hbm_cheapest_below_s: float | None
    flip_points: tuple[FlipPoint, ...]
    deciding_assumption: FlipPoint | None
    reading: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo cache --json``'s ``five_minutes``)."""
        d = self.deciding_assumption
        return {
            "duration_s": self.duration_s,
            "seed": self.seed,
            "cheapest": self.cheapest,
            "cheapest_usd": self.cheapest_usd,
            "hbm_usd": self.hbm_usd,
            "hbm_holds": self.hbm_holds,
            "agrees": self.agrees,
            "cheaper_than_hbm": list(self.cheaper_than_hbm),
            "hbm_cheapest_below_s": self.hbm_cheapest_below_s,
            "flip_points": [f.to_dict() for f in self.flip_points],
            "deciding_assumption": None if d is None else d.to_dict(),
            "reading": self.reading,
        }


@functools.cache
def published_prices() -> dict[str, Any]:
    """The contents of ``topo/data/published_prices.yaml``."""
    text = (resources.files("topo") / "data" / "published_prices.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = load_data(text)
    return data


def _fields(w: Workload) -> dict[str, Any]:
    return {k: getattr(w, k) for k in Workload.__dataclass_fields__}


# ---------------------------------------------------------------- long context (claim 13)
@dataclass(frozen=True, slots=True)
class ContextPoint:
    """Decode and prefill at one context with the largest batch HBM holds.

    Attributes
    ----------
    context
        Tokens in each sequence [tokens].
    fits
        Whether one sequence fits next to the weights.
    max_batch
        The largest batch that fits [sequences] (0 when none).
    bound
        What bounds the decode step (``memory``, ``compute``, ...); None when nothing fits.
    kv_over_weights
        KV bytes read a step over weight bytes [dimensionless]; None without weights.
    time_per_output_token_s
        A decode step [s]; None when nothing fits.
    usd_per_million_output_tokens, usd_per_million_input_tokens
        Decode and prefill cost [USD per million tokens]; None when nothing fits.
    """

    context: float
    fits: bool
    max_batch: int
    bound: str | None = None
    kv_over_weights: float | None = None
    time_per_output_token_s: float | None = None
    usd_per_million_output_tokens: float | None = None
    usd_per_million_input_tokens: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``long_context_tier``'s ``at_reference`` and ``at_threshold``)."""
        keys = self.__slots__ if self.fits else ("context", "fits", "max_batch")
        return {f: getattr(self, f) for f in keys}


def context_point(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    context: float,
    comm: CommModel | None = None,
) -> ContextPoint:
    """Decode and prefill at one context with the largest batch HBM holds.

    A sequence of `context` tokens is a prompt of that length decoding its next token,
    as in each row of `topo price`.
    """
    w = Workload(
        **{
            **_fields(workload),
            "context": context,
            "input_tokens": int(context),
            "output_tokens": 1,
        }
    )
    max_b = memory(layout, model, plan, 1, w).max_batch
    if max_b < 1:
        return ContextPoint(context=context, fits=False, max_batch=0)
    usd_s = plan.world * workload.gpu_hour_usd / 3600
    d = decode(layout, model, plan, np.array([float(max_b)]), w, comm)
    pre = prefill(layout, model, plan, w, comm)
    return ContextPoint(
        context=context,
        fits=True,
        max_batch=max_b,
        bound=bound_of(d, 0),
        kv_over_weights=float(d.kv[0] / d.weights[0]) if d.weights[0] else None,
        time_per_output_token_s=float(d.tpot[0]),
        usd_per_million_output_tokens=usd_s / float(d.tokens_per_s[0]) * 1e6,
        usd_per_million_input_tokens=usd_s / pre.tokens_per_s * 1e6,
    )


@dataclass(frozen=True, slots=True)
class LongContextTier:
    """The published long-context tier beside where decode stops being compute-bound.

    Attributes
    ----------
    threshold_tokens
        The context above which the published tier charges more [tokens].
    published
        The published tiers, as ``topo/data/published_prices.yaml`` gives them (USD per
        million tokens below and above the threshold, with sources).
    tier_input_multiple, tier_output_multiple
        The first published tier's price above the threshold over below [dimensionless].
    compute_bound_until_tokens
        The context above which no decode batch is compute-bound [tokens]; 0 when none
        ever is, None when every context is.
    definition
        That context, in words.
    reference_context
        The context the threshold's costs are compared with [tokens].
    at_reference, at_threshold
        Decode and prefill at those two contexts, each at the largest batch HBM holds.
    prefill_attention_over_linear_at_threshold
        Causal prefill's attention FLOPs over linear FLOPs at the threshold [dimensionless].
    output_cost_multiple, input_cost_multiple
        Modelled cost at the threshold over at the reference [dimensionless]; None when
        a sequence does not fit or every cost is 0.
    reading
        What the tier pays for, in words.
    """

    threshold_tokens: float
    published: tuple[Mapping[str, Any], ...]
    tier_input_multiple: float
    tier_output_multiple: float
    compute_bound_until_tokens: float | None
    definition: str
    reference_context: float
    at_reference: ContextPoint
    at_threshold: ContextPoint
    prefill_attention_over_linear_at_threshold: float
    output_cost_multiple: float | None
    input_cost_multiple: float | None
    reading: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo price --json``'s ``long_context_tier``)."""
        d: dict[str, Any] = {f: getattr(self, f) for f in self.__slots__}
        d["published"] = [dict(t) for t in self.published]
        d["at_reference"] = self.at_reference.to_dict()
        d["at_threshold"] = self.at_threshold.to_dict()
        return d


_DEFINITION = (
    "the context above which no decode batch, however large, is "
    "compute-bound: each sequence's KV reads grow with the batch as its FLOPs do"
)


def long_context_tier(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    *,
    compute_bound_until: float | None,
    attention_equals_linear_tokens: float,
    fallback_context: float,
    comm: CommModel | None = None,
) -> LongContextTier:
    """The published long-context tier beside the context where decode stops being compute-bound.

    `compute_bound_until` is the context above which no decode batch, however large, is
    compute-bound (per-sequence KV reads grow with the batch as fast as its FLOPs do);
    the seed's closed form is S* = 2 N_act / (I_hw kv). Costs at the tier's threshold
    are compared with costs there (or at `fallback_context` when decode is never, or
    always, compute-bound), each at the largest batch HBM holds.
    """
    facts = published_prices()["long_context_tier"]
    threshold = float(facts["threshold_tokens"])
    tier = facts["tiers"][0]
    tier_in = tier["input_usd_per_mtok"]["above"] / tier["input_usd_per_mtok"]["below"]
    tier_out = tier["output_usd_per_mtok"]["above"] / tier["output_usd_per_mtok"]["below"]
    switch = compute_bound_until is not None and 0 < compute_bound_until < threshold
    ref_ctx = float(compute_bound_until) if switch and compute_bound_until else fallback_context
    ref = context_point(layout, model, plan, workload, ref_ctx, comm)
    at = context_point(layout, model, plan, workload, threshold, comm)
    attention = threshold / attention_equals_linear_tokens
    multiples, reading = _tier_reading(
        ref,
        at,
        where=str(tier["model"]),
        tier_multiples=(tier_out, tier_in),
        compute_bound_until=compute_bound_until if switch else None,
        attention_over_linear=attention,
    )
    return LongContextTier(
        threshold_tokens=threshold,
        published=tuple(facts["tiers"]),
        tier_input_multiple=tier_in,
        tier_output_multiple=tier_out,
        compute_bound_until_tokens=compute_bound_until,
        definition=_DEFINITION,
        reference_context=ref_ctx,
        at_reference=ref,
        at_threshold=at,
        prefill_attention_over_linear_at_threshold=attention,
        output_cost_multiple=multiples[0],
        input_cost_multiple=multiples[1],
        reading=reading,
    )


def _tier_reading(
    ref: ContextPoint,
    at: ContextPoint,
    *,
    where: str,
    tier_multiples: tuple[float, float],
    compute_bound_until: float | None,
    attention_over_linear: float,
) -> tuple[tuple[float | None, float | None], str]:
    """The modelled (output, input) cost multiples at the threshold, and what they say."""
    threshold = at.context
    if not (at.fits and ref.fits):
        return (None, None), (
            f"a {threshold:,.0f}-token sequence does not fit in this plan's HBM next to the "
            f"weights: a long-context tier like {where}'s takes more GPUs per replica"
        )
    ref_out, ref_in = ref.usd_per_million_output_tokens, ref.usd_per_million_input_tokens
    at_out, at_in = at.usd_per_million_output_tokens, at.usd_per_million_input_tokens
    if not (ref_out and ref_in and ref_out > 0 and ref_in > 0 and at_out is not None):
        return (None, None), "with a GPU-hour price of 0 every cost is 0: no multiple to compare"
    mo = at_out / ref_out
    mi = (at_in or 0.0) / ref_in
    kv = at.kv_over_weights
    reads = f", KV reads {kv:.1f}x the weight reads" if kv is not None else ""
    if compute_bound_until is not None:
        tail = (
            f"not for the switch from compute to memory, which comes at "
            f"{compute_bound_until:,.0f} tokens"
        )
    else:
        tail = "not for a switch from compute to memory, which this model does not make here"
    tier_out, tier_in = tier_multiples
    return (mo, mi), (
        f"at {threshold:,.0f} tokens a decode step is {at.bound}-bound{reads}, and "
        f"{at.max_batch:,} sequences fit in HBM against {ref.max_batch:,} at "
        f"{ref.context:,.0f}: output costs {mo:.1f}x and input {mi:.1f}x what they cost there, "
        f"where {where} charges {tier_out:g}x and {tier_in:g}x above {threshold:,.0f}; the "
        f"tier pays for the batch the KV cache crowds out of HBM and the quadratic prefill "
        f"(attention {attention_over_linear:.2f}x the linear "
        f"FLOPs), {tail}"
    )


# ---------------------------------------------------------------- five minutes (claim 15)
def five_minutes_against_hbm(
    tiers: Sequence[CacheTier],
    parts: Mapping[str, tuple[float, float]],
    *,
    kv_bytes: float,
    usd_per_s: float,
    recompute_s: float,
    recompute_usd: float,
    gpu_hour_usd: float,
) -> FiveMinutes:
    """Is HBM the cheapest place for a prefix kept 5 minutes, and if not, what decides it.

    `parts` maps each tier to (storage, transfer) dollars for 5 minutes: storage =
    GB x $/GB-hour x hours, transfer = the serving GPUs' time writing the prefix out and
    reading it back. HBM has storage only (its rent is the GPU-hour over its capacity).
    For the cheapest other choice, each input is moved alone to where HBM would tie:

    - the tier's bandwidth (read and write together): transfer' = HBM - storage;
    - the tier's price per GB: storage' = HBM - transfer;
    - the GPU-hour price, which scales HBM rent and transfer but not the tier's storage:
      g' = g storage / (HBM - transfer);
    - for recompute, the prefill time: recompute' = HBM / ($/s of the GPUs).

    The input that needs the smallest change (as a ratio) is the one that decides.
    """
    hbm = next(t for t in tiers if t.name == "hbm")
    hbm_usd = parts["hbm"][0] + parts["hbm"][1]
    options = {t.name: sum(parts[t.name]) for t in tiers if t.holds and t.reload_s < recompute_s}
    options["recompute"] = recompute_usd
    best = min(options, key=lambda k: options[k])
    cheaper = tuple(sorted((k for k in options if options[k] < hbm_usd), key=options.__getitem__))
    below: float | None = None
    flips: list[FlipPoint] = []
    if best == "hbm":
        reading = (
            "for 5 minutes HBM is the cheapest place to keep it, as the seed's "
            "'5 minutes = HBM' has it"
        )
    elif not hbm.holds:
        reading = (
            f"for 5 minutes not HBM, against the seed's '5 minutes = HBM': "
            f"{kv_bytes / 1e9:,.1f} GB of KV does not fit in the plan's HBM; {best} is cheapest"
        )
    else:
        if best == "recompute":
            below = recompute_usd / (hbm_usd / FIVE_MINUTES_S)
            flips = [_recompute_flip(recompute_s, hbm_usd=hbm_usd, usd_per_s=usd_per_s)]
        else:
            t = next(x for x in tiers if x.name == best)
            below, flips = _tier_flips(
                t, parts[best], hbm_usd=hbm_usd, kv_bytes=kv_bytes, gpu_hour_usd=gpu_hour_usd
            )
        flips.sort(key=lambda f: abs(math.log(f.factor)) if 0 < f.factor < math.inf else 1e9)
        reading = (
            f"for 5 minutes {best} (${options[best]:.4f}) is cheaper than HBM (${hbm_usd:.4f}), "
            f"against the seed's '5 minutes = HBM'"
            + ("" if below is None else f"; HBM is cheaper than {best} only under {below:,.1f} s")
        )
    return FiveMinutes(
        duration_s=FIVE_MINUTES_S,
        seed="5 minutes = HBM: the 5-minute cache-write tier read as HBM residency",
        cheapest=best,
        cheapest_usd=options[best],
        hbm_usd=hbm_usd,
        hbm_holds=hbm.holds,
        agrees=best == "hbm",
        cheaper_than_hbm=cheaper,
        hbm_cheapest_below_s=below,
        flip_points=tuple(flips),
        deciding_assumption=flips[0] if flips else None,
        reading=reading,
    )


def _recompute_flip(recompute_s: float, *, hbm_usd: float, usd_per_s: float) -> FlipPoint:
    """The prefill time at which recomputing the prefix costs what 5 minutes in HBM does."""
    return _flip(
        "prefill time of the prefix (topo's prefill model)",
        recompute_s,
        hbm_usd / usd_per_s,
        "s",
        "above",
    )


def _tier_flips(
    t: CacheTier,
    part: tuple[float, float],
    *,
    hbm_usd: float,
    kv_bytes: float,
    gpu_hour_usd: float,
) -> tuple[float | None, list[FlipPoint]]:
    """Below what time HBM beats tier `t`, and where each of its inputs alone would tie."""
    storage, transfer = part
    gap = hbm_usd / FIVE_MINUTES_S - storage / FIVE_MINUTES_S
    flips: list[FlipPoint] = []
    name = t.name
    bw, usd_gb, life = t.read_bytes_per_s_per_gpu, t.usd_per_gb, t.life_years
    if bw is None or usd_gb is None or life is None:
        msg = f"tier {name!r} has no assumed bandwidth or price to move"
        raise ValueError(msg)
    if hbm_usd > storage:
        flips.append(
            _flip(
                f"{name} read and write bandwidth per GPU",
                bw,
                bw * transfer / (hbm_usd - storage),
                "B/s",
                "below",
            )
        )
    if hbm_usd > transfer:
        usd_gb_h = (hbm_usd - transfer) / (kv_bytes / 1e9 * FIVE_MINUTES_S / 3600)
        flips.append(
            _flip(f"{name} price per GB", usd_gb, usd_gb_h * life * 8760, "USD/GB", "above")
        )
        flips.append(
            _flip(
                "the GPU-hour price, which sets HBM rent",
                gpu_hour_usd,
                gpu_hour_usd * storage / (hbm_usd - transfer),
                "USD/GPU-hour",
                "below",
            )
        )
    return (transfer / gap if gap > 0 else None), flips
