"""Keys by value for the caches a study shares between designs.

A design study builds a fresh accelerator, model and layout object for every design;
caches keyed by those objects' identity would never hit. :func:`value_key` keys them by
their repr (every field, recursively), computed once per object.
"""

from __future__ import annotations

from typing import Any

_REPRS: dict[int, tuple[object, str]] = {}


def value_key(obj: object) -> str:
    """A key for `obj` by value (its repr), computed once per object."""
    got = _REPRS.get(id(obj))
    if got is None or got[0] is not obj:
        if len(_REPRS) > 4096:
            _REPRS.clear()
        got = (obj, repr(obj))
        _REPRS[id(obj)] = got
    return got[1]


def bounded_put(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``cache[key] = value``, emptying the cache first once it holds `limit` entries."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
