"""Time and peak memory of ``topo show`` at scale, up to topo's GPU limit (issues 13, 15).

Goals: 131,072 GPUs (``dgx-h100-x16384``) in at most 30 s and 4 GiB; 262,144 GPUs
(``dgx-h100-x32768``, ``topo.layout.MAX_GPUS``) within a minute. Run from the
repository root with topo installed::

    python benchmarks/bench_show.py [--repeat 1] [LAYOUT ...]

Each run is a fresh ``python -m topo.cli show LAYOUT`` process; the wall time is the
whole command (start-up, load, build, summary, print) and the memory its peak resident
set (``ru_maxrss``, as ``/usr/bin/time -v`` reports it). With ``--repeat`` the best time
and the largest peak are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent / "layouts"
LAYOUTS = [HERE / "dgx-h100-x16384.yaml", HERE / "dgx-h100-x32768.yaml"]
GOALS = {"dgx-h100-x16384": (30.0, 4 * 2**30), "dgx-h100-x32768": (60.0, None)}


def show_once(layout: str) -> tuple[float, int, str]:
    """Wall time [s], peak resident memory [B] and stdout of one ``topo show``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "topo.cli", "show", layout],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"topo show {layout} exited {proc.returncode}:\n{out}")
    return wall, usage.ru_maxrss * 1024, out  # ru_maxrss is in KiB on Linux


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("layouts", nargs="*", default=[str(x) for x in LAYOUTS])
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    print(f"{'layout':<20} {'GPUs':>9} {'wall':>8} {'peak RSS':>10}  goal")
    for layout in args.layouts:
        runs = [show_once(layout) for _ in range(args.repeat)]
        wall = min(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        gpus = next((line.split()[1] for line in runs[0][2].splitlines() if "GPUs  " in line), "?")
        name = Path(layout).stem
        verdict = ""
        if name in GOALS:
            t_goal, m_goal = GOALS[name]
            ok = wall <= t_goal and (m_goal is None or peak <= m_goal)
            mem = f" and {m_goal / 2**30:.0f} GiB" if m_goal else ""
            verdict = f"{'meets' if ok else 'MISSES'} {t_goal:.0f} s{mem}"
        print(f"{name:<20} {gpus:>9} {wall:>7.1f}s {peak / 2**30:>7.2f} GiB  {verdict}")


if __name__ == "__main__":
    main()
