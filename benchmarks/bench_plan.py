"""Speed of the roofline engine and of the plan search.

Goals (issue 4): at least 1,000,000 configurations evaluated per second on one core once
placements are built, and the wall time of ``topo plan gb200-nvl72-x16 --model
deepseek-v3``. Run::

    python benchmarks/bench_plan.py

Prints configurations per second of the vectorised decode model (one plan, a million
batch sizes) and the time of the whole plan search, placements included.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from topo import build_graph, load_layout
from topo.models import load_model
from topo.perf import Workload, comm_model, decode
from topo.place import Plan, place
from topo.routing import Fabric


def main() -> None:
    layout = load_layout("gb200-nvl72-x16")
    G = build_graph(layout)
    model = load_model("deepseek-v3")
    plan = Plan(tp=8, ep=72, dp=9)
    w = Workload(weights="fp8")
    comm = comm_model(Fabric(G), place(G, plan))
    batches = np.arange(1, 1_000_001, dtype=float)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        decode(layout, model, plan, batches, w, comm)
        best = min(best, time.perf_counter() - t0)
    rate = len(batches) / best
    verdict = "meets" if rate >= 1e6 else "MISSES"
    print(
        f"decode model: {len(batches):,} configurations in {best:.3f} s = {rate:,.0f} per "
        f"second ({verdict} the 1,000,000/s goal)"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "topo.cli",
            "plan",
            "gb200-nvl72-x16",
            "--model",
            "deepseek-v3",
            "--weights",
            "fp8",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dt = time.perf_counter() - t0
    n = out.count('"configurations"')
    print(
        f"topo plan gb200-nvl72-x16 --model deepseek-v3 --weights fp8: {dt:.1f} s wall "
        f"({'ok' if n else 'no output'})"
    )


if __name__ == "__main__":
    main()
