"""Transformer architectures: parameters, bytes, KV cache and FLOPs per token.

The only reader of ``topo/data/models.yaml``. A model is used by name (``llama-3-70b``)
or given as a YAML file with the same fields. Counts are written out from the
architecture, never taken from a headline: Llama-3-70B is 70.55e9 parameters because
its MLP has three matrices (a two-matrix count gives 50.7e9).

Conventions: a parameter is one weight; bytes follow the dtype (bf16 2, fp8 1, fp4
0.5); FLOPs are 2 per multiply-accumulate; KV bytes per token count keys and values
of every layer (MLA: the latent and the rotary key).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from topo._fields import BAD, Ctx, did_you_mean
from topo._yaml import Located, load_located, read_text_limited
from topo.errors import LayoutError, Problem
from topo.names import DTYPE_BYTES
from topo.schema import MODEL, MODEL_FILE

__all__ = [
    "DTYPE_BYTES",
    "Model",
    "ParamCount",
    "dtype_bytes",
    "load_model",
    "model_names",
]


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a dtype name.

    Examples
    --------
    >>> dtype_bytes("fp8"), dtype_bytes("bf16")
    (1.0, 2.0)
    """
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        msg = f"unknown dtype {dtype!r}{did_you_mean(dtype, list(DTYPE_BYTES))}; known: " + (
            ", ".join(DTYPE_BYTES)
        )
        raise LayoutError(Problem("dtype", 0, "", msg)) from None


@dataclass(frozen=True, slots=True)
class ParamCount:
    """Parameters by part. ``*_per_layer`` are for one layer of that kind."""

    embedding: int
    head: int
    attention_per_layer: int
    dense_ffn_per_layer: int
    expert: int  # one routed expert
    shared_per_layer: int  # all shared experts of one MoE layer
    router_per_layer: int
    norms: int
    dense_layers: int
    moe_layers: int
    experts: int
    experts_per_token: int

    @property
    def attention(self) -> int:
        """All attention parameters."""
        return self.attention_per_layer * (self.dense_layers + self.moe_layers)

    @property
    def routed(self) -> int:
        """All routed-expert parameters."""
        return self.expert * self.experts * self.moe_layers

    @property
    def non_expert(self) -> int:
        """Everything but the routed experts (read whole by any step)."""
        return (
            self.embedding
            + self.head
            + self.attention
            + self.norms
            + self.dense_ffn_per_layer * self.dense_layers
            + (self.shared_per_layer + self.router_per_layer) * self.moe_layers
        )

    @property
    def total(self) -> int:
        """All parameters (the MTP module of DeepSeek-V3 is not part of the model)."""
        return self.non_expert + self.routed

    @property
    def active(self) -> int:
        """Parameters one token uses: all but the routed experts it does not select."""
        return self.non_expert + self.expert * self.experts_per_token * self.moe_layers


@dataclass(frozen=True)  # no slots: `params` is cached on the instance
class Model:
    """A transformer architecture (checked; counts are methods)."""

    name: str
    description: str
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    gated: bool
    vocab: int
    tied_embeddings: bool
    mla: dict[str, int] | None
    moe: dict[str, int] | None
    sliding_window: dict[str, int] | None
    sources: tuple[str, ...] = ()

    @property
    def attention_kind(self) -> str:
        """``mla``, ``mha`` or ``gqa``."""
        if self.mla:
            return "mla"
        return "mha" if self.kv_heads == self.heads else "gqa"

    @property
    def is_moe(self) -> bool:
        """Whether some layers are mixtures of experts."""
        return self.moe is not None

    @functools.cached_property
    def params(self) -> ParamCount:
        """Parameter counts by part."""
        D, H = self.d_model, self.heads
        mats = 3 if self.gated else 2
        if self.mla:
            m = self.mla
            qk = m["qk_nope_head_dim"] + m["qk_rope_head_dim"]
            q = (
                D * m["q_lora_rank"] + m["q_lora_rank"] * H * qk + m["q_lora_rank"]
                if m.get("q_lora_rank")
                else D * H * qk
            )
            kv = (
                D * (m["kv_lora_rank"] + m["qk_rope_head_dim"])
                + m["kv_lora_rank"]
                + m["kv_lora_rank"] * H * (m["qk_nope_head_dim"] + m["v_head_dim"])
            )
            attn = q + kv + H * m["v_head_dim"] * D
        else:
            attn = D * H * self.head_dim + 2 * D * self.kv_heads * self.head_dim
            attn += H * self.head_dim * D
        moe = self.moe or {}
        n_moe = self.layers - moe.get("dense_layers", 0) if moe else 0
        experts = moe.get("experts", 0)
        expert = mats * D * moe["expert_ffn"] if moe else 0
        return ParamCount(
            embedding=self.vocab * D,
            head=0 if self.tied_embeddings else self.vocab * D,
            attention_per_layer=attn,
            dense_ffn_per_layer=mats * D * self.ffn,
            expert=expert,
            shared_per_layer=moe.get("shared_experts", 0) * expert,
            router_per_layer=D * experts,
            norms=2 * D * self.layers + D,
            dense_layers=self.layers - n_moe,
            moe_layers=n_moe,
            experts=experts,
            experts_per_token=moe.get("experts_per_token", 0),
        )

    def window_layers(self) -> int:
        """Layers with a sliding window."""
        return self.sliding_window["layers"] if self.sliding_window else 0

    def kv_bytes_per_token(self, kv_bytes: float = 2.0) -> float:
        """KV-cache bytes one token of context adds, over all layers [B].

        Examples
        --------
        >>> load_model("llama-3-70b").kv_bytes_per_token(2.0)   # 2 x 80 x 8 x 128 x 2
        327680.0
        >>> load_model("deepseek-v3").kv_bytes_per_token(2.0)   # (512 + 64) x 61 x 2
        70272.0
        """
        return self._kv_per_layer(kv_bytes) * self.layers

    def _kv_per_layer(self, kv_bytes: float) -> float:
        if self.mla:
            return float((self.mla["kv_lora_rank"] + self.mla["qk_rope_head_dim"]) * kv_bytes)
        return float(2 * self.kv_heads * self.head_dim * kv_bytes)

    def kv_bytes(self, context: float, kv_bytes: float = 2.0) -> float:
        """KV-cache bytes of one sequence holding `context` tokens [B] (windows capped)."""
        w = self.window_layers()
        window = self.sliding_window["window"] if self.sliding_window else 0
        per = self._kv_per_layer(kv_bytes)
        return per * ((self.layers - w) * context + w * min(context, window))

    def attention_flops_per_token(self, context: float) -> float:
        """Score and value FLOPs of one new token attending to `context` tokens.

        GQA/MHA: 4 x heads x head_dim per layer and context token (QK^T and AV). MLA as
        served (weights absorbed, attention over the latent): 2 x heads x (kv_lora +
        rope) + 2 x heads x kv_lora.
        """
        if self.mla:
            m = self.mla
            per = 2 * self.heads * (m["kv_lora_rank"] + m["qk_rope_head_dim"])
            per += 2 * self.heads * m["kv_lora_rank"]
        else:
            per = 4 * self.heads * self.head_dim
        w = self.window_layers()
        window = self.sliding_window["window"] if self.sliding_window else 0
        return float(per * ((self.layers - w) * context + w * min(context, window)))

    def flops_per_token(self, context: float) -> float:
        """Forward FLOPs of one token: 2 x active matmul weights + attention [FLOP].

        The input embedding is a lookup, not a matmul, so it adds no FLOPs.
        """
        p = self.params
        return 2.0 * (p.active - p.embedding) + self.attention_flops_per_token(context)

    def to_dict(self) -> dict[str, Any]:
        """Architecture and derived counts for reports."""
        p = self.params
        return {
            "name": self.name,
            "description": self.description,
            "attention": self.attention_kind,
            "layers": self.layers,
            "d_model": self.d_model,
            "total_params": p.total,
            "active_params": p.active,
            "moe": self.moe,
            "kv_bytes_per_token_bf16": self.kv_bytes_per_token(2.0),
            "sources": list(self.sources),
        }


def _make(d: dict[str, Any]) -> Model:
    return Model(
        name=d["name"],
        description=d.get("description", ""),
        layers=d["layers"],
        d_model=d["d_model"],
        heads=d["heads"],
        kv_heads=d.get("kv_heads", d["heads"]),
        head_dim=d["head_dim"],
        ffn=d["ffn"],
        gated=d.get("gated", True),
        vocab=d["vocab"],
        tied_embeddings=d.get("tied_embeddings", False),
        mla=d.get("mla"),
        moe=d.get("moe"),
        sliding_window=d.get("sliding_window"),
        sources=tuple(d.get("sources", ())),
    )


def _check_entry(d: dict[str, Any], where: Any, problems: list[Problem]) -> bool:
    moe = d.get("moe")
    if moe and moe.get("experts_per_token", 0) > moe.get("experts", 0):
        problems.append(where(("moe", "experts_per_token"), "more than the experts there are"))
        return False
    if moe and moe.get("dense_layers", 0) > d.get("layers", 0):
        problems.append(where(("moe", "dense_layers"), "more dense layers than layers"))
        return False
    if d.get("kv_heads", 1) > d.get("heads", 1) or d.get("heads", 1) % d.get("kv_heads", 1):
        problems.append(where(("kv_heads",), "kv_heads must divide heads"))
        return False
    sw = d.get("sliding_window")
    if sw and sw.get("layers", 0) > d.get("layers", 0):
        problems.append(where(("sliding_window", "layers"), "more windowed layers than layers"))
        return False
    return True


def _read(text: str, file: str, single: bool, *, ours: bool = False) -> list[Model]:
    return _models(load_located(file, text=text, ours=ours), single)


def _models(located: Located, single: bool) -> list[Model]:
    ctx = Ctx(located)
    spec = MODEL if single else MODEL_FILE
    checked = spec.check(located.data, (), ctx)
    if ctx.problems or checked is BAD:
        raise LayoutError(ctx.problems)
    entries = [checked] if single else checked.get("models", [])
    problems: list[Problem] = []
    out = []
    for i, e in enumerate(entries):
        base: tuple[Any, ...] = () if single else ("models", i)

        def where(path: tuple[Any, ...], msg: str, base: tuple[Any, ...] = base) -> Problem:
            return located.problem((*base, *path), msg)

        if _check_entry(e, where, problems):
            out.append(_make(e))
    if problems:
        raise LayoutError(problems)
    return out


@functools.cache
def _catalogue() -> dict[str, Model]:
    text = (resources.files("topo") / "data" / "models.yaml").read_text(encoding="utf-8")
    located = load_located("topo/data/models.yaml", text=text, ours=True)
    models = _models(located, single=False)
    table: dict[str, Model] = {}
    raw = located.data["models"]
    for m, entry in zip(models, raw, strict=True):
        table[m.name] = m
        for alias in entry.get("aliases", []):
            table[alias] = m
    return table


def model_names() -> list[str]:
    """Catalogue model names (aliases left out)."""
    return sorted({m.name for m in _catalogue().values()})


def load_model(name_or_path: str | Path) -> Model:
    """A model by catalogue name (or alias), or from a YAML file with the same fields.

    Raises
    ------
    LayoutError
        For an unknown name (with did-you-mean) or a bad file (file, line, key).
    """
    table = _catalogue()
    key = str(name_or_path).strip().lower()
    if key in table:
        return table[key]
    p = Path(name_or_path)
    try:
        is_file = p.is_file()
    except (OSError, ValueError):
        is_file = False
    if is_file:
        return _read(read_text_limited(p), str(p), single=True)[0]
    names = sorted(table)
    msg = (
        f"unknown model {str(name_or_path)[:80]!r}{did_you_mean(key[:80], names)} "
        f"(known: {', '.join(model_names())}; or a YAML file)"
    )
    raise LayoutError(Problem("model", 0, "", msg))
