"""Economics: price against batch and context, cache tiers, lifecycle compute, training memory.

Each function returns plain data; the formulas and worked numbers are claims 2, 9, 10,
12, 13, 14 and 15 of ``reference/seed_formulas.md``. Numbers no source gives (memory tier
prices and bandwidths) are assumptions, written next to them in ``topo/data/memory_tiers.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from topo._yaml import load_data
from topo.catalogue import Accelerator
from topo.errors import TopoError
from topo.layout import Layout
from topo.models import Model, dtype_bytes
from topo.perf import (
    CommModel,
    DecodeTerms,
    Workload,
    critical_batches,
    decode,
    memory,
    prefill,
)
from topo.place import Plan
from topo.published import (
    FIVE_MINUTES_S,
    CacheTier,
    FiveMinutes,
    LongContextTier,
    five_minutes_against_hbm,
    long_context_tier,
    published_prices,
)
from topo.units import parse_quantity

__all__ = [
    "CacheResult",
    "ChinchillaOptimum",
    "FasterTier",
    "InferenceAware",
    "Lifecycle",
    "ListPriceBand",
    "Price",
    "PriceRow",
    "PublishedCache",
    "TrainingMemory",
    "cache_tiers",
    "lifecycle",
    "price",
    "training_memory",
]

# Chinchilla parametric fit (Hoffmann et al. 2022, as reproduced in seed_formulas.md).
E_LOSS, A_FIT, B_FIT, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
TOKENS_PER_PARAM = 20.0


# ---------------------------------------------------------------- price (claims 2, 10, 13)
@dataclass(frozen=True, slots=True)
class PriceRow:
    """Cost per million tokens at one context and batch (``topo price``'s table row).

    Attributes
    ----------
    context
        Tokens in each sequence [tokens].
    batch
        Sequences decoded together [sequences]; 0 when none fits.
    fits
        Whether the batch fits next to the weights.
    max_batch
        The largest batch that fits at this context [sequences].
    usd_per_million_output_tokens, usd_per_million_input_tokens
        Decode and prefill cost [USD per million tokens]; None when nothing fits.
    bound
        What bounds the decode step (``memory``, ``compute``, ...); None when nothing fits.
    is_max_batch
        Whether this is the largest batch that fits (rows that fit only).
    time_per_output_token_s
        A decode step [s] (rows that fit only).
    kv_over_weights
        KV bytes read a step over weight bytes [dimensionless]; None without weights.
    decode_to_prefill_cost_ratio
        Output cost over input cost [dimensionless]; None when either is 0 or missing.
    """

    context: float
    batch: int
    fits: bool
    max_batch: int
    usd_per_million_output_tokens: float | None
    usd_per_million_input_tokens: float | None
    bound: str | None
    is_max_batch: bool = False
    time_per_output_token_s: float | None = None
    kv_over_weights: float | None = None

    @property
    def decode_to_prefill_cost_ratio(self) -> float | None:
        """Output cost over input cost [dimensionless]; None when either is 0 or missing."""
        out_c, in_c = self.usd_per_million_output_tokens, self.usd_per_million_input_tokens
        return out_c / in_c if out_c and in_c else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo price --json``'s ``rows`` entries)."""
        head = {"context": self.context, "batch": self.batch, "fits": self.fits}
        head["max_batch"] = self.max_batch
        costs = {
            "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
            "usd_per_million_input_tokens": self.usd_per_million_input_tokens,
            "bound": self.bound,
        }
        ratio = {"decode_to_prefill_cost_ratio": self.decode_to_prefill_cost_ratio}
        if not self.fits:
            return head | costs | ratio
        return (
            head
            | {
                "is_max_batch": self.is_max_batch,
                "time_per_output_token_s": self.time_per_output_token_s,
            }
            | costs
            | {"kv_over_weights": self.kv_over_weights}
            | ratio
        )


@dataclass(frozen=True, slots=True)
class ListPriceBand:
    """Published output prices as a multiple of input prices.

    Attributes
    ----------
    low, high
        The band's ends [dimensionless].
    source
        Where the band comes from.
    examples
        Published (input, output) prices [USD per million tokens] with sources.
    """

    low: float
    high: float
    source: str
    examples: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo price --json``'s ``list_price_output_over_input``)."""
        return {
            "low": self.low,
            "high": self.high,
            "source": self.source,
            "examples": [dict(e) for e in self.examples],
        }


@dataclass(frozen=True, slots=True)
class Price:
    """``topo price``: cost per million tokens across contexts and batches, and why.

    Attributes
    ----------
    model, layout
        The names priced.
    plan
        Its degrees, ``tp``, ``ep``, ``pp``, ``dp`` [GPUs].
    gpu_hour_usd
        The price of one GPU-hour [USD].
    rows
        One per context and batch that fits (one per context when none does).
    faster_tiers
        What tiers 1.25, 1.5, 2 and 3 times faster cost at the first context.
    kv_crossover_context
        The context where KV reads equal weight reads at `kv_crossover_batch` [tokens].
    kv_crossover_batch
        The largest batch priced [sequences].
    no_compute_bound_context
        The context above which no decode batch is compute-bound [tokens]; 0 when none
        ever is, None when every context is.
    no_compute_bound_context_seed
        The seed's closed form 2 N_act / (I_hw kv) [tokens]; None without a bf16 peak.
    prefill_attention_equals_linear_tokens
        The prompt where causal prefill's attention FLOPs equal its linear ones [tokens].
    attention_kind
        The model's attention (``GQA``, ``MLA``, ...).
    decode_attention_intensity_flop_per_byte
        Decode attention FLOPs per byte of KV read [FLOP/byte].
    list_price_output_over_input
        The published output/input price band.
    published_faster_tiers
        Published faster tiers (name, speedup, price multiple, source).
    long_context_tier
        The published long-context tier beside where decode stops being compute-bound.
    compare
        The same for other models on the layout (``--compare-model``).
    """

    model: str
    layout: str
    plan: Mapping[str, int]
    gpu_hour_usd: float
    rows: tuple[PriceRow, ...]
    faster_tiers: tuple[FasterTier, ...]
    kv_crossover_context: float
    kv_crossover_batch: int
    no_compute_bound_context: float | None
    no_compute_bound_context_seed: float | None
    prefill_attention_equals_linear_tokens: float
    attention_kind: str
    decode_attention_intensity_flop_per_byte: float
    list_price_output_over_input: ListPriceBand
    published_faster_tiers: tuple[Mapping[str, Any], ...]
    long_context_tier: LongContextTier
    compare: tuple[Price, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo price --json`` prints."""
        d: dict[str, Any] = {f: getattr(self, f) for f in self.__slots__}
        d["plan"] = dict(self.plan)
        d["rows"] = [r.to_dict() for r in self.rows]
        d["faster_tiers"] = [t.to_dict() for t in self.faster_tiers]
        d["list_price_output_over_input"] = self.list_price_output_over_input.to_dict()
        d["published_faster_tiers"] = [dict(t) for t in self.published_faster_tiers]
        d["long_context_tier"] = self.long_context_tier.to_dict()
        compare = d.pop("compare")
        if compare:
            d["compare"] = [p.to_dict() for p in compare]
        return d


def price(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    *,
    contexts: list[float],
    batches: list[int],
    comm: CommModel | None = None,
) -> Price:
    """Cost per million output and input tokens [USD] across contexts and batches that fit."""
    usd_s = plan.world * workload.gpu_hour_usd / 3600
    rows: list[PriceRow] = []
    for S in contexts:
        rows += _context_rows(layout, model, plan, workload, S, batches, usd_s=usd_s, comm=comm)
    first = [r for r in rows if r.context == contexts[0] and r.fits]
    tiers: list[FasterTier] = []
    if first:
        b = max(r.batch for r in first)
        w0 = Workload(**{**_fields(workload), "context": contexts[0]})
        tiers = [
            faster_tier(layout, model, plan, w0, batch=b, speedup=x, comm=comm)
            for x in (1.25, 1.5, 2.0, 3.0)
        ]
    kv_tok = model.kv_bytes_per_token(dtype_bytes(workload.kv))
    weights = (model.params.non_expert + model.params.routed) * dtype_bytes(workload.weights)
    crit = critical_batches(layout, model, plan, workload)
    acc = layout.accelerator
    ridge = acc.peak_flop_per_s.get("bf16", 0.0) / (acc.hbm_bandwidth_bytes_per_s or 1.0)
    p = model.params
    att_per_ctx = model.attention_flops_per_token(1.0)
    att_equals_linear = 2 * 2 * (p.active - p.embedding) / att_per_ctx
    facts = published_prices()
    band = facts["output_over_input"]
    largest_batch = max(batches)
    return Price(
        model=model.name,
        layout=layout.name,
        plan={"tp": plan.tp, "ep": plan.ep, "pp": plan.pp, "dp": plan.dp},
        gpu_hour_usd=workload.gpu_hour_usd,
        rows=tuple(rows),
        faster_tiers=tuple(tiers),
        # KV reads per step equal weight reads: B S kv = W.
        kv_crossover_context=weights / (largest_batch * kv_tok),
        kv_crossover_batch=largest_batch,
        no_compute_bound_context=crit.context_limit,
        # The seed's closed form, without attention FLOPs or efficiencies.
        no_compute_bound_context_seed=2 * p.active / (ridge * kv_tok) if ridge else None,
        # Prefill attention FLOPs equal linear FLOPs at this prompt length (causal).
        prefill_attention_equals_linear_tokens=att_equals_linear,
        attention_kind=model.attention_kind,
        decode_attention_intensity_flop_per_byte=att_per_ctx / kv_tok,
        list_price_output_over_input=ListPriceBand(
            low=float(band["low"]),
            high=float(band["high"]),
            source=band["source"],
            examples=tuple(band["examples"]),
        ),
        published_faster_tiers=tuple(facts["faster_tiers"]),
        # The seed's >200k tier against where decode really stops being compute-bound.
        long_context_tier=long_context_tier(
            layout,
            model,
            plan,
            workload,
            compute_bound_until=crit.context_limit,
            attention_equals_linear_tokens=att_equals_linear,
            fallback_context=contexts[0],
            comm=comm,
        ),
    )


def _context_rows(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    S: float,
    batches: list[int],
    *,
    usd_s: float,
    comm: CommModel | None,
) -> list[PriceRow]:
    """Price rows at context `S`: each batch that fits and the largest (one row if none)."""
    w = Workload(**{**_fields(workload), "context": S, "input_tokens": int(S), "output_tokens": 1})
    max_b = memory(layout, model, plan, 1, w).max_batch
    bs = sorted({b for b in batches if b <= max_b} | ({max_b} if max_b >= 1 else set()))
    if not bs:
        return [PriceRow(S, 0, False, 0, None, None, None)]
    d = decode(layout, model, plan, np.array(bs, dtype=float), w, comm)
    pre = prefill(layout, model, plan, w, comm)
    return [
        PriceRow(
            context=S,
            batch=b,
            fits=True,
            max_batch=max_b,
            is_max_batch=b == max_b,
            time_per_output_token_s=float(d.tpot[i]),
            usd_per_million_output_tokens=usd_s / float(d.tokens_per_s[i]) * 1e6,
            usd_per_million_input_tokens=usd_s / pre.tokens_per_s * 1e6,
            bound=_bound(d, i),
            kv_over_weights=float(d.kv[i] / d.weights[i]) if d.weights[i] else None,
        )
        for i, b in enumerate(bs)
    ]


def _bound(d: DecodeTerms, i: int) -> str:
    from topo.perf import bound_of

    return bound_of(d, i)


def _fields(w: Workload) -> dict[str, Any]:
    return {k: getattr(w, k) for k in Workload.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class FasterTier:
    """A tier `speedup` times faster on the same chips: the batch it runs and its price.

    Attributes
    ----------
    speedup
        Time per output token divided by this [dimensionless].
    reachable
        Whether some smaller batch is that fast.
    batch
        The largest such batch [sequences]; None when unreachable.
    price_multiple
        Its cost per token over the reference batch's [dimensionless]; None when unreachable.
    note
        Why it is unreachable, in words; None when reachable.
    """

    speedup: float
    reachable: bool
    batch: int | None = None
    price_multiple: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo price --json``'s ``faster_tiers`` entries)."""
        d: dict[str, Any] = {"speedup": self.speedup, "reachable": self.reachable}
        if self.reachable:
            d |= {"batch": self.batch, "price_multiple": self.price_multiple}
        else:
            d["note"] = self.note
        return d


def faster_tier(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    *,
    batch: int,
    speedup: float,
    comm: CommModel | None = None,
) -> FasterTier:
    """The price multiple a tier `speedup` times faster must charge on the same chips."""
    B = np.arange(1, batch + 1, dtype=float)
    d = decode(layout, model, plan, B, workload, comm)
    t0 = float(d.tpot[-1])
    target = t0 / speedup
    ok = np.nonzero(d.tpot <= target)[0]
    if not len(ok):
        return FasterTier(
            speedup=speedup,
            reachable=False,
            note=f"no batch on these chips is {speedup:g}x faster than batch {batch}: "
            f"batch 1 takes {float(d.tpot[0]) * 1e3:.2f} ms against the "
            f"{target * 1e3:.2f} ms needed; more chips (a larger TP/EP group) instead",
        )
    b = int(B[ok[-1]])

    def cost(i: int) -> float:
        return float(d.tpot[i]) / float(B[i])

    return FasterTier(
        speedup=speedup,
        reachable=True,
        batch=b,
        price_multiple=cost(int(ok[-1])) / cost(len(B) - 1),
    )


# ---------------------------------------------------------------- cache tiers (claim 15)
def _tiers() -> list[dict[str, Any]]:
    text = (resources.files("topo") / "data" / "memory_tiers.yaml").read_text(encoding="utf-8")
    return list(load_data(text)["tiers"])


DURATIONS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """``"5m"`` -> 300 s; ``"1h"``, ``"1d"``, ``"30s"``."""
    t = text.strip()
    try:
        return float(t[:-1]) * DURATIONS[t[-1]]
    except (KeyError, ValueError, IndexError):
        msg = f"--durations: expected durations like 5m, 1h, 1d, got {text!r}"
        raise TopoError(msg) from None


@dataclass(frozen=True, slots=True)
class PublishedCache:
    """Published prompt-cache prices (multiples of the input price), priced at topo's cost.

    Attributes
    ----------
    write_5m, write_1h, read
        Published multiples of the base input price [dimensionless].
    source
        Where they are published.
    premium_5m_usd, premium_1h_usd
        What the write premiums pay for, at the prefix's recompute cost [USD].
    read_usd
        A cached read at the prefix's recompute cost [USD].
    hbm_5m_usd, hbm_1h_usd
        HBM rent and transfer for 5 minutes and 1 hour [USD]; None when not priced.
    reading
        How to read them, in words.
    """

    write_5m: float
    write_1h: float
    read: float
    source: str
    premium_5m_usd: float
    premium_1h_usd: float
    read_usd: float
    hbm_5m_usd: float | None
    hbm_1h_usd: float | None
    reading: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo cache --json``'s ``published``)."""
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class CacheResult:
    """``topo cache``: where a cached prefix should live for each duration, and why.

    Attributes
    ----------
    model, layout
        Names of the model and layout.
    prefix_tokens
        The cached prefix [tokens].
    kv_bytes
        Its KV cache [B].
    recompute_s, recompute_usd
        Recomputing it by prefill on the plan's GPUs [s, USD].
    tiers
        Each memory tier for the prefix (:class:`topo.published.CacheTier`).
    costs_usd
        Per duration label, each tier's cost to keep and reload it once [USD].
    choice
        Per duration label, the cheapest place (a tier or ``recompute``).
    why
        Per duration label, the choice in words.
    published
        Published prompt-cache prices set beside these costs.
    five_minutes
        The seed's "5 minutes = HBM", checked.
    plan
        The plan priced (for figures; not in the JSON).
    """

    model: str
    layout: str
    prefix_tokens: int
    kv_bytes: float
    recompute_s: float
    recompute_usd: float
    tiers: tuple[CacheTier, ...]
    costs_usd: Mapping[str, Mapping[str, float]]
    choice: Mapping[str, str]
    why: Mapping[str, str]
    published: PublishedCache
    five_minutes: FiveMinutes
    plan: Plan | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping ``topo cache --json`` prints."""
        return {
            "model": self.model,
            "layout": self.layout,
            "prefix_tokens": self.prefix_tokens,
            "kv_bytes": self.kv_bytes,
            "recompute_s": self.recompute_s,
            "recompute_usd": self.recompute_usd,
            "tiers": [t.to_dict() for t in self.tiers],
            "costs_usd": {k: dict(v) for k, v in self.costs_usd.items()},
            "choice": dict(self.choice),
            "why": dict(self.why),
            "published": self.published.to_dict(),
            "five_minutes": self.five_minutes.to_dict(),
        }


def cache_tiers(
    layout: Layout,
    model: Model,
    plan: Plan,
    workload: Workload,
    *,
    prefix_tokens: int,
    durations: list[str],
    comm: CommModel | None = None,
) -> CacheResult:
    """Where a cached prefix of `prefix_tokens` should live for each duration, and why.

    Cost of keeping it for a duration = storage (capacity x price per GB-hour x duration)
    + writing it out and reading it back once (the serving GPUs' time at their price).
    Against recomputing it by prefill. The cheapest tier that holds it, reloads faster than
    a recompute and costs less than one wins; otherwise recompute.
    """
    if not 1 <= prefix_tokens <= 100_000_000:
        msg = f"--prefix must be from 1 to 1e8 tokens, got {prefix_tokens}"
        raise TopoError(msg)
    n = plan.world
    usd_s = n * workload.gpu_hour_usd / 3600
    kv = model.kv_bytes(prefix_tokens, dtype_bytes(workload.kv))
    w = Workload(**{**_fields(workload), "input_tokens": prefix_tokens})
    recompute = prefill(layout, model, plan, w, comm).time_s
    recompute_usd = recompute * usd_s
    acc = layout.accelerator
    tiers = tuple(_cache_tier(t, acc, kv, n, workload.gpu_hour_usd) for t in _tiers())
    choice, why, costs = _cheapest_by_duration(
        tiers, durations, kv=kv, usd_s=usd_s, recompute_s=recompute, n=n
    )
    return CacheResult(
        model=model.name,
        layout=layout.name,
        prefix_tokens=prefix_tokens,
        kv_bytes=kv,
        recompute_s=recompute,
        recompute_usd=recompute_usd,
        tiers=tiers,
        costs_usd=costs,
        choice=choice,
        why=why,
        published=_published_cache(recompute_usd, costs),
        plan=plan,
        # The seed's "5 minutes = HBM", checked: the cheapest place for 300 s and, when it
        # is not HBM, the input that decides it.
        five_minutes=five_minutes_against_hbm(
            tiers,
            {t.name: _keep_usd(t, FIVE_MINUTES_S, kv, usd_s) for t in tiers},
            kv_bytes=kv,
            usd_per_s=usd_s,
            recompute_s=recompute,
            recompute_usd=recompute_usd,
            gpu_hour_usd=workload.gpu_hour_usd,
        ),
    )


def _cache_tier(
    t: dict[str, Any], acc: Accelerator, kv: float, n: int, gpu_hour_usd: float
) -> CacheTier:
    """One memory tier of `n` GPUs for `kv` bytes: capacity, write and reload times, price."""
    capex: float | None = None
    life: float | None = None
    if t["name"] == "hbm":
        cap = acc.hbm_capacity_bytes * n
        read = write = math.inf
        price_gb_h = gpu_hour_usd / (acc.hbm_capacity_bytes / 1e9)
        note = "rented with the GPUs: the GPU-hour price over its HBM"
    else:
        cap = parse_quantity(t["capacity_per_gpu"], "data") * n
        read = parse_quantity(t["read_per_gpu"], "bandwidth") * n
        write = parse_quantity(t["write_per_gpu"], "bandwidth") * n
        capex, life = float(t["usd_per_gb"]), float(t["life_years"])
        price_gb_h = capex / (life * 8760)
        note = t["note"]
    reload_s = kv / read
    write_s = kv / write
    return CacheTier(
        name=t["name"],
        capacity_bytes=cap,
        reload_s=reload_s,
        write_s=write_s,
        usd_per_gb_hour=price_gb_h,
        note=note,
        holds=cap >= kv,
        # The assumed inputs (None for HBM, priced by the GPU-hour).
        read_bytes_per_s_per_gpu=None if math.isinf(read) else read / n,
        write_bytes_per_s_per_gpu=None if math.isinf(write) else write / n,
        usd_per_gb=capex,
        life_years=life,
    )


def _keep_usd(t: CacheTier, secs: float, kv: float, usd_s: float) -> tuple[float, float]:
    """(storage, transfer) dollars: GB-hours rented, GPU time writing and reloading."""
    return kv / 1e9 * t.usd_per_gb_hour * secs / 3600, (t.reload_s + t.write_s) * usd_s


def _cheapest_by_duration(
    tiers: tuple[CacheTier, ...],
    durations: list[str],
    *,
    kv: float,
    usd_s: float,
    recompute_s: float,
    n: int,
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, float]]]:
    """Per duration: the cheapest place, why in words, and every tier's cost [USD].

    The cheapest tier that holds the prefix, reloads it faster than a recompute and costs
    less than one; else ``recompute``.
    """
    recompute_usd = recompute_s * usd_s
    choice: dict[str, str] = {}
    why: dict[str, str] = {}
    costs: dict[str, dict[str, float]] = {}
    for label in durations:
        secs = parse_duration(label)
        best, best_usd = "recompute", recompute_usd
        costs[label] = {}
        for t in tiers:
            usd = sum(_keep_usd(t, secs, kv, usd_s))
            costs[label][t.name] = usd
            if t.holds and t.reload_s < recompute_s and usd < best_usd:
                best, best_usd = t.name, usd
        choice[label] = best
        why[label] = (
            f"{best}: ${best_usd:.4f} to keep {kv / 1e9:.1f} GB for {label} and "
            f"reload it once, against ${recompute_usd:.4f} to recompute "
            f"({recompute_s:.2f} s of prefill on {n} GPUs)"
        )
    return choice, why, costs


def _published_cache(recompute_usd: float, costs: dict[str, dict[str, float]]) -> PublishedCache:
    """Published prompt-cache prices, priced at cost against recomputing and HBM rent."""
    cache_prices = published_prices()["prompt_cache"]
    # Published structure: 5-minute write at 1.25x base input, 1 hour at 2x, reads 0.1x.
    # Priced at cost (the input price = our prefill cost), the write premiums pay for:
    return PublishedCache(
        write_5m=cache_prices["write_5m"],
        write_1h=cache_prices["write_1h"],
        read=cache_prices["read"],
        source=cache_prices["source"],
        premium_5m_usd=(cache_prices["write_5m"] - 1) * recompute_usd,
        premium_1h_usd=(cache_prices["write_1h"] - 1) * recompute_usd,
        read_usd=cache_prices["read"] * recompute_usd,
        hbm_5m_usd=costs.get("5m", {}).get("hbm"),
        hbm_1h_usd=costs.get("1h", {}).get("hbm"),
        reading="a premium at or above a tier's cost for the duration can pay for "
        "that tier; the 5-minute premium against HBM rent, the 1-hour one "
        "against a cheaper tier, is the seed's reading",
    )


# ---------------------------------------------------------------- lifecycle (claims 12, 14)
def chinchilla_loss(params: float, tokens: float) -> float:
    """The parametric fit L(N, D) = E + A / N^alpha + B / D^beta."""
    return float(E_LOSS + A_FIT / params**ALPHA + B_FIT / tokens**BETA)


@dataclass(frozen=True, slots=True)
class ChinchillaOptimum:
    """The compute-optimal model for the same training FLOPs.

    Attributes
    ----------
    params
        Parameters [parameters].
    tokens
        Training tokens [tokens].
    rule_of_20
        The 20-tokens-a-parameter rule's optimum instead of the fit's; None on itself.
    """

    params: float
    tokens: float
    rule_of_20: ChinchillaOptimum | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo lifecycle --json``'s ``chinchilla``)."""
        d: dict[str, Any] = {"params": self.params, "tokens": self.tokens}
        if self.rule_of_20 is not None:
            d["rule_of_20"] = self.rule_of_20.to_dict()
        return d


@dataclass(frozen=True, slots=True)
class InferenceAware:
    """The model minimising training plus inference FLOPs at the given loss (Sardana et al.).

    Attributes
    ----------
    params, tokens
        Its parameters [parameters] and training tokens [tokens].
    total_flops
        Its training and inference compute [FLOP].
    saving_vs_given
        1 - total_flops / the given model's [dimensionless].
    tokens_per_param
        Its training tokens a parameter [tokens/parameter].
    compute
        Pre-training, RL and inference compute [FLOP].
    balance
        The same as shares of the whole [dimensionless].
    """

    params: float
    tokens: float
    total_flops: float
    saving_vs_given: float
    tokens_per_param: float
    compute: Mapping[str, float]
    balance: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (``topo lifecycle --json``'s ``inference_aware``)."""
        return {
            f: dict(v) if isinstance(v, Mapping) else v
            for f in self.__slots__
            for v in (getattr(self, f),)
        }


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """``topo lifecycle``: Chinchilla optimum, over-training, inference-aware optimum, split.

    Attributes
    ----------
    params, tokens
        The given model's parameters [parameters] and training tokens [tokens].
    training_flops
        6 N D [FLOP].
    chinchilla
        The compute-optimal model for the same FLOPs (the fit and the rule of 20).
    tokens_per_param
        D / N [tokens/parameter].
    overtraining_ratio
        D / (20 N) [dimensionless].
    loss
        The Chinchilla fit's loss at (N, D) [nats/token].
    inference_aware
        The optimum counting inference too.
    compute
        Pre-training, RL and inference compute [FLOP].
    balance
        The same as shares of the whole [dimensionless]; empty when there is none.
    balance_note
        When equal thirds are optimal, in words.
    """

    params: float
    tokens: float
    training_flops: float
    chinchilla: ChinchillaOptimum
    tokens_per_param: float
    overtraining_ratio: float
    loss: float
    inference_aware: InferenceAware
    compute: Mapping[str, float]
    balance: Mapping[str, float]
    balance_note: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping ``topo lifecycle --json`` prints."""
        return {
            "params": self.params,
            "tokens": self.tokens,
            "training_flops": self.training_flops,
            "chinchilla": self.chinchilla.to_dict(),
            "tokens_per_param": self.tokens_per_param,
            "overtraining_ratio": self.overtraining_ratio,
            "loss": self.loss,
            "inference_aware": self.inference_aware.to_dict(),
            "compute": dict(self.compute),
            "balance": dict(self.balance),
            "balance_note": self.balance_note,
        }


def lifecycle(
    *,
    params: float,
    tokens: float,
    inference_tokens: float = 0.0,
    rl_flops: float = 0.0,
    active_params: float | None = None,
) -> Lifecycle:
    """Chinchilla optimum, over-training, the inference-aware optimum and the compute split."""
    if not (1e6 <= params <= 1e15 and 1e6 <= tokens <= 1e18):
        msg = "--params must be from 1e6 to 1e15 and --tokens from 1e6 to 1e18"
        raise TopoError(msg)
    if inference_tokens < 0 or rl_flops < 0:
        msg = "--inference-tokens and --rl-flops must be >= 0"
        raise TopoError(msg)
    n_act = active_params or params
    C = 6 * params * tokens
    # Compute-optimal under the fit: N_opt = G (C/6)^(beta/(alpha+beta)).
    G = (ALPHA * A_FIT / (BETA * B_FIT)) ** (1 / (ALPHA + BETA))
    n_fit = G * (C / 6) ** (BETA / (ALPHA + BETA))
    n_rule = math.sqrt(C / (6 * TOKENS_PER_PARAM))
    target = chinchilla_loss(params, tokens)
    # Inference-aware: minimise 6 N D + 2 N_act D_inf at the same loss (Sardana et al.),
    # the active share of the parameters held as given (1 for a dense model).
    share = n_act / params
    grid = np.logspace(math.log10(params) - 2, math.log10(params) + 1, 2000)
    left = target - E_LOSS - A_FIT / grid**ALPHA
    ok = left > 0
    d_need = np.where(ok, (B_FIT / np.where(ok, left, 1.0)) ** (1 / BETA), np.inf)
    total = 6 * grid * d_need + 2 * grid * share * inference_tokens
    k = int(np.argmin(total))
    pre, inf = C, 2 * n_act * inference_tokens
    parts = {"pretraining": pre, "rl": rl_flops, "inference": inf}
    whole = sum(parts.values())
    # The same split at the optimum: its own pre-training and inference, the same RL.
    n_opt, d_opt = float(grid[k]), float(d_need[k])
    parts_opt = {
        "pretraining": 6 * n_opt * d_opt,
        "rl": rl_flops,
        "inference": 2 * n_opt * share * inference_tokens,
    }
    whole_opt = sum(parts_opt.values())
    return Lifecycle(
        params=params,
        tokens=tokens,
        training_flops=C,
        chinchilla=ChinchillaOptimum(
            params=n_fit,
            tokens=C / (6 * n_fit),
            rule_of_20=ChinchillaOptimum(params=n_rule, tokens=TOKENS_PER_PARAM * n_rule),
        ),
        tokens_per_param=tokens / params,
        overtraining_ratio=tokens / (TOKENS_PER_PARAM * params),
        loss=target,
        inference_aware=InferenceAware(
            params=n_opt,
            tokens=d_opt,
            total_flops=float(total[k]),
            saving_vs_given=1 - float(total[k]) / (C + inf),
            tokens_per_param=d_opt / n_opt,
            compute=parts_opt,
            balance={k2: v / whole_opt for k2, v in parts_opt.items()},
        ),
        compute=parts,
        balance={k2: v / whole for k2, v in parts.items()} if whole else {},
        balance_note=(
            "equal thirds are optimal only if the three stages' marginal returns "
            "are equal; with gamma OOMs of inference saved per OOM of training, "
            "C_inference / C_training = 1 / gamma (Epoch: gamma ~ 0.58 -> ~1.7)"
        ),
    )


# ---------------------------------------------------------------- training memory (claim 9)
@dataclass(frozen=True, slots=True)
class TrainingMemory:
    """``topo memory --train``: activation memory of a training step, three ways.

    Each table is keyed by ``store_all``, ``remat`` and ``reversible``.

    Attributes
    ----------
    model, layout
        Names of the model and layout.
    tokens_per_batch, seq_len
        Tokens in one global batch and in a sequence [tokens].
    activation_bytes
        Activations kept for the backward pass, whole cluster [B].
    working_set_bytes
        One layer's working set, recomputed or not [B].
    extra_compute_fraction
        Forward-pass recompute as a share of a step's FLOPs [dimensionless].
    model_state_bytes
        Weights, gradients and optimiser state (16 B a parameter) [B].
    cluster_hbm_bytes
        HBM of every GPU in the layout [B].
    fits
        Whether states, activations and working set fit in that HBM.
    note
        The caveat, in words.
    """

    model: str
    layout: str
    tokens_per_batch: int
    seq_len: int
    activation_bytes: Mapping[str, float]
    working_set_bytes: float
    extra_compute_fraction: Mapping[str, float]
    model_state_bytes: float
    cluster_hbm_bytes: float
    fits: Mapping[str, bool]
    note: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping ``topo memory --train --json`` prints."""
        return {
            f: dict(v) if isinstance(v, Mapping) else v
            for f in self.__slots__
            for v in (getattr(self, f),)
        }


def training_memory(
    layout: Layout,
    model: Model,
    *,
    tokens_per_batch: int,
    seq_len: int,
    dtype: str = "bf16",
) -> TrainingMemory:
    """Activation memory of a training step: store all, per-layer remat, reversible layers."""
    if not (1 <= seq_len <= tokens_per_batch <= 1e12):
        msg = "--seq-len must be >= 1 and at most --tokens-per-batch (<= 1e12)"
        raise TopoError(msg)
    b = dtype_bytes(dtype)
    T, L, D = float(tokens_per_batch), model.layers, model.d_model
    per_layer = 20 * D * b  # ~20 hidden-sized values per token per layer (scaling book)
    store_all = T * L * per_layer
    remat = T * L * D * b  # one checkpoint a layer (plus one layer's working set, below)
    # The last layer boundary: its two halves (D/2 channels each) are D values a token.
    reversible = T * D * b
    working = T * per_layer
    n = layout.n_gpus
    states = 16.0 * model.params.total  # bf16 weights and grads + fp32 master and Adam moments
    hbm = layout.accelerator.hbm_capacity_bytes * n
    fits = {
        k: bool((states + v + (working if k != "store_all" else 0.0)) <= hbm)
        for k, v in (("store_all", store_all), ("remat", remat), ("reversible", reversible))
    }
    return TrainingMemory(
        model=model.name,
        layout=layout.name,
        tokens_per_batch=tokens_per_batch,
        seq_len=seq_len,
        activation_bytes={"store_all": store_all, "remat": remat, "reversible": reversible},
        working_set_bytes=working,
        extra_compute_fraction={"store_all": 0.0, "remat": 1 / 3, "reversible": 1 / 3},
        model_state_bytes=states,
        cluster_hbm_bytes=hbm,
        fits=fits,
        note=(
            "remat and reversible layers both recompute the forward pass (8ND vs 6ND); "
            "reversible layers keep only the last layer boundary, exact in exact "
            "arithmetic only"
        ),
    )
