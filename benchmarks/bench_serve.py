"""Speed of the serving simulation: one million requests (goal: under 10 s).

Run::

    python benchmarks/bench_serve.py [--requests 1000000]

Times the train-schedule policy (the recursion over boardings) for a dgx-h100 /
llama-3-70b set-up, and prints the requests simulated per second.
"""

from __future__ import annotations

import argparse
import time

from topo.serving import ServeSetup, simulate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1_000_000)
    args = p.parse_args()
    seats = 574
    setup = ServeSetup(
        seats=seats, interval_s=0.0355, step_s=(0.0355,) * seats, prefill_s=0.056, gpus=8
    )
    for rate in (1.0, 400.0):
        t0 = time.perf_counter()
        r = simulate(setup, rate_per_s=rate, output_tokens=128, requests=args.requests, seed=1)
        dt = time.perf_counter() - t0
        verdict = "meets" if dt < 10 else "MISSES"
        print(
            f"train policy, {args.requests:,} requests at {rate:g}/s: {dt:.2f} s "
            f"({args.requests / dt:,.0f} requests/s; {verdict} the 10 s goal); mean wait "
            f"{r['wait_s']['mean'] * 1e3:.1f} ms, seat use {r['seat_utilisation']:.0%}"
        )


if __name__ == "__main__":
    main()
