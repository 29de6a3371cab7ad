"""Speed of building and summarising the bundled layouts (goal: 1,152 GPUs in under 2 s).

Run from anywhere with topo installed::

    python benchmarks/bench_build.py [--repeat 5]

Prints, per layout, the best time to load, to build the graph and to summarise it (the
summary includes the bisection: three balanced cuts, each a flow on a contracted graph,
closed form for an even fat tree). ``bench_show.py`` times ``topo show`` at 131,072 and
262,144 GPUs.
"""

from __future__ import annotations

import argparse
import time

from topo import build_graph, bundled_layouts, load_layout, summarize


def best_of(repeat: int, func):  # noqa: ANN001, ANN201 - a tiny timing helper
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    print(f"{'layout':<20} {'GPUs':>6} {'edges':>7} {'load':>8} {'build':>8} {'summary':>8}")
    for name in bundled_layouts():
        t_load, lay = best_of(args.repeat, lambda n=name: load_layout(n))
        t_build, G = best_of(args.repeat, lambda lay=lay: build_graph(lay))
        t_sum, _ = best_of(args.repeat, lambda lay=lay, G=G: summarize(lay, G))
        print(
            f"{name:<20} {lay.n_gpus:>6} {G.number_of_edges():>7} {t_load * 1e3:>6.1f}ms "
            f"{t_build * 1e3:>6.1f}ms {t_sum * 1e3:>6.1f}ms"
        )
    t_all, _ = best_of(
        args.repeat, lambda: summarize(lay := load_layout("gb200-nvl72-x16"), build_graph(lay))
    )
    verdict = "meets" if t_all < 2.0 else "MISSES"
    print(f"\ngb200-nvl72-x16 load + build + summary: {t_all:.3f} s ({verdict} the 2 s goal)")


if __name__ == "__main__":
    main()
