"""Documentation users can run: the notebook tour executes cell by cell."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
