"""The figures/ gallery: every figure kind, drawn from the bundled layouts.

``topo gallery`` regenerates it; each figure is made by the same command a user would
type, so the gallery doubles as a smoke test of them. This module holds the commands
and runs them through the runner it is given (the CLI passes its own ``main``): the
library never imports the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

__all__ = ["JOBS", "build_gallery"]

JOBS: list[list[str]] = [
    ["render", "gb200-nvl72", "--kind", "elevation", "-o", "gb200-nvl72-elevation.png"],
    ["render", "gb200-nvl72", "--kind", "topology", "-o", "gb200-nvl72-topology.png"],
    ["render", "gb200-nvl72-x16", "--kind", "topology", "-o", "gb200-nvl72-x16-topology.png"],
    ["render", "tpu-v5p-4x4x4", "--kind", "topology", "-o", "tpu-v5p-4x4x4-topology.png"],
    ["render", "dgx-h100", "--kind", "topology", "-o", "dgx-h100-topology.png"],
    ["render", "mi300x-8", "--kind", "topology", "-o", "mi300x-8-topology.png"],
    ["render", "kyber-nvl576", "--kind", "elevation", "-o", "kyber-nvl576-elevation.png"],
    [
        "plot",
        "roofline",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "-o",
        "roofline-llama-3-70b-dgx-h100.png",
    ],
    [
        "plot",
        "tradeoff",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "--compare",
        "dgx-h200",
        "-o",
        "tradeoff-llama-3-70b-h100-h200.png",
    ],
    [
        "plot",
        "links",
        "gb200-nvl72-x16",
        "--op",
        "all-to-all",
        "--gpus",
        "144",
        "-o",
        "links-all-to-all-144-gpus-gb200-nvl72-x16.png",
    ],
    [
        "plot",
        "links",
        "dgx-h100",
        "--op",
        "all-reduce",
        "--gpus",
        "8",
        "-o",
        "links-all-reduce-dgx-h100.png",
    ],
    ["render", "gb200-nvl72", "--kind", "topology", "-o", "gb200-nvl72-topology.html"],
    ["render", "dgx-h100-superpod", "--kind", "topology", "-o", "dgx-h100-superpod-topology.png"],
    [
        "plot",
        "roofline",
        "gb200-nvl72",
        "--model",
        "deepseek-v3",
        "--weights",
        "fp8",
        "-o",
        "roofline-deepseek-v3-gb200-nvl72.png",
    ],
    [
        "plot",
        "breakdown",
        "gb200-nvl72",
        "--model",
        "deepseek-v3",
        "--weights",
        "fp8",
        "--tp",
        "8",
        "-o",
        "breakdown-deepseek-v3-gb200-nvl72.png",
    ],
    [
        "plot",
        "breakdown",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "--batch",
        "1,4,16,64,128,256,512",
        "-o",
        "breakdown-llama-3-70b-dgx-h100.png",
    ],
    [
        "plot",
        "interactivity",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--compare",
        "dgx-h200",
        "--compare",
        "dgx-b200",
        "-o",
        "interactivity-llama-3-70b-h100-h200-b200.png",
    ],
    ["plot", "load", "dgx-h100", "--model", "llama-3-70b", "-o", "load-llama-3-70b-dgx-h100.png"],
    [
        "plot",
        "placement",
        "gb200-nvl72-x16",
        "--model",
        "deepseek-v3",
        "--weights",
        "fp8",
        "-o",
        "placement-deepseek-v3-gb200-nvl72-x16.png",
    ],
    ["plot", "taper", "gb200-nvl72-x16", "-o", "taper-gb200-nvl72-x16.png"],
    ["plot", "taper", "dgx-h100-superpod", "-o", "taper-dgx-h100-superpod.png"],
    ["plot", "tornado", "gb200-nvl72", "-o", "tornado-gb200-nvl72.png"],
    [
        "plot",
        "links",
        "gb200-nvl72-x16",
        "--op",
        "all-reduce",
        "--gpus",
        "288",
        "-o",
        "links-all-reduce-288-gpus-gb200-nvl72-x16.png",
    ],
    ["plot", "limits", "gb200-nvl72", "-o", "limits-gb200-nvl72.png"],
    ["plot", "limits", "kyber-nvl576", "-o", "limits-kyber-nvl576.png"],
    [
        "price",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--context",
        "1000,4000,16000,64000,128000",
        "--plot",
        "price-against-context-llama-3-70b.png",
    ],
    [
        "serve",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--rate",
        "40",
        "--requests",
        "4000",
        "--plot",
        "serving-ttft-train-vs-continuous.png",
    ],
    [
        "cache",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--prefix",
        "100000",
        "--plot",
        "cache-tiers-100k-prefix.png",
    ],
    [
        "compare",
        "gb200-nvl72-x16",
        "dgx-h100-superpod",
        "dgx-b200",
        "--model",
        "deepseek-v3",
        "--weights",
        "fp8",
        "--slo-tpot-ms",
        "50",
        "--plot",
        "compare-deepseek-v3.png",
    ],
    [
        "lifecycle",
        "--params",
        "8e9",
        "--tokens",
        "15e12",
        "--inference-tokens",
        "2e13",
        "--rl-flops",
        "1e23",
        "--plot",
        "lifecycle-llama-3-8b.png",
    ],
]


def build_gallery(
    out: str | Path,
    run: Callable[[list[str]], int],
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = 1,
) -> list[Path]:
    """Run every job of :data:`JOBS` with `run` (a ``topo`` argv -> exit status).

    Figures go into `out`; returns the files written, in :data:`JOBS`' order. With
    `workers` > 1 the jobs run on that many local processes (`run` must then be picklable:
    a module's function, or a partial of one); each figure is the same file either way.
    `progress` is told (done, all) as jobs finish.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    argvs = [[*job[:-1], str(folder / job[-1])] for job in JOBS]
    if progress is not None:
        progress(0, len(argvs))
    if workers > 1:
        from concurrent.futures import FIRST_COMPLETED, wait

        from topo._workers import process_pool

        with process_pool(min(workers, len(argvs))) as pool:
            futures = {pool.submit(run, a): i for i, a in enumerate(argvs)}
            done = 0
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    if f.result() != 0:
                        for p in pending:
                            p.cancel()
                        _failed(argvs[futures[f]])
                done += len(finished)
                if progress is not None:
                    progress(done, len(argvs))
    else:
        for i, args in enumerate(argvs):
            if run(args) != 0:
                _failed(args)
            if progress is not None:
                progress(i + 1, len(argvs))
    return [folder / job[-1] for job in JOBS]


def _failed(args: list[str]) -> NoReturn:
    from topo.errors import TopoError

    msg = f"gallery: topo {' '.join(args)} failed"
    raise TopoError(msg)
