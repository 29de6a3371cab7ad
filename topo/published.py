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
from importlib import resources
from typing import Any

import numpy as np

from topo._yaml import load_data
from topo.layout import Layout
from topo.models import Model
from topo.perf import CommModel, Workload, bound_of, decode, memory, prefill
from topo.place import Plan

__all__ = ["context_point", "five_minutes_against_hbm", "long_context_tier", "published_prices"]

FIVE_MINUTES_S = 300.0


@functools.cache
def published_prices() -> dict[str, Any]:
    """The contents of ``topo/data/published_prices.yaml``."""
    text = (resources.files("topo") / "data" / "published_prices.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = load_data(text)
    return data


def _fields(w: Workload) -> dict[str, Any]:
    return {k: getattr(w, k) for k in Workload.__dataclass_fields__}


# ---------------------------------------------------------------- long context (claim 13)
def context_point(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    context: float,
    comm: CommModel | None = None,
) -> dict[str, Any]:
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
        return {"context": context, "fits": False, "max_batch": 0}
    usd_s = plan.world * workload.gpu_hour_usd / 3600
    d = decode(layout, model, plan, np.array([float(max_b)]), w, comm)
    pre = prefill(layout, model, plan, w, comm)
    return {
        "context": context,
        "fits": True,
        "max_batch": max_b,
        "bound": bound_of(d, 0),
        "kv_over_weights": float(d.kv[0] / d.weights[0]) if d.weights[0] else None,
        "time_per_output_token_s": float(d.tpot[0]),
        "usd_per_million_output_tokens": usd_s / float(d.tokens_per_s[0]) * 1e6,
        "usd_per_million_input_tokens": usd_s / pre.tokens_per_s * 1e6,
    }


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
) -> dict[str, Any]:
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
    out: dict[str, Any] = {
        "threshold_tokens": threshold,
        "published": facts["tiers"],
        "tier_input_multiple": tier_in,
        "tier_output_multiple": tier_out,
        "compute_bound_until_tokens": compute_bound_until,
        "definition": "the context above which no decode batch, however large, is "
        "compute-bound: each sequence's KV reads grow with the batch as its FLOPs do",
        "reference_context": ref_ctx,
        "at_reference": ref,
        "at_threshold": at,
        # Causal prefill: attention FLOPs per token grow with the prompt, linear ones do not.
        "prefill_attention_over_linear_at_threshold": threshold / attention_equals_linear_tokens,
        "output_cost_multiple": None,
        "input_cost_multiple": None,
    }
    where = tier["model"]
    if not (at["fits"] and ref["fits"]):
        out["reading"] = (
            f"a {threshold:,.0f}-token sequence does not fit in this plan's HBM next to the "
            f"weights: a long-context tier like {where}'s takes more GPUs per replica"
        )
        return out
    if not (ref["usd_per_million_output_tokens"] > 0 and ref["usd_per_million_input_tokens"] > 0):
        out["reading"] = "with a GPU-hour price of 0 every cost is 0: no multiple to compare"
        return out
    mo = at["usd_per_million_output_tokens"] / ref["usd_per_million_output_tokens"]
    mi = at["usd_per_million_input_tokens"] / ref["usd_per_million_input_tokens"]
    out["output_cost_multiple"], out["input_cost_multiple"] = mo, mi
    kv = at["kv_over_weights"]
    reads = f", KV reads {kv:.1f}x the weight reads" if kv is not None else ""
    if switch:
        tail = (
            f"not for the switch from compute to memory, which comes at "
            f"{compute_bound_until:,.0f} tokens"
        )
    else:
        tail = "not for a switch from compute to memory, which this model does not make here"
    out["reading"] = (
        f"at {threshold:,.0f} tokens a decode step is {at['bound']}-bound{reads}, and "
        f"{at['max_batch']:,} sequences fit in HBM against {ref['max_batch']:,} at "
        f"{ref_ctx:,.0f}: output costs {mo:.1f}x and input {mi:.1f}x what they cost there, "
        f"where {where} charges {tier_out:g}x and {tier_in:g}x above {threshold:,.0f}; the "
        f"tier pays for the batch the KV cache crowds out of HBM and the quadratic prefill "
        f"(attention {out['prefill_attention_over_linear_at_threshold']:.2f}x the linear "
        f"FLOPs), {tail}"
    )
    return out


# ---------------------------------------------------------------- five minutes (claim 15)
def five_minutes_against_hbm(
    tiers: list[dict[str, Any]],
    parts: dict[str, tuple[float, float]],
    *,
    kv_bytes: float,
    usd_per_s: float,
    recompute_s: float,
    recompute_usd: float,
    gpu_hour_usd: float,
) -> dict[str, Any]:
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
    hbm = next(t for t in tiers if t["name"] == "hbm")
    hbm_usd = parts["hbm"][0] + parts["hbm"][1]
    options = {
        t["name"]: sum(parts[t["name"]])
        for t in tiers
        if t["holds"] and t["reload_s"] < recompute_s
    }
    options["recompute"] = recompute_usd
    best = min(options, key=lambda k: options[k])
    out = _five_minute_summary(options, best, hbm_usd=hbm_usd, hbm_holds=bool(hbm["holds"]))
    if best == "hbm":
        out["reading"] = (
            "for 5 minutes HBM is the cheapest place to keep it, as the seed's "
            "'5 minutes = HBM' has it"
        )
        return out
    if not hbm["holds"]:
        out["reading"] = (
            f"for 5 minutes not HBM, against the seed's '5 minutes = HBM': "
            f"{kv_bytes / 1e9:,.1f} GB of KV does not fit in the plan's HBM; {best} is cheapest"
        )
        return out
    if best == "recompute":
        out["hbm_cheapest_below_s"] = recompute_usd / (hbm_usd / FIVE_MINUTES_S)
        flips = [_recompute_flip(recompute_s, hbm_usd=hbm_usd, usd_per_s=usd_per_s)]
    else:
        t = next(x for x in tiers if x["name"] == best)
        out["hbm_cheapest_below_s"], flips = _tier_flips(
            t, parts[best], hbm_usd=hbm_usd, kv_bytes=kv_bytes, gpu_hour_usd=gpu_hour_usd
        )
    for f in flips:
        f["factor"] = f["flips_at"] / f["assumed"] if f["assumed"] else math.inf
    flips.sort(key=lambda f: abs(math.log(f["factor"])) if 0 < f["factor"] < math.inf else 1e9)
    out["flip_points"] = flips
    out["deciding_assumption"] = flips[0] if flips else None
    below = out["hbm_cheapest_below_s"]
    out["reading"] = (
        f"for 5 minutes {best} (${options[best]:.4f}) is cheaper than HBM (${hbm_usd:.4f}), "
        f"against the seed's '5 minutes = HBM'"
        + (f"; HBM is cheaper than {best} only under {below:,.1f} s" if below is not None else "")
    )
    return out


def _five_minute_summary(
    options: dict[str, float], best: str, *, hbm_usd: float, hbm_holds: bool
) -> dict[str, Any]:
    """The five-minute answer's head: the cheapest place, HBM's cost, and what beats it."""
    return {
        "duration_s": FIVE_MINUTES_S,
        "seed": "5 minutes = HBM: the 5-minute cache-write tier read as HBM residency",
        "cheapest": best,
        "cheapest_usd": options[best],
        "hbm_usd": hbm_usd,
        "hbm_holds": hbm_holds,
        "agrees": best == "hbm",
        "cheaper_than_hbm": sorted(
            (k for k, v in options.items() if v < hbm_usd), key=lambda k: options[k]
        ),
        "hbm_cheapest_below_s": None,
        "flip_points": [],
        "deciding_assumption": None,
    }


def _recompute_flip(recompute_s: float, *, hbm_usd: float, usd_per_s: float) -> dict[str, Any]:
    """The prefill time at which recomputing the prefix costs what 5 minutes in HBM does."""
    return {
        "input": "prefill time of the prefix (topo's prefill model)",
        "assumed": recompute_s,
        "flips_at": hbm_usd / usd_per_s,
        "unit": "s",
        "direction": "above",
    }


def _tier_flips(
    t: dict[str, Any],
    part: tuple[float, float],
    *,
    hbm_usd: float,
    kv_bytes: float,
    gpu_hour_usd: float,
) -> tuple[float | None, list[dict[str, Any]]]:
    """Below what time HBM beats tier `t`, and where each of its inputs alone would tie."""
    storage, transfer = part
    gap = hbm_usd / FIVE_MINUTES_S - storage / FIVE_MINUTES_S
    flips: list[dict[str, Any]] = []
    name = t["name"]
    if hbm_usd > storage:
        flips.append(
            {
                "input": f"{name} read and write bandwidth per GPU",
                "assumed": t["read_bytes_per_s_per_gpu"],
                "flips_at": t["read_bytes_per_s_per_gpu"] * transfer / (hbm_usd - storage),
                "unit": "B/s",
                "direction": "below",
            }
        )
    if hbm_usd > transfer:
        usd_gb_h = (hbm_usd - transfer) / (kv_bytes / 1e9 * FIVE_MINUTES_S / 3600)
        flips.append(
            {
                "input": f"{name} price per GB",
                "assumed": t["usd_per_gb"],
                "flips_at": usd_gb_h * t["life_years"] * 8760,
                "unit": "USD/GB",
                "direction": "above",
            }
        )
        flips.append(
            {
                "input": "the GPU-hour price, which sets HBM rent",
                "assumed": gpu_hour_usd,
                "flips_at": gpu_hour_usd * storage / (hbm_usd - transfer),
                "unit": "USD/GPU-hour",
                "direction": "below",
            }
        )
    return (transfer / gap if gap > 0 else None), flips
