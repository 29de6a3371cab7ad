"""Serving and economics: claims 8, 9, 12, 13, 14 and 15 of seed_formulas.md, and invariants."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.cli import main
from topo.economics import (
    cache_tiers,
    chinchilla_loss,
    faster_tier,
    lifecycle,
    parse_duration,
    price,
    training_memory,
)
from topo.errors import TopoError
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import Workload
from topo.place import Plan
from topo.published import CacheTier
from topo.serving import ServeSetup, simulate

H100 = load_layout("dgx-h100")
LLAMA = load_model("llama-3-70b")


def setup(seats: int = 64, tau: float = 0.024, prefill: float = 0.05) -> ServeSetup:
    steps = tuple(tau * (0.5 + 0.5 * b / seats) for b in range(1, seats + 1))
    return ServeSetup(seats=seats, interval_s=tau, step_s=steps, prefill_s=prefill, gpus=8)


# ---------------------------------------------------------------- claim 8: the train schedule
def test_claim_8_light_load_wait_is_half_the_interval() -> None:
    r = simulate(setup(), rate_per_s=1.0, output_tokens=32, requests=20_000, seed=3)
    # Random arrivals, periodic departures: mean wait tau / 2, max tau.
    assert r.wait_s.mean == pytest.approx(0.024 / 2, rel=0.03)
    assert r.wait_s.p99 <= 0.024
    assert r.ttft_s.mean == pytest.approx(0.012 + 0.05, rel=0.02)


def test_pipelined_trains_depart_every_stage() -> None:
    """With pp = 2 a micro-batch departs every stage time: the light-load wait is half of
    it, while each request still gets a token once per time per token (2 stages)."""
    base = setup(tau=0.024)
    two = ServeSetup(
        seats=64, interval_s=0.012, step_s=base.step_s, prefill_s=0.05, gpus=8, trains=2
    )
    r = simulate(two, rate_per_s=1.0, output_tokens=32, requests=20_000, seed=3)
    assert r.interval_s == 0.012
    assert r.time_per_output_token_s == pytest.approx(0.024)
    assert r.wait_s.mean == pytest.approx(0.012 / 2, rel=0.03)
    assert r.wait_s.p99 <= 0.012
    # End to end: wait + prefill + 31 tokens at 24 ms.
    assert r.e2e_s.mean == pytest.approx(0.006 + 0.05 + 31 * 0.024, rel=0.01)


def test_claim_8_drain_times() -> None:
    # HBM capacity / bandwidth: H100 80/3.35 = 23.9 ms, H200 141/4.8 = 29.4 ms, B200 180/8.
    for name, ms in (("dgx-h100", 23.9), ("dgx-h200", 29.4), ("dgx-b200", 22.5)):
        acc = load_layout(name).accelerator
        assert acc.hbm_capacity_bytes / acc.hbm_bandwidth_bytes_per_s == pytest.approx(
            ms / 1e3, rel=3e-3
        )


def test_seats_bound_the_queue() -> None:
    # 2 seats, 10 departures a request: at most 2 boardings per 10 departures.
    s = setup(seats=2, tau=0.01, prefill=0.0)
    r = simulate(s, rate_per_s=1000.0, output_tokens=10, requests=50, seed=1)
    assert r.wait_s.p99 > 0.1  # requests queue for seats
    assert r.seat_utilisation == pytest.approx(1.0, rel=0.1)


def test_same_seed_same_result() -> None:
    a = simulate(setup(), rate_per_s=50.0, output_tokens=16, requests=2000, seed=11)
    b = simulate(setup(), rate_per_s=50.0, output_tokens=16, requests=2000, seed=11)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def test_continuous_policy() -> None:
    r = simulate(setup(), rate_per_s=5.0, output_tokens=16, requests=2000, policy="continuous")
    # At light load a step starts at once: almost no wait, steps shorter than the interval.
    assert r.wait_s.mean < 0.024 / 2
    assert r.time_per_output_token_s < 0.024


@settings(max_examples=25, deadline=None, derandomize=True)
@given(rate=st.floats(1.0, 2000.0), more=st.floats(1.2, 5.0), seed=st.integers(0, 50))
def test_a_higher_rate_never_lowers_waiting(rate: float, more: float, seed: int) -> None:
    s = setup(seats=16, tau=0.02, prefill=0.01)
    lo = simulate(s, rate_per_s=rate, output_tokens=8, requests=3000, seed=seed)
    hi = simulate(s, rate_per_s=rate * more, output_tokens=8, requests=3000, seed=seed)
    # Same random draws, compressed in time; allow the sampling error of a mean of
    # uniform waits (tau / sqrt(12 n)): 8 standard errors, 0.8 ms against waits of ~10 ms
    # (at light load the phases of two rates are two draws; 4 errors failed 1 case in ~1e3).
    slack = 8 * 0.02 / np.sqrt(12 * 3000)
    assert hi.wait_s.mean >= lo.wait_s.mean - slack


@settings(max_examples=25, deadline=None)
@given(seats=st.integers(1, 64), extra=st.integers(1, 64), rate=st.floats(10.0, 5000.0))
def test_more_seats_never_raise_waiting(seats: int, extra: int, rate: float) -> None:
    a = simulate(setup(seats=seats), rate_per_s=rate, output_tokens=8, requests=2000, seed=5)
    b = simulate(
        setup(seats=seats + extra), rate_per_s=rate, output_tokens=8, requests=2000, seed=5
    )
    assert b.wait_s.mean <= a.wait_s.mean + 1e-12
    assert b.wait_s.p99 <= a.wait_s.p99 + 1e-12


def test_bad_serving_input() -> None:
    with pytest.raises(TopoError, match="--rate must be from 1e-9 to 1e9"):
        simulate(setup(), rate_per_s=0, output_tokens=8)
    with pytest.raises(TopoError, match="--policy must be one of"):
        simulate(setup(), rate_per_s=1, output_tokens=8, policy="fifo")


# ---------------------------------------------------------------- claim 13: context
def test_claim_13_long_context() -> None:
    p = price(
        H100,
        LLAMA,
        Plan(tp=8),
        Workload(),
        contexts=[8192, 32768, 131072, 200000],
        batches=[1, 8, 64],
    )
    by_ctx = {}
    for r in p.rows:
        by_ctx.setdefault(r.context, []).append(r)
    # B_max(S) = (n HBM - W) / (S kv): 185, 46, 11, 7 on 640 GB; topo keeps 10% of HBM free.
    usable = 8 * 72e9 - 141.1e9
    for S, seed_b in ((8192, 185), (32768, 46), (131072, 11), (200000, 7)):
        want = int(usable // (S * 327_680 + 8 * 8192 * 2 * 8))
        assert max(r.max_batch for r in by_ctx[S]) == pytest.approx(want, abs=1)
        assert want <= seed_b
    cheapest = {
        S: min(r.usd_per_million_output_tokens or np.inf for r in rows)
        for S, rows in by_ctx.items()
    }
    assert cheapest[8192] < cheapest[32768] < cheapest[131072] < cheapest[200000]
    # The seed's ~25x more GPU time per output token at 200k than at 8k (memory-bound).
    assert cheapest[200000] / cheapest[8192] == pytest.approx(25, rel=0.35)
    # S* = 2 N_act / (I_hw kv) = 1,458 in the seed's closed form.
    assert p.no_compute_bound_context_seed == pytest.approx(1458, rel=1e-3)
    # Prefill attention equals linear FLOPs at ~107.7k tokens (T / 107.7k).
    assert p.prefill_attention_equals_linear_tokens == pytest.approx(107.7e3, rel=0.02)


def test_claim_13_mla_attention_intensity() -> None:
    ds = load_model("deepseek-v3")
    # (2 n_h (d_c + d_r) + 2 n_h d_c) / (b_kv (d_c + d_r)) = 242 FLOP/byte per layer.
    per_layer = ds.attention_flops_per_token(1.0) / ds.layers
    assert per_layer / ((512 + 64) * 2) == pytest.approx(242, rel=0.01)


def test_faster_tier() -> None:
    r = faster_tier(H100, LLAMA, Plan(tp=8), Workload(ideal=True), batch=256, speedup=1.5)
    assert r.reachable
    assert r.price_multiple is not None
    assert r.price_multiple > 1.5  # fewer sequences share each weight read
    assert list(r.to_dict()) == ["speedup", "reachable", "batch", "price_multiple"]
    slow = faster_tier(H100, LLAMA, Plan(tp=8), Workload(ideal=True), batch=256, speedup=3)
    assert not slow.reachable
    assert slow.note is not None
    assert "more chips" in slow.note
    assert list(slow.to_dict()) == ["speedup", "reachable", "note"]


# ---------------------------------------------------------------- claim 15: cache tiers
def test_claim_15_cache_tiers() -> None:
    r = cache_tiers(
        H100, LLAMA, Plan(tp=8), Workload(), prefix_tokens=100_000, durations=["5m", "1h", "1d"]
    )
    # 100k tokens x 327,680 B = 32.8 GB of KV.
    assert r.kv_bytes == 100_000 * 327_680
    hbm = next(t for t in r.tiers if t.name == "hbm")
    # HBM rented at $2 per 80 GB-GPU-hour = $0.025 per GB-hour: 5 min $0.068, 1 h $0.82.
    assert hbm.usd_per_gb_hour == pytest.approx(0.025)
    assert r.costs_usd["5m"]["hbm"] == pytest.approx(32.768 * 0.025 / 12)
    assert r.costs_usd["1h"]["hbm"] == pytest.approx(32.768 * 0.025)
    assert r.choice["5m"] in ("hbm", "host-dram")
    assert "flash" in r.choice["1d"] or "disk" in r.choice["1d"]
    assert "recompute" in r.why["1d"]
    assert r.to_dict()["tiers"][0] == hbm.to_dict()
    assert parse_duration("5m") == 300
    with pytest.raises(TopoError, match="durations like"):
        parse_duration("soon")


# ---------------------------------------------------------------- claims 12 and 14
def test_claim_12_overtraining() -> None:
    for params, tokens, ratio in ((8e9, 15e12, 94), (70e9, 15e12, 10.7), (405e9, 15.6e12, 1.9)):
        r = lifecycle(params=params, tokens=tokens)
        assert r.overtraining_ratio == pytest.approx(ratio, rel=0.02)
    # Chinchilla: 70B on 1.4T is compute-optimal under the rule of 20.
    r = lifecycle(params=70e9, tokens=1.4e12)
    assert r.chinchilla.rule_of_20 is not None
    assert r.chinchilla.rule_of_20.params == pytest.approx(70e9, rel=1e-9)
    assert r.to_dict()["chinchilla"]["rule_of_20"]["params"] == r.chinchilla.rule_of_20.params
    assert chinchilla_loss(70e9, 1.4e12) == pytest.approx(
        1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28
    )


def test_claim_12_inference_aware_optimum_trains_smaller_longer() -> None:
    # A 13B model with 2T tokens of inference demand: a smaller model on more data is cheaper.
    r = lifecycle(params=13e9, tokens=260e9, inference_tokens=2e12)
    assert r.inference_aware.params < 13e9
    assert r.inference_aware.saving_vs_given > 0


def test_claim_14_balance() -> None:
    r = lifecycle(params=8e9, tokens=15e12, inference_tokens=22.5e12, rl_flops=7.2e23)
    # 6 N D = 7.2e23; 2 N D_inf = 3.6e23 ... equal thirds only at unit elasticity.
    assert r.compute["pretraining"] == pytest.approx(6 * 8e9 * 15e12)
    assert r.compute["inference"] == pytest.approx(2 * 8e9 * 22.5e12)
    assert sum(r.balance.values()) == pytest.approx(1.0)
    assert "1 / gamma" in r.balance_note


# ---------------------------------------------------------------- claim 9: training memory
def test_claim_9_reversible_layers() -> None:
    # The scaling book's example: B T = 4M tokens, L = 64, D = 8192, bf16.
    model = load_model(_write_model())
    r = training_memory(load_layout("gb200-nvl72"), model, tokens_per_batch=4_000_000, seq_len=8192)
    a = r.activation_bytes
    assert a["store_all"] == pytest.approx(84e12, rel=0.01)  # ~84 TB
    assert a["remat"] == pytest.approx(4.2e12, rel=0.03)  # ~4.2 TB
    assert a["reversible"] == pytest.approx(65.5e9, rel=0.01)  # B T D x 2 bytes = 65.5 GB
    assert r.extra_compute_fraction["remat"] == pytest.approx(1 / 3)
    assert r.to_dict()["activation_bytes"] == dict(a)


def _write_model() -> str:
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115
    f.write(
        "name: sb-example\nlayers: 64\nd_model: 8192\nheads: 64\nkv_heads: 8\n"
        "head_dim: 128\nffn: 28672\nvocab: 128256\n"
    )
    f.close()
    return f.name


# ---------------------------------------------------------------- commands
def test_commands(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    assert (
        main(
            [
                "serve",
                "dgx-h100",
                "--model",
                "llama-3-70b",
                "--rate",
                "1",
                "--requests",
                "500",
                "--seed",
                "7",
                "--json",
                "--plot",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    s = json.loads(capsys.readouterr().out)  # "wrote FILE" goes to stderr
    for key in (
        "policy",
        "interval_s",
        "requests",
        "ttft_s",
        "wait_s",
        "time_per_output_token_s",
        "seat_utilisation",
        "tokens_per_s_per_gpu",
    ):
        assert key in s
    assert 0.01 <= s["interval_s"] <= 0.1
    assert (
        main(
            [
                "price",
                "dgx-h100",
                "--model",
                "llama-3-70b",
                "--context",
                "1000,8000",
                "--json",
                "--plot",
                str(tmp_path / "p.png"),
            ]
        )
        == 0
    )
    p = json.loads(capsys.readouterr().out)  # "wrote FILE" goes to stderr
    assert {"rows", "kv_crossover_context", "no_compute_bound_context"} <= set(p)
    assert (
        main(["cache", "dgx-h100", "--model", "llama-3-70b", "--prefix", "100000", "--json"]) == 0
    )
    c = json.loads(capsys.readouterr().out)
    assert {"prefix_tokens", "kv_bytes", "recompute_s", "tiers", "choice"} <= set(c)
    assert main(["lifecycle", "--params", "8e9", "--tokens", "15e12", "--json"]) == 0
    life = json.loads(capsys.readouterr().out)
    assert {"chinchilla", "overtraining_ratio", "inference_aware", "compute", "balance"} <= set(
        life
    )
    assert (
        main(
            [
                "memory",
                "gb200-nvl72",
                "--model",
                "llama-3-70b",
                "--train",
                "--tokens-per-batch",
                "1000000",
                "--seq-len",
                "8192",
                "--json",
            ]
        )
        == 0
    )
    m = json.loads(capsys.readouterr().out)
    assert {"activation_bytes", "extra_compute_fraction", "fits"} <= set(m)
    for argv, match in (
        (["serve", "dgx-h100", "--model", "llama-3-70b", "--rate", "-1"], "--rate"),
        (
            [
                "cache",
                "dgx-h100",
                "--model",
                "llama-3-70b",
                "--prefix",
                "100",
                "--durations",
                "soon",
            ],
            "durations like",
        ),
        (["lifecycle", "--params", "1", "--tokens", "1"], "--params must be"),
        (
            [
                "memory",
                "gb200-nvl72",
                "--model",
                "llama-3-70b",
                "--tokens-per-batch",
                "10",
                "--seq-len",
                "10",
            ],
            "add --train",
        ),
    ):
        assert main(argv) == 2
        assert match in capsys.readouterr().err


# ---------------------------------------------------------------- the seed's rules, stated
# Llama-3-70B (meta-llama params.json): L=80, D=8192, F=28672, N_q=64, K=8, H=128, V=128256.
# H100 SXM: 989.4e12 FLOP/s bf16 dense, 3.35e12 B/s; $2 per GPU-hour; 8 GPUs (tp 8).
L_, D_, F_, NQ, K_, H_, V_ = 80, 8192, 28672, 64, 8, 128, 128256
N_TOTAL = 3 * D_ * F_ * L_ + L_ * (2 * D_ * NQ * H_ + 2 * D_ * K_ * H_) + 2 * V_ * D_  # 70.55e9
N_LINEAR = N_TOTAL - V_ * D_  # the input embedding is a lookup: no FLOPs, one row read
W_READ = 2 * N_LINEAR  # bf16 weight bytes a decode step reads
KV_TOK = 2 * L_ * K_ * H_ * 2  # 327,680 B of bf16 KV per token
F_ATT = 4 * L_ * NQ * H_  # decode attention FLOPs per token of context (QK^T and AV)
C_H100, BW_H100, N_GPU, USD_S = 989.4e12, 3.35e12, 8, 8 * 2.0 / 3600
USABLE = 8 * 72e9 - 141.1e9  # topo keeps 10% of HBM free (test_claim_13_long_context)


def _fit(S: float) -> int:
    """Sequences of S tokens (plus the one decoded) that fit next to the weights."""
    return int(USABLE // ((S + 1) * KV_TOK + 8 * 8192 * 2 * 8))


def _step_s(B: np.ndarray, S: float) -> np.ndarray:
    """The seed's roofline step (claim 2): max(FLOPs / C, bytes / BW) over 8 GPUs."""
    flops = B * (2 * N_LINEAR + S * F_ATT) / (N_GPU * C_H100)
    reads = (W_READ + B * S * KV_TOK) / (N_GPU * BW_H100)
    return np.maximum(flops, reads)


def test_claim_13_long_context_tier_beside_where_decode_stops_being_compute_bound() -> None:
    p = price(H100, LLAMA, Plan(tp=8), Workload(ideal=True), contexts=[1000], batches=[1, 8])
    lc = p.long_context_tier
    # An unbounded batch is compute-bound while (2 N + S F_att) / C >= S kv / BW:
    # S* = 2 N / (I kv - F_att), I = C / BW = 295.3; the seed's form drops F_att (1,458).
    s_star = 2 * N_LINEAR / (C_H100 / BW_H100 * KV_TOK - F_ATT)
    assert s_star == pytest.approx(1476, abs=1)
    assert lc.compute_bound_until_tokens == pytest.approx(s_star, rel=1e-4)
    assert lc.reference_context == lc.compute_bound_until_tokens
    # Gemini 2.5 Pro above 200k: input $1.25 -> $2.50, output $10 -> $15.
    assert lc.threshold_tokens == 200_000
    assert (lc.tier_input_multiple, lc.tier_output_multiple) == (2.50 / 1.25, 15 / 10)
    assert "ai.google.dev" in lc.published[0]["source"]
    # At 200k: 6 sequences fit (the seed's 7 on all 640 GB), memory-bound, KV reads
    # B S kv against the weight reads.
    b_tier, b_ref = _fit(200_000), _fit(s_star)
    assert (b_tier, b_ref) == (6, 896)
    at, ref = lc.at_threshold, lc.at_reference
    assert (at.max_batch, ref.max_batch) == (b_tier, b_ref)
    assert at.bound == "memory"
    assert at.kv_over_weights == pytest.approx(b_tier * 200_000 * KV_TOK / W_READ, rel=1e-3)
    # Output: GPU time per token t_step(B) / B at each context, each at its largest batch.
    per_tok_tier = _step_s(np.array([b_tier]), 200_000)[0] / b_tier
    per_tok_ref = _step_s(np.array([b_ref]), s_star)[0] / b_ref
    assert lc.output_cost_multiple == pytest.approx(per_tok_tier / per_tok_ref, rel=2e-3)
    assert at.usd_per_million_output_tokens == pytest.approx(USD_S * per_tok_tier * 1e6, rel=2e-3)
    # Input: causal prefill FLOPs per token 2 N + F_att T / 2 (compute-bound at both).
    want_in = (2 * N_LINEAR + F_ATT * 200_000 / 2) / (2 * N_LINEAR + F_ATT * s_star / 2)
    assert lc.input_cost_multiple == pytest.approx(want_in, rel=2e-3)
    assert "6 sequences fit in HBM against 896" in lc.reading
    assert "not for the switch from compute to memory, which comes at 1,476" in lc.reading


def test_long_context_tier_that_does_not_fit() -> None:
    # tp 2: 2 x 80 GB x 0.9 = 144 GB; fp8 weights take 70.6 GB, leaving 73.4 GB; a
    # 200k-token sequence of fp32 KV is 200,000 x 2 x 80 x 8 x 128 x 4 B = 131 GB.
    w = Workload(ideal=True, weights="fp8", kv="fp32")
    p = price(H100, LLAMA, Plan(tp=2), w, contexts=[1000], batches=[1])
    lc = p.long_context_tier
    assert not lc.at_threshold.fits
    assert lc.output_cost_multiple is None
    assert "does not fit" in lc.reading


def test_faster_tiers_and_list_price_band_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["price", "dgx-h100", "--model", "llama-3-70b", "--ideal", "--context", "1000"]
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # Largest batch at 1,000 tokens, then the largest batch x times faster on the same chips.
    b0 = _fit(1000)
    B = np.arange(1, b0 + 1, dtype=float)
    t = _step_s(B, 1000)
    for x, tier in zip((1.25, 1.5, 2.0, 3.0), data["faster_tiers"], strict=True):
        k = int(np.nonzero(t <= t[-1] / x)[0][-1])
        multiple = (t[k] / B[k]) / (t[-1] / b0)
        assert tier["batch"] == k + 1
        assert tier["price_multiple"] == pytest.approx(multiple, rel=1e-3)
        assert f"{x:g}x faster at {multiple:.2f}x the price (batch {k + 1})" in text
    assert f"faster tiers from batch {b0:,} at 1,000 tokens" in text
    assert "fast mode, Claude Opus 4.6 2.5x at 6x" in text  # $30/$150 against $5/$25
    # The list-price band, output 4-8x input (OpenAI), beside decode / prefill at b0:
    # decode (2 N + S F_att) / C a token when compute-bound, prefill (2 N + F_att T / 2) / C.
    prefill_per_token_s = (2 * N_LINEAR + F_ATT * 1000 / 2) / (N_GPU * C_H100)
    ratio = t[-1] / b0 / prefill_per_token_s
    assert f"output over input cost at the largest batch: {ratio:.1f}x at 1,000 tokens" in text
    assert "list prices charge output 4-8x input" in text
    assert data["list_price_output_over_input"]["low"] == 4.0
    assert data["list_price_output_over_input"]["high"] == 8.0
    # The long-context line and the sentence on what the tier pays for.
    s_star = 2 * N_LINEAR / (C_H100 / BW_H100 * KV_TOK - F_ATT)
    assert f"decode stops being compute-bound at {s_star:,.0f} tokens" in text
    assert "Gemini 2.5 Pro (Google) charges 2x input and 1.5x output above 200,000 tokens" in text
    assert f"{_fit(200_000)} sequences fit in HBM" in text
    assert "the tier pays for the batch the KV cache crowds out of HBM" in text
    assert set(data["long_context_tier"]) >= {"at_threshold", "reading", "definition"}


# Host DRAM as topo/data/memory_tiers.yaml assumes it: 50 GB/s per GPU each way, $5/GB over
# 4 years. HBM rented with the GPU: $2 / 80 GB an hour = $0.025 per GB-hour (claim 15).
DRAM_BW, DRAM_USD_GB_H = 50e9, 5.0 / (4 * 8760)


def test_claim_15_five_minutes_is_not_hbm_and_what_decides_it() -> None:
    r = cache_tiers(H100, LLAMA, Plan(tp=8), Workload(), prefix_tokens=100_000, durations=["1h"])
    f = r.five_minutes.to_dict()
    gb = 100_000 * KV_TOK / 1e9  # 32.8 GB
    hbm = gb * 0.025 * 300 / 3600  # $0.068
    storage = gb * DRAM_USD_GB_H * 300 / 3600
    transfer = 2 * gb * 1e9 / (N_GPU * DRAM_BW) * USD_S  # write out and read back: 164 ms
    assert f["hbm_usd"] == pytest.approx(hbm)
    assert (f["cheapest"], f["agrees"]) == ("host-dram", False)
    assert f["cheapest_usd"] == pytest.approx(storage + transfer)
    # HBM is cheaper than host DRAM while its rent over t stays below the round trip.
    below = transfer / (gb * (0.025 - DRAM_USD_GB_H) / 3600)
    assert f["hbm_cheapest_below_s"] == pytest.approx(below)
    assert below == pytest.approx(3.2, abs=0.05)
    # Each input alone moved to where HBM ties:
    flips = {x["input"]: x for x in f["flip_points"]}
    bw = DRAM_BW * transfer / (hbm - storage)  # ~0.54 GB/s per GPU
    usd_gb = (hbm - transfer) / (gb * 300 / 3600) * 4 * 8760  # ~$867/GB
    gpu_h = 2.0 * storage / (hbm - transfer)  # ~$0.012 per GPU-hour
    assert flips["host-dram read and write bandwidth per GPU"]["flips_at"] == pytest.approx(bw)
    assert flips["host-dram price per GB"]["flips_at"] == pytest.approx(usd_gb)
    assert flips["the GPU-hour price, which sets HBM rent"]["flips_at"] == pytest.approx(gpu_h)
    # The deciding one needs the smallest change: the bandwidth (93x) before the price (173x).
    assert f["deciding_assumption"]["input"] == "host-dram read and write bandwidth per GPU"
    assert f["deciding_assumption"]["factor"] == pytest.approx(bw / DRAM_BW)
    assert "against the seed's '5 minutes = HBM'" in f["reading"]


def _tier(name: str, *, usd_gb_h: float, reload_s: float, bw: float | None) -> CacheTier:
    return CacheTier(
        name=name,
        capacity_bytes=1e12,
        reload_s=reload_s,
        write_s=reload_s,
        usd_per_gb_hour=usd_gb_h,
        note="",
        holds=True,
        read_bytes_per_s_per_gpu=bw,
        write_bytes_per_s_per_gpu=bw,
        usd_per_gb=None if bw is None else 5.0,
        life_years=None if bw is None else 4.0,
    )


def test_five_minutes_hbm_or_recompute() -> None:
    from topo.published import five_minutes_against_hbm

    # 10 GB: HBM at $0.025/GB-hour for 300 s = $0.0208; a slow tier moving it in 100 s
    # each way on $0.01/s of GPUs costs $2 of GPU time: HBM is cheapest, as the seed says.
    hbm = _tier("hbm", usd_gb_h=0.025, reload_s=0.0, bw=None)
    slow = _tier("slow", usd_gb_h=1e-4, reload_s=100.0, bw=1e8)
    parts = {"hbm": (10 * 0.025 / 12, 0.0), "slow": (10 * 1e-4 / 12, 200 * 0.01)}
    kw = {"kv_bytes": 10e9, "usd_per_s": 0.01, "gpu_hour_usd": 2.0}
    f = five_minutes_against_hbm([hbm, slow], parts, recompute_s=500.0, recompute_usd=5.0, **kw)
    assert (f.cheapest, f.agrees, f.flip_points) == ("hbm", True, ())
    assert "as the seed's '5 minutes = HBM' has it" in f.reading
    # Recompute at $0.01 beats HBM's $0.0208; HBM wins only under 0.01 / (0.0208 / 300) s,
    # or if the prefill took longer than 0.0208 / 0.01 = 2.08 s instead of 1 s.
    f = five_minutes_against_hbm(
        [hbm], {"hbm": parts["hbm"]}, recompute_s=1.0, recompute_usd=0.01, **kw
    )
    assert f.cheapest == "recompute"
    assert f.hbm_cheapest_below_s == pytest.approx(0.01 / (10 * 0.025 / 12 / 300))
    assert f.deciding_assumption is not None
    assert f.deciding_assumption.flips_at == pytest.approx(10 * 0.025 / 12 / 0.01)


def test_cache_text_says_five_minutes_is_not_hbm(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cache", "dgx-h100", "--model", "llama-3-70b", "--prefix", "100000"]
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    gb = 100_000 * KV_TOK / 1e9
    hbm = gb * 0.025 * 300 / 3600
    dram = gb * DRAM_USD_GB_H * 300 / 3600 + 2 * gb * 1e9 / (N_GPU * DRAM_BW) * USD_S
    assert (
        f"for 5 minutes host-dram (${dram:.4f}) is cheaper than HBM (${hbm:.4f}), against the "
        "seed's '5 minutes = HBM'; HBM is cheaper than host-dram only under 3.2 s" in text
    )
    assert "the assumption that decides it: host-dram read and write bandwidth per GPU" in text
    assert "(assumed 50 GB/s; HBM wins below 536.4 MB/s)" in text
    assert main([*argv, "--json"]) == 0
    assert "five_minutes" in json.loads(capsys.readouterr().out)


def _optimum(params: float, tokens: float, d_inf: float, share: float) -> tuple[float, float]:
    """Minimise 6 N D + 2 share N D_inf at the loss of (params, tokens): golden section."""
    target = 1.69 + 406.4 / params**0.34 + 410.7 / tokens**0.28

    def d_of(n: float) -> float:
        return float((410.7 / (target - 1.69 - 406.4 / n**0.34)) ** (1 / 0.28))

    def cost(log_n: float) -> float:
        n = 10**log_n
        return 6 * n * d_of(n) + 2 * share * n * d_inf

    lo = np.log10(params) - 2
    while target - 1.69 - 406.4 / (10**lo) ** 0.34 <= 0:
        lo += 0.01
    hi, g = np.log10(params) + 1, (5**0.5 - 1) / 2
    for _ in range(200):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, b) if cost(a) < cost(b) else (a, hi)
    n = 10 ** ((lo + hi) / 2)
    return n, d_of(n)


@pytest.mark.parametrize("active", [None, 2e9])
def test_claim_14_split_at_the_inference_aware_optimum(active: float | None) -> None:
    r = lifecycle(params=8e9, tokens=15e12, inference_tokens=1e13, active_params=active)
    share = (active or 8e9) / 8e9
    n, d = _optimum(8e9, 15e12, 1e13, share)
    ia = r.inference_aware
    assert ia.params == pytest.approx(n, rel=0.01)  # topo searches a grid of 2,000 sizes
    pre, inf = 6 * n * d, 2 * share * n * 1e13
    assert ia.balance["pretraining"] == pytest.approx(pre / (pre + inf), abs=0.002)
    assert ia.balance["inference"] == pytest.approx(inf / (pre + inf), abs=0.002)
    assert ia.compute["rl"] == 0.0
    # The model given: 6 N D = 7.2e23 against 2 N_act D_inf.
    assert r.compute["inference"] == pytest.approx(2 * (active or 8e9) * 1e13)


def test_lifecycle_text_has_the_split_at_the_optimum(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["lifecycle", "--params", "8e9", "--tokens", "15e12", "--inference-tokens", "1e13"])
        == 0
    )
    out = capsys.readouterr().out
    n, d = _optimum(8e9, 15e12, 1e13, 1.0)
    pre, inf = 6 * n * d, 2 * n * 1e13
    want = f"pretraining {pre / (pre + inf):.0%}, rl 0%, inference {inf / (pre + inf):.0%}"
    line = next(x for x in out.splitlines() if "split at the optimum" in x)
    assert want in line  # 62% / 38%: a 13B model on 5.5T tokens instead of 8B on 15T
