"""The hardware catalogue: accelerators and links by name, and cable media.

The only reader of ``topo/data/*.yaml``. Those files hold facts copied from the
project's reference sheet, each entry with its sources. A user adds or overrides
entries with catalogue files of their own (same format) or inline in a layout.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from topo._fields import BAD, Ctx, did_you_mean
from topo._yaml import Located, load_located
from topo.errors import LayoutError, Problem, TopoError
from topo.schema import CABLES_FILE, CATALOGUE_FILE

__all__ = [
    "Accelerator",
    "CableMedium",
    "Catalogue",
    "Efficiency",
    "Link",
    "cable_media",
    "load_catalogue",
    "make_accelerator",
    "make_link",
]

DEFAULT_EFFICIENCY = {"hbm": 0.85, "compute": 0.8, "basis": "topo default"}


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Achievable fractions of peak, used by the performance models."""

    hbm: float
    compute: float
    basis: str


@dataclass(frozen=True, slots=True)
class Accelerator:
    """One accelerator's facts in SI units (B, B/s, FLOP/s, W); None = not published."""

    name: str
    vendor: str
    description: str
    peak_flop_per_s: dict[str, float]
    hbm_capacity_bytes: float
    hbm_bandwidth_bytes_per_s: float | None
    scale_up_bandwidth_bytes_per_s: float | None
    scale_up_link: str | None
    links_per_gpu: int | None
    scale_out_bandwidth_bytes_per_s: float | None
    power_w: float | None
    efficiency: Efficiency
    confidence: str
    sources: tuple[str, ...] = ()
    notes: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Link:
    """One link type: bandwidth of one link per direction [B/s], lanes per direction."""

    name: str
    description: str
    bandwidth_bytes_per_s: float
    lanes: int | None
    lane_rate_bits_per_s: float | None
    latency_s: float
    medium: str
    sources: tuple[str, ...] = ()
    notes: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CableMedium:
    """One cable medium's figures in SI units (m, kg/m, W), from ``topo/data/cables.yaml``.

    ``pairs`` counts signal channels in one cable (a differential pair, or a fibre);
    ``port_w_per_1600g`` is module power at each end per 1.6 Tb/s of bandwidth.
    """

    name: str
    description: str
    diameter_m: float
    pairs: int
    bend_factor: float
    connector_depth_m: float
    mass_kg_per_m: float
    reach_model: str  # "interpolate" | "steps"
    reach_points: tuple[tuple[float, float], ...]  # (lane rate [bit/s], reach [m]), rising
    port_w_per_1600g: float
    sources: tuple[str, ...] = ()

    def reach_m(self, lane_rate_bits_per_s: float | None) -> float | None:
        """How far one lane at this rate goes [m].

        "interpolate": log-log between the points, the first point's reach below it and
        the last segment's slope beyond the last. "steps": the first class whose lane
        rate reaches the given one (the last class beyond it; the first when unknown).
        """
        pts = self.reach_points
        if self.reach_model == "steps":
            if lane_rate_bits_per_s is None:
                return pts[0][1]
            return next((m for r, m in pts if lane_rate_bits_per_s <= r * (1 + 1e-9)), pts[-1][1])
        if lane_rate_bits_per_s is None:
            return None
        rate = lane_rate_bits_per_s
        if rate <= pts[0][0] or len(pts) == 1:
            return pts[0][1]
        i = next((i for i in range(1, len(pts)) if rate <= pts[i][0]), len(pts) - 1)
        (r0, m0), (r1, m1) = pts[i - 1], pts[i]
        slope = math.log(m1 / m0) / math.log(r1 / r0)
        return float(m0 * (rate / r0) ** slope)


@functools.cache
def cable_media() -> dict[str, CableMedium]:
    """The cable media of ``topo/data/cables.yaml`` (copper, active_copper, optical).

    Raises
    ------
    LayoutError
        If the bundled file is broken (a packaging error, reported plainly).
    """
    fname = "cables.yaml"
    text = (resources.files("topo") / "data" / fname).read_text(encoding="utf-8")
    located = load_located(f"topo/data/{fname}", text=text)
    ctx = Ctx(located)
    checked = CABLES_FILE.check(located.data, (), ctx)
    if checked is BAD or ctx.problems:
        raise LayoutError(ctx.problems or [located.problem((), "not a cables file")])
    out: dict[str, CableMedium] = {}
    for name, m in checked["media"].items():
        points = tuple(sorted((p["lane_rate"], p["reach"]) for p in m["reach"]))
        out[name] = CableMedium(
            name=name,
            description=m.get("description", ""),
            diameter_m=m["diameter"],
            pairs=m["pairs"],
            bend_factor=float(m["bend_factor"]),
            connector_depth_m=m["connector_depth"],
            mass_kg_per_m=m["mass"],
            reach_model=m["reach_model"],
            reach_points=points,
            port_w_per_1600g=m["port_power"],
            sources=tuple(m.get("sources", ())),
        )
    return out


def make_accelerator(d: dict[str, Any]) -> Accelerator | list[str]:
    """An :class:`Accelerator` from checked fields, or the list of missing keys."""
    missing = [k for k in ("name", "peak_compute", "hbm_capacity") if k not in d]
    if missing:
        return missing
    peaks = {k: v for k, v in d["peak_compute"].items() if v is not None}
    eff = {**DEFAULT_EFFICIENCY, **d.get("efficiency", {})}
    return Accelerator(
        name=d["name"],
        vendor=d.get("vendor", ""),
        description=d.get("description", ""),
        peak_flop_per_s=peaks,
        hbm_capacity_bytes=d["hbm_capacity"],
        hbm_bandwidth_bytes_per_s=d.get("hbm_bandwidth"),
        scale_up_bandwidth_bytes_per_s=d.get("scale_up_bandwidth"),
        scale_up_link=d.get("scale_up_link"),
        links_per_gpu=d.get("links_per_gpu"),
        scale_out_bandwidth_bytes_per_s=d.get("scale_out_bandwidth"),
        power_w=d.get("power"),
        efficiency=Efficiency(eff["hbm"], eff["compute"], eff["basis"]),
        confidence=d.get("confidence", "low"),
        sources=tuple(d.get("sources", ())),
        notes=d.get("notes", ""),
        aliases=tuple(d.get("aliases", ())),
    )


def make_link(d: dict[str, Any]) -> Link | list[str]:
    """A :class:`Link` from checked fields, or the list of missing keys."""
    missing = [k for k in ("name", "bandwidth") if k not in d]
    if missing:
        return missing
    return Link(
        name=d["name"],
        description=d.get("description", ""),
        bandwidth_bytes_per_s=d["bandwidth"],
        lanes=d.get("lanes"),
        lane_rate_bits_per_s=d.get("lane_rate"),
        latency_s=d.get("latency", 1e-6),
        medium=d.get("medium", "copper"),
        sources=tuple(d.get("sources", ())),
        notes=d.get("notes", ""),
        aliases=tuple(d.get("aliases", ())),
    )


@dataclass(slots=True)
class Catalogue:
    """Checked catalogue entries (SI values) by name, with their aliases.

    Entries are kept as checked field dicts so that an inline layout entry can
    override some fields of a catalogue entry before the dataclass is made.
    """

    accelerators: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"accelerators": {}, "links": {}}
    )

    def add(self, section: str, entry: dict[str, Any]) -> None:
        """Add or override (field by field) one entry of `section`."""
        table: dict[str, dict[str, Any]] = getattr(self, section)
        name = self.canonical(section, entry["name"]) or entry["name"]
        table[name] = {**table.get(name, {}), **entry, "name": name}
        for alias in entry.get("aliases", ()):
            self.aliases[section][alias] = name

    def canonical(self, section: str, name: str) -> str | None:
        """The entry name that `name` (a name or alias, any case) refers to, or None."""
        key = name.strip().lower()
        table: dict[str, dict[str, Any]] = getattr(self, section)
        if key in table:
            return key
        return self.aliases[section].get(key)

    def names(self, section: str) -> list[str]:
        """Entry names of `section`, sorted."""
        return sorted(getattr(self, section))

    def unknown(self, section: str, name: str) -> str:
        """The message for a name that is not in the catalogue."""
        kind = "accelerator" if section == "accelerators" else "link"
        choices = self.names(section) + sorted(self.aliases[section])
        return (
            f"unknown {kind} {name!r}{did_you_mean(name.lower(), choices)} "
            f"(known: {', '.join(self.names(section))})"
        )

    def accelerator(self, name: str) -> Accelerator:
        """The accelerator called `name`.

        Raises
        ------
        LayoutError
            If there is no such entry (the message lists the known names).
        """
        key = self.canonical("accelerators", name)
        if key is None:
            raise LayoutError(
                Problem("catalogue", 0, "accelerator", self.unknown("accelerators", name))
            )
        made = make_accelerator(self.accelerators[key])
        if isinstance(made, list):  # entries are checked complete when added
            msg = f"catalogue entry {key!r} lacks {', '.join(made)}"
            raise TopoError(msg)
        return made

    def link(self, name: str) -> Link:
        """The link called `name` (see :meth:`accelerator`)."""
        key = self.canonical("links", name)
        if key is None:
            raise LayoutError(Problem("catalogue", 0, "link", self.unknown("links", name)))
        made = make_link(self.links[key])
        if isinstance(made, list):
            msg = f"catalogue entry {key!r} lacks {', '.join(made)}"
            raise TopoError(msg)
        return made


def _read_into(cat: Catalogue, located: Located, problems: list[Problem]) -> None:
    ctx = Ctx(located)
    checked = CATALOGUE_FILE.check(located.data, (), ctx)
    problems.extend(ctx.problems)
    if checked is BAD or ctx.problems:
        return
    makers = (("accelerators", make_accelerator), ("links", make_link))
    for section, make in makers:
        for i, entry in enumerate(checked.get(section, [])):
            if "name" not in entry:
                problems.append(located.problem((section, i), "missing key 'name'"))
                continue
            base = cat.canonical(section, entry["name"])
            merged = {**getattr(cat, section).get(base or "", {}), **entry}
            made = make(merged)
            if isinstance(made, list):
                problems.append(
                    located.problem(
                        (section, i),
                        f"missing keys {', '.join(made)} (a new entry must be complete)",
                    )
                )
                continue
            cat.add(section, entry)


@functools.cache
def _bundled() -> Catalogue:
    cat = Catalogue()
    problems: list[Problem] = []
    data = resources.files("topo") / "data"
    for fname in ("links.yaml", "accelerators.yaml"):
        res = data / fname
        located = load_located(f"topo/data/{fname}", text=res.read_text(encoding="utf-8"))
        _read_into(cat, located, problems)
    if problems:  # a broken package, not a user error; still report it plainly
        raise LayoutError(problems)
    return cat


def load_catalogue(files: tuple[str | Path, ...] | list[str | Path] = ()) -> Catalogue:
    """The bundled catalogue, extended or overridden by the given catalogue files.

    Raises
    ------
    LayoutError
        With every problem found in the files.
    """
    base = _bundled()
    cat = Catalogue(
        {k: dict(v) for k, v in base.accelerators.items()},
        {k: dict(v) for k, v in base.links.items()},
        {k: dict(v) for k, v in base.aliases.items()},
    )
    problems: list[Problem] = []
    for f in files:
        try:
            located = load_located(f)
        except LayoutError as e:
            problems.extend(e.problems)
            continue
        _read_into(cat, located, problems)
    if problems:
        raise LayoutError(problems)
    return cat
