"""What real systems lose against the clean roofline: where every default comes from.

The default step is a sum of kernels costed by :mod:`topo.kernels` from measured
component data (``topo/data/kernel_tables.json``, derived by
``validation/derive_tables.py`` from ``validation/components.yaml``):

- GEMMs at the fraction of peak measured for their shape (XLA's GEMM tables for H100,
  B200 and MI300X; cuBLASLt/hipBLASLt square shapes from Azure's benchmarks; DeepGEMM's
  FP8 shapes on H800), grouped expert GEMMs at the rate of all their rows, every kernel
  at least the shortest GEMM measured on its chip (launch and tail: 4.99 us on H100).
  This replaces the old assumed ``gemm_half_tokens`` (skinny GEMMs) and
  ``launch_per_layer_s`` (12 us of launches per layer): both now default to 0 and stay
  only as parameters ``topo calibrate`` can fit to a user's engine.
- HBM at the BabelStream copy/triad fraction (the catalogue's ``efficiency.hbm``).
- Attention: decode streams KV at that rate and computes at FlashMLA's measured fraction;
  prefill at FlashAttention-3 / fmha-sm100's fraction by sequence length.
- Collectives at the per-call latency and share of link rate measured by size
  (nccl-tests, rccl-tests, XLA; DeepEP for expert all-to-all across nodes). This
  replaces the assumed 0.82 share: ``comm_bw_scale`` is now 1 (a calibration multiplier
  on the measured share) and ``comm_latency_s`` 0 (extra latency per call).

The parameters below, and their defaults:

- ``step_overhead_s`` 0: host time per step not hidden by the engine (scheduling,
  sampling on the CPU). No component measures it; CUDA-graph engines overlap it with the
  GPU. Calibrate it for an engine that does not (e.g. eager-mode runs).
- ``launch_per_layer_s`` 0 and ``gemm_half_tokens`` 0: see above (calibration only).
- ``moe_skew`` 0: extra load on the busiest expert-parallel rank beyond random routing,
  whose expected maximum is modelled as mean + sqrt(2 mean ln ranks).
- ``prefill_chunk_tokens`` 0: prompt tokens each attention rank prefills inside every decode
  step (chunked prefill mixing prompts into decode batches, as vLLM and SGLang do when
  prefill and decode share GPUs; e.g. 512). 0 models prefill on other GPUs or other steps.
  The chunk's matmul rows, attention over half the prompt and KV writes join the step.
- ``context_cv`` 0: spread of context lengths (standard deviation / mean) across the
  sequences of a step. With data-parallel attention the step waits for the rank holding the
  most KV: mean + sqrt(2 ln dp) standard deviations of a rank's sum, i.e. the KV time x
  (1 + cv sqrt(2 ln dp / sequences per rank)). 0 (equal contexts) unless given; chat traces
  have cv near 1 (assumed).
- ``hbm_scale`` and ``compute_scale`` 1: calibration multipliers on the measured HBM
  fraction and on every kernel's measured compute efficiency.
- ``accepted_tokens_per_step`` 1 and ``draft_tokens`` 0: speculative decoding or
  multi-token prediction off (DeepSeek-V3 MTP: ~1.8 tokens per step, 85-90% acceptance).

``CLEAN`` turns all of it off: the seed's roofline at the catalogue's fractions, with
link-rate collectives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from topo.errors import LayoutError, Problem

__all__ = ["CLEAN", "DEFAULT", "Fidelity", "load_profile", "moe_imbalance"]


@dataclass(frozen=True, slots=True)
class Fidelity:
    """The loss terms' parameters (see the module notes for their sources)."""

    launch_per_layer_s: float = 0.0
    step_overhead_s: float = 0.0
    gemm_half_tokens: float = 0.0
    moe_skew: float = 0.0
    accepted_tokens_per_step: float = 1.0
    draft_tokens: int = 0
    prefill_chunk_tokens: float = 0.0
    context_cv: float = 0.0
    comm_bw_scale: float = 1.0
    comm_latency_s: float = 0.0
    hbm_scale: float = 1.0  # calibrated multiplier on the achievable HBM fraction
    compute_scale: float = 1.0  # calibrated multiplier on the achievable FLOP/s fraction
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)

    def comm_time(self, alpha: Any, beta: Any) -> Any:
        """A collective's time from topo's alpha and beta (link-rate) parts."""
        if not self.enabled:
            return alpha + beta
        return alpha + self.comm_latency_s + beta / self.comm_bw_scale

    def gemm_efficiency(self, tokens: np.ndarray) -> np.ndarray:
        """Share of the achievable FLOP/s a GEMM with `tokens` rows reaches."""
        t = np.maximum(np.asarray(tokens, dtype=float), 1e-9)
        if not self.enabled or self.gemm_half_tokens <= 0:
            return np.ones_like(t)
        return np.asarray(t / (t + self.gemm_half_tokens))


CLEAN = Fidelity(
    launch_per_layer_s=0.0,
    step_overhead_s=0.0,
    gemm_half_tokens=0.0,
    comm_bw_scale=1.0,
    enabled=False,
)
DEFAULT = Fidelity()


def moe_imbalance(mean_tokens: np.ndarray, ranks: int, skew: float = 0.0) -> np.ndarray:
    """Expected busiest-rank load over the mean under random routing, plus `skew`.

    Examples
    --------
    >>> round(float(moe_imbalance(np.array(64.0), 8)), 3)
    1.255
    """
    mu = np.maximum(np.asarray(mean_tokens, dtype=float), 1e-9)
    if ranks <= 1:
        return np.asarray(np.ones_like(mu) * (1 + skew))
    return busiest_load(mu, math.log(ranks), skew)


def busiest_load(mu: np.ndarray, log_ranks: Any, skew: float) -> np.ndarray:
    """:func:`moe_imbalance` over more than one rank, from the log of the ranks.

    `log_ranks`: a number, or a column of them (one per plan of a stack).
    """
    return np.asarray(1 + np.sqrt(2 * log_ranks / mu) + skew)


_BOUNDS = {
    "launch_per_layer_s": (0.0, 1e-2),
    "step_overhead_s": (0.0, 1.0),
    "gemm_half_tokens": (0.0, 1e5),
    "moe_skew": (0.0, 10.0),
    "accepted_tokens_per_step": (1.0, 16.0),
    "draft_tokens": (0, 64),
    "prefill_chunk_tokens": (0.0, 1e6),
    "context_cv": (0.0, 10.0),
    "comm_bw_scale": (0.05, 1.0),
    "comm_latency_s": (0.0, 1e-2),
    "hbm_scale": (0.1, 1.5),
    "compute_scale": (0.1, 1.5),
}


def load_profile(path: str | Path) -> Fidelity:
    """A calibration profile (YAML written by ``topo calibrate``), checked against bounds.

    Raises
    ------
    LayoutError
        One line per problem, naming the file, line and parameter.
    """
    from topo._yaml import load_located

    doc = load_located(Path(path))
    data = doc.data
    # A profile holds its parameters under `fidelity:`; a bare mapping of them is read too.
    base: tuple[str, ...] = ("fidelity",) if isinstance(data, dict) and "fidelity" in data else ()
    params = data.get("fidelity") if base else data
    if not isinstance(params, dict):
        raise LayoutError(doc.problem(base or ("fidelity",), "expected a mapping of parameters"))
    known = {f.name for f in fields(Fidelity)}
    problems = []
    values: dict[str, Any] = {}
    for k, v in params.items():
        where = (*base, k) if base else ("fidelity", k)
        line = doc.where((*base, k))[1]
        if k not in known:
            problems.append(Problem(doc.file, line, ".".join(map(str, where)), "unknown parameter"))
            continue
        if k == "enabled":
            if not isinstance(v, bool):
                msg = f"expected true or false, got {v!r:.40}"
                problems.append(Problem(doc.file, line, ".".join(map(str, where)), msg))
            values[k] = v
            continue
        lo, hi = _BOUNDS[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            msg = f"expected a number from {lo} to {hi}, got {v!r:.40}"
            problems.append(Problem(doc.file, line, ".".join(map(str, where)), msg))
            continue
        values[k] = v
    if problems:
        raise LayoutError(problems)
    return Fidelity(**values)
