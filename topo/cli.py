"""The ``topo`` command: parse arguments, call the command, print errors. Nothing else.

Exit status: 0 on success, 2 on bad input (a one-line error per problem, naming the
file, line and key), 1 on an internal error (reported in one line, never a traceback).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from topo import __version__
from topo.commands import (
    cmd_cache,
    cmd_calibrate,
    cmd_catalogue,
    cmd_check,
    cmd_collective,
    cmd_compare,
    cmd_evaluate,
    cmd_export,
    cmd_gallery,
    cmd_layouts,
    cmd_lifecycle,
    cmd_limits,
    cmd_measure,
    cmd_memory,
    cmd_moe,
    cmd_place,
    cmd_plan,
    cmd_plot,
    cmd_price,
    cmd_render,
    cmd_schema,
    cmd_serve,
    cmd_show,
    cmd_study,
    cmd_sweep,
    cmd_validate,
)
from topo.errors import LayoutError, TopoError
from topo.names import DTYPE_BYTES, OPS

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with echoed values cut to 200 characters in its usage errors."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"'([^']{200})[^']+'", r"'\1...'", message)
        super().error(message)


def _number(
    lo: float, hi: float, *, above: bool = False, whole: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number from `lo` (or above it) to `hi`, checked as it enters.

    NaN, infinities and absurd sizes are usage errors (exit 2) here, not NaN in a result
    or an overflow deep inside a model.
    """

    def parse(text: str) -> float:
        try:
            v = float(int(text)) if whole else float(text)
        except ValueError:
            want = "a whole number" if whole else "a number"
            msg = f"expected {want}, got {text[:200]!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if not (math.isfinite(v) and (v > lo if above else v >= lo) and v <= hi):
            want = "a whole number" if whole else "a number"
            low = f"above {_g(lo)} and at most" if above else f"from {_g(lo)} to"
            msg = f"expected {want} {low} {_g(hi)}, got {text[:200]!r}"
            raise argparse.ArgumentTypeError(msg)
        return int(v) if whole else v

    return parse


def _g(v: float) -> str:
    """``1e+06`` -> ``1e6``: bounds as a user would type them."""
    return re.sub(r"e\+?0*(\d)", r"e\1", f"{v:g}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="topo",
        description="Model GPU clusters for LLM serving and training: what a rack layout "
        "can do, where its bottleneck is, and whether it can be built.",
        epilog="Example: topo show gb200-nvl72   (topo layouts lists the bundled layouts)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--out 2048` must not silently mean `--output`
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
            allow_abbrev=False,
        )
        sp.set_defaults(func=func)
        return sp

    def catalogue_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--catalogue",
            action="append",
            metavar="FILE",
            help="an extra catalogue file (accelerators, links); repeatable",
        )

    def layout_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("layout", help="a layout file, or the name of a bundled layout")
        catalogue_arg(sp)

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
    sp.add_argument(
        "-o", "--output-file", dest="output", required=True, metavar="FILE", help="where to write"
    )

    sp = command("layouts", "List the bundled layouts, one line each.", "topo layouts", cmd_layouts)
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "catalogue",
        "List the hardware catalogue: accelerators (peaks, memory, efficiencies) and links.",
        "topo catalogue --catalogue my-parts.yaml",
        cmd_catalogue,
    )
    catalogue_arg(sp)
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
        "Time a collective: measured latency and bandwidth share on the links it crosses.",
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
    sp.add_argument(
        "--clean",
        action="store_true",
        help="bare link-rate alpha + beta (default: measured latency and bandwidth share, "
        "what topo evaluate charges)",
    )
    sp.add_argument(
        "--runtime",
        choices=("serving", "library", "engine", "xla"),
        default="serving",
        help="whose measured timings: serving (default, what topo evaluate charges: the "
        "faster of an engine's own all-reduce and the library), library (nccl-tests), "
        "engine, xla",
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
    sp.add_argument("--model", help="an MoE model: hidden size, top-k and expert FFN from it")
    sp.add_argument("--model-hidden", type=int, help="hidden size (d_model)")
    sp.add_argument("--topk", type=int, help="experts per token")
    sp.add_argument("--tokens-per-gpu", type=int, required=True)
    sp.add_argument("--ep", type=int, required=True, help="expert-parallel degree")
    sp.add_argument(
        "--dispatch-bytes",
        type=_number(0.125, 64),
        default=2.0,
        help="bytes per element dispatched (default 2, bf16; fp8: 1)",
    )
    sp.add_argument(
        "--combine-bytes",
        type=_number(0.125, 64),
        default=2.0,
        help="bytes per element combined (default 2)",
    )
    sp.add_argument(
        "--expert-ffn",
        type=_number(1, 1e7, whole=True),
        help="expert FFN size, to count the experts one domain holds",
    )
    sp.add_argument(
        "--weight-bytes",
        type=_number(0.125, 64),
        default=1.0,
        help="bytes per expert weight (default 1, fp8)",
    )
    sp.add_argument("--strategy", choices=("packed", "naive"), default="packed")
    sp.add_argument(
        "--clean", action="store_true", help="bare link-rate times (default: measured charge)"
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    def model_args(
        sp: argparse.ArgumentParser,
        *,
        plan: bool = True,
        required: bool = True,
        context: bool = True,
    ) -> None:
        sp.add_argument("--model", required=required, help="a catalogue model name or a YAML file")
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
        sp.add_argument(
            "--output",
            "--output-tokens",
            dest="output_tokens",
            type=int,
            default=128,
            help="output tokens (default 128)",
        )
        if context:
            sp.add_argument(
                "--context",
                type=float,
                help="context a decode step reads (default input + output / 2)",
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
            default="none",
            metavar="none|full|tp=..,ep=..",
            help="collectives hidden behind compute: none (default, as serving engines run "
            "them), full, or per term, e.g. tp=none,ep=full",
        )
        sp.add_argument(
            "--ideal",
            action="store_true",
            help="peak FLOP/s and bandwidth, no communication (the seed's formulas)",
        )
        sp.add_argument(
            "--clean",
            action="store_true",
            help="turn the loss terms off (launch and step overheads, skinny "
            "GEMMs, MoE imbalance): the clean roofline",
        )
        sp.add_argument(
            "--calibration", metavar="PROFILE", help="loss-term parameters from topo calibrate"
        )
        sp.add_argument(
            "--accepted-tokens",
            type=float,
            metavar="A",
            help="speculative decoding / MTP: tokens each step emits per sequence (default 1)",
        )
        sp.add_argument(
            "--draft-tokens",
            type=int,
            metavar="K",
            help="speculative decoding: draft tokens each step verifies per sequence (default 0)",
        )
        sp.add_argument(
            "--prefill-chunk",
            type=float,
            metavar="TOKENS",
            help="chunked prefill: prompt tokens each attention rank adds to every decode "
            "step (default 0: prefill runs apart)",
        )
        sp.add_argument(
            "--attention-kernel",
            choices=("grouped", "per-query-head"),
            default="grouped",
            help="decode attention of GQA models: grouped (default: each KV head read once "
            "for its query heads) or per-query-head (read once per query head, as engines "
            "without a grouped kernel do)",
        )
        sp.add_argument(
            "--context-cv",
            type=float,
            metavar="CV",
            help="spread of context lengths (std / mean); data-parallel attention waits for "
            "the rank with the most KV (default 0: equal contexts)",
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
    sp.add_argument(
        "--max-latency-ms", type=_number(0, 1e9, above=True), help="time per output token limit"
    )
    sp.add_argument(
        "--top", type=_number(1, 1e6, whole=True), default=20, help="rows to list (default 20)"
    )

    sp = command(
        "check",
        "Every physical limit of a rack: power, cooling, mass and floor, cables, bend, reach, "
        "space. Exit 0 when all hold, 1 when one fails, 2 on bad input.",
        "topo check gb200-nvl72",
        cmd_check,
    )
    layout_args(sp)
    sp.add_argument("--json", action="store_true", help="print JSON (SI units)")

    sp = command(
        "limits",
        "The largest scale-up domain the rack's technology allows under each limit and "
        "together, and the one that binds.",
        'topo limits gb200-nvl72 --vary power_budget="600 kW" --vary cable=optical',
        cmd_limits,
    )
    layout_args(sp)
    sp.add_argument(
        "--vary",
        action="append",
        metavar="KEY=VALUE",
        help="change one input: power_budget, busbar_voltage, busbar_current, "
        "liquid, liquid_flow, air, max_mass, floor_rating, tray_power, height_u, "
        "cable (copper|active_copper|optical), rear_clearance, power_shelves (a count); "
        "repeatable",
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "render",
        "Draw a layout: its rack elevation with budgets, or its topology.",
        "topo render gb200-nvl72 --kind all -o nvl72.png",
        cmd_render,
    )
    layout_args(sp)
    sp.add_argument(
        "--kind",
        choices=("elevation", "topology", "all"),
        default="all",
        help="all writes FILE-elevation and FILE-topology",
    )
    sp.add_argument(
        "-o",
        "--output-file",
        dest="output",
        required=True,
        metavar="FILE",
        help="the figure; its format follows the name: .png, .svg, .pdf or .html (one "
        "page; hover for details)",
    )

    sp = command(
        "plot",
        "Draw a result: roofline, time breakdown, trade-off, link loads, limits, placement, ...",
        "topo plot tradeoff dgx-h100 --model llama-3-70b --compare dgx-h200 -o trade.png\n"
        "  topo plot roofline --help   (each figure's own options)",
        cmd_plot,
    )
    kinds = sp.add_subparsers(dest="figure", metavar="FIGURE")
    kinds.required = True
    plot_kinds: dict[str, argparse.ArgumentParser] = {}

    def figure_kind(name: str, help_: str, example: str) -> argparse.ArgumentParser:
        kp: argparse.ArgumentParser = kinds.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=f"Example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        if name == "study":
            kp.add_argument("layout", help="a study's results folder or its results.json")
        else:
            layout_args(kp)
        kp.add_argument(
            "-o",
            "--output-file",
            dest="output",
            required=True,
            metavar="FILE",
            help="the figure; its format follows the name: .png, .svg, .pdf or .html",
        )
        plot_kinds[name] = kp
        return kp

    def batches_arg(kp: argparse.ArgumentParser) -> None:
        kp.add_argument(
            "--batch",
            default="1,2,4,8,16,32,64,128,256,512,1024",
            help="batches, comma-separated (default 1,2,...,1024)",
        )

    def compare_arg(kp: argparse.ArgumentParser) -> None:
        kp.add_argument(
            "--compare",
            action="append",
            metavar="LAYOUT",
            help="another layout on the same figure; repeatable",
        )

    kp = figure_kind(
        "roofline",
        "Decode steps against the roofs the plan really has: HBM, compute, communication.",
        "topo plot roofline gb200-nvl72 --model deepseek-v3 --weights fp8 -o roof.png",
    )
    model_args(kp)
    batches_arg(kp)
    kp = figure_kind(
        "breakdown",
        "Where each decode step's time goes, batch by batch: weights, KV, compute, "
        "communication, overheads.",
        "topo plot breakdown gb200-nvl72 --model deepseek-v3 --weights fp8 -o steps.png",
    )
    model_args(kp)
    batches_arg(kp)
    kp.add_argument("--share", action="store_true", help="bars as shares of the step")
    kp = figure_kind(
        "interactivity",
        "Tokens/s per GPU against tokens/s per user: each layout's best plans and batches.",
        "topo plot interactivity dgx-h100 --model llama-3-70b --compare dgx-h200 -o int.png",
    )
    model_args(kp)
    compare_arg(kp)
    kp = figure_kind(
        "load",
        "Time to first token and per output token as the request rate rises; the knee.",
        "topo plot load dgx-h100 --model llama-3-70b -o load.png",
    )
    model_args(kp)
    kp.add_argument(
        "--rates",
        metavar="LIST",
        help="request rates per second, comma-separated (default: light load to 1.2x the "
        "max throughput)",
    )
    kp.add_argument(
        "--policy",
        choices=("train", "continuous"),
        default="train",
        help="batching (default train, as topo serve)",
    )
    kp.add_argument(
        "--requests",
        type=_number(1, 10_000_000, whole=True),
        help="requests simulated per rate (default: a few times the seats)",
    )
    kp = figure_kind(
        "placement",
        "Where the plan topo serve runs puts its ranks: TP/EP groups, PP stages and replicas "
        "on the racks (copies fill the layout unless --dp is given).",
        "topo plot placement gb200-nvl72-x16 --model deepseek-v3 --weights fp8 -o place.png",
    )
    model_args(kp)
    kp = figure_kind(
        "tradeoff",
        "Time per output token against tokens/s per GPU as the batch grows.",
        "topo plot tradeoff dgx-h100 --model llama-3-70b --compare dgx-h200 -o trade.png",
    )
    model_args(kp)
    batches_arg(kp)
    compare_arg(kp)
    kp = figure_kind(
        "links",
        "Bytes and utilisation on each link for one collective, from its chosen algorithm.",
        "topo plot links gb200-nvl72-x16 --op all-reduce --gpus 288 -o links.png",
    )
    kp.add_argument("--op", choices=OPS, default="all-to-all", help="the collective")
    kp.add_argument("--gpus", type=int, default=8, help="group size (default 8)")
    kp.add_argument("--bytes", default="1 GB", metavar="SIZE", help="per-GPU buffer (1 GB)")
    kp.add_argument("--strategy", choices=("packed", "naive"), default="packed")
    figure_kind(
        "limits",
        "The largest scale-up domain each physical limit allows; the binding one marked.",
        "topo plot limits gb200-nvl72 -o limits.png",
    )
    figure_kind(
        "taper",
        "Per-GPU bandwidth by tier: HBM, scale-up, NIC, leaf uplinks, bisection; the ratios.",
        "topo plot taper gb200-nvl72-x16 -o taper.png",
    )
    kp = figure_kind(
        "tornado",
        "How far the largest scale-up domain moves as each physical input goes low and high.",
        "topo plot tornado gb200-nvl72 --vary power_budget=66kW,264kW -o tornado.png",
    )
    kp.add_argument(
        "--vary",
        action="append",
        metavar="KEY=LOW,HIGH",
        help="an input and its two values, as topo limits --vary takes them; repeatable "
        "(default: budgets halved and doubled, other cable media, ... from the layout)",
    )
    kp = figure_kind(
        "study",
        "A design study's results: the Pareto front on two objectives.",
        "topo plot study results -o front.png",
    )
    kp.add_argument("--x", help="the objective across (default: the study's first)")
    kp.add_argument("--y", help="the objective up (default: the study's second)")
    p.set_defaults(plot_kinds=plot_kinds)

    sp = command(
        "gallery",
        "Regenerate the figures/ gallery from the bundled layouts (every figure kind).",
        "topo gallery -o figures",
        cmd_gallery,
    )
    sp.add_argument(
        "-o",
        "--output-dir",
        dest="output",
        default="figures",
        metavar="FOLDER",
        help="where to write (default figures)",
    )
    sp.add_argument(
        "--workers",
        type=_number(1, 1024, whole=True),
        default=None,
        help="local processes (default: one per core, at most 8; the same files either way)",
    )

    sp = command(
        "serve",
        "Simulate serving: Poisson arrivals through train-schedule or continuous batching.",
        "topo serve dgx-h100 --model llama-3-70b --rate 1 --input 1024 --output 128",
        cmd_serve,
    )
    layout_args(sp)
    model_args(sp)
    sp.add_argument("--rate", type=float, required=True, help="arrivals per second")
    sp.add_argument("--policy", choices=("train", "continuous"), default="train")
    sp.add_argument("--requests", type=int, default=10_000, help="requests (default 10,000)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--plot", metavar="FILE", help="also draw both policies' TTFT")

    sp = command(
        "price",
        "Cost per million tokens across contexts and batches; where long context changes it.",
        "topo price dgx-h100 --model llama-3-70b --context 1000,8000,128000",
        cmd_price,
    )
    layout_args(sp)
    model_args(sp, context=False)
    sp.add_argument(
        "--context",
        dest="context_list",
        default="1000,8000,32000,128000",
        help="contexts, comma-separated",
    )
    sp.add_argument(
        "--batch", default="1,8,64,256", help="batches (the largest that fits is added)"
    )
    sp.add_argument(
        "--compare-model",
        action="append",
        metavar="MODEL",
        help="another model on the same layout (e.g. MLA next to GQA)",
    )
    sp.add_argument("--plot", metavar="FILE", help="also draw cost against context")

    sp = command(
        "cache",
        "Where a cached prompt prefix should live for each duration: HBM, DRAM, flash, disk.",
        "topo cache dgx-h100 --model llama-3-70b --prefix 100000 --durations 5m,1h,1d",
        cmd_cache,
    )
    layout_args(sp)
    model_args(sp)
    sp.add_argument("--prefix", type=int, required=True, help="cached prefix tokens")
    sp.add_argument("--durations", default="5m,1h,1d", help="durations (default 5m,1h,1d)")
    sp.add_argument("--plot", metavar="FILE", help="also draw the cost of each tier")

    sp = command(
        "lifecycle",
        "Training and inference compute: Chinchilla, over-training, the inference-aware "
        "optimum, the split.",
        "topo lifecycle --params 8e9 --tokens 15e12 --inference-tokens 1e13",
        cmd_lifecycle,
    )
    sp.add_argument("--params", type=float, required=True, help="parameters")
    sp.add_argument("--tokens", type=float, required=True, help="training tokens")
    sp.add_argument("--active-params", type=_number(1e6, 1e15), help="active parameters (MoE)")
    sp.add_argument(
        "--inference-tokens",
        type=_number(0, 1e21),
        default=0.0,
        help="tokens served over the model's life",
    )
    sp.add_argument("--rl-flops", type=_number(0, 1e36), default=0.0, help="RL / fine-tuning FLOPs")
    sp.add_argument("--plot", metavar="FILE", help="also draw the compute split")
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "memory",
        "Training activation memory: store all, per-layer remat, reversible layers.",
        "topo memory gb200-nvl72 --model llama-3-70b --train --tokens-per-batch 4000000 "
        "--seq-len 8192",
        cmd_memory,
    )
    layout_args(sp)
    sp.add_argument("--model", required=True)
    sp.add_argument("--train", action="store_true", help="a training step (the only mode)")
    sp.add_argument("--tokens-per-batch", type=int, required=True)
    sp.add_argument("--seq-len", type=int, required=True)
    sp.add_argument("--dtype", default="bf16", choices=sorted(DTYPE_BYTES))
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "compare",
        "Rack designs side by side: best plan under the objectives, tokens/s, cost, physics.",
        "topo compare gb200-nvl72-x16 dgx-h100-superpod --model deepseek-v3 --slo-tpot-ms 50",
        cmd_compare,
    )
    sp.add_argument("layouts", nargs="+", metavar="LAYOUT", help="layout files or bundled names")
    model_args(sp, plan=False)
    sp.add_argument(
        "--slo-tpot-ms", type=_number(0, 1e9, above=True), help="most time per output token [ms]"
    )
    sp.add_argument(
        "--slo-ttft-ms", type=_number(0, 1e9, above=True), help="most time to first token [ms]"
    )
    sp.add_argument(
        "--max-replica-gpus",
        type=_number(1, 1e7, whole=True),
        help="largest model replica the plan search tries",
    )
    sp.add_argument(
        "--cost",
        action="append",
        metavar="KEY=VALUE",
        help="a TCO input (topo/data/costs.yaml), e.g. usd_per_kwh=0.12; repeatable",
    )
    sp.add_argument("--plot", metavar="FILE", help="also draw the comparison")

    sp = command(
        "study",
        "Assess every design a study file names; write tables and the Pareto front.",
        "topo study study.yaml -o results --workers 4",
        cmd_study,
    )
    sp.add_argument("study", help="a study YAML file")
    sp.add_argument(
        "-o", "--output-dir", dest="output", required=True, metavar="FOLDER", help="results folder"
    )
    sp.add_argument(
        "--workers",
        type=_number(1, 1024, whole=True),
        default=1,
        help="local processes (default 1)",
    )
    sp.add_argument(
        "--dask", metavar="ADDRESS", help="a Dask scheduler's address, or 'local' for a local one"
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "calibrate",
        "Fit the loss-term parameters to measurements; write a calibration profile.",
        "topo calibrate measurements.yaml --accelerator h100-sxm -o h100.profile.yaml",
        cmd_calibrate,
    )
    sp.add_argument("measurements", help="a measurements YAML file, or nccl-tests output")
    sp.add_argument("--layout", help="the layout an nccl-tests output was measured on")
    sp.add_argument("--accelerator", help="use only the points measured on this accelerator")
    sp.add_argument(
        "-o",
        "--output-file",
        dest="output",
        required=True,
        metavar="PROFILE",
        help="where to write",
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "validate",
        "Predicted against measured for every point; median and 90th-percentile errors.",
        "topo validate validation/public_serving.yaml --calibration h100.profile.yaml",
        cmd_validate,
    )
    sp.add_argument("measurements", help="a measurements YAML file, or nccl-tests output")
    sp.add_argument("--layout", help="the layout an nccl-tests output was measured on")
    fid = sp.add_mutually_exclusive_group()
    fid.add_argument("--calibration", metavar="PROFILE", help="a profile from topo calibrate")
    fid.add_argument("--clean", action="store_true", help="the clean roofline: no loss terms")
    sp.add_argument("--markdown", metavar="FILE", help="also write a Markdown report")
    sp.add_argument("--title", default="topo validation report", help="the report's title")
    sp.add_argument("--plot", metavar="FILE", help="also draw predicted against measured")
    sp.add_argument(
        "--notes", metavar="FILE", help="Markdown to include in the report (the analysis)"
    )
    sp.add_argument("--json", action="store_true", help="print JSON")

    sp = command(
        "measure",
        "Time GEMMs and HBM copies on this machine's GPU (needs PyTorch with CUDA).",
        "topo measure -o measurements.yaml",
        cmd_measure,
    )
    sp.add_argument(
        "-o", "--output-file", dest="output", default="measurements.yaml", metavar="FILE"
    )
    sp.add_argument("--accelerator", help="catalogue name of this GPU (default: from its name)")
    sp.add_argument("--quick", action="store_true", help="fewer shapes and repetitions")

    sp = command(
        "schema",
        "Print the JSON Schema of layout files, or of catalogue files (for editor completion "
        "and checks).",
        "topo schema -o layout.schema.json\n  topo schema catalogue -o catalogue.schema.json",
        cmd_schema,
    )
    sp.add_argument(
        "kind",
        nargs="?",
        choices=("layout", "catalogue"),
        default="layout",
        help="which files: layout (default) or catalogue (--catalogue files)",
    )
    sp.add_argument(
        "-o", "--output-file", dest="output", metavar="FILE", help="write to FILE instead"
    )
    return p


def _foreign_plot_options(kinds: dict[str, argparse.ArgumentParser], argv: list[str]) -> str:
    """`topo plot links --batch 4` is a mistake, not a request to ignore --batch: why, or ""."""
    if len(argv) < 2 or argv[0] != "plot" or argv[1] not in kinds:
        return ""
    own_of = {k: {o for a in kp._actions for o in a.option_strings} for k, kp in kinds.items()}
    own = own_of[argv[1]]
    anyone = set().union(*own_of.values())
    given = sorted({a.split("=", 1)[0] for a in argv[2:] if a.startswith("--")})
    wrong = [o for o in given if o in anyone and o not in own]
    if not wrong:
        return ""
    common = {"--help", "--output-file", "--catalogue"}
    takes = sorted(o for o in own if o.startswith("--") and o not in common)
    modelled = own_of["roofline"] - {"--batch"}  # --model and its workload and plan options
    listed = takes
    if "--model" in own:
        listed = ["--model and its workload and plan options"]
        listed += [o for o in takes if o not in modelled]
    them = ", ".join(wrong)
    return (
        f"topo plot {argv[1]}: {them} {'does' if len(wrong) == 1 else 'do'} not apply to this "
        f"figure; it takes {', '.join(listed) if listed else 'only the layout and -o'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``topo`` command line; returns the exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    foreign = _foreign_plot_options(parser.get_default("plot_kinds"), argv)
    if foreign:
        print(f"error: {foreign}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return int(e.code) if isinstance(e.code, int) else 2
    # The options the user typed (not defaults), for commands that refuse some of them.
    args.given_options = sorted({a.split("=", 1)[0] for a in argv if a.startswith("-")})
    args.run_topo = main  # for commands that run others (the gallery)
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


def main_exit() -> NoReturn:
    """Console-script entry point: run :func:`main` and exit with its status.

    The process then leaves without tearing the interpreter down, as mypy does: a study
    keeps thousands of arrays in its caches, and freeing them one by one takes ~70 ms,
    longer than some commands. By then every file is closed and every pool shut (each
    command's own ``with``); standard output and error are flushed here.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to say
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main_exit()
