"""Speed of the library's Scenario: one build, many evaluations (goal: <= 1 ms a call).

Run from anywhere with topo installed::

    python benchmarks/bench_scenario.py [--calls 1000]

Prints the time of the first ``Scenario.evaluate`` (placements, prefill, critical batches,
decode tables) and the mean of the next `calls` at other batches, plan completed as the
CLI completes it, for a dense and an MoE model.
"""

from __future__ import annotations

import argparse
import time

from topo import Scenario

CASES = (
    ("dgx-h100", "llama-3-70b", {}),
    ("gb200-nvl72", "deepseek-v3", {"weights": "fp8"}),
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1000)
    args = p.parse_args()
    print(f"{'layout':<14} {'model':<13} {'build':>8} {'first':>9} {'per call':>9}")
    for layout, model, options in CASES:
        t0 = time.perf_counter()
        s = Scenario(layout, model, **options)
        t1 = time.perf_counter()
        s.evaluate(1, check_memory=False)
        t2 = time.perf_counter()
        for b in range(2, args.calls + 2):
            s.evaluate(b, check_memory=False)
        t3 = time.perf_counter()
        print(
            f"{layout:<14} {model:<13} {(t1 - t0) * 1e3:>6.0f}ms {(t2 - t1) * 1e3:>7.0f}ms "
            f"{(t3 - t2) / args.calls * 1e3:>7.3f}ms"
        )


if __name__ == "__main__":
    main()
