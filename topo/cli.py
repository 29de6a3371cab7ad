"""The ``topo`` command: parse arguments, call the library, print. Nothing else.

Exit status: 0 on success, 2 on bad input (a one-line error per problem, naming the
file, line and key), 1 on an internal error (reported in one line, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from topo import __version__
from topo.build import build_graph
from topo.errors import LayoutError, TopoError
from topo.layout import bundled_layouts, load_layout
from topo.report import format_layouts, format_show
from topo.schema import layout_json_schema
from topo.stats import summarize

__all__ = ["main"]


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, allow_nan=False)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: no half files."""
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        msg = f"{path}: the folder {folder} does not exist"
        raise TopoError(msg)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(args: argparse.Namespace) -> Any:
    return load_layout(args.layout, catalogue=tuple(args.catalogue or ()))


def cmd_show(args: argparse.Namespace) -> int:
    layout = _load(args)
    summary = summarize(layout, build_graph(layout))
    print(_json(summary) if args.json else format_show(summary))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    layout = _load(args)
    G = build_graph(layout)
    out = Path(args.output)
    fmt = args.format or ("graphml" if out.suffix.lower() == ".graphml" else "json")

    def write(tmp: Path) -> None:
        if fmt == "graphml":
            nx.write_graphml(G, tmp)
        else:
            data = nx.node_link_data(G, edges="edges")
            tmp.write_text(_json(data) + "\n", encoding="utf-8")

    _atomic_write(out, write)
    print(f"wrote {out}: {G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges ({fmt})")
    return 0


def cmd_layouts(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for name, path in bundled_layouts().items():
        try:
            lay = load_layout(path)
        except TopoError as e:
            rows.append({"name": name, "path": str(path), "error": str(e).splitlines()[0]})
            continue
        rows.append(
            {
                "name": name,
                "path": str(path),
                "gpus": lay.n_gpus,
                "accelerator": lay.accelerator.name,
                "domain_size": lay.gpus_per_domain,
                "racks": lay.cluster.racks,
                "description": lay.description,
            }
        )
    print(_json(rows) if args.json else format_layouts(rows))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    text = _json(layout_json_schema()) + "\n"
    if args.output:
        out = Path(args.output)

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        _atomic_write(out, write)
        print(f"wrote {out}")
    else:
        print(text, end="")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="topo",
        description="Model GPU clusters for LLM serving and training: what a rack layout "
        "can do, where its bottleneck is, and whether it can be built.",
        epilog="Example: topo show gb200-nvl72   (topo layouts lists the bundled layouts)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"topo {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name: str, help_: str, example: str, func: Callable[..., int]) -> Any:
        sp = sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=f"Example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.set_defaults(func=func)
        return sp

    def layout_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("layout", help="a layout file, or the name of a bundled layout")
        sp.add_argument(
            "--catalogue",
            action="append",
            metavar="FILE",
            help="an extra catalogue file (accelerators, links); repeatable",
        )

    sp = command(
        "show",
        "GPUs, domains, switches, links, bandwidths and bisection of a layout.",
        "topo show gb200-nvl72 --json",
        cmd_show,
    )
    layout_args(sp)
    sp.add_argument("--json", action="store_true", help="print JSON (SI units)")

    sp = command(
        "export",
        "Write a layout's graph as GraphML or node-link JSON (SI units).",
        "topo export gb200-nvl72 --format graphml -o nvl72.graphml",
        cmd_export,
    )
    layout_args(sp)
    sp.add_argument(
        "--format",
        choices=("graphml", "json"),
        help="default: from the file name (.graphml, else json)",
    )
    sp.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")

    sp = command("layouts", "List the bundled layouts, one line each.", "topo layouts", cmd_layouts)
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "schema",
        "Print the JSON Schema of layout files (for editor completion).",
        "topo schema -o layout.schema.json",
        cmd_schema,
    )
    sp.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``topo`` command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        return int(args.func(args))
    except LayoutError as e:
        for problem in e.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except TopoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback
        print(
            f"error: internal error ({type(e).__name__}: {e}); please report it with the "
            "command and input",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its status."""
    sys.exit(main())
