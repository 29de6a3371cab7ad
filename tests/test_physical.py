"""Physical limits against the worked NVL72 numbers of physical_limits.md, and invariants."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import bundled_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.errors import TopoError
from topo.layout import load_layout
from topo.physical import (
    CHECKS,
    apply_vary,
    check_air_heat,
    check_backplane_pairs,
    check_bend_radius,
    check_busbar_current,
    check_coolant_flow,
    check_floor_load,
    check_frame_mass,
    check_limits,
    check_liquid_heat,
    check_power_budget,
    check_power_shelves,
    check_rack_space,
    check_reach,
    check_switch_ports,
    largest_domain,
    rack_facts,
    reach_m,
    with_trays,
)

NVL72 = load_layout("gb200-nvl72")


def by_name(report):  # noqa: ANN001, ANN201
    return {c.name: c for c in report.checks}


def test_nvl72_passes_with_its_worked_numbers() -> None:
    r = check_limits(NVL72)
    c = by_name(r)
    assert r.ok
    assert all(x.ok is not False for x in r.checks)
    # Cables: 72 GPUs x 18 links x 2 lanes x 2 directions = 5,184 pairs (section 1).
    assert c["cables: backplane pairs"].value == 72 * 18 * 2 * 2 == 5184
    # Switch ports: 72 x 18 = 1,296 = 9 trays x 144: exactly full, the binding limit.
    assert (c["switch ports"].value, c["switch ports"].limit) == (1296, 1296)
    assert r.binding.name == "switch ports"
    # Power (section 4): 18 x 5.4 kW trays + 9 x 1.3 kW switch trays + 2 x 0.4 kW ToR, over
    # 0.95 conversion: 115.5 kW, within 4% of the quoted ~120 kW; 264 kW installed N+N.
    it = 18 * 5.4e3 + 9 * 1.3e3 + 2 * 400
    assert c["power vs rack budget"].value == pytest.approx(it / 0.95)
    assert c["power vs rack budget"].value == pytest.approx(120e3, rel=0.04)
    assert c["power vs shelves"].limit == 8 * 33e3 / 2
    assert c["power: busbar current"].value == pytest.approx(it / 0.95 / 50)  # ~2,400 A at 50 V
    # Cooling (section 5): PG25 at 10 K is 1.50 L/min per kW; 120 kW would need 180 L/min.
    per_kw = 1e3 / (3920 * 1021.5 * 10) * 60e3
    assert per_kw == pytest.approx(1.50, abs=0.005)
    assert 120 * per_kw == pytest.approx(180, rel=0.01)
    liquid = 18 * 5.4e3 * 0.85 + 9 * 1.3e3 * 0.8
    assert c["cooling: liquid heat"].value == pytest.approx(liquid)
    flow_l_min = c["cooling: coolant flow"].value * 60e3
    assert flow_l_min == pytest.approx(liquid / 1e3 * per_kw)
    # Mass (section 6): 1,360 kg against the 1,400 kg frame: ~3% margin.
    assert c["mass vs frame rating"].value == pytest.approx(1360, rel=0.01)
    assert c["mass vs frame rating"].margin == pytest.approx(0.03, abs=0.01)
    # Floor: over 0.6 x (1.2 + 1.2) m^2 ~944 kg/m^2; on the footprint alone ~1,889.
    mass = c["mass vs frame rating"].value
    assert c["mass: floor load"].value == pytest.approx(mass / (0.6 * 2.4))
    assert mass / 0.72 == pytest.approx(1889, rel=0.01)
    # Bend: 10 x 6.7 mm + 25 mm connector = 92 mm of the 100 mm rear clearance.
    assert c["cables: bend radius"].value == pytest.approx(0.092)
    # Reach: compute tray at U42 to switch tray at U24: 18 U = 0.80 m, + 0.15 m slack < 1 m.
    assert c["cables: copper reach"].value == pytest.approx(18 * 0.04445 + 0.15)
    assert c["cables: copper reach"].limit == 1.0


def test_backplane_area_arithmetic() -> None:
    # 6.7 mm OD 16-pair cables: pi/4 x 6.7^2 / 16 = 2.20 mm^2 a pair; 5,184 pairs = 114 cm^2,
    # 163 cm^2 at a 0.7 packing fraction (section 1).
    area_pair = math.pi / 4 * 6.7**2 / 16
    assert area_pair == pytest.approx(2.20, abs=0.01)
    assert 5184 * area_pair / 100 == pytest.approx(114, rel=0.01)
    assert 5184 * area_pair / 0.7 / 100 == pytest.approx(163, rel=0.01)
    c = by_name(check_limits(NVL72))["cables: backplane pairs"]
    assert c.limit == math.floor(450 * 60 * 0.7 / area_pair)


def test_optics_cost_about_20_kw() -> None:
    optical = apply_vary(NVL72, "cable", "optical")
    before = check_limits(NVL72).totals["power_w"]
    after = check_limits(optical).totals["power_w"]
    # 72 GPUs x 36 lanes x 200 Gb/s = 4.5 x 1.6T modules a GPU, both ends: 648 x 30 W.
    assert (after - before) * 0.95 == pytest.approx(648 * 30, rel=1e-9)
    # 200 Gb/s lanes: no multimode optics at that rate, single-mode DR reaches 500 m.
    assert by_name(check_limits(optical))["cables: optical reach"].limit == 500.0


def _nvl72_pair_metres() -> float:
    """Pair-metres of the NVL72 spine from its elevation (layouts/gb200-nvl72.yaml).

    48 U: 2 ToR, 4 shelves, 10 compute trays at U42..33, 9 switch trays at U32..24, 8
    compute trays at U23..16. Each tray's 4 GPUs x 18 links x 2 lanes x 2 directions run
    the mean distance to the 9 switch trays (1 U = 44.45 mm) plus 0.15 m of slack.
    """
    switch_u = range(24, 33)
    compute_u = [*range(33, 43), *range(16, 24)]
    return sum(
        4 * 18 * 2 * 2 * (sum(abs(c - s) for s in switch_u) / 9 * 0.04445 + 0.15) for c in compute_u
    )


def test_optical_cables_use_optical_geometry(write_layout: Callable[..., Path]) -> None:
    """Copper: 6.7 mm, 16 pairs, 150 g/m; optical: 3.0 mm, 16 fibres, 7.5 g/m; both bend at
    10 x OD + 25 mm (topo/data/cables.yaml and its sources)."""
    doc = bundled_doc("gb200-nvl72")
    doc["scale_up"]["medium"] = "optical"
    from_yaml = check_limits(load_layout(write_layout(doc)))
    from_vary = check_limits(apply_vary(NVL72, "cable", "optical"))
    copper = check_limits(NVL72)
    pair_m = _nvl72_pair_metres()
    spine_mm2 = 450 * 60 * 0.7
    for r in (from_yaml, from_vary):
        c = by_name(r)
        # Fill: 5,184 fibres (one per lane per direction) of pi/4 x 3.0^2 / 16 = 0.44 mm^2.
        assert c["cables: backplane pairs"].value == 5184
        assert c["cables: backplane pairs"].limit == math.floor(
            spine_mm2 / (math.pi / 4 * 3.0**2 / 16)
        )
        assert c["cables: bend radius"].value == pytest.approx(10 * 3.0e-3 + 0.025)  # 55 mm
        assert r.totals["cable_mass_kg"] == pytest.approx(pair_m / 16 * 0.0075)
        assert c["cables: optical reach"].limit == 500.0
        assert "optical figures" in c["cables: bend radius"].note
    cu = by_name(copper)
    assert cu["cables: backplane pairs"].limit == math.floor(
        spine_mm2 / (math.pi / 4 * 6.7**2 / 16)
    )
    assert cu["cables: bend radius"].value == pytest.approx(10 * 6.7e-3 + 0.025)  # 92 mm
    assert copper.totals["cable_mass_kg"] == pytest.approx(pair_m / 16 * 0.15)  # 26.9 kg
    # The frame carries the difference: the rest of the rack is the same.
    lighter = pair_m / 16 * (0.15 - 0.0075)
    assert by_name(from_vary)["mass vs frame rating"].value == pytest.approx(
        cu["mass vs frame rating"].value - lighter
    )


def test_optical_reach_follows_the_lane_rate(write_layout: Callable[..., Path]) -> None:
    """Multimode optics reach 50 m at 100G-PAM4 lanes; above, single-mode DR 500 m."""
    doc = bundled_doc("gb200-nvl72")
    doc["scale_up"]["medium"] = "optical"
    doc["scale_up"]["link"] = {"name": "nvlink5", "lane_rate": "100 Gb/s", "bandwidth": "25 GB/s"}
    c = by_name(check_limits(load_layout(write_layout(doc))))
    assert c["cables: optical reach"].limit == 50.0
    # Longest run: compute tray at U42 to switch tray at U24, 18 U, + 0.15 m slack.
    assert c["cables: optical reach"].value == pytest.approx(18 * 0.04445 + 0.15)
    assert reach_m("optical", 200e9) == 500.0
    assert reach_m("optical", 400e9) == 500.0  # beyond the last class: its reach


def test_a_layouts_own_cable_figures_win(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("gb200-nvl72")
    doc["scale_up"]["medium"] = "optical"
    doc["scale_up"]["cable"] = {"diameter": "4 mm", "reach": "20 m"}
    lay = load_layout(write_layout(doc))
    c = by_name(check_limits(lay))
    assert c["cables: bend radius"].value == pytest.approx(10 * 4e-3 + 0.025)
    assert c["cables: optical reach"].limit == 20.0
    assert "the layout gives diameter, reach" in c["cables: bend radius"].note
    # Varying the medium swaps the whole cable: back to copper's own figures.
    back = by_name(check_limits(apply_vary(lay, "cable", "copper")))
    assert back["cables: bend radius"].value == pytest.approx(10 * 6.7e-3 + 0.025)
    assert back["cables: copper reach"].limit == 1.0


def test_doubled_domain_fails_naming_each_limit(write_layout: Callable[..., Path]) -> None:
    doc = bundled_doc("gb200-nvl72")
    for d in doc["rack"]["devices"]:
        if d["kind"] == "compute_tray":
            d["count"] *= 2  # 144 GPUs, nothing else changed
    r = check_limits(load_layout(write_layout(doc)))
    failed = {c.name for c in r.checks if c.ok is False}
    assert not r.ok
    for name in (
        "rack space",
        "power vs rack budget",
        "cooling: liquid heat",
        "mass vs frame rating",
        "switch ports",
        "cables: copper reach",
    ):
        assert name in failed
    assert by_name(r)["cables: backplane pairs"].value == 2 * 5184


def test_largest_domain_is_72_and_says_why() -> None:
    d = largest_domain(NVL72)
    assert d.max_domain_size == 72
    assert set(d.binding_all) == {"mass", "reach"}
    assert d.by_limit["power"] == 80  # (132 kW x 0.95 - 0.8 kW) / 5.4 kW trays + switches
    # More frame rating: reach still binds at 72; optics lift reach, then heat binds.
    assert largest_domain(apply_vary(NVL72, "max_mass", "3 t")).binding_all == ("reach",)
    far = largest_domain(apply_vary(apply_vary(NVL72, "max_mass", "3 t"), "cable", "optical"))
    # Optics cost ~20 kW at 72 GPUs: the liquid loop (115 kW) and the budget now bind.
    assert far.binding in ("cooling", "power")
    assert far.by_limit["reach"] > 72
    assert far.max_domain_size < 72


def test_missing_data_is_not_checked() -> None:
    r = check_limits(load_layout("tpu-v5p-4x4x4"))
    c = by_name(r)
    assert c["power vs rack budget"].ok is None
    assert c["power vs rack budget"].note.startswith("not checked: no data for power of")
    assert c["mass vs frame rating"].note.startswith("not checked: no data for mass of")
    assert r.ok  # nothing checked fails
    dgx = by_name(check_limits(load_layout("dgx-h100")))
    assert dgx["cables: backplane pairs"].note.startswith("not applicable")


def test_reach_by_lane_rate() -> None:
    assert reach_m("copper", 200e9) == 1.0
    assert reach_m("copper", 100e9) == 2.0
    assert reach_m("copper", 25e9) == 7.0
    assert reach_m("active_copper", 200e9) == 7.0
    assert reach_m("pcb", 200e9) is None


def test_bad_vary() -> None:
    with pytest.raises(TopoError, match="unknown key 'power'"):
        apply_vary(NVL72, "power", "1 kW")
    with pytest.raises(TopoError, match='expected a power like "132 kW"'):
        apply_vary(NVL72, "power_budget", "800 Gb/s")
    with pytest.raises(TopoError, match="expected copper, active_copper or optical"):
        apply_vary(NVL72, "cable", "string")


@settings(max_examples=30, deadline=None)
@given(budget=st.floats(1e3, 1e6), more=st.floats(1.0, 10.0))
def test_a_larger_power_budget_never_turns_pass_into_fail(budget: float, more: float) -> None:
    lo = dataclasses.replace(NVL72, rack=dataclasses.replace(NVL72.rack, power_budget_w=budget))
    hi = dataclasses.replace(
        NVL72, rack=dataclasses.replace(NVL72.rack, power_budget_w=budget * more)
    )
    for a, b in zip(check_limits(lo).checks, check_limits(hi).checks, strict=True):
        assert not (a.ok is True and b.ok is False)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60))
def test_a_larger_domain_never_needs_fewer_cables_or_less_power(n: int) -> None:
    a = by_name(check_limits(with_trays(NVL72, n)))
    b = by_name(check_limits(with_trays(NVL72, n + 1)))
    assert b["cables: backplane pairs"].value >= a["cables: backplane pairs"].value
    assert b["power vs rack budget"].value >= a["power vs rack budget"].value
    assert b["mass vs frame rating"].value >= a["mass vs frame rating"].value


def test_vary_power_shelves_adds_capacity_space_and_mass() -> None:
    """NVL72 has 4 + 4 shelves of 33 kW, 1 U and 15 kg each (the layout's elevation)."""
    base = by_name(check_limits(NVL72))
    base_mass = check_limits(NVL72).totals["mass_kg"]
    for n in (0, 3, 10):
        varied = apply_vary(NVL72, "power_shelves", str(n))
        shelves = [d for d in varied.rack.devices if d.kind == "power_shelf"]
        assert sum(d.count for d in shelves) == n
        r = check_limits(varied)
        c = by_name(r)
        # Installed capacity over N+N redundancy: n x 33 kW / 2.
        assert c["power vs shelves"].limit == pytest.approx(n * 33e3 / 2)
        # 37 U used with 8 shelves (2 ToR + 8 shelves + 18 compute + 9 switch trays).
        assert c["rack space"].value == 2 + n + 18 + 9
        assert base["rack space"].value == 37
        assert r.totals["mass_kg"] == pytest.approx(base_mass + (n - 8) * 15)
        # The load does not change with the shelves.
        assert c["power vs rack budget"].value == base["power vs rack budget"].value
    # None left: the rack has no capacity at all and the check fails (not "not checked").
    zero = by_name(check_limits(apply_vary(NVL72, "power_shelves", "0")))["power vs shelves"]
    assert zero.ok is False

    # 3 shelves carry 3 x 33 / 2 = 49.5 kW. A rack of t trays draws (t x 5.4 kW + s x 1.3 kW
    # switch trays, s = ceil(t x 4 GPUs x 18 links / 144 ports), + 2 x 0.4 kW ToR) / 0.95:
    # 7 trays (4 switch trays) 46.1 kW fit, 8 trays (4) 51.8 kW do not: 28 GPUs.
    def load_kw(trays: int) -> float:
        switch_trays = math.ceil(trays * 4 * 18 / 144)
        return (trays * 5.4 + switch_trays * 1.3 + 2 * 0.4) / 0.95

    lim = largest_domain(apply_vary(NVL72, "power_shelves", "3"))
    trays = max(t for t in range(1, 19) if load_kw(t) <= 3 * 33 / 2)
    assert trays == 7
    assert lim.by_limit["power"] == 4 * trays


def test_power_shelves_in_a_design_study() -> None:
    from topo.design import apply_design

    lay = apply_design(NVL72, {"power_shelves": 10, "power_budget": "200 kW"})
    c = by_name(check_limits(lay))
    assert c["power vs shelves"].limit == pytest.approx(10 * 33e3 / 2)
    assert c["power vs rack budget"].limit == 200e3


@pytest.mark.parametrize("value", ["-1", "2.5", "two", "", "1001", "1e3", "True"])
def test_bad_power_shelves_is_an_input_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import run_cli

    code, out, err = run_cli(capsys, "limits", "gb200-nvl72", "--vary", f"power_shelves={value}")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "power_shelves: expected a whole number of shelves from 0 to 1000" in lines[0]
    assert out == ""


def test_power_shelves_needs_a_shelf_to_copy(capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import run_cli

    code, _, err = run_cli(capsys, "limits", "dgx-h100", "--vary", "power_shelves=2")
    assert code == 2
    assert "dgx-h100 has no power_shelf in its rack to copy" in err


# ---- one test per limit function of the CHECKS table, called directly on a bundled layout.
# NVL72 facts (layouts/gb200-nvl72.yaml): 2 ToR (1 U, 10 kg, 400 W, air), 8 power shelves
# (1 U, 15 kg, 33 kW), 18 compute trays (1 U, 40 kg, 5.4 kW, 85% liquid), 9 switch trays
# (1 U, 30 kg, 1.3 kW, 80% liquid, 144 ports); 48 U, 600 x 1200 mm, frame 175 kg, 25 kg
# coolant, 1,400 kg rating, 132 kW budget, 50 V / 2,800 A busbar, liquid 115 kW and 200 L/min
# at dT 10 K, air 30 kW; 0.95 conversion, N+N shelves; NVLink 5: 18 links of 2 x 200 Gb/s
# lanes (50 GB/s a link each way); copper; floor 12 kPa = 12e3 / 9.80665 kg/m^2.
NVL72_DEVICES_W = 2 * 400 + 18 * 5.4e3 + 9 * 1.3e3  # 109.7 kW
NVL72_POWER_W = NVL72_DEVICES_W / 0.95
NVL72_LIQUID_W = 18 * 5.4e3 * 0.85 + 9 * 1.3e3 * 0.8  # 91.98 kW
NVL72_MASS_KG = 2 * 10 + 8 * 15 + 18 * 40 + 9 * 30 + 175 + 25  # + the cables' mass
KYBER = load_layout("kyber-nvl576")
DGX = load_layout("dgx-h100")


def test_the_table_is_the_report_in_order() -> None:
    assert [e.family for e in CHECKS] == [
        "space",
        *["power"] * 3,
        *["cooling"] * 3,
        "mass",
        "floor",
        "cables",
        "bend",
        "reach",
        "ports",
    ]
    for lay in (NVL72, KYBER, DGX, load_layout("tpu-v5p-4x4x4")):
        facts = rack_facts(lay)
        assert check_limits(lay).checks == tuple(e.check(lay, facts) for e in CHECKS)


def test_check_rack_space() -> None:
    c = check_rack_space(NVL72, rack_facts(NVL72))
    assert (c.value, c.limit) == (2 + 8 + 18 + 9, 48)  # every device 1 U
    # Kyber: 4 x 18 half-U compute blades + 6 x 2 U switch blades fill all 48 U.
    k = check_rack_space(KYBER, rack_facts(KYBER))
    assert (k.value, k.limit, k.ok) == (4 * 18 * 0.5 + 6 * 2, 48, True)
    full = dataclasses.replace(KYBER, rack=dataclasses.replace(KYBER.rack, height_u=47))
    assert check_rack_space(full, rack_facts(full)).ok is False


def test_check_power_budget() -> None:
    c = check_power_budget(NVL72, rack_facts(NVL72))
    assert c.value == pytest.approx(NVL72_POWER_W)  # 115.5 kW
    assert (c.limit, c.ok) == (132e3, True)
    assert c.note == "devices 109.7 kW / 0.95 conversion"
    # Optics: 2 ends x 72 GPUs x 18 links x 400 Gb/s / 1.6 Tb/s x 30 W = 19.44 kW more,
    # (109.7 + 19.44) / 0.95 = 135.9 kW: over the 132 kW budget.
    optical = apply_vary(NVL72, "cable", "optical")
    port_w = 2 * 72 * 18 * 2 * 200e9 / 1.6e12 * 30
    o = check_power_budget(optical, rack_facts(optical))
    assert o.value == pytest.approx((NVL72_DEVICES_W + port_w) / 0.95)
    assert o.ok is False
    assert "incl. 19.4 kW of optical ports" in o.note


def test_check_power_shelves() -> None:
    c = check_power_shelves(NVL72, rack_facts(NVL72))
    assert c.value == pytest.approx(NVL72_POWER_W)
    assert c.limit == 8 * 33e3 / 2  # N+N: half the 264 kW installed
    assert c.note == "8 shelves, installed 264 kW / redundancy 2"
    k = check_power_shelves(KYBER, rack_facts(KYBER))  # no shelves in the rack
    assert k.limit is None
    assert k.note == "not checked: no data for power shelves with capacity"


def test_check_busbar_current() -> None:
    c = check_busbar_current(NVL72, rack_facts(NVL72))
    assert c.value == pytest.approx(NVL72_POWER_W / 50)  # 2,309 A
    assert (c.limit, c.ok) == (2800, True)
    # Kyber: (72 x 7.6 kW + 6 x 3 kW) / 0.98 at 800 V = 720.9 A of 1,000 A.
    k = check_busbar_current(KYBER, rack_facts(KYBER))
    assert k.value == pytest.approx((72 * 7.6e3 + 6 * 3e3) / 0.98 / 800)
    assert k.limit == 1000


def test_check_liquid_heat() -> None:
    c = check_liquid_heat(NVL72, rack_facts(NVL72))
    assert c.value == pytest.approx(NVL72_LIQUID_W)
    assert (c.limit, c.ok) == (115e3, True)
    d = check_liquid_heat(DGX, rack_facts(DGX))  # air-cooled DGX H100
    assert (d.value, d.note) == (None, "not applicable: no device is liquid-cooled")


def test_check_coolant_flow() -> None:
    c = check_coolant_flow(NVL72, rack_facts(NVL72))
    # Q / (c_p rho dT) with PG25 (3,920 J/kg K, 1,021.5 kg/m^3) at 10 K: 137.8 L/min.
    assert c.value == pytest.approx(NVL72_LIQUID_W / (3920 * 1021.5 * 10))
    assert c.value * 60e3 == pytest.approx(137.8, abs=0.1)
    assert c.limit == pytest.approx(200e-3 / 60)
    assert "1.50 L/min per kW" in c.note


def test_check_air_heat() -> None:
    c = check_air_heat(NVL72, rack_facts(NVL72))
    # Heat not in the liquid: the ToR, the trays' air shares and conversion losses.
    assert c.value == pytest.approx(NVL72_POWER_W - NVL72_LIQUID_W)  # 23.5 kW
    assert (c.limit, c.ok) == (30e3, True)
    tpu = load_layout("tpu-v5p-4x4x4")  # its trays give no power
    t = check_air_heat(tpu, rack_facts(tpu))
    assert t.value is None
    assert t.note.startswith("not checked: no data for power of TPU v5p tray")


def test_check_frame_mass() -> None:
    c = check_frame_mass(NVL72, rack_facts(NVL72))
    cable_kg = _nvl72_pair_metres() / 16 * 0.150  # 16-pair cables at 150 g/m
    assert c.value == pytest.approx(NVL72_MASS_KG + cable_kg)  # 1,357 kg
    assert (c.limit, c.ok) == (1400, True)
    assert c.note == "devices + frame + 27 kg of scale-up cable (copper, 150 g/m) + 25 kg coolant"


def test_check_floor_load() -> None:
    facts = rack_facts(NVL72)
    c = check_floor_load(NVL72, facts)
    # Over the footprint plus half of each of the two 1.2 m aisles: 0.6 x (1.2 + 1.2) m^2.
    assert c.value == pytest.approx(facts.mass_kg / (0.6 * 2.4))  # 942 kg/m^2
    assert c.limit == pytest.approx(12e3 / 9.80665)  # 1,224 kg/m^2
    assert c.ok is True
    # Kyber: 72 x 25 + 6 x 30 + 600 kg frame = 2,580 kg over 1.44 m^2 = 1,792 of 2,000.
    k = check_floor_load(KYBER, rack_facts(KYBER))
    assert k.value == pytest.approx((72 * 25 + 6 * 30 + 600) / 1.44)
    assert k.limit == 2000


def test_check_backplane_pairs() -> None:
    c = check_backplane_pairs(NVL72, rack_facts(NVL72))
    assert c.value == 72 * 18 * 2 * 2  # GPUs x links x lanes x directions
    # A 450 x 60 mm spine at 0.7 packing over pi/4 x 6.7^2 / 16 mm^2 a pair.
    assert c.limit == math.floor(0.45 * 0.06 * 0.7 / (math.pi / 4 * 6.7e-3**2 / 16))  # 8,577
    k = check_backplane_pairs(KYBER, rack_facts(KYBER))
    assert (k.value, k.note) == (None, "not applicable: board traces (pcb)")


def test_check_bend_radius() -> None:
    c = check_bend_radius(NVL72, rack_facts(NVL72))
    assert c.value == pytest.approx(10 * 6.7e-3 + 25e-3)  # 92 mm
    assert c.limit == 0.1
    tight = apply_vary(NVL72, "rear_clearance", "90 mm")
    assert check_bend_radius(tight, rack_facts(tight)).ok is False
    d = check_bend_radius(DGX, rack_facts(DGX))
    assert d.note == "not applicable: the domain is one board"


def test_check_reach() -> None:
    c = check_reach(NVL72, rack_facts(NVL72))
    # Top compute tray (U42) to the lowest switch tray (U24): 18 U of 44.45 mm + 0.15 m slack.
    assert c.name == "cables: copper reach"
    assert c.value == pytest.approx(18 * 0.04445 + 0.15)  # 0.95 m
    assert c.limit == 1.0  # passive copper at 200 Gb/s a lane
    optical = apply_vary(NVL72, "cable", "optical")
    o = check_reach(optical, rack_facts(optical))
    assert (o.name, o.limit) == ("cables: optical reach", 500.0)


def test_check_switch_ports() -> None:
    c = check_switch_ports(NVL72, rack_facts(NVL72))
    assert (c.value, c.limit) == (72 * 18, 9 * 144)  # 1,296 = 1,296
    k = check_switch_ports(KYBER, rack_facts(KYBER))
    assert (k.value, k.limit) == (576 * 18, 6 * 1728)  # 10,368 = 10,368
    more = with_trays(NVL72, 19)  # 76 GPUs: 10 switch trays for 1,368 links
    s = check_switch_ports(more, rack_facts(more))
    assert (s.value, s.limit) == (76 * 18, 10 * 144)
    d = check_switch_ports(DGX, rack_facts(DGX))
    assert d.note == "not applicable: no switch trays in the rack"
