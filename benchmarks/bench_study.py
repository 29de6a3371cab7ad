"""Designs per second of a study, serially, on local processes and on a local Dask cluster.

Run: python benchmarks/bench_study.py [--designs small|deepseek]
The study is the bundled layouts/studies/deepseek-domain-nic.yaml (21 designs, DeepSeek-V3 on
1,152 GPUs) or a small Llama-3.1-8B one; each mode starts from an empty folder and must give
byte-identical results.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from topo.study import load_study, run_study

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--designs", choices=("small", "deepseek"), default="deepseek")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    path = ROOT / "layouts" / "studies" / "deepseek-domain-nic.yaml"
    study = load_study(path)
    if args.designs == "small":
        study = {**study, "models": ["llama-3.1-8b"], "workloads": [{}], "max_replica_gpus": 8}
    modes = [("serial", {}), (f"{args.workers} processes", {"workers": args.workers})]
    if importlib.util.find_spec("distributed"):
        modes.append(
            (f"dask local, {args.workers} workers", {"dask": "local", "workers": args.workers})
        )
    outputs = []
    with tempfile.TemporaryDirectory() as d:
        for name, kw in modes:
            out = Path(d) / name.replace(" ", "_").replace(",", "")
            t = time.perf_counter()
            s = run_study(study, out, **kw)  # type: ignore[arg-type]
            dt = time.perf_counter() - t
            n = len(s.designs)
            print(f"{name:>28}: {n} designs in {dt:6.2f} s = {n / dt:6.2f} designs/s")
            outputs.append((out / "results.json").read_bytes())
    same = all(o == outputs[0] for o in outputs)
    print(f"identical results.json in every mode: {same}")


if __name__ == "__main__":
    main()
