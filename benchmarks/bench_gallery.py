"""Wall time of ``topo gallery`` (issue 15: it took 31 s with no sign of progress).

Runs the gallery as a fresh process on one worker and on every core, into empty folders,
and checks that both write the same files byte for byte; ``--jobs`` also times each job
in this process (the figures that cost the most). Run from the repository root with topo
installed::

    python benchmarks/bench_gallery.py [--jobs]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _gallery(out: Path, workers: int) -> float:
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "topo", "gallery", "-o", str(out), "--workers", str(workers)]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def _jobs(out: Path) -> None:
    from topo.cli import main
    from topo.gallery import JOBS

    out.mkdir()
    for job in JOBS:
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main([*job[:-1], str(out / job[-1])])
        status = "" if code == 0 else f"  (exit {code})"
        print(f"{time.perf_counter() - t:6.2f} s  topo {' '.join(job[:-2])}{status}")


def main() -> None:
    from topo._workers import available_cores

    p = argparse.ArgumentParser()
    p.add_argument("--jobs", action="store_true", help="also time each job in this process")
    args = p.parse_args()
    cores = available_cores()
    with tempfile.TemporaryDirectory() as d:
        one, many = Path(d) / "one", Path(d) / "many"
        t1 = _gallery(one, 1)
        print(f"gallery on 1 process:  {t1:6.1f} s")
        tn = _gallery(many, cores)
        print(f"gallery on {cores} processes: {tn:6.1f} s")
        names = sorted(f.name for f in one.iterdir())
        same = names == sorted(f.name for f in many.iterdir()) and all(
            (one / n).read_bytes() == (many / n).read_bytes() for n in names
        )
        print(f"{len(names)} files, byte-identical on 1 and {cores} processes: {same}")
        if args.jobs:
            _jobs(Path(d) / "jobs")


if __name__ == "__main__":
    main()
