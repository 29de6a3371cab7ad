"""Model catalogue: parameter counts, KV bytes and FLOPs against the reference's arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from topo.errors import LayoutError
from topo.models import dtype_bytes, load_model, model_names

REQUIRED = [
    "llama-3.1-8b",
    "llama-3-70b",
    "llama-3.3-70b",
    "llama-3.1-405b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "deepseek-v3",
    "deepseek-r1",
    "qwen3-235b-a22b",
    "kimi-k2",
    "gpt-oss-120b",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_model_loads_with_sources(name: str) -> None:
    m = load_model(name)
    assert m.sources
    assert m.params.total >= m.params.active > 0


def test_llama_3_70b_by_hand() -> None:
    # seed_formulas.md: FFW 3 D F L = 56.37e9, attention L (2 D Nq H + 2 D K H) = 12.08e9,
    # vocabulary 2 V D = 2.10e9; total 70.55e9 (a two-matrix MLP would give 50.7e9).
    p = load_model("llama-3-70b").params
    L, D, F, Nq, K, H, V = 80, 8192, 28672, 64, 8, 128, 128256
    assert p.dense_ffn_per_layer * L == 3 * D * F * L
    assert p.attention == L * (2 * D * Nq * H + 2 * D * K * H)
    assert p.embedding + p.head == 2 * V * D
    norms = 2 * D * L + D
    assert p.total == 3 * D * F * L + L * (2 * D * Nq * H + 2 * D * K * H) + 2 * V * D + norms
    assert p.total == pytest.approx(70.55e9, rel=1e-3)
    assert load_model("llama-3-70b").kv_bytes_per_token(2) == 2 * L * K * H * 2 == 327_680


def test_deepseek_v3_by_hand() -> None:
    m = load_model("deepseek-v3")
    p = m.params
    # config_671B.json recount: 671.0e9 total, 37.6e9 active, routed 653.9e9 = 97.4%.
    assert p.total == pytest.approx(671.0e9, rel=2e-3)
    assert p.active == pytest.approx(37.6e9, rel=5e-3)
    assert p.routed == 58 * 256 * 3 * 7168 * 2048
    assert p.routed / p.total == pytest.approx(0.974, abs=0.001)
    assert (p.dense_layers, p.moe_layers) == (3, 58)
    # MLA: (kv_lora 512 + rope 64) x 61 layers x 2 B.
    assert m.kv_bytes_per_token(2) == (512 + 64) * 61 * 2 == 70_272
    assert m.attention_kind == "mla"


@pytest.mark.parametrize(
    ("name", "total", "active"),
    [
        ("mixtral-8x7b", 46.7e9, 12.9e9),
        ("mixtral-8x22b", 140.6e9, 39.2e9),
        ("qwen3-235b-a22b", 235.1e9, 22.2e9),
        ("gpt-oss-120b", 116.8e9, 5.71e9),  # model card 5.1e9 active excludes embeddings
        ("llama-3.1-405b", 405.9e9, 405.9e9),
        ("llama-3.1-8b", 8.03e9, 8.03e9),
    ],
)
def test_published_totals(name: str, total: float, active: float) -> None:
    p = load_model(name).params
    assert p.total == pytest.approx(total, rel=5e-3)
    assert p.active == pytest.approx(active, rel=5e-3)


def test_flops_per_token() -> None:
    m = load_model("llama-3-70b")
    p = m.params
    # 2 FLOPs per active weight (the embedding lookup is free) + 4 Nq H per layer per context token.
    assert m.flops_per_token(0) == 2 * (p.active - p.embedding)
    assert m.flops_per_token(1000) - m.flops_per_token(0) == 4 * 64 * 128 * 80 * 1000


def test_sliding_window_caps_kv() -> None:
    m = load_model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * 2
    # 18 full layers hold every token; 18 windowed layers hold at most 128.
    assert m.kv_bytes(10_000, 2) == per_layer * (18 * 10_000 + 18 * 128)
    assert m.kv_bytes(100, 2) == per_layer * 36 * 100


def test_model_names_and_aliases() -> None:
    assert "deepseek-v3" in model_names()
    assert load_model("deepseek-r1") is load_model("deepseek-v3")
    assert load_model("Llama-3.3-70B").name == "llama-3-70b"


def test_unknown_model_suggests() -> None:
    with pytest.raises(LayoutError, match="did you mean 'llama-3-70b'"):
        load_model("llama-3-7b")


def test_dtype_bytes() -> None:
    assert (dtype_bytes("bf16"), dtype_bytes("fp8"), dtype_bytes("fp4")) == (2, 1, 0.5)
    with pytest.raises(LayoutError, match="did you mean 'fp8'"):
        dtype_bytes("fp9")


def test_model_from_yaml(write_layout: Callable[..., Path]) -> None:
    path = write_layout(
        "name: tiny\nlayers: 2\nd_model: 64\nheads: 4\nkv_heads: 2\nhead_dim: 16\n"
        "ffn: 128\nvocab: 100\n",
        "tiny.yaml",
    )
    m = load_model(str(path))
    assert (
        m.params.total
        == 100 * 64 * 2 + 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64) + 2 * 3 * 64 * 128 + 2 * 2 * 64 + 64
    )
    bad = write_layout(
        "name: tiny\nlayers: 2\nd_model: 64\nheads: 4\nkv_heads: 3\n"
        "head_dim: 16\nffn: 128\nvocab: 100\nmoe: {experts: 2, "
        "experts_per_token: 3, expert_ffn: 8}\n",
        "bad.yaml",
    )
    with pytest.raises(LayoutError, match=r"bad.yaml:\d+: moe.experts_per_token"):
        load_model(str(bad))
