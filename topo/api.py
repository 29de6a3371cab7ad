"""topo for people: one call per question, layouts and models by name, path or object.

Each function answers what one ``topo`` command answers, with the same defaults and the
same plan completion, and returns a result whose ``to_dict()`` is what that command's
``--json`` prints::

    import topo
    r = topo.evaluate("gb200-nvl72", "deepseek-v3", batch=64, weights="fp8")
    r.decode.time_per_output_token_s, r.decode.bound, r.floor.per_token_s

Workload keywords (all optional, as the CLI's options): ``input`` and ``output`` (prompt
and generated tokens), ``context``, ``weights``, ``kv``, ``compute`` (dtypes),
``gpu_hour_usd``, ``overlap``, ``ideal``, ``clean``, ``calibration``,
``accepted_tokens``, ``draft_tokens``, ``prefill_chunk``, ``context_cv``,
``attention_kernel``. Plan keywords: ``tp``, ``ep``, ``pp``, ``dp`` (left out: completed
by the search) and ``strategy`` (``packed`` or ``naive``). For many questions of one
set-up, build a :class:`topo.Scenario` once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from topo.collectives import CollectiveResult
from topo.errors import TopoError
from topo.layout import Layout
from topo.models import Model
from topo.moe import MoEResult
from topo.perf import Workload
from topo.physical import LimitsReport
from topo.place import Placement, Plan
from topo.plans import PlanSearch
from topo.results import Evaluation, Sweep, plan_dict
from topo.scenario import Degrees, Scenario, resolve_layout, resolve_model, serving_plan
from topo.serving import ServeSetup

__all__ = [
    "DEFAULT_BATCHES",
    "Report",
    "cache",
    "cache_scenario",
    "catalogue",
    "check",
    "collective",
    "compare",
    "evaluate",
    "layouts",
    "lifecycle",
    "limits",
    "memory",
    "moe",
    "place",
    "plan",
    "price",
    "price_models",
    "serve",
    "serve_scenario",
    "show",
    "sweep",
]

LayoutLike = str | Path | Layout
ModelLike = str | Path | Model
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True, slots=True)
class Report:
    """A result whose fields are the JSON the command prints (serve, price, limits, ...).

    ``report["key"]`` and ``report.to_dict()`` read it; ``kind`` says which command's.
    """

    kind: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Exactly what the command's ``--json`` prints."""
        return dict(self.data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def evaluate(
    layout: LayoutLike,
    model: ModelLike,
    *,
    batch: int = 1,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
    **workload: Any,
) -> Evaluation:
    """``topo evaluate``: one plan at one batch, split into its terms [s]."""
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    return s.evaluate(batch, tp=tp, ep=ep, pp=pp, dp=dp)


def sweep(
    layout: LayoutLike,
    model: ModelLike,
    *,
    batches: Sequence[int] = DEFAULT_BATCHES,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
    **workload: Any,
) -> Sweep:
    """``topo sweep``: one plan across batches (the latency-throughput table)."""
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    return s.sweep(batches, tp=tp, ep=ep, pp=pp, dp=dp)


def plan(
    layout: LayoutLike,
    model: ModelLike,
    *,
    objective: str = "throughput",
    max_latency_ms: float | None = None,
    top: int = 20,
    catalogue: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    **workload: Any,
) -> PlanSearch:
    """``topo plan``: every plan x strategy x batch that fits, ranked, and the Pareto front.

    `progress(done, total)` is called as plans are placed.
    """
    from topo.plans import plan_search

    s = Scenario(layout, model, catalogue=catalogue, **workload)
    limit = max_latency_ms / 1e3 if max_latency_ms is not None else None
    return plan_search(
        s.layout, s.graph, s.model, s.workload, objective, limit, top=top, progress=progress
    )


def check(layout: LayoutLike, *, catalogue: Sequence[str] = ()) -> LimitsReport:
    """``topo check``: every physical limit with its margin, and the one that binds."""
    from topo.physical import check_limits

    return check_limits(resolve_layout(layout, catalogue))


def limits(
    layout: LayoutLike,
    *,
    vary: Mapping[str, str] | Sequence[str] = (),
    catalogue: Sequence[str] = (),
) -> Report:
    """``topo limits``: the largest scale-up domain each limit allows (with variations).

    `vary`: ``{"power_budget": "600 kW"}`` or ``["power_budget=600 kW"]``.
    """
    from topo.physical import apply_vary, largest_domain

    lay = resolve_layout(layout, catalogue)
    items = [f"{k}={v}" for k, v in vary.items()] if isinstance(vary, Mapping) else list(vary)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            msg = f"--vary: expected KEY=VALUE, got {item!r}"
            raise TopoError(msg)
        lay = apply_vary(lay, key.strip(), value.strip().strip('"'))
    data = largest_domain(lay)
    data["varied"] = items
    return Report("limits", data)


def place(
    layout: LayoutLike,
    *,
    tp: int = 1,
    ep: int = 1,
    pp: int = 1,
    dp: int = 1,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
) -> Placement:
    """``topo place``: where each group of a plan lands, and its bottleneck bandwidth."""
    from topo.build import build_graph
    from topo.place import place as place_plan

    G = build_graph(resolve_layout(layout, catalogue))
    return place_plan(G, Plan(tp=tp, ep=ep, pp=pp, dp=dp), strategy=strategy)


def collective(
    layout: LayoutLike,
    op: str,
    gpus: int,
    nbytes: float | str,
    *,
    algorithm: str = "auto",
    clean: bool = False,
    runtime: str = "serving",
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
) -> CollectiveResult:
    """``topo collective``: one collective over `gpus` GPUs of `nbytes` per GPU [B or "1 GB"]."""
    from topo.build import build_graph
    from topo.collectives import collective as run
    from topo.place import place as place_plan
    from topo.units import parse_quantity

    G = build_graph(resolve_layout(layout, catalogue))
    total = sum(1 for _, a in G.nodes(data=True) if a["kind"] == "gpu")
    if not 2 <= gpus <= total:
        msg = f"--gpus must be from 2 to the layout's {total} GPUs, got {gpus}"
        raise TopoError(msg)
    size = parse_quantity(nbytes, "data") if isinstance(nbytes, str) else float(nbytes)
    # The group as a plan would place a data-parallel group of that size.
    group = list(place_plan(G, Plan(dp=gpus), strategy=strategy).ranks)
    return run(G, op, group, size, algorithm=algorithm, clean=clean, runtime=runtime)


def serve(
    layout: LayoutLike,
    model: ModelLike,
    *,
    rate: float,
    policy: str = "train",
    requests: int = 10_000,
    seed: int = 0,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
    **workload: Any,
) -> Report:
    """``topo serve``: Poisson arrivals at `rate` [1/s] through a serving policy."""
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    data, _ = serve_scenario(s, degrees, rate=rate, policy=policy, requests=requests, seed=seed)
    return Report("serve", data)


_INTERVAL_SET_BY = {
    "memory": "HBM drain: the batch that fills HBM reads it once a step",
    "compute": "compute: the batch that fills HBM is compute-bound",
    "communication": "communication: collectives take most of the step",
    "overhead": "kernel floors and launches",
}


def serve_scenario(
    s: Scenario, degrees: Degrees, *, rate: float, policy: str, requests: int, seed: int
) -> tuple[dict[str, Any], ServeSetup]:
    """Serve on the scenario's serving plan; the result and the set-up it ran."""
    from topo.perf import bound_of, decode, memory
    from topo.serving import ServeSetup, simulate

    plan = serving_plan(s.layout, s.graph, s.model, s.workload, strategy=s.strategy, **degrees)
    parts = s.parts(plan)
    seats = memory(s.layout, s.model, plan, 1, s.workload)["max_batch"]
    B = np.arange(1, max(seats, 1) + 1, dtype=float)
    d = decode(s.layout, s.model, plan, B, s.workload, parts.comm)
    setup = ServeSetup(
        seats=seats,
        # With pp stages a micro-batch departs every stage time: time per token / pp.
        interval_s=float(d["tpot"][-1]) / plan.pp,
        step_s=tuple(float(x) for x in d["tpot"]),
        prefill_s=parts.prefill.time_s,
        gpus=plan.world,
        trains=plan.pp,
    )
    result = simulate(
        setup,
        rate_per_s=rate,
        output_tokens=s.workload.output_tokens,
        requests=requests,
        policy=policy,
        seed=seed,
    )
    acc = s.layout.accelerator
    drain = acc.hbm_capacity_bytes / (acc.hbm_bandwidth_bytes_per_s or 1.0)
    data = {
        "model": s.model.name,
        "layout": s.layout.name,
        "plan": plan_dict(plan),
        **result,
        # The seed's rule: departures every ~20 ms, the time to read all of HBM once.
        "hbm_drain_s": drain,
        "interval_set_by": _INTERVAL_SET_BY[bound_of(d, len(B) - 1)],
        "interval_over_drain": result["interval_s"] / drain,
    }
    return data, setup


def price(
    layout: LayoutLike,
    model: ModelLike,
    *,
    contexts: Sequence[float] = (1000, 8000, 32000, 128000),
    batches: Sequence[int] = (1, 8, 64, 256),
    compare_models: Sequence[ModelLike] = (),
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
    **workload: Any,
) -> Report:
    """``topo price``: cost per million tokens against batch and context."""
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    models = [s.model, *(resolve_model(m) for m in compare_models)]
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    results = price_models(s, models, degrees, contexts=contexts, batches=batches)
    data = results[0] if len(results) == 1 else {**results[0], "compare": results[1:]}
    return Report("price", data)


def price_models(
    s: Scenario,
    models: Sequence[Model],
    degrees: Degrees,
    *,
    contexts: Sequence[float],
    batches: Sequence[int],
) -> list[dict[str, Any]]:
    """:func:`topo.economics.price` for each model, on a plan that holds the longest context."""
    from topo.economics import price as price_model
    from topo.perf import Workload, comm_model
    from topo.place import place as place_plan

    fields = {k: getattr(s.workload, k) for k in Workload.__dataclass_fields__}
    longest = Workload(**{**fields, "input_tokens": int(max(contexts)), "output_tokens": 1})
    results = []
    for m in models:
        plan = serving_plan(s.layout, s.graph, m, longest, strategy=s.strategy, **degrees)
        comm = comm_model(s.fabric, place_plan(s.graph, plan, strategy=s.strategy))
        results.append(
            price_model(
                s.layout,
                m,
                plan,
                s.workload,
                contexts=[float(c) for c in contexts],
                batches=[int(b) for b in batches],
                comm=comm,
            )
        )
    return results


def compare(
    layouts: Sequence[LayoutLike],
    model: ModelLike,
    *,
    slo_tpot_ms: float | None = None,
    slo_ttft_ms: float | None = None,
    max_replica_gpus: int = 0,
    costs: Mapping[str, float] | None = None,
    workload: Workload | None = None,
    **options: Any,
) -> Report:
    """``topo compare``: designs side by side, the best feasible one by TCO cost per token.

    SLOs in ms; `costs` overrides TCO inputs (``{"usd_per_kwh": 0.1}``); the workload
    from `options` (as :func:`evaluate`'s) or a built `workload`.
    """
    from topo.design import compare as compare_designs
    from topo.scenario import make_workload

    resolve_model(model)  # a bad model is an input error before any work
    w = workload if workload is not None else make_workload(**options)
    designs = [
        {
            "layout": lay if isinstance(lay, Layout) else str(lay),
            "model": model if isinstance(model, Model) else str(model),
            "input": w.input_tokens,
            "output": w.output_tokens,
            "context": w.context,
            "weights": w.weights,
            "kv": w.kv,
            "gpu_hour_usd": w.gpu_hour_usd,
            "compute": w.compute,
            "overlap": w.overlap,
            "fidelity": w.fidelity.to_dict(),
            "slo_tpot_s": slo_tpot_ms / 1e3 if slo_tpot_ms else None,
            "slo_ttft_s": slo_ttft_ms / 1e3 if slo_ttft_ms else None,
            "max_replica_gpus": max_replica_gpus or 0,
            "costs": dict(costs or {}),
        }
        for lay in layouts
    ]
    for lay in layouts:
        resolve_layout(lay)  # a bad layout is an input error before any work
    return Report("compare", compare_designs(designs))


def show(layout: LayoutLike, *, catalogue: Sequence[str] = ()) -> Report:
    """``topo show``: GPUs, domains, switches, links, bandwidths and bisection [SI units]."""
    from topo.build import build_graph
    from topo.stats import summarize

    lay = resolve_layout(layout, catalogue)
    return Report("show", summarize(lay, build_graph(lay)))


def cache(
    layout: LayoutLike,
    model: ModelLike,
    *,
    prefix: int,
    durations: Sequence[str] = ("5m", "1h", "1d"),
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    strategy: str = "packed",
    catalogue: Sequence[str] = (),
    **workload: Any,
) -> Report:
    """``topo cache``: where to hold a `prefix`-token prompt cache for each duration."""
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    return cache_scenario(s, degrees, prefix=prefix, durations=durations)


def cache_scenario(
    s: Scenario, degrees: Degrees, *, prefix: int, durations: Sequence[str]
) -> Report:
    """:func:`cache` on a built scenario (durations like ``5m``, ``1h``, ``1d``)."""
    from topo.economics import cache_tiers, parse_duration
    from topo.perf import Workload, comm_model
    from topo.place import place as place_plan

    for d in durations:  # NaN or a century of holding is no duration to price
        if not 0 < parse_duration(d) <= 1e9:
            msg = (
                "--durations: expected durations above 0 and at most 1e9 s (about 30 years), "
                f"got {d[:200]!r}"
            )
            raise TopoError(msg)
    if not durations:
        msg = "--durations: expected durations like 5m,1h,1d, got none"
        raise TopoError(msg)
    fields = {k: getattr(s.workload, k) for k in Workload.__dataclass_fields__}
    held = Workload(**{**fields, "input_tokens": prefix, "output_tokens": 1})
    plan = serving_plan(s.layout, s.graph, s.model, held, strategy=s.strategy, **degrees)
    comm = comm_model(s.fabric, place_plan(s.graph, plan, strategy=s.strategy))
    data = cache_tiers(
        s.layout,
        s.model,
        plan,
        s.workload,
        prefix_tokens=prefix,
        durations=list(durations),
        comm=comm,
    )
    return Report("cache", data)


def catalogue(files: Sequence[str] = ()) -> Report:
    """``topo catalogue``: accelerators (peaks [FLOP/s], HBM [B, B/s]) and links [B/s, s]."""
    from topo.catalogue import load_catalogue
    from topo.kernels import gemm_basis

    cat = load_catalogue(tuple(files))
    accs: list[dict[str, Any]] = []
    for name in sorted(cat.accelerators):
        a = cat.accelerator(name)
        accs.append(
            {
                "name": a.name,
                "vendor": a.vendor,
                "description": a.description,
                "peak_flop_per_s": dict(a.peak_flop_per_s),
                "hbm_capacity_bytes": a.hbm_capacity_bytes,
                "hbm_bandwidth_bytes_per_s": a.hbm_bandwidth_bytes_per_s,
                "scale_up_bandwidth_bytes_per_s": a.scale_up_bandwidth_bytes_per_s,
                "scale_up_link": a.scale_up_link,
                "scale_out_bandwidth_bytes_per_s": a.scale_out_bandwidth_bytes_per_s,
                "efficiency": {"hbm": a.efficiency.hbm, "compute": a.efficiency.compute},
                "gemm_tables": gemm_basis(a, "bf16" if "bf16" in a.peak_flop_per_s else "fp8"),
                "confidence": a.confidence,
            }
        )
    links = [
        {
            "name": k.name,
            "description": k.description,
            "bandwidth_bytes_per_s": k.bandwidth_bytes_per_s,
            "lanes": k.lanes,
            "latency_s": k.latency_s,
            "medium": k.medium,
        }
        for k in (cat.link(name) for name in sorted(cat.links))
    ]
    return Report("catalogue", {"accelerators": accs, "links": links})


def layouts() -> Report:
    """``topo layouts``: the bundled layouts, one row each (``["layouts"]``)."""
    from topo.layout import bundled_layouts, load_layout

    rows: list[dict[str, Any]] = []
    for name, path in bundled_layouts().items():
        try:
            lay = load_layout(path)
        except TopoError as e:
            rows.append({"name": name, "path": str(path), "error": str(e).splitlines()[0]})
            continue
        rows.append(
            {
                "name": name,
                "path": str(path),
                "gpus": lay.n_gpus,
                "accelerator": lay.accelerator.name,
                "domain_size": lay.gpus_per_domain,
                "racks": lay.cluster.racks,
                "description": lay.description,
            }
        )
    return Report("layouts", {"layouts": rows})


def lifecycle(
    *,
    params: float,
    tokens: float,
    inference_tokens: float = 0.0,
    rl_flops: float = 0.0,
    active_params: float | None = None,
) -> Report:
    """``topo lifecycle``: training against inference compute [FLOP], and the optimum."""
    from topo.economics import lifecycle as run

    return Report(
        "lifecycle",
        run(
            params=params,
            tokens=tokens,
            inference_tokens=inference_tokens,
            rl_flops=rl_flops,
            active_params=active_params,
        ),
    )


def memory(
    layout: LayoutLike,
    model: ModelLike,
    *,
    tokens_per_batch: int,
    seq_len: int,
    dtype: str = "bf16",
    catalogue: Sequence[str] = (),
) -> Report:
    """``topo memory --train``: training memory per GPU [B], by part."""
    from topo.economics import training_memory

    data = training_memory(
        resolve_layout(layout, catalogue),
        resolve_model(model),
        tokens_per_batch=tokens_per_batch,
        seq_len=seq_len,
        dtype=dtype,
    )
    return Report("memory", data)


def moe(
    layout: LayoutLike,
    model: ModelLike | None = None,
    *,
    hidden: int | None = None,
    topk: int | None = None,
    expert_ffn: int | None = None,
    weight_bytes: float = 1.0,
    tokens_per_gpu: int = 128,
    ep: int = 8,
    dispatch_bytes: float = 2.0,
    combine_bytes: float = 2.0,
    strategy: str = "packed",
    clean: bool = False,
    catalogue: Sequence[str] = (),
) -> MoEResult:
    """``topo moe``: one MoE layer's dispatch and combine over `ep` GPUs [s, B].

    `dispatch_bytes` and `combine_bytes` per element [B] (2: bf16, 1: fp8). The model
    gives the hidden size, experts per token and expert FFN width unless they are given;
    `weight_bytes` per expert parameter [B] sizes the expert weights.
    """
    from topo.build import build_graph
    from topo.moe import moe_all_to_all

    G = build_graph(resolve_layout(layout, catalogue))
    ffn = expert_ffn
    if model is not None:
        m = resolve_model(model)
        if not m.moe:
            msg = f"{m.name} has no experts"
            raise TopoError(msg)
        hidden = m.d_model if hidden is None else hidden
        topk = m.moe["experts_per_token"] if topk is None else topk
        ffn = m.moe["expert_ffn"] if ffn is None else ffn
    if hidden is None or topk is None:
        msg = "give --model, or --model-hidden and --topk"
        raise TopoError(msg)
    # A gated expert: three hidden x ffn matrices.
    expert = 3 * hidden * ffn * weight_bytes if ffn else None
    return moe_all_to_all(
        G,
        hidden=hidden,
        topk=topk,
        tokens_per_gpu=tokens_per_gpu,
        ep=ep,
        dispatch_bytes=dispatch_bytes,
        combine_bytes=combine_bytes,
        expert_bytes=expert,
        strategy=strategy,
        clean=clean,
    )
