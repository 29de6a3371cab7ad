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
from topo.collectives import OPS, collective
from topo.errors import LayoutError, TopoError
from topo.layout import Layout, bundled_layouts, load_layout
from topo.models import DTYPE_BYTES, Model, load_model
from topo.moe import moe_all_to_all
from topo.perf import Workload, check_fits, evaluate, memory, sweep
from topo.place import Plan, place
from topo.plan import candidate_plans, pareto, rank, search
from topo.report import (
    format_collective,
    format_evaluate,
    format_layouts,
    format_moe,
    format_placement,
    format_plan,
    format_show,
    format_sweep,
)
from topo.schema import layout_json_schema
from topo.stats import summarize
from topo.units import UnitError, parse_quantity

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


def _size(text: str, what: str) -> float:
    try:
        return parse_quantity(text, "data")
    except UnitError as e:
        msg = f"{what}: {e}"
        raise TopoError(msg) from None


def cmd_place(args: argparse.Namespace) -> int:
    G = build_graph(_load(args))
    plan = Plan(tp=args.tp, ep=args.ep, pp=args.pp, dp=args.dp)
    placement = place(G, plan, strategy=args.strategy)
    data = placement.to_dict()
    if not args.json:
        print(format_placement(data, G.graph["layout"]))
        return 0
    if not args.ranks:
        data.pop("ranks")
    print(_json(data))
    return 0


def cmd_collective(args: argparse.Namespace) -> int:
    G = build_graph(_load(args))
    total = sum(1 for _, a in G.nodes(data=True) if a["kind"] == "gpu")
    if not 2 <= args.gpus <= total:
        msg = f"--gpus must be from 2 to the layout's {total} GPUs, got {args.gpus}"
        raise TopoError(msg)
    # The group as a plan would place a data-parallel group of that size.
    group = list(place(G, Plan(dp=args.gpus), strategy=args.strategy).ranks)
    result = collective(G, args.op, group, _size(args.bytes, "--bytes"), algorithm=args.algorithm)
    data = result.to_dict()
    print(_json(data) if args.json else format_collective(data, G.graph["layout"]))
    return 0


def cmd_moe(args: argparse.Namespace) -> int:
    G = build_graph(_load(args))
    expert = None
    if args.expert_ffn:
        # A gated expert: three hidden x ffn matrices.
        expert = 3 * args.model_hidden * args.expert_ffn * args.weight_bytes
    result = moe_all_to_all(
        G,
        hidden=args.model_hidden,
        topk=args.topk,
        tokens_per_gpu=args.tokens_per_gpu,
        ep=args.ep,
        dispatch_bytes=args.dispatch_bytes,
        combine_bytes=args.combine_bytes,
        expert_bytes=expert,
        strategy=args.strategy,
    )
    data = result.to_dict()
    print(_json(data) if args.json else format_moe(data, G.graph["layout"]))
    return 0


def _workload(args: argparse.Namespace) -> Workload:
    w = Workload(
        input_tokens=args.input,
        output_tokens=args.output,
        context=args.context,
        weights=args.weights,
        kv=args.kv,
        compute=args.compute,
        gpu_hour_usd=args.gpu_hour_usd,
        overlap=args.overlap,
        ideal=args.ideal,
    )
    w.check()
    return w


def _choose_plan(
    args: argparse.Namespace,
    layout: Layout,
    G: nx.Graph,
    model: Model,
    w: Workload,
    batch: int,
) -> Plan:
    """The plan given, completed where left out by the best one for throughput that fits."""
    given = {k: getattr(args, k) for k in ("tp", "ep", "pp", "dp") if getattr(args, k)}
    if len(given) == 4 or (given and not model.is_moe and set(given) >= {"tp", "pp", "dp"}):
        return Plan(**given)
    if not model.is_moe and "ep" not in given:
        given.setdefault("ep", 1)
    cands = [
        p
        for p in candidate_plans(layout, model)
        if all(getattr(p, k) == v for k, v in given.items())
    ]
    if not cands and given:
        # The given degrees with the others at 1 (e.g. --tp 6, which no power of two gives).
        full = {"tp": 1, "ep": 1, "pp": 1, "dp": 1, **given}
        if full["ep"] > full["tp"] * full["dp"]:
            full["tp"] = full["ep"]
        return Plan(**full)
    rows = search(layout, G, model, w, plans=cands, batches=[batch], strategies=(args.strategy,))
    if not rows:
        smallest = min(
            cands, key=lambda p: memory(layout, model, p, batch, w)["over_by_bytes"], default=None
        )
        if smallest is None:
            msg = "no plan matches the degrees given"
            raise TopoError(msg)
        check_fits(memory(layout, model, smallest, batch, w), smallest, batch)
    return rank(rows, "throughput")[0].plan


def cmd_evaluate(args: argparse.Namespace) -> int:
    layout = _load(args)
    G = build_graph(layout)
    model = load_model(args.model)
    w = _workload(args)
    plan = _choose_plan(args, layout, G, model, w, args.batch)
    result = evaluate(layout, G, model, plan, args.batch, w, strategy=args.strategy)
    check_fits(result["memory"], plan, args.batch)
    print(_json(result) if args.json else format_evaluate(result))
    return 0


def _batches(text: str) -> list[int]:
    try:
        out = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        msg = f"--batch: expected a list like 1,2,4,8, got {text!r}"
        raise TopoError(msg) from None
    if not out or out[0] < 1 or out[-1] > 10_000_000:
        msg = f"--batch: expected batches from 1 to 1e7, got {text!r}"
        raise TopoError(msg)
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    layout = _load(args)
    G = build_graph(layout)
    model = load_model(args.model)
    w = _workload(args)
    batches = _batches(args.batch)
    plan = _choose_plan(args, layout, G, model, w, batches[0])
    data = sweep(layout, G, model, plan, batches, w, strategy=args.strategy)
    print(_json(data) if args.json else format_sweep(data))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    layout = _load(args)
    G = build_graph(layout)
    model = load_model(args.model)
    w = _workload(args)
    limit = args.max_latency_ms / 1e3 if args.max_latency_ms is not None else None
    rows = search(layout, G, model, w, max_latency_s=limit)
    if not rows:
        msg = "no plan fits in memory" + (
            f" within {args.max_latency_ms} ms per token" if limit else ""
        )
        raise TopoError(msg)
    ranked = rank(rows, args.objective)
    data = {
        "model": model.name,
        "layout": layout.name,
        "objective": args.objective,
        "configurations": len(rows),
        "best": ranked[0].to_dict(),
        "ranked": [r.to_dict() for r in ranked[: args.top]],
        "pareto": [r.to_dict() for r in pareto(rows)],
    }
    print(_json(data) if args.json else format_plan(data))
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
        "place",
        "Map a TP x EP x PP x DP plan onto the GPUs; each group's span and bottleneck bandwidth.",
        "topo place gb200-nvl72-x16 --tp 8 --pp 4 --dp 36",
        cmd_place,
    )
    layout_args(sp)
    for name in ("tp", "ep", "pp", "dp"):
        sp.add_argument(f"--{name}", type=int, default=1, help=f"{name} degree (default 1)")
    sp.add_argument(
        "--strategy",
        choices=("packed", "naive"),
        default="packed",
        help="packed: topology-aware; naive: round-robin over racks",
    )
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp.add_argument("--ranks", action="store_true", help="with --json: list every rank's GPU")

    sp = command(
        "collective",
        "Time a collective on the links it crosses (alpha + beta from link loads).",
        'topo collective gb200-nvl72-x16 --op all-to-all --gpus 144 --bytes "1 GB"',
        cmd_collective,
    )
    layout_args(sp)
    sp.add_argument("--op", required=True, choices=OPS)
    sp.add_argument("--gpus", type=int, required=True, help="group size")
    sp.add_argument(
        "--bytes", default="1 GB", metavar="SIZE", help='per-GPU buffer, e.g. "1 GB" (default)'
    )
    sp.add_argument(
        "--strategy",
        choices=("packed", "naive"),
        default="packed",
        help="which GPUs form the group (packed: topology-aware)",
    )
    sp.add_argument(
        "--algorithm",
        default="auto",
        choices=("auto", "ring", "direct", "hierarchical", "pipelined chain", "pairwise"),
        help="default: the fastest that applies",
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "moe",
        "MoE dispatch and combine on an expert-parallel group: where the bytes go and how "
        "long it takes.",
        "topo moe gb200-nvl72-x16 --model-hidden 7168 --topk 8 --tokens-per-gpu 32 "
        "--ep 144 --dispatch-bytes 1",
        cmd_moe,
    )
    layout_args(sp)
    sp.add_argument("--model-hidden", type=int, required=True, help="hidden size (d_model)")
    sp.add_argument("--topk", type=int, required=True, help="experts per token")
    sp.add_argument("--tokens-per-gpu", type=int, required=True)
    sp.add_argument("--ep", type=int, required=True, help="expert-parallel degree")
    sp.add_argument(
        "--dispatch-bytes",
        type=float,
        default=2.0,
        help="bytes per element dispatched (default 2, bf16; fp8: 1)",
    )
    sp.add_argument(
        "--combine-bytes", type=float, default=2.0, help="bytes per element combined (default 2)"
    )
    sp.add_argument(
        "--expert-ffn", type=int, help="expert FFN size, to count the experts one domain holds"
    )
    sp.add_argument(
        "--weight-bytes", type=float, default=1.0, help="bytes per expert weight (default 1, fp8)"
    )
    sp.add_argument("--strategy", choices=("packed", "naive"), default="packed")
    sp.add_argument("--json", action="store_true", help="print JSON")

    def model_args(sp: argparse.ArgumentParser, *, plan: bool = True) -> None:
        sp.add_argument("--model", required=True, help="a catalogue model name or a YAML file")
        if plan:
            for name in ("tp", "ep", "pp", "dp"):
                sp.add_argument(
                    f"--{name}",
                    type=int,
                    help=f"{name} degree (default: the "
                    "best plan for throughput that fits, given the others)",
                )
            sp.add_argument("--strategy", choices=("packed", "naive"), default="packed")
        sp.add_argument("--input", type=int, default=1024, help="prompt tokens (default 1024)")
        sp.add_argument("--output", type=int, default=128, help="output tokens (default 128)")
        sp.add_argument(
            "--context", type=float, help="context a decode step reads (default input + output / 2)"
        )
        sp.add_argument("--weights", default="bf16", choices=sorted(DTYPE_BYTES))
        sp.add_argument("--kv", default="bf16", choices=sorted(DTYPE_BYTES))
        sp.add_argument(
            "--compute",
            choices=sorted(DTYPE_BYTES),
            help="matmul dtype (default: the weights' if the chip has it)",
        )
        sp.add_argument(
            "--gpu-hour-usd", type=float, default=2.0, help="price of one GPU-hour (default 2.00)"
        )
        sp.add_argument(
            "--overlap",
            choices=("none", "full"),
            default="none",
            help="communication overlapped with compute (default none)",
        )
        sp.add_argument(
            "--ideal",
            action="store_true",
            help="peak FLOP/s and bandwidth, no communication (the seed's formulas)",
        )
        sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "evaluate",
        "Decode and prefill of a model on a layout: step times and their terms, floor, "
        "critical batch, memory, cost.",
        "topo evaluate dgx-h100 --model llama-3-70b --tp 8 --batch 1",
        cmd_evaluate,
    )
    layout_args(sp)
    model_args(sp)
    sp.add_argument("--batch", type=int, default=1, help="sequences in flight (default 1)")

    sp = command(
        "sweep",
        "The latency-throughput table across batch sizes, with the floor and the critical batch.",
        "topo sweep dgx-h100 --model llama-3-70b --tp 8 --batch 1,2,4,8,16,32,64,128,256",
        cmd_sweep,
    )
    layout_args(sp)
    model_args(sp)
    sp.add_argument(
        "--batch",
        default=",".join(str(2**i) for i in range(11)),
        help="batches, comma-separated (default 1,2,4,...,1024)",
    )

    sp = command(
        "plan",
        "Every plan x batch that fits, ranked, with the Pareto front of latency against "
        "tokens/s per GPU.",
        "topo plan gb200-nvl72-x16 --model deepseek-v3 --weights fp8 --max-latency-ms 50",
        cmd_plan,
    )
    layout_args(sp)
    model_args(sp, plan=False)
    sp.add_argument("--objective", choices=("throughput", "latency", "cost"), default="throughput")
    sp.add_argument("--max-latency-ms", type=float, help="time per output token limit")
    sp.add_argument("--top", type=int, default=20, help="rows to list (default 20)")

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
