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
from topo._yaml import Located, format_path, load_located
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
    located = load_located(f"topo/data/{fname}", text=text, ours=True)
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
    # Where each entry of a user's catalogue file is: (section, name) -> (file, line).
    where: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    # Entries of a user's file that failed their checks, by (section, name or alias),
    # and every problem found in the files (``load_catalogue(strict=False)`` keeps them).
    bad: dict[tuple[str, str], list[Problem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

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

    def origin(self, section: str, name: str) -> str:
        """``" at parts.yaml:5"`` for an entry from a user's catalogue file, else ``""``."""
        key = self.canonical(section, name)
        at = self.where.get((section, key)) if key else None
        return f" at {at[0]}:{at[1]}" if at else ""

    def invalid(self, section: str, name: str) -> list[Problem]:
        """The problems of a user's catalogue entry called `name` that failed its checks."""
        return self.bad.get((section, name.strip().lower()), [])

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


def _entry_problems(
    located: Located, problems: list[Problem]
) -> dict[tuple[str, int], list[Problem]]:
    """The problems of `located` that belong to one entry, by (section, index)."""
    out: dict[tuple[str, int], list[Problem]] = {}
    data = located.data if isinstance(located.data, dict) else {}
    for section in ("accelerators", "links"):
        entries = data.get(section)
        for i in range(len(entries) if isinstance(entries, list) else 0):
            prefix = format_path((section, i))
            mine = [
                p
                for p in problems
                if p.file == located.file
                and (p.key == prefix or p.key.startswith((prefix + ".", prefix + "[")))
            ]
            if mine:
                out[(section, i)] = mine
    return out


def _read_into(
    cat: Catalogue, located: Located, problems: list[Problem], *, user: bool = False
) -> None:
    """Check one catalogue file and add its good entries to `cat`.

    A user's file (`user`) also records where each entry is, and which entries failed
    their checks with their problems, so that a layout naming one can say so.
    """
    ctx = Ctx(located)
    checked = CATALOGUE_FILE.check(located.data, (), ctx)
    found = list(ctx.problems)
    if checked is BAD:
        problems.extend(found)
        return
    makers = (("accelerators", make_accelerator), ("links", make_link))
    by_entry = _entry_problems(located, found)
    for section, make in makers:
        entries = checked.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if (section, i) in by_entry or not isinstance(entry, dict):
                continue
            if "name" not in entry:
                found.append(located.problem((section, i), "missing key 'name'"))
                continue
            base = cat.canonical(section, entry["name"])
            merged = {**getattr(cat, section).get(base or "", {}), **entry}
            made = make(merged)
            if isinstance(made, list):
                by_entry[(section, i)] = [
                    located.problem(
                        (section, i),
                        f"missing keys {', '.join(made)} (a new entry must be complete)",
                    )
                ]
                found.extend(by_entry[(section, i)])
                continue
            cat.add(section, entry)
            if user:
                key = cat.canonical(section, entry["name"]) or entry["name"]
                cat.where[(section, key)] = located.where((section, i))
    problems.extend(found)
    if not user:
        return
    data = located.data if isinstance(located.data, dict) else {}
    for (section, i), mine in by_entry.items():
        raw = data[section][i]
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        names: list[Any] = [raw["name"]]
        if isinstance(raw.get("aliases"), list):
            names += raw["aliases"]
        for name in names:
            if isinstance(name, str):
                cat.bad[(section, name.strip().lower())] = mine


@functools.cache
def _bundled() -> Catalogue:
    cat = Catalogue()
    problems: list[Problem] = []
    data = resources.files("topo") / "data"
    for fname in ("links.yaml", "accelerators.yaml"):
        res = data / fname
        located = load_located(
            f"topo/data/{fname}", text=res.read_text(encoding="utf-8"), ours=True
        )
        _read_into(cat, located, problems)
    if problems:  # a broken package, not a user error; still report it plainly
        raise LayoutError(problems)
    return cat


def load_catalogue(
    files: tuple[str | Path, ...] | list[str | Path] = (), *, strict: bool = True
) -> Catalogue:
    """The bundled catalogue, extended or overridden by the given catalogue files.

    With ``strict=False`` a file's good entries are kept and its problems returned in
    ``Catalogue.problems`` (those of one entry also in ``Catalogue.bad``), so that a
    layout can name the line that refers to a bad entry.

    Raises
    ------
    LayoutError
        With every problem found in the files (only when `strict`).
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
        _read_into(cat, located, problems, user=True)
    if problems and strict:
        raise LayoutError(problems)
    cat.problems = problems
    return cat
