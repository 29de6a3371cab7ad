"""Units: parsing quantities as people write them, kinds per field, formatting round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topo.units import KINDS, UnitError, format_quantity, kind_of_unit, parse_quantity

# (text, kind, SI value written out by hand)
CASES = [
    ("800 Gb/s", "bandwidth", 800e9 / 8),  # 100 GB/s: Gb is gigabit
    ("400 Gbps", "bandwidth", 400e9 / 8),
    ("1.8 TB/s", "bandwidth", 1.8e12),
    ("900 GB/s", "bandwidth", 900e9),
    ("80 GB", "data", 80e9),
    ("80 GiB", "data", 80 * 2**30),
    ("132 kW", "power", 132e3),
    ("1.36 t", "mass", 1360.0),
    ("1360 kg", "mass", 1360.0),
    ("3000 lb", "mass", 3000 * 0.45359237),
    ("600 mm", "length", 0.6),
    ("0.6 m", "length", 0.6),
    ("2 us", "time", 2e-6),
    ("1.5 L/min", "flow", 1.5e-3 / 60),
    ("989.4 TFLOP/s", "compute", 989.4e12),
    ("1978.9 TOP/s", "compute", 1978.9e12),
    ("200 Gb/s", "bitrate", 200e9),
    ("10 K", "temperature_difference", 10.0),
    ("1200 kg/m^2", "floor_load", 1200.0),
    ("12 kPa", "floor_load", 12e3 / 9.80665),
    ("250 lb/ft^2", "floor_load", 250 * 0.45359237 / 0.3048**2),
    ("50 V", "voltage", 50.0),
    ("1400 A", "current", 1400.0),
    ("450 cm^2", "area", 450e-4),
    ("1,360 kg", "mass", 1360.0),
    ("4.5e3 W", "power", 4500.0),
]


@pytest.mark.parametrize(("text", "kind", "want"), CASES)
def test_parse_examples(text: str, kind: str, want: float) -> None:
    assert parse_quantity(text, kind) == pytest.approx(want, rel=1e-12)


def test_gb_is_gigabit_not_gilbert_and_not_gigabyte() -> None:
    # 1 Gb = 1e9 bits = 1.25e8 bytes; a gilbert would be a magnetomotive force.
    assert parse_quantity("1 Gb/s", "bandwidth") == 1.25e8
    assert kind_of_unit("Gb") is None  # a bare "Gb" is not a data size (nor gilbert)
    assert kind_of_unit("Gb/s") == "bitrate"
    assert parse_quantity("1 GB/s", "bandwidth") == 8 * parse_quantity("1 Gb/s", "bandwidth")
    assert parse_quantity("1 GiB", "data") / parse_quantity("1 GB", "data") == pytest.approx(
        2**30 / 1e9
    )


@pytest.mark.parametrize(
    ("value", "kind", "match"),
    [
        ("800 Gb/s", "power", r'expected a power like "132 kW", got \'800 Gb/s\' \(a bitrate\)'),
        ("132 kW", "bandwidth", r"expected a bandwidth .* \(a power\)"),
        (132, "power", "bare number"),
        ("132", "power", "no unit"),
        ("12 parsecs", "length", "unknown unit 'parsecs'"),
        ("1e999 GB/s", "bandwidth", "finite"),
        ("NaN kW", "power", "finite"),
        ("abc", "power", "expected a power"),
        ("", "power", "expected a power"),
        (None, "mass", "expected a mass"),
        ([1], "mass", "expected a mass"),
        (True, "mass", "expected a mass"),
    ],
)
def test_parse_errors_say_what_was_expected(value: object, kind: str, match: str) -> None:
    with pytest.raises(UnitError, match=match):
        parse_quantity(value, kind)


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown quantity kind"):
        parse_quantity("1 W", "wattage")


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (9e11, "bandwidth", "900 GB/s"),
        (1.8e12, "bandwidth", "1.8 TB/s"),
        (132e3, "power", "132 kW"),
        (1360.0, "mass", "1.36 t"),
        (0.6, "length", "600 mm"),
        (2e-6, "time", "2 us"),
        (80e9, "data", "80 GB"),
        (0.0, "power", "0 W"),
        (5.76e18, "compute", "5.76 EFLOP/s"),
    ],
)
def test_format_uses_sensible_prefixes(value: float, kind: str, text: str) -> None:
    assert format_quantity(value, kind) == text


_finite = st.floats(min_value=1e-12, max_value=1e21, allow_nan=False, allow_infinity=False)


@given(value=_finite, kind=st.sampled_from(sorted(KINDS)))
def test_format_then_parse_gives_the_number_back(value: float, kind: str) -> None:
    text = format_quantity(value, kind, digits=None)
    assert parse_quantity(text, kind) == pytest.approx(value, rel=1e-12)


@given(value=_finite, kind=st.sampled_from(sorted(KINDS)), digits=st.integers(2, 8))
def test_display_rounding_is_within_its_digits(value: float, kind: str, digits: int) -> None:
    back = parse_quantity(format_quantity(value, kind, digits=digits), kind)
    assert math.isclose(back, value, rel_tol=10 ** (1 - digits))
