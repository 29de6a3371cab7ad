"""Declarative field checks: one tree of fields both validates input and writes its JSON Schema.

A layout or catalogue file is checked against a tree of :class:`Field` objects. Each
field converts a value (unit strings to SI floats), or records a :class:`Problem`
that names the file, line and key, and carries on, so that every problem in a file is
reported at once. The same tree writes the JSON Schema that editors use, so the two
cannot drift apart.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from topo._yaml import Located, Path_
from topo.errors import Problem
from topo.units import _CONVERTIBLE, _NUMBER, _UNITS, KINDS, UnitError, parse_quantity

__all__ = [
    "BAD",
    "Boolean",
    "Ctx",
    "Field",
    "Integer",
    "ListOf",
    "MapOf",
    "NameOr",
    "Number",
    "Obj",
    "Quantity",
    "String",
    "did_you_mean",
]


class _Bad:
    """Marker for a value that failed its check (the problem is already recorded)."""

    def __repr__(self) -> str:
        return "BAD"


BAD: Any = _Bad()


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'name'?"`` or ``""`` when nothing is close."""
    word = str(word)
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        # A misspelt name often keeps its start ("h100x-unknown" -> "h100-sxm").
        shared = [(len(_common_prefix(word, c)), c) for c in choices]
        best = max(shared, default=(0, ""), key=lambda t: t[0])  # first listed wins ties
        close = [best[1]] if best[0] >= 4 else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _show(value: Any, limit: int = 40) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(slots=True)
class Ctx:
    """Where problems go while one file is checked."""

    located: Located
    problems: list[Problem] = field(default_factory=list)

    def error(self, path: Path_, message: str) -> Any:
        """Record a problem at `path` and return :data:`BAD`."""
        self.problems.append(self.located.problem(path, message))
        return BAD


class Field:
    """Base class: a described value with a check and a JSON Schema."""

    description: str = ""
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:  # pragma: no cover
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _doc(self, s: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            s["description"] = self.description
        if self.default is not None:
            s["default"] = self.default
        return s


def _units_of(kind: str) -> list[str]:
    kinds = {kind} | {b for (a, b) in _CONVERTIBLE if a == kind}
    return sorted((u for u, (k, _) in _UNITS.items() if k in kinds), key=lambda u: (-len(u), u))


@dataclass(slots=True)
class Quantity(Field):
    """A quantity with a unit, e.g. ``"132 kW"``, converted to an SI float."""

    kind: str
    description: str = ""
    minimum: float = 0.0
    exclusive_minimum: bool = True
    maximum: float = math.inf
    nullable: bool = False
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if value is None and self.nullable:
            return None
        try:
            v = parse_quantity(value, self.kind)
        except UnitError as e:
            return ctx.error(path, str(e))
        low_ok = v > self.minimum if self.exclusive_minimum else v >= self.minimum
        if not low_ok or v > self.maximum:
            rel = ">" if self.exclusive_minimum else ">="
            bound = (
                f"{rel} 0"
                if self.minimum == 0
                else f"{rel} {self.minimum:g} {KINDS[self.kind].si_unit}"
            )
            upper = (
                ""
                if math.isinf(self.maximum)
                else f" and <= {self.maximum:g} {KINDS[self.kind].si_unit}"
            )
            k = self.kind.replace("_", " ")
            return ctx.error(path, f"expected a {k} {bound}{upper}, got {_show(value)}")
        return v

    def schema(self) -> dict[str, Any]:
        units = "|".join(re.escape(u) for u in _units_of(self.kind))
        s: dict[str, Any] = {
            "type": "string",
            "pattern": rf"^\s*{_NUMBER}\s*({units})\s*$",
            "examples": [KINDS[self.kind].example.split('"')[1]],
        }
        s = self._doc(s)
        s["description"] = (
            f"{self.description} [{self.kind.replace('_', ' ')}, e.g. {KINDS[self.kind].example}]"
        ).strip()
        if self.nullable:
            return {"anyOf": [s, {"type": "null"}], "description": s["description"]}
        return s


@dataclass(slots=True)
class Integer(Field):
    """A whole number (a count), bounded so absurd sizes are refused early."""

    description: str = ""
    minimum: int = 0
    maximum: int = 1_000_000
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return ctx.error(path, self._expected(value))
        if not self.minimum <= value <= self.maximum:
            return ctx.error(path, self._expected(value))
        return value

    def _expected(self, value: Any) -> str:
        return f"expected a whole number from {self.minimum} to {self.maximum}, got {_show(value)}"

    def schema(self) -> dict[str, Any]:
        return self._doc({"type": "integer", "minimum": self.minimum, "maximum": self.maximum})


@dataclass(slots=True)
class Number(Field):
    """A dimensionless number (a fraction, a ratio)."""

    description: str = ""
    minimum: float = 0.0
    maximum: float = math.inf
    exclusive_minimum: bool = False
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and math.isfinite(value):
            low = value > self.minimum if self.exclusive_minimum else value >= self.minimum
            if low and value <= self.maximum:
                return float(value)
        rel = ">" if self.exclusive_minimum else ">="
        upper = "" if math.isinf(self.maximum) else f" and <= {self.maximum:g}"
        return ctx.error(
            path, f"expected a number {rel} {self.minimum:g}{upper}, got {_show(value)}"
        )

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "number"}
        s["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if not math.isinf(self.maximum):
            s["maximum"] = self.maximum
        return self._doc(s)


@dataclass(slots=True)
class Boolean(Field):
    """true or false."""

    description: str = ""
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if isinstance(value, bool):
            return value
        return ctx.error(path, f"expected true or false, got {_show(value)}")

    def schema(self) -> dict[str, Any]:
        return self._doc({"type": "boolean"})


@dataclass(slots=True)
class String(Field):
    """Text, optionally one of a few choices or matching a pattern."""

    description: str = ""
    choices: tuple[str, ...] = ()
    pattern: str = ""
    max_length: int = 2000
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            want = f"one of {', '.join(self.choices)}" if self.choices else "text"
            return ctx.error(path, f"expected {want}, got {_show(value)}")
        if len(value) > self.max_length:
            return ctx.error(
                path, f"expected at most {self.max_length} characters, got {len(value)}"
            )
        if self.choices and value not in self.choices:
            return ctx.error(
                path,
                f"expected one of {', '.join(self.choices)}, got {_show(value)}"
                + did_you_mean(value, self.choices),
            )
        if self.pattern and not re.fullmatch(self.pattern, value):
            return ctx.error(
                path, f"expected {self.description or self.pattern}, got {_show(value)}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.choices:
            s["enum"] = list(self.choices)
        if self.pattern:
            s["pattern"] = f"^(?:{self.pattern})$"
        return self._doc(s)


@dataclass(slots=True)
class ListOf(Field):
    """A list of items of one field type."""

    item: Field
    description: str = ""
    min_items: int = 0
    max_items: int = 1000
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if not isinstance(value, list):
            return ctx.error(path, f"expected a list, got {_show(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            return ctx.error(
                path, f"expected {self.min_items} to {self.max_items} items, got {len(value)}"
            )
        out = [self.item.check(v, (*path, i), ctx) for i, v in enumerate(value)]
        return out

    def schema(self) -> dict[str, Any]:
        return self._doc(
            {
                "type": "array",
                "items": self.item.schema(),
                "minItems": self.min_items,
                "maxItems": self.max_items,
            }
        )


@dataclass(slots=True)
class Obj(Field):
    """A mapping with known keys; unknown keys get a did-you-mean."""

    fields: dict[str, Field]
    description: str = ""
    required: tuple[str, ...] = ()
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            keys = ", ".join(self.fields)
            return ctx.error(path, f"expected a mapping with keys {keys}, got {_show(value)}")
        out: dict[str, Any] = {}
        for key, v in value.items():
            f = self.fields.get(key)
            if f is None:
                ctx.error(
                    (*path, key),
                    "unknown key"
                    + did_you_mean(key, tuple(self.fields))
                    + f" (known: {', '.join(self.fields)})",
                )
                continue
            out[key] = f.check(v, (*path, key), ctx)
        for key in self.required:
            if key not in value:
                ctx.error(path, f"missing key {key!r} ({self.fields[key].description})")
        for key, f in self.fields.items():
            if key not in out and f.default is not None:
                out[key] = (
                    f.check(f.default, (*path, key), ctx) if isinstance(f, Quantity) else f.default
                )
        return out

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "type": "object",
            "properties": {k: f.schema() for k, f in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            s["required"] = list(self.required)
        return self._doc(s)


@dataclass(slots=True)
class MapOf(Field):
    """A mapping from free (or listed) keys to values of one field type."""

    value: Field
    description: str = ""
    keys: tuple[str, ...] = ()
    max_items: int = 64
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return ctx.error(path, f"expected a mapping, got {_show(value)}")
        if len(value) > self.max_items:
            return ctx.error(path, f"expected at most {self.max_items} entries, got {len(value)}")
        out: dict[str, Any] = {}
        for k, v in value.items():
            if self.keys and k not in self.keys:
                ctx.error(
                    (*path, k),
                    f"unknown key; expected one of {', '.join(self.keys)}"
                    + did_you_mean(k, self.keys),
                )
                continue
            out[k] = self.value.check(v, (*path, k), ctx)
        return out

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "object", "maxProperties": self.max_items}
        if self.keys:
            s["properties"] = {k: self.value.schema() for k in self.keys}
            s["additionalProperties"] = False
        else:
            s["additionalProperties"] = self.value.schema()
        return self._doc(s)


@dataclass(slots=True)
class NameOr(Field):
    """A catalogue name (resolved later, with did-you-mean) or an inline entry."""

    inline: Obj
    description: str = ""
    default: Any = None

    def check(self, value: Any, path: Path_, ctx: Ctx) -> Any:
        if isinstance(value, str):
            if not value.strip() or len(value) > 200:
                return ctx.error(path, f"expected a catalogue name, got {_show(value)}")
            return value
        if isinstance(value, dict):
            return self.inline.check(value, path, ctx)
        return ctx.error(
            path, f"expected a catalogue name or an inline mapping, got {_show(value)}"
        )

    def schema(self) -> dict[str, Any]:
        return self._doc(
            {"anyOf": [{"type": "string", "description": "a catalogue name"}, self.inline.schema()]}
        )
