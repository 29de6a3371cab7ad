"""Hover titles for vector output: SVG ``<title>`` children and one self-contained HTML page.

:func:`hover` tags a drawn artist with a text; :func:`svg_with_titles` rewrites
matplotlib's SVG so each tagged element carries an SVG ``<title>`` (a browser shows it on
hover); :func:`html_page` wraps that SVG in one page with no external resources. Both are
pure functions of the figure, so two renders give the same bytes.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

__all__ = ["HOVER_CLASS", "hover", "hover_texts", "html_page", "svg_with_titles"]

HOVER_CLASS = "topo-hover"
_ATTR = "_topo_hover"  # the figure's {gid: text}

# Highlights the element under the pointer; the element's <title> is the tooltip.
_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 1em; color: #222; background: #fff; }
h1 { font-size: 1.15em; margin: 0 0 0.4em 0; }
p.how { font-size: 0.85em; color: #555; margin: 0 0 0.6em 0; }
figure { margin: 0; }
figure svg { max-width: 100%; height: auto; }
.topo-hover { cursor: help; }
.topo-hover:hover { filter: drop-shadow(0 0 2px #000) brightness(0.85); }
.topo-hover:hover path { stroke-opacity: 1 !important; fill-opacity: 1 !important; }
"""


def hover(artist: Any, text: str) -> None:
    """Attach a tooltip `text` to a drawn matplotlib `artist` (already added to its figure).

    The artist gets a unique gid (``topo-hover-N``) and the text is kept on the figure;
    :func:`topo.plot.save` writes it as the element's SVG ``<title>`` in ``.svg`` and
    ``.html`` output (PNG and PDF ignore it).
    """
    fig = artist.get_figure(root=True) if _takes_root(artist) else artist.get_figure()
    if fig is None:
        msg = "hover(): add the artist to a figure before giving it a tooltip"
        raise ValueError(msg)
    texts: dict[str, str] = getattr(fig, _ATTR, None) or {}
    gid = f"{HOVER_CLASS}-{len(texts)}"
    artist.set_gid(gid)
    texts[gid] = text
    setattr(fig, _ATTR, texts)


def _takes_root(artist: Any) -> bool:
    import inspect

    try:
        return "root" in inspect.signature(artist.get_figure).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def hover_texts(fig: Any) -> dict[str, str]:
    """The figure's tooltips by gid, in the order they were attached."""
    return dict(getattr(fig, _ATTR, None) or {})


def _raw_svg(fig: Any) -> str:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "topo"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue().decode("utf-8")


def svg_with_titles(fig: Any) -> str:
    """The figure as SVG text, each hover element with a ``<title>`` child and a class."""
    svg = _raw_svg(fig)
    texts = hover_texts(fig)
    if not texts:
        return svg

    def tag(m: re.Match[str]) -> str:
        gid = m.group(1)
        text = texts.get(gid)
        if text is None:
            return m.group(0)
        title = html.escape(text, quote=False)
        return f'<g id="{gid}" class="{HOVER_CLASS}">\n   <title>{title}</title>'

    return re.sub(r'<g id="(' + HOVER_CLASS + r'-\d+)">', tag, svg)


def figure_title(fig: Any) -> str:
    """The figure's suptitle, else its first axes title, else "topo figure"."""
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return str(sup.get_text())
    for ax in fig.get_axes():
        if ax.get_title().strip():
            return str(ax.get_title())
    return "topo figure"


def html_page(fig: Any) -> str:
    """One self-contained HTML page: title, inline SVG with its tooltips, hover CSS.

    No scripts and no external files: the CSS highlights the element under the pointer
    and the browser shows its ``<title>``.
    """
    svg = svg_with_titles(fig)
    # Inline SVG in HTML: drop the XML declaration and the DOCTYPE before <svg.
    svg = svg[svg.index("<svg") :]
    title = html.escape(figure_title(fig))
    n = len(hover_texts(fig))
    how = (
        f'<p class="how">Hover over a highlighted element for its details '
        f"({n:,} with details).</p>\n"
        if n
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>\n{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n{how}<figure>\n{svg}</figure>\n</body>\n</html>\n"
    )
