"""Mutated layouts end in exit 0 or a clear error (exit 2): never an internal error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import LAYOUT_NAMES, bundled_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topo.cli import main

BAD_VALUES: list[Any] = [
    -1,
    0,
    1e30,
    "",
    "abc",
    "800 Gb/s",
    "132 kW",
    "1.36 t",
    "-5 kW",
    "NaN",
    "inf",
    [],
    {},
    None,
    True,
    "9" * 400,
    "1e999 GB/s",
    10**12,
    "0 W",
    "0.5",
    2.5,
    [1, 2, 3],
    {"a": 1},
    "rack",
    "tray",
    "7 racks",
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += [(*prefix, k), *_paths(v, (*prefix, k))]
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += [(*prefix, i), *_paths(v, (*prefix, i))]
    return out


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutations_never_crash(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(bundled_doc(data.draw(st.sampled_from(LAYOUT_NAMES))))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = data.draw(st.integers(0, 2))
        if op == 0:
            parent[key] = copy.deepcopy(data.draw(st.sampled_from(BAD_VALUES)))
        elif op == 1 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = [copy.deepcopy(parent[key])] * 2
    f = tmp_path / "case.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    command = data.draw(st.sampled_from(["show", "check", "limits"]))
    code = main([command, str(f)])
    _, err = capsys.readouterr()
    assert code in ((0, 1, 2) if command in ("check", "limits") else (0, 2)), err
    assert "internal error" not in err
