"""Interactive vector output and readable topology drawings (issue #16).

SVG carries a ``<title>`` per hover element; HTML is one self-contained page; both and PDF
are byte-reproducible; topology and elevation drawings of every bundled layout have no
overlapping texts; a real headless Chromium renders the page and shows a link's details on
hover.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pytest
from figure_checks import all_text, clipped_texts, text_overlaps, thin_axes
from helpers import LAYOUT_NAMES

from topo.api import figure
from topo.cli import main
from topo.layout import load_layout
from topo.plot import save
from topo.plot._style import figure as new_figure
from topo.plot._vector import hover, hover_texts

mpl.use("Agg")


def _titles(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]*)</title>", svg)


def test_hover_gives_each_element_an_svg_title(tmp_path: Path) -> None:
    fig = new_figure(4, 3)
    ax = fig.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    hover(line, "GPU 0 ↔ switch <1> & more")
    bars = ax.bar([0, 1], [1, 2])
    hover(bars[1], "second bar")
    save(fig, tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text(encoding="utf-8")
    # The element itself carries the title (a child of its group), escaped.
    assert re.search(
        r'<g id="topo-hover-0" class="topo-hover">\s*<title>GPU 0 ↔ switch &lt;1&gt; &amp; more'
        r"</title>",
        svg,
    )
    assert '<g id="topo-hover-1" class="topo-hover">' in svg
    assert sorted(_titles(svg)) == ["GPU 0 ↔ switch &lt;1&gt; &amp; more", "second bar"]
    # PNG and PDF ignore hover texts but still save.
    save(fig, tmp_path / "f.png")
    save(fig, tmp_path / "f.pdf")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_hover_needs_a_figure() -> None:
    from matplotlib.lines import Line2D

    with pytest.raises(ValueError, match="add the artist to a figure"):
        hover(Line2D([0, 1], [0, 1]), "lost")


@pytest.mark.parametrize("suffix", [".svg", ".pdf", ".html"])
def test_vector_output_is_byte_reproducible(suffix: str, tmp_path: Path) -> None:
    outs = [tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"]
    for out in outs:
        save(figure("topology", "gb200-nvl72"), out)
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_html_is_one_self_contained_page_with_100_titles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.html"
    assert main(["render", "gb200-nvl72", "--kind", "topology", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1
    assert "<?xml" not in page
    # Nothing fetched: no scripts, stylesheets or imports; every reference is in-page.
    for banned in ("<script", "<link", "<img", "<iframe", "@import", "src="):
        assert banned not in page
    refs = re.findall(r'href="([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs
    assert all(r.startswith("#") for r in refs)
    # The figure's title is the page's, and the hovered element is highlighted by CSS.
    fig = figure("topology", "gb200-nvl72")
    title = fig.axes[0].get_title()
    assert f"<title>{title}</title>" in page
    assert f"<h1>{title}</h1>" in page
    assert ".topo-hover:hover" in page
    # The acceptance check: at least 100 <title> elements (one per bundle and box).
    assert page.count("<title>") >= 100


def _nvl72_bundle_count() -> tuple[int, float]:
    """Links and per-link rate of one compute tray to one NVLink switch tray, from the
    layout's facts: 18 links a GPU spread evenly over 9 trays x 2 chips, 4 GPUs a tray."""
    lay = load_layout("gb200-nvl72")
    tray = next(d for d in lay.rack.devices if d.kind == "compute_tray")
    sw = next(d for d in lay.rack.devices if d.kind == "switch_tray")
    chips = sw.count * sw.switch_chips  # 18
    per_chip = lay.scale_up.links_per_gpu // chips  # 1 link from each GPU to each chip
    links = tray.gpus * sw.switch_chips * per_chip  # 4 x 2 x 1 = 8
    rate = 900e9 / lay.scale_up.links_per_gpu  # NVLink 5: 900 GB/s a GPU per direction
    return links, rate


def test_nvl72_is_bundled_by_tray_and_switch_tray() -> None:
    links, rate = _nvl72_bundle_count()
    assert (links, rate) == (8, 50e9)
    fig = figure("topology", "gb200-nvl72")
    texts = hover_texts(fig)
    bundles = [t for t in texts.values() if "↔ switch tray" in t]
    assert len(bundles) == 18 * 9  # every compute tray to every switch tray, once
    label = f"{links} x {rate / 1e9:g} GB/s"
    assert label in all_text(fig)  # the drawn count x rate
    one = next(t for t in bundles if t.startswith("tray 0 of rack 0 (GPUs 0-3)"))
    assert f"{label} = {links * rate / 1e9:g} GB/s per direction, copper (nvlink5)" in one
    # Rails: one bundle per tray and leaf, each GPU i of a tray on rail i.
    rails = [t for t in texts.values() if "(rail " in t and "↔ leaf" in t]
    assert len(rails) == 72
    assert all("1 x 50 GB/s" in t and "optical" in t for t in rails)
    # Far fewer drawn lines than the graph's 1,376 edges.
    assert len(fig.axes[0].lines) < 300


@pytest.mark.parametrize(
    ("racks", "boxes", "each"),
    [
        # 256 DGX (domains of 8): 8 a box, 32 boxes, every box the same.
        (64, 32, "64"),
        # 164 DGX: no count from 5 to 10 divides 164, so 33 boxes of 5, the last of 4.
        (41, 33, "32-40"),
    ],
)
def test_many_domains_are_drawn_in_even_boxes(
    racks: int, boxes: int, each: str, tmp_path: Path
) -> None:
    """A fat tree of more than 40 domains: domains in boxes, as many in each where a count
    divides them (16,384 domains drew 39 boxes of 410 and one of 394, labelled as if all
    held 410); the GPUs a box, from the boxes themselves; the title inside the figure."""
    f = tmp_path / "dgx-h100-superpod-many-racks.yaml"
    f.write_text(f"name: dgx-h100-superpod-many-racks\nextends: dgx-h100-superpod\ncluster:\n"
                 f"  racks: {racks}\n  racks_per_row: 8\n")  # fmt: skip
    lay = load_layout(str(f))
    fig = figure("topology", lay)
    ax = fig.axes[0]
    units = [t for t in hover_texts(fig).values() if t.startswith("domains ") and "↔" not in t]
    assert len(units) == boxes
    gpus = sorted(int(t.split("GPUs ")[1].split("-")[1].split(")")[0]) for t in units)
    assert gpus[-1] == lay.n_gpus - 1  # every GPU in some box
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert f"box: a run of domains ({each} GPUs)" in legend
    assert f"domain groups\n({each} GPUs each)" in all_text(fig)
    assert f"{boxes} boxes of" in ax.get_title()
    assert clipped_texts(fig) == []
    assert text_overlaps(fig) == []


def test_single_node_is_drawn_as_a_node() -> None:
    fig = figure("topology", "dgx-h100")
    text = all_text(fig)
    for part in ("GPU 7", "switch 3", "CPU 0", "CPU 1", "NIC 7", "PCIe"):
        assert part in text
    # No made-up fabric: no leaf or spine drawn, the network beyond the NICs is one bar.
    lines = set(text.splitlines())
    assert not lines & {"spines", "spine", "spine 0", "rail 0 leaf", "leaf (colour: rail)"}
    assert any("not drawn for one node" in t for t in lines)
    texts = list(hover_texts(fig).values())
    # 8 GPUs x 4 chips; DGX H100 spreads 18 links as 5 + 4 + 4 + 5 at 25 GB/s each.
    up = [t for t in texts if t.startswith("GPU ") and "switch chip" in t]
    assert len(up) == 32
    assert sum("5 x 25 GB/s" in t for t in up) == 16
    assert sum("4 x 25 GB/s" in t for t in up) == 16
    nic = [t for t in texts if t.startswith("NIC ") and "→ leaf" in t]
    assert len(nic) == 8
    assert all("1 x 50 GB/s" in t for t in nic)


def test_elevation_hover_on_every_device() -> None:
    lay = load_layout("gb200-nvl72")
    fig = figure("elevation", lay)
    texts = list(hover_texts(fig).values())
    devices = [t for t in texts if " at U" in t]
    assert len(devices) == sum(d.count for d in lay.rack.devices)
    tray = next(t for t in devices if t.startswith("compute tray (compute tray, 1 of 10)"))
    for part in ("power 5.4 kW", "mass 40 kg", "height 1 U", "4 GPUs"):
        assert part in tray


def test_elevation_checks_sorted_by_margin_ports_apart() -> None:
    from topo.physical import check_limits

    lay = load_layout("gb200-nvl72")
    checks = check_limits(lay).to_dict()["checks"]
    fig = figure("elevation", lay)
    budgets = fig.axes[1]
    names = [t.get_text() for t in budgets.get_yticklabels()]
    physical = sorted(
        (c for c in checks if c["name"] != "switch ports" and c["ok"] is not None),
        key=lambda c: (c["margin"], c["name"]),
    )
    assert names[: len(physical)] == [c["name"] for c in physical]
    assert names[0] == "mass vs frame rating"  # 1,357 of 1,400 kg: 3% left, the tightest
    assert names[-1] == "switch ports"  # full by design, after the physical limits
    section = [t.get_text() for t in budgets.texts]
    assert "full by design (not a physical limit)" in section
    assert "1,296 ports of 1,296 ports, full" in section


def test_elevation_amounts_read_as_people_write_them() -> None:
    """4 DGX H100 a rack: 4 x 10.2 kW = 40.8 kW of the 41 kW budget, 0.5% left (it said
    0%); floor loads in kg/m² with thousands separated; 8 racks alike."""
    from topo.plot.elevation import _amount, _left

    assert _amount(1200.0, "kg/m^2") == "1,200 kg/m²"
    assert _amount(0.0158, "m^3/s").endswith("L/min")
    assert (_left(0.005), _left(0.0), _left(0.094), _left(0.0096)) == (
        "0.5% left", "0% left", "9% left", "1% left",
    )  # fmt: skip
    text = all_text(figure("elevation", "dgx-h100-superpod"))
    assert f"40.8 kW of 41 kW, {(41 - 4 * 10.2) / 41:.1%} left" in text
    assert "8 racks alike" in text
    assert "^2" not in text


@pytest.mark.parametrize("kind", ["topology", "elevation"])
@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_no_text_overlaps(kind: str, name: str) -> None:
    fig = figure(kind, name)
    assert text_overlaps(fig) == []
    assert clipped_texts(fig) == []
    assert thin_axes(fig) == []
    small = {
        t.get_text()
        for t in fig.findobj(mpl.text.Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9
    }
    assert small == set()
    text = all_text(fig)
    assert "domaindomain" not in text
    assert not re.search(r"\de[+-]\d", text)


# --- A real browser ------------------------------------------------------------------

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _browser() -> str | None:
    """A Chromium on this machine: $TOPO_CHROMIUM, else the usual names on PATH."""
    env = os.environ.get("TOPO_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_in_headless_chromium(tmp_path: Path) -> None:
    exe = _browser()
    if exe is None:
        pytest.skip("no Chromium found (install Debian's chromium or set TOPO_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "t.html"
    save(figure("topology", "gb200-nvl72"), page_file)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            box = page.locator("svg").first.bounding_box()
            assert box is not None
            assert box["width"] > 500
            assert box["height"] > 300
            assert page.locator(".topo-hover").count() >= 100
            details = _hover_a_bundle(page)
        finally:
            browser.close()
    assert errors == []
    title, highlight = details
    # The hovered bundle's details: endpoints, count x rate per direction, medium.
    assert re.search(r" ↔ .+: \d+ x [\d.]+ GB/s = [\d.]+ [GT]B/s per direction, \w+", title)
    assert highlight != "none"  # the CSS marks the element under the pointer


def _hover_a_bundle(page: Any) -> tuple[str, str]:
    """Move the pointer onto a link bundle's middle; the hovered element's title and
    filter (as the browser reports them) once the pointer is on one."""
    bundles = page.locator("g.topo-hover:has(> path)")
    for i in range(min(bundles.count(), 60)):
        g = bundles.nth(i)
        title = g.locator("title").text_content() or ""
        if "↔" not in title:
            continue
        bb = g.bounding_box()
        if bb is None:
            continue
        page.mouse.move(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)
        got = page.evaluate(
            """() => {
                const under = [...document.querySelectorAll(':hover')].pop();
                const g = under && under.closest('.topo-hover');
                if (!g) return null;
                return [g.id, g.querySelector(':scope > title').textContent,
                        getComputedStyle(g).filter];
            }"""
        )
        if got and "↔" in got[1]:
            return got[1], got[2]
    msg = "no link bundle could be hovered"
    raise AssertionError(msg)
