"""Figures render headless for every bundled layout; structure checked, not pixels."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib as mpl
import pytest
from helpers import LAYOUT_NAMES

from topo.build import build_graph, gpu_nodes
from topo.cli import main
from topo.collectives import link_loads
from topo.errors import TopoError
from topo.evaluation import roofline_data, sweep
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import Workload
from topo.physical import check_limits
from topo.place import Plan
from topo.plot import (
    plot_elevation,
    plot_limits,
    plot_links,
    plot_roofline,
    plot_topology,
    plot_tradeoff,
    save,
)
from topo.stats import summarize

mpl.use("Agg")


def labels(ax) -> str:  # noqa: ANN001
    return ax.get_xlabel() + " " + ax.get_ylabel()


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_elevation_and_limits_for_every_layout(name: str, tmp_path: Path) -> None:
    layout = load_layout(name)
    checks = check_limits(layout).to_dict()
    fig, ax = plot_elevation(layout, checks)
    # One rectangle per device plus the rack outline; each device kind in the legend.
    n_devices = sum(d.count for d in layout.rack.devices)
    assert len(ax.patches) == n_devices + 1
    kinds = {d.kind.replace("_", " ") for d in layout.rack.devices}
    assert {t.get_text() for t in ax.get_legend().get_texts()} == kinds
    assert "[U]" in ax.get_ylabel()
    budgets = fig.axes[1]
    assert "[%]" in budgets.get_xlabel()
    save(fig, tmp_path / "e.png")
    from topo.physical import largest_domain

    lim = largest_domain(layout).to_dict()
    fig, ax = plot_limits(lim)
    if lim["by_limit"]:
        assert len(ax.get_yticklabels()) == len(lim["by_limit"]) + 1  # and "this layout"
        assert "[GPUs]" in ax.get_xlabel()
    else:  # nothing grows with the rack (one board): the answer in words
        assert any(lim["note"] in t.get_text() for t in ax.texts)
    save(fig, tmp_path / "l.svg")
    assert (tmp_path / "e.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_topology_for_every_layout(name: str, tmp_path: Path) -> None:
    layout = load_layout(name)
    G = build_graph(layout)
    fig, ax = plot_topology(G, summarize(layout, G).to_dict(), layout=layout)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    media = {a["medium"].replace("_", " ") + " link" for *_, a in G.edges(data=True)}
    assert media <= legend
    assert any("per direction" in t for t in legend)  # the width scale has units
    title = ax.get_title()
    if layout.n_gpus > 128 and layout.scale_up.topology != "torus":
        # GPUs in at most 40 boxes (trays, nodes or domains), links bundled between them.
        from topo.plot.positions import bundled

        assert sum(b.kind == "unit" for b in bundled(G).boxes.values()) <= 40
        assert "boxes" in title
        assert "bundled" in title
    save(fig, tmp_path / "t.pdf")


def test_torus_is_a_grid() -> None:
    layout = load_layout("tpu-v5p-4x4x4")
    G = build_graph(layout)
    fig, ax = plot_topology(G, summarize(layout, G).to_dict())
    assert "torus" in ax.get_title()
    # 64 chips drawn; slices labelled z = 0..3.
    assert (
        sum(
            len(c.get_offsets())
            for c in ax.collections
            if hasattr(c, "get_offsets") and len(c.get_offsets()) == 64
        )
        == 64
    )
    assert sum("slice z =" in t.get_text() for t in ax.texts) == 4


def test_roofline_and_tradeoff(tmp_path: Path) -> None:
    layout = load_layout("dgx-h100")
    G = build_graph(layout)
    model = load_model("llama-3-70b")
    data = roofline_data(layout, G, model, Plan(tp=8), [1, 8, 64, 512], Workload()).to_dict()
    fig, ax = plot_roofline(data)
    assert "FLOP/byte" in ax.get_xlabel()
    assert "FLOP/s" in ax.get_ylabel()
    assert any("ridge bf16" in t.get_text() for t in ax.texts)
    assert len([p for p in data["points"] if p["phase"] == "decode"]) == 4
    save(fig, tmp_path / "r.png")
    s1 = sweep(layout, G, model, Plan(tp=8), [1, 8, 64], Workload()).to_dict()
    h200 = load_layout("dgx-h200")
    s2 = sweep(h200, build_graph(h200), model, Plan(tp=8), [1, 8, 64], Workload()).to_dict()
    fig, ax = plot_tradeoff([s1, s2])
    assert "[ms]" in ax.get_ylabel()
    assert "tokens/s per GPU" in ax.get_xlabel()
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert sum(t.startswith("dgx-") for t in legend) == 2
    assert "latency floor" in legend
    assert any(t.startswith("critical batch") for t in legend)
    save(fig, tmp_path / "t.png")


@pytest.mark.parametrize(
    ("name", "n"),
    [("gb200-nvl72-x16", 144), ("gb200-nvl72", 72), ("dgx-h100", 8), ("tpu-v5p-4x4x4", 16)],
)
def test_links(name: str, n: int, tmp_path: Path) -> None:
    G = build_graph(load_layout(name))
    data = link_loads(G, "all-to-all", gpu_nodes(G)[:n], 1e9).to_dict()
    assert all(0 <= e["utilisation"] <= 1 + 1e-9 for e in data["edges"])
    fig, ax = plot_links(G, data)
    side = fig.axes[1]
    if len(data["racks"]) >= 3:
        assert len(side.get_xticklabels()) == len(data["racks"])
        assert "rack" in side.get_xlabel()
    else:  # one or two racks: links counted by utilisation, each loaded link once
        pairs = {frozenset((e["u"], e["v"])) for e in data["edges"]}
        assert sum(b.get_height() for b in side.patches) == len(pairs)
        assert "rack" in side.get_title()
    assert any("utilisation" in a.get_ylabel() for a in fig.axes)
    save(fig, tmp_path / "k.png")


def test_format_follows_the_name(tmp_path: Path) -> None:
    from topo.physical import largest_domain

    fig, _ = plot_limits(largest_domain(load_layout("gb200-nvl72")).to_dict())
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        save(fig, tmp_path / f"f{suffix}")
        assert (tmp_path / f"f{suffix}").read_bytes().startswith(magic)
    with pytest.raises(TopoError, match="follows the file name"):
        save(fig, tmp_path / "f.jpg")


def test_render_plot_gallery_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "dgx-h100", "-o", str(tmp_path / "d.png")]) == 0
    assert (tmp_path / "d-elevation.png").exists()
    assert (tmp_path / "d-topology.png").exists()
    assert main(["plot", "limits", "gb200-nvl72", "-o", str(tmp_path / "l.pdf")]) == 0
    assert (
        main(
            [
                "plot",
                "tradeoff",
                "dgx-h100",
                "--model",
                "llama-3-70b",
                "--tp",
                "8",
                "--batch",
                "1,8",
                "--compare",
                "dgx-h200",
                "-o",
                str(tmp_path / "t.svg"),
            ]
        )
        == 0
    )
    assert main(["gallery", "-o", str(tmp_path / "g"), "--workers", "2"]) == 0
    assert len(list((tmp_path / "g").glob("*.png"))) >= 8
    capsys.readouterr()
    assert main(["render", "dgx-h100", "-o", str(tmp_path / "d.jpg")]) == 2
    assert main(["plot", "roofline", "dgx-h100", "-o", str(tmp_path / "r.png")]) == 2
    assert "required: --model" in capsys.readouterr().err
    assert main(["plot", "links", "dgx-h100", "--gpus", "99", "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_gallery_runs_every_job_once_in_order_on_any_number_of_processes(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each job's figure is written by its own command, on one process or several; the
    files come back in JOBS' order; progress counts up to every job; a failing job names
    its command."""
    from helpers import fake_gallery_run

    from topo import gallery

    jobs = [j for j in gallery.JOBS if "mi300x-8" not in j]
    monkeypatch.setattr(gallery, "JOBS", jobs)
    seen: list[tuple[int, int]] = []
    files = gallery.build_gallery(
        tmp_path, fake_gallery_run, progress=lambda d, n: seen.append((d, n)), workers=workers
    )
    assert files == [tmp_path / j[-1] for j in jobs]
    assert [f.read_text() for f in files] == [" ".join(j[:-1]) for j in jobs]
    assert seen[0] == (0, len(jobs))
    assert seen[-1] == (len(jobs), len(jobs))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    monkeypatch.setattr(gallery, "JOBS", gallery.JOBS + [["render", "mi300x-8", "-o", "m.png"]])
    with pytest.raises(TopoError, match=r"gallery: topo render mi300x-8 -o .*m\.png failed"):
        gallery.build_gallery(tmp_path, fake_gallery_run, workers=workers)


def test_link_utilisation_above_one_is_drawn_not_clipped() -> None:
    """A link busier than its rate allows in the charged time keeps its value on the scale."""
    from topo.collectives import link_loads
    from topo.place import place
    from topo.plot import plot_links

    G = build_graph(load_layout("dgx-h100"))
    data = link_loads(G, "all-to-all", list(place(G, Plan(dp=8)).ranks), 1e9).to_dict()
    data["edges"][0] = {**data["edges"][0], "utilisation": 2.5}
    fig, _ = plot_links(G, data)
    highs = [a.get_ylim()[1] for a in fig.axes]
    assert any(h == pytest.approx(2.5) for h in highs), highs  # the colour bar's top
    assert any("link rate" in t.get_text() for a in fig.axes for t in a.texts)
    assert any("utilisation:" in t.get_text() for t in fig.texts)


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_plot_limits_names_the_limit_topo_limits_names(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The figure draws what `topo limits` computes, and says on stderr what binds."""
    from topo.cli import main

    assert main(["limits", name, "--json"]) in (0, 1)
    lim = json.loads(capsys.readouterr().out)
    assert main(["plot", "limits", name, "-o", str(tmp_path / "l.png")]) == 0
    err = capsys.readouterr().err
    assert f"largest domain {lim['max_domain_size']:,} GPUs" in err
    assert f"bound by {', '.join(lim['binding_all'])}" in err
    fig, ax = plot_limits(lim)
    title = ax.get_title()
    assert all(b in title for b in lim["binding_all"])
    bold = {t.get_text().split()[0] for t in ax.texts if "binds first" in t.get_text()}
    assert bold == {f"{lim['by_limit'][b]:,}" for b in lim["binding_all"] if b in lim["by_limit"]}
