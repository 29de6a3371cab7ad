"""Loading layouts: bundled ones load; every kind of bad input is reported with file and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import LAYOUT_NAMES, bundled_doc

from topo.errors import LayoutError
from topo.layout import MAX_GPUS, find_layout, load_layout

WriteLayout = Callable[..., Path]


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_bundled_layout_loads(name: str) -> None:
    lay = load_layout(name)
    assert lay.name == name
    assert lay.n_gpus == lay.n_domains * lay.gpus_per_domain


def test_bundled_names_cover_the_issue() -> None:
    want = {
        "dgx-h100",
        "dgx-h100-superpod",
        "dgx-h200",
        "dgx-b200",
        "gb200-nvl72",
        "gb200-nvl72-x16",
        "mi300x-8",
        "tpu-v5p-4x4x4",
        "kyber-nvl576",
    }
    assert want <= set(LAYOUT_NAMES)


def test_nvl72_facts() -> None:
    lay = load_layout("gb200-nvl72")
    assert (lay.n_gpus, lay.gpus_per_domain, lay.n_domains) == (72, 72, 1)
    assert lay.rack.switch_chips == 18  # 9 trays x 2 chips
    assert lay.scale_up.bandwidth_per_gpu_bytes_per_s == 18 * 50e9
    assert lay.rack.power_budget_w == 132e3
    assert lay.rack.max_mass_kg == 1400
    # 18 trays x 5.4 kW, the sourced compute-tray figure.
    trays = [d for d in lay.rack.devices if d.kind == "compute_tray"]
    assert sum(d.count * d.power_w for d in trays if d.power_w) == pytest.approx(97.2e3)


def test_extends_inherits_and_overrides() -> None:
    x16 = load_layout("gb200-nvl72-x16")
    one = load_layout("gb200-nvl72")
    assert x16.cluster.racks == 16
    assert x16.rack == one.rack
    assert x16.n_gpus == 1152
    assert x16.n_domains == 16
    h200 = load_layout("dgx-h200")
    assert h200.accelerator.name == "h200"
    assert h200.scale_up.switches == 4  # inherited from dgx-h100


def planted(write_layout: WriteLayout) -> Path:
    doc = bundled_doc("gb200-nvl72")
    doc["namex"] = 1  # misspelt key
    doc["rack"]["power_budget"] = "800 Gb/s"  # a bandwidth in a power field
    doc["rack"]["devices"][2]["count"] = -4  # a negative count
    doc["accelerator"] = "h100x-unknown"  # an unknown accelerator
    return write_layout(doc, "bad-layout.yaml")


def test_four_planted_faults_four_lines(write_layout: WriteLayout) -> None:
    path = planted(write_layout)
    with pytest.raises(LayoutError) as e:
        load_layout(path)
    lines = str(e.value).splitlines()
    assert len(lines) == 4
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", line) for line in lines)
    text = "\n".join(lines)
    assert "namex: unknown key; did you mean 'name'?" in text
    assert "rack.power_budget: expected a power like \"132 kW\", got '800 Gb/s'" in text
    assert "rack.devices[2].count: expected a whole number from 1 to 1000, got -4" in text
    assert "accelerator: unknown accelerator 'h100x-unknown'" in text


def test_line_numbers_point_at_the_key(write_layout: WriteLayout) -> None:
    path = write_layout(
        "name: t\n"
        "accelerator: h100\n"
        "rack:\n"
        "  devices:\n"
        "    - kind: compute_tray\n"
        "      gpus: 8\n"
        "      power: 10 kWh\n"
        "scale_up: {topology: switched, switches: 4, domain: tray}\n"
    )
    with pytest.raises(
        LayoutError,
        match=r"layout.yaml:7: rack.devices\[0\].power: "
        r".*unknown unit 'kWh'",
    ):
        load_layout(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping of keys"),
        ("a: [1, 2\n", "not valid YAML"),
        ("a: 1\na: 2\n", r":2: a: duplicate key"),
        ("!!python/object/apply:os.system ['true']\n", "unsupported YAML tag"),
        ("a: !!python/name:os.system\n", "unsupported YAML tag"),
        (
            "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
            "alias bomb",
        ),
        ("accelerator: h100\n", "missing key 'rack'"),
    ],
)
def test_bad_yaml(write_layout: WriteLayout, text: str, match: str) -> None:
    with pytest.raises(LayoutError, match=match):
        load_layout(write_layout(text))


@pytest.mark.parametrize("value", ["-1", "parts.yaml", "{a: 1}"])
def test_a_catalogue_that_is_not_a_list_is_an_input_error(tmp_path: Path, value: str) -> None:
    """Found by the fuzzer: the layout's catalogue key was iterated after its check failed
    (an internal error); now it is the file's own problem, with its line."""
    p = tmp_path / "layout.yaml"
    p.write_text(f"extends: dgx-h100\nname: x\ncatalogue: {value}\n")
    with pytest.raises(LayoutError, match=r"layout.yaml:3: catalogue: expected a list"):
        load_layout(p)


def test_not_utf8_and_nul(tmp_path: Path) -> None:
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(LayoutError, match="not UTF-8"):
        load_layout(p)
    p.write_bytes(b"a: 1\x00\n")
    with pytest.raises(LayoutError, match="NUL"):
        load_layout(p)


def test_unknown_bundled_name_suggests() -> None:
    with pytest.raises(LayoutError, match="did you mean 'gb200-nvl72'"):
        find_layout("gb200-nvl27")


def test_absurd_sizes_refused_before_building(write_layout: WriteLayout) -> None:
    doc = bundled_doc("gb200-nvl72")
    doc["cluster"]["racks"] = 10**9
    with pytest.raises(LayoutError, match=r"cluster.racks: expected a whole number from 1 to"):
        load_layout(write_layout(doc))
    doc["cluster"]["racks"] = 5000  # 360,000 GPUs: in range per field, too many together
    with pytest.raises(LayoutError, match=f"at most {MAX_GPUS}"):
        load_layout(write_layout(doc))


def base_tray_layout() -> dict:
    return {
        "name": "t",
        "accelerator": "h100-sxm",
        "rack": {"devices": [{"kind": "compute_tray", "gpus": 8, "height_u": 8}]},
        "scale_up": {"domain": "tray", "topology": "switched", "switches": 4},
    }


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["scale_up"].pop("switches"), "a switched domain needs switch chips"),
        (lambda d: d["scale_up"].update(topology="torus"), "missing key 'dims'"),
        (
            lambda d: d["scale_up"].update(topology="torus", dims=[2, 2]),
            r"torus 2x2 = 4 chips, but a domain holds 8",
        ),
        (
            lambda d: d["scale_up"].update(topology="full_mesh", links_per_gpu=3),
            "a full mesh of 8 GPUs needs at least 7 links per GPU, got 3",
        ),
        (lambda d: d["scale_up"].update(topology="ring"), "expected one of switched, torus"),
        (lambda d: d["scale_up"].update(domain="2 racks"), "needs a multiple of 2 racks"),
        (lambda d: d["scale_up"].update(domain="pod"), r'expected "tray", "rack" or "N racks"'),
        (lambda d: d["scale_up"].update(link="nvlink9"), "unknown link 'nvlink9'"),
        (lambda d: d["rack"]["devices"][0].pop("gpus"), "a compute_tray needs gpus"),
        (lambda d: d["rack"]["devices"][0].update(kind="switch_tray"), "at least one compute_tray"),
        (lambda d: d["rack"]["devices"][0].update(height_u="8U"), "expected a number"),
        (
            lambda d: d.update(
                accelerator="mi355x", scale_up={"topology": "full_mesh", "domain": "tray"}
            ),
            "missing key 'link'",
        ),
        (
            lambda d: d.update(accelerator={"name": "mine", "hbm_capacity": "10 GB"}),
            "an inline entry not in the catalogue needs peak_compute",
        ),
        (
            lambda d: d.update(
                accelerator={
                    "name": "mine",
                    "peak_compute": {"bf17": "1 PFLOP/s"},
                    "hbm_capacity": "10 GB",
                }
            ),
            r"accelerator.peak_compute.bf17: unknown key; expected one of .*did you mean 'bf16'",
        ),
        (lambda d: d.update(extends="no-such-layout"), "no bundled layout of that name"),
        (lambda d: d.update(catalogue=["missing.yaml"]), "missing.yaml: cannot read"),
    ],
)
def test_cross_checks(write_layout: WriteLayout, change: Callable, match: str) -> None:
    doc = base_tray_layout()
    change(doc)
    with pytest.raises(LayoutError, match=match):
        load_layout(write_layout(doc))


def test_base_tray_layout_is_valid(write_layout: WriteLayout) -> None:
    lay = load_layout(write_layout(base_tray_layout()))
    assert lay.scale_up.medium == "pcb"  # inside a tray, by default
    assert lay.scale_up.links_per_gpu == 18  # the accelerator's default
    assert lay.scale_out.nic_bandwidth_bytes_per_s == 50e9  # 400 Gb/s, the accelerator's
    assert lay.rack.width_m == 0.6
    assert lay.rack.depth_m == 1.2


def test_inline_accelerator_overrides_catalogue(write_layout: WriteLayout) -> None:
    doc = base_tray_layout()
    doc["accelerator"] = {"name": "h100-sxm", "hbm_bandwidth": "3 TB/s"}
    lay = load_layout(write_layout(doc))
    assert lay.accelerator.hbm_bandwidth_bytes_per_s == 3e12
    assert lay.accelerator.peak_flop_per_s["bf16"] == 989.4e12


def test_inline_link_and_catalogue_file(write_layout: WriteLayout, tmp_path: Path) -> None:
    (tmp_path / "parts.yaml").write_text(
        "links:\n  - {name: fastlink, bandwidth: 100 GB/s, latency: 0.3 us}\n",
        encoding="utf-8",
    )
    doc = base_tray_layout()
    doc["catalogue"] = ["parts.yaml"]
    doc["scale_up"]["link"] = "fastlink"
    lay = load_layout(write_layout(doc))
    assert lay.scale_up.link.bandwidth_bytes_per_s == 100e9
    doc["scale_up"]["link"] = {"name": "inline", "bandwidth": "10 GB/s"}
    assert load_layout(write_layout(doc)).scale_up.bandwidth_per_gpu_bytes_per_s == 18 * 10e9


def test_extends_cycle(write_layout: WriteLayout) -> None:
    write_layout({"extends": "b.yaml", "name": "a"}, "a.yaml")
    b = write_layout({"extends": "a.yaml", "name": "b"}, "b.yaml")
    with pytest.raises(LayoutError, match="cycle"):
        load_layout(b)


def test_errors_in_a_base_name_the_base_file(write_layout: WriteLayout) -> None:
    doc = base_tray_layout()
    doc["rack"]["devices"][0]["mass"] = "heavy"
    write_layout(doc, "base.yaml")
    child = write_layout({"extends": "base.yaml", "name": "child"}, "child.yaml")
    with pytest.raises(LayoutError, match=r"base.yaml:\d+: rack.devices\[0\].mass"):
        load_layout(child)
