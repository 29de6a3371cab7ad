"""Safe YAML reading that remembers the file and line of every value.

PyYAML's composer gives nodes with marks; this module turns them into plain Python
data (dicts, lists, scalars) and a table of ``path -> (file, line)``, so that every
later check can say where a value came from. Only the safe tags are understood;
aliases are followed under a budget, so an alias bomb is refused before it grows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from topo.errors import LayoutError, Problem

__all__ = ["Located", "Path_", "format_path", "load_located", "read_text_limited"]

Path_ = tuple[str | int, ...]

MAX_FILE_BYTES = 2 * 1024 * 1024  # a layout is a page of text, not megabytes
MAX_NODES = 100_000  # values after following aliases
MAX_DEPTH = 64


def format_path(path: Path_) -> str:
    """``("rack", "devices", 2, "power")`` -> ``"rack.devices[2].power"``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


@dataclass(slots=True)
class Located:
    """Plain data read from YAML, with the file and line of each value."""

    data: Any
    file: str
    marks: dict[Path_, tuple[str, int]] = field(default_factory=dict)

    def where(self, path: Path_) -> tuple[str, int]:
        """File and line of `path`, or of its nearest parent that has one."""
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (self.file, 1))

    def problem(self, path: Path_, message: str) -> Problem:
        """A :class:`Problem` located at `path`."""
        file, line = self.where(path)
        return Problem(file, line, format_path(path), message)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


_SCALAR = SafeConstructor()
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _convert(
    node: yaml.Node,
    path: Path_,
    file: str,
    marks: dict[Path_, tuple[str, int]],
    problems: list[Problem],
    budget: _Budget,
    depth: int,
) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        msg = f"more than {MAX_NODES} values (an alias bomb?); refused"
        raise _TooBig(msg)
    if depth > MAX_DEPTH:
        msg = f"nested deeper than {MAX_DEPTH} levels; refused"
        raise _TooBig(msg)
    marks[path] = (file, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        problems.append(
            Problem(
                file,
                node.start_mark.line + 1,
                format_path(path),
                f"unsupported YAML tag {node.tag!r}: only plain mappings and lists",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        format_path(path),
                        "expected a plain key, got a list or mapping as a key",
                    )
                )
                continue
            key = key_node.value
            if key in out:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        format_path((*path, key)),
                        "duplicate key",
                    )
                )
                continue
            out[key] = _convert(value_node, (*path, key), file, marks, problems, budget, depth + 1)
            # The key's own line: what a reader looks for when the key is wrong.
            marks[(*path, key)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(v, (*path, i), file, marks, problems, budget, depth + 1)
            for i, v in enumerate(node.value)
        ]
    try:
        value = _SCALAR.construct_object(node, deep=True)
    except ConstructorError as e:
        problems.append(
            Problem(
                file,
                node.start_mark.line + 1,
                format_path(path),
                f"unsupported YAML tag {node.tag!r} ({(e.problem or '').strip()})",
            )
        )
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return value  # kept; the field check reports it with its key
    if not isinstance(value, (str, int, float, bool, type(None))):
        # Dates, binary: legal YAML but never a layout value; keep their text.
        return str(node.value)
    return value


class _TooBig(Exception):
    pass


def load_data(text: str) -> Any:
    """Parse one of topo's own data files (trusted YAML), with libyaml when it is there."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader, C or Python


def read_text_limited(source: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """A text file's contents, reading at most `limit` bytes.

    ``/dev/zero`` is refused at once, not read to the end of memory.

    Raises
    ------
    LayoutError
        If the file cannot be read, is larger than `limit`, or is not UTF-8.
    """
    file = str(source)
    try:
        with Path(source).open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as e:
        raise LayoutError(Problem(file, 0, "", f"cannot read: {e.strerror or e}")) from None
    if len(raw) > limit:
        msg = f"larger than {limit // 1024} KiB; refused"
        raise LayoutError(Problem(file, 0, "", msg))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        msg = f"not UTF-8 text (byte {e.start})"
        raise LayoutError(Problem(file, 0, "", msg)) from None


def load_located(source: str | Path, *, text: str | None = None, ours: bool = False) -> Located:
    """Read a YAML file (or `text` named `source`) into :class:`Located` data.

    Raises
    ------
    LayoutError
        If the file cannot be read, is not YAML, uses unsafe tags, or is too large.
    """
    file = str(source)
    if text is None:
        text = read_text_limited(source)
    if "\x00" in text:
        raise LayoutError(Problem(file, 0, "", "not a text file (contains NUL bytes)"))
    long_number = re.search(r"\d{1000,}", text)
    if long_number:  # Python refuses to read integers of over 4,300 digits
        line = text.count("\n", 0, long_number.start()) + 1
        raise LayoutError(Problem(file, line, "", "a number with over 1,000 digits; refused"))
    try:
        # topo's own files (`ours`) parse with libyaml when it is there; a user's file with
        # the Python parser, whose recursion limit turns deep nesting into an error.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if ours else yaml.SafeLoader
        node = yaml.compose(text, Loader=loader)
    except RecursionError:
        raise LayoutError(Problem(file, 1, "", "nested too deeply; refused")) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        msg = f"not valid YAML: {e.problem or e.context or 'syntax error'}"
        raise LayoutError(Problem(file, line, "", msg)) from None
    except yaml.YAMLError as e:
        raise LayoutError(Problem(file, 0, "", f"not valid YAML: {e}")) from None
    if node is None:
        raise LayoutError(Problem(file, 1, "", "the file is empty; expected a mapping of keys"))
    marks: dict[Path_, tuple[str, int]] = {}
    problems: list[Problem] = []
    try:
        data = _convert(node, (), file, marks, problems, _Budget(), 0)
    except _TooBig as e:
        raise LayoutError(Problem(file, node.start_mark.line + 1, "", str(e))) from None
    except RecursionError:
        raise LayoutError(Problem(file, 1, "", "nested too deeply; refused")) from None
    if problems:
        raise LayoutError(problems)
    return Located(data, file, marks)
