"""Names the command line offers before anything heavy loads: collectives and dtypes.

Kept apart from :mod:`topo.collectives` and :mod:`topo.models` (which import numpy and
networkx) so that ``topo --help`` and argument parsing start fast.
"""

from __future__ import annotations

__all__ = ["DTYPE_BYTES", "OPS"]

OPS = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "p2p", "broadcast")

# Bytes per element of each dtype [B].
DTYPE_BYTES = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "fp6": 0.75,
    "fp4": 0.5,
    "int4": 0.5,
}
