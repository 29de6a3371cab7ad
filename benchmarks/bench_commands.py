"""Wall time of the commands a user runs on a 131,072-GPU layout (issue 15).

Each command is a fresh ``python -m topo.cli ...`` process (its wall time and, where the
OS reports it, its peak resident memory) on
``benchmarks/layouts/dgx-h100-x16384.yaml`` (16,384 DGX H100 on a rail-optimised fat
tree); the time is the whole command: start-up, load, work, print. Commands past 2 s
show a progress bar on a terminal (this script's pipes see none). Run from the
repository root with topo installed::

    python benchmarks/bench_commands.py [--repeat 1]

With ``--repeat`` the best time is printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYOUT = str(Path(__file__).parent / "layouts" / "dgx-h100-x16384.yaml")
COMMANDS = {
    "show": ["show", LAYOUT],
    "place": ["place", LAYOUT, "--tp", "8", "--dp", "16384"],
    "collective": [
        "collective",
        LAYOUT,
        "--op",
        "all-to-all",
        "--gpus",
        "131072",
        "--bytes",
        "1MB",
    ],
    "moe": ["moe", LAYOUT, "--model", "deepseek-v3", "--ep", "1024", "--tokens-per-gpu", "128"],
    "evaluate": ["evaluate", LAYOUT, "--model", "llama-3-70b", "--tp", "8", "--batch", "8"],
    "sweep": ["sweep", LAYOUT, "--model", "llama-3-70b", "--tp", "8"],
    "price": ["price", LAYOUT, "--model", "llama-3-70b"],
    "serve": ["serve", LAYOUT, "--model", "llama-3-70b", "--tp", "8", "--rate", "5"],
    "plan": ["plan", LAYOUT, "--model", "deepseek-v3", "--weights", "fp8"],
    # No degrees given: the plan completed from those that run the batch, best bound first.
    "evaluate dsv3": [
        "evaluate",
        LAYOUT,
        "--model",
        "deepseek-v3",
        "--weights",
        "fp8",
        "--batch",
        "8",
    ],  # fmt: skip
}


def run_once(argv: list[str]) -> tuple[float, float | None]:
    """Wall time [s] and peak memory [GB] (None where the OS does not say) of one ``topo``
    command in a fresh process (it must succeed)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "topo.cli", *argv], stdout=subprocess.DEVNULL, stderr=err
        )
        peak = None
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak = usage.ru_maxrss * 1024 / 1e9  # kilobytes on Linux
        else:
            proc.wait()
        wall = time.perf_counter() - t0
        if proc.returncode:
            err.seek(0)
            sys.exit(f"topo {' '.join(argv)} exited {proc.returncode}:\n{err.read().decode()}")
    return wall, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            **COMMANDS,
            "roofline": [
                "plot",
                "roofline",
                LAYOUT,
                "--model",
                "llama-3-70b",
                "-o",
                f"{tmp}/r.png",
            ],
            "roofline dsv3": [
                "plot",
                "roofline",
                LAYOUT,
                "--model",
                "deepseek-v3",
                "--weights",
                "fp8",
                "-o",
                f"{tmp}/d.png",
            ],  # fmt: skip
            "export": ["export", LAYOUT, "-o", f"{tmp}/graph.json"],
        }
        print(f"{'command':<14} {'wall':>8} {'peak':>8}   131,072 GPUs: topo ...")
        for name, argv in commands.items():
            wall, peak = min(run_once(argv) for _ in range(args.repeat))
            shown = " ".join(a if a != LAYOUT else "dgx-h100-x16384.yaml" for a in argv)
            shown = shown.replace(tmp, "TMP")
            memory = f"{peak:>6.2f}GB" if peak is not None else f"{'':>8}"
            print(f"{name:<14} {wall:>7.1f}s {memory}   {shown}")


if __name__ == "__main__":
    main()
