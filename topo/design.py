"""Rack designs side by side: total cost of ownership, one design assessed whole, comparisons.

A *design* is a layout (bundled name or file) with optional variations — scale-up domain
size, NIC speed, cable medium, power budget, ... — plus the model and workload it serves
and the service-level objectives it must meet. :func:`assess` gives one flat row per
design: physical checks and the limit that binds, the best plan under the objectives,
tokens/s per GPU and per kW, and cost per million output tokens by GPU-hour price and by
total cost of ownership (:func:`tco`). Designs are plain dicts, so studies can ship them to
other processes or a Dask cluster (:mod:`topo.study`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from topo._yaml import load_data
from topo.errors import TopoError
from topo.fidelity import DEFAULT, Fidelity
from topo.layout import Layout, load_layout
from topo.perf import Workload
from topo.physical import LimitsReport, apply_vary, check_limits, with_trays
from topo.units import UnitError, parse_quantity

if TYPE_CHECKING:
    from topo.models import Model
    from topo.place import Plan
    from topo.plans import PlanRow
    from topo.routing import Fabric

__all__ = [
    "DESIGN_KEYS",
    "TCO",
    "Comparison",
    "DesignRow",
    "apply_design",
    "assess",
    "compare",
    "cost_defaults",
    "cost_inputs",
    "design_workload",
    "tco",
]

# Variations a design may carry beyond those of ``topo limits --vary``.
DESIGN_KEYS = ("domain_gpus", "nic", "racks", "cluster_gpus")


@cache
def cost_defaults() -> dict[str, Any]:
    """The cost inputs of ``topo/data/costs.yaml`` (every one an assumption; see the file)."""
    text = resources.files("topo").joinpath("data/costs.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = load_data(text)
    return data


def _cost(costs: dict[str, Any], key: str) -> float:
    if key not in costs:
        msg = f"cost input {key!r} is missing"
        raise TopoError(msg)
    return float(costs[key])


def _count(key: str, value: Any) -> int:
    """A design's count (GPUs, racks): a whole number >= 1, or a TopoError naming `key`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{key}: expected a whole number >= 1, got {str(value)[:200]!r}"
        raise TopoError(msg)
    return value


def apply_design(layout: Layout, vary: dict[str, Any]) -> Layout:
    """The layout with a design's variations applied (domain size, NIC, racks, limits)."""
    out = layout
    for key in sorted(vary, key=lambda k: (k != "domain_gpus", k)):
        value = vary[key]
        if key == "domain_gpus":
            if out.scale_up.domain != "rack" or out.scale_up.racks_per_domain != 1:
                msg = f"domain_gpus: {layout.name} is not a one-rack switched domain"
                raise TopoError(msg)
            per_tray = next(d.gpus for d in out.rack.devices if d.kind == "compute_tray")
            n = _count(key, value)
            if n < per_tray or n % per_tray:
                msg = f"domain_gpus: {n} is not a multiple of the {per_tray} GPUs of a tray"
                raise TopoError(msg)
            total = out.n_gpus
            out = with_trays(out, n // per_tray)
            if "racks" not in vary and "cluster_gpus" not in vary:
                racks = max(1, total // n)  # keep the cluster's size
                out = dataclasses.replace(
                    out, cluster=dataclasses.replace(out.cluster, racks=racks)
                )
        elif key == "nic":
            try:
                bw = parse_quantity(str(value), "bandwidth")
            except UnitError as e:
                msg = f"nic: {e}"
                raise TopoError(msg) from None
            out = dataclasses.replace(
                out, scale_out=dataclasses.replace(out.scale_out, nic_bandwidth_bytes_per_s=bw)
            )
        elif key == "racks":
            out = dataclasses.replace(
                out, cluster=dataclasses.replace(out.cluster, racks=_count(key, value))
            )
        elif key == "cluster_gpus":
            racks = max(1, math.ceil(_count(key, value) / out.rack.gpus))
            out = dataclasses.replace(out, cluster=dataclasses.replace(out.cluster, racks=racks))
        else:
            out = apply_vary(out, key, str(value))
    return out


@dataclass(frozen=True, slots=True)
class TCO:
    """Cost of owning and running a cluster (:func:`tco`).

    `capex_usd`: capital by part [USD] (accelerators, switch_trays, scale_up_cables,
    scale_out, racks_and_cooling); `capex_total_usd`: their sum [USD]; `per_hour_usd`:
    hardware, facility and energy cost per hour [USD/h]; `usd_per_gpu_hour`: the total per
    GPU-hour [USD]; `it_power_w`: the cluster's IT power [W]; `inputs`: the cost inputs used
    (each in the unit its name ends in).
    """

    capex_usd: Mapping[str, float]
    capex_total_usd: float
    per_hour_usd: Mapping[str, float]
    usd_per_gpu_hour: float
    it_power_w: float
    inputs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "capex_usd": dict(self.capex_usd),
            "capex_total_usd": self.capex_total_usd,
            "per_hour_usd": dict(self.per_hour_usd),
            "usd_per_gpu_hour": self.usd_per_gpu_hour,
            "it_power_w": self.it_power_w,
            "inputs": dict(self.inputs),
        }


def tco(layout: Layout, limits: LimitsReport, costs: dict[str, Any] | None = None) -> TCO:
    """Cost of owning and running the cluster, per GPU-hour, with its parts.

    Capital: accelerators (with their share of servers), switch trays, scale-up cables or
    optics, scale-out NIC ports, the rack and its cooling per kW, amortised over the
    hardware's life; the building's cost per watt over its own life; energy = IT power x
    PUE x price per kWh. All at 100% use: the cost of an hour whether busy or not.
    """
    c = {**cost_defaults()["defaults"], **(costs or {})}
    acc = layout.accelerator.name
    prices = cost_defaults()["accelerator_usd"]
    if acc not in prices and "accelerator_usd" not in c:
        msg = f"no price for accelerator {acc}; give --cost accelerator_usd=..."
        raise TopoError(msg)
    gpus = layout.n_gpus
    racks = layout.cluster.racks
    per_rack_gpus = layout.rack.gpus
    switch_trays = sum(d.count for d in layout.rack.devices if d.kind == "switch_tray")
    links = per_rack_gpus * layout.scale_up.links_per_gpu
    medium = layout.scale_up.medium
    optical = medium == "optical"
    nic_gbps = layout.scale_out.nic_bandwidth_bytes_per_s * 8 / 1e9
    power_w = limits.totals.get("power_w") or 0.0
    accel = float(c.get("accelerator_usd", prices.get(acc, 0.0)))
    capex = {
        "accelerators": gpus * accel * (1 + _cost(c, "server_overhead_fraction")),
        "switch_trays": racks * switch_trays * _cost(c, "switch_tray_usd"),
        "scale_up_cables": racks
        * links
        * (
            2 * _cost(c, "optic_usd_per_100g") * _lane_hundreds(layout)
            if optical
            else _cost(c, "copper_link_usd")
        ),
        "scale_out": gpus
        * (
            _cost(c, "nic_usd_per_100g") * nic_gbps / 100
            + 2 * _cost(c, "optic_usd_per_100g") * nic_gbps / 100
            + _cost(c, "switch_port_usd_per_100g") * nic_gbps / 100 * 2  # leaf + spine
        )
        if layout.scale_out.topology != "none"
        else 0.0,
        "racks_and_cooling": racks
        * (_cost(c, "rack_usd") + _cost(c, "cooling_usd_per_kw") * power_w / 1e3),
    }
    hw_hours = _cost(c, "hardware_life_years") * 8766
    dc_hours = _cost(c, "facility_life_years") * 8766
    it_w = power_w * racks
    per_hour = {
        "hardware": sum(capex.values()) / hw_hours,
        "facility": _cost(c, "facility_usd_per_w") * it_w / dc_hours,
        "energy": it_w / 1e3 * _cost(c, "pue") * _cost(c, "usd_per_kwh"),
    }
    total = sum(per_hour.values())
    return TCO(
        capex_usd=capex,
        capex_total_usd=sum(capex.values()),
        per_hour_usd=per_hour,
        usd_per_gpu_hour=total / gpus if gpus else math.inf,
        it_power_w=it_w,
        inputs=c,
    )


def _lane_hundreds(layout: Layout) -> float:
    """A scale-up link's bandwidth in units of 100 Gb/s (what optics are priced by)."""
    return layout.scale_up.link.bandwidth_bytes_per_s * 8 / 100e9


def _tokens(design: dict[str, Any], key: str, default: int) -> int:
    v = design.get(key, default)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):  # int() of inf or "abc" would raise
        msg = f"{key}: expected a whole number of tokens, got {str(v)[:200]!r}"
        raise TopoError(msg)
    return v


def design_workload(design: dict[str, Any]) -> Workload:
    """The :class:`topo.perf.Workload` a design (or a study's workload entry) names."""
    return Workload(
        input_tokens=_tokens(design, "input", 1024),
        output_tokens=_tokens(design, "output", 256),
        context=design.get("context"),
        weights=design.get("weights", "bf16"),
        kv=design.get("kv", design.get("weights", "bf16")),
        gpu_hour_usd=float(design.get("gpu_hour_usd", 2.0)),
        compute=design.get("compute"),
        overlap=design.get("overlap", "none"),
        fidelity=Fidelity(**design["fidelity"]) if design.get("fidelity") else DEFAULT,
    )


def cost_inputs() -> set[str]:
    """The names a ``--cost`` or a study's ``costs:`` may set."""
    return {*cost_defaults()["defaults"], "accelerator_usd"}


# Inputs that divide (lives, power usage effectiveness) must be above zero; prices may be 0.
_POSITIVE_COSTS = ("hardware_life_years", "facility_life_years", "pue")


def cost_problem(key: str, value: Any) -> str | None:
    """Why a cost input's value cannot be used (None when it can)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {value!r}"
    v = float(value)
    if not math.isfinite(v) or v < 0 or v > 1e12:
        return f"expected a finite number from 0 to 1e12, got {value!r}"
    if key in _POSITIVE_COSTS and v < 1e-3:
        return f"expected a number of at least 0.001 (it divides), got {value!r}"
    if key == "pue" and v < 1:
        return f"expected a power usage effectiveness >= 1, got {value!r}"
    return None


@dataclass(frozen=True, slots=True)
class DesignRow:
    """One design assessed whole (:func:`assess`): a flat row.

    Always: `id`, `layout` and `model` names, `vary` (the design's variations, each in its
    own unit string or count), `feasible` and the `reasons` it is not. Once the layout is
    built (else None): `gpus`, `domain_gpus`, `racks` (counts), `nic_gbps` [Gb/s], `cable`,
    `physical_ok`, `binding_limit` and `binding_margin` (a fraction), `rack_power_w` [W],
    `margins` (each check's margin, a fraction). Once costed: `hbm_bandwidth_bytes_per_s`
    (over all GPUs) [B/s], `tco_usd_per_gpu_hour` [USD], `capex_usd` [USD]. Once a plan is
    chosen: `plan` (tp, ep, pp, dp), `batch`, `bound`, `latency_floor_s` [s],
    `time_per_output_token_s` [s], `time_to_first_token_s` [s], `gpus_busy`,
    `tokens_per_s_per_gpu` [tokens/s] and `tokens_per_s_per_kw` [tokens/s per kW] over
    all the layout's GPUs, `usd_per_million_gpu_hour` and `usd_per_million_tco` [USD per
    million output tokens]. `workload`: the study's workload entry, where a study has
    several (else None: the rows of one workload need not name it).
    """

    id: str
    layout: str
    model: str
    vary: Mapping[str, Any]
    feasible: bool
    reasons: tuple[str, ...]
    gpus: int | None = None
    domain_gpus: int | None = None
    racks: int | None = None
    nic_gbps: float | None = None
    cable: str | None = None
    physical_ok: bool | None = None
    binding_limit: str | None = None
    binding_margin: float | None = None
    rack_power_w: float | None = None
    margins: Mapping[str, float] | None = None
    hbm_bandwidth_bytes_per_s: float | None = None
    tco_usd_per_gpu_hour: float | None = None
    capex_usd: float | None = None
    plan: Plan | None = None
    batch: int | None = None
    bound: str | None = None
    latency_floor_s: float | None = None
    time_per_output_token_s: float | None = None
    time_to_first_token_s: float | None = None
    gpus_busy: int | None = None
    tokens_per_s_per_gpu: float | None = None
    tokens_per_s_per_kw: float | None = None
    usd_per_million_gpu_hour: float | None = None
    usd_per_million_tco: float | None = None
    workload: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON: only the keys the assessment reached (as before)."""
        d: dict[str, Any] = {"id": self.id, "layout": self.layout, **self.vary}
        d["model"] = self.model
        if self.workload is not None:
            d["workload"] = dict(self.workload)
        if self.gpus is not None:
            d.update(
                gpus=self.gpus,
                domain_gpus=self.domain_gpus,
                racks=self.racks,
                nic_gbps=self.nic_gbps,
                cable=self.cable,
                physical_ok=self.physical_ok,
                binding_limit=self.binding_limit,
                binding_margin=self.binding_margin,
                rack_power_w=self.rack_power_w,
                margins=dict(self.margins or {}),
            )
        if self.capex_usd is not None:
            d["hbm_bandwidth_bytes_per_s"] = self.hbm_bandwidth_bytes_per_s
            d["tco_usd_per_gpu_hour"] = self.tco_usd_per_gpu_hour
            d["capex_usd"] = self.capex_usd
        if self.plan is not None:
            p = self.plan
            d.update(
                plan={"tp": p.tp, "ep": p.ep, "pp": p.pp, "dp": p.dp},
                batch=self.batch,
                bound=self.bound,
                latency_floor_s=self.latency_floor_s,
                time_per_output_token_s=self.time_per_output_token_s,
                time_to_first_token_s=self.time_to_first_token_s,
                gpus_busy=self.gpus_busy,
                tokens_per_s_per_gpu=self.tokens_per_s_per_gpu,
                tokens_per_s_per_kw=self.tokens_per_s_per_kw,
                usd_per_million_gpu_hour=self.usd_per_million_gpu_hour,
                usd_per_million_tco=self.usd_per_million_tco,
            )
        d["feasible"] = self.feasible
        d["reasons"] = list(self.reasons)
        return d


def assess(design: dict[str, Any]) -> DesignRow:
    """One design, assessed whole: a flat row (see the module notes)."""
    from topo.models import Model, load_model
    from topo.perf import memory
    from topo.plans import candidate_plans, search_bounded
    from topo.routing import Fabric

    given = design["layout"]
    base = given if isinstance(given, Layout) else load_layout(given)
    vary = dict(design.get("vary") or {})
    names = {
        "id": design.get("id", ""),
        "layout": base.name,
        "model": getattr(design["model"], "name", design["model"]),
        "vary": vary,
    }
    if design.get("workload") is not None:  # a study of several workloads names each
        names["workload"] = dict(design["workload"])
    reasons: list[str] = []
    try:
        layout = apply_design(base, vary)
    except TopoError as e:
        return DesignRow(**names, feasible=False, reasons=(str(e),))
    limits = check_limits(layout)
    row: dict[str, Any] = {**names, **_physical_facts(layout, limits)}
    if not limits.ok and design.get("physical", True):
        reasons += [
            f"{c.name}: over by {-(c.margin or 0.0):.1%}" for c in limits.checks if c.ok is False
        ]
    model = design["model"] if isinstance(design["model"], Model) else load_model(design["model"])
    w = design_workload(design)
    hbm = layout.accelerator.hbm_bandwidth_bytes_per_s or 0.0
    row["hbm_bandwidth_bytes_per_s"] = layout.n_gpus * hbm
    cost = tco(layout, limits, design.get("costs"))
    row["tco_usd_per_gpu_hour"] = cost.usd_per_gpu_hour
    row["capex_usd"] = cost.capex_total_usd
    slo_tpot = design.get("slo_tpot_s")
    slo_ttft = design.get("slo_ttft_s")
    cap = int(design.get("max_replica_gpus", 0)) or None
    plans = candidate_plans(
        layout, model, max_gpus=min(cap or layout.n_gpus, layout.n_gpus), replicas=False
    )
    fabric = Fabric.from_layout(layout)  # the graph itself only if something needs it
    prefill_s = _prefill_timer(layout, fabric, model, w)
    n = layout.n_gpus

    busy = _busy(n, layout.gpus_per_domain)

    try:
        # Only the plans that can still beat the best found are placed and run (a plan's
        # bare step bounds it); every row that could be chosen is among those returned.
        rows = search_bounded(
            layout, None, model, w, plans, max_latency_s=slo_tpot, weight=busy,
            feasible=None if slo_ttft is None else lambda r: prefill_s(r.plan) <= slo_ttft,
            fabric=fabric,
        )  # fmt: skip
    except TopoError as e:  # e.g. no peak for the compute dtype: the design cannot run it
        return DesignRow(**row, feasible=False, reasons=(*reasons, str(e)))
    best, ttft = _fastest(rows, busy, prefill_s, slo_tpot=slo_tpot, slo_ttft=slo_ttft)
    if not rows and not any(memory(layout, model, p, 1, w).fits for p in plans):
        reasons.append("no plan fits in memory")
    elif best is None:
        reasons.append("no plan meets the service-level objectives")
    if best is not None:
        if ttft is None:
            ttft = prefill_s(best.plan)
        row.update(
            _plan_facts(
                best,
                ttft,
                n=n,
                busy_share=busy(best),
                gpu_w=(row["rack_power_w"] or 0.0) / layout.rack.gpus,
                gpu_hour_usd=w.gpu_hour_usd,
                tco_usd_per_gpu_hour=cost.usd_per_gpu_hour,
            )
        )
    return DesignRow(**row, feasible=not reasons, reasons=tuple(reasons))


def _busy(n: int, domain: int) -> Callable[[PlanRow], float]:
    """Share of `n` GPUs that copies of a row's plan keep busy (the rest idle).

    Copies sit inside domains or on whole domains, as the plan was timed (its first
    copy's collectives): 64-GPU copies on 72-GPU racks run one a rack, not 18 on 1,152
    GPUs, some of them across two racks.
    """

    def busy(r: PlanRow) -> float:
        return _copies(r.gpus, n, domain) * r.gpus / n

    return busy


def _copies(gpus: int, n: int, domain: int) -> int:
    """Copies of a `gpus`-GPU plan on `n` GPUs of `domain`-GPU domains, none across two.

    Up to a domain: as many a domain as fit (and in the GPUs past the last whole one);
    larger: each on as many whole domains as it needs.
    """
    if gpus <= domain:
        return (n // domain) * (domain // gpus) + (n % domain) // gpus
    return n // (-(-gpus // domain) * domain)


def _physical_facts(layout: Layout, limits: LimitsReport) -> dict[str, Any]:
    """A design's size, NIC, cable and physical checks: the binding limit and each margin."""
    binding = limits.binding
    return {
        "gpus": layout.n_gpus,
        "domain_gpus": layout.gpus_per_domain,
        "racks": layout.cluster.racks,
        "nic_gbps": round(layout.scale_out.nic_bandwidth_bytes_per_s * 8 / 1e9, 6),
        "cable": layout.scale_up.medium,
        "physical_ok": limits.ok,
        "binding_limit": binding.name if binding else None,
        "binding_margin": binding.margin if binding else None,
        "rack_power_w": limits.totals.get("power_w"),
        "margins": {c.name: c.margin for c in limits.checks if c.margin is not None},
    }


def _prefill_timer(
    layout: Layout, fabric: Fabric, model: Model, w: Workload
) -> Callable[[Plan], float]:
    """A plan's prefill time on the layout [s], each plan placed and run once."""
    from topo.perf import plan_comm, prefill

    prefills: dict[Plan, float] = {}

    def prefill_s(plan: Plan) -> float:
        if plan not in prefills:
            comm = plan_comm(fabric, plan)
            prefills[plan] = prefill(layout, model, plan, w, comm).time_s
        return prefills[plan]

    return prefill_s


def _fastest(
    rows: list[PlanRow],
    busy: Callable[[PlanRow], float],
    prefill_s: Callable[[Plan], float],
    *,
    slo_tpot: float | None,
    slo_ttft: float | None,
) -> tuple[PlanRow | None, float | None]:
    """The row with the most tokens/s over all GPUs within the SLOs, and its TTFT if timed."""
    from topo.plans import rank

    ok_rows = [r for r in rows if slo_tpot is None or r.time_per_output_token_s <= slo_tpot]
    # Ranked by tokens/s over all the layout's GPUs: a 64-GPU plan on a 72-GPU rack
    # leaves 8 GPUs idle, and they cost as much as the busy ones.
    for r in sorted(rank(ok_rows, "throughput"), key=lambda r: -r.tokens_per_s_per_gpu * busy(r)):
        if slo_ttft is None:
            return r, None
        if prefill_s(r.plan) <= slo_ttft:
            return r, prefill_s(r.plan)
    return None, None


def _plan_facts(
    best: PlanRow,
    ttft: float,
    *,
    n: int,
    busy_share: float,
    gpu_w: float,
    gpu_hour_usd: float,
    tco_usd_per_gpu_hour: float,
) -> dict[str, Any]:
    """The chosen plan's row: its times, tokens/s over all `n` GPUs, per kW, and cost."""
    tps = best.tokens_per_s_per_gpu * busy_share
    return {
        "plan": best.plan,
        "batch": best.batch,
        "bound": best.bound,
        "latency_floor_s": best.latency_floor_s,
        "time_per_output_token_s": best.time_per_output_token_s,
        "time_to_first_token_s": ttft,
        "gpus_busy": round(busy_share * n),
        "tokens_per_s_per_gpu": tps,
        "tokens_per_s_per_kw": tps / gpu_w * 1e3 if gpu_w else None,
        "usd_per_million_gpu_hour": gpu_hour_usd / 3600 / tps * 1e6,
        "usd_per_million_tco": tco_usd_per_gpu_hour / 3600 / tps * 1e6,
    }


@dataclass(frozen=True, slots=True)
class Comparison:
    """Designs assessed the same way (:func:`compare`).

    `designs`: one :class:`DesignRow` each, in the order given; `best`: the layout name of
    the feasible design with the lowest TCO cost per million output tokens [USD], or None.
    """

    designs: tuple[DesignRow, ...]
    best: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo compare --json`` prints."""
        return {"designs": [r.to_dict() for r in self.designs], "best": self.best}


def compare(
    designs: list[dict[str, Any]], progress: Callable[[int, int], None] | None = None
) -> Comparison:
    """Several designs assessed the same way; the best feasible one by TCO cost per token.

    `progress(done, total)` is called after each design.
    """
    out = []
    for i, d in enumerate(designs, 1):
        out.append(assess(d))
        if progress is not None:
            progress(i, len(designs))
    rows = tuple(out)
    feasible = [r for r in rows if r.feasible]
    best = min(feasible, key=lambda r: r.usd_per_million_tco or 0.0) if feasible else None
    return Comparison(designs=rows, best=best.layout if best else None)
