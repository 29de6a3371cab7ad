"""The JSON Schemas (layout files, shipped for editors; catalogue files) agree with the loaders."""

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
from topo.catalogue import load_catalogue
from topo.cli import main
from topo.errors import LayoutError
from topo.layout import bundled_layouts, load_layout
from topo.schema import CATALOGUE_FILE, LAYOUT, catalogue_json_schema, layout_json_schema

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


# ---------------------------------------------------------------- catalogue files
DATA = Path(__file__).resolve().parents[1] / "topo" / "data"


def _catalogue_entries() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for section in ("accelerators", "links"):
        doc = yaml.safe_load((DATA / f"{section}.yaml").read_text(encoding="utf-8"))
        out += [(section, e) for e in doc[section]]
    return out


def test_catalogue_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(catalogue_json_schema())


@pytest.mark.parametrize(
    ("section", "entry"), _catalogue_entries(), ids=[e["name"] for _, e in _catalogue_entries()]
)
def test_every_bundled_catalogue_entry_validates(section: str, entry: dict[str, Any]) -> None:
    """Each entry alone, as a user's catalogue file holding a copy of it would."""
    jsonschema.validate({"schema_version": 1, section: [entry]}, catalogue_json_schema())


def test_the_bundled_catalogue_files_validate() -> None:
    for section in ("accelerators", "links"):
        doc = yaml.safe_load((DATA / f"{section}.yaml").read_text(encoding="utf-8"))
        jsonschema.validate(doc, catalogue_json_schema())


def test_every_key_the_catalogue_loader_knows_is_in_its_schema() -> None:
    loader: dict[str, set[str]] = {}
    schema: dict[str, set[str]] = {}
    _walk(CATALOGUE_FILE, "", loader)
    _schema_keys(catalogue_json_schema(), "", schema)
    assert loader == schema
    assert set(loader[".accelerators[]"]) >= {"name", "peak_compute", "hbm_capacity", "power"}


H100 = {"name": "h100-sxm", "hbm_capacity": "96 GB"}  # an override: only what changes
NEW = {"name": "x100", "peak_compute": {"bf16": "1 PFLOP/s"}, "hbm_capacity": "100 GB"}
NEW_LINK = {"name": "xlink", "bandwidth": "100 GB/s", "medium": "copper"}

BAD_CATALOGUES: list[tuple[str, dict[str, Any]]] = [
    ("unknown key", {"accelerators": [{**NEW, "hbm": "80 GB"}]}),
    ("bare number for a bandwidth", {"links": [{**NEW_LINK, "bandwidth": 100}]}),
    ("power for a bandwidth", {"links": [{**NEW_LINK, "bandwidth": "10 kW"}]}),
    (
        "a new accelerator without its HBM",
        {"accelerators": [{"name": "x100", "peak_compute": {"bf16": "1 PFLOP/s"}}]},
    ),
    ("a new link without its bandwidth", {"links": [{"name": "ylink", "medium": "optical"}]}),
    ("an entry without a name", {"accelerators": [{"hbm_capacity": "80 GB"}]}),
    ("an unknown medium", {"links": [{**NEW_LINK, "medium": "fibre"}]}),
    ("zero lanes", {"links": [{**NEW_LINK, "lanes": 0}]}),
    ("an efficiency above 1", {"accelerators": [{**NEW, "efficiency": {"hbm": 1.5}}]}),
    ("an unknown dtype", {"accelerators": [{**NEW, "peak_compute": {"bf17": "1 PFLOP/s"}}]}),
    ("an upper-case name", {"accelerators": [{**NEW, "name": "X100"}]}),
    ("a list for the entries", {"links": {"name": "xlink"}}),
    ("schema_version 2", {"schema_version": 2, "links": [NEW_LINK]}),
]


@pytest.mark.parametrize(("label", "doc"), BAD_CATALOGUES, ids=[b[0] for b in BAD_CATALOGUES])
def test_catalogue_loader_and_schema_reject_the_same(
    label: str, doc: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, catalogue_json_schema())
    p = tmp_path / "parts.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(LayoutError):
        load_catalogue([p])


def test_catalogue_loader_and_schema_accept_the_same(tmp_path: Path) -> None:
    """A new complete part, a new link, and an override giving one field of a bundled part."""
    doc = {"schema_version": 1, "accelerators": [NEW, H100], "links": [NEW_LINK]}
    jsonschema.validate(doc, catalogue_json_schema())
    p = tmp_path / "parts.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    cat = load_catalogue([p])
    assert cat.accelerator("h100-sxm").hbm_capacity_bytes == 96e9
    assert cat.accelerator("x100").peak_flop_per_s["bf16"] == 1e15
    assert cat.link("xlink").bandwidth_bytes_per_s == 100e9


def test_topo_schema_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "catalogue"]) == 0
    assert json.loads(capsys.readouterr().out) == catalogue_json_schema()
    out = tmp_path / "catalogue.schema.json"
    assert main(["schema", "catalogue", "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "topo catalogue"
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "topo layout"
