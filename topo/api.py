"""topo for people: one call per question, layouts and models by name, path or object.

Each function answers what one ``topo`` command answers, with the same defaults and the
same plan completion, and returns a result whose ``to_dict()`` is what that command's
``--json`` prints::

    import topo
    r = topo.evaluate("gb200-nvl72", "deepseek-v3", batch=64, weights="fp8")
    r.decode.time_per_output_token_s, r.decode.bound, r.floor.per_token_s

A layout is a bundled name (``topo layouts``), a layout YAML path or a
:class:`topo.Layout`; a model is a catalogue name, a model YAML path or a
:class:`topo.models.Model`. Results are SI: seconds [s], bytes [B], [B/s], [FLOP],
[FLOP/s], [USD]; batches count sequences, lengths count tokens.

Workload keywords, all optional, as the CLI's options (:func:`topo.scenario.make_workload`):

- ``input``, ``output``: prompt and generated tokens per request [tokens] (1024, 128)
- ``context``: the context a decode step reads [tokens] (default input + output / 2)
- ``weights``, ``kv``, ``compute``: dtypes, e.g. ``"bf16"``, ``"fp8"``
- ``gpu_hour_usd``: the price of one GPU-hour [USD] (2.0)
- ``overlap``: collectives hidden behind compute: ``"none"``, ``"full"``, ``"tp=none,ep=full"``
- ``ideal``: peak FLOP/s and bandwidth, no communication; ``clean``: no loss terms
- ``calibration``: a profile file written by ``topo calibrate``
- ``accepted_tokens``: tokens a step emits per sequence with speculative decoding [tokens]
- ``draft_tokens``: draft tokens a step verifies per sequence [tokens]
- ``prefill_chunk``: prompt tokens each attention rank adds to every decode step [tokens]
- ``context_cv``: spread of context lengths, standard deviation over mean [1]
- ``attention_kernel``: ``"grouped"`` or ``"per-query-head"``

Plan keywords: ``tp``, ``ep``, ``pp``, ``dp``, the tensor-, expert-, pipeline- and
data-parallel degrees [GPUs] (left out: completed by the search as the CLI completes
them), and ``strategy`` (``"packed"``: groups kept inside a scale-up domain;
``"naive"``: ranks dealt round-robin over racks). For many questions of one set-up,
build a :class:`topo.Scenario` once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from topo._progress import part
from topo.calibrate import CalibrationFit, ValidationReport
from topo.catalogue import Accelerator, Link
from topo.collectives import CollectiveResult
from topo.design import Comparison
from topo.errors import TopoError
from topo.layout import Layout
from topo.models import Model
from topo.moe import MoEResult
from topo.perf import Workload
from topo.physical import DomainLimits, LimitsReport
from topo.place import Placement, Plan
from topo.plans import PlanSearch
from topo.results import Evaluation, Sweep, plan_dict
from topo.scenario import (
    Degrees,
    Scenario,
    make_workload,
    resolve_layout,
    resolve_model,
    serving_plan,
)
from topo.serving import ServeSetup, ServeStats
from topo.stats import Summary
from topo.study import run_study_file

__all__ = [
    "DEFAULT_BATCHES",
    "CatalogueListing",
    "LayoutRow",
    "LayoutsListing",
    "ServeResult",
    "cache",
    "cache_scenario",
    "catalogue",
    "check",
    "collective",
    "compare",
    "evaluate",
    "calibrate",
    "figure",
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
    "serving_figure",
    "show",
    "study_results",
    "study",
    "sweep",
    "validate",
]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from topo.economics import CacheResult, Lifecycle, Price, TrainingMemory

LayoutLike = str | Path | Layout
ModelLike = str | Path | Model
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
"""The batches :func:`sweep` runs when none are given [sequences]."""


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
    """``topo evaluate``: one plan at one batch, split into its terms [s].

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    model
        A catalogue model's name, a model YAML path, or a model.
    batch
        Sequences decoded together, one token each per step [sequences].
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; those left out are
        completed as the CLI completes them.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    catalogue
        Extra catalogue files [paths] whose accelerators and links the layout may name.
    **workload
        Workload keywords (the module's list): `input`, `output`, `context` [tokens],
        `weights`, `kv`, `compute` (dtypes), `gpu_hour_usd` [USD per GPU-hour], ...

    Returns
    -------
    Evaluation
        Decode, prefill, floor, critical batches, memory [B] and cost [USD]; times [s].
    """
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
    """``topo sweep``: one plan across batches (the latency-throughput table).

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    batches
        Batches to run [sequences]; the plan is completed at the smallest.
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; those left out are
        completed as the CLI completes them.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    catalogue
        Extra catalogue files [paths] whose accelerators and links the layout may name.
    **workload
        Workload keywords (the module's list): `input`, `output`, `context` [tokens],
        `weights`, `kv`, `compute` (dtypes), `gpu_hour_usd` [USD per GPU-hour], ...

    Returns
    -------
    Sweep
        A row per batch; ``records()`` gives flat dicts for a table.
    """
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

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    objective
        Ranking: ``"throughput"`` (tokens/s per GPU), ``"latency"`` or ``"cost"``.
    max_latency_ms
        Most time per output token a row may take [ms]; None: no limit.
    top
        Rows to keep [rows].
    catalogue
        Extra catalogue files [paths].
    progress
        ``progress(done, total)`` is called as plans are placed [plans].
    **workload
        Workload keywords (the module's list): tokens, dtypes, [USD per GPU-hour], ...
    """
    from topo.plans import plan_search

    s = Scenario(layout, model, catalogue=catalogue, **workload)
    limit = max_latency_ms / 1e3 if max_latency_ms is not None else None
    return plan_search(
        s.layout, s.fabric, s.model, s.workload, objective, limit, top=top, progress=progress
    )


def check(layout: LayoutLike, *, catalogue: Sequence[str] = ()) -> LimitsReport:
    """``topo check``: every physical limit with its margin, and the one that binds.

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    catalogue
        Extra catalogue files [paths].

    Returns
    -------
    LimitsReport
        Each check's value and limit in SI units (W, A, kg, m, m^3/s, U, ports) and its
        margin, (limit - value) / limit; ``binding`` is the check with the least margin.
    """
    from topo.physical import check_limits

    return check_limits(resolve_layout(layout, catalogue))


def limits(
    layout: LayoutLike,
    *,
    vary: Mapping[str, str] | Sequence[str] = (),
    catalogue: Sequence[str] = (),
) -> DomainLimits:
    """``topo limits``: the largest scale-up domain each limit allows (with variations).

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    vary
        Layout keys changed first, values with their units as in YAML:
        ``{"power_budget": "600 kW"}`` or ``["power_budget=600 kW"]``.
    catalogue
        Extra catalogue files [paths].

    Returns
    -------
    DomainLimits
        ``max_domain_size`` and ``by_limit`` [GPUs], the ``binding`` limit family.
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
    return dataclasses.replace(largest_domain(lay), varied=tuple(items))


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
    """``topo place``: where each group of a plan lands, and its bottleneck bandwidth.

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs].
    strategy
        ``"packed"`` (groups inside a scale-up domain) or ``"naive"`` (round-robin).
    catalogue
        Extra catalogue files [paths].

    Returns
    -------
    Placement
        The GPU of each rank and, per group kind, the span and bottleneck [B/s].
    """
    from topo.place import place as place_plan
    from topo.routing import Fabric

    # The fabric by arithmetic (the graph's index, tested array for array): no graph.
    fabric = Fabric.from_layout(resolve_layout(layout, catalogue))
    return place_plan(fabric, Plan(tp=tp, ep=ep, pp=pp, dp=dp), strategy=strategy)


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
    progress: Callable[[int, int], None] | None = None,
) -> CollectiveResult:
    """``topo collective``: one collective over `gpus` GPUs of `nbytes` per GPU.

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    op
        ``"all-reduce"``, ``"all-gather"``, ``"reduce-scatter"``, ``"all-to-all"``,
        ``"p2p"`` or ``"broadcast"``.
    gpus
        Group size [GPUs], from 2 to the layout's GPUs.
    nbytes
        Buffer per GPU [B], or a quantity as text such as ``"1 GB"``.
    algorithm
        ``"auto"`` (the fastest that applies), ``"ring"``, ``"direct"``, ...
    clean
        Bare link rate (alpha + beta) instead of measured latency and bandwidth share.
    runtime
        Whose measured timings: ``"serving"``, ``"library"``, ``"engine"``, ``"xla"``.
    strategy
        Which GPUs form the group: ``"packed"`` (topology-aware) or ``"naive"``.
    catalogue
        Extra catalogue files [paths].
    progress
        Called as ``progress(done, 3)`` once the fabric is laid out, the group placed
        and the collective timed.

    Returns
    -------
    CollectiveResult
        Time [s], algorithm and bus bandwidth [B/s], the bottleneck link.
    """
    from topo.collectives import collective as run
    from topo.place import place as place_plan
    from topo.routing import Fabric
    from topo.units import parse_quantity

    tick = progress or (lambda done, total: None)
    lay = resolve_layout(layout, catalogue)
    if not 2 <= gpus <= lay.n_gpus:
        msg = f"--gpus must be from 2 to the layout's {lay.n_gpus} GPUs, got {gpus}"
        raise TopoError(msg)
    size = parse_quantity(nbytes, "data") if isinstance(nbytes, str) else float(nbytes)
    G = Fabric.from_layout(lay)  # no graph (see place)
    tick(1, 3)
    # The group as a plan would place a data-parallel group of that size.
    group = list(place_plan(G, Plan(dp=gpus), strategy=strategy).ranks)
    tick(2, 3)
    got = run(G, op, group, size, algorithm=algorithm, clean=clean, runtime=runtime)
    tick(3, 3)
    return got


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
) -> ServeResult:
    """``topo serve``: Poisson arrivals at `rate` [1/s] through a serving policy.

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    rate
        Request arrivals per second [1/s].
    policy
        ``"train"`` (train schedule) or ``"continuous"`` (continuous batching).
    requests
        Requests simulated [requests].
    seed
        Random seed of the arrivals.
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; those left out are
        completed as the CLI completes them.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    catalogue
        Extra catalogue files [paths] whose accelerators and links the layout may name.
    **workload
        Workload keywords (the module's list): `input`, `output`, `context` [tokens],
        `weights`, `kv`, `compute` (dtypes), `gpu_hour_usd` [USD per GPU-hour], ...

    Returns
    -------
    ServeResult
        Time to first token and time per output token percentiles [s], throughput.
    """
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    return serve_scenario(s, degrees, rate=rate, policy=policy, requests=requests, seed=seed)


@dataclass(frozen=True, slots=True)
class ServeResult:
    """``topo serve``'s result: the serving plan, what the run measured and the seed's rule.

    Attributes
    ----------
    model, layout
        Names.
    plan
        The serving plan.
    stats
        The run's latencies [s], throughput [tokens/s per GPU] and seat use.
    hbm_drain_s
        Time to read all of one GPU's HBM once [s] (the seed's ~20 ms).
    interval_set_by
        What sets the departure interval: the HBM drain, compute, collectives or floors.
    interval_over_drain
        The departure interval over the drain time.
    setup
        The serving set-up the run used (seats, step times [s]); not in the JSON.
    """

    model: str
    layout: str
    plan: Plan
    stats: ServeStats
    hbm_drain_s: float
    interval_set_by: str
    interval_over_drain: float
    setup: ServeSetup = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo serve --json`` prints."""
        return {
            "model": self.model,
            "layout": self.layout,
            "plan": plan_dict(self.plan),
            **self.stats.to_dict(),
            # The seed's rule: departures every ~20 ms, the time to read all of HBM once.
            "hbm_drain_s": self.hbm_drain_s,
            "interval_set_by": self.interval_set_by,
            "interval_over_drain": self.interval_over_drain,
        }


_INTERVAL_SET_BY = {
    "memory": "HBM drain: the batch that fills HBM reads it once a step",
    "compute": "compute: the batch that fills HBM is compute-bound",
    "communication": "communication: collectives take most of the step",
    "overhead": "kernel floors and launches",
}


def serve_scenario(
    s: Scenario,
    degrees: Degrees,
    *,
    rate: float,
    policy: str,
    requests: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> ServeResult:
    """:func:`serve` on a built scenario (the result keeps the set-up it ran).

    Parameters
    ----------
    s
        The scenario (layout, model, workload).
    degrees
        Plan degrees given in part [GPUs] (:class:`topo.scenario.Degrees`).
    rate
        Request arrivals per second [1/s].
    policy, requests, seed
        As :func:`serve`'s.
    progress
        Called as ``progress(done, total)`` [plans] while the plan is searched for.
    """
    from topo.perf import bound_of, decode, memory
    from topo.serving import ServeSetup, simulate

    plan = serving_plan(
        s.layout, s.fabric, s.model, s.workload, strategy=s.strategy, progress=progress, **degrees
    )
    parts = s.parts(plan)
    seats = memory(s.layout, s.model, plan, 1, s.workload).max_batch
    B = np.arange(1, max(seats, 1) + 1, dtype=float)
    d = decode(s.layout, s.model, plan, B, s.workload, parts.comm)
    setup = ServeSetup(
        seats=seats,
        # With pp stages a micro-batch departs every stage time: time per token / pp.
        interval_s=float(d.tpot[-1]) / plan.pp,
        step_s=tuple(float(x) for x in d.tpot),
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
    return ServeResult(
        model=s.model.name,
        layout=s.layout.name,
        plan=plan,
        stats=result,
        hbm_drain_s=drain,
        interval_set_by=_INTERVAL_SET_BY[bound_of(d, len(B) - 1)],
        interval_over_drain=result.interval_s / drain,
        setup=setup,
    )


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
) -> Price:
    """``topo price``: cost per million tokens [USD] against batch and context.

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    contexts
        Context lengths to price [tokens].
    batches
        Batches to price [sequences] (the largest that fits is added).
    compare_models
        Other models priced on the same layout (names, paths or objects).
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; those left out are
        completed as the CLI completes them.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    catalogue
        Extra catalogue files [paths] whose accelerators and links the layout may name.
    **workload
        Workload keywords (the module's list): `input`, `output`, `context` [tokens],
        `weights`, `kv`, `compute` (dtypes), `gpu_hour_usd` [USD per GPU-hour], ...
    """
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    models = [s.model, *(resolve_model(m) for m in compare_models)]
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    first, *others = price_models(s, models, degrees, contexts=contexts, batches=batches)
    return dataclasses.replace(first, compare=tuple(others))


def price_models(
    s: Scenario,
    models: Sequence[Model],
    degrees: Degrees,
    *,
    contexts: Sequence[float],
    batches: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
) -> list[Price]:
    """:func:`topo.economics.price` for each model, on a plan that holds the longest context.

    One result per model, costs [USD].

    Parameters
    ----------
    s
        The scenario (layout, workload, placement strategy).
    models
        The models to price on the scenario's layout.
    degrees
        Plan degrees given in part [GPUs] (:class:`topo.scenario.Degrees`).
    contexts
        Context lengths to price [tokens].
    batches
        Batches to price [sequences].
    progress
        Called as ``progress(done, total)`` [plans] as a model's plan is searched for.
    """
    from topo.economics import price as price_model
    from topo.perf import Workload, comm_model
    from topo.place import place as place_plan

    fields = {k: getattr(s.workload, k) for k in Workload.__dataclass_fields__}
    longest = Workload(**{**fields, "input_tokens": int(max(contexts)), "output_tokens": 1})
    results = []
    for m in models:
        plan = serving_plan(
            s.layout, s.fabric, m, longest, strategy=s.strategy, progress=progress, **degrees
        )
        comm = comm_model(s.fabric, place_plan(s.fabric, plan, strategy=s.strategy))
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
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> Comparison:
    """``topo compare``: designs side by side, the best feasible one by TCO cost per token.

    Parameters
    ----------
    layouts
        The designs: bundled names, layout YAML paths or :class:`topo.Layout` objects.
    model
        A catalogue model's name, a model YAML path, or a model.
    slo_tpot_ms
        Most time per output token [ms]; None: no target.
    slo_ttft_ms
        Most time to first token [ms]; None: no target.
    max_replica_gpus
        Largest model replica the plan search tries [GPUs]; 0: no limit.
    costs
        TCO inputs overridden, in the units of ``topo/data/costs.yaml``, e.g.
        ``{"usd_per_kwh": 0.1}`` [USD/kWh].
    workload
        A built workload (else one is made from `options`).
    progress
        Called as ``progress(done, total)`` after each design.
    **options
        Workload keywords (the module's list): tokens, dtypes, [USD per GPU-hour], ...

    Returns
    -------
    Comparison
        ``designs`` (tokens/s per GPU, cost per million tokens [USD], margins) and ``best``.
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
    return compare_designs(designs, progress)


def show(layout: LayoutLike, *, catalogue: Sequence[str] = ()) -> Summary:
    """``topo show``: GPUs, domains, switches, links, bandwidths and bisection [SI units].

    `layout`: a bundled name, a layout YAML path or a :class:`topo.Layout`; `catalogue`:
    extra catalogue files [paths]. Bandwidths are per GPU per direction [B/s], HBM [B].
    """
    from topo.build import build_graph
    from topo.stats import summarize

    lay = resolve_layout(layout, catalogue)
    return summarize(lay, build_graph(lay))


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
) -> CacheResult:
    """``topo cache``: where to hold a `prefix`-token prompt cache for each duration.

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    prefix
        Cached prompt prefix [tokens].
    durations
        How long the prefix is held, as text: ``"5m"``, ``"1h"``, ``"1d"`` [s, m, h, d].
    tp, ep, pp, dp
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; those left out are
        completed as the CLI completes them.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    catalogue
        Extra catalogue files [paths] whose accelerators and links the layout may name.
    **workload
        Workload keywords (the module's list): `input`, `output`, `context` [tokens],
        `weights`, `kv`, `compute` (dtypes), `gpu_hour_usd` [USD per GPU-hour], ...

    Returns
    -------
    CacheResult
        Each tier's (HBM, DRAM, flash, disk) cost to hold and to reload [USD].
    """
    s = Scenario(layout, model, catalogue=catalogue, strategy=strategy, **workload)
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    return cache_scenario(s, degrees, prefix=prefix, durations=durations)


def cache_scenario(
    s: Scenario,
    degrees: Degrees,
    *,
    prefix: int,
    durations: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> CacheResult:
    """:func:`cache` on a built scenario (durations like ``5m``, ``1h``, ``1d``).

    Parameters
    ----------
    s
        The scenario (layout, model, workload).
    degrees
        Plan degrees given in part [GPUs] (:class:`topo.scenario.Degrees`).
    prefix
        Cached prompt prefix [tokens].
    durations
        How long the prefix is held, as text: ``"5m"``, ``"1h"``, ``"1d"``.
    progress
        Called as ``progress(done, total)`` [plans] as the plan is searched for.
    """
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
    plan = serving_plan(
        s.layout, s.fabric, s.model, held, strategy=s.strategy, progress=progress, **degrees
    )
    comm = comm_model(s.fabric, place_plan(s.fabric, plan, strategy=s.strategy))
    return cache_tiers(
        s.layout,
        s.model,
        plan,
        s.workload,
        prefix_tokens=prefix,
        durations=list(durations),
        comm=comm,
    )


@dataclass(frozen=True, slots=True)
class CatalogueListing:
    """``topo catalogue``: the accelerators and links topo knows (typed catalogue entries).

    Attributes
    ----------
    accelerators
        Every accelerator, by name (peaks [FLOP/s], HBM [B, B/s], links [B/s]).
    links
        Every link, by name (bandwidth [B/s per direction], latency [s]).
    """

    accelerators: tuple[Accelerator, ...]
    links: tuple[Link, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo catalogue --json`` prints."""
        from topo.kernels import gemm_basis

        accs = [
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
            for a in self.accelerators
        ]
        links = [
            {
                "name": k.name,
                "description": k.description,
                "bandwidth_bytes_per_s": k.bandwidth_bytes_per_s,
                "lanes": k.lanes,
                "latency_s": k.latency_s,
                "medium": k.medium,
            }
            for k in self.links
        ]
        return {"accelerators": accs, "links": links}


def catalogue(files: Sequence[str] = ()) -> CatalogueListing:
    """``topo catalogue``: accelerators (peaks [FLOP/s], HBM [B, B/s]) and links [B/s, s].

    `files`: extra catalogue files [paths] whose entries add to or override the bundled.
    """
    from topo.catalogue import load_catalogue

    cat = load_catalogue(tuple(files))
    return CatalogueListing(
        accelerators=tuple(cat.accelerator(n) for n in sorted(cat.accelerators)),
        links=tuple(cat.link(n) for n in sorted(cat.links)),
    )


@dataclass(frozen=True, slots=True)
class LayoutRow:
    """One bundled layout: its name, file and shape, or why it does not load.

    Attributes
    ----------
    name, path
        The layout's name and file.
    gpus
        GPUs in the layout [GPUs] (None when it does not load).
    accelerator
        Its accelerator's name.
    domain_size
        GPUs in one scale-up domain [GPUs].
    racks
        Racks [racks].
    description
        The layout's own description.
    error
        The first line of its load error, if any.
    """

    name: str
    path: str
    gpus: int | None = None
    accelerator: str | None = None
    domain_size: int | None = None
    racks: int | None = None
    description: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row of ``topo layouts --json``."""
        if self.error is not None:
            return {"name": self.name, "path": self.path, "error": self.error}
        return {
            "name": self.name,
            "path": self.path,
            "gpus": self.gpus,
            "accelerator": self.accelerator,
            "domain_size": self.domain_size,
            "racks": self.racks,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class LayoutsListing:
    """``topo layouts``: the bundled layouts, one row each."""

    rows: tuple[LayoutRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"layouts": [...]}``: the rows ``topo layouts --json`` prints."""
        return {"layouts": [r.to_dict() for r in self.rows]}


def layouts() -> LayoutsListing:
    """``topo layouts``: the bundled layouts, one row each."""
    from topo.layout import bundled_layouts, load_layout

    rows: list[LayoutRow] = []
    for name, path in bundled_layouts().items():
        try:
            lay = load_layout(path)
        except TopoError as e:
            rows.append(LayoutRow(name, str(path), error=str(e).splitlines()[0]))
            continue
        rows.append(
            LayoutRow(
                name=name,
                path=str(path),
                gpus=lay.n_gpus,
                accelerator=lay.accelerator.name,
                domain_size=lay.gpus_per_domain,
                racks=lay.cluster.racks,
                description=lay.description,
            )
        )
    return LayoutsListing(tuple(rows))


def lifecycle(
    *,
    params: float,
    tokens: float,
    inference_tokens: float = 0.0,
    rl_flops: float = 0.0,
    active_params: float | None = None,
) -> Lifecycle:
    """``topo lifecycle``: training against inference compute [FLOP], and the optimum.

    Parameters
    ----------
    params
        Model parameters [parameters].
    tokens
        Training tokens [tokens].
    inference_tokens
        Tokens served over the model's life [tokens].
    rl_flops
        Reinforcement-learning or fine-tuning compute [FLOP].
    active_params
        Parameters active per token, for MoE [parameters]; None: all of `params`.
    """
    from topo.economics import lifecycle as run

    return run(
        params=params,
        tokens=tokens,
        inference_tokens=inference_tokens,
        rl_flops=rl_flops,
        active_params=active_params,
    )


def memory(
    layout: LayoutLike,
    model: ModelLike,
    *,
    tokens_per_batch: int,
    seq_len: int,
    dtype: str = "bf16",
    catalogue: Sequence[str] = (),
) -> TrainingMemory:
    """``topo memory --train``: training memory per GPU [B], by part.

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects.
    tokens_per_batch
        Tokens in one global training batch [tokens].
    seq_len
        Training sequence length [tokens].
    dtype
        Dtype of weights and activations, e.g. ``"bf16"``.
    catalogue
        Extra catalogue files [paths].
    """
    from topo.economics import training_memory

    return training_memory(
        resolve_layout(layout, catalogue),
        resolve_model(model),
        tokens_per_batch=tokens_per_batch,
        seq_len=seq_len,
        dtype=dtype,
    )


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

    Parameters
    ----------
    layout, model
        As :func:`evaluate`'s: names, YAML paths or objects (`model` optional).
    hidden
        Hidden size [elements per token].
    topk
        Experts each token is sent to [experts].
    expert_ffn
        Expert FFN width [elements].
    weight_bytes
        Bytes per expert parameter [B].
    tokens_per_gpu
        Tokens each GPU dispatches [tokens].
    ep
        Expert-parallel group [GPUs].
    dispatch_bytes, combine_bytes
        Bytes per element sent out and back [B].
    strategy
        ``"packed"`` or ``"naive"`` placement of the group.
    clean
        Bare link rate instead of measured latency and bandwidth share.
    catalogue
        Extra catalogue files [paths].
    """
    from topo.moe import moe_all_to_all
    from topo.routing import Fabric

    G = Fabric.from_layout(resolve_layout(layout, catalogue))  # no graph (see place)
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


def study_results(path: str | Path) -> dict[str, Any]:
    """A study's ``results.json`` (the folder or the file), checked to be one.

    `path`: the study's output folder or its ``results.json``; numbers in SI units.
    """
    import json

    p = Path(path)
    f = p / "results.json" if p.is_dir() else p
    try:
        data: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        msg = f"{f}: not a study's results.json ({e})"
        raise TopoError(msg) from None
    if not isinstance(data, dict) or "designs" not in data or "pareto" not in data:
        msg = f"{f}: not a study's results.json (no designs or pareto)"
        raise TopoError(msg)
    return data


def _study_knobs(results: Path) -> list[str] | None:
    """The variations the study beside `results` (its ``study.json``) names; None if none."""
    import json

    from topo.study import study_knobs

    try:
        meta = json.loads((results.parent / "study.json").read_text(encoding="utf-8"))
        return study_knobs(meta["study"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None  # a results.json on its own: the rows tell


def figure(
    kind: str,
    layout: LayoutLike,
    model: ModelLike | None = None,
    *,
    batches: Sequence[int] = DEFAULT_BATCHES,
    compare: Sequence[LayoutLike] = (),
    op: str = "all-to-all",
    gpus: int = 8,
    nbytes: float = 1e9,
    x: str | None = None,
    y: str | None = None,
    strategy: str = "packed",
    workload: Workload | None = None,
    tp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    share: bool = False,
    rates: Sequence[float] | None = None,
    policy: str = "train",
    requests: int | None = None,
    vary: Sequence[tuple[str, str, str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> Figure:
    """``topo plot KIND`` or ``topo render``: a matplotlib figure.

    Parameters
    ----------
    kind
        ``"roofline"``, ``"breakdown"``, ``"tradeoff"``, ``"interactivity"``, ``"load"``,
        ``"placement"``, ``"links"``, ``"limits"``, ``"taper"``, ``"tornado"``, ``"study"``
        (as ``topo plot``), ``"elevation"`` or ``"topology"`` (as ``topo render``).
    layout
        A bundled layout's name, a layout YAML path or a :class:`topo.Layout`; for
        ``"study"``, a study's results folder or its ``results.json``.
    model
        A catalogue model's name, a model YAML path, or a model (the kinds that draw one).
    batches, compare
        Batches to draw [sequences] (roofline, breakdown, tradeoff); more layouts drawn
        beside `layout` (tradeoff, interactivity).
    op, gpus, nbytes
        The collective, its group size [GPUs] and buffer per GPU [B] (links).
    x, y, strategy
        The study objectives on the axes (study; default its first two); ``"packed"`` or
        ``"naive"`` placement.
    workload
        A built workload (else one is made from `options`).
    tp, ep, pp, dp, share
        Tensor-, expert-, pipeline- and data-parallel degrees [GPUs] (None: completed);
        each bar as shares of the step, not milliseconds (breakdown).
    rates, policy, requests
        Request rates [1/s] (None: light load to 1.2x the max throughput), ``"train"`` or
        ``"continuous"`` batching, requests simulated per rate (None: a few times the
        seats) (load).
    vary
        ``(key, low, high)`` per input, values as ``topo limits --vary`` takes them
        (tornado); None: a set chosen from the layout.
    progress
        ``progress(done, total)``: per cent (topology, taper, links); plans ranked or passed.
    **options
        Workload keywords (the module's list): tokens, dtypes, [USD per GPU-hour], ...
    """
    if kind == "study":
        return _study_figure(str(layout), x, y)
    lay, tick = resolve_layout(layout), progress or (lambda done, total: None)
    if kind in LAYOUT_KINDS:
        return _layout_figure(kind, lay, vary=vary, progress=tick)
    if kind == "links":
        return _links_figure(lay, op, gpus, nbytes, strategy, tick)
    if model is None or kind not in MODEL_KINDS:
        msg = f"figure {kind!r}: {', '.join(MODEL_KINDS)} need a model; kinds: {', '.join(KINDS)}"
        raise TopoError(msg)
    w = workload if workload is not None else make_workload(**options)
    degrees = Degrees(tp=tp, ep=ep, pp=pp, dp=dp)
    s = Scenario(lay, model, workload=w, strategy=strategy, progress=progress)
    if kind in ("interactivity", "load", "placement"):
        return _serving_figure(kind, s, compare, degrees, rates, policy, requests)
    return _performance_figure(kind, s, batches, compare, degrees, share=share)


def _study_figure(path: str, x: str | None, y: str | None) -> Figure:
    """A study's Pareto front on objectives `x` and `y` (default: its first two)."""
    from topo.plot import plot_study

    data = study_results(path)
    objs = data["objectives"]
    f = Path(path) / "results.json" if Path(path).is_dir() else Path(path)
    fig: Figure = plot_study(data, x or objs[0], y or objs[1], _study_knobs(f))[0]
    return fig


def _layout_figure(
    kind: str,
    lay: Layout,
    *,
    vary: Sequence[tuple[str, str, str]] | None = None,
    progress: Callable[[int, int], None],
) -> Figure:
    """A figure of the layout alone: elevation, topology, limits, taper or tornado."""
    from topo import plot
    from topo.build import build_graph
    from topo.physical import check_limits
    from topo.stats import summarize

    if kind == "limits":
        fig: Figure = plot.plot_limits(limits(lay).to_dict())[0]
        return fig
    if kind == "taper":
        from topo.plot.taper import taper_figure

        return taper_figure(lay, progress=progress)
    if kind == "tornado":
        from topo.plot.tornado import tornado_figure

        return tornado_figure(lay, vary)
    if kind == "elevation":
        fig = plot.plot_elevation(lay, check_limits(lay).to_dict())[0]
        return fig
    # The parts' shares of the time on a large fat tree: build, summarize, draw.
    G = build_graph(lay, progress=part(progress, 0, 30))
    summary = summarize(lay, G, progress=part(progress, 30, 60)).to_dict()
    fig = plot.plot_topology(G, summary, layout=lay)[0]
    progress(100, 100)
    return fig


def serving_figure(
    result: ServeResult, output_tokens: int, workload: Workload | None = None
) -> Figure:
    """TTFT of a serve result against the other policy run on the same arrivals.

    Parameters
    ----------
    result
        What :func:`serve_scenario` returned (it keeps its set-up).
    output_tokens
        Tokens each request generates [tokens].
    workload
        The workload served, for the scenario subtitle (else the plan alone).
    """
    from topo.plot import plot_serving
    from topo.serving import simulate

    st = result.stats
    other = "continuous" if st.policy == "train" else "train"
    second = simulate(
        result.setup,
        rate_per_s=st.rate_per_s,
        output_tokens=output_tokens,
        requests=st.requests,
        policy=other,
        seed=st.seed,
    )
    first = result.to_dict()
    fig: Figure = plot_serving([first, {**first, **second.to_dict()}], workload)[0]
    return fig


def _links_figure(
    lay: Layout,
    op: str,
    gpus: int,
    nbytes: float,
    strategy: str,
    progress: Callable[[int, int], None],
) -> Figure:
    from topo import plot
    from topo.build import build_graph
    from topo.collectives import link_loads
    from topo.place import place as place_plan

    total = lay.n_gpus
    if not 2 <= gpus <= total:
        msg = f"--gpus must be from 2 to the layout's {total} GPUs, got {gpus}"
        raise TopoError(msg)
    G = build_graph(lay, progress=part(progress, 0, 40))
    group = list(place_plan(G, Plan(dp=gpus), strategy=strategy).ranks)
    loads = link_loads(G, op, group, nbytes).to_dict()
    progress(70, 100)
    fig: Figure = plot.plot_links(G, loads)[0]
    progress(100, 100)
    return fig


def _performance_figure(
    kind: str,
    s: Scenario,
    batches: Sequence[int],
    compare: Sequence[LayoutLike],
    degrees: Degrees,
    *,
    share: bool = False,
) -> Figure:
    """The roofline, the step breakdown or the latency-throughput trade-off.

    All on the plan ``topo evaluate`` completes at the smallest batch drawn.
    """
    from topo import plot

    bs = sorted({int(b) for b in batches})
    chosen = s.plan(bs[0], **degrees)
    w = s.workload
    if kind == "roofline":
        from topo.plot.roofline import roofline_figure

        return roofline_figure(s, chosen, bs)
    if kind == "breakdown":
        from topo.plot.breakdown import breakdown_figure

        return breakdown_figure(s, chosen, bs, share=share)
    sweeps = [s.sweep(bs, plan=chosen).to_dict()]
    for other in compare:
        s2 = Scenario(other, s.model, workload=w, strategy=s.strategy)
        sweeps.append(s2.sweep(bs, **degrees).to_dict())
    fig: Figure = plot.plot_tradeoff(sweeps, w)[0]
    return fig


def _serving_figure(
    kind: str,
    s: Scenario,
    compare: Sequence[LayoutLike],
    degrees: Degrees,
    rates: Sequence[float] | None,
    policy: str,
    requests: int | None,
) -> Figure:
    """Interactivity against throughput, latency against request rate, or rank placement.

    The load and placement figures take the plan ``topo serve`` runs; placement draws as
    many copies of it as the layout holds, unless `dp` is given.
    """
    if kind == "interactivity":
        from topo.plot.interactivity import interactivity_figure

        others = [Scenario(o, s.model, workload=s.workload, strategy=s.strategy) for o in compare]
        return interactivity_figure([s, *others])
    plan = serving_plan(
        s.layout, s.fabric, s.model, s.workload, strategy=s.strategy, progress=s.progress,
        **degrees,
    )  # fmt: skip
    if kind == "placement":
        from topo.plot.placement import placement_figure

        if degrees.get("dp") is None:  # copies of the served plan fill the layout
            copies = max(1, s.layout.n_gpus // plan.world)
            plan = dataclasses.replace(plan, dp=plan.dp * copies)
        return placement_figure(s, plan)
    from topo.plot.load import load_figure

    return load_figure(s, plan, rates, policy=policy, requests=requests)


MODEL_KINDS = ("roofline", "breakdown", "tradeoff", "interactivity", "load", "placement")
"""The kinds of :func:`figure` that draw a model on a layout."""
LAYOUT_KINDS = ("limits", "taper", "tornado", "elevation", "topology")
"""The kinds of :func:`figure` that draw a layout alone."""
KINDS = (*MODEL_KINDS, "links", *LAYOUT_KINDS, "study")
"""The kinds of :func:`figure`."""


# ``topo study``: every design of a study file, resumable in the folder `out` (the CLI's
# own function: `topo study` imports topo.study alone).
study = run_study_file


def validate(
    measurements: str | Path,
    *,
    layout: str = "",
    clean: bool = False,
    calibration: str | None = None,
) -> ValidationReport:
    """``topo validate``: topo's predictions against measured points, with errors."""
    from topo.calibrate import load_measurements
    from topo.calibrate import validate as run
    from topo.scenario import make_fidelity

    points = load_measurements(str(measurements), layout=layout)
    return run(points, make_fidelity(clean=clean, calibration=calibration))


def calibrate(
    measurements: str | Path, *, layout: str = "", accelerator: str | None = None
) -> CalibrationFit:
    """``topo calibrate``: the overheads and efficiencies that fit the measured points.

    The fit only; ``topo calibrate -o`` also writes it as a profile.
    """
    from topo.calibrate import calibrate as fit
    from topo.calibrate import for_accelerator, load_measurements

    points = load_measurements(str(measurements), layout=layout)
    if accelerator:
        points = for_accelerator(points, accelerator)
        if not points:
            msg = f"{measurements}: no measurements on accelerator {accelerator!r}"
            raise TopoError(msg)
    return fit(points)
