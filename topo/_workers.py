"""Local worker processes, shared by the commands that run independent jobs at once.

``topo study --workers`` and ``topo gallery --workers`` start their pools here, so that a
worker whose parent is killed (not shut down) exits instead of waiting on the pool's queue.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["available_cores", "process_pool"]


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes that leave when this process is gone."""
    return ProcessPoolExecutor(
        max_workers=workers, initializer=_leave_with_parent, initargs=(os.getpid(),)
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _leave_with_parent(parent: int) -> None:
    """In a worker: exit when the parent process is gone (killed, not shut down).

    A worker blocked on the pool's queue would otherwise wait forever for work that no
    longer comes.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="topo-parent-watch", daemon=True).start()
