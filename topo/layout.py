"""Rack layouts: the dataclasses and :func:`load_layout`, the only reader of layout YAML.

A layout file names an accelerator, describes one rack (its frame, budgets and the
devices of its elevation), the scale-up domain, the scale-out fabric and how many
racks there are. Loading checks every key (unknown keys, units, ranges,
cross-references) and reports all problems together as ``file:line: key: message``.
Values come out in SI units.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from topo._fields import BAD, Ctx, did_you_mean
from topo._yaml import Located, Path_, load_located
from topo.catalogue import (
    Accelerator,
    Catalogue,
    Link,
    load_catalogue,
    make_accelerator,
    make_link,
)
from topo.errors import LayoutError, Problem
from topo.schema import LAYOUT

__all__ = [
    "MAX_GPUS",
    "Busbar",
    "Cable",
    "Cluster",
    "Device",
    "Layout",
    "Rack",
    "RackCooling",
    "ScaleOut",
    "ScaleUp",
    "bundled_layouts",
    "find_layout",
    "load_layout",
]

MAX_GPUS = 262_144  # refused above this before anything is built
MAX_EXTENDS = 8

_DEFAULT_LIQUID = {"compute_tray": 0.85, "switch_tray": 0.8, "cdu": 1.0}


@dataclass(frozen=True, slots=True)
class Device:
    """One line of a rack elevation: `count` identical devices, top to bottom."""

    kind: str
    name: str
    count: int
    height_u: float
    mass_kg: float | None
    power_w: float | None
    gpus: int
    cpus: int
    nics: int
    switch_chips: int
    ports: int | None
    capacity_w: float | None
    cooling: str
    liquid_fraction: float


@dataclass(frozen=True, slots=True)
class Busbar:
    """The rack's DC busbar."""

    voltage_v: float | None
    current_a: float | None


@dataclass(frozen=True, slots=True)
class RackCooling:
    """Cooling capacity of one rack position by kind."""

    liquid_w: float | None
    air_w: float | None
    liquid_flow_m3_per_s: float | None
    coolant_delta_t_k: float
    coolant_mass_kg: float | None = None


@dataclass(frozen=True, slots=True)
class Rack:
    """One rack: frame, budgets, and its devices in elevation order (top first)."""

    height_u: int
    width_m: float
    depth_m: float
    frame_mass_kg: float | None
    max_mass_kg: float | None
    power_budget_w: float | None
    busbar: Busbar
    cooling: RackCooling
    devices: tuple[Device, ...]
    power_redundancy: float = 2.0
    conversion_efficiency: float = 0.95
    rear_clearance_m: float = 0.1
    backplane_width_m: float = 0.45
    backplane_depth_m: float = 0.06
    packing_fraction: float = 0.7

    @property
    def gpus(self) -> int:
        """Accelerators in one rack."""
        return sum(d.count * d.gpus for d in self.devices if d.kind == "compute_tray")

    @property
    def switch_chips(self) -> int:
        """Scale-up switch chips in the rack's switch trays."""
        return sum(d.count * d.switch_chips for d in self.devices if d.kind == "switch_tray")


@dataclass(frozen=True, slots=True)
class Cable:
    """The scale-up cables as the layout gives them; None takes the medium's figure.

    The media's own geometry, mass and reach are in ``topo/data/cables.yaml``
    (:func:`topo.catalogue.cable_media`); ``physical.cable_geometry`` combines the two.
    """

    diameter_m: float | None = None
    pairs: int | None = None
    bend_factor: float | None = None
    connector_depth_m: float | None = None
    mass_kg_per_m: float | None = None
    reach_m: float | None = None


@dataclass(frozen=True, slots=True)
class ScaleUp:
    """The scale-up domain: which GPUs form one, and how they are wired."""

    domain: str  # "tray" | "rack" | "racks"
    racks_per_domain: int
    topology: str  # "switched" | "torus" | "full_mesh"
    dims: tuple[int, ...]
    wraparound: bool
    link: Link
    links_per_gpu: int
    switches: int  # per domain (switched); 0 otherwise
    medium: str
    wrap_medium: str
    cable_slack_m: float
    collective_overhead_s: float = 10e-6
    cable: Cable = field(default_factory=lambda: Cable())

    @property
    def bandwidth_per_gpu_bytes_per_s(self) -> float:
        """Scale-up bandwidth of one GPU, per direction [B/s]."""
        return self.links_per_gpu * self.link.bandwidth_bytes_per_s


@dataclass(frozen=True, slots=True)
class ScaleOut:
    """The scale-out fabric between domains."""

    topology: str  # "rail_fat_tree" | "none"
    nic_bandwidth_bytes_per_s: float
    link: Link
    rails: int
    leaf_radix: int
    spine_radix: int
    oversubscription: float
    latency_s: float
    medium: str
    cable_length_m: float
    collective_overhead_s: float = 20e-6


@dataclass(frozen=True, slots=True)
class Cluster:
    """How many racks of the design and how they stand on the floor."""

    racks: int
    racks_per_row: int
    aisle_width_m: float
    floor_rating_kg_per_m2: float | None


@dataclass(frozen=True, slots=True)
class Layout:
    """A checked layout in SI units."""

    name: str
    description: str
    source: str
    accelerator: Accelerator
    rack: Rack
    scale_up: ScaleUp
    scale_out: ScaleOut
    cluster: Cluster
    notes: str = ""

    @property
    def n_gpus(self) -> int:
        """Accelerators in the whole cluster."""
        return self.cluster.racks * self.rack.gpus

    @property
    def gpus_per_domain(self) -> int:
        """Accelerators in one scale-up domain."""
        if self.scale_up.domain == "tray":
            return next(d.gpus for d in self.rack.devices if d.kind == "compute_tray")
        return self.rack.gpus * self.scale_up.racks_per_domain

    @property
    def n_domains(self) -> int:
        """Scale-up domains in the cluster."""
        return self.n_gpus // self.gpus_per_domain


# ---------------------------------------------------------------- finding files
def _bundled_dir() -> Path | None:
    """The bundled layouts: in the wheel (topo/_layouts) or in a source checkout."""
    pkg = Path(str(resources.files("topo")))
    for cand in (pkg / "_layouts", pkg.parent / "layouts"):
        if cand.is_dir() and any(cand.glob("*.yaml")):
            return cand
    return None


def bundled_layouts() -> dict[str, Path]:
    """Bundled layout names and their files."""
    d = _bundled_dir()
    return {p.stem: p for p in sorted(d.glob("*.yaml"))} if d else {}


def _is_file(p: Path) -> bool:
    """Path.is_file that says False for names the OS refuses (too long, say)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def find_layout(name_or_path: str | Path) -> Path:
    """The file of a layout given by path or by bundled name.

    Raises
    ------
    LayoutError
        If it is neither an existing file nor a bundled name (with did-you-mean).
    """
    p = Path(name_or_path)
    if _is_file(p):
        return p
    bundled = bundled_layouts()
    stem = str(name_or_path).removesuffix(".yaml").removesuffix(".yml")
    if stem in bundled:
        return bundled[stem]
    hint = did_you_mean(stem[:200], list(bundled))
    msg = f"no such file, and no bundled layout of that name{hint} (bundled: {', '.join(bundled)})"
    raise LayoutError(Problem(str(name_or_path), 0, "", msg))


# ---------------------------------------------------------------- extends
def _merge(base: Located, over: Located) -> Located:
    """Overlay `over` on `base`: mappings merge key by key, anything else is replaced."""

    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                out[k] = merge(a[k], v) if k in a else v
            return out
        return b

    marks = dict(base.marks)
    marks.update(over.marks)
    return Located(merge(base.data, over.data), over.file, marks)


def _read_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> Located:
    bundled = _bundled_dir()
    located = load_located(path, ours=bundled is not None and path.parent == bundled)
    data = located.data
    if not isinstance(data, dict):
        raise LayoutError(
            located.problem(
                (),
                "expected a mapping of keys (name, accelerator, "
                f"rack, scale_up, ...), got {type(data).__name__}",
            )
        )
    base_name = data.get("extends")
    if base_name is None:
        return located
    if not isinstance(base_name, str):
        raise LayoutError(located.problem(("extends",), "expected a layout name or path"))
    if len(seen) >= MAX_EXTENDS:
        raise LayoutError(located.problem(("extends",), f"more than {MAX_EXTENDS} levels"))
    candidate = path.parent / base_name
    try:
        base_path = candidate if _is_file(candidate) else find_layout(base_name)
    except LayoutError as e:
        raise LayoutError(located.problem(("extends",), e.problems[0].message)) from None
    if base_path.resolve() in [s.resolve() for s in (*seen, path)]:
        raise LayoutError(located.problem(("extends",), "extends itself (a cycle)"))
    base = _read_with_extends(base_path, (*seen, path))
    merged = _merge(base, located)
    merged.data.pop("extends", None)
    # Only the extending file's name/description apply; the base's are dropped if not given.
    if "name" not in data:
        merged.data["name"] = path.stem
    return merged


# ---------------------------------------------------------------- resolving
def _resolve_entry(
    value: Any,
    path: Path_,
    section: str,
    cat: Catalogue,
    ctx: Ctx,
    via: str = "",
) -> Any:
    """A catalogue name or inline entry -> Accelerator / Link (or BAD).

    A name whose entry in a user's catalogue file failed its checks is reported at the
    layout's `path`, with the catalogue file's own line; `via` says how the layout came
    to name it when it does not do so itself ("accelerator 'x' names 'y': ").
    """
    make = make_accelerator if section == "accelerators" else make_link
    if value is BAD or value is None:
        return BAD
    name = value if isinstance(value, str) else value.get("name")
    if isinstance(name, str) and (bad := cat.invalid(section, name)):
        for p in bad:
            ctx.error(path, f"{via}catalogue entry {name!r} is invalid: {p}")
        return BAD
    if isinstance(value, str):
        key = cat.canonical(section, value)
        if key is None:
            return ctx.error(path, via + cat.unknown(section, value))
        return make(getattr(cat, section)[key])
    if any(v is BAD for v in value.values()):
        return BAD
    base_key = cat.canonical(section, value["name"]) if "name" in value else None
    merged = {**(getattr(cat, section)[base_key] if base_key else {}), **value}
    made = make(merged)
    if isinstance(made, list):
        return ctx.error(path, f"an inline entry not in the catalogue needs {', '.join(made)}")
    return made


def _device(d: dict[str, Any]) -> Device:
    kind = d["kind"]
    cooling = d.get("cooling") or ("liquid" if kind == "cdu" else "air")
    default_liquid = {"liquid": 1.0, "air": 0.0}.get(cooling, _DEFAULT_LIQUID.get(kind, 0.5))
    return Device(
        kind=kind,
        name=d.get("name", kind.replace("_", " ")),
        count=d.get("count", 1),
        height_u=d.get("height_u", 1.0),
        mass_kg=d.get("mass"),
        power_w=d.get("power"),
        gpus=d.get("gpus", 0) if kind == "compute_tray" else 0,
        cpus=d.get("cpus", 0),
        nics=d.get("nics", 0),
        switch_chips=d.get("switch_chips", 0) if kind == "switch_tray" else 0,
        ports=d.get("ports"),
        capacity_w=d.get("capacity"),
        cooling=cooling,
        liquid_fraction=d.get("liquid_fraction", default_liquid),
    )


def _clean(d: Any) -> dict[str, Any]:
    """A checked mapping without its bad values (their problems are recorded)."""
    return {k: v for k, v in d.items() if v is not BAD} if isinstance(d, dict) else {}


def _cross_check(
    lay: dict[str, Any], acc: Accelerator, ctx: Ctx, acc_at: str = ""
) -> dict[str, Any]:
    """Checks between sections; returns derived values for the dataclasses.

    `acc_at` says where a user's catalogue file gives the accelerator (" at parts.yaml:5").
    """
    out: dict[str, Any] = {}
    rack = _clean(lay["rack"])
    devices = [_device(_clean(d)) for d in rack.get("devices", []) if isinstance(d, dict)]
    for i, d in enumerate(devices):
        if d.kind == "compute_tray" and not d.gpus:
            ctx.error(("rack", "devices", i), "a compute_tray needs gpus (how many it holds)")
    computes = [d for d in devices if d.kind == "compute_tray"]
    if not computes:
        ctx.error(("rack", "devices"), "expected at least one compute_tray with gpus")
        return out
    gpus_per_rack = sum(d.count * d.gpus for d in computes)
    racks = _clean(lay.get("cluster", {})).get("racks", 1)
    if gpus_per_rack * racks > MAX_GPUS:
        ctx.error(
            ("cluster", "racks"),
            f"{racks} racks x {gpus_per_rack} GPUs = "
            f"{gpus_per_rack * racks} GPUs; topo models at most {MAX_GPUS}",
        )
        return out

    su = _clean(lay["scale_up"])
    domain, racks_per_domain, size = _domain_shape(su, computes, gpus_per_rack, racks, ctx)
    links = su.get("links_per_gpu") or acc.links_per_gpu
    if links is None:
        ctx.error(("scale_up",), f"missing key 'links_per_gpu' ({acc.name}{acc_at} has no default)")
        links = 1
    switches = _check_topology(su, devices, domain, racks_per_domain, size, links, ctx)
    so = _clean(lay.get("scale_out", {}))
    nic = so.get("nic_bandwidth") or acc.scale_out_bandwidth_bytes_per_s
    if nic is None and so.get("topology", "rail_fat_tree") != "none":
        ctx.error(
            ("scale_out",), f"missing key 'nic_bandwidth' ({acc.name}{acc_at} has no default)"
        )
    out.update(
        devices=tuple(devices),
        domain=domain,
        racks_per_domain=racks_per_domain,
        links=links,
        switches=switches,
        nic=nic or 0.0,
        rails=so.get("rails") or computes[0].gpus,
    )
    return out


def _domain_shape(
    su: dict[str, Any], computes: list[Device], gpus_per_rack: int, racks: int, ctx: Ctx
) -> tuple[str, int, int]:
    """The scale-up domain's kind (tray, rack, racks), racks per domain and GPUs per domain."""
    domain = su.get("domain", "rack")
    racks_per_domain = 1
    if m := re.fullmatch(r"(\d+) racks?", domain):
        racks_per_domain = int(m.group(1))
        domain = "racks" if racks_per_domain > 1 else "rack"
        if racks % racks_per_domain:
            ctx.error(
                ("scale_up", "domain"),
                f"a domain of {racks_per_domain} racks needs "
                f"a multiple of {racks_per_domain} racks, got cluster.racks {racks}",
            )
    if domain == "tray":
        sizes = {d.gpus for d in computes}
        if len(sizes) > 1:
            ctx.error(
                ("scale_up", "domain"),
                f"tray domains need the same gpus in every compute_tray, got {sorted(sizes)}",
            )
        size = computes[0].gpus
    else:
        size = gpus_per_rack * racks_per_domain
    return domain, racks_per_domain, size


def _check_topology(
    su: dict[str, Any],
    devices: list[Device],
    domain: str,
    racks_per_domain: int,
    size: int,
    links: int,
    ctx: Ctx,
) -> int:
    """The scale-up topology checked against the domain; its switch chips (0 unswitched)."""
    topology = su.get("topology")
    switches = 0
    if topology == "switched":
        switches = su.get("switches") or (
            _chips(devices) * racks_per_domain if domain != "tray" else 0
        )
        if not switches:
            ctx.error(
                ("scale_up",),
                "a switched domain needs switch chips: give "
                "scale_up.switches or switch_tray devices with switch_chips",
            )
    elif topology == "torus":
        dims = su.get("dims")
        if not dims:
            ctx.error(("scale_up",), "missing key 'dims' (torus dimensions, e.g. [4, 4, 4])")
        elif math.prod(dims) != size:
            ctx.error(
                ("scale_up", "dims"),
                f"torus {'x'.join(map(str, dims))} = "
                f"{math.prod(dims)} chips, but a domain holds {size}",
            )
    elif topology == "full_mesh":
        if size > 1024:
            ctx.error(
                ("scale_up", "domain"),
                f"a full mesh of {size} GPUs is not buildable (at most 1024)",
            )
        elif size > 1 and links < size - 1:
            ctx.error(
                ("scale_up", "links_per_gpu"),
                f"a full mesh of {size} GPUs needs at least {size - 1} links per GPU, got {links}",
            )
    return switches


def _chips(devices: list[Device]) -> int:
    return sum(d.count * d.switch_chips for d in devices if d.kind == "switch_tray")


def load_layout(name_or_path: str | Path, *, catalogue: tuple[str | Path, ...] = ()) -> Layout:
    """Read and check a layout, given by path or by bundled name.

    Parameters
    ----------
    name_or_path
        A YAML file, or the name of a bundled layout (``topo layouts`` lists them).
    catalogue
        Extra catalogue files (their entries add to or override the bundled ones).

    Raises
    ------
    LayoutError
        With every problem in the file, one per line (``file:line: key: message``).
    """
    path = find_layout(name_or_path)
    located = _read_with_extends(path)
    ctx = Ctx(located)
    lay = LAYOUT.check(located.data, (), ctx)
    if lay is BAD:
        raise LayoutError(ctx.problems)
    # Catalogue files named in the layout are relative to it.
    named_files = lay.get("catalogue", [])  # BAD when not a list: its problem is kept
    files = [path.parent / f for f in named_files if f is not BAD] if named_files is not BAD else []
    cat = load_catalogue((*files, *catalogue), strict=False)
    named = {p for bad in cat.bad.values() for p in bad}
    if any(p not in named for p in cat.problems):
        # A file that cannot be read, or a problem no entry owns: nothing to resolve against.
        raise LayoutError(ctx.problems + cat.problems)
    acc = _resolve_entry(lay.get("accelerator"), ("accelerator",), "accelerators", cat, ctx)
    # " at parts.yaml:5" after the accelerator's name when a user's catalogue file gives it.
    acc_at = cat.origin("accelerators", acc.name) if acc is not BAD else ""
    up = _clean(lay.get("scale_up"))
    link_name = up.get("link") or (acc.scale_up_link if acc is not BAD else None)
    up_link: Any = BAD
    if "link" in up or link_name:
        via = "" if "link" in up else f"accelerator {acc.name!r}{acc_at} names {link_name!r}: "
        up_link = _resolve_entry(link_name, ("scale_up", "link"), "links", cat, ctx, via)
    elif acc is not BAD and "scale_up" in lay:
        ctx.error(
            ("scale_up",), f"missing key 'link' ({acc.name}{acc_at} has no default scale-up link)"
        )
    out = _clean(lay.get("scale_out"))
    out_link = _resolve_entry(out.get("link", "ib-ndr"), ("scale_out", "link"), "links", cat, ctx)
    # Bad entries the layout does not name are still errors of their catalogue file.
    told = {
        p
        for section, value in (
            ("accelerators", lay.get("accelerator")),
            ("links", link_name),
            ("links", out.get("link", "ib-ndr")),
        )
        if isinstance(name := value.get("name") if isinstance(value, dict) else value, str)
        for p in cat.invalid(section, name)
    }
    ctx.problems.extend(p for p in cat.problems if p not in told)
    if ctx.problems or acc is BAD:
        raise LayoutError(sorted(ctx.problems, key=lambda p: (p.file, p.line)))
    derived = _cross_check(lay, acc, ctx, acc_at)
    if ctx.problems:
        raise LayoutError(sorted(ctx.problems, key=lambda p: (p.file, p.line)))
    return _assemble(lay, path, acc, up_link, out_link, derived)


def _assemble(
    lay: dict[str, Any],
    path: Path,
    acc: Accelerator,
    up_link: Link,
    out_link: Link,
    derived: dict[str, Any],
) -> Layout:
    cluster = lay.get("cluster", {})
    return Layout(
        name=lay.get("name", path.stem),
        description=lay.get("description", ""),
        source=str(path),
        accelerator=acc,
        rack=_rack(lay["rack"], derived["devices"]),
        scale_up=_scale_up(lay["scale_up"], up_link, derived),
        scale_out=_scale_out(lay.get("scale_out", {}), out_link, derived),
        cluster=Cluster(
            racks=cluster.get("racks", 1),
            racks_per_row=cluster.get("racks_per_row", 8),
            aisle_width_m=cluster.get("aisle_width", 1.2),
            floor_rating_kg_per_m2=cluster.get("floor_rating"),
        ),
        notes=lay.get("notes", ""),
    )


def _rack(rack: dict[str, Any], devices: tuple[Device, ...]) -> Rack:
    """The checked ``rack`` section with its defaults."""
    busbar = rack.get("busbar", {})
    cooling = rack.get("cooling", {})
    backplane = rack.get("backplane", {})
    return Rack(
        height_u=rack.get("height_u", 42),
        width_m=rack["width"],
        depth_m=rack["depth"],
        frame_mass_kg=rack.get("frame_mass"),
        max_mass_kg=rack.get("max_mass"),
        power_budget_w=rack.get("power_budget"),
        busbar=Busbar(busbar.get("voltage"), busbar.get("current")),
        cooling=RackCooling(
            cooling.get("liquid"),
            cooling.get("air"),
            cooling.get("liquid_flow"),
            cooling.get("coolant_delta_t", 10.0),
            cooling.get("coolant_mass"),
        ),
        devices=devices,
        power_redundancy=rack.get("power_redundancy", 2.0),
        conversion_efficiency=rack.get("conversion_efficiency", 0.95),
        rear_clearance_m=rack.get("rear_clearance", 0.1),
        backplane_width_m=backplane.get("width", 0.45),
        backplane_depth_m=backplane.get("depth", 0.06),
        packing_fraction=backplane.get("packing", 0.7),
    )


def _scale_up(up: dict[str, Any], up_link: Link, derived: dict[str, Any]) -> ScaleUp:
    """The checked ``scale_up`` section with its defaults and derived values."""
    cable = up.get("cable", {})
    # Default medium: the board inside a tray; off the board, the link's usual medium,
    # and copper where that is a board trace (an NVLink 4 domain across trays).
    off_board = up_link.medium if up_link.medium != "pcb" else "copper"
    medium = up.get("medium") or ("pcb" if derived["domain"] == "tray" else off_board)
    return ScaleUp(
        domain=derived["domain"],
        racks_per_domain=derived["racks_per_domain"],
        topology=up["topology"],
        dims=tuple(up.get("dims", ())),
        wraparound=up.get("wraparound", True),
        link=up_link,
        links_per_gpu=derived["links"],
        switches=derived["switches"],
        medium=medium,
        wrap_medium=up.get("wrap_medium", medium),
        cable_slack_m=up.get("cable_slack", 0.15),
        cable=Cable(
            diameter_m=cable.get("diameter"),
            pairs=cable.get("pairs"),
            bend_factor=cable.get("bend_factor"),
            connector_depth_m=cable.get("connector_depth"),
            mass_kg_per_m=cable.get("mass"),
            reach_m=cable.get("reach"),
        ),
        collective_overhead_s=up.get("collective_overhead", 10e-6),
    )


def _scale_out(out: dict[str, Any], out_link: Link, derived: dict[str, Any]) -> ScaleOut:
    """The checked ``scale_out`` section with its defaults and derived values."""
    return ScaleOut(
        topology=out.get("topology", "rail_fat_tree"),
        nic_bandwidth_bytes_per_s=derived["nic"],
        link=out_link,
        rails=derived["rails"],
        leaf_radix=out.get("leaf_radix", 64),
        spine_radix=out.get("spine_radix", 64),
        oversubscription=out.get("oversubscription", 1.0),
        latency_s=out.get("latency", out_link.latency_s),
        medium=out.get("medium", "optical"),
        cable_length_m=out.get("cable_length", 30.0),
        collective_overhead_s=out.get("collective_overhead", 20e-6),
    )
