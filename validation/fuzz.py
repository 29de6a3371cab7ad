"""Fuzz every input topo reads: each run must end in exit 0, 1 or 2, never an internal error.

Input kinds: layouts, model files (``--model m.yaml``), catalogue files (``--catalogue``),
study files, measurements files, nccl-tests output, calibration profiles, and the options
of every ``topo`` subcommand. Each case starts from a valid input (a bundled layout, a
catalogue entry, a tiny study, published measurements) and changes one to three things:
a value replaced by a bad one (negative, zero, NaN, infinite, huge, tiny, empty, the wrong
unit, an unknown name, the wrong type), a key removed, a value doubled into a list, the
number of a unit string changed, or the text itself cut, nested, or made binary.

Each case runs in this process through ``topo.cli.main`` with a time limit (and, in the
script, a memory limit), and is classed by outcome: exit 0, exit 1 (a failed physical
check), exit 2 (a clear input error), internal error (the catch-all's message or a
traceback), timeout, memory, bad output (a failed run that left a half-written or changed
output file, or a temporary file), or another exit status. The last four are bugs.

Run::

    python validation/fuzz.py --cases 2000 --seed 1

``tests/test_fuzz.py`` draws the same cases through Hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

ROOT = Path(__file__).resolve().parents[1]
KINDS = (
    "layout",
    "model",
    "catalogue",
    "study",
    "measurements",
    "nccl-tests",
    "calibration",
    "cli",
)
BUGS = ("internal error", "timeout", "memory", "bad output", "other exit")


class Draw(Protocol):
    """Where a case's choices come from: a seeded RNG (the script) or Hypothesis (tests)."""

    def choice(self, seq: Sequence[Any]) -> Any:
        """One item of `seq`."""

    def integer(self, lo: int, hi: int) -> int:
        """A whole number from `lo` to `hi`, both included."""


class RandomDraw:
    """Choices from :class:`random.Random`."""

    def __init__(self, seed: int) -> None:
        import random

        self.rng = random.Random(seed)

    def choice(self, seq: Sequence[Any]) -> Any:
        """One item of `seq`."""
        return seq[self.rng.randrange(len(seq))]

    def integer(self, lo: int, hi: int) -> int:
        """A whole number from `lo` to `hi`, both included."""
        return self.rng.randint(lo, hi)


# ------------------------------------------------------------------ bad values
BAD_VALUES: list[Any] = [
    -1,
    0,
    -0.0,
    1e30,
    1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    2**64,
    10**40,
    "",
    " ",
    "abc",
    "NaN",
    "inf",
    "800 Gb/s",
    "132 kW",
    "1.36 t",
    "-5 kW",
    "1e999 GB/s",
    "1e-300 B/s",
    "5e-324 W",
    "0 W",
    "10 kw",
    "400G",
    "0.5",
    2.5,
    [],
    {},
    None,
    True,
    "9" * 400,
    [1, 2, 3],
    {"a": 1},
    "rack",
    "tray",
    "nonexistent-name",
    "h100-sxm",
    "x" * 3000,
]
# Numbers put in front of a unit string's unit ("800 Gb/s" -> "nan Gb/s").
BAD_NUMBERS = [
    "-1",
    "0",
    "-0",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e999",
    "1e-300",
    "5e-324",
    "9" * 400,
    "",
    "abc",
    "0x10",
    "1_000",
    "1e6",
    "2.5",
]
# Numbers a range check lets through, that later arithmetic may not survive.
EXTREME_NUMBERS = ["1e-300", "5e-324", "1e-12", "1e-6", "0.001", "1e6", "1e12", "1e30", "1e300"]
# Option values for the command line.
BAD_OPTIONS = [
    "-1",
    "0",
    "-0",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e999",
    "5e-324",
    "1e-300",
    "2.5",
    "",
    " ",
    "abc",
    "9" * 400,
    "1" * 30,
    "1 GB",
    "10 kW",
    "800 Gb/s",
    "5 us",
    "unknown-name",
    "llama-3-70b",
    "deepseek-v3",
    "gb200-nvl72",
    "1,2,,3",
    "0,0",
    "1,-1",
    ",",
    "5m,1h,1d",
    "0s",
    "-5m",
    "tp=none,ep=full",
    "tp=bogus",
    "/dev/zero",
    "/nonexistent/x.yaml",
    ".",
    "{d}",
    "{d}/old.txt",
    "{d}/" + "x" * 300 + ".png",
    "{d}/missing/out.png",
]
EXTREME_OPTIONS = ["nan", "inf", "-inf", "1e308", "5e-324", "1e-300", "-1", "0", "1e30", "9" * 30]
OUTPUT_VALUES = [
    ".",
    "..",
    "",
    "{d}",
    "{d}/old.txt",
    "{d}/old.png",
    "{d}/missing/out.png",
    "{d}/" + "x" * 300 + ".png",
    "{d}/out.txt",
    "{d}/out.svg",
]
_NUMBER = re.compile(r"^(\s*)([-+]?[0-9.]+(?:[eE][-+]?\d+)?)(\s*\S.*)$")
_UNIT_SWAPS = {
    "Gb/s": ["GB/s", "gb/s", "Gbps", "G"],
    "GB/s": ["Gb/s", "GB", "TB"],
    "TB/s": ["TB", "tb/s"],
    "kW": ["kw", "W/s", "kWh", "GB"],
    "W": ["w", "kWh"],
    "kg": ["kgs", "t/s"],
    "GB": ["Gb", "GiB/s", "gb"],
    "us": ["µs", "usec", "m"],
    "ns": ["nanoseconds", "s/s"],
    "PFLOP/s": ["PFLOPS", "pflop/s", "TB/s"],
    "TFLOP/s": ["TFLOPS", "W"],
    "m": ["meters", "km/s"],
    "U": ["u", "RU"],
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += [(*prefix, k), *_paths(v, (*prefix, k))]
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += [(*prefix, i), *_paths(v, (*prefix, i))]
    return out


def _unit_mutation(value: str, draw: Draw) -> str:
    m = _NUMBER.match(value)
    if not m:
        return draw.choice(BAD_NUMBERS) + " " + value
    lead, _, unit = m.groups()
    if draw.integer(0, 2) == 0:
        swaps = [s for u, ss in _UNIT_SWAPS.items() if unit.strip() == u for s in ss]
        return f"{lead}{m.group(2)} {draw.choice(swaps or ['furlongs', ''])}"
    number = draw.choice(EXTREME_NUMBERS if draw.integer(0, 2) else BAD_NUMBERS)
    return f"{lead}{number}{unit}"


def mutate_doc(doc: Any, draw: Draw, extra_keys: Sequence[str] = ()) -> Any:
    """`doc` with one to three values replaced, removed, doubled or re-united."""
    doc = copy.deepcopy(doc)
    for _ in range(draw.choice([1, 1, 1, 2, 3])):
        paths = _paths(doc)
        if not paths:
            return draw.choice(BAD_VALUES)
        path = draw.choice(paths)
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = draw.integer(0, 5)
        value = parent[key]
        if op == 0 and isinstance(value, str) and _NUMBER.match(value):
            parent[key] = _unit_mutation(value, draw)
        elif op == 1 and isinstance(parent, dict):
            del parent[key]
        elif op == 2:
            parent[key] = [copy.deepcopy(value)] * draw.integer(2, 3)
        elif op == 3 and isinstance(parent, dict):  # a key added: known elsewhere, or not
            new = copy.deepcopy(draw.choice(BAD_VALUES))
            parent[draw.choice([*extra_keys, "bogus_key", str(key) + "x", ""])] = (
                [new] if draw.integer(0, 1) else new
            )
        elif op == 4 and isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[key] = draw.choice(
                [value * 1000, value * 1e12, value / 1e6, value + 1, 1, 2**31, -value, 0]
            )
        else:
            parent[key] = copy.deepcopy(draw.choice(BAD_VALUES))
    return doc


def dump(doc: Any) -> str:
    """YAML text of a (mutated) document; NaN and infinities as YAML writes them."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)


def mutate_text(text: str, draw: Draw) -> str | bytes:
    """The file's text broken at the level of characters, not keys."""
    op = draw.integer(0, 7)
    n = len(text)
    if op == 0:
        return text[: draw.integer(0, n)]
    if op == 1:
        return "[" * 5000 + text
    if op == 2:
        return re.sub(r"\d+", "9" * 5000, text, count=1)
    if op == 3:
        return text.replace(":", ": &a [*a, *a]", 1)
    if op == 4:
        at = draw.integer(0, n)
        return text[:at] + "\x00" + text[at:]
    if op == 5:
        return text.encode("utf-8")[: draw.integer(0, n)] + b"\xff\xfe\xc3"
    if op == 6:
        lines = text.splitlines(keepends=True)
        if lines:
            i = draw.integer(0, len(lines) - 1)
            lines[i] = draw.choice(["\t" + lines[i], lines[i] * 2, "", "- " + lines[i]])
        return "".join(lines)
    return text + "\n" + draw.choice(["{", "- x", "key: value", "a: [1, 2", "? x", "!!python/x 1"])


# ------------------------------------------------------------------ cases
@dataclass
class Case:
    """One run of ``topo``: its arguments and the files it reads and writes.

    ``{d}`` in an argument stands for the case's own folder; `files` are written there
    first; `outputs` are paths (under ``{d}``) the command may write: after a failed run
    each must be as it was (absent, or its old contents in `existing`).
    """

    kind: str
    argv: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    existing: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The command and the input files, for a report."""
        lines = ["topo " + " ".join(_quote(a) for a in self.argv)]
        for name, text in self.files.items():
            shown = text if isinstance(text, str) else repr(text)
            if len(shown) > 1500:
                shown = shown[:1500] + f"... ({len(shown):,} characters)"
            lines.append(f"--- {{d}}/{name}:\n{shown}")
        return "\n".join(lines)


def _quote(a: str) -> str:
    if len(a) > 120:
        a = a[:100] + f"...({len(a)} chars)"
    return a if a and re.fullmatch(r"[\w./{}=,:+-]+", a) else repr(a)


_BASES: dict[str, Any] = {}


def _base(name: str, make: Callable[[], Any]) -> Any:
    if name not in _BASES:
        _BASES[name] = make()
    return _BASES[name]


def _layout_docs() -> dict[str, Any]:
    from topo.layout import bundled_layouts

    return {n: yaml.safe_load(p.read_text(encoding="utf-8")) for n, p in bundled_layouts().items()}


def _file_or_text(
    draw: Draw, doc: Any, extra_keys: Sequence[str] = (), text_chance: int = 8
) -> str | bytes:
    """Mostly a mutated document; now and then the valid text broken as characters."""
    if draw.integer(0, text_chance - 1) == 0:
        return mutate_text(dump(doc), draw)
    return dump(mutate_doc(doc, draw, extra_keys))


def _keys_of(field: Any) -> list[str]:
    """Every key a field tree knows (keys to add where they do not belong, or do)."""
    from topo._fields import ListOf, MapOf, NameOr, Obj

    if isinstance(field, NameOr):
        return _keys_of(field.inline)
    if isinstance(field, Obj):
        return sorted({*field.fields, *(k for f in field.fields.values() for k in _keys_of(f))})
    if isinstance(field, (ListOf, MapOf)):
        return _keys_of(field.item if isinstance(field, ListOf) else field.value)
    return []


def _schema_keys(name: str) -> list[str]:
    import topo.schema

    return _base(f"keys-{name}", lambda: _keys_of(getattr(topo.schema, name)))


SMALL_LAYOUTS = ("dgx-h100", "dgx-h200", "dgx-b200", "mi300x-8", "gb200-nvl72", "tpu-v5p-4x4x4")


def layout_case(draw: Draw) -> Case:
    """A bundled layout mutated, then shown, checked, exported or evaluated."""
    docs = _base("layouts", _layout_docs)
    name = draw.choice(sorted(docs))
    f = {"layout.yaml": _file_or_text(draw, docs[name], _schema_keys("LAYOUT"))}
    cmd = draw.choice(["show", "check", "limits", "export", "evaluate", "show-json", "collective"])
    lay = "{d}/layout.yaml"
    if cmd == "export":
        return Case("layout", ["export", lay, "-o", "{d}/g.json"], f, ["{d}/g.json"])
    if cmd == "evaluate":
        argv = ["evaluate", lay, "--model", "llama-3.1-8b", "--tp", "1", "--batch", "4"]
        return Case("layout", argv, f)
    if cmd == "collective":
        argv = ["collective", lay, "--op", "all-reduce", "--gpus", "8", "--bytes", "1 MB"]
        return Case("layout", argv, f)
    if cmd == "show-json":
        return Case("layout", ["show", lay, "--json"], f)
    return Case("layout", [cmd, lay], f)


def _model_docs() -> list[dict[str, Any]]:
    text = (ROOT / "topo" / "data" / "models.yaml").read_text(encoding="utf-8")
    docs: list[dict[str, Any]] = yaml.safe_load(text)["models"]
    return docs


def model_case(draw: Draw) -> Case:
    """A catalogue model written as a file of its own, mutated, then evaluated."""
    doc = draw.choice(_base("models", _model_docs))
    f = {"model.yaml": _file_or_text(draw, doc, _schema_keys("MODEL"))}
    m = "{d}/model.yaml"
    argv = draw.choice(
        [
            ["evaluate", "dgx-h100", "--model", m],
            ["evaluate", "gb200-nvl72", "--model", m, "--batch", "8"],
            ["memory", "dgx-h100", "--model", m, "--train", "--tokens-per-batch", "100000"]
            + ["--seq-len", "4096"],
            ["moe", "gb200-nvl72", "--model", m, "--tokens-per-gpu", "8", "--ep", "8"],
            ["price", "dgx-h100", "--model", m, "--context", "1000,8000", "--batch", "1,8"],
            ["sweep", "dgx-h100", "--model", m, "--batch", "1,16"],
            ["plan", "dgx-h100", "--model", m, "--top", "3"],
        ]
    )
    return Case("model", argv, f)


def _catalogue_bases() -> list[tuple[str, dict[str, Any]]]:
    """(layout, a catalogue file overriding its accelerator and scale-up link)."""
    from topo.layout import load_layout

    def section(fname: str) -> dict[str, dict[str, Any]]:
        text = (ROOT / "topo" / "data" / fname).read_text(encoding="utf-8")
        key = "accelerators" if "accel" in fname else "links"
        return {e["name"]: e for e in yaml.safe_load(text)[key]}

    accs, links = section("accelerators.yaml"), section("links.yaml")
    out = []
    for name in SMALL_LAYOUTS:
        lay = load_layout(name)
        doc: dict[str, Any] = {"schema_version": 1, "accelerators": []}
        acc = accs.get(lay.accelerator.name)
        if acc:
            doc["accelerators"].append(acc)
        link = links.get(lay.scale_up.link or "")
        if link:
            doc["links"] = [link]
        out.append((name, doc))
    return out


def catalogue_case(draw: Draw) -> Case:
    """A catalogue file overriding a layout's parts, mutated, then listed or used."""
    layout, doc = draw.choice(_base("catalogues", _catalogue_bases))
    f = {"parts.yaml": _file_or_text(draw, doc, _schema_keys("CATALOGUE_FILE"))}
    c = ["--catalogue", "{d}/parts.yaml"]
    argv = draw.choice(
        [
            ["catalogue", *c],
            ["catalogue", "--json", *c],
            ["show", layout, *c],
            ["check", layout, *c],
            ["evaluate", layout, "--model", "llama-3.1-8b", "--batch", "2", *c],
            ["collective", layout, "--op", "all-gather", "--gpus", "8", *c],
        ]
    )
    return Case("catalogue", argv, f)


TINY_STUDY: dict[str, Any] = {
    "name": "tiny",
    "layouts": ["dgx-h100"],
    "vary": {"nic": ["400 Gb/s"], "power_budget": ["40 kW"]},
    "models": ["llama-3.1-8b"],
    "workloads": [{"input": 128, "output": 16, "weights": "bf16"}],
    "objectives": ["usd_per_million_tco", "tokens_per_s_per_gpu"],
    "constraints": {"slo_tpot_ms": 50, "physical": True},
    "max_replica_gpus": 8,
    "costs": {"usd_per_kwh": 0.12},
}


def _study_keys() -> list[str]:
    """Keys a study may hold anywhere: variations, workload fields, cost inputs, limits."""
    from topo.design import DESIGN_KEYS, cost_inputs
    from topo.physical import VARY_KEYS
    from topo.study import _CONSTRAINT_KEYS, _WORKLOAD_KEYS

    keys = {*DESIGN_KEYS, *VARY_KEYS, *_WORKLOAD_KEYS, *cost_inputs(), *_CONSTRAINT_KEYS}
    return sorted(keys)


def study_case(draw: Draw) -> Case:
    """A one-design study, mutated, then run into a results folder."""
    f = {"study.yaml": _file_or_text(draw, TINY_STUDY, _base("study-keys", _study_keys))}
    argv = ["study", "{d}/study.yaml", "-o", "{d}/results"]
    if draw.integer(0, 3) == 0:
        argv.append("--json")
    return Case("study", argv, f, ["{d}/results"])


def _measurement_base() -> dict[str, Any]:
    comp = yaml.safe_load((ROOT / "validation" / "components.yaml").read_text(encoding="utf-8"))
    serving = yaml.safe_load(
        (ROOT / "validation" / "public_serving.yaml").read_text(encoding="utf-8")
    )
    points = []
    for kind in ("gemm", "bandwidth", "collective"):
        points += [p for p in comp["measurements"] if p["kind"] == kind][:2]
    points += [p for p in serving["measurements"] if p.get("layout") == "dgx-h100"][:2]
    return {"measurements": points}


def measurements_case(draw: Draw) -> Case:
    """Published measurements (one point of each kind), mutated, then validated or fitted."""
    f = {"m.yaml": _file_or_text(draw, _base("measurements", _measurement_base))}
    m = "{d}/m.yaml"
    argv = draw.choice(
        [
            ["validate", m],
            ["validate", m, "--clean", "--json"],
            ["validate", m, "--markdown", "{d}/report.md"],
            ["calibrate", m, "-o", "{d}/p.yaml"],
            ["calibrate", m, "--accelerator", "h100-sxm", "-o", "{d}/p.yaml"],
        ]
    )
    outs = [a for a in argv if a.startswith("{d}/") and a != m]
    return Case("measurements", argv, f, outs)


def _nccl_mutation(text: str, draw: Draw) -> str | bytes:
    lines = text.splitlines(keepends=True)
    for _ in range(draw.integer(1, 3)):
        op = draw.integer(0, 4)
        i = draw.integer(0, len(lines) - 1) if lines else 0
        if op == 0 and lines:  # a number in a line replaced
            nums = list(re.finditer(r"[-+]?\d+(?:\.\d+)?", lines[i]))
            if nums:
                m = draw.choice(nums)
                bad = draw.choice(BAD_NUMBERS)
                lines[i] = lines[i][: m.start()] + bad + lines[i][m.end() :]
        elif op == 1 and lines:
            del lines[i]
        elif op == 2 and lines:
            lines.insert(i, lines[i] * draw.integer(1, 3))
        elif op == 3:
            lines = [re.sub(r"nGpus\s+\d+", "nGpus " + draw.choice(BAD_NUMBERS), x) for x in lines]
        else:
            return mutate_text("".join(lines), draw)
    return "".join(lines)


def nccl_case(draw: Draw) -> Case:
    """nccl-tests output (all_reduce_perf), its rows and header broken, then read."""
    text = (ROOT / "tests" / "data" / "all_reduce_perf.txt").read_text(encoding="utf-8")
    f = {"nccl.txt": _nccl_mutation(text, draw)}
    layout = draw.choice(["dgx-h100", "dgx-h100", "gb200-nvl72", "nonexistent", ""])
    lay = ["--layout", layout] if layout else []
    argv = draw.choice(
        [
            ["validate", "{d}/nccl.txt", *lay],
            ["calibrate", "{d}/nccl.txt", *lay, "-o", "{d}/p.yaml"],
        ]
    )
    return Case("nccl-tests", argv, f, ["{d}/p.yaml"] if "calibrate" in argv else [])


def _profile_base() -> dict[str, Any]:
    from topo.fidelity import DEFAULT

    return {"fidelity": DEFAULT.to_dict(), "points": 10}


def calibration_case(draw: Draw) -> Case:
    """A calibration profile, mutated, then used by evaluate or validate."""
    f = {"profile.yaml": _file_or_text(draw, _base("profile", _profile_base))}
    p = ["--calibration", "{d}/profile.yaml"]
    argv = draw.choice(
        [
            ["evaluate", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "1", *p],
            ["sweep", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "2", "--batch", "1,64", *p],
            ["validate", str(ROOT / "validation" / "engine_allreduce.yaml"), *p],
        ]
    )
    return Case("calibration", argv, f)


# A valid run of every subcommand; the cli kind changes its options.
COMMANDS: dict[str, list[str]] = {
    "show": ["show", "gb200-nvl72"],
    "export": ["export", "dgx-h100", "-o", "{d}/g.graphml"],
    "layouts": ["layouts"],
    "catalogue": ["catalogue"],
    "place": ["place", "gb200-nvl72", "--tp", "4", "--dp", "18"],
    "collective": ["collective", "gb200-nvl72", "--op", "all-reduce", "--gpus", "8"],
    "moe": ["moe", "gb200-nvl72", "--model", "deepseek-v3", "--tokens-per-gpu", "32"]
    + ["--ep", "72"],
    "evaluate": ["evaluate", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "1", "--batch", "8"],
    "sweep": ["sweep", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "1", "--batch", "1,8,64"],
    "plan": ["plan", "dgx-h100", "--model", "llama-3.1-8b", "--max-latency-ms", "50"],
    "check": ["check", "dgx-h100"],
    "limits": ["limits", "gb200-nvl72", "--vary", "power_budget=600 kW"],
    "render": ["render", "dgx-h100", "--kind", "elevation", "-o", "{d}/r.svg"],
    "plot": ["plot", "limits", "dgx-h100", "-o", "{d}/p.svg"],
    "gallery": ["gallery", "-o", "{d}/old.txt"],
    "serve": ["serve", "dgx-h100", "--model", "llama-3.1-8b", "--rate", "1", "--requests", "200"]
    + ["--tp", "1"],
    "price": ["price", "dgx-h100", "--model", "llama-3.1-8b", "--context", "1000,8000"]
    + ["--batch", "1,8"],
    "cache": ["cache", "dgx-h100", "--model", "llama-3.1-8b", "--prefix", "10000", "--tp", "1"],
    "lifecycle": ["lifecycle", "--params", "8e9", "--tokens", "15e12"]
    + ["--inference-tokens", "1e13"],
    "memory": ["memory", "dgx-h100", "--model", "llama-3.1-8b", "--train"]
    + ["--tokens-per-batch", "100000", "--seq-len", "4096"],
    "compare": ["compare", "dgx-h100", "dgx-h200", "--model", "llama-3.1-8b"]
    + ["--slo-tpot-ms", "50", "--cost", "usd_per_kwh=0.12"],
    "study": ["study", "{d}/study.yaml", "-o", "{d}/results"],
    "calibrate": ["calibrate", "{d}/m.yaml", "-o", "{d}/p.yaml"],
    "validate": ["validate", "{d}/m.yaml", "--markdown", "{d}/v.md"],
    "measure": ["measure", "-o", "{d}/meas.yaml", "--quick"],
    "schema": ["schema", "-o", "{d}/s.json"],
}
# Options whose value is a file written (absent or unchanged after a failed run).
_OUTPUT_OPTIONS = ("-o", "--output-file", "--output-dir", "--plot", "--markdown")
# Slow runs a changed option may start; their values stay bad or small.
_GALLERY_OUTPUTS = ("{d}/old.txt", "", "{d}/" + "x" * 300)


def _options() -> dict[str, list[tuple[str, Any]]]:
    """Each subcommand's optional arguments (option string, argparse action)."""
    from topo.cli import _parser

    p = _parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    out: dict[str, list[tuple[str, Any]]] = {}
    for name, sp in sub.choices.items():
        out[name] = [
            (a.option_strings[-1], a)
            for a in sp._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)
        ]
    return out


def _value_for(opt: str, action: Any, draw: Draw) -> str:
    """A value, mostly bad, for one option."""
    if opt in ("--cost", "--vary"):
        from topo.design import cost_inputs
        from topo.physical import VARY_KEYS

        keys = sorted(cost_inputs()) if opt == "--cost" else sorted(VARY_KEYS)
        key = draw.choice([*keys, "bogus", ""])
        value = draw.choice(
            [
                *BAD_OPTIONS[:16],
                "600 kW",
                "nan kW",
                "1e308 kW",
                "-5 kW",
                "0 kg",
                "optical",
                "bogus",
                "42 U",
                "1e-300 m",
            ]
        )
        return draw.choice([f"{key}={value}", key, f"={value}", f'{key}="{value}"'])
    if opt in _OUTPUT_OPTIONS:
        return str(draw.choice(OUTPUT_VALUES + BAD_OPTIONS[:6]))
    if action.choices and draw.integer(0, 3) == 0:
        return str(draw.choice(list(action.choices)))
    if draw.integer(0, 1) == 0:  # numbers that pass a type check but not arithmetic
        return str(draw.choice(EXTREME_OPTIONS))
    return str(draw.choice(BAD_OPTIONS))


def cli_case(draw: Draw) -> Case:
    """A subcommand's valid run with one or two options given bad values, or one dropped."""
    opts = _base("options", _options)
    name = draw.choice(sorted(COMMANDS))
    argv = list(COMMANDS[name])
    files: dict[str, str | bytes] = {}
    if name == "study":
        files["study.yaml"] = dump(TINY_STUDY)
    if name in ("calibrate", "validate"):
        files["m.yaml"] = dump(_base("measurements", _measurement_base))
    for _ in range(draw.integer(1, 2)):
        op = draw.integer(0, 5)
        if op == 0 and len(argv) > 1:  # a positional or option value replaced
            i = draw.integer(1, len(argv) - 1)
            if not argv[i].startswith("-"):
                values = OUTPUT_VALUES if argv[i - 1] in _OUTPUT_OPTIONS else BAD_OPTIONS
                argv[i] = str(draw.choice(values))
        elif op == 1 and len(argv) > 2:  # an option dropped (perhaps a required one)
            flags = [i for i, a in enumerate(argv) if a.startswith("-") and i + 1 < len(argv)]
            if flags:
                i = draw.choice(flags)
                del argv[i : i + 2]
        elif op == 2:
            argv.append(draw.choice(["--bogus", "--out", "--js", "-x"]))
        elif opts.get(name):
            opt, action = draw.choice(opts[name])
            if action.nargs == 0:
                argv.append(opt)
            else:
                argv += [opt, _value_for(opt, action, draw)]
    if any(o == "--json" for o, _ in opts.get(name, [])) and draw.integer(0, 1) == 0:
        argv.append("--json")  # JSON refuses NaN and infinities that text would print
    if name == "gallery":  # a valid folder would draw the whole gallery: keep it bad
        argv = ["gallery", "-o", draw.choice(_GALLERY_OUTPUTS)]
    outs: list[str] = []
    for i, a in enumerate(argv[:-1]):
        if a in _OUTPUT_OPTIONS and argv[i + 1].startswith("{d}/"):
            outs.append(argv[i + 1])
    return Case("cli", argv, files, outs, existing={"old.txt": "old\n", "old.png": "old png\n"})


MAKERS: dict[str, Callable[[Draw], Case]] = {
    "layout": layout_case,
    "model": model_case,
    "catalogue": catalogue_case,
    "study": study_case,
    "measurements": measurements_case,
    "nccl-tests": nccl_case,
    "calibration": calibration_case,
    "cli": cli_case,
}


# ------------------------------------------------------------------ running
class _Timeout(BaseException):
    """Raised by the alarm; a BaseException, so the CLI's catch-all does not swallow it."""


@dataclass
class Outcome:
    """What one case did: its class, exit status and the end of its stderr."""

    outcome: str
    code: int | None
    stderr: str
    seconds: float
    problem: str = ""

    @property
    def bug(self) -> bool:
        """True for an outcome that is never acceptable."""
        return self.outcome in BUGS


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _snapshot(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in folder.rglob("*"):
        if p.is_file():
            with contextlib.suppress(OSError):
                out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def _output_problem(case: Case, folder: Path, code: int, before: dict[str, bytes]) -> str:
    """What is wrong with the files a run left in its folder ('' if nothing)."""
    after = _snapshot(folder)
    temps = [n for n in after if Path(n).name.startswith(".") and n not in before]
    if temps:
        return f"temporary files left: {temps}"
    if code == 0:
        return ""
    for name, old in before.items():
        if after.get(name) != old:
            return f"{name}: an existing file changed by a failed run"
    for out in case.outputs:
        rel = out.removeprefix("{d}/")
        p = folder / rel
        if rel == "results" and p.is_dir():  # a study: what it wrote must be whole JSON
            for j in p.glob("*.json"):
                try:
                    json.loads(j.read_text(encoding="utf-8"))
                except (ValueError, OSError):
                    return f"{out}/{j.name}: half-written"
            continue
        if rel in after and rel not in before:
            return f"{out}: written by a failed run"
    return ""


def run_case(case: Case, folder: Path, *, timeout_s: float = 30.0) -> Outcome:
    """Run `case` in `folder` (created empty) through ``topo.cli.main``; its outcome."""
    from topo.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**case.existing, **case.files}.items():
        p = folder / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")
    argv = [a.replace("{d}", str(folder)) for a in case.argv]
    for flag, value in zip(argv, argv[1:], strict=False):
        # topo runs as whoever runs this, maybe root: never let it write outside the case.
        if flag in _OUTPUT_OPTIONS and Path(value).is_absolute():
            if not Path(value).resolve().is_relative_to(folder.resolve()):
                msg = f"a case may write only under its folder, got {flag} {value}"
                raise ValueError(msg)
    before = _snapshot(folder)
    cwd = Path.cwd()
    os.chdir(folder)  # relative outputs (".", "..", "") land in the case's folder
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    code: int | None = None
    outcome = ""
    try:
        with _alarm(timeout_s), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except _Timeout:
        outcome = "timeout"
    except MemoryError:
        outcome = "memory"
    except BaseException as e:  # noqa: BLE001 - anything escaping main is a bug to report
        outcome = "other exit"
        err.write(f"escaped main: {type(e).__name__}: {e}")
    finally:
        os.chdir(cwd)
        _close_figures()
    seconds = time.perf_counter() - t0
    text = err.getvalue()
    if not outcome:
        if "MemoryError" in text:
            outcome = "memory"
        elif "internal error" in text or "Traceback" in text:
            outcome = "internal error"
        elif code in (0, 1, 2):
            outcome = f"exit {code}"
        else:
            outcome = "other exit"
    problem = ""
    if outcome.startswith("exit") and code is not None:
        problem = _output_problem(case, folder, code, before)
        if problem:
            outcome = "bad output"
    return Outcome(outcome, code, text[-2000:], seconds, problem)


def _say(*parts: Any, flush: bool = False) -> None:
    """One line on stdout (the script's report)."""
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    if flush:
        sys.stdout.flush()


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def make_case(kind: str, draw: Draw) -> Case:
    """One case of `kind` from `draw`; a third of those that can print JSON do."""
    case = MAKERS[kind](draw)
    opts = _base("options", _options).get(case.argv[0], [])
    takes_json = any(o == "--json" for o, _ in opts)
    if kind != "cli" and takes_json and "--json" not in case.argv and draw.integer(0, 2) == 0:
        case.argv.append("--json")
    return case


# ------------------------------------------------------------------ script
def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer; print counts per kind and outcome; exit 1 if any case is a bug."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=2000, help="cases in all (default 2000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--kinds", default=",".join(KINDS), help="input kinds, comma-separated")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    p.add_argument("--memory-gb", type=float, default=8.0, help="address-space limit")
    p.add_argument("--json", metavar="FILE", help="also write every case's outcome as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.add_argument(
        "--replay", type=int, metavar="N", help="run only case N (same seed): input, stderr"
    )
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown or args.cases < 1:
        p.error(f"--kinds: expected some of {', '.join(KINDS)}; --cases >= 1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    draw = RandomDraw(args.seed)
    counts: dict[str, Counter[str]] = {k: Counter() for k in kinds}
    bugs: list[tuple[int, Case, Outcome]] = []
    records = []
    slowest: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="topo-fuzz-") as tmp:
        for n in range(args.cases):
            kind = kinds[n % len(kinds)]
            case = make_case(kind, draw)
            if args.replay is not None and n != args.replay:
                continue
            folder = Path(tmp) / f"c{n:05d}"
            res = run_case(case, folder, timeout_s=args.timeout)
            shutil.rmtree(folder, ignore_errors=True)
            counts[kind][res.outcome] += 1
            slowest = sorted([*slowest, (res.seconds, f"#{n} {case.argv[0]}")], reverse=True)[:5]
            if res.bug:
                bugs.append((n, case, res))
            if args.replay is not None:
                _say(case.describe())
                _say(f"exit {res.code}, {res.outcome} {res.problem}\n{res.stderr}")
                return 1 if res.bug else 0
            if args.verbose:
                _say(f"#{n} {kind} {res.outcome} {res.seconds:.2f}s {case.argv[:3]}", flush=True)
            records.append(
                {
                    "case": n,
                    "kind": kind,
                    "outcome": res.outcome,
                    "exit": res.code,
                    "seconds": round(res.seconds, 3),
                    "argv": case.argv,
                    **({"problem": res.problem} if res.problem else {}),
                    "stderr": res.stderr if res.bug else res.stderr.strip()[-300:],
                }
            )
    total = time.perf_counter() - t0
    classes = ["exit 0", "exit 1", "exit 2", *BUGS]
    _say(f"topo fuzz: {args.cases} cases, seed {args.seed}, {total:.0f} s")
    _say(f"{'kind':<14}{'cases':>7}" + "".join(f"{c:>16}" for c in classes))
    for kind in kinds:
        row = counts[kind]
        _say(f"{kind:<14}{sum(row.values()):>7}" + "".join(f"{row.get(c, 0):>16}" for c in classes))
    allc: Counter[str] = Counter()
    for row in counts.values():
        allc.update(row)
    _say(f"{'all':<14}{sum(allc.values()):>7}" + "".join(f"{allc.get(c, 0):>16}" for c in classes))
    _say("slowest: " + ", ".join(f"{s:.1f} s ({w})" for s, w in slowest))
    for n, case, res in bugs:
        _say(f"\n#{n} {case.kind}: {res.outcome} {res.problem}".rstrip())
        _say(case.describe())
        _say("stderr: " + (res.stderr.strip().splitlines() or [""])[-1][:500])
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
