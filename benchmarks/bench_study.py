"""Designs per second of a study, serially, on local processes and on a local Dask cluster.

Run: python benchmarks/bench_study.py [--study deepseek|large|small] [--workers 2]

- ``deepseek``: the bundled layouts/studies/deepseek-domain-nic.yaml (21 designs,
  DeepSeek-V3 on 1,152 GPUs).
- ``large``: layouts/studies/rack-design-1080.yaml (1,080 designs over 3 models); also
  interrupted part-way on 2 processes and resumed.
- ``small``: the DeepSeek study's designs with Llama-3.1-8B.

Each mode starts from an empty folder (a fresh process's caches) and must give
byte-identical results.json.

``--explain``: the study in this process instead, design by design: its time, the plans
it bounds, places (bounded again with their collectives) and searches, and the decode
steps it computes afresh (the rest come from what earlier designs kept).
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {
    "deepseek": ROOT / "layouts" / "studies" / "deepseek-domain-nic.yaml",
    "small": ROOT / "layouts" / "studies" / "deepseek-domain-nic.yaml",
    "large": ROOT / "layouts" / "studies" / "rack-design-1080.yaml",
}


def _run(study: str, out: Path, args: list[str]) -> float:
    """`topo study` in a fresh process (its own caches) [s]."""
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "topo", "study", study, "-o", str(out), *args]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def _interrupted(study: str, out: Path, workers: int, after_s: float) -> float:
    """Start the study, stop it after `after_s`, resume it; total seconds."""
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "topo", "study", study, "-o", str(out)]
    # Its own process group, so that the stop takes its worker processes with it.
    p = subprocess.Popen([*cmd, "--workers", str(workers)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        p.wait(timeout=after_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # as a power cut would: no clean shutdown
        p.wait()
    log = out / "results.jsonl"
    done = len(log.read_text().splitlines()) if log.is_file() else 0
    print(f"{'':>30}  interrupted after {after_s:.1f} s with {done} designs logged")
    subprocess.run([*cmd, "--workers", str(workers)], check=True, capture_output=True)
    return time.perf_counter() - t


def _explain(study: str) -> None:
    """Design by design: time, plans bounded, placed and searched, fresh decode steps."""
    from collections import Counter

    from topo import perf, plans
    from topo.design import assess
    from topo.study import load_study, study_designs

    calls: Counter[str] = Counter()

    def counted(name: str, f: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            calls[name] += 1
            return f(*a, **k)

        return wrapper

    def each(name: str, f: Any, items: int) -> Any:
        """Count the items of the call's argument `items` (plans bounded, steps stacked)."""

        def wrapper(*a: Any, **k: Any) -> Any:
            calls[name] += len(a[items])
            return f(*a, **k)

        return wrapper

    def single(f: Any) -> Any:
        """Count a step run alone (not a stack of them, counted by its runs)."""

        def wrapper(*a: Any, **k: Any) -> Any:
            calls["fresh steps"] += not isinstance(a[2], perf._PlanStack)
            return f(*a, **k)

        return wrapper

    plans._bounds = each("bounded", plans._bounds, 2)
    plans.plan_comm = counted("placed", perf.plan_comm)  # type: ignore[attr-defined]
    plans._plan_rows = counted("searched", plans._plan_rows)
    perf._bare_stack = each("fresh steps", perf._bare_stack, 2)
    perf._bare_terms = single(perf._bare_terms)
    designs = study_designs(load_study(study))
    head = ("model and vary values", "ms", "bounded", "placed", "searched", "steps")
    print("{:>30}  {:>6}  {:>7}  {:>6}  {:>8}  {}".format(*head))
    total, cpu = 0.0, time.process_time()
    for d in designs:
        calls.clear()
        t = time.perf_counter()
        assess(d)
        dt = time.perf_counter() - t
        total += dt
        v = d.get("vary") or {}
        name = " ".join([str(d.get("model", "")), *(str(x) for x in v.values())])
        print(f"{name[-30:]:>30}  {dt * 1e3:6.0f}  {calls['bounded']:7d}  {calls['placed']:6d}"
              f"  {calls['searched']:8d}  {calls['fresh steps']}")  # fmt: skip
    cpu = time.process_time() - cpu
    print(
        f"{len(designs)} designs in {total:.2f} s ({cpu:.2f} s of CPU) in this process "
        "(no start-up, no output)"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--study", choices=tuple(STUDIES), default="deepseek")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--explain", action="store_true", help="design by design, in this process")
    args = p.parse_args()
    path = STUDIES[args.study]
    if args.explain:
        _explain(str(path))
        return
    with tempfile.TemporaryDirectory() as d:
        study = str(path)
        if args.study == "small":
            import yaml

            doc = yaml.safe_load(path.read_text())
            doc.update(models=["llama-3.1-8b"], workloads=[{}], max_replica_gpus=8)
            study = str(Path(d) / "small.yaml")
            Path(study).write_text(yaml.safe_dump(doc))
        modes: list[tuple[str, list[str]]] = [
            ("serial", ["--workers", "1"]),
            (f"{args.workers} processes", ["--workers", str(args.workers)]),
        ]
        if importlib.util.find_spec("distributed"):
            modes.append((f"dask local, {args.workers} workers",
                          ["--dask", "local", "--workers", str(args.workers)]))  # fmt: skip
        outputs = []
        n = 0
        took: dict[str, float] = {}
        for name, extra in modes:
            out = Path(d) / name.replace(" ", "_").replace(",", "")
            dt = took[name] = _run(study, out, extra)
            n = len((out / "results.jsonl").read_text().splitlines())
            print(f"{name:>30}: {n} designs in {dt:7.2f} s = {n / dt:7.2f} designs/s")
            outputs.append((out / "results.json").read_bytes())
        if args.study == "large":
            out = Path(d) / "resumed"
            # Stopped part-way: at 40% of the time the whole study took on these processes.
            after = 0.4 * took[f"{args.workers} processes"]
            dt = _interrupted(study, out, args.workers, after_s=after)
            print(f"{'interrupted and resumed':>30}: {n} designs in {dt:7.2f} s in all")
            outputs.append((out / "results.json").read_bytes())
    same = all(o == outputs[0] for o in outputs)
    print(f"cores: {multiprocessing.cpu_count()}; identical results.json in every mode: {same}")


if __name__ == "__main__":
    main()
