"""Progress callbacks shared by the library: ``progress(done, total)``, as the CLI's bars take."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["part"]


def part(tick: Callable[[int, int], None] | None, lo: int, hi: int) -> Callable[[int, int], None]:
    """A callback for one part of some work: its (done, total) as `lo`..`hi` per cent."""
    if tick is None:
        return lambda done, total: None
    return lambda done, total: tick(lo + (hi - lo) * done // max(total, 1), 100)
