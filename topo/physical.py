"""Physical limits of a rack: power, cooling, mass and floor, cables, bend, reach, space.

:func:`check_limits` turns a layout's own numbers into checks, each with its value,
limit, unit (SI), margin and a note saying which default or assumption it used; a
check whose data is missing says "not checked: no data for X" instead of passing.
It works out the rack's facts once (:func:`rack_facts`) and runs the table
:data:`CHECKS`, one small ``check_*(layout, facts) -> Check`` function per limit, in
report order.
:func:`largest_domain` grows the scale-up domain of the rack's technology tray by
tray and finds the largest size each limit allows, alone and together.

Models and worked NVL72 numbers: ``reference/physical_limits.md`` (sections 1-6).

- Power: devices at their power (a compute tray without one: its GPUs at the
  accelerator's power plus assumed CPUs and NICs), optics or retimers on the scale-up
  links, divided by the power shelves' conversion efficiency; against the rack budget,
  the installed shelves over their redundancy (2 = N+N), and ``P / V`` on the busbar.
- Cooling: heat = input power; each device's liquid share; conversion losses to air;
  coolant flow = Q_liquid / (c_p rho dT) with PG25 (3.92 kJ/kg K, 1021.5 kg/m^3).
- Mass: devices + frame + scale-up cables + coolant against the frame's rating; over
  the footprint plus the rack's share of the aisle against the floor rating.
- Cables: pairs = GPUs x links x lanes x 2 directions (NVL72: 5,184; a fibre per lane
  and direction in optics); the bundle ``pairs x (pi/4 OD^2 / pairs per cable) / packing``
  against the spine's area; GPU links against switch ports; ``bend_factor x OD +
  connector`` against the rear clearance; the longest run (vertical + across racks +
  slack) against the medium's reach at the lane rate (passive copper ~ 200 m Gb/s / lane
  rate: 2 m at 100G, 1 m at 200G; optics 50 m multimode to 100G lanes, 500 m above).
  Each medium has its own cable (``topo/data/cables.yaml``: copper 6.7 mm, 16 pairs,
  150 g/m; optical 3 mm, 16 fibres, 7.5 g/m; both 10 x OD bend + 25 mm connector) and
  port power; the layout's ``scale_up.cable`` overrides it figure by figure.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from topo.build import RACK_UNIT_M
from topo.catalogue import cable_media
from topo.errors import TopoError
from topo.layout import Cable, Device, Layout
from topo.units import UnitError, parse_quantity

__all__ = [
    "CHECKS",
    "CableGeometry",
    "Check",
    "LimitCheck",
    "LimitsReport",
    "RackFacts",
    "DomainLimits",
    "apply_vary",
    "cable_geometry",
    "check_air_heat",
    "check_backplane_pairs",
    "check_bend_radius",
    "check_busbar_current",
    "check_coolant_flow",
    "check_floor_load",
    "check_frame_mass",
    "check_limits",
    "check_liquid_heat",
    "check_power_budget",
    "check_power_shelves",
    "check_rack_space",
    "check_reach",
    "check_switch_ports",
    "largest_domain",
    "rack_facts",
    "reach_m",
    "with_power_shelves",
    "with_trays",
]

CP_PG25 = 3920.0  # J/(kg K), PG25 at 25 C (cooling.pg25_properties)
RHO_PG25 = 1021.5  # kg/m^3
CPU_W = 300.0  # assumed host CPU power when a compute tray gives none
NIC_W = 25.0  # assumed NIC power


def reach_m(medium: str, lane_rate_bits_per_s: float | None) -> float | None:
    """How far a medium carries one lane [m] (None: not a cable, or the rate is unknown).

    From ``topo/data/cables.yaml``: passive copper halves with each doubling of the lane
    rate, 25G ~7 m, 100G ~2 m, 200G ~1 m (about 200 m Gb/s / rate above 100G); active
    copper ~7 m; optics 50 m multimode up to 100G lanes, 500 m single-mode (DR) above.

    Examples
    --------
    >>> reach_m("copper", 200e9), reach_m("copper", 100e9), reach_m("optical", 200e9)
    (1.0, 2.0, 500.0)
    >>> reach_m("optical", 100e9), reach_m("active_copper", 200e9), reach_m("pcb", 200e9)
    (50.0, 7.0, None)
    """
    media = cable_media()
    return media[medium].reach_m(lane_rate_bits_per_s) if medium in media else None


@dataclass(frozen=True, slots=True)
class CableGeometry:
    """The scale-up cable a check uses: the layout's figures over its medium's (SI)."""

    medium: str
    diameter_m: float
    pairs: int
    bend_factor: float
    connector_depth_m: float
    mass_kg_per_m: float
    reach_m: float | None
    port_w_per_1600g: float
    given: tuple[str, ...]  # the figures the layout gave itself


def cable_geometry(layout: Layout) -> CableGeometry | None:
    """The scale-up cable of the layout's medium (None for board traces).

    Each figure the layout's ``scale_up.cable`` leaves out comes from the medium's entry
    in ``topo/data/cables.yaml``, so an optical domain is checked with fibre's 3 mm
    diameter, bend and mass, not copper's.
    """
    su = layout.scale_up
    media = cable_media()
    if su.medium not in media:
        return None
    m = media[su.medium]
    c = su.cable
    mine = {
        "diameter": c.diameter_m,
        "pairs": c.pairs,
        "bend_factor": c.bend_factor,
        "connector_depth": c.connector_depth_m,
        "mass": c.mass_kg_per_m,
        "reach": c.reach_m,
    }
    return CableGeometry(
        medium=su.medium,
        diameter_m=m.diameter_m if c.diameter_m is None else c.diameter_m,
        pairs=m.pairs if c.pairs is None else c.pairs,
        bend_factor=m.bend_factor if c.bend_factor is None else c.bend_factor,
        connector_depth_m=m.connector_depth_m
        if c.connector_depth_m is None
        else c.connector_depth_m,
        mass_kg_per_m=m.mass_kg_per_m if c.mass_kg_per_m is None else c.mass_kg_per_m,
        reach_m=c.reach_m if c.reach_m is not None else m.reach_m(su.link.lane_rate_bits_per_s),
        port_w_per_1600g=m.port_w_per_1600g,
        given=tuple(k for k, v in mine.items() if v is not None),
    )


@dataclass(frozen=True, slots=True)
class Check:
    """One limit: value against limit (value must not exceed it), in SI units."""

    name: str
    scope: str
    value: float | None
    limit: float | None
    unit: str
    kind: str  # quantity kind for display, or "count"
    note: str

    @property
    def checked(self) -> bool:
        """Whether both sides are known."""
        return self.value is not None and self.limit is not None

    @property
    def ok(self) -> bool | None:
        """Pass (True), fail (False), or not checked (None)."""
        if not self.checked:
            return None
        return bool(self.value <= self.limit * (1 + 1e-12))  # type: ignore[operator]

    @property
    def margin(self) -> float | None:
        """Share of the limit left: (limit - value) / limit."""
        if not self.checked or not self.limit:
            return None
        return (self.limit - self.value) / self.limit  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "name": self.name,
            "scope": self.scope,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "margin": self.margin,
            "ok": self.ok,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class LimitsReport:
    """Every check of a layout and the one that binds first."""

    layout: str
    checks: tuple[Check, ...]
    totals: dict[str, float | None]

    @property
    def ok(self) -> bool:
        """True when no checked limit fails."""
        return all(c.ok is not False for c in self.checks)

    @property
    def binding(self) -> Check | None:
        """The failing check with the worst margin, else the tightest passing one."""
        checked = [c for c in self.checks if c.margin is not None]
        return min(checked, key=lambda c: c.margin or 0.0) if checked else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        b = self.binding
        return {
            "layout": self.layout,
            "ok": self.ok,
            "binding": b.name if b else None,
            "binding_margin": b.margin if b else None,
            "checks": [c.to_dict() for c in self.checks],
            "totals": self.totals,
        }


def _tray_power(d: Device, layout: Layout) -> tuple[float | None, str]:
    if d.power_w is not None:
        return d.power_w, ""
    acc = layout.accelerator
    if d.kind == "compute_tray" and acc.power_w is not None:
        p = d.gpus * acc.power_w + d.cpus * CPU_W + d.nics * NIC_W
        return p, f"{d.name}: {d.gpus} x {acc.power_w:g} W GPUs + assumed CPUs and NICs"
    if d.kind in ("blank",):
        return 0.0, ""
    return None, d.name


def _scale_up_bits_per_gpu(layout: Layout) -> float:
    su = layout.scale_up
    return su.links_per_gpu * su.link.bandwidth_bytes_per_s * 8


def _cable_runs(layout: Layout) -> tuple[float, float]:
    """Longest scale-up run [m] and the pair-metres of the rack's scale-up cables."""
    su = layout.scale_up
    computes: list[tuple[float, int]] = []  # (lowest U, GPUs)
    switches: list[tuple[float, int]] = []  # (lowest U, chips)
    top = float(layout.rack.height_u)
    for d in layout.rack.devices:
        for _ in range(d.count):
            u = top - d.height_u + 1
            if d.kind == "compute_tray":
                computes.append((u, d.gpus))
            elif d.kind == "switch_tray" and d.switch_chips:
                switches.append((u, d.switch_chips))
            top -= d.height_u
    across = (su.racks_per_domain - 1) * layout.rack.width_m if su.domain == "racks" else 0.0
    slack = su.cable_slack_m
    if su.topology == "switched" and switches:
        import numpy as np

        chips = sum(c for _, c in switches)
        at = np.array([u for u, _ in computes])
        sw = np.array([u for u, _ in switches])
        # Every (tray, switch) distance at once: rack units are whole or half numbers and
        # chip counts whole, so these sums are exact in any order (as the pair loop was).
        longest = max(float(at.max() - sw.min()), float(sw.max() - at.min())) if computes else 0.0
        longest_m = longest * RACK_UNIT_M + across + slack
        lanes = (su.link.lanes or 0) * 2
        weighted = np.abs(at[:, None] - sw[None, :]) @ np.array([float(c) for _, c in switches])
        pair_m = 0.0
        for (_, gpus), w in zip(computes, weighted.tolist(), strict=True):
            mean = w / chips * RACK_UNIT_M
            pair_m += gpus * su.links_per_gpu * lanes * (mean + slack + across / 2)
        return longest_m, pair_m
    # Torus or switch chips without trays: neighbours a tray or so apart.
    span = (max(u for u, _ in computes) - min(u for u, _ in computes)) if computes else 0.0
    lanes = (su.link.lanes or 0) * 2
    gpus = sum(g for _, g in computes)
    return span * RACK_UNIT_M + across + slack, gpus * su.links_per_gpu * lanes * (slack + 0.3)


# ---------------------------------------------------------------- facts shared by the checks
@dataclass(frozen=True, slots=True)
class RackFacts:
    """What the limit checks share, worked out once from one rack of a layout (SI).

    A total is None when a device lacks the figure it needs: ``missing_power`` ("power
    of A, B") and ``missing_mass`` name what is missing, and are "" otherwise.
    """

    used_u: float  # units the devices fill
    devices_w: float  # devices and scale-up ports, before conversion [W]
    port_w: float  # optics or retimers at both ends of the scale-up links [W]
    assumed: tuple[str, ...]  # compute trays powered from the accelerator's figure
    missing_power: str
    power_w: float | None  # devices_w / conversion efficiency [W]
    geometry: CableGeometry | None  # None inside a tray or on board traces
    liquid_w: float | None  # heat into the liquid loop [W]
    air_w: float | None  # heat into the air [W]
    flow_m3_per_s: float | None  # coolant flow that carries liquid_w at the loop's dT
    longest_run_m: float  # the longest scale-up cable run [m]
    cable_mass_kg: float  # the rack's scale-up cables [kg]
    missing_mass: str
    mass_kg: float | None  # devices + frame + cables + coolant [kg]


def _devices_power(layout: Layout) -> tuple[float, list[str], list[str]]:
    """Devices' power [W], the devices whose power is unknown, and what was assumed.

    Power shelves and CDUs without a power figure are left out, not unknown.
    """
    it_w = 0.0
    unknown: list[str] = []
    assumed: list[str] = []
    for d in layout.rack.devices:
        p, note = _tray_power(d, layout)
        if p is None:
            if d.kind not in ("power_shelf", "cdu"):
                unknown.append(note)
            continue
        it_w += d.count * p
        if note:
            assumed.append(note)
    return it_w, unknown, assumed


def _port_power_w(layout: Layout, geom: CableGeometry | None) -> float:
    """Power of the scale-up ports at both ends of every GPU's links [W].

    Notes
    -----
    P = 2 x GPUs x scale-up bits/s a GPU / 1.6 Tb/s x the medium's W per 1.6T port.
    """
    if geom is None or not geom.port_w_per_1600g:
        return 0.0
    bits = _scale_up_bits_per_gpu(layout)
    return 2 * layout.rack.gpus * bits / 1.6e12 * geom.port_w_per_1600g


def _liquid_w(layout: Layout, port_w: float) -> float:
    """Each device's liquid share of its power, and half the ports' (cold plate or air) [W]."""
    liquid_w = 0.0
    for d in layout.rack.devices:
        p, _ = _tray_power(d, layout)
        liquid_w += d.count * (p or 0.0) * d.liquid_fraction
    if port_w:
        liquid_w += port_w * 0.5  # optics on cold plates or in air: half assumed
    return liquid_w


def _mass_kg(layout: Layout, cable_kg: float) -> tuple[float | None, str]:
    """Devices + frame + scale-up cables + coolant [kg] (None if one is unknown), what's missing."""
    rack = layout.rack
    no_mass = [d.name for d in rack.devices if d.mass_kg is None]
    if no_mass:
        return None, "mass of " + ", ".join(no_mass)
    if rack.frame_mass_kg is None:
        return None, "rack.frame_mass"
    devices = sum(d.count * d.mass_kg for d in rack.devices if d.mass_kg is not None)
    return devices + rack.frame_mass_kg + cable_kg + (rack.cooling.coolant_mass_kg or 0), ""


def rack_facts(layout: Layout) -> RackFacts:
    """Power, heat, cable runs and mass of one rack of the layout, for every check."""
    rack = layout.rack
    # The scale-up cable: the layout's figures over its medium's (none inside a tray).
    geom = cable_geometry(layout) if layout.scale_up.domain != "tray" else None
    devices_w, unknown, assumed = _devices_power(layout)
    port_w = _port_power_w(layout, geom)
    devices_w += port_w
    power_w = None if unknown else devices_w / rack.conversion_efficiency
    liquid_w = air_w = flow = None
    if power_w is not None:
        liquid_w = _liquid_w(layout, port_w)
        air_w = power_w - liquid_w
        flow = liquid_w / (CP_PG25 * RHO_PG25 * rack.cooling.coolant_delta_t_k)
    longest_m, pair_m = _cable_runs(layout)
    cable_kg = pair_m / geom.pairs * geom.mass_kg_per_m if geom is not None else 0.0
    mass_kg, missing_mass = _mass_kg(layout, cable_kg)
    return RackFacts(
        used_u=sum(d.count * d.height_u for d in rack.devices),
        devices_w=devices_w,
        port_w=port_w,
        assumed=tuple(assumed),
        missing_power="power of " + ", ".join(unknown) if unknown else "",
        power_w=power_w,
        geometry=geom,
        liquid_w=liquid_w,
        air_w=air_w,
        flow_m3_per_s=flow,
        longest_run_m=longest_m,
        cable_mass_kg=cable_kg,
        missing_mass=missing_mass,
        mass_kg=mass_kg,
    )


# ---------------------------------------------------------------- one function per limit
def _check(
    name: str,
    value: float | None,
    limit: float | None,
    unit: str,
    kind: str,
    note: str,
    missing: str = "",
) -> Check:
    """A rack check; with a side unknown, its note says "not checked: no data for X"."""
    if value is None or limit is None:
        what = missing or ("a value" if value is None else "a limit")
        note = f"not checked: no data for {what}" + (f" ({note})" if note else "")
    return Check(name, "rack", value, limit, unit, kind, note)


def _not_applicable(name: str, unit: str, kind: str, why: str) -> Check:
    return Check(name, "rack", None, None, unit, kind, f"not applicable: {why}")


def check_rack_space(layout: Layout, facts: RackFacts) -> Check:
    """Units the devices fill against the rack's usable units."""
    note = "trays' heights against the rack's usable units"
    return _check("rack space", facts.used_u, float(layout.rack.height_u), "U", "count", note)


def check_power_budget(layout: Layout, facts: RackFacts) -> Check:
    """Input power (devices and ports over the conversion efficiency) against the budget."""
    rack = layout.rack
    port = f" incl. {facts.port_w / 1e3:.1f} kW of {layout.scale_up.medium} ports"
    note = (
        f"devices {facts.devices_w / 1e3:.1f} kW"
        + (port if facts.port_w else "")
        + f" / {rack.conversion_efficiency:g} conversion"
    )
    if facts.assumed:
        note += "; assumed: " + "; ".join(facts.assumed)
    missing = facts.missing_power or "rack.power_budget"
    return _check(
        "power vs rack budget", facts.power_w, rack.power_budget_w, "W", "power", note, missing
    )


def check_power_shelves(layout: Layout, facts: RackFacts) -> Check:
    """Input power against the installed shelves' capacity over the redundancy (2 = N+N)."""
    rack = layout.rack
    shelves = [d for d in rack.devices if d.kind == "power_shelf"]
    # None: no shelves described; 0: every shelf taken away (--vary power_shelves=0).
    installed: float | None = sum(d.count * (d.capacity_w or 0) for d in shelves)
    if not shelves or any(d.capacity_w is None for d in shelves):
        installed = None
    note = ""
    if installed is not None:
        n_shelves = sum(d.count for d in shelves)
        note = (
            f"{n_shelves} shelves, installed {installed / 1e3:.0f} kW / redundancy "
            f"{rack.power_redundancy:g}"
        )
    limit = installed / rack.power_redundancy if installed is not None else None
    missing = facts.missing_power or "power shelves with capacity"
    return _check("power vs shelves", facts.power_w, limit, "W", "power", note, missing)


def check_busbar_current(layout: Layout, facts: RackFacts) -> Check:
    """Busbar current P / V against its rating."""
    busbar = layout.rack.busbar
    volts = busbar.voltage_v
    current = facts.power_w / volts if facts.power_w and volts else None
    note = f"P / V at {volts:g} V" if volts else ""
    missing = facts.missing_power or "rack.busbar"
    return _check("power: busbar current", current, busbar.current_a, "A", "current", note, missing)


def _no_liquid(layout: Layout, facts: RackFacts) -> bool:
    """No device is liquid-cooled and the rack gives no liquid capacity."""
    return facts.liquid_w == 0 and layout.rack.cooling.liquid_w is None


def check_liquid_heat(layout: Layout, facts: RackFacts) -> Check:
    """Heat into the liquid loop against its capacity."""
    name = "cooling: liquid heat"
    if _no_liquid(layout, facts):
        return _not_applicable(name, "W", "power", "no device is liquid-cooled")
    note = "each device's liquid share of its power"
    missing = facts.missing_power or "rack.cooling.liquid"
    return _check(name, facts.liquid_w, layout.rack.cooling.liquid_w, "W", "power", note, missing)


def check_coolant_flow(layout: Layout, facts: RackFacts) -> Check:
    """Coolant flow Q / (c_p rho dT) with PG25 against the loop's flow."""
    name = "cooling: coolant flow"
    if _no_liquid(layout, facts):
        return _not_applicable(name, "W", "power", "no device is liquid-cooled")
    cooling = layout.rack.cooling
    dt = cooling.coolant_delta_t_k
    per_kw = 1e3 / (CP_PG25 * RHO_PG25 * dt) * 60e3  # L/min per kW
    note = f"Q / (c_p rho dT), PG25 at dT {dt:g} K: {per_kw:.2f} L/min per kW"
    missing = facts.missing_power or "rack.cooling.liquid_flow"
    limit = cooling.liquid_flow_m3_per_s
    return _check(name, facts.flow_m3_per_s, limit, "m^3/s", "flow", note, missing)


def check_air_heat(layout: Layout, facts: RackFacts) -> Check:
    """Heat into the air (devices' air share and conversion losses) against its capacity."""
    note = "devices' air share plus conversion losses"
    missing = facts.missing_power or "rack.cooling.air"
    limit = layout.rack.cooling.air_w
    return _check("cooling: air heat", facts.air_w, limit, "W", "power", note, missing)


def check_frame_mass(layout: Layout, facts: RackFacts) -> Check:
    """Devices + frame + scale-up cables + coolant against the frame's rating."""
    rack, geom = layout.rack, facts.geometry
    note = f"devices + frame + {facts.cable_mass_kg:.0f} kg of scale-up cable"
    if geom is not None:
        note += f" ({geom.medium}, {geom.mass_kg_per_m * 1e3:g} g/m)"
    coolant = rack.cooling.coolant_mass_kg
    note += f" + {coolant:g} kg coolant" if coolant else " (coolant not given)"
    missing = facts.missing_mass or "rack.max_mass"
    return _check(
        "mass vs frame rating", facts.mass_kg, rack.max_mass_kg, "kg", "mass", note, missing
    )


def check_floor_load(layout: Layout, facts: RackFacts) -> Check:
    """The rack's mass over its footprint plus its share of the aisle, against the floor."""
    rack, mass = layout.rack, facts.mass_kg
    share = rack.width_m * (rack.depth_m + layout.cluster.aisle_width_m)
    note = f"over the footprint plus the aisle share: {share:.2f} m^2"
    if mass:
        note += f"; on the footprint alone {mass / (rack.width_m * rack.depth_m):,.0f} kg/m^2"
    floor = mass / share if mass is not None else None
    limit = layout.cluster.floor_rating_kg_per_m2
    missing = facts.missing_mass or "cluster.floor_rating"
    return _check("mass: floor load", floor, limit, "kg/m^2", "floor_load", note, missing)


def _why_no_cable(layout: Layout) -> str:
    return "the domain is one board" if layout.scale_up.domain == "tray" else "board traces (pcb)"


def _figures(geom: CableGeometry) -> str:
    """Where a cable check's figures come from: the medium's, and what the layout gave."""
    given = f"; the layout gives {', '.join(geom.given)}" if geom.given else ""
    return f"{geom.medium} figures{given}"


def check_backplane_pairs(layout: Layout, facts: RackFacts) -> Check:
    """Pairs (copper) or fibres (optics), one per lane and direction, against the spine.

    Notes
    -----
    capacity = spine width x depth x packing / (pi/4 OD^2 / pairs per cable).
    """
    name, geom = "cables: backplane pairs", facts.geometry
    if geom is None:
        return _not_applicable(name, "", "count", _why_no_cable(layout))
    rack, su = layout.rack, layout.scale_up
    chan = "fibre" if geom.medium == "optical" else "pair"
    lanes = su.link.lanes
    pairs = int(rack.gpus * su.links_per_gpu * lanes * 2) if lanes else None
    area_pair = math.pi / 4 * geom.diameter_m**2 / geom.pairs
    capacity = rack.backplane_width_m * rack.backplane_depth_m * rack.packing_fraction / area_pair
    note = (
        f"{area_pair * 1e6:.2f} mm^2 a {chan} ({geom.diameter_m * 1e3:g} mm cables of "
        f"{geom.pairs} {chan}s) at {rack.packing_fraction:g} packing in "
        f"{rack.backplane_width_m * 1e3:.0f} x {rack.backplane_depth_m * 1e3:.0f} mm "
        f"({_figures(geom)})"
    )
    return _check(name, pairs, math.floor(capacity), "pairs", "count", note, "link lanes")


def check_bend_radius(layout: Layout, facts: RackFacts) -> Check:
    """``bend_factor x OD + connector`` against the rear clearance."""
    name, geom = "cables: bend radius", facts.geometry
    if geom is None:
        return _not_applicable(name, "", "count", _why_no_cable(layout))
    bend = geom.bend_factor * geom.diameter_m + geom.connector_depth_m
    note = (
        f"{geom.bend_factor:g} x {geom.diameter_m * 1e3:g} mm + "
        f"{geom.connector_depth_m * 1e3:g} mm connector ({_figures(geom)})"
    )
    return _check(name, bend, layout.rack.rear_clearance_m, "m", "length", note)


def check_reach(layout: Layout, facts: RackFacts) -> Check:
    """The longest run (vertical + across racks + slack) against the medium's reach."""
    su, geom = layout.scale_up, facts.geometry
    if geom is None:
        return _not_applicable("cables: copper reach", "", "count", _why_no_cable(layout))
    name = "cables: copper reach" if su.medium == "copper" else f"cables: {su.medium} reach"
    rate = su.link.lane_rate_bits_per_s
    note = (
        f"longest run (vertical + across racks + {su.cable_slack_m:g} m slack) at "
        + (f"{rate / 1e9:g} Gb/s a lane" if rate else "an unknown lane rate")
        + f" ({_figures(geom)})"
    )
    missing = "the link's lane rate (or scale_up.cable.reach)"
    return _check(name, facts.longest_run_m, geom.reach_m, "m", "length", note, missing)


def check_switch_ports(layout: Layout, facts: RackFacts) -> Check:
    """GPU scale-up links against the switch trays' ports (a switched domain of trays)."""
    rack, su = layout.rack, layout.scale_up
    trays = [d for d in rack.devices if d.kind == "switch_tray"]
    if su.topology != "switched" or not trays or su.domain == "tray":
        return _not_applicable("switch ports", "ports", "count", "no switch trays in the rack")
    have = sum(d.count * (d.ports or 0) for d in trays)
    note = "GPU links against the switch trays' ports"
    links = rack.gpus * su.links_per_gpu
    return _check("switch ports", links, have or None, "ports", "count", note, "switch tray ports")


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """One entry of :data:`CHECKS`: the limit family and the function that checks it."""

    family: str  # power, cooling, mass, floor, cables, bend, reach, ports or space
    check: Callable[[Layout, RackFacts], Check]


# In report order: `topo check` prints the checks as they come here.
CHECKS: tuple[LimitCheck, ...] = (
    LimitCheck("space", check_rack_space),
    LimitCheck("power", check_power_budget),
    LimitCheck("power", check_power_shelves),
    LimitCheck("power", check_busbar_current),
    LimitCheck("cooling", check_liquid_heat),
    LimitCheck("cooling", check_coolant_flow),
    LimitCheck("cooling", check_air_heat),
    LimitCheck("mass", check_frame_mass),
    LimitCheck("floor", check_floor_load),
    LimitCheck("cables", check_backplane_pairs),
    LimitCheck("bend", check_bend_radius),
    LimitCheck("reach", check_reach),
    LimitCheck("ports", check_switch_ports),
)


def _totals(layout: Layout, facts: RackFacts) -> dict[str, float | None]:
    """The report's totals: the rack's power, heat and mass, and the cluster's power."""
    power_w = facts.power_w
    return {
        "power_w": power_w,
        "liquid_w": facts.liquid_w,
        "air_w": facts.air_w,
        "coolant_flow_m3_per_s": facts.flow_m3_per_s,
        "mass_kg": facts.mass_kg,
        "cable_mass_kg": facts.cable_mass_kg,
        "cluster_power_w": power_w * layout.cluster.racks if power_w else None,
        "gpu_power_w": (layout.accelerator.power_w or 0) * layout.rack.gpus or None,
    }


def check_limits(layout: Layout) -> LimitsReport:
    """Every physical check of one rack of the layout (all racks are alike).

    The rack's facts (:func:`rack_facts`) are worked out once; each entry of
    :data:`CHECKS` then gives one :class:`Check`, in the order of the table.
    """
    facts = rack_facts(layout)
    checks = tuple(entry.check(layout, facts) for entry in CHECKS)
    return LimitsReport(layout.name, checks, _totals(layout, facts))


# ---------------------------------------------------------------- the largest domain
VARY_KEYS: dict[str, str] = {
    "power_budget": "power",
    "busbar_voltage": "voltage",
    "busbar_current": "current",
    "liquid": "power",
    "liquid_flow": "flow",
    "air": "power",
    "max_mass": "mass",
    "floor_rating": "floor_load",
    "tray_power": "power",
    "height_u": "count",
    "cable": "medium",
    "rear_clearance": "length",
    "power_shelves": "shelves",
}
MAX_SHELVES = 1000  # the most devices one elevation line may hold (schema: count)


def with_power_shelves(layout: Layout, n: int) -> Layout:
    """The rack with `n` power shelves of its own shelf design.

    The shelves keep the layout's split between its power_shelf lines (4 + 4 in an NVL72
    becomes 5 + 5 at 10); a line may drop to none, so that capacity, height and mass
    all follow the count. Raises :class:`TopoError` if the rack has no power shelf.
    """
    rack = layout.rack
    shelves = [d for d in rack.devices if d.kind == "power_shelf"]
    if not shelves:
        msg = (
            f"--vary power_shelves: {layout.name} has no power_shelf in its rack to copy "
            "(add one with its capacity, height_u and mass)"
        )
        raise TopoError(msg)
    total = sum(d.count for d in shelves)
    left = n
    devices = []
    for d in rack.devices:
        if d.kind == "power_shelf":
            share = left if d is shelves[-1] else min(left, round(n * d.count / total))
            left -= share
            d = dataclasses.replace(d, count=share)
        devices.append(d)
    return dataclasses.replace(layout, rack=dataclasses.replace(rack, devices=tuple(devices)))


def _shelves(value: str) -> int:
    """The whole number of shelves ``--vary power_shelves`` asks for (0 to MAX_SHELVES)."""
    if not re.fullmatch(r"[0-9]{1,4}", value.strip()) or int(value) > MAX_SHELVES:
        msg = (
            f"--vary power_shelves: expected a whole number of shelves from 0 to "
            f"{MAX_SHELVES}, got {value[:200]!r}"
        )
        raise TopoError(msg)
    return int(value)


def _with_quantity(layout: Layout, key: str, q: float) -> Layout:
    """The layout with the figure ``--vary`` `key` names set to `q` [SI]."""
    if key == "floor_rating":
        return dataclasses.replace(
            layout, cluster=dataclasses.replace(layout.cluster, floor_rating_kg_per_m2=q)
        )
    rack = layout.rack
    cooling, busbar = rack.cooling, rack.busbar
    table: dict[str, dict[str, Any]] = {
        "power_budget": {"power_budget_w": q},
        "max_mass": {"max_mass_kg": q},
        "rear_clearance": {"rear_clearance_m": q},
        "busbar_voltage": {"busbar": dataclasses.replace(busbar, voltage_v=q)},
        "busbar_current": {"busbar": dataclasses.replace(busbar, current_a=q)},
        "liquid": {"cooling": dataclasses.replace(cooling, liquid_w=q)},
        "liquid_flow": {"cooling": dataclasses.replace(cooling, liquid_flow_m3_per_s=q)},
        "air": {"cooling": dataclasses.replace(cooling, air_w=q)},
        "tray_power": {
            "devices": tuple(
                dataclasses.replace(d, power_w=q) if d.kind == "compute_tray" else d
                for d in rack.devices
            )
        },
    }
    return dataclasses.replace(layout, rack=dataclasses.replace(rack, **table.get(key, {})))


def apply_vary(layout: Layout, key: str, value: str) -> Layout:
    """The layout with one input changed (``power_budget="600 kW"``, ``cable=optical``)."""
    if key not in VARY_KEYS:
        msg = f"--vary: unknown key {key!r}; known: {', '.join(VARY_KEYS)}"
        raise TopoError(msg)
    kind = VARY_KEYS[key]
    if kind == "shelves":
        return with_power_shelves(layout, _shelves(value))
    try:
        if kind == "medium":
            if value not in ("copper", "active_copper", "optical"):
                msg = f"--vary cable: expected copper, active_copper or optical, got {value!r}"
                raise TopoError(msg)
            # The layout's cable figures described its old cable: take the new medium's.
            new_su = dataclasses.replace(layout.scale_up, medium=value, cable=Cable())
            return dataclasses.replace(layout, scale_up=new_su)
        if kind == "count":
            new_rack = dataclasses.replace(layout.rack, height_u=int(value))
            return dataclasses.replace(layout, rack=new_rack)
        q = parse_quantity(value, kind)
    except (UnitError, ValueError) as e:
        msg = f"--vary {key}: {e}"
        raise TopoError(msg) from None
    return _with_quantity(layout, key, q)


def with_trays(layout: Layout, n: int) -> Layout:
    """The rack with `n` compute trays of its design, and the switch trays they need."""
    rack, su = layout.rack, layout.scale_up
    computes = [d for d in rack.devices if d.kind == "compute_tray"]
    total = sum(d.count for d in computes)
    gpus_per_tray = computes[0].gpus
    switch = next((d for d in rack.devices if d.kind == "switch_tray" and d.ports), None)
    need_sw = (
        math.ceil(n * gpus_per_tray * su.links_per_gpu / switch.ports)
        if switch and switch.ports
        else 0
    )
    devices = []
    left = n
    for i, d in enumerate(rack.devices):
        if d.kind == "compute_tray":
            # Keep the design's split of compute trays around the switches.
            share = left if d is computes[-1] else round(n * d.count / total)
            share = min(share, left)
            left -= share
            if share:
                devices.append(dataclasses.replace(d, count=share))
        elif d is switch:
            if need_sw:
                devices.append(dataclasses.replace(d, count=need_sw))
        else:
            devices.append(d)
        del i
    new_rack = dataclasses.replace(rack, devices=tuple(devices))
    sw = need_sw * (switch.switch_chips if switch else 0)
    new_su = dataclasses.replace(su, switches=sw or su.switches)
    return dataclasses.replace(layout, rack=new_rack, scale_up=new_su)


# `topo limits` names the families as it always has: the floor load counts with the frame's
# mass, and the bend family is "bend radius".
_LIMITS_FAMILY = {"floor": "mass", "bend": "bend radius"}


def _families_ok(report: LimitsReport) -> dict[str, bool]:
    """Per limit family, in report order, whether all its checked checks pass."""
    fams: dict[str, bool] = {}
    for entry, c in zip(CHECKS, report.checks, strict=True):
        if c.ok is None:
            continue
        f = _LIMITS_FAMILY.get(entry.family, entry.family)
        fams[f] = fams.get(f, True) and bool(c.ok)
    return fams


@dataclass(frozen=True, slots=True)
class _Growth:
    """What refilling the rack tray by tray found (see :func:`largest_domain`)."""

    by_limit: dict[str, int]  # family -> the largest domain [GPUs] passing it so far
    failed_first: dict[str, int]  # family -> the smallest domain [GPUs] failing it
    together: int  # the most trays with every family passing, counting up from one
    tried: int  # compute trays checked (fewer than asked when the rack overflowed)


def _grow(layout: Layout, per_tray: int, max_trays: int) -> _Growth:
    """Check the rack at 1, 2, ... compute trays until every family has failed once."""
    by_limit: dict[str, int] = {}
    failed_first: dict[str, int] = {}
    together = tried = 0
    for n in range(1, max_trays + 1):
        trial = with_trays(layout, n)
        # Far past the rack's height (a switch tray of a port or two needs thousands of
        # trays) nothing more is learnt and each check costs more: stop there.
        stacked = sum(d.count * d.height_u for d in trial.rack.devices)
        if n > 1 and stacked > 64 * layout.rack.height_u:
            break
        tried = n
        fams = _families_ok(check_limits(trial))
        gpus = n * per_tray
        for f, ok in fams.items():
            if ok and f not in failed_first:
                by_limit[f] = gpus
            elif not ok:
                failed_first.setdefault(f, gpus)
        if all(fams.values()) and together == n - 1:
            together = n
        if len(failed_first) == len(fams) and fams:
            break
    for f in failed_first:
        by_limit.setdefault(f, 0)
    return _Growth(by_limit, failed_first, together, tried)


@dataclass(frozen=True, slots=True)
class DomainLimits:
    """The largest scale-up domain one rack of the layout's design allows, by limit [GPUs].

    `by_limit`: each limit family's largest domain, smallest first; `binding`: the family
    that stops growth first (`binding_all`: all that stop there); `not_binding_up_to`:
    families still passing at the largest domain tried. `varied`: the ``--vary`` inputs.
    """

    layout: str
    max_domain_size: int
    binding: str | None
    binding_all: tuple[str, ...]
    by_limit: Mapping[str, int]
    current_domain_size: int
    note: str
    not_binding_up_to: Mapping[str, int] | None = None  # None: the domain is one tray
    gpus_per_tray: int | None = None
    varied: tuple[str, ...] = ()

    @property
    def over(self) -> bool:
        """Whether the layout's domain is larger than its limits allow."""
        return self.current_domain_size > self.max_domain_size

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo limits --json`` prints."""
        d: dict[str, Any] = {
            "layout": self.layout,
            "max_domain_size": self.max_domain_size,
            "binding": self.binding,
            "binding_all": list(self.binding_all),
            "by_limit": dict(self.by_limit),
        }
        if self.not_binding_up_to is not None:
            d["not_binding_up_to"] = dict(self.not_binding_up_to)
            d["gpus_per_tray"] = self.gpus_per_tray
        d["current_domain_size"] = self.current_domain_size
        d["note"] = self.note
        d["varied"] = list(self.varied)
        return d


def _tray_domain(layout: Layout) -> DomainLimits:
    """The answer of :func:`largest_domain` when the domain is one tray's board."""
    return DomainLimits(
        layout=layout.name,
        max_domain_size=layout.gpus_per_domain,
        binding="tray",
        binding_all=("tray",),
        by_limit={},
        current_domain_size=layout.gpus_per_domain,
        note="the domain is one tray's board: it does not grow with the rack",
    )


def largest_domain(layout: Layout, *, max_trays: int = 256) -> DomainLimits:
    """The largest single-rack scale-up domain of the layout's technology, per limit.

    The rack is refilled with 1, 2, ... compute trays of its design (switch trays added
    as the GPUs' links need ports); for each limit the largest domain with that limit's
    checks passing is kept, and together the largest with all passing.
    """
    computes = [d for d in layout.rack.devices if d.kind == "compute_tray"]
    per_tray = computes[0].gpus
    if layout.scale_up.domain == "tray":
        return _tray_domain(layout)
    g = _grow(layout, per_tray, max_trays)
    by_limit, failed_first = g.by_limit, g.failed_first
    unbounded = [f for f in by_limit if f not in failed_first]
    binding = min(failed_first, key=lambda f: failed_first[f]) if failed_first else None
    first = failed_first[binding] if binding else -1
    return DomainLimits(
        layout=layout.name,
        max_domain_size=g.together * per_tray,
        binding=binding,
        binding_all=tuple(f for f in failed_first if failed_first[f] == first),
        by_limit={f: by_limit[f] for f in sorted(by_limit, key=lambda f: by_limit[f])},
        not_binding_up_to={f: g.tried * per_tray for f in unbounded},
        gpus_per_tray=per_tray,
        current_domain_size=layout.gpus_per_domain,
        note=(
            "a torus grows beyond the rack through optical links between cubes; these are "
            "the rack's own limits"
            if layout.scale_up.topology == "torus"
            else ""
        ),
    )
