"""The JSON Schema shipped for editors agrees with the loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers import LAYOUT_NAMES, bundled_doc

from topo._fields import MapOf, NameOr, Obj
from topo.errors import LayoutError
from topo.layout import bundled_layouts, load_layout
from topo.schema import LAYOUT, layout_json_schema

SHIPPED = Path(__file__).resolve().parents[1] / "layouts" / "layout.schema.json"


def test_shipped_schema_is_current() -> None:
    """`topo schema -o layouts/layout.schema.json` regenerates it after a field changes."""
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == layout_json_schema()


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(layout_json_schema())


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_bundled_layouts_validate(name: str) -> None:
    doc = yaml.safe_load(bundled_layouts()[name].read_text(encoding="utf-8"))
    jsonschema.validate(doc, layout_json_schema())


def _walk(field: Any, path: str, out: dict[str, set[str]]) -> None:
    if isinstance(field, NameOr):
        field = field.inline
    if isinstance(field, Obj):
        out[path] = set(field.fields)
        for k, f in field.fields.items():
            _walk(f, f"{path}.{k}", out)
    elif isinstance(field, MapOf):
        _walk(field.value, f"{path}.*", out)
    elif hasattr(field, "item"):
        _walk(field.item, f"{path}[]", out)


def _schema_keys(s: dict[str, Any], path: str, out: dict[str, set[str]]) -> None:
    if "anyOf" in s:
        for sub in s["anyOf"]:
            _schema_keys(sub, path, out)
        return
    if s.get("type") == "object" and "properties" in s and s.get("additionalProperties") is False:
        if path.endswith("peak_compute"):
            _schema_keys(next(iter(s["properties"].values())), f"{path}.*", out)
            return
        out[path] = set(s["properties"])
        for k, sub in s["properties"].items():
            _schema_keys(sub, f"{path}.{k}", out)
    elif s.get("type") == "array":
        _schema_keys(s["items"], f"{path}[]", out)


def test_every_key_the_loader_knows_is_in_the_schema() -> None:
    loader: dict[str, set[str]] = {}
    schema: dict[str, set[str]] = {}
    _walk(LAYOUT, "", loader)
    _schema_keys(layout_json_schema()["else"], "", schema)
    relaxed: dict[str, set[str]] = {}
    _schema_keys(layout_json_schema()["then"], "", relaxed)
    assert relaxed == schema
    assert loader == schema


BAD_DOCS: list[tuple[str, Callable[[dict], None]]] = [
    ("unknown key", lambda d: d.update(namex=1)),
    ("bare number for a power", lambda d: d["rack"].update(power_budget=132)),
    ("bandwidth for a power", lambda d: d["rack"].update(power_budget="800 Gb/s")),
    ("negative count", lambda d: d["rack"]["devices"][0].update(count=-4)),
    ("unknown topology", lambda d: d["scale_up"].update(topology="ring")),
    ("bad domain", lambda d: d["scale_up"].update(domain="pod")),
    ("list for a mapping", lambda d: d.update(rack=[1, 2])),
    ("string for a count", lambda d: d["cluster"].update(racks="16")),
    (
        "unknown dtype",
        lambda d: d.update(accelerator={"name": "gb200", "peak_compute": {"bf17": "1 PFLOP/s"}}),
    ),
]


@pytest.mark.parametrize(("label", "change"), BAD_DOCS, ids=[b[0] for b in BAD_DOCS])
def test_loader_and_schema_reject_the_same(
    label: str, change: Callable[[dict], None], write_layout: Callable[..., Path]
) -> None:
    doc = bundled_doc("gb200-nvl72")
    change(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, layout_json_schema())
    with pytest.raises(LayoutError):
        load_layout(write_layout(doc))
