"""Quantities as people write them, parsed into SI floats and formatted back.

Every dimensional value in a layout or catalogue file is a string with a unit:
``"800 Gb/s"``, ``"1.8 TB/s"``, ``"80 GiB"``, ``"132 kW"``, ``"1.36 t"``, ``"2 us"``.
:func:`parse_quantity` turns one into an SI float and checks that its unit has the
kind the field expects; :func:`format_quantity` writes an SI float back with a
sensible prefix.

Conventions (DESIGN.md): ``b`` is a bit and ``B`` a byte; ``Gb`` is 1e9 bits (never
gilbert), ``GB`` 1e9 bytes, ``GiB`` 2**30 bytes. Bandwidths are stored in bytes/s,
so ``"800 Gb/s"`` is 1e11 B/s. Masses are in kg, lengths in m, times in s, flows in
m^3/s, floor loads in kg/m^2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "KINDS",
    "UnitError",
    "count",
    "format_quantity",
    "kind_of_unit",
    "parse_quantity",
]

# Decimal SI prefixes used for bytes, bits, watts, FLOP/s and friends.
_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

_LB_KG = 0.45359237  # international avoirdupois pound, exact
_INCH_M = 0.0254  # exact
_RACK_UNIT_M = 0.04445  # EIA-310 rack unit, 1.75 in


@dataclass(frozen=True, slots=True)
class _Kind:
    """One physical kind: its SI unit, an example for error messages, display units."""

    si_unit: str
    example: str
    # Units used for display, largest first: (symbol, factor to SI).
    display: tuple[tuple[str, float], ...]


KINDS: dict[str, _Kind] = {
    "bandwidth": _Kind(
        "B/s",
        '"900 GB/s" or "800 Gb/s"',
        (("PB/s", 1e15), ("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3), ("B/s", 1)),
    ),
    "data": _Kind(
        "B",
        '"80 GB" or "80 GiB"',
        (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1)),
    ),
    "bitrate": _Kind(
        "b/s",
        '"200 Gb/s"',
        (("Tb/s", 1e12), ("Gb/s", 1e9), ("Mb/s", 1e6), ("kb/s", 1e3), ("b/s", 1)),
    ),
    "compute": _Kind(
        "FLOP/s",
        '"989.4 TFLOP/s"',
        (
            ("EFLOP/s", 1e18),
            ("PFLOP/s", 1e15),
            ("TFLOP/s", 1e12),
            ("GFLOP/s", 1e9),
            ("MFLOP/s", 1e6),
            ("FLOP/s", 1),
        ),
    ),
    "power": _Kind(
        "W", '"132 kW"', (("GW", 1e9), ("MW", 1e6), ("kW", 1e3), ("W", 1), ("mW", 1e-3))
    ),
    "mass": _Kind("kg", '"1360 kg" or "1.36 t"', (("t", 1e3), ("kg", 1), ("g", 1e-3))),
    "length": _Kind(
        "m", '"600 mm" or "0.6 m"', (("km", 1e3), ("m", 1), ("mm", 1e-3), ("um", 1e-6))
    ),
    "area": _Kind("m^2", '"450 cm^2"', (("m^2", 1), ("cm^2", 1e-4), ("mm^2", 1e-6))),
    "time": _Kind(
        "s",
        '"2 us"',
        (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("ps", 1e-12)),
    ),
    "flow": _Kind("m^3/s", '"1.5 L/min"', (("m^3/s", 1), ("L/min", 1e-3 / 60))),
    "temperature_difference": _Kind("K", '"10 K"', (("K", 1), ("mK", 1e-3))),
    "floor_load": _Kind("kg/m^2", '"1200 kg/m^2" or "12 kPa"', (("kg/m^2", 1),)),
    "voltage": _Kind("V", '"50 V"', (("kV", 1e3), ("V", 1), ("mV", 1e-3))),
    "linear_mass": _Kind("kg/m", '"60 g/m"', (("kg/m", 1), ("g/m", 1e-3))),
    "current": _Kind("A", '"1400 A"', (("kA", 1e3), ("A", 1), ("mA", 1e-3))),
}

# Every quantity is 0 or within these bounds in its SI unit: a femtosecond to a yottabyte
# spans every real figure, and the models' products and ratios of them stay finite.
SMALLEST = 1e-15
LARGEST = 1e24

_G0 = 9.80665  # standard gravity [m/s^2]: a floor load in kPa is converted to kg/m^2


def _build_units() -> dict[str, tuple[str, float]]:
    """Every accepted unit symbol -> (kind, factor to the kind's SI unit)."""
    u: dict[str, tuple[str, float]] = {}
    for p, f in _DECIMAL.items():
        # Bytes, bits and their rates. "b" is always a bit, "B" always a byte.
        u[f"{p}B"] = ("data", f)
        u[f"{p}B/s"] = ("bandwidth", f)
        u[f"{p}Bps"] = ("bandwidth", f)
        u[f"{p}b/s"] = ("bitrate", f)
        u[f"{p}bps"] = ("bitrate", f)
        u[f"{p}bit/s"] = ("bitrate", f)
        u[f"{p}FLOP/s"] = ("compute", f)
        u[f"{p}FLOPS"] = ("compute", f)
        u[f"{p}OP/s"] = ("compute", f)
        u[f"{p}OPS"] = ("compute", f)
        u[f"{p}W"] = ("power", f)
        u[f"{p}V"] = ("voltage", f)
        u[f"{p}A"] = ("current", f)
        u[f"{p}Pa"] = ("floor_load", f / _G0)
    for p, f in _BINARY.items():
        u[f"{p}B"] = ("data", f)
        u[f"{p}B/s"] = ("bandwidth", f)
    # "mW", "mV", "mA" are milli; "MW" etc. mega come from _DECIMAL above.
    u["mW"] = ("power", 1e-3)
    u["mV"] = ("voltage", 1e-3)
    u["mA"] = ("current", 1e-3)
    u.update(
        {
            "g": ("mass", 1e-3),
            "kg": ("mass", 1.0),
            "t": ("mass", 1e3),
            "lb": ("mass", _LB_KG),
            "lbs": ("mass", _LB_KG),
            "um": ("length", 1e-6),
            "µm": ("length", 1e-6),
            "mm": ("length", 1e-3),
            "cm": ("length", 1e-2),
            "m": ("length", 1.0),
            "km": ("length", 1e3),
            "in": ("length", _INCH_M),
            "ft": ("length", 12 * _INCH_M),
            "U": ("length", _RACK_UNIT_M),
            "RU": ("length", _RACK_UNIT_M),
            "mm^2": ("area", 1e-6),
            "mm2": ("area", 1e-6),
            "cm^2": ("area", 1e-4),
            "cm2": ("area", 1e-4),
            "m^2": ("area", 1.0),
            "m2": ("area", 1.0),
            "ps": ("time", 1e-12),
            "ns": ("time", 1e-9),
            "us": ("time", 1e-6),
            "µs": ("time", 1e-6),
            "ms": ("time", 1e-3),
            "s": ("time", 1.0),
            "min": ("time", 60.0),
            "h": ("time", 3600.0),
            "L/min": ("flow", 1e-3 / 60),
            "l/min": ("flow", 1e-3 / 60),
            "L/s": ("flow", 1e-3),
            "l/s": ("flow", 1e-3),
            "m^3/s": ("flow", 1.0),
            "m3/s": ("flow", 1.0),
            "m^3/h": ("flow", 1.0 / 3600),
            "m3/h": ("flow", 1.0 / 3600),
            "gpm": ("flow", 3.785411784e-3 / 60),  # US gallon per minute
            "K": ("temperature_difference", 1.0),
            "mK": ("temperature_difference", 1e-3),
            "kg/m": ("linear_mass", 1.0),
            "g/m": ("linear_mass", 1e-3),
            "kg/m^2": ("floor_load", 1.0),
            "kg/m2": ("floor_load", 1.0),
            "t/m^2": ("floor_load", 1e3),
            "lb/ft^2": ("floor_load", _LB_KG / (12 * _INCH_M) ** 2),
            "lb/ft2": ("floor_load", _LB_KG / (12 * _INCH_M) ** 2),
            "psf": ("floor_load", _LB_KG / (12 * _INCH_M) ** 2),
        }
    )
    # Compute: "Gbps" for a bit rate is common; "GBps" as bytes is in the loop above.
    return u


_UNITS = _build_units()

_NUMBER = r"[+-]?(?:\d+(?:[.,_]\d+)*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan)"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[^\s\d+-][^\s]*)?\s*$", re.IGNORECASE)

# Bit rates are bandwidths too: a field that wants bytes/s accepts "800 Gb/s" (/8).
_CONVERTIBLE = {("bandwidth", "bitrate"): 1 / 8, ("bitrate", "bandwidth"): 8.0}


class UnitError(ValueError):
    """A quantity string that could not be read, or has the wrong kind."""


def kind_of_unit(unit: str) -> str | None:
    """The kind of a unit symbol, or None if it is not known.

    Examples
    --------
    >>> kind_of_unit("Gb/s"), kind_of_unit("GiB"), kind_of_unit("parsecs")
    ('bitrate', 'data', None)
    """
    hit = _UNITS.get(unit)
    return hit[0] if hit else None


def _expected(kind: str) -> str:
    k = KINDS[kind]
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind.replace('_', ' ')} like {k.example}"


def parse_quantity(text: object, kind: str) -> float:
    """Parse a quantity such as ``"900 GB/s"`` into an SI float of the given kind.

    Parameters
    ----------
    text
        The value as written: a string with a number and a unit.
    kind
        What the field holds: a key of :data:`KINDS` (``"bandwidth"``, ``"power"``...).

    Returns
    -------
    float
        The value in the kind's SI unit (B/s, B, W, kg, m, s, m^3/s, ...).

    Raises
    ------
    UnitError
        With a message that says what was expected, e.g.
        ``expected a power like "132 kW", got '800 Gb/s' (a bitrate)``.

    Examples
    --------
    >>> parse_quantity("800 Gb/s", "bandwidth")
    100000000000.0
    >>> parse_quantity("80 GiB", "data")
    85899345920.0
    >>> parse_quantity("3000 lb", "mass")
    1360.77711
    """
    if kind not in KINDS:
        msg = f"unknown quantity kind {kind!r}; known: {', '.join(KINDS)}"
        raise ValueError(msg)
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        msg = f"expected {_expected(kind)}, got {_short(text)} (a bare number: add a unit)"
        raise UnitError(msg)
    if not isinstance(text, str):
        msg = f"expected {_expected(kind)}, got {_short(text)}"
        raise UnitError(msg)
    m = _QUANTITY.match(text)
    if not m:
        msg = f"expected {_expected(kind)}, got {_short(text)}"
        raise UnitError(msg)
    num_text = m.group("num").replace("_", "").replace(",", "")
    unit = m.group("unit") or ""
    if not unit:
        msg = f"expected {_expected(kind)}, got {_short(text)} (no unit)"
        raise UnitError(msg)
    hit = _UNITS.get(unit)
    if hit is None:
        hint = _suggest(m.group("num"), unit, kind)
        msg = f"expected {_expected(kind)}, got {_short(text)} (unknown unit {unit!r}{hint})"
        raise UnitError(msg)
    unit_kind, factor = hit
    if unit_kind != kind:
        conv = _CONVERTIBLE.get((kind, unit_kind))
        if conv is None:
            article = "an" if unit_kind[0] in "aeiou" else "a"
            msg = (
                f"expected {_expected(kind)}, got {_short(text)} "
                f"({article} {unit_kind.replace('_', ' ')})"
            )
            raise UnitError(msg)
        factor *= conv
    try:
        value = float(num_text)
    except ValueError:
        msg = f"expected {_expected(kind)}, got {_short(text)}"
        raise UnitError(msg) from None
    value *= factor
    if not math.isfinite(value):
        msg = f"expected a finite {kind.replace('_', ' ')}, got {_short(text)}"
        raise UnitError(msg)
    if value and not SMALLEST <= abs(value) <= LARGEST:
        # "1e-300 B/s" passes "> 0" but its inverse overflows; no hardware is that far out.
        si = KINDS[kind].si_unit
        msg = f"expected {_expected(kind)}, from 1e-15 to 1e24 {si} (or 0), got {_short(text)}"
        raise UnitError(msg)
    return value


def _suggest(num: str, unit: str, kind: str) -> str:
    """A hint for a unit in the wrong case or in network shorthand, else ''.

    "10 kw" -> '; did you mean "10 kW"?'; "400G" for a link -> "400 Gb/s".
    """
    fits = {kind} | {b for a, b in _CONVERTIBLE if a == kind}
    best: dict[tuple[str, float], str] = {}  # one spelling per unit: "kW" over "KW"
    for u, (k, factor) in _UNITS.items():
        if u.lower() == unit.lower() and k in fits:
            have = best.get((k, factor))
            if have is None or (have.isupper() and not u.isupper()):
                best[(k, factor)] = u
    same = sorted(best.values())
    if not same and unit.upper() in ("K", "M", "G", "T") and fits & {"bandwidth", "bitrate"}:
        same = [f"{unit.upper()}b/s"]
    if not same:
        return ""
    return "; did you mean " + " or ".join(f'"{num} {u}"' for u in same) + "?"


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count(n: int, noun: str) -> str:
    """A whole number of things, its thousands separated, the noun plural unless one.

    Examples
    --------
    >>> count(1, "rack")
    '1 rack'
    >>> count(16384, "domain")
    '16,384 domains'
    """
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def format_quantity(value: float, kind: str, *, digits: int | None = 4) -> str:
    """Write an SI value with the display unit that keeps the number readable.

    Parameters
    ----------
    value
        The value in the kind's SI unit.
    kind
        A key of :data:`KINDS`.
    digits
        Significant digits; None writes the shortest text that parses back to the
        same float (up to rounding in the unit's factor).

    Examples
    --------
    >>> format_quantity(9e11, "bandwidth")
    '900 GB/s'
    >>> format_quantity(132e3, "power")
    '132 kW'
    >>> format_quantity(1.2345678e-6, "time", digits=3)
    '1.23 us'
    """
    k = KINDS[kind]
    if not math.isfinite(value):
        return f"{value} {k.si_unit}"
    magnitude = abs(value)
    symbol, factor = k.display[-1]
    for sym, fac in k.display:
        if magnitude >= fac * 0.9995:
            symbol, factor = sym, fac
            break
    if magnitude == 0:
        symbol, factor = next((s, f) for s, f in k.display if f == 1)
    scaled = value / factor
    if digits is None:
        number = repr(scaled)
        if number.endswith(".0"):
            number = number[:-2]
    else:
        number = f"{scaled:.{digits}g}"
        if "e" in number:  # beyond the unit range: a plain decimal with the same digits
            decimals = max(digits - 1 - math.floor(math.log10(abs(scaled))), 0)
            number = f"{scaled:.{decimals}f}"
            if "." in number:
                number = number.rstrip("0").rstrip(".")
    return f"{number} {symbol}"
