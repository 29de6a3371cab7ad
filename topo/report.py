"""Tables for people: every result as aligned text with units. JSON needs no help here."""

from __future__ import annotations

from typing import Any

from topo.units import format_quantity

__all__ = ["format_layouts", "format_show"]


def _q(value: float | None, kind: str) -> str:
    return "not published" if value is None else format_quantity(value, kind)


def _rows(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in rows)
    return [f"  {k:<{width}}  {v}" for k, v in rows]


def format_show(s: dict[str, Any]) -> str:
    """The text of ``topo show`` from :func:`topo.stats.summarize`'s data."""
    dims = "x".join(map(str, s["scale_up_dims"]))
    topo = s["scale_up_topology"] + (f" {dims}" if dims else "")
    ratio = s["scale_up_to_scale_out_ratio"]
    nb = s["scale_up_neighbours_per_gpu"]
    neighbours = str(nb["max"]) if nb["min"] == nb["max"] else f"{nb['min']}-{nb['max']}"
    lines = [f"{s['name']}: {s['description']}".rstrip(": "), ""]
    lines += ["cluster"]
    lines += _rows(
        [
            ("accelerator", f"{s['accelerator']} ({s['accelerator_description']})"),
            ("GPUs", f"{s['gpus']:,} in {s['racks']:,} rack(s) of {s['gpus_per_rack']}"),
            (
                "scale-up domains",
                f"{s['domains']:,} of {s['domain_size']} GPUs (one per {s['domain_span']})",
            ),
            (
                "switches",
                f"{s['switches']:,} scale-up, {s['leaves']:,} leaf, {s['spines']:,} spine",
            ),
            ("graph", f"{s['nodes']:,} nodes, {s['edges']:,} edges"),
        ]
    )
    lines += ["", "per GPU"]
    lines += _rows(
        [
            (
                "HBM",
                f"{_q(s['hbm_capacity_bytes'] / s['gpus'], 'data')}, "
                f"{_q(s['hbm_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')}",
            ),
            (
                "scale-up",
                f"{_q(s['scale_up_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')} per "
                f"direction; {s['scale_up_links_per_gpu']} x {s['scale_up_link']}, {topo}, "
                f"{neighbours} neighbour(s)",
            ),
            (
                "scale-out",
                f"{_q(s['scale_out_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')} per "
                f"direction; {s['scale_out_link']} {s['scale_out_topology'].replace('_', ' ')}"
                + (f" ({ratio:.1f}x less than scale-up)" if ratio else ""),
            ),
        ]
    )
    peaks = ", ".join(
        f"{k} {format_quantity(v, 'compute')}"
        for k, v in s["peak_flop_per_s"].items()
        if k in ("bf16", "fp8", "fp4")
    )
    lines += ["", "aggregate"]
    lines += _rows(
        [
            ("HBM capacity", _q(s["hbm_capacity_bytes"], "data")),
            ("HBM bandwidth", _q(s["hbm_bandwidth_bytes_per_s"], "bandwidth")),
            ("peak dense compute", peaks or "not published"),
            ("GPU power", _q(s["gpu_power_w"], "power") + " (GPUs only)"),
            (
                "scale-out bisection",
                f"{_q(s['bisection_bandwidth_bytes_per_s'], 'bandwidth')} "
                f"per direction ({s['bisection_cut']})",
            ),
        ]
    )
    lines += ["", "links"]
    head = ("kind", "medium", "link", "edges", "links", "lanes", "bandwidth", "longest")
    table = [head] + [
        (
            r["kind"],
            r["medium"],
            r["link"],
            f"{r['edges']:,}",
            f"{r['links']:,}",
            f"{r['lanes']:,}",
            format_quantity(r["bandwidth_bytes_per_s"], "bandwidth"),
            format_quantity(r["longest_m"], "length", digits=3),
        )
        for r in s["links"]
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        lines.append(
            "  "
            + "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def format_layouts(rows: list[dict[str, Any]]) -> str:
    """One line per bundled layout: name, GPUs, domain, accelerator, description."""
    if not rows:
        return "no bundled layouts found"
    width = max(len(r["name"]) for r in rows)
    out = []
    for r in rows:
        if "error" in r:
            out.append(f"{r['name']:<{width}}  (does not load: {r['error']})")
            continue
        out.append(
            f"{r['name']:<{width}}  {r['gpus']:>5} x {r['accelerator']:<11} "
            f"domain {r['domain_size']:>3}  {r['description']}"
        )
    return "\n".join(out)
