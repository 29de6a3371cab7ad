"""The hardware catalogue: every required entry, facts against the reference sheet, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from topo.catalogue import load_catalogue
from topo.errors import LayoutError

# Issue 2's list of accelerators, by topo name.
REQUIRED = [
    "h100-sxm",
    "h200",
    "b200",
    "gb200",
    "gb300",
    "mi300x",
    "mi355x",
    "tpu-v4",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "trainium2",
]
LINKS = [
    "nvlink4",
    "nvlink5",
    "ici-v4",
    "ici-v5e",
    "ici-v5p",
    "ici-v6e",
    "xgmi",
    "ib-ndr",
    "ib-xdr",
    "eth-400g",
    "eth-800g",
    "pcie5-x16",
    "pcie6-x16",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_accelerators_are_complete(name: str) -> None:
    acc = load_catalogue().accelerator(name)
    assert acc.peak_flop_per_s["bf16"] > 0
    assert acc.hbm_capacity_bytes > 0
    assert acc.hbm_bandwidth_bytes_per_s
    assert acc.hbm_bandwidth_bytes_per_s > 0
    assert acc.sources, "every entry names its sources"
    assert 0 < acc.efficiency.hbm <= 1
    assert 0 < acc.efficiency.compute <= 1


# Hand-copied from reference/hardware_specs.yaml (dense TFLOP/s, TB/s, GB, GB/s bidirectional).
@pytest.mark.parametrize(
    ("name", "bf16_tflops", "hbm_tbps", "hbm_gb", "up_gbps_bidir", "power_w"),
    [
        ("h100-sxm", 989.4, 3.35, 80, 900, 700),
        ("h200", 989.4, 4.8, 141, 900, 700),
        ("b200", 2250, 8.0, 180, 1800, 1000),
        ("gb200", 2500, 8.0, 186, 1800, 1200),
        ("gb300", 2500, 8.0, 288, 1800, 1400),
        ("mi300x", 1307.4, 5.3, 192, 896, 750),
        ("tpu-v5p", 459, 2.765, 95, 1200, None),
        ("tpu-v6e", 918, 1.638, 32, 800, None),
        ("tpu-v5e", 197, 0.819, 16, 400, None),
    ],
)
def test_facts_match_the_reference(
    name: str,
    bf16_tflops: float,
    hbm_tbps: float,
    hbm_gb: float,
    up_gbps_bidir: float,
    power_w: float | None,
) -> None:
    acc = load_catalogue().accelerator(name)
    assert acc.peak_flop_per_s["bf16"] == pytest.approx(bf16_tflops * 1e12)
    assert acc.hbm_bandwidth_bytes_per_s == pytest.approx(hbm_tbps * 1e12)
    assert acc.hbm_capacity_bytes == pytest.approx(hbm_gb * 1e9)
    # Catalogue bandwidths are per direction: half the bidirectional datasheet figure.
    assert acc.scale_up_bandwidth_bytes_per_s == pytest.approx(up_gbps_bidir * 1e9 / 2)
    assert acc.power_w == power_w


def test_gib_capacities_stay_gib() -> None:
    cat = load_catalogue()
    assert cat.accelerator("tpu-v4").hbm_capacity_bytes == 32 * 2**30
    assert cat.accelerator("trainium2").hbm_capacity_bytes == 96 * 2**30


def test_sparse_figures_are_not_used() -> None:
    # H100 datasheet headline 1,979 TFLOP/s bf16 is with sparsity; dense is half.
    assert load_catalogue().accelerator("h100").peak_flop_per_s["bf16"] == 989.4e12


@pytest.mark.parametrize("name", LINKS)
def test_links_have_bandwidth_and_latency(name: str) -> None:
    link = load_catalogue().link(name)
    assert link.bandwidth_bytes_per_s > 0
    assert link.latency_s > 0


@pytest.mark.parametrize(
    ("name", "gbytes_per_s", "lanes", "lane_gbps"),
    [
        ("nvlink4", 25, 2, 100),  # 18 x 25 = 450 GB/s per direction on H100
        ("nvlink5", 50, 2, 200),  # 18 x 50 = 900 GB/s per direction on B200
        ("ib-ndr", 50, 4, 100),  # 400 Gb/s
        ("ib-xdr", 100, 4, 200),  # 800 Gb/s
        ("xgmi", 64, 16, 32),  # 16 x 32 Gb/s = 64 GB/s
        ("pcie5-x16", 16 * 32 * 128 / 130 / 8, 16, 32),
    ],
)
def test_link_arithmetic(name: str, gbytes_per_s: float, lanes: int, lane_gbps: float) -> None:
    link = load_catalogue().link(name)
    assert link.bandwidth_bytes_per_s == pytest.approx(gbytes_per_s * 1e9, rel=1e-3)
    assert link.lanes == lanes
    assert link.lane_rate_bits_per_s == lane_gbps * 1e9
    # Lanes x lane rate bound the link (equal for NVLink and IB; PCIe loses its encoding).
    assert link.bandwidth_bytes_per_s <= lanes * lane_gbps * 1e9 / 8 * (1 + 1e-9)


def test_aliases_and_case() -> None:
    cat = load_catalogue()
    assert cat.accelerator("H100").name == "h100-sxm"
    assert cat.link("NDR").name == "ib-ndr"


def test_unknown_name_suggests() -> None:
    with pytest.raises(LayoutError, match="did you mean 'gb200'"):
        load_catalogue().accelerator("gb2000")


def test_user_catalogue_overrides_and_adds(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "accelerators:\n"
        "  - name: h100-sxm\n"
        "    hbm_bandwidth: 3 TB/s\n"  # override one field
        "  - name: my-chip\n"
        "    peak_compute: {bf16: 100 TFLOP/s}\n"
        "    hbm_capacity: 64 GB\n"
        "    hbm_bandwidth: 1 TB/s\n"
        "links:\n"
        "  - {name: my-link, bandwidth: 10 GB/s, latency: 1 us}\n",
        encoding="utf-8",
    )
    cat = load_catalogue([f])
    assert cat.accelerator("h100-sxm").hbm_bandwidth_bytes_per_s == 3e12
    assert cat.accelerator("h100-sxm").peak_flop_per_s["bf16"] == 989.4e12  # kept
    assert cat.accelerator("my-chip").hbm_capacity_bytes == 64e9
    assert cat.link("my-link").bandwidth_bytes_per_s == 10e9
    # The bundled catalogue is not changed by a user's file.
    assert load_catalogue().accelerator("h100-sxm").hbm_bandwidth_bytes_per_s == 3.35e12


def test_bad_user_catalogue_reports_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "accelerators:\n"
        "  - name: new-chip\n"  # incomplete new entry
        "    hbm_bandwidth: 1 TB/s\n"
        "  - name: h200\n"
        "    hbm_bandwith: 5 TB/s\n",  # misspelt key
        encoding="utf-8",
    )
    with pytest.raises(LayoutError) as e:
        load_catalogue([f])
    text = str(e.value)
    assert (
        "bad.yaml:5: accelerators[1].hbm_bandwith: unknown key; did you mean 'hbm_bandwidth'"
        in text
    )


def test_incomplete_new_entry_names_missing_keys(tmp_path: Path) -> None:
    f = tmp_path / "new.yaml"
    f.write_text("accelerators:\n  - name: new-chip\n    hbm_bandwidth: 1 TB/s\n", encoding="utf-8")
    with pytest.raises(
        LayoutError,
        match=r"new.yaml:2: accelerators\[0\]: missing keys "
        r"peak_compute, hbm_capacity",
    ):
        load_catalogue([f])
