"""The kernel cost layer: measured efficiencies, floors, one collective answer, DeepEP."""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.build import build_graph, gpu_nodes
from topo.calibrate import load_measurements, validate
from topo.catalogue import load_catalogue
from topo.collectives import collective
from topo.kernels import (
    gemm_basis,
    gemm_efficiency,
    gemm_time,
    hbm_fraction,
    kernel_floor,
    leave_one_out,
    tables,
)
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import ACT_BYTES, CommModel, Workload, comm_model, decode, expert_all_to_all
from topo.place import Plan, place
from topo.routing import Fabric

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ROOT / "validation" / "components.yaml"
CAT = load_catalogue()
H100 = CAT.accelerator("h100-sxm")


def test_kernel_tables_are_current() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "validation" / "derive_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_catalogue_hbm_fractions_follow_the_tables() -> None:
    for name in CAT.accelerators:
        acc = CAT.accelerator(name)
        assert acc.efficiency.hbm == pytest.approx(hbm_fraction(acc), abs=1e-4), name


def test_component_set_within_ten_percent() -> None:
    """Every point loads (H800 included) and each kind's median |error| is <= 10%."""
    pts = load_measurements(COMPONENTS)
    assert len(pts) == 1047
    v = validate(pts)
    for kind in ("gemm", "collective", "bandwidth"):
        median = v.by_kind[kind].median_abs_error
        assert median is not None, kind
        assert median <= 0.10, kind
    # The two series the rule leaves out: XLA's H100 FP8 (above the dense peak) and
    # XLA's MI300X FP8 (a missed fast path): 125 points each.
    excluded = [r for r in v.points if r.excluded]
    assert len(excluded) == 250
    assert {(r.excluded or "").split(" (")[0].split(":")[0][:20] for r in excluded} == {
        "runs above the dense",
        "median 0.016 of peak",
    }


@pytest.mark.parametrize(
    ("chip", "dtype"), [("h100-sxm", "bf16"), ("b200", "bf16"), ("b200", "fp8"), ("mi300x", "bf16")]
)
def test_interpolation_predicts_held_out_shapes(chip: str, dtype: str) -> None:
    """On the 5 x 5 x 5 XLA grids each GEMM, left out, is predicted from the rest to a
    median of 12% (measured shapes are exact by construction, so this is the real test)."""
    err = np.abs(leave_one_out(tables().gemm[(chip, dtype)]))
    assert len(err) == 125
    assert float(np.median(err)) <= 0.12


def test_gemm_efficiency_below_the_table_is_tile_bound() -> None:
    # Below the smallest measured m (256 on H100 bf16) the rate holds down to a 64-row
    # tile and falls with m below it: the compute time of m = 1 is that of m = 64.
    e64 = float(gemm_efficiency(H100, "bf16", 64, 4096, 4096))
    e256 = float(gemm_efficiency(H100, "bf16", 256, 4096, 4096))
    e1 = float(gemm_efficiency(H100, "bf16", 1, 4096, 4096))
    assert e64 == pytest.approx(e256)
    assert e1 == pytest.approx(e64 / 64)


def test_fallback_chips_say_so() -> None:
    tpu = CAT.accelerator("tpu-v5p")
    assert "no bf16 GEMM measured on tpu-v5p" in gemm_basis(tpu, "bf16")
    gb300 = CAT.accelerator("gb300")
    assert "gb200" in gemm_basis(gb300, "fp8")
    assert "no fp4 GEMM measured on b200" in gemm_basis(CAT.accelerator("b200"), "fp4")
    assert gemm_basis(H100, "bf16").startswith("125 measured bf16 GEMMs")


@settings(max_examples=60, deadline=None)
@given(
    chip=st.sampled_from(["h100-sxm", "h200", "b200", "gb200", "mi300x", "tpu-v5p", "h800"]),
    dtype=st.sampled_from(["bf16", "fp8"]),
    m=st.floats(1, 1e5),
    n=st.floats(16, 1e5),
    k=st.floats(16, 1e5),
)
def test_a_kernel_never_beats_its_floors(
    chip: str, dtype: str, m: float, n: float, k: float
) -> None:
    acc = CAT.accelerator(chip)
    if dtype not in acc.peak_flop_per_s:
        dtype = "bf16"
    bw = acc.hbm_bandwidth_bytes_per_s * acc.efficiency.hbm
    t = float(gemm_time(acc, dtype, m, n, k, weight_bytes=1.0, hbm_bw=bw))
    memory = (n * k + m * (n + k) * 2.0) / bw
    compute = 2 * m * n * k / acc.peak_flop_per_s[dtype]
    assert t >= memory * (1 - 1e-9)
    assert t >= compute * (1 - 1e-9)
    assert t >= kernel_floor(acc) * (1 - 1e-9)


LLAMA = load_model("llama-3-70b")
DSV3 = load_model("deepseek-v3")
B = np.array([1.0, 8.0, 64.0, 512.0, 4096.0])


@settings(max_examples=30, deadline=None)
@given(
    faster_hbm=st.floats(1.0, 3.0),
    faster_flops=st.floats(1.0, 3.0),
    model=st.sampled_from(["llama", "dsv3"]),
    weights=st.sampled_from(["bf16", "fp8"]),
)
def test_more_bandwidth_or_flops_never_slows_a_step(
    faster_hbm: float, faster_flops: float, model: str, weights: str
) -> None:
    base = load_layout("dgx-h200")
    acc = base.accelerator
    quicker = dataclasses.replace(
        acc,
        hbm_bandwidth_bytes_per_s=acc.hbm_bandwidth_bytes_per_s * faster_hbm,
        peak_flop_per_s={k: v * faster_flops for k, v in acc.peak_flop_per_s.items()},
    )
    fast = dataclasses.replace(base, accelerator=quicker)
    m, plan = (LLAMA, Plan(tp=8)) if model == "llama" else (DSV3, Plan(tp=1, ep=8, dp=8))
    w = Workload(weights=weights)
    t0 = decode(base, m, plan, B, w).tpot
    t1 = decode(fast, m, plan, B, w).tpot
    assert np.all(t1 <= t0 * (1 + 1e-9))


def test_collective_and_evaluate_charge_the_same() -> None:
    """The TP all-reduce a decode step pays is what topo collective prints for it."""
    layout = load_layout("dgx-h100")
    G = build_graph(layout)
    fabric = Fabric(G)
    placement = place(G, Plan(tp=8))
    comm = comm_model(fabric, placement)
    group = list(placement.groups["tp"][0])
    for batch in (1.0, 16.0, 256.0):
        nbytes = batch * LLAMA.d_model * ACT_BYTES
        in_step = float(CommModel.time(comm.tp_all_reduce, nbytes, Workload().losses))
        alone = collective(fabric, "all-reduce", group, nbytes).time_s
        assert in_step == pytest.approx(alone, rel=1e-9)
        d = decode(layout, LLAMA, Plan(tp=8), np.array([batch]), Workload(), comm)
        # Two all-reduces per layer, 80 layers.
        assert float(d.communication[0]) == pytest.approx(2 * 80 * alone, rel=1e-9)


def test_one_gigabyte_all_reduce_on_dgx_h100() -> None:
    """Within 15% of nccl-tests' 8 x H100 sweep (1 GiB took 4.029 ms, busbw 466 GB/s)."""
    G = build_graph(load_layout("dgx-h100"))
    r = collective(G, "all-reduce", gpu_nodes(G), 2**30)
    assert r.time_s == pytest.approx(4.029e-3, rel=0.15)
    bare = collective(G, "all-reduce", gpu_nodes(G), 2**30, clean=True)
    # At link rate a ring moves 2 x 7/8 GiB over 450 GB/s per direction.
    assert bare.beta_s == pytest.approx(2 * 7 / 8 * 2**30 / 450e9, rel=1e-6)


def _h800_cluster(nodes: int) -> Path:
    d = Path(tempfile.mkdtemp())
    p = d / f"h800-x{nodes}.yaml"
    p.write_text(f"extends: dgx-h800\nname: h800-x{nodes}\ncluster: {{racks: {nodes}}}\n")
    return p


def _deepep_points() -> list[dict]:
    other = yaml.safe_load(COMPONENTS.read_text(encoding="utf-8"))["other"]
    return [
        o
        for o in other
        if o.get("accelerator") == "h800"
        and o["kind"] in ("moe-dispatch", "moe-combine")
        and str(o.get("mode", "")).startswith("low-latency")
    ]


def test_expert_all_to_all_against_deepep_low_latency() -> None:
    """DeepEP's low-latency kernels (H800, CX7, 128 tokens per GPU, hidden 7168, top-8):
    topo's dispatch (FP8) and combine (BF16), one copy per selected expert, on the
    scale-out curve alone land within 25% of each published latency from EP 16 to EP 256,
    10% at the median (the curve comes from these and the normal kernels' points, so this
    checks the arithmetic, not a forecast). As served, a call across nodes pays at least
    the latency of an all-to-all inside one (XLA's on NVLink 4, 8 GPUs: 32.51 us): every
    time is the curve's with its latency raised to that, and stays within 25%.
    """
    pts = _deepep_points()
    assert len(pts) == 12
    errors, served = [], []
    for o in pts:
        ep = o["ep_ranks"]
        if ep < 16:
            continue
        layout = load_layout(_h800_cluster(ep // 8))
        G = build_graph(layout)
        comm = comm_model(Fabric(G), place(G, Plan(tp=1, ep=ep, dp=ep)))
        assert comm.ep_domains == ep // 8
        one = Workload(weights="fp8").losses
        tokens, hidden, k = o["tokens_per_rank"], o["hidden"], o["topk"]
        b = 1.0 if o["kind"] == "moe-dispatch" else 2.0
        nbytes = tokens * k * hidden * b
        curve_only = tuple((*line[:7], "") for line in comm.ep_all_to_all)
        t = float(CommModel.time(curve_only, nbytes, one))
        measured = float(str(o["value"]).split()[0]) * 1e-6
        errors.append(t / measured - 1)
        # Served: the same call, its latency raised from the hops' 4 us to NVLink's.
        (line,) = comm.ep_all_to_all
        assert line[7] == "nvlink4"
        t_served = float(CommModel.time(comm.ep_all_to_all, nbytes, one))
        assert t_served == pytest.approx(t - line[2] + 32.51e-6, rel=1e-9)
        served.append(t_served / measured - 1)
        # expert_all_to_all charges the dispatch (FP8) and the combine (BF16) together.
        both = expert_all_to_all(comm, DSV3, ep, tokens, "fp8", one, low_latency=True)
        fp8 = CommModel.time(comm.ep_all_to_all, tokens * k * hidden * 1.0, one)
        bf16 = CommModel.time(comm.ep_all_to_all, tokens * k * hidden * 2.0, one)
        assert float(both) == pytest.approx(float(fp8 + bf16))
    assert max(abs(e) for e in errors) <= 0.25
    assert statistics.median(abs(e) for e in errors) <= 0.10
    assert max(abs(e) for e in served) <= 0.25


def test_node_dedup_shrinks_scale_out_bytes() -> None:
    """Normal kernels send one copy per destination node: over 2 nodes, a top-8 token
    reaches the other node with probability 1 - 0.5^8 and sends it one copy; of its
    16 (1 - (15/16)^8) distinct GPUs, half are remote. Low-latency kernels send all 8."""
    layout = load_layout(_h800_cluster(2))
    G = build_graph(layout)
    comm = comm_model(Fabric(G), place(G, Plan(tp=1, ep=16, dp=16)))
    tokens, hidden = 4096.0, DSV3.d_model
    normal = float(expert_all_to_all(comm, DSV3, 16, tokens, "bf16", None))
    ll = float(expert_all_to_all(comm, DSV3, 16, tokens, "bf16", None, low_latency=True))
    ranks = 16 * (1 - (15 / 16) ** 8)
    copies = ranks * (1 - 0.5**8) / (ranks / 2)
    one = float(CommModel.time(comm.ep_all_to_all, tokens * copies * hidden * 2.0))
    assert normal == pytest.approx(2 * one)
    assert ll == pytest.approx(
        2 * float(CommModel.time(comm.ep_all_to_all, tokens * 8 * hidden * 2.0))
    )
    assert normal < ll


def test_hierarchical_phases_pipeline() -> None:
    """An all-reduce over two NVL72 racks: its phases (reduce-scatter in each rack, the
    shards across racks, all-gather in each rack) overlap in chunks, so the call costs the
    slowest phase plus the others over PIPELINE_DEPTH, not their sum."""
    from topo.collectives import PIPELINE_DEPTH, charge

    G = build_graph(load_layout("gb200-nvl72-x16"))
    fabric = Fabric(G)
    gpus = gpu_nodes(G)[:144]
    r = collective(fabric, "all-reduce", gpus, 1e9, algorithm="hierarchical")
    assert [p.name for p in r.phases] == [
        "reduce-scatter in domain",
        "all-reduce across domains",
        "all-gather in domain",
    ]
    parts = []
    for p in r.phases:
        link = fabric.out_link if p.crosses_domains else fabric.up_link
        op = p.name.split(" ")[0]
        _, b = charge(op, 1e9, 0.0, [(p.name, p.beta_s, link)], link, gpus=144)
        parts.append(float(b))
    worst = max(parts)
    want = worst + (sum(parts) - worst) / PIPELINE_DEPTH
    assert r.transfer_s == pytest.approx(want, rel=1e-6)
    assert r.transfer_s < sum(parts)


def test_a_chip_without_bf16_still_runs_every_kernel() -> None:
    """Rubin Ultra lists FP8 and FP4 peaks only: the router GEMM and attention run at its
    widest precision instead of failing on a missing bf16 peak."""
    layout = load_layout("kyber-nvl576")
    assert "bf16" not in layout.accelerator.peak_flop_per_s
    d = decode(layout, DSV3, Plan(tp=1, ep=64, dp=64), np.array([64.0]), Workload(weights="fp4"))
    assert float(d.tpot[0]) > float(d.floor[0]) > 0
    assert float(d.kernels["moe_gemm"][0]) > 0


def test_exact_gemm_efficiency_is_kept_per_shape_and_equals_the_vector_fit() -> None:
    """Small batches (<= 8 shapes) use the table's local fit at each shape, kept per shape:
    the same numbers, bit for bit, as fitting the shapes together."""
    from topo.kernels import _direct_fraction, _stand_in

    acc = H100
    chip, rows = _stand_in(acc, "fp8")
    m = np.array([1.0, 3.0, 64.0, 200.0, 4096.0])
    together = _direct_fraction(tables().gemm[(chip, rows)], m, 7168.0, 2048.0)
    one_by_one = gemm_efficiency(acc, "fp8", m, 7168.0, 2048.0)
    assert np.array_equal(one_by_one, together)
    assert np.array_equal(gemm_efficiency(acc, "fp8", m, 7168.0, 2048.0), together)


@pytest.mark.parametrize("link", ["ib-ndr", "eth-400g", "roce"])
@pytest.mark.parametrize("op", ["all-reduce", "p2p", "all-gather", "reduce-scatter", "broadcast"])
def test_scale_out_ops_not_measured_fall_back_to_nvlink4(link: str, op: str) -> None:
    """Only DeepEP's all-to-all is measured across nodes. Any other op on a scale-out link
    takes that op as measured on NVLink 4 (the best-measured fabric), else NVLink 4's
    all-reduce (nccl-tests on 8 GPUs) -- not whichever curve the tables list first (XLA's
    all-gather on 2 GPUs, which every such op took)."""
    from topo.kernels import collective_basis, collective_efficiency

    measured = {o for (lk, o) in tables().collectives if lk == "nvlink4"}
    want = op if op in measured else "all-reduce"
    basis = collective_basis(link, op, 16, "library")
    assert basis.startswith(f"no {op} measured on {link}: {want} on ")
    assert "of nvlink4" in basis
    # The same curve as the op's own on NVLink 4: latency and shares.
    got = collective_efficiency(link, op, np.array([1e4, 1e6, 1e8]), 16, "library")
    ref = collective_efficiency("nvlink4", want, np.array([1e4, 1e6, 1e8]), 16, "library")
    assert got[0] == ref[0]
    np.testing.assert_array_equal(got[1], ref[1])


def test_a_curve_measured_only_at_large_sizes_takes_nvlink4s_latency() -> None:
    """XLA's p2p on B200 was measured at 128 MB (554.6 us) and 1 GB (2.061 ms) only. The
    shortest call is no latency: at NVLink 5's rate its 128 MB alone take 27% of it. The
    tables took it as one, so every pipeline hop inside a GB200 rack cost 555 us; it now
    takes XLA's p2p latency on NVLink 4 (1 KB in 11.89 us), and the share at 128 MB is
    link-rate beta over (554.6 - 11.89) us."""
    from topo.kernels import collective_basis, collective_efficiency

    p2p = {c.link: c for c in tables().collectives[("nvlink5", "p2p")]}["nvlink5"]
    assert p2p.latency_s == pytest.approx(11.89e-6)
    assert "latency as p2p on 2 GPUs of nvlink4 (every call measured here is bandwidth" in (
        collective_basis("nvlink5", "p2p", 2, "xla")
    )
    lay = load_layout("dgx-b200")
    G = build_graph(lay)
    beta = collective(Fabric(G), "p2p", gpu_nodes(G)[:2], 134217728.0, clean=True).beta_s
    assert beta / 554.6e-6 == pytest.approx(0.269, abs=0.001)  # bandwidth-bound
    latency, share = collective_efficiency("nvlink5", "p2p", np.array([134217728.0]), 2, "xla")
    assert latency == pytest.approx(11.89e-6)
    assert share[0] == pytest.approx(beta / (554.6e-6 - 11.89e-6), rel=1e-3)
    # A hop of 16 KB inside a GB200 rack: about the latency, not half a millisecond.
    fabric = Fabric.from_layout(load_layout("gb200-nvl72"))
    comm = comm_model(fabric, place(fabric, Plan(tp=1, pp=2, dp=1)))
    assert float(CommModel.time(comm.pp_hop, 16384.0, Workload().losses)) < 15e-6


def test_latency_bound_curves_keep_their_shortest_latency_bound_call() -> None:
    """Curves with a small enough call keep their own latency: the shortest call whose
    bytes take at most 5% of its time at link rate (nccl-tests' all-reduce on 8 H100s:
    1 KB in 25.6 us)."""
    ar = [c for c in tables().collectives[("nvlink4", "all-reduce")] if c.runtime == "library"]
    assert ar[0].latency_s == pytest.approx(25.6e-6)
    assert ar[0].latency_basis == ""
