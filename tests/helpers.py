"""Helpers shared by the tests: the bundled layout names and their parsed YAML."""

from __future__ import annotations

from typing import Any

import yaml

from topo.layout import Layout, bundled_layouts, load_layout

LAYOUT_NAMES = sorted(bundled_layouts())


def bundled_doc(name: str) -> dict[str, Any]:
    """The parsed YAML of a bundled layout (for tests that mutate it)."""
    return yaml.safe_load(bundled_layouts()[name].read_text(encoding="utf-8"))


def tray_layout(
    *,
    gpus: int = 8,
    links: int = 18,
    switches: int = 4,
    trays: int = 1,
    nic: str = "400 Gb/s",
) -> Layout:
    """An in-memory layout of `trays` compute trays, each its own switched domain."""
    import tempfile
    from pathlib import Path

    doc = {
        "name": "t",
        "accelerator": "h100-sxm",
        "rack": {
            "devices": [{"kind": "compute_tray", "gpus": gpus, "count": trays, "height_u": 8}]
        },
        "scale_up": {
            "domain": "tray",
            "topology": "switched",
            "switches": switches,
            "links_per_gpu": links,
        },
        "scale_out": {"nic_bandwidth": nic, "link": "ib-xdr"},
    }
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.yaml"
        p.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return load_layout(p)


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run ``topo ARGV`` through main(); its exit status, stdout and stderr."""
    from topo.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fake_gallery_run(argv: list[str]) -> int:
    """A stand-in for ``topo``'s main in the gallery's tests: writes the job's argv to its
    output file (the last argument); exit 1 for a job on ``mi300x-8`` (a failing job)."""
    from pathlib import Path

    if "mi300x-8" in argv:
        return 1
    Path(argv[-1]).write_text(" ".join(argv[:-1]))
    return 0
