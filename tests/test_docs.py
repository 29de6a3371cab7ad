"""Documentation users can run: the notebook tour executes cell by cell, the API reference
builds with the README's command, and every public name has a docstring that gives the
unit of each quantity it takes or holds."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import shlex
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import topo
from topo import api, results, scenario

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "docs" / "tour.ipynb"


def _tour() -> dict[str, object]:
    import nbformat

    return dict(nbformat.read(TOUR, as_version=4))


def test_tour_runs_without_a_cell_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell of docs/tour.ipynb runs on this interpreter; a cell error fails the test."""
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's path-migration warning
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from traitlets import default

    class ThisPython(AsyncKernelManager):  # type: ignore[misc]
        """ipykernel's own "python3" spec (this interpreter), never one installed elsewhere."""

        @default("kernel_spec_manager")
        def _native_only(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[])

    nb = nbformat.read(TOUR, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable, end='')"))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=ThisPython,
        timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    assert nb.cells.pop().outputs[0].text == sys.executable
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    # What the markdown says the cells show.
    assert "memory-bound, by weights" in text
    assert "best: " in text
    assert "binding: " in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the figure was not drawn"
    assert not list(tmp_path.iterdir()), "the tour wrote files"


def test_tour_is_stored_without_outputs() -> None:
    """The tour is kept with outputs cleared: what it shows comes from running it."""
    cells = _tour()["cells"]
    assert isinstance(cells, list)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 8
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_tour_uses_the_one_call_api() -> None:
    cells = _tour()["cells"]
    assert isinstance(cells, list)
    source = "\n".join(c["source"] for c in cells if c["cell_type"] == "code")
    for call in ("topo.evaluate(", "topo.Scenario(", "topo.compare(", "topo.sweep(", ".records("):
        assert call in source, call
    assert "topo.check(" in source
    assert "import pandas" in source  # only inside the table helper, when installed


# --- The API reference and the docstrings it is built from ---------------------------------


def _readme_pdoc_command() -> list[str]:
    """The arguments of the README's one `pdoc` command."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "&& pdoc " in line]
    assert len(lines) == 1, "the README gives one command that builds the API reference"
    return shlex.split(lines[0].split("&& pdoc ", 1)[1].strip().strip("`"))


def test_api_reference_builds_with_the_readme_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's pdoc command, run in this process: any warning fails the test."""
    pytest.importorskip("pdoc", reason="pdoc is in the docs extra")
    import pdoc.__main__

    args = _readme_pdoc_command()
    out = args.index("-o") + 1
    assert args[out] == "docs/api"
    args[out] = str(tmp_path / "api")
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # pdoc replaces it
    # Run outside the checkout: with a non-editable install (as CI's) the folder topo/ beside
    # the installed package would make pdoc warn that the name is ambiguous.
    monkeypatch.chdir(tmp_path)
    pdoc.__main__.cli(args)
    pages = {p.relative_to(tmp_path / "api").as_posix() for p in tmp_path.rglob("*.html")}
    assert {"topo.html", "topo/api.html", "topo/scenario.html", "topo/results.html"} <= pages
    page = (tmp_path / "api" / "topo.html").read_text(encoding="utf-8")
    for name in ("evaluate", "Scenario", "sweep", "check", "compare", "Evaluation"):
        assert f'id="{name}"' in page, name
    # numpy sections are rendered, not shown as underlined text
    results_page = (tmp_path / "api" / "topo" / "results.html").read_text(encoding="utf-8")
    assert "----------" not in results_page.split("<main", 1)[1].split("pdoc-code")[0]


MODULES = (topo, api, scenario, results)


def _exported() -> list[tuple[str, object]]:
    """(dotted name, object) of each name in the modules' ``__all__``."""
    return _listed()


def _listed() -> list[tuple[str, object]]:
    return [
        (f"{m.__name__}.{n}", getattr(m, n))
        for m in MODULES
        for n in m.__all__
        if n != "__version__"
    ]


def _own_doc(obj: object) -> str:
    """The docstring written for `obj` (not a dataclass's generated signature)."""
    doc = inspect.getdoc(obj) or ""
    name = getattr(obj, "__name__", "")
    return "" if inspect.isclass(obj) and doc.startswith(f"{name}(") else doc


def _constant_doc(module: object, name: str) -> str:
    """The string literal that follows ``NAME = ...`` in the module's source (pdoc's)."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    for a, b in itertools.pairwise(tree.body):
        targets = a.targets if isinstance(a, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
                return str(b.value.value)
    return ""


@pytest.mark.parametrize(("name", "obj"), _exported(), ids=[n for n, _ in _exported()])
def test_every_public_name_has_a_docstring(name: str, obj: object) -> None:
    if not callable(obj):
        module, _, attr = name.rpartition(".")
        assert _constant_doc(sys.modules[module], attr), f"{name} has no docstring"
        return
    assert _own_doc(obj).strip(), f"{name} has no docstring"
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            public = not attr.startswith("_") and (callable(member) or isinstance(member, property))
            if public:
                assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_public_names_are_found() -> None:
    names = {n for n, _ in _exported()}
    assert {"topo.evaluate", "topo.Scenario", "topo.Sweep", "topo.results.Decode"} <= names
    assert "topo.api.DEFAULT_BATCHES" in names
    assert len(names) >= 60
    assert not _own_doc(type("Bare", (), {})), "a class without a docstring is found out"


SECTIONS = {"Parameters", "Returns", "Attributes", "Examples", "Raises", "Notes", "See Also"}


def _entries(doc: str, section: str) -> dict[str, str]:
    """A numpy section's entries: each name (``a, b`` names two) -> its description."""
    lines = doc.splitlines()
    if section not in lines:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    for line in lines[lines.index(section) + 2 :]:  # after the title and its underline
        if line in SECTIONS:
            break
        if line and not line.startswith(" "):
            names = [n.split(" :")[0].strip().lstrip("*") for n in line.split(",")]
            out.update(dict.fromkeys(names, ""))
        elif line.strip():
            for n in names:
                out[n] += " " + line.strip()
    return out


# A parameter or field whose name says it has a unit, and the unit its description gives.
UNIT_RULES: list[tuple[Callable[[str], bool], str]] = [
    (lambda n: n.endswith("tokens_per_s") or "tokens_per_s_" in n, "[tokens/s]"),
    (lambda n: n.endswith("_ms"), "[ms]"),
    (lambda n: n.endswith("_s") and "per_s" not in n, "[s]"),
    (lambda n: n == "ridge_flop_per_byte", "[FLOP/B]"),
    (lambda n: "bytes" in n, "[B]"),
    (lambda n: n == "flops" or n.endswith("_flops"), "[FLOP]"),
    (lambda n: "usd" in n, "[USD"),
    (lambda n: n in ("batch", "batches", "max_batch"), "[sequences]"),
    (lambda n: n in ("tp", "ep", "pp", "dp", "gpus") or n.endswith("_gpus"), "[GPUs]"),
    (
        lambda n: (
            n in ("input", "output", "context", "contexts", "prefix", "seq_len")
            or (n.endswith("tokens") and "per_s" not in n)
        ),
        "[tokens]",
    ),
    (lambda n: n == "rate", "[1/s]"),
]


def _unit(name: str) -> str | None:
    return next((unit for rule, unit in UNIT_RULES if rule(name)), None)


LIBRARY = {"topo.api", "topo.scenario", "topo.results"}


def _with_units() -> list[tuple[str, object, str, str]]:
    """(owner, object, section, name) for each public parameter or field with a unit."""
    out: list[tuple[str, object, str, str]] = []
    for owner, obj in _exported():
        if getattr(obj, "__module__", None) not in LIBRARY:
            continue  # documented in their own modules (catalogue, layout, units, ...)
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                if _unit(f.name):
                    out.append((owner, obj, "Attributes", f.name))
            continue
        funcs = [(owner, obj)] if inspect.isfunction(obj) else []
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            funcs = [(owner, obj)] + [
                (f"{owner}.{a}", m)
                for a, m in vars(obj).items()
                if inspect.isfunction(m) and not a.startswith("_")
            ]
        for fname, f in funcs:
            try:
                params = list(inspect.signature(f).parameters)
            except (TypeError, ValueError):  # a TypedDict: no call signature
                params = []
            for p in params:
                if _unit(p):
                    out.append((fname, f, "Parameters", p))
    return sorted({(o, id(f), s, p): (o, f, s, p) for o, f, s, p in out}.values(), key=str)


WITH_UNITS = _with_units()


@pytest.mark.parametrize(
    ("owner", "obj", "section", "name"), WITH_UNITS, ids=[f"{o}-{n}" for o, _, _, n in WITH_UNITS]
)
def test_a_quantity_states_its_unit(owner: str, obj: object, section: str, name: str) -> None:
    """A public parameter or field with a unit is described in its docstring, unit given."""
    entries = _entries(_own_doc(obj), section)
    assert name in entries, f"{owner}: {name} is not in the docstring's {section} section"
    unit = _unit(name)
    assert unit
    assert unit in entries[name], f"{owner}: {name} says no {unit}: {entries[name]!r}"


def test_quantities_are_found_and_a_missing_unit_fails() -> None:
    owners = {(o, n) for o, _, _, n in WITH_UNITS}
    assert ("topo.evaluate", "batch") in owners
    assert ("topo.results.Decode", "time_per_output_token_s") in owners
    assert ("topo.scenario.make_workload", "gpu_hour_usd") in owners
    assert len(WITH_UNITS) >= 80
    doc = "Summary.\n\nParameters\n----------\nbatch\n    How many.\nx_s, y_s\n    Times [s].\n"
    assert _entries(doc, "Parameters") == {
        "batch": " How many.",
        "x_s": " Times [s].",
        "y_s": " Times [s].",
    }
    assert _unit("batch") not in _entries(doc, "Parameters")["batch"]


def test_topo_place_and_catalogue_are_the_modules() -> None:
    """The facade's place and catalogue share names with modules: they live in topo.api,
    and topo.place / topo.catalogue are the modules whatever was imported first."""
    import importlib

    assert "place" not in topo.__all__
    assert "catalogue" not in topo.__all__
    importlib.import_module("topo.place")
    assert topo.place is importlib.import_module("topo.place")
    assert callable(api.place)
    assert callable(api.catalogue)
