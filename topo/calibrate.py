"""Measurements, calibration and validation: topo's numbers against what was measured.

A measurements file (YAML) lists points of four kinds, each with its source::

    measurements:
      - {kind: gemm, accelerator: h100-sxm, m: 8192, n: 8192, k: 8192, dtype: bf16,
         time: 1.378 ms, source: "..."}
      - {kind: bandwidth, accelerator: h100-sxm, bytes: 8 GB, time: 5.33 ms,
         source: "device-to-device copy: bytes read + written"}
      - {kind: collective, layout: dgx-h100, op: all-reduce, gpus: 8, bytes: 1 GB,
         time: 5.9 ms}
      - {kind: serving, layout: dgx-h100, model: llama-3-70b, plan: {tp: 8}, batch: 64,
         input: 1024, output: 128, metric: time_per_output_token, value: 22 ms, source: "..."}

nccl-tests' text output can be read directly (:func:`parse_nccl_tests`).
``calibrate`` fits the loss-term parameters of :mod:`topo.fidelity` by least squares on
the log error (bounded, deterministic coordinate search) with uncertainties from the
curvature; ``validate`` compares predictions with every point.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from topo._fields import _show
from topo._yaml import Located, Path_, load_located, read_text_limited
from topo.errors import LayoutError, Problem, TopoError
from topo.fidelity import DEFAULT, Fidelity
from topo.units import UnitError, parse_quantity

__all__ = [
    "FIT_BOUNDS",
    "Prediction",
    "calibrate",
    "load_measurements",
    "parse_nccl_tests",
    "predict",
    "validate",
]

KINDS = ("gemm", "bandwidth", "collective", "serving")
# time_per_output_token: one decode step at `batch` (mean context input + output / 2);
# tokens_per_s_per_gpu: batch / step time / GPUs (continuous batching, steady decode);
# static_batch_tokens_per_s_per_gpu: batch x output over the time of a whole static batch
#   (context phase of `batch` prompts, then output - 1 decode steps), per GPU;
# prefill_time: time to first token of `batch` prompts run together.
METRICS = (
    "time_per_output_token",
    "tokens_per_s_per_gpu",
    "static_batch_tokens_per_s_per_gpu",
    "prefill_time",
)
_RATE_METRICS = ("tokens_per_s_per_gpu", "static_batch_tokens_per_s_per_gpu")
# Parameters calibrate fits, with their bounds.
FIT_BOUNDS = {
    "hbm_scale": (0.5, 1.2),
    "compute_scale": (0.5, 1.2),
    "step_overhead_s": (0.0, 20e-3),
    "launch_per_layer_s": (0.0, 200e-6),
    "comm_bw_scale": (0.2, 1.0),
    "comm_latency_s": (0.0, 200e-6),
}

_NCCL_OPS = {
    "all_reduce": "all-reduce",
    "all_gather": "all-gather",
    "reduce_scatter": "reduce-scatter",
    "alltoall": "all-to-all",
    "sendrecv": "p2p",
    "broadcast": "broadcast",
}


def parse_nccl_tests(text: str, *, layout: str = "", gpus: int = 0) -> list[dict[str, Any]]:
    """Points from nccl-tests output (``all_reduce_perf`` and friends), out-of-place times.

    Examples
    --------
    >>> out = '''# nThread 1 nGpus 8 minBytes 8 maxBytes 1073741824
    ... # Using devices
    ... #       size         count      type   redop    root     time   algbw   busbw #wrong
    ...   1073741824     268435456     float     sum      -1   5932.1  181.01  316.77      0
    ... '''
    >>> parse_nccl_tests(out, layout="dgx-h100")[0]["time_s"]
    0.0059321
    """
    op = "all-reduce"
    m = re.search(
        r"\b(all_reduce|all_gather|reduce_scatter|alltoall|sendrecv|broadcast)_perf", text
    )
    if m:
        op = _NCCL_OPS[m.group(1)]
    n = gpus
    g = re.search(r"nGpus\s+(\d+)", text)
    ranks = re.search(r"nRanks\s+(\d+)", text)
    if not n and ranks:
        n = int(ranks.group(1))
    elif not n and g:
        n = int(g.group(1))
    points = []
    for row, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#") or not parts[0].isdigit():
            continue
        try:
            size = float(parts[0])
            time_us = float(parts[5])
            algbw = float(parts[6])
            busbw = float(parts[7])
        except (ValueError, IndexError):
            continue
        points.append(
            {
                "kind": "collective",
                "layout": layout,
                "op": op,
                "gpus": n,
                "bytes": size,
                "time_s": time_us * 1e-6,
                "algbw_bytes_per_s": algbw * 1e9,
                "busbw_bytes_per_s": busbw * 1e9,
                "source": "nccl-tests output",
                "row": row,
            }
        )
    return points


def _check_nccl(points: list[dict[str, Any]], file: str, layout: str) -> None:
    """nccl-tests rows topo can use: a group size, sizes and times above zero."""
    problems = []
    if not points:
        problems.append(Problem(file, 1, "", "nccl-tests output with no result rows"))
    elif points[0]["gpus"] < 2:
        msg = "no 'nGpus' or 'nRanks' line: the group size is unknown (at least 2 GPUs)"
        problems.append(Problem(file, 1, "nGpus", msg))
    for pt in points:
        for key, v in (("time", pt["time_s"]), ("size", pt["bytes"])):
            if not (math.isfinite(v) and v > 0):
                msg = f"expected a {key} above 0, got {v:g}"
                problems.append(Problem(file, pt["row"], key, msg))
    if problems:
        raise LayoutError(problems)
    from topo.layout import load_layout

    try:
        load_layout(layout)
    except TopoError as e:
        raise LayoutError(Problem(file, 0, "--layout", str(e).splitlines()[0])) from None


def _q(doc: Located, path: Path_, key: str, kind: str, problems: list[Problem]) -> Any:
    entry = doc_get(doc, path)
    if key not in entry:
        problems.append(doc.problem((*path, key), f"missing; expected a {kind}"))
        return None
    try:
        v = parse_quantity(entry[key], kind)
    except UnitError as e:
        problems.append(doc.problem((*path, key), str(e)))
        return None
    if v <= 0:  # a measured time or size of 0 divides every rate and error made of it
        problems.append(doc.problem((*path, key), f"expected a {kind} above 0, got {v:g}"))
        return None
    return v


def doc_get(doc: Located, path: Path_) -> Any:
    """The value at `path` of a located document."""
    v = doc.data
    for k in path:
        v = v[k]
    return v


def _whole(
    doc: Located, path: Path_, key: str, problems: list[Problem], *, required: bool, least: int = 1
) -> None:
    entry = doc_get(doc, path)
    if key not in entry:
        if required:
            problems.append(
                doc.problem((*path, key), f"missing; expected a whole number >= {least}")
            )
        return
    v = entry[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        problems.append(doc.problem((*path, key), f"expected a whole number >= {least}, got {v!r}"))


def _name(
    doc: Located,
    path: Path_,
    key: str,
    problems: list[Problem],
    choices: Any = None,
    resolve: Any = None,
) -> Any:
    """Check a name field; with `resolve`, look it up and return what it names."""
    entry = doc_get(doc, path)
    v = entry.get(key)
    if key in entry and (not isinstance(v, str) or not v):
        problems.append(doc.problem((*path, key), f"expected a name, got {_show(v)}"))
    elif not isinstance(v, str) or not v:
        problems.append(doc.problem((*path, key), "missing; expected a name"))
    elif choices is not None and v not in choices:
        problems.append(doc.problem((*path, key), f"expected one of {', '.join(choices)}"))
    elif resolve is not None:
        try:
            return resolve(v)
        except TopoError as e:
            problems.append(doc.problem((*path, key), str(e).splitlines()[0]))
    return None


def _check_point(doc: Located, path: Path_, problems: list[Problem]) -> dict[str, Any]:
    """One point's fields checked; the point in SI units."""
    from topo.catalogue import load_catalogue
    from topo.collectives import OPS
    from topo.layout import load_layout

    e = doc_get(doc, path)
    pt = dict(e)
    kind = e["kind"]
    for key in ("source", "engine", "date"):  # free text, but text: reports sort and group it
        v = e.get(key, "")
        if not isinstance(v, str) and not (key == "date" and type(v) is int):
            problems.append(doc.problem((*path, key), f"expected text, got {_show(v)}"))
            pt[key] = ""
    accelerator = load_catalogue().accelerator
    if kind == "serving":
        _check_serving(doc, path, pt, problems)
        return pt
    pt["time_s"] = _q(doc, path, "time", "time", problems)
    if kind == "gemm":
        acc = _name(doc, path, "accelerator", problems, resolve=accelerator)
        for key in ("m", "n", "k"):
            _whole(doc, path, key, problems, required=True)
        if "dtype" in e and acc is not None:  # the dtypes the chip has a published peak for
            _name(doc, path, "dtype", problems, sorted(acc.peak_flop_per_s))
    elif kind == "bandwidth":
        _name(doc, path, "accelerator", problems, resolve=accelerator)
        pt["bytes"] = _q(doc, path, "bytes", "data", problems)
    else:
        _name(doc, path, "layout", problems, resolve=load_layout)
        _name(doc, path, "op", problems, OPS)
        _whole(doc, path, "gpus", problems, required=True, least=2)
        pt["bytes"] = _q(doc, path, "bytes", "data", problems)
    return pt


def _check_serving(doc: Located, path: Path_, pt: dict[str, Any], problems: list[Problem]) -> None:
    """A serving point's fields checked; its value, a time, set in `pt` in seconds."""
    from topo.layout import load_layout
    from topo.models import DTYPE_BYTES, load_model

    e = doc_get(doc, path)
    _name(doc, path, "layout", problems, resolve=load_layout)
    model = _name(doc, path, "model", problems, resolve=load_model)
    _whole(doc, path, "batch", problems, required=True)
    _whole(doc, path, "input", problems, required=False)
    _whole(doc, path, "output", problems, required=False)
    for key in ("weights", "kv"):
        if key in e:
            _name(doc, path, key, problems, sorted(DTYPE_BYTES))
    _check_serving_plan(doc, path, model, problems)
    _check_serving_scenario(doc, path, problems)
    if e.get("metric") not in METRICS:
        problems.append(doc.problem((*path, "metric"), f"expected one of {', '.join(METRICS)}"))
        return
    if e["metric"] in _RATE_METRICS:
        v = e.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            problems.append(doc.problem((*path, "value"), "expected tokens/s as a number > 0"))
    else:
        pt["value"] = _q(doc, path, "value", "time", problems)


def _check_serving_plan(doc: Located, path: Path_, model: Any, problems: list[Problem]) -> None:
    """A serving point's plan: known degrees, whole numbers >= 1, and one the model allows."""
    from topo.evaluation import check_plan
    from topo.place import Plan

    plan = doc_get(doc, path).get("plan", {})
    if not isinstance(plan, dict):
        problems.append(doc.problem((*path, "plan"), "expected a mapping like {tp: 8}"))
        return
    for k in plan:
        if k not in ("tp", "ep", "pp", "dp"):
            problems.append(doc.problem((*path, "plan", k), "expected tp, ep, pp or dp"))
        else:
            _whole(doc, (*path, "plan"), k, problems, required=True)
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in plan.values())
    if model is not None and ok and set(plan) <= {"tp", "ep", "pp", "dp"}:
        try:
            check_plan(model, Plan(**plan))
        except TopoError as err:
            problems.append(doc.problem((*path, "plan"), str(err).splitlines()[0]))


def _check_serving_scenario(doc: Located, path: Path_, problems: list[Problem]) -> None:
    """A serving point's scenario facts: speculative decoding, attention kernel, overlap."""
    e = doc_get(doc, path)
    acc_tok = e.get("accepted_tokens", 1.0)
    if isinstance(acc_tok, bool) or not isinstance(acc_tok, (int, float)) or acc_tok < 1:
        problems.append(
            doc.problem((*path, "accepted_tokens"), "expected tokens per step, a number >= 1")
        )
    if "draft_tokens" in e:
        _whole(doc, path, "draft_tokens", problems, required=True, least=0)
    if "attention_kernel" in e:
        from topo.perf import ATTENTION_KERNELS

        if e["attention_kernel"] not in ATTENTION_KERNELS:
            problems.append(
                doc.problem(
                    (*path, "attention_kernel"),
                    f"expected one of {', '.join(ATTENTION_KERNELS)}",
                )
            )
    if "overlap" in e:
        from topo.perf import Workload

        try:
            Workload(overlap=str(e["overlap"])).check()
        except TopoError as err:
            problems.append(doc.problem((*path, "overlap"), str(err)))


def load_measurements(path: str | Path, *, layout: str = "") -> list[dict[str, Any]]:
    """Points of a measurements YAML file (or nccl-tests text, run on `layout`), in SI.

    Every problem is reported at once, with its file, line and key.
    """
    p = Path(path)
    text = read_text_limited(p, 16 * 1024 * 1024)  # thousands of points, never unbounded
    if "busbw" in text and "#" in text and "measurements" not in text:
        if not layout:
            raise LayoutError(
                Problem(str(p), 1, "layout", "nccl-tests output: name its layout with --layout")
            )
        points = parse_nccl_tests(text, layout=layout)
        _check_nccl(points, str(p), layout)
        return points
    doc = load_located(p, text=text)
    items = doc.data.get("measurements") if isinstance(doc.data, dict) else None
    if not isinstance(items, list):
        raise LayoutError(doc.problem(("measurements",), "expected a list of points"))
    out: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, e in enumerate(items):
        if not isinstance(e, dict) or e.get("kind") not in KINDS:
            problems.append(
                doc.problem(("measurements", i, "kind"), f"expected one of {', '.join(KINDS)}")
            )
            continue
        lay = e.get("layout")
        if isinstance(lay, str) and lay.endswith((".yaml", ".yml")) and not Path(lay).is_file():
            near = p.parent / lay  # a layout path is relative to the measurements file
            if near.is_file():
                e = {**e, "layout": str(near)}
                doc.data["measurements"][i] = e
        out.append(_check_point(doc, ("measurements", i), problems))
    if problems:
        raise LayoutError(problems)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Prediction:
    """What topo predicts for one measured point, and what dominates it.

    `value` is a time [s] (for serving points, the metric's own unit); `term` the part
    of the model that dominates it.
    """

    value: float
    term: str


def predict(point: dict[str, Any], fidelity: Fidelity = DEFAULT) -> Prediction:
    """The number topo predicts for one measured point, and the term that dominates it."""
    kind = point["kind"]
    if kind == "gemm":
        r = _predict_gemm(point, fidelity)
    elif kind == "bandwidth":
        r = _predict_bandwidth(point, fidelity)
    elif kind == "collective":
        r = _predict_collective(point, fidelity)
    else:
        r = _predict_serving(point, fidelity)
    return Prediction(float(r["value"]), str(r["term"]))


def _predict_gemm(point: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """A GEMM point: the kernel's time on the accelerator, HBM and compute scaled."""
    from topo.catalogue import load_catalogue
    from topo.kernels import gemm_time
    from topo.models import dtype_bytes

    acc = load_catalogue().accelerator(point["accelerator"])
    dtype = point.get("dtype", "bf16")
    if dtype not in acc.peak_flop_per_s:
        msg = f"{acc.name} has no published {dtype} peak"
        raise TopoError(msg)
    b = dtype_bytes(dtype)
    peak_bw = acc.hbm_bandwidth_bytes_per_s or 0.0
    t = gemm_time(
        acc,
        dtype,
        point["m"],
        point["n"],
        point["k"],
        weight_bytes=b,
        act_bytes=b,
        hbm_bw=peak_bw * min(1.0, acc.efficiency.hbm * fidelity.hbm_scale),
        compute_scale=fidelity.compute_scale,
    )
    return {"value": float(t), "term": "kernel"}


def _predict_bandwidth(point: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """A copy point: its bytes over the accelerator's effective HBM bandwidth."""
    from topo.catalogue import load_catalogue

    acc = load_catalogue().accelerator(point["accelerator"])
    if acc.hbm_bandwidth_bytes_per_s is None:
        msg = f"{acc.name} has no published HBM bandwidth"
        raise TopoError(msg)
    bw = acc.hbm_bandwidth_bytes_per_s * min(1.0, acc.efficiency.hbm * fidelity.hbm_scale)
    return {"value": point["bytes"] / bw, "term": "hbm"}


def _predict_collective(point: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """A collective point: its time on the first `gpus` GPUs of its layout."""
    from topo.collectives import collective
    from topo.kernels import point_runtime

    G = _graph(point["layout"])
    r = collective(
        G,
        point["op"],
        G.gpus[: point["gpus"]],
        point["bytes"],
        clean=not fidelity.enabled,
        runtime=point_runtime(point),
    )
    value = float(fidelity.comm_time(r.latency_s, r.transfer_s))
    return {"value": value, "term": "latency" if r.latency_s > r.transfer_s else "bandwidth"}


def _predict_serving(point: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """A serving point: its metric from a decode step at its batch (and prefill, if needed)."""
    from topo.perf import KERNEL_CLASSES, decode, prefill

    prep = _prepared(point)
    # Scenario facts a point may state: speculative decoding (mean tokens accepted per
    # step, draft tokens verified) and which collectives overlap compute (two-batch overlap).
    spec = dataclasses.replace(
        fidelity,
        accepted_tokens_per_step=float(point.get("accepted_tokens", 1.0)),
        draft_tokens=int(point.get("draft_tokens", 0)),
    )
    w = dataclasses.replace(
        prep["workload"], fidelity=spec, overlap=str(point.get("overlap", "none"))
    )
    d = decode(
        prep["layout"],
        prep["model"],
        prep["plan"],
        np.array([float(point["batch"])]),
        w,
        prep["comm"],
    )
    terms = d.breakdown(0)
    kernels = {k: float(d.kernels[k][0]) for k in KERNEL_CLASSES}
    if any(kernels.values()):  # the kernel class that takes longest, or the collectives
        terms = {**kernels, "communication": terms["communication"]}
    term = max(terms, key=lambda k: terms[k])
    metric = point["metric"]
    if metric == "time_per_output_token":
        return {"value": float(d.tpot[0]), "term": term}
    world = prep["plan"].world
    if metric == "tokens_per_s_per_gpu":
        return {"value": float(d.tokens_per_s[0]) / world, "term": term}
    prompts = float(point["batch"]) / prep["plan"].dp
    pre = prefill(prep["layout"], prep["model"], prep["plan"], w, prep["comm"], prompts=prompts)
    if metric == "prefill_time":
        return {"value": pre.time_s, "term": "prefill " + pre.bound}
    steps = max(w.output_tokens - 1, 0)
    total = pre.time_s + steps * float(d.tpot[0])
    value = float(point["batch"]) * w.output_tokens / total / world
    term = "prefill " + pre.bound if pre.time_s > total / 2 else term
    return {"value": value, "term": term}


_PREPARED: dict[str, dict[str, Any]] = {}
_GRAPHS: dict[str, Any] = {}


def _graph(layout: str) -> Any:
    """The graph of a layout, built once per process (collective points share a few)."""
    from topo.build import build_graph
    from topo.layout import load_layout
    from topo.routing import Fabric

    if layout not in _GRAPHS:
        _GRAPHS[layout] = Fabric(build_graph(load_layout(layout)))
    return _GRAPHS[layout]


def _prepared(point: dict[str, Any]) -> dict[str, Any]:
    """Layout, model, plan and collectives of a serving point, built once."""
    from topo.build import build_graph
    from topo.evaluation import check_plan
    from topo.layout import load_layout
    from topo.models import load_model
    from topo.perf import Workload, comm_model
    from topo.place import Plan, place
    from topo.routing import Fabric

    key = repr(sorted((k, str(v)) for k, v in point.items()))
    if key not in _PREPARED:
        layout = load_layout(point["layout"])
        model = load_model(point["model"])
        plan = Plan(**{k: int(v) for k, v in (point.get("plan") or {}).items()})
        check_plan(model, plan)
        G = build_graph(layout)
        comm = comm_model(Fabric(G), place(G, plan))
        w = Workload(
            input_tokens=int(point.get("input", 1024)),
            output_tokens=int(point.get("output", 128)),
            weights=point.get("weights", "bf16"),
            kv=point.get("kv", "bf16"),
            attention_kernel=str(point.get("attention_kernel", "grouped")),
        )
        _PREPARED[key] = {
            "layout": layout,
            "model": model,
            "plan": plan,
            "comm": comm,
            "workload": w,
        }
    return _PREPARED[key]


def _series_key(pt: dict[str, Any]) -> tuple[str, str, str]:
    return (str(pt.get("source", "")).split(" ")[0], pt["accelerator"], pt.get("dtype", "bf16"))


def _excluded_series(points: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """GEMM series that are not hardware figures (:func:`topo.kernels.series_exclusion`)."""
    from topo.catalogue import load_catalogue
    from topo.kernels import series_exclusion

    cat = load_catalogue()
    chips = {p["accelerator"] for p in points if p["kind"] == "gemm"}
    peaks = {c: dict(cat.accelerator(c).peak_flop_per_s) for c in chips}
    return series_exclusion(points, peaks)


def _model_is_moe(name: str) -> bool:
    from topo.models import load_model

    return load_model(name).moe is not None


def _measured(point: dict[str, Any]) -> float:
    return float(point["value"] if point["kind"] == "serving" else point["time_s"])


@dataclasses.dataclass(frozen=True, slots=True)
class ValidationRow:
    """One measured point against topo's prediction.

    ``measured`` and ``predicted`` are in the point's unit (seconds for times, tokens/s
    or tokens/s per GPU for throughputs); ``error`` is predicted / measured - 1 (a
    fraction, None for a point left out of the statistics, whose error is then
    ``error_if_included``); ``excluded`` says why a point was left out.
    """

    kind: str
    what: str
    measured: float
    predicted: float
    error: float | None
    dominant_term: str
    source: str
    engine: str | None = None
    date: str | None = None
    model: str | None = None
    model_kind: str | None = None
    excluded: str | None = None
    error_if_included: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "what": self.what,
            "measured": self.measured,
            "predicted": self.predicted,
            "error": self.error,
            "dominant_term": self.dominant_term,
            "source": self.source,
        }
        for key in ("engine", "date", "model", "model_kind"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.excluded is not None:
            d["excluded"] = self.excluded
            d["error_if_included"] = self.error_if_included
        return d


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorStats:
    """Error statistics over the counted points (excluded ones left out).

    ``counted`` points; ``median_abs_error`` and ``p90_abs_error`` are the median and
    90th-percentile |predicted / measured - 1| (fractions); ``signed_median_error`` the
    median signed error (fraction); each None when no point is counted.
    """

    counted: int
    median_abs_error: float | None
    p90_abs_error: float | None
    signed_median_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "counted": self.counted,
            "median_abs_error": self.median_abs_error,
            "p90_abs_error": self.p90_abs_error,
            "signed_median_error": self.signed_median_error,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ValidationReport:
    """``topo validate``: every point's prediction and error, and the error statistics.

    ``stats`` over all counted points and ``by_kind`` per point kind (errors are
    fractions); ``excluded`` counts the points left out of the statistics; ``fidelity``
    is the model fidelity the predictions used.
    """

    points: tuple[ValidationRow, ...]
    stats: ErrorStats
    by_kind: Mapping[str, ErrorStats]
    excluded: int
    fidelity: Fidelity

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [r.to_dict() for r in self.points],
            **self.stats.to_dict(),
            "by_kind": {k: v.to_dict() for k, v in self.by_kind.items()},
            "excluded": self.excluded,
            "fidelity": self.fidelity.to_dict(),
        }


def validate(points: list[dict[str, Any]], fidelity: Fidelity = DEFAULT) -> ValidationReport:
    """Predicted against measured for every point, with median and 90th-percentile errors."""
    excluded = _excluded_series(points)
    rows = []
    for pt in points:
        pred = predict(pt, fidelity)
        meas = _measured(pt)
        err = pred.value / meas - 1 if meas else math.inf
        why = excluded.get(_series_key(pt)) if pt["kind"] == "gemm" else None
        # An excluded point stays in the list, left out of the error statistics.
        rows.append(
            ValidationRow(
                kind=pt["kind"],
                what=_label(pt),
                measured=meas,
                predicted=pred.value,
                error=None if why else err,
                dominant_term=pred.term,
                source=pt.get("source", ""),
                engine=str(pt["engine"]) if "engine" in pt else None,
                date=str(pt["date"]) if "date" in pt else None,
                model=str(pt["model"]) if "model" in pt else None,
                model_kind=(
                    ("moe" if _model_is_moe(pt["model"]) else "dense")
                    if pt["kind"] == "serving"
                    else None
                ),
                excluded=why or None,
                error_if_included=err if why else None,
            )
        )
    kinds = sorted({r.kind for r in rows})
    return ValidationReport(
        points=tuple(rows),
        stats=_stats([r.error for r in rows]),
        by_kind={k: _stats([r.error for r in rows if r.kind == k]) for k in kinds},
        excluded=sum(1 for r in rows if r.excluded),
        fidelity=fidelity,
    )


def _stats(errors: list[float | None]) -> ErrorStats:
    """Points counted, median and 90th-percentile |error|, signed median (excluded left out)."""
    e = np.array([x for x in errors if x is not None], dtype=float)
    return ErrorStats(
        counted=len(e),
        median_abs_error=float(np.median(np.abs(e))) if len(e) else None,
        p90_abs_error=float(np.percentile(np.abs(e), 90)) if len(e) else None,
        signed_median_error=float(np.median(e)) if len(e) else None,
    )


def _label(pt: dict[str, Any]) -> str:
    if pt["kind"] == "serving":
        plan = "x".join(f"{k}{v}" for k, v in (pt.get("plan") or {}).items())
        layout = str(pt["layout"])
        if layout.endswith((".yaml", ".yml")):
            layout = Path(layout).stem
        return (
            f"{pt['model']} {pt.get('weights', 'bf16')} {layout} {plan} "
            f"B={pt['batch']} {pt.get('input', 1024)}/{pt.get('output', 128)}: {pt['metric']}"
        )
    if pt["kind"] == "collective":
        return f"{pt['op']} {pt['bytes']:.3g} B on {pt['gpus']} GPUs of {pt['layout']}"
    if pt["kind"] == "gemm":
        return f"GEMM {pt['m']}x{pt['n']}x{pt['k']} {pt.get('dtype', 'bf16')}"
    return f"copy of {pt['bytes']:.3g} B"


@dataclasses.dataclass(frozen=True, slots=True)
class CalibrationFit:
    """``topo calibrate``: the fitted fidelity and how well it fits.

    ``fidelity`` holds the fitted parameters (in their own units: scales are fractions,
    ``*_s`` seconds); ``fitted`` names them; ``uncertainty`` is each one's standard
    error (same unit, None when undetermined); ``at_bound`` names those stopped at a
    bound; ``rms_log_error`` is the root-mean-square of ln(predicted / measured)
    (dimensionless) over ``points`` measured points.
    """

    fidelity: Fidelity
    fitted: tuple[str, ...]
    uncertainty: Mapping[str, float | None]
    at_bound: tuple[str, ...]
    rms_log_error: float
    points: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "fidelity": self.fidelity.to_dict(),
            "fitted": list(self.fitted),
            "uncertainty": dict(self.uncertainty),
            "at_bound": list(self.at_bound),
            "rms_log_error": self.rms_log_error,
            "points": self.points,
        }


def calibrate(
    points: list[dict[str, Any]], *, start: Fidelity = DEFAULT, iterations: int = 60
) -> CalibrationFit:
    """Fit :data:`FIT_BOUNDS`' parameters to the points: least squares on the log error.

    Levenberg-Marquardt on parameters scaled to [0, 1] within their bounds, a forward-
    difference Jacobian, steps clipped to the bounds and a fixed iteration budget, so the
    same points always give the same profile. Uncertainties are one standard error from
    the Gauss-Newton covariance, sigma^2 (J^T J)^-1 with sigma^2 the residual variance.
    """
    if not points:
        msg = "calibrate: no measurements"
        raise TopoError(msg)
    meas = np.array([_measured(p) for p in points])
    if np.any(meas <= 0):
        msg = "calibrate: every measured value must be > 0"
        raise TopoError(msg)
    names = [n for n in FIT_BOUNDS if _sensitive(points, n)]
    if not names:
        msg = (
            "calibrate: these points depend on no calibrated parameter (collectives are not fitted)"
        )
        raise TopoError(msg)
    lo = np.array([FIT_BOUNDS[n][0] for n in names])
    span = np.array([FIT_BOUNDS[n][1] - FIT_BOUNDS[n][0] for n in names])

    def fid(u: np.ndarray) -> Fidelity:
        values: dict[str, Any] = {n: float(lo[i] + span[i] * u[i]) for i, n in enumerate(names)}
        return dataclasses.replace(start, **values)

    def resid(u: np.ndarray) -> np.ndarray:
        f = fid(u)
        pred = np.array([predict(p, f).value for p in points])
        return np.asarray(np.log(pred / meas))

    u = np.clip(
        np.array([(getattr(start, n) - lo[i]) / span[i] for i, n in enumerate(names)]), 0, 1
    )
    u, cost, J = _levenberg_marquardt(resid, u, iterations)
    errors = _standard_errors(J, u, cost, names, span)
    return CalibrationFit(
        fidelity=fid(u),
        fitted=tuple(names),
        uncertainty=errors,
        at_bound=tuple(names[i] for i in range(len(names)) if not 1e-9 < u[i] < 1 - 1e-9),
        rms_log_error=math.sqrt(cost / len(points)),
        points=len(points),
    )


def _jacobian(
    resid: Callable[[np.ndarray], np.ndarray], u: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """Forward differences of the residuals `r` at `u`, stepping back at the upper bound."""
    J = np.empty((len(r), len(u)))
    for i in range(len(u)):
        h = 1e-6 if u[i] < 1 - 1e-6 else -1e-6
        v = u.copy()
        v[i] += h
        J[:, i] = (resid(v) - r) / h
    return J


def _levenberg_marquardt(
    resid: Callable[[np.ndarray], np.ndarray], u: np.ndarray, iterations: int
) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise |resid(u)|^2 over u in [0, 1]: the parameters, the cost, the last Jacobian."""
    r = resid(u)
    cost = float(r @ r)
    lam = 1e-3
    J = _jacobian(resid, u, r)
    for _ in range(iterations):
        A = J.T @ J
        g = J.T @ r
        step = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), -g)
        v = np.clip(u + step, 0.0, 1.0)
        rv = resid(v)
        cv = float(rv @ rv)
        if cv < cost:
            done = cost - cv < 1e-14 * max(cost, 1e-30) or np.max(np.abs(v - u)) < 1e-10
            u, r, cost = v, rv, cv
            lam = max(lam / 3, 1e-9)
            if done:
                break
            J = _jacobian(resid, u, r)
        else:
            lam *= 4
            if lam > 1e8:
                break
    return u, cost, J


def _standard_errors(
    J: np.ndarray, u: np.ndarray, cost: float, names: list[str], span: np.ndarray
) -> dict[str, float | None]:
    """One standard error per parameter, sigma^2 (J^T J)^-1, in the parameter's units."""
    dof = max(len(J) - len(names), 1)
    sigma2 = cost / dof
    # Parameters pinned at a bound carry no curvature: no standard error for them.
    # So do those the points no longer depend on (an efficiency scaled past 100%).
    free = [
        i
        for i in range(len(names))
        if 1e-9 < u[i] < 1 - 1e-9 and float(np.max(np.abs(J[:, i]))) > 1e-9
    ]
    errors: dict[str, float | None] = {n: None for n in names}
    if free:
        Jf = J[:, free]
        cov = np.linalg.pinv(Jf.T @ Jf) * sigma2
        for j, i in enumerate(free):
            errors[names[i]] = float(math.sqrt(max(cov[j, j], 0.0)) * span[i])
    return errors


def _sensitive(points: list[dict[str, Any]], name: str) -> bool:
    """Whether any point's prediction depends on parameter `name`."""
    kinds = {p["kind"] for p in points}
    need = {
        "hbm_scale": {"bandwidth", "serving"},
        "compute_scale": {"gemm", "serving"},
        "step_overhead_s": {"serving"},
        "launch_per_layer_s": {"serving"},
        "comm_bw_scale": {"collective"},
        "comm_latency_s": {"collective"},
    }
    return bool(kinds & need[name])


def for_accelerator(points: list[dict[str, Any]], accelerator: str) -> list[dict[str, Any]]:
    """The points measured on `accelerator` (component points by name, the rest by layout)."""
    from topo.catalogue import load_catalogue
    from topo.layout import load_layout

    want = load_catalogue().accelerator(accelerator).name
    out = []
    for p in points:
        if "accelerator" in p:
            name = load_catalogue().accelerator(p["accelerator"]).name
        else:
            name = load_layout(p["layout"]).accelerator.name
        if name == want:
            out.append(p)
    return out


def write_profile(result: dict[str, Any], path: Path, measurements: str) -> None:
    """A calibration profile: the fitted parameters, their uncertainties and provenance."""
    doc = {
        "fidelity": result["fidelity"],
        "fitted": result["fitted"],
        "uncertainty": result["uncertainty"],
        "at_bound": result["at_bound"],
        "rms_log_error": result["rms_log_error"],
        "points": result["points"],
        "measurements": measurements,
    }
    path.write_text(
        "# topo calibration profile: use with --calibration on evaluate, sweep, plan, serve\n"
        + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )


def _fmt(v: float, pt: str) -> str:
    if pt.endswith("tokens_per_s_per_gpu"):
        return f"{v:,.0f} tok/s/GPU"
    if v >= 1:
        return f"{v:.3g} s"
    if v >= 1e-3:
        return f"{v * 1e3:.3g} ms"
    return f"{v * 1e6:.3g} us"


def format_validation(data: dict[str, Any]) -> str:
    """The validation table for a terminal: one line per point, then the statistics."""
    lines = [f"{'point':<70} {'measured':>16} {'topo':>16} {'error':>8}  dominant term"]
    for r in data["points"]:
        unit = r["what"]
        err = f"{r['error']:>+8.1%}" if r["error"] is not None else f"{'excl.':>8}"
        lines.append(
            f"{r['what'][:70]:<70} {_fmt(r['measured'], unit):>16} "
            f"{_fmt(r['predicted'], unit):>16} {err}  {r['dominant_term']}"
        )
    for kind, st in data.get("by_kind", {}).items():
        if len(data.get("by_kind", {})) > 1 and st["counted"]:
            lines.append(
                f"{kind}: {st['counted']} points, median |error| {st['median_abs_error']:.1%}, "
                f"90th percentile {st['p90_abs_error']:.1%}"
            )
    excluded = f" ({data['excluded']} excluded by rule)" if data.get("excluded") else ""
    lines.append(
        f"{len(data['points'])} points{excluded}: median |error| "
        f"{data['median_abs_error']:.1%}, 90th percentile {data['p90_abs_error']:.1%}"
    )
    return "\n".join(lines)


def _group_table(rows: list[dict[str, Any]], key: Any, title: str) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["error"] is not None:
            groups.setdefault(key(r), []).append(r)
    out = [f"| {title} | points | median abs. error | 90th percentile | signed median |"]
    out.append("|---|---:|---:|---:|---:|")
    for name in sorted(groups):
        st = _stats([r["error"] for r in groups[name]]).to_dict()
        out.append(
            f"| {name} | {st['counted']} | {st['median_abs_error']:.1%} | "
            f"{st['p90_abs_error']:.1%} | {st['signed_median_error']:+.1%} |"
        )
    return out


def _engine(r: dict[str, Any]) -> str:
    """The engine's name without its version: 'vLLM 0.7.3 (ROCm fork)' -> 'vLLM'."""
    words = []
    for w in str(r.get("engine", "unstated")).split():
        if w[0].isdigit() or w[0] == "(" or re.match(r"v\d", w):
            break
        words.append(w)
    return " ".join(words) or "unstated"


def _generation(r: dict[str, Any]) -> str:
    """Engine and year of a serving point (its generation), e.g. 'TensorRT-LLM 2023'."""
    year = str(r.get("date", ""))[:4] or "undated"
    return f"{_engine(r)} {year}"


def validation_markdown(data: dict[str, Any], *, command: str, title: str, notes: str = "") -> str:
    """A Markdown report of a validation run: statistics, groups, the table, the sources."""
    rows = data["points"]
    counted = [r for r in rows if r["error"] is not None]
    sources = sorted({r["source"] for r in rows if r["source"]})
    serving = [r for r in counted if r["kind"] == "serving"]
    modern = sum(1 for r in serving if str(r.get("date", ""))[:4] >= "2024")
    moe = sum(1 for r in serving if r.get("model_kind") == "moe")
    engines = sorted({_engine(r) for r in serving if r.get("engine")})
    out = [
        f"# {title}",
        "",
        f"Generated by `{command}`; do not edit by hand.",
        "",
        f"- points: {len(counted)}",
        f"- median absolute error: {data['median_abs_error']:.1%}",
        f"- 90th-percentile absolute error: {data['p90_abs_error']:.1%}",
        f"- signed median error: {data['signed_median_error']:+.1%} "
        "(positive: topo predicts more than was measured)",
    ]
    if serving:
        out += [
            f"- from 2024 or later: {modern}; on MoE models: {moe}; "
            f"engines: {', '.join(engines) or 'unstated'}",
            "- defaults only: nothing fitted to these points (`topo/fidelity.py`)",
        ]
    if data.get("excluded"):
        out.append(f"- left out by the documented rule: {data['excluded']}")
    out += ["", *([notes.strip(), ""] if notes else [])]
    if serving:
        out += ["## By engine generation", ""]
        out += _group_table(counted, _generation, "engine and year")
        out += ["", "## By model kind", ""]
        out += _group_table(counted, lambda r: r.get("model_kind", r["kind"]), "model kind")
        out += ["", "## By model", ""]
        out += _group_table(counted, lambda r: str(r.get("model", "")), "model")
        out += ["", "## By metric", ""]
        out += _group_table(counted, lambda r: r["what"].rsplit(": ", 1)[-1], "metric")
        out.append("")
    elif len(data.get("by_kind", {})) > 1:
        out += ["## By kind", ""]
        out += _group_table(counted, lambda r: r["kind"], "kind")
        out.append("")
    out += [
        "## Every point",
        "",
        "| point | engine | measured | topo | error | dominant term | source |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        src = sources.index(r["source"]) + 1 if r["source"] else ""
        err = f"{r['error']:+.1%}" if r["error"] is not None else "excluded"
        engine = f"{r.get('engine', '')} {str(r.get('date', ''))}".strip()
        out.append(
            f"| {r['what']} | {engine} | {_fmt(r['measured'], r['what'])} | "
            f"{_fmt(r['predicted'], r['what'])} | {err} | {r['dominant_term']} | "
            f"[{src}] |"
        )
    out += ["", "## Sources", ""]
    out += [f"{i}. {s}" for i, s in enumerate(sources, 1)]
    return "\n".join(out) + "\n"
