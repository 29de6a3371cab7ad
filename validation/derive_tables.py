"""Derive topo's kernel tables (``topo/data/kernel_tables.json``) from the component set.

Run from the repository root (topo installed)::

    python validation/derive_tables.py                 # writes topo/data/kernel_tables.json
    python validation/derive_tables.py --check         # exit 1 if the shipped file differs

Input: ``validation/components.yaml`` (published GEMM, HBM, collective, attention and
DeepEP measurements, each with its source). Every number written comes from a point of
that file by the rules below; nothing is fitted to end-to-end serving results.

- GEMM: each point's fraction of its chip's dense peak, ``2mnk / time / peak``. Chips of
  one die pool their points (H100 SXM, H200 and H800 share SMs and clocks). Series that
  are not hardware figures are left out by :func:`topo.kernels.series_exclusion` (above
  the dense peak; or a quarter of the same source's bf16 median).
- Kernel floor: the shortest GEMM measured on the die.
- HBM: bytes moved over time over peak, median of the chip's copy/triad points. The
  H800 has the H100's HBM3 and takes its value.
- Collectives, per scale-up link, op, group size and runtime: library sweeps
  (nccl-tests, rccl-tests), XLA's table (whose times hold XLA's runtime overhead) and the
  serving engines' own all-reduce kernels (``validation/engine_allreduce.yaml``). The
  latency is the shortest latency-bound call (its bytes take at most 5% of its time at
  link rate; a curve with none, measured at large sizes only, takes the op's latency on
  NVLink 4, as the tables fall back for ops a link lacks); the share at each size is
  topo's link-rate beta over (measured - latency), the geometric mean of the points in
  each power-of-two bin
  (capped at 1: a call is never charged less than topo's link-rate time, though NVSwitch
  reductions and DeepEP's counting can beat it), made to rise with size and never to give
  a shorter time for a larger message (:func:`_monotone`).
- Attention: FlashMLA dense decode (H800) for compute-bound decode; FlashAttention-3
  causal forward by sequence length (H100, head dim 128) and fmha-sm100 forward (B200)
  for prefill; FlashAttention-2 ROCm (MI300X) for CDNA3.
- DeepEP: the share of link rate its normal kernels reach inside a node (NVLink) and
  across nodes (RDMA), and the latency of its low-latency kernels by EP size.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from topo.build import build_graph, gpu_nodes
from topo.calibrate import load_measurements
from topo.catalogue import load_catalogue
from topo.collectives import collective
from topo.kernels import point_runtime, series_exclusion
from topo.layout import load_layout
from topo.routing import Fabric

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "validation" / "components.yaml"
# Serving engines' own all-reduce kernels (one-shot/two-shot over NVLink), measured apart.
ENGINE = ROOT / "validation" / "engine_allreduce.yaml"
OUT = ROOT / "topo" / "data" / "kernel_tables.json"
DIES = {"h100-sxm": ["h100-sxm", "h200", "h800"], "b200": ["b200"], "gb200": ["gb200"]}
DIES["mi300x"] = ["mi300x"]
SHARE_CAP = 1.0
# A curve's shortest call is its latency only where it moves few bytes: at most this share
# of its time at link rate. XLA's p2p on B200 was measured from 128 MB up (its shortest
# call spends 27% of 555 us at link rate), so its 555 us is no per-call latency.
LATENCY_BOUND = 0.05
FALLBACK_LINK = "nvlink4"  # the best-measured fabric (collective_fallback's scale_up)


def _die(chip: str) -> str:
    return next((d for d, members in DIES.items() if chip in members), chip)


def _gemm(points: list[dict[str, Any]], peaks: dict[str, dict[str, float]]) -> tuple[list, dict]:
    excluded = series_exclusion(points, peaks)
    groups: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    sources: dict[tuple[str, str], list[str]] = defaultdict(list)
    floors: dict[str, float] = {}
    for p in points:
        if p["kind"] != "gemm":
            continue
        dtype = p.get("dtype", "bf16")
        src = str(p.get("source", "")).split(" ")[0]
        if (src, p["accelerator"], dtype) in excluded:
            continue
        die = _die(p["accelerator"])
        key = (die, dtype)
        label = f"{src} ({p['accelerator']} {dtype})"
        if label not in sources[key]:
            sources[key].append(label)
        frac = 2.0 * p["m"] * p["n"] * p["k"] / p["time_s"] / peaks[p["accelerator"]][dtype]
        groups[key].append(
            [p["m"], p["n"], p["k"], float(f"{frac:.5g}"), sources[key].index(label)]
        )
        floors[die] = min(floors.get(die, math.inf), p["time_s"])
    out = []
    for (die, dtype), pts in sorted(groups.items()):
        # One point per shape: the geometric mean where sources repeat a shape.
        by_shape: dict[tuple[int, int, int], list[list[Any]]] = defaultdict(list)
        for row in pts:
            by_shape[(row[0], row[1], row[2])].append(row)
        merged = []
        for shape, rows in sorted(by_shape.items()):
            f = math.exp(float(np.mean([math.log(r[3]) for r in rows])))
            merged.append([*shape, float(f"{f:.5g}"), rows[0][4]])
        out.append(
            {
                "die": die,
                "dtype": dtype,
                "members": list(DIES.get(die, [die])),
                "sources": sources[(die, dtype)],
                "points": merged,
            }
        )
    floor_by_chip = {c: floors[d] for d, members in DIES.items() if d in floors for c in members}
    excl = [
        {"source": k[0], "accelerator": k[1], "dtype": k[2], "reason": v}
        for k, v in sorted(excluded.items())
    ]
    return out, {"floors": floor_by_chip, "excluded": excl}


def _hbm(points: list[dict[str, Any]]) -> dict[str, Any]:
    cat = load_catalogue()
    fr: dict[str, list[float]] = defaultdict(list)
    for p in points:
        if p["kind"] == "bandwidth":
            peak = cat.accelerator(p["accelerator"]).hbm_bandwidth_bytes_per_s
            fr[p["accelerator"]].append(p["bytes"] / p["time_s"] / peak)
    out = {
        c: {
            "fraction": float(f"{np.median(v):.4g}"),
            "points": len(v),
            "basis": "BabelStream copy/triad",
        }
        for c, v in sorted(fr.items())
    }
    if "h100-sxm" in out:
        out["h800"] = {**out["h100-sxm"], "basis": "as h100-sxm (same HBM3, 3.35 TB/s)"}
    return out


def _collectives(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fabrics: dict[str, tuple[Fabric, list[str], str]] = {}
    rows: dict[tuple[str, str, int, str], list[tuple[float, float, float, str]]] = defaultdict(list)
    for p in points:
        if p["kind"] != "collective":
            continue
        if p["layout"] not in fabrics:
            layout = load_layout(p["layout"])
            G = build_graph(layout)
            fabrics[p["layout"]] = (Fabric(G), gpu_nodes(G), layout.scale_up.link.name)
        fabric, gpus, link = fabrics[p["layout"]]
        r = collective(fabric, p["op"], gpus[: p["gpus"]], p["bytes"], clean=True)
        src = str(p.get("source", ""))
        key = (link, p["op"], p["gpus"], point_runtime(p))
        rows[key].append(
            (p["bytes"], r.beta_s, p["time_s"], f"{src.split(' ')[0]} ({p['layout']})")
        )
    latencies = _latencies(rows)
    out = []
    for (link, op, n, runtime), pts in sorted(rows.items()):
        latency, basis = latencies[(link, op, n, runtime)]
        bins: dict[int, list[float]] = defaultdict(list)
        for nbytes, beta, t, _ in pts:
            share = beta / (t - latency) if t > latency else SHARE_CAP
            bins[round(math.log2(nbytes))].append(math.log(min(max(share, 1e-4), SHARE_CAP)))
        sizes = [2.0**b for b in sorted(bins)]
        shares = _monotone(
            sizes,
            [float(np.mean(bins[b])) for b in sorted(bins)],
            [len(bins[b]) for b in sorted(bins)],
        )
        out.append(
            {
                "link": link,
                "op": op,
                "gpus": n,
                "runtime": runtime,
                "latency_s": float(f"{latency:.4g}"),
                **({"latency_basis": basis} if basis else {}),
                "points": [[m, float(f"{v:.4g}")] for m, v in zip(sizes, shares, strict=True)],
                "sources": sorted({s for *_, s in pts}),
            }
        )
    return out


def _latencies(
    rows: dict[tuple[str, str, int, str], list[tuple[float, float, float, str]]],
) -> dict[tuple[str, str, int, str], tuple[float, str]]:
    """Each curve's per-call latency [s], and where it comes from ("": its own points).

    The shortest latency-bound call (its bytes take at most :data:`LATENCY_BOUND` of its
    time at link rate). A curve with none takes the op's latency on :data:`FALLBACK_LINK`
    (same runtime, nearest group size), as the tables fall back for ops a link lacks; no
    such curve: its shortest call still.
    """
    own: dict[tuple[str, str, int, str], tuple[float, bool, float, float]] = {}
    for key, pts in rows.items():
        short = [p for p in pts if p[1] / p[2] <= LATENCY_BOUND]
        nbytes, beta, t, _ = min(short or pts, key=lambda p: p[2])
        own[key] = (t, bool(short), nbytes, beta / t)
    out = {}
    for (link, op, n, runtime), (t, bound, nbytes, busy) in own.items():
        alike = [
            (abs(math.log(k[2] / n)), k[2], v[0])
            for k, v in own.items()
            if (k[0], k[1], k[3]) == (FALLBACK_LINK, op, runtime) and v[1]
        ]
        if bound or not alike:
            out[(link, op, n, runtime)] = (t, "")
            continue
        _, gpus, latency = min(alike)
        out[(link, op, n, runtime)] = (
            latency,
            f"as {op} on {gpus} GPUs of {FALLBACK_LINK} (every call measured here is "
            f"bandwidth-bound: the shortest, {nbytes:,.0f} B, spends {busy:.0%} of its time "
            "at link rate)",
        )
    return out


def _h800_nodes(nodes: int) -> Fabric:
    """A cluster of `nodes` H800 nodes (the dgx-h800 layout repeated), as a routing fabric."""
    import tempfile

    d = Path(tempfile.mkdtemp())
    p = d / f"h800-x{nodes}.yaml"
    p.write_text(f"extends: dgx-h800\nname: h800-x{nodes}\ncluster: {{racks: {nodes}}}\n")
    return Fabric(build_graph(load_layout(p)))


def _deepep_curves(other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scale-out all-to-all as DeepEP's kernels run it, from its H800 + CX7 points.

    Each internode point is set up as topo runs it (``perf.expert_all_to_all``): the
    low-latency kernels send each token once per selected expert (128 tokens x top-8 per
    GPU), the normal kernels once per destination node (4,096 tokens). The time is the
    published latency (low-latency) or the bytes crossing the NICs over the published
    RDMA bandwidth (normal). Topo's bare all-to-all on a cluster of that many H800 nodes
    gives beta; the latency is the smallest time beyond beta, and each point's share of
    link rate is beta over (time - latency), binned and made monotone as the others.
    """
    rows: list[tuple[float, float, float]] = []  # (bytes per GPU, bare beta, time)
    for o in other:
        if o.get("accelerator") != "h800" or o.get("kind") not in ("moe-dispatch", "moe-combine"):
            continue
        ep = int(o.get("ep_ranks") or 0)
        if ep < 16:
            continue  # inside one node: NVLink, measured by the nccl-tests and XLA curves
        nodes = ep // 8
        b = 1.0 if o["kind"] == "moe-dispatch" else 2.0
        hidden, k = o["hidden"], o["topk"]
        mode = str(o.get("mode", ""))
        remote_nodes = (nodes - 1) * (1 - (1 - 1 / nodes) ** k)
        if mode.startswith("normal"):
            ranks = ep * (1 - (1 - 1 / ep) ** k)
            remote_ranks = ranks * (ep - 8) / ep
            copies = ranks * min(1.0, remote_nodes / remote_ranks)
            nbytes = o["tokens_per_batch"] * copies * hidden * b
            t = o["tokens_per_batch"] * remote_nodes * hidden * b / (_value(o["value"]) * 1e9)
        elif mode.startswith("low-latency"):
            nbytes = o["tokens_per_rank"] * k * hidden * b
            t = _value(o["value"]) * 1e-6
        else:
            continue
        fabric = _h800_nodes(nodes)
        r = collective(fabric, "all-to-all", fabric.gpus[:ep], nbytes, clean=True)
        rows.append((nbytes, r.beta_s, t))
    latency = max(min(t - beta for _, beta, t in rows), 0.0)
    bins: dict[int, list[float]] = defaultdict(list)
    for nbytes, beta, t in rows:
        share = beta / (t - latency) if t > latency else SHARE_CAP
        bins[round(math.log2(nbytes))].append(math.log(min(max(share, 1e-4), SHARE_CAP)))
    sizes = [2.0**b for b in sorted(bins)]
    shares = _monotone(
        sizes, [float(np.mean(bins[b])) for b in sorted(bins)], [len(bins[b]) for b in sorted(bins)]
    )
    return [
        {
            "link": "ib-ndr",
            "op": "all-to-all",
            "gpus": 16,
            "runtime": "deepep",
            "latency_s": float(f"{latency:.4g}"),
            "points": [[m, float(f"{v:.4g}")] for m, v in zip(sizes, shares, strict=True)],
            "sources": ["deepseek-ai/DeepEP@0297fc80 docs/legacy.md (H800 + CX7, internode)"],
        }
    ]


def _monotone(sizes: list[float], log_shares: list[float], weights: list[int]) -> list[float]:
    """Shares that rise with size and times that never fall with it.

    Pool-adjacent-violators on the log shares (the least-squares non-decreasing fit,
    weighted by points per bin), then, from the largest size down, no smaller message
    takes longer beyond the latency than a larger one (share >= next share x size ratio).
    """
    blocks = [[v, w, 1] for v, w in zip(log_shares, weights, strict=True)]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            v1, w1, n1 = blocks[i]
            v2, w2, n2 = blocks[i + 1]
            blocks[i] = [(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2]
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    shares = [math.exp(v) for v, _, n in blocks for _ in range(n)]
    for j in range(len(shares) - 2, -1, -1):
        shares[j] = max(shares[j], shares[j + 1] * sizes[j] / sizes[j + 1])
    return shares


def _value(text: str) -> float:
    return float(str(text).split()[0])


def _attention_and_moe(other: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    cat = load_catalogue()

    def bf16(chip: str) -> float:
        return cat.accelerator(chip).peak_flop_per_s["bf16"] / 1e12

    fa3 = [
        o
        for o in other
        if o.get("kernel") == "flashattention-3 forward"
        and o.get("head_dim") == 128
        and "lower" in str(o.get("mask", ""))
    ]
    mla = next(
        o
        for o in other
        if o.get("kernel") == "flashmla-dense-decode" and "compute" in str(o.get("regime"))
    )
    fmha = next(
        o for o in other if "fmha-sm100" in str(o.get("kernel")) and o.get("regime") == "forward"
    )
    fa2_rocm = next(o for o in other if o.get("kernel") == "flashattention-2 (ROCm)")
    attention = {
        "families": {
            "h100-sxm": "hopper",
            "h200": "hopper",
            "h800": "hopper",
            "b200": "blackwell",
            "gb200": "blackwell",
            "mi300x": "cdna3",
        },
        "decode": {
            fam: {
                "fraction": round(_value(mla["value"]) / bf16("h800"), 4),
                "source": mla["source"].split(" ")[0]
                + " FlashMLA dense decode, compute-bound, H800"
                + ("" if fam == "hopper" else f" (no {fam} dense decode measured)"),
            }
            for fam in ("hopper", "blackwell", "cdna3")
        },
        "prefill": {
            "hopper": {
                "by_seq": [
                    [o["seqlen"], round(_value(o["value"]) / bf16("h100-sxm"), 4)]
                    for o in sorted(fa3, key=lambda o: o["seqlen"])
                ],
                "source": "FlashAttention-3 causal forward, head dim 128, H100 (arXiv:2407.08608)",
            },
            "blackwell": {
                "fraction": round(_value(fmha["value"]) / bf16("b200"), 4),
                "source": "deepseek-ai/FlashMLA README: fmha-sm100 dense MHA prefill forward, B200",
            },
            "cdna3": {
                "fraction": round(_value(fa2_rocm["value"]) / bf16("mi300x"), 4),
                "source": "Azure AI benchmarking guide: FlashAttention-2 ROCm, MI300X",
            },
        },
    }
    nvl = cat.accelerator("h800").scale_up_bandwidth_bytes_per_s / 1e9
    nic = cat.accelerator("h800").scale_out_bandwidth_bytes_per_s / 1e9
    normal = defaultdict(list)
    low = []
    for o in other:
        if o.get("kind") not in ("moe-dispatch", "moe-combine") or o.get("accelerator") != "h800":
            continue
        if str(o.get("mode", "")).startswith("normal"):
            domain = "nvlink" if "NVLink" in str(o.get("domain")) else "rdma"
            normal[domain].append(_value(o["value"]) / (nvl if domain == "nvlink" else nic))
        elif str(o.get("mode", "")).startswith("low-latency"):
            low.append([o["kind"], o["ep_ranks"], _value(o["value"]) * 1e-6])
    moe = {
        "normal_share": {k: round(float(np.median(v)), 4) for k, v in sorted(normal.items())},
        "low_latency": {
            "tokens_per_rank": 128,
            "hidden": 7168,
            "topk": 8,
            "points": sorted(low),
        },
        "source": "deepseek-ai/DeepEP@0297fc80 docs/legacy.md (H800, CX7 400 Gb/s)",
    }
    return attention, moe


def derive(source: Path = SOURCE, engine: Path = ENGINE) -> dict[str, Any]:
    """The kernel tables from the component set and the engine all-reduce timings."""
    points = load_measurements(source)
    engine_points = load_measurements(engine) if engine.is_file() else []
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    cat = load_catalogue()
    chips = {p["accelerator"] for p in points if "accelerator" in p}
    peaks = {c: dict(cat.accelerator(c).peak_flop_per_s) for c in chips}
    gemm, extra = _gemm(points, peaks)
    attention, moe = _attention_and_moe(raw.get("other") or [])
    measured = sorted({c for t in gemm for c in t["members"]})
    return {
        "note": (
            "Generated by validation/derive_tables.py from validation/components.yaml; "
            "do not edit by hand. Fractions are of the dense peak of each chip and dtype."
        ),
        "gemm": gemm,
        "gemm_excluded": extra["excluded"],
        "kernel_floor_s": {c: float(f"{v:.4g}") for c, v in sorted(extra["floors"].items())},
        "vendors": {c: cat.accelerator(c).vendor for c in measured},
        "bf16_peaks": {c: cat.accelerator(c).peak_flop_per_s["bf16"] for c in measured},
        "hbm": _hbm(points),
        "collectives": _collectives(points + engine_points)
        + _deepep_curves(raw.get("other") or []),
        "collective_fallback": {"scale_up": "nvlink4", "scale_out": "ib-ndr"},
        "attention": attention,
        "moe_all_to_all": moe,
    }


def _dump(data: dict[str, Any]) -> str:
    """JSON (read at start-up in a few ms, where YAML takes tens), one point per line."""
    text = json.dumps(data, indent=1, ensure_ascii=False)
    # Innermost lists of numbers and short strings on one line each.
    flat = re.sub(
        r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text
    )
    if json.loads(flat) != data:  # pragma: no cover - a string the pattern must not touch
        flat = text
    return flat + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the kernel tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--engine", type=Path, default=ENGINE)
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if the output would change")
    ap.add_argument(
        "--loo",
        action="store_true",
        help="print each GEMM table's leave-one-out error (the shipped tables)",
    )
    args = ap.parse_args(argv)
    if args.loo:
        from topo.kernels import leave_one_out, tables

        seen = set()
        for table in tables().gemm.values():
            if id(table) in seen:
                continue
            seen.add(id(table))
            e = np.abs(leave_one_out(table))
            print(
                f"{table.name:9} {table.dtype:5} {len(e):4} points: left out, median |error| "
                f"{np.median(e):.1%}, 90th percentile {np.percentile(e, 90):.1%}"
            )
        return 0
    text = _dump(derive(args.source, args.engine))
    if args.check:
        same = args.output.is_file() and args.output.read_text(encoding="utf-8") == text
        print("kernel tables are current" if same else f"{args.output} is out of date")
        return 0 if same else 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
