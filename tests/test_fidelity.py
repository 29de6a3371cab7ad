"""Loss terms: each only adds time, all off is the clean roofline, calibration round-trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.errors import LayoutError
from topo.fidelity import CLEAN, DEFAULT, Fidelity, load_profile, moe_imbalance
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import DecodeTerms, Workload, decode
from topo.place import Plan

H100 = load_layout("dgx-h200")
LLAMA = load_model("llama-3-70b")
DSV3 = load_model("deepseek-v3")
B = np.array([1.0, 8.0, 64.0, 512.0])


def test_clean_is_the_roofline() -> None:
    d = decode(H100, LLAMA, Plan(tp=8), B, Workload(fidelity=CLEAN))
    assert not d.overhead.any()
    acc = H100.accelerator
    flops_peak = acc.peak_flop_per_s["bf16"] * acc.efficiency.compute
    assert d.compute == pytest.approx(d.flops_per_gpu / flops_peak)
    assert d.tpot == pytest.approx(np.maximum(d.weights + d.kv, d.compute))


def test_batch_1_is_not_just_the_weight_floor() -> None:
    d = decode(H100, LLAMA, Plan(tp=8), np.array([1.0]), Workload())
    # Every kernel costs at least the shortest GEMM measured on an H100 (XLA's 256^3 bf16,
    # 4.992 us): the 80 layers' 3 norm/activation kernels alone add 80 x 3 x 4.992 us.
    assert d.kernels["elementwise"][0] == pytest.approx(80 * 3 * 4.992e-6)
    # Each layer's attention reads 1,088 tokens x 2 x 128 B x 2 (one KV head per GPU):
    # 557 kB, under a microsecond at 2.94 TB/s, so it costs the floor too.
    assert d.kernels["attention"][0] == pytest.approx(80 * 4.992e-6)
    assert d.tpot[0] > 1.2 * d.floor[0]
    assert d.overhead[0] > 0


def test_speculative_decoding_divides_the_step() -> None:
    base = decode(H100, DSV3, Plan(tp=8, ep=8), B, Workload(weights="fp8"))
    mtp = Workload(
        weights="fp8",
        fidelity=dataclasses.replace(DEFAULT, accepted_tokens_per_step=1.8, draft_tokens=1),
    )
    d = decode(H100, DSV3, Plan(tp=8, ep=8), B, mtp)
    # At batch 1 the verify FLOPs are free: ~1.8x tokens/s (DeepSeek-V3: "1.8 times TPS").
    assert d.tokens_per_s[0] / base.tokens_per_s[0] == pytest.approx(1.8, rel=0.05)


def test_moe_imbalance() -> None:
    # mean + sqrt(2 mean ln 8) over the mean: 1 + sqrt(2 ln 8 / 64).
    assert float(moe_imbalance(np.array(64.0), 8)) == pytest.approx(1 + np.sqrt(2 * np.log(8) / 64))
    assert float(moe_imbalance(np.array(64.0), 1)) == 1.0


TERMS = {
    "launch_per_layer_s": (0.0, 1e-4),
    "step_overhead_s": (0.0, 5e-3),
    "gemm_half_tokens": (0.0, 256.0),
    "moe_skew": (0.0, 1.0),
    "prefill_chunk_tokens": (0.0, 2048.0),
    "context_cv": (0.0, 2.0),
}


@settings(max_examples=40, deadline=None)
@given(
    term=st.sampled_from(sorted(TERMS)),
    share=st.floats(0.0, 1.0),
    more=st.floats(0.0, 1.0),
    model=st.sampled_from(["llama", "dsv3"]),
)
def test_each_loss_term_only_adds_time(term: str, share: float, more: float, model: str) -> None:
    lo, hi = TERMS[term]
    a = lo + share * (hi - lo)
    b = a + more * (hi - a)
    m, plan = (LLAMA, Plan(tp=2, dp=4)) if model == "llama" else (DSV3, Plan(tp=1, ep=8, dp=8))
    f1 = dataclasses.replace(CLEAN, enabled=True, **{term: a})
    f2 = dataclasses.replace(CLEAN, enabled=True, **{term: b})
    t1 = decode(H100, m, plan, B, Workload(weights="fp8", fidelity=f1)).tpot
    t2 = decode(H100, m, plan, B, Workload(weights="fp8", fidelity=f2)).tpot
    t0 = decode(H100, m, plan, B, Workload(weights="fp8", fidelity=CLEAN)).tpot
    assert np.all(t2 >= t1 * (1 - 1e-12))
    assert np.all(t1 >= t0 * (1 - 1e-12))


def test_profiles(tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "p.yaml"
    p.write_text("fidelity:\n  step_overhead_s: 0.001\n  hbm_scale: 0.95\n", encoding="utf-8")
    f = load_profile(p)
    assert (f.step_overhead_s, f.hbm_scale) == (0.001, 0.95)
    p.write_text("fidelity:\n  step_overhead: 1\n  hbm_scale: 9\n", encoding="utf-8")
    with pytest.raises(LayoutError) as e:
        load_profile(p)
    assert "fidelity.step_overhead: unknown parameter" in str(e.value)
    assert "fidelity.hbm_scale: expected a number from 0.1 to 1.5" in str(e.value)
    assert isinstance(DEFAULT, Fidelity)


def test_chunked_prefill_adds_the_chunk_to_every_step() -> None:
    # Llama-3-70B TP8, batch 32: a 512-token chunk per step adds 2 x 512 x matmul weights / 8
    # FLOPs per GPU (plus attention over half the prompt) at the GEMM's efficiency.
    w0 = Workload(input_tokens=1024, output_tokens=128)
    f = dataclasses.replace(DEFAULT, prefill_chunk_tokens=512.0)
    w1 = Workload(input_tokens=1024, output_tokens=128, fidelity=f)
    d0 = decode(H100, LLAMA, Plan(tp=8), np.array([32.0]), w0)
    d1 = decode(H100, LLAMA, Plan(tp=8), np.array([32.0]), w1)
    p = LLAMA.params
    matmul = (p.non_expert - p.embedding - p.norms) / 8
    attn = 512 * LLAMA.attention_flops_per_token(512) / 8
    assert d1.flops_per_gpu[0] - d0.flops_per_gpu[0] == pytest.approx(2 * 512 * matmul + attn)
    assert d1.tpot[0] > d0.tpot[0]
    assert d1.kv_bytes_per_gpu[0] - d0.kv_bytes_per_gpu[0] == pytest.approx(
        512 * LLAMA.kv_bytes_per_token(2) / 8
    )


def test_fidelity_flags(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from topo.cli import main

    base = ["evaluate", "dgx-h100", "--model", "llama-3-70b", "--tp", "8", "--batch", "8"]
    assert main([*base, "--json"]) == 0
    t0 = json.loads(capsys.readouterr().out)["decode"]["time_per_output_token_s"]
    assert main([*base, "--accepted-tokens", "1.8", "--draft-tokens", "1", "--json"]) == 0
    t1 = json.loads(capsys.readouterr().out)["decode"]["time_per_output_token_s"]
    assert t1 < t0  # 1.8 tokens per step for a little more work per step
    assert main([*base, "--prefill-chunk", "256", "--json"]) == 0
    t2 = json.loads(capsys.readouterr().out)["decode"]["time_per_output_token_s"]
    assert t2 > t0
    assert main([*base, "--accepted-tokens", "3"]) == 2
    assert "--draft-tokens" in capsys.readouterr().err
    assert main([*base, "--context-cv", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decode"]["time_per_output_token_s"] == t0  # dp 1
    assert main([*base, "--prefill-chunk", "-1"]) == 2
    assert "--prefill-chunk" in capsys.readouterr().err


def test_uneven_contexts_over_dp_ranks() -> None:
    # Llama-3-70B tp 2 x dp 4, batch 64 (16 per rank), cv 1: KV time x (1 + sqrt(2 ln 4 / 16)).
    f = dataclasses.replace(CLEAN, enabled=True, context_cv=1.0)
    w0 = Workload(fidelity=dataclasses.replace(CLEAN, enabled=True))
    d0 = decode(H100, LLAMA, Plan(tp=2, dp=4), np.array([64.0]), w0)
    d1 = decode(H100, LLAMA, Plan(tp=2, dp=4), np.array([64.0]), Workload(fidelity=f))
    factor = 1 + np.sqrt(2 * np.log(4) / 16)
    assert d1.kv[0] == pytest.approx(d0.kv[0] * factor)
    one = decode(H100, LLAMA, Plan(tp=8), np.array([64.0]), Workload(fidelity=f))
    clean = decode(H100, LLAMA, Plan(tp=8), np.array([64.0]), w0)
    assert one.kv[0] == pytest.approx(clean.kv[0])  # one attention rank: no wait


def test_overlap_per_term(capsys: pytest.CaptureFixture[str]) -> None:
    from topo.build import build_graph
    from topo.cli import main
    from topo.perf import comm_model
    from topo.place import place
    from topo.routing import Fabric

    G = build_graph(H100)
    plan = Plan(tp=2, ep=8, dp=4)
    comm = comm_model(Fabric(G), place(G, plan))
    b = np.array([64.0])

    def step(overlap: str) -> DecodeTerms:
        return decode(H100, DSV3, plan, b, Workload(weights="fp8", overlap=overlap), comm)

    none, full = step("none"), step("full")
    both = step("tp=full,ep=full")
    ep_only = step("tp=none,ep=full")
    assert both.tpot[0] == pytest.approx(full.tpot[0])
    assert full.tpot[0] <= ep_only.tpot[0] <= none.tpot[0]
    # Each hidden collective leaves the roof; the other adds: with the roof longer than
    # either collective, ep-only + tp-only = 2 roof + both collectives + 2 overheads.
    tp_only = step("tp=full,ep=none")
    roof = max(none.weights[0] + none.kv[0], none.compute[0])
    over = none.overhead[0]
    comm_all = none.communication[0]
    assert none.tpot[0] == pytest.approx(roof + comm_all + over)
    assert full.tpot[0] == pytest.approx(max(roof, comm_all) + over)
    assert ep_only.tpot[0] + tp_only.tpot[0] == pytest.approx(2 * roof + comm_all + 2 * over)
    assert main(["evaluate", "dgx-h100", "--model", "llama-3-70b", "--overlap", "tp=half"]) == 2
    assert "--overlap" in capsys.readouterr().err
