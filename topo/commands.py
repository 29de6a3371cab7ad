"""What each ``topo`` command does: load, call the library, format. No argument parsing.

Each ``cmd_*`` takes the parsed arguments and returns the exit status; errors are
raised as :class:`topo.errors.TopoError` and printed by :func:`topo.cli.main`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topo.errors import TopoError
from topo.report import (
    format_cache,
    format_catalogue,
    format_check,
    format_collective,
    format_compare,
    format_evaluate,
    format_layouts,
    format_lifecycle,
    format_limits,
    format_memory,
    format_moe,
    format_placement,
    format_plan,
    format_price,
    format_serve,
    format_show,
    format_sweep,
)
from topo.units import UnitError, parse_quantity

if TYPE_CHECKING:
    import networkx as nx

    from topo.layout import Layout
    from topo.perf import Workload
    from topo.scenario import Degrees, Scenario

# Modules load inside the commands that use them: a command imports what it needs.

__all__ = [
    "cmd_cache",
    "cmd_calibrate",
    "cmd_compare",
    "cmd_check",
    "cmd_collective",
    "cmd_evaluate",
    "cmd_export",
    "cmd_gallery",
    "cmd_layouts",
    "cmd_lifecycle",
    "cmd_measure",
    "cmd_limits",
    "cmd_memory",
    "cmd_moe",
    "cmd_place",
    "cmd_plan",
    "cmd_plot",
    "cmd_price",
    "cmd_render",
    "cmd_schema",
    "cmd_serve",
    "cmd_show",
    "cmd_study",
    "cmd_sweep",
    "cmd_validate",
]


@contextlib.contextmanager
def _progress(label: str, start: float | None = None) -> Iterator[Callable[[int, int], None]]:
    """A progress callback for the library: a tqdm bar on a terminal.

    Elsewhere a plain line every 10 s; nothing for work done within 2 s of `start` (a
    ``time.monotonic()``; default now: a later stage of one command passes its first's).
    """
    start = time.monotonic() if start is None else start
    state: dict[str, Any] = {"bar": None, "said": start}

    def tick(done: int, total: int) -> None:
        now = time.monotonic()
        if now - start < 2 or total <= 0:
            return
        if sys.stderr.isatty():
            if state["bar"] is None:
                from tqdm import tqdm

                bar = tqdm(total=total, initial=done, desc=label, unit="", leave=False)
                # Timed from the start of the work, not from when the bar first shows.
                bar.start_t -= now - start
                bar.refresh()
                state["bar"] = bar
            bar = state["bar"]
            bar.total = total
            bar.update(done - bar.n)
        elif now - state["said"] >= 10:
            state["said"] = now
            sys.stderr.write(f"{label}: {done:,}/{total:,} ({now - start:.0f} s)\n")

    try:
        yield tick
    finally:
        if state["bar"] is not None:
            state["bar"].close()


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, allow_nan=False)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: no half files.

    A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a
    pipe) is written in place: renaming over it would replace the device with a file.
    """
    folder = _check_output(path)
    try:
        special = path.exists() and not path.is_file()
    except OSError:
        special = False
    if special:
        try:
            write(path)
        except OSError as e:
            raise TopoError(_cannot_write(path, e)) from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as e:  # a read-only folder, no permission
        raise TopoError(_cannot_write(path, e)) from None
    os.close(fd)
    umask = os.umask(0)  # read the process's umask (mkstemp makes 0600 files)
    os.umask(umask)
    try:
        write(Path(tmp))
        Path(tmp).chmod(0o666 & ~umask)
        Path(tmp).replace(path)
    except OSError as e:  # a full disk, a target that cannot be replaced
        Path(tmp).unlink(missing_ok=True)
        raise TopoError(_cannot_write(path, e)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_output(path: Path) -> Path:
    """The folder `path` will be written in; refused if `path` cannot be a new file there."""
    folder = path.parent if str(path.parent) else Path()
    try:  # a name too long: OSError from the checks themselves
        if not str(path) or str(path) in (".", "..") or path.is_dir():
            msg = f"{str(path)!r}: expected a file name to write, got a folder or nothing"
            raise TopoError(msg)
        if not folder.is_dir():
            msg = f"{path}: the folder {folder} does not exist"
            raise TopoError(msg)
    except OSError as e:
        raise TopoError(_cannot_write(path, e)) from None
    return folder


def _cannot_write(path: Path, e: OSError) -> str:
    shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
    return f"{shown}: cannot write: {e.strerror or e}"


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _load(args: argparse.Namespace) -> Any:
    from topo.layout import load_layout

    return load_layout(args.layout, catalogue=tuple(args.catalogue or ()))


def _graph(layout: Layout, start: float | None = None) -> nx.Graph:
    """:func:`topo.build.build_graph`, with a progress bar past 2 s (a large layout)."""
    from topo.build import build_graph

    with _progress("building the graph", start) as tick:
        return build_graph(layout, progress=tick)


def cmd_show(args: argparse.Namespace) -> int:
    layout = _load(args)
    from topo.stats import summarize

    start = time.monotonic()
    G = _graph(layout, start)
    with _progress("summarizing it", start) as tick:
        summary = summarize(layout, G, progress=tick).to_dict()
    print(_json(summary) if args.json else format_show(summary))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import networkx as nx

    layout = _load(args)
    start = time.monotonic()
    G = _graph(layout, start)
    out = Path(args.output)
    fmt = args.format or ("graphml" if out.suffix.lower() == ".graphml" else "json")

    with _progress(f"writing {fmt}", start) as tick:

        def write(tmp: Path) -> None:
            if fmt == "graphml":
                tick(0, 1)
                nx.write_graphml(G, tmp)
                tick(1, 1)
            else:
                _write_graph_json(nx.node_link_data(G, edges="edges"), tmp, tick)

        _atomic_write(out, write)
    print(f"wrote {out}: {G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges ({fmt})")
    return 0


def _write_graph_json(data: dict[str, Any], path: Path, tick: Callable[[int, int], None]) -> None:
    """A node-link graph as JSON: its header indented, then one node or edge a line.

    Each element is encoded by ``json``'s C encoder (an indented dump of a 131,072-GPU
    graph runs through the pure-Python one: four times slower), ticking per 10,000.
    """
    enc = json.JSONEncoder(allow_nan=False)
    head = _json({k: v for k, v in data.items() if k not in ("nodes", "edges")})
    lists = [(key, data[key]) for key in ("nodes", "edges")]
    total = sum(len(items) for _, items in lists)
    done = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(head[: -len("\n}")])
        for key, items in lists:
            f.write(f',\n  "{key}": [')
            for at in range(0, len(items), 10_000):
                chunk = items[at : at + 10_000]
                f.write(("," if at else "") + "".join(
                    ("\n    " if i == 0 else ",\n    ") + enc.encode(x) for i, x in enumerate(chunk)
                ))  # fmt: skip
                done += len(chunk)
                tick(done, total)
            f.write("\n  ]" if items else "]")
        f.write("\n}\n")


def cmd_catalogue(args: argparse.Namespace) -> int:
    from topo.api import catalogue

    data = catalogue(tuple(args.catalogue or ())).to_dict()
    print(_json(data) if args.json else format_catalogue(data))
    return 0


def cmd_layouts(args: argparse.Namespace) -> int:
    from topo.api import layouts

    rows = layouts().to_dict()["layouts"]
    print(_json(rows) if args.json else format_layouts(rows))
    return 0


def _size(text: str, what: str) -> float:
    try:
        return parse_quantity(text, "data")
    except UnitError as e:
        msg = f"{what}: {e}"
        raise TopoError(msg) from None


def cmd_place(args: argparse.Namespace) -> int:
    from topo.place import Plan, place
    from topo.routing import Fabric

    layout = _load(args)
    plan = Plan(tp=args.tp, ep=args.ep, pp=args.pp, dp=args.dp)
    # The fabric by arithmetic (the graph's index, tested array for array): no graph.
    placement = place(Fabric.from_layout(layout), plan, strategy=args.strategy)
    data = placement.to_dict()
    if not args.json:
        print(format_placement(data, layout.name))
        return 0
    if not args.ranks:
        data.pop("ranks")
    print(_json(data))
    return 0


def cmd_collective(args: argparse.Namespace) -> int:
    from topo import api

    layout, nbytes = _load(args), _size(args.bytes, "--bytes")
    with _progress(f"timing the {args.op}") as tick:
        result = api.collective(
            layout, args.op, args.gpus, nbytes, algorithm=args.algorithm, clean=args.clean,
            runtime=args.runtime, strategy=args.strategy, progress=tick,
        )  # fmt: skip
    data = result.to_dict()
    print(_json(data) if args.json else format_collective(data, layout.name))
    return 0


def cmd_moe(args: argparse.Namespace) -> int:
    from topo.api import moe

    layout = _load(args)
    result = moe(
        layout, args.model, hidden=args.model_hidden, topk=args.topk, expert_ffn=args.expert_ffn,
        weight_bytes=args.weight_bytes, tokens_per_gpu=args.tokens_per_gpu, ep=args.ep,
        dispatch_bytes=args.dispatch_bytes, combine_bytes=args.combine_bytes,
        strategy=args.strategy, clean=args.clean,
    )  # fmt: skip
    data = result.to_dict()
    print(_json(data) if args.json else format_moe(data, layout.name))
    return 0


def _workload(args: argparse.Namespace) -> Workload:
    """The workload the model options describe (checked by the library)."""
    from topo.scenario import make_workload

    return make_workload(
        input=args.input,
        output=args.output_tokens,
        context=getattr(args, "context", None),
        weights=args.weights,
        kv=args.kv,
        compute=args.compute,
        gpu_hour_usd=args.gpu_hour_usd,
        overlap=args.overlap,
        ideal=args.ideal,
        attention_kernel=getattr(args, "attention_kernel", "grouped"),
        **_fidelity_options(args),
    )


def _degrees(args: argparse.Namespace) -> Degrees:
    from topo.scenario import Degrees

    return Degrees(
        tp=getattr(args, "tp", None),
        ep=getattr(args, "ep", None),
        pp=getattr(args, "pp", None),
        dp=getattr(args, "dp", None),
    )


def _fidelity_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "clean": bool(getattr(args, "clean", False)),
        "calibration": getattr(args, "calibration", None),
        "accepted_tokens": getattr(args, "accepted_tokens", None),
        "draft_tokens": getattr(args, "draft_tokens", None),
        "prefill_chunk": getattr(args, "prefill_chunk", None),
        "context_cv": getattr(args, "context_cv", None),
    }


def _scenario(args: argparse.Namespace, layout: Any = None) -> Scenario:
    from topo.models import load_model
    from topo.scenario import Scenario

    return Scenario(
        layout if layout is not None else _load(args),
        load_model(args.model),
        workload=_workload(args),
        strategy=getattr(args, "strategy", "packed"),
    )


def _workload_fields(w: Workload) -> dict[str, Any]:
    return {k: getattr(w, k) for k in Workload.__dataclass_fields__}


def cmd_evaluate(args: argparse.Namespace) -> int:
    result = _scenario(args).evaluate(args.batch, **_degrees(args))
    data = result.to_dict()
    print(_json(data) if args.json else format_evaluate(data))
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
    data = _scenario(args).sweep(_batches(args.batch), **_degrees(args)).to_dict()
    print(_json(data) if args.json else format_sweep(data))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from topo.plans import plan_search

    s = _scenario(args)
    limit = args.max_latency_ms / 1e3 if args.max_latency_ms is not None else None
    with _progress("placing plans") as tick:
        result = plan_search(
            s.layout, s.fabric, s.model, s.workload, args.objective, limit, top=args.top,
            progress=tick,
        )  # fmt: skip
    data = result.to_dict()
    print(_json(data) if args.json else format_plan(data))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from topo.schema import catalogue_json_schema, layout_json_schema

    schema = catalogue_json_schema() if args.kind == "catalogue" else layout_json_schema()
    text = _json(schema) + "\n"
    if args.output:
        out = Path(args.output)

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        _atomic_write(out, write)
        print(f"wrote {out}")
    else:
        print(text, end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    layout = _load(args)
    from topo.physical import check_limits

    report = check_limits(layout)
    data = report.to_dict()
    print(_json(data) if args.json else format_check(data))
    return 0 if report.ok else 1


def cmd_limits(args: argparse.Namespace) -> int:
    from topo import api

    result = api.limits(_load(args), vary=list(args.vary or []))
    data = result.to_dict()
    print(_json(data) if args.json else format_limits(data))
    # As `topo check`: exit 1 when the layout's domain is larger than its limits allow.
    return 1 if result.over else 0


def _figure_out(path: str, flag: str = "-o") -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg", ".pdf", ".html"):
        msg = f"{flag} {path[:200]}: the format follows the file name: .png, .svg, .pdf or .html"
        raise TopoError(msg)
    return out


def _save(fig: Any, out: Path) -> None:
    from topo.plot import save

    def write(tmp: Path) -> None:
        save(fig, tmp.with_suffix(out.suffix))
        tmp.with_suffix(out.suffix).replace(tmp)

    _atomic_write(out, write)
    # On stderr, so that --json output stays one JSON document.
    print(f"wrote {out}", file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> int:
    from topo.api import figure

    out = _figure_out(args.output)
    layout = _load(args)
    kinds = ["elevation", "topology"] if args.kind == "all" else [args.kind]
    for kind in kinds:
        target = out if len(kinds) == 1 else out.with_name(f"{out.stem}-{kind}{out.suffix}")
        with _progress(f"drawing the {kind}") as tick:
            fig = figure(kind, layout, progress=tick)
        _save(fig, target)
    return 0


def _swing(text: str) -> tuple[str, str, str]:
    """``--vary power_budget=66 kW,264 kW``: an input and its low and high values."""
    key, sep, values = text.partition("=")
    low, comma, high = values.partition(",")
    if not (sep and comma and key.strip() and low.strip() and high.strip()):
        msg = f"--vary {text[:80]!r}: expected KEY=LOW,HIGH, e.g. power_budget=66 kW,264 kW"
        raise TopoError(msg)
    return key.strip(), low.strip(), high.strip()


def _rates(text: str) -> list[float]:
    """``--rates 1,5,20``: request rates per second, each a finite number above 0."""
    out = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            v = float("nan")
        if not (math.isfinite(v) and 0 < v <= 1e9):
            msg = f"--rates: expected request rates per second above 0, got {part.strip()[:80]!r}"
            raise TopoError(msg)
        out.append(v)
    return out


def cmd_plot(args: argparse.Namespace) -> int:
    from topo.api import figure

    out = _figure_out(args.output)
    kind = args.figure
    if kind == "study":
        fig = figure("study", args.layout, x=args.x, y=args.y)
    elif kind == "limits":
        from topo.api import limits
        from topo.plot import plot_limits

        drawn = limits(_load(args))  # what topo limits computes, drawn once
        fig = plot_limits(drawn.to_dict())[0]
        sys.stderr.write(
            f"drew {drawn.layout}'s limits: largest domain {drawn.max_domain_size:,} GPUs, "
            f"bound by {', '.join(drawn.binding_all) or 'nothing tried'}\n"
        )
    elif kind in ("taper", "tornado"):
        vary = [_swing(v) for v in getattr(args, "vary", None) or []] or None
        layout = _load(args)
        with _progress(f"drawing the {kind}") as tick:
            fig = figure(kind, layout, vary=vary, progress=tick)
    elif kind == "links":
        layout, nbytes = _load(args), _size(args.bytes, "--bytes")
        with _progress("drawing the link loads") as tick:
            fig = figure(
                "links", layout, op=args.op, gpus=args.gpus, nbytes=nbytes,
                strategy=args.strategy, progress=tick,
            )  # fmt: skip
    else:
        from topo.layout import load_layout

        cat = tuple(args.catalogue or ())
        others = [load_layout(o, catalogue=cat) for o in getattr(args, "compare", None) or []]
        batch = getattr(args, "batch", None)
        rates = getattr(args, "rates", None)
        layout, workload = _load(args), _workload(args)
        with _progress("ranking plans") as tick:
            fig = figure(
                kind, layout, args.model, batches=_batches(batch) if batch else (1,),
                compare=others, strategy=args.strategy, workload=workload,
                share=getattr(args, "share", False), rates=_rates(rates) if rates else None,
                policy=getattr(args, "policy", "train"),
                requests=getattr(args, "requests", None), progress=tick, **_degrees(args),
            )  # fmt: skip
    _save(fig, out)
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from topo.gallery import build_gallery

    out = Path(args.output)
    try:
        if not str(args.output) or (out.exists() and not out.is_dir()):
            msg = f"gallery -o {args.output!r}: expected a folder (it holds many figures)"
            raise TopoError(msg)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a name too long, no permission
        raise TopoError(_cannot_write(out, e)) from None
    import functools

    from topo._workers import available_cores

    main: Callable[[list[str]], int] = args.run_topo  # the CLI's own entry, set by topo.cli
    workers = args.workers or min(available_cores(), 8)  # each worker holds matplotlib
    t0 = time.perf_counter()
    with _progress("drawing figures") as tick:
        files = build_gallery(
            args.output, functools.partial(_quiet, main), progress=tick, workers=workers
        )
    took = time.perf_counter() - t0
    on = f", {workers} processes" if workers > 1 else ""
    print(f"{len(files)} figures in {args.output}/ ({took:.1f} s{on})")
    return 0


def _quiet(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """`main(argv)` with its report kept off the console (the gallery wants the figure)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    from topo.api import serve_scenario

    s = _scenario(args)
    with _progress("searching plans") as tick:
        served = serve_scenario(
            s, _degrees(args), rate=args.rate, policy=args.policy, requests=args.requests,
            seed=args.seed, progress=tick,
        )  # fmt: skip
    if args.plot:
        from topo.api import serving_figure

        fig = serving_figure(served, s.workload.output_tokens, s.workload)
        _save(fig, _figure_out(args.plot, "--plot"))
    result = served.to_dict()
    if not args.json:
        result.pop("ttft_samples_s")
    print(_json(result) if args.json else format_serve(result))
    return 0


def cmd_price(args: argparse.Namespace) -> int:
    from topo.api import price_models
    from topo.models import load_model

    contexts = [float(c) for c in _batches(args.context_list)]
    batches = _batches(args.batch)
    s = _scenario(args)
    models = [s.model, *(load_model(m) for m in args.compare_model or [])]
    with _progress("searching plans") as tick:
        results = price_models(
            s, models, _degrees(args), contexts=contexts, batches=batches, progress=tick
        )
    data = dataclasses.replace(results[0], compare=tuple(results[1:])).to_dict()
    if args.plot:
        from topo.plot import plot_price

        fig, _ = plot_price(results, s.workload)
        _save(fig, _figure_out(args.plot, "--plot"))
    print(_json(data) if args.json else format_price(data))
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from topo.api import cache_scenario

    durations = [d for d in args.durations.split(",") if d.strip()]
    s = _scenario(args)
    with _progress("searching plans") as tick:
        result = cache_scenario(
            s, _degrees(args), prefix=args.prefix, durations=durations, progress=tick
        )
    data = result.to_dict()
    if args.plot:
        from topo.plot import plot_cache

        fig, _ = plot_cache(data, result.plan, s.workload)
        _save(fig, _figure_out(args.plot, "--plot"))
    print(_json(data) if args.json else format_cache(data))
    return 0


def cmd_lifecycle(args: argparse.Namespace) -> int:
    from topo.api import lifecycle

    data = lifecycle(
        params=args.params,
        tokens=args.tokens,
        inference_tokens=args.inference_tokens,
        rl_flops=args.rl_flops,
        active_params=args.active_params,
    ).to_dict()
    if args.plot:
        from topo.plot import plot_lifecycle

        fig, _ = plot_lifecycle(data)
        _save(fig, _figure_out(args.plot, "--plot"))
    print(_json(data) if args.json else format_lifecycle(data))
    return 0


def cmd_memory(args: argparse.Namespace) -> int:
    from topo.api import memory as training_memory

    layout = _load(args)
    if not args.train:
        msg = "topo memory models training steps: add --train"
        raise TopoError(msg)
    data = training_memory(
        layout,
        args.model,
        tokens_per_batch=args.tokens_per_batch,
        seq_len=args.seq_len,
        dtype=args.dtype,
    ).to_dict()
    print(_json(data) if args.json else format_memory(data))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from topo.api import calibrate
    from topo.calibrate import write_profile

    result = calibrate(
        args.measurements, layout=args.layout or "", accelerator=args.accelerator
    ).to_dict()
    out = Path(args.output)
    _atomic_write(out, lambda p: write_profile(result, p, str(args.measurements)))
    if args.json:
        print(_json(result))
    else:
        for name in result["fitted"]:
            err = result["uncertainty"][name]
            pm = f" +/- {err:.3g}" if err is not None else ""
            if name in result["at_bound"]:
                pm += " (at its bound)"
            print(f"{name:<20} {result['fidelity'][name]:.4g}{pm}")
        print(
            f"{result['points']} points, rms log error {result['rms_log_error']:.3f}; wrote {out}"
        )
    return 0


_DEFAULT_TITLE = "topo validation report"


def cmd_validate(args: argparse.Namespace) -> int:
    from topo.calibrate import format_validation, validation_markdown

    # Both outputs are checked before either is written.
    figure = _figure_out(args.plot, "--plot") if args.plot else None

    for out in (figure, Path(args.markdown) if args.markdown else None):
        if out is not None:
            _check_output(out)
    from topo.api import validate

    data = validate(
        args.measurements,
        layout=args.layout or "",
        clean=bool(getattr(args, "clean", False)),
        calibration=getattr(args, "calibration", None),
    ).to_dict()
    if args.markdown:
        command = "topo validate " + " ".join(
            [str(args.measurements)]
            + ([f"--calibration {args.calibration}"] if args.calibration else [])
            + (["--clean"] if args.clean else [])
            + [f"--markdown {args.markdown}"]
            + ([f"--notes {args.notes}"] if args.notes else [])
            + ([f"--plot {args.plot}"] if args.plot else [])
            + ([f'--title "{args.title}"'] if args.title != _DEFAULT_TITLE else [])
        )
        notes = ""
        if args.notes:
            from topo._yaml import read_text_limited

            notes = read_text_limited(args.notes)
        text = validation_markdown(data, command=command, title=args.title, notes=notes)
        _atomic_write(Path(args.markdown), lambda p: _write_text(p, text))
    if figure is not None:
        from topo.plot import plot_validation

        fig, _ = plot_validation(data)
        _save(fig, figure)
    print(_json(data) if args.json else format_validation(data))
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    from topo.measure import measure

    out = Path(args.output)
    text = measure(accelerator=args.accelerator, quick=args.quick)
    _atomic_write(out, lambda p: _write_text(p, text))
    print(f"wrote {out}")
    return 0


def _costs(items: list[str] | None) -> dict[str, float]:
    from topo.design import cost_inputs, cost_problem

    known = cost_inputs()
    out: dict[str, float] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        if key not in known:
            msg = f"--cost: unknown input {key!r}; known: {', '.join(sorted(known))}"
            raise TopoError(msg)
        try:
            out[key] = float(value)
        except ValueError:
            msg = f"--cost {key}: expected a number, got {value!r}"
            raise TopoError(msg) from None
        why = cost_problem(key, out[key])
        if why:
            msg = f"--cost {key}: {why}"
            raise TopoError(msg)
    return out


def cmd_compare(args: argparse.Namespace) -> int:
    from topo.api import compare

    w = _workload(args)
    with _progress("assessing designs") as tick:
        result = compare(
            list(args.layouts),
            args.model,
            slo_tpot_ms=args.slo_tpot_ms,
            slo_ttft_ms=args.slo_ttft_ms,
            max_replica_gpus=args.max_replica_gpus or 0,
            costs=_costs(args.cost),
            workload=w,
            progress=tick,
        )
    data = result.to_dict()
    if args.plot:
        from topo.plot import plot_compare

        fig, _ = plot_compare(data)
        _save(fig, _figure_out(args.plot, "--plot"))
    print(_json(data) if args.json else format_compare(data))
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    # topo.study, not topo.api: a study needs none of the other commands' modules.
    from topo.study import format_study
    from topo.study import run_study_file as study

    with _progress("assessing designs") as tick:
        done = study(args.study, args.output, workers=args.workers, dask=args.dask, progress=tick)
    summary = done.to_dict()
    print(_json(summary) if args.json else format_study(summary, done.varies))
    return 0
