"""Measure this machine's GPU: GEMM shape sweeps and HBM copies, as a measurements file.

Needs PyTorch with CUDA (``pip install 'topo[measure]'``) only here; nothing else in topo
imports it. Each timing is the median of several CUDA-event-timed repetitions after
warm-ups, on random data. The output is the YAML that ``topo calibrate`` and
``topo validate`` read.
"""

from __future__ import annotations

import statistics
from typing import Any

import yaml

from topo.errors import TopoError

__all__ = ["accelerator_for", "measure"]

# Device-name fragments (as torch.cuda.get_device_name reports them) to catalogue names.
_NAMES = (
    ("GB300", "gb300"),
    ("GB200", "gb200"),
    ("B200", "b200"),
    ("H200", "h200"),
    ("H100", "h100-sxm"),
    ("MI300X", "mi300x"),
    ("MI355X", "mi355x"),
)


def accelerator_for(device_name: str) -> str | None:
    """The catalogue name of a GPU from its device name, or None.

    Examples
    --------
    >>> accelerator_for("NVIDIA H100 80GB HBM3")
    'h100-sxm'
    >>> accelerator_for("NVIDIA GeForce RTX 4090") is None
    True
    """
    for fragment, name in _NAMES:
        if fragment in device_name:
            return name
    return None


def _time(torch: Any, fn: Any, reps: int) -> float:
    """Median seconds of `fn` over `reps` CUDA-event-timed runs, after 3 warm-ups."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return float(statistics.median(times))


def measure(accelerator: str | None = None, quick: bool = False) -> str:
    """Run the sweeps on GPU 0; return the measurements file's text."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        msg = "topo measure needs PyTorch with CUDA: pip install 'topo[measure]'"
        raise TopoError(msg) from None
    if not torch.cuda.is_available():
        msg = "topo measure: PyTorch sees no CUDA GPU on this machine"
        raise TopoError(msg)
    device_name = torch.cuda.get_device_name(0)
    acc = accelerator or accelerator_for(device_name)
    if acc is None:
        msg = f"topo measure: unknown GPU {device_name!r}; name it with --accelerator"
        raise TopoError(msg)
    reps = 5 if quick else 20
    source = f"topo measure on {device_name}, torch {torch.__version__}"
    points: list[dict[str, Any]] = []
    dev = torch.device("cuda:0")
    ms = (1, 16, 128, 1024, 8192) if quick else (1, 4, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192)
    for n, k in ((8192, 8192), (28672, 8192)):
        a_full = torch.randn(max(ms), k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
        for m in ms:
            a = a_full[:m]
            t = _time(torch, lambda a=a, b=b: torch.matmul(a, b), reps)
            points.append(
                {
                    "kind": "gemm",
                    "accelerator": acc,
                    "m": m,
                    "n": n,
                    "k": k,
                    "dtype": "bf16",
                    "time": f"{t * 1e3:.6g} ms",
                    "source": source,
                }
            )
        del a_full, b
    for size in (2**28, 2**30, 2**32) if not quick else (2**30,):
        src = torch.empty(size, device=dev, dtype=torch.uint8)
        dst = torch.empty_like(src)
        t = _time(torch, lambda src=src, dst=dst: dst.copy_(src), reps)
        points.append(
            {
                "kind": "bandwidth",
                "accelerator": acc,
                "bytes": f"{2 * size} B",  # read + written
                "time": f"{t * 1e3:.6g} ms",
                "source": source + "; device-to-device copy, bytes read + written",
            }
        )
        del src, dst
    header = (
        f"# Measured by topo measure on {device_name} ({acc}).\n"
        "# Feed to: topo calibrate THIS_FILE -o PROFILE.yaml\n"
    )
    return header + yaml.safe_dump({"measurements": points}, sort_keys=False)
