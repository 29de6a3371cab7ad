"""Speed of collectives on the graph: all-to-all over 1,152 and 131,072 GPUs.

Goals (issue 3): an all-to-all over 1,152 GPUs in under 1 s, over 131,072 GPUs in under
30 s, link loads computed exactly on the contracted (leaf-level) sums. Run::

    python benchmarks/bench_collectives.py            # both sizes
    python benchmarks/bench_collectives.py --small    # 1,152 GPUs only

Prints the time to build the graph, to index it, and to cost each collective.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from topo import build_graph, load_layout
from topo.build import gpu_nodes
from topo.collectives import collective
from topo.routing import Fabric

HERE = Path(__file__).resolve().parent


def bench(layout: str, ops: list[str], goal_s: float) -> None:
    t0 = time.perf_counter()
    G = build_graph(load_layout(layout))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    fabric = Fabric(G)
    t_index = time.perf_counter() - t0
    gpus = gpu_nodes(G)
    print(
        f"{G.graph['layout']}: {len(gpus):,} GPUs, {G.number_of_edges():,} edges; "
        f"build {t_build:.2f} s, index {t_index:.2f} s"
    )
    for op in ops:
        t0 = time.perf_counter()
        r = collective(fabric, op, gpus, 1e9)
        dt = time.perf_counter() - t0
        verdict = "meets" if dt < goal_s else "MISSES"
        print(
            f"  {op:<11} 1 GB/GPU: {r.time_s * 1e3:9.2f} ms modelled ({r.algorithm}); "
            f"computed in {dt:.2f} s ({verdict} the {goal_s:g} s goal)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="only the 1,152-GPU cluster")
    args = p.parse_args()
    bench("gb200-nvl72-x16", ["all-to-all", "all-reduce"], 1.0)
    if not args.small:
        bench(str(HERE / "layouts" / "dgx-h100-x16384.yaml"), ["all-to-all", "all-reduce"], 30.0)


if __name__ == "__main__":
    main()
