"""Tables for people: every result as aligned text with units. JSON needs no help here."""

from __future__ import annotations

from collections.abc import Sequence
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


def _table(
    head: tuple[str, ...], rows: Sequence[tuple[str, ...]], left: int = 1, last_left: bool = False
) -> list[str]:
    """Aligned columns: the first `left` to the left, the rest (numbers) to the right."""
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    n = len(head)
    return [
        (
            "  "
            + "  ".join(
                c.ljust(w) if i < left or (last_left and i == n - 1) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        ).rstrip()
        for row in table
    ]


def format_placement(p: dict[str, Any], layout: str) -> str:
    """The text of ``topo place``."""
    plan = p["plan"]
    lines = [
        f"{layout}: tp {plan['tp']} x ep {plan['ep']} x pp {plan['pp']} x dp {plan['dp']}, "
        f"{p['strategy']} placement on {p['gpus_used']:,} of {p['gpus_total']:,} GPUs"
        + (
            f" ({p['gpus_skipped_for_alignment']} skipped to keep groups inside domains)"
            if p["gpus_skipped_for_alignment"]
            else ""
        ),
        "",
    ]
    rows = [
        (
            g["kind"],
            str(g["size"]),
            f"{g['count']:,}",
            str(g["domains_spanned"]),
            str(g["racks_spanned"]),
            g["bottleneck"].replace("_", "-"),
            "-"
            if g["bottleneck"] == "none"
            else format_quantity(g["bottleneck_bandwidth_per_gpu_bytes_per_s"], "bandwidth"),
            ", ".join(g["first_group"][:4]) + (" ..." if len(g["first_group"]) > 4 else ""),
        )
        for g in p["groups"]
    ]
    head = ("group", "size", "groups", "domains", "racks", "bottleneck", "per GPU", "first")
    lines += _table(head, rows)
    lines += [
        "",
        "  domains/racks: the most that any one group spans; per GPU: the least "
        "bandwidth per direction any group gets",
    ]
    return "\n".join(lines)


def format_collective(c: dict[str, Any], layout: str) -> str:
    """The text of ``topo collective``."""
    link = c["busiest_link"]
    lines = [
        f"{layout}: {c['op']} of {format_quantity(c['bytes_per_gpu'], 'data')} per GPU over "
        f"{c['gpus']} GPUs ({c['domains_spanned']} domain(s), {c['racks_spanned']} rack(s))",
        "",
        f"  algorithm   {c['algorithm']}",
        f"  time        {format_quantity(c['time_s'], 'time')} = alpha "
        f"{format_quantity(c['alpha_s'], 'time')} + beta {format_quantity(c['beta_s'], 'time')}",
        f"  algbw       {format_quantity(c['algorithm_bandwidth_bytes_per_s'], 'bandwidth')}"
        f"   busbw {format_quantity(c['bus_bandwidth_bytes_per_s'], 'bandwidth')}",
        f"  busiest     {link['u']} -> {link['v']}: {format_quantity(link['bytes'], 'data')} "
        f"at {format_quantity(link['bandwidth_bytes_per_s'], 'bandwidth')}",
        "",
    ]
    rows = [
        (
            p["name"],
            str(p["steps"]),
            str(p["hops"]),
            format_quantity(p["alpha_s"], "time"),
            format_quantity(p["beta_s"], "time"),
            f"{p['busiest_link']['u']} -> {p['busiest_link']['v']}",
        )
        for p in c["phases"]
    ]
    lines += _table(("phase", "steps", "hops", "alpha", "beta", "busiest link"), rows)
    if c["alternatives_s"]:
        alts = ", ".join(
            f"{k} {format_quantity(v, 'time')}" for k, v in c["alternatives_s"].items()
        )
        lines += ["", f"  other algorithms: {alts}"]
    return "\n".join(lines)


def format_moe(m: dict[str, Any], layout: str) -> str:
    """The text of ``topo moe``."""
    slow = m["slowdown_vs_one_domain"]
    ratio = m["per_byte_slowdown_cross_domain"]
    lines = [
        f"{layout}: MoE layer, {m['tokens_per_gpu']} tokens/GPU x top-{m['topk']} x hidden "
        f"{m['hidden']} on EP {m['ep']} ({m['domains_spanned']} domain(s), "
        f"{m['racks_spanned']} rack(s))",
        "",
    ]
    lines += _rows(
        [
            (
                "dispatch",
                f"{format_quantity(m['dispatch_bytes_per_gpu'], 'data')} per GPU, "
                f"{format_quantity(m['dispatch_time_s'], 'time')}",
            ),
            (
                "combine",
                f"{format_quantity(m['combine_bytes_per_gpu'], 'data')} per GPU, "
                f"{format_quantity(m['combine_time_s'], 'time')}",
            ),
            (
                "where it goes",
                f"{m['share_local']:.1%} local, {m['share_in_domain']:.1%} in the "
                f"domain, {m['share_cross_domain']:.1%} leaves the domain, "
                f"{m['share_cross_rack']:.1%} leaves the rack",
            ),
            (
                "per byte",
                "scale-out is " + (f"{ratio:.1f}x slower than scale-up" if ratio else "absent"),
            ),
            (
                "vs one domain",
                "-"
                if slow is None
                else f"dispatch takes {slow:.2f}x an all-to-all of "
                "the same buffer inside one domain",
            ),
            (
                "largest EP in a domain",
                f"{m['largest_ep_in_domain']} GPUs, "
                f"{format_quantity(m['domain_hbm_capacity_bytes'], 'data')} of HBM"
                + (
                    f", {m['largest_layer_experts_in_domain']:,} experts of this size"
                    if m["largest_layer_experts_in_domain"] is not None
                    else ""
                ),
            ),
        ]
    )
    return "\n".join(lines)


def _crit(c: dict[str, Any]) -> str:
    parts = [f"seed rule {c['seed_rule']:,.0f}"]
    if c["per_expert"] is not None:
        parts.append(f"per expert {c['per_expert']:,.0f}")
    parts.append(
        "at this context " + ("none" if c["kv_aware"] is None else f"{c['kv_aware']:,.0f}")
    )
    limit = c["context_limit"]
    parts.append("none above " + ("any context" if limit is None else f"{limit:,.0f} tokens"))
    return ", ".join(parts)


def format_evaluate(e: dict[str, Any]) -> str:
    """The text of ``topo evaluate``."""
    p, d, pre, mem, cost = e["plan"], e["decode"], e["prefill"], e["memory"], e["cost"]

    def t(v: float) -> str:
        return format_quantity(v, "time")

    br = d["breakdown_s"]
    lines = [
        f"{e['model']} on {e['layout']}: tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp "
        f"{p['dp']} ({e['gpus']} GPUs, {e['strategy']}), batch {e['batch']}, context "
        f"{e['context']:,.0f}, weights {e['dtypes']['weights']}, KV {e['dtypes']['kv']}"
        + (" [ideal: peak, no communication]" if e["ideal"] else ""),
        "",
    ]
    lines += _rows(
        [
            (
                "time per output token",
                f"{t(d['time_per_output_token_s'])} ({d['bound']}-bound"
                + (f", by {d['memory_bound_by']}" if d["bound"] == "memory" else "")
                + ")",
            ),
            ("  weights / KV", f"{t(br['weights'])} / {t(br['kv'])}"),
            ("  compute", t(br["compute"])),
            ("  communication", t(br["communication"]) + f" (overlap {e['overlap']})"),
            (
                "latency floor",
                f"{t(e['latency_floor_s'])} (touched weights over the peak HBM "
                "bandwidth of the GPUs holding them)",
            ),
            (
                "tokens/s",
                f"{d['tokens_per_s']:,.0f} per instance, {d['tokens_per_s_per_gpu']:,.1f} per GPU"
                + (
                    f" ({d['sequences_in_flight']:,} sequences in flight: {p['pp']} micro-batches)"
                    if p["pp"] > 1
                    else ""
                ),
            ),
            (
                "prefill",
                f"{t(pre['time_s'])} for {pre['prompt_tokens']:,} tokens, "
                f"{pre['tokens_per_s']:,.0f} tokens/s ({pre['bound']}-bound)",
            ),
            ("critical batch", _crit(e["critical_batch"])),
            (
                "memory per GPU",
                f"weights {format_quantity(mem['weights_bytes_per_gpu'], 'data')} + "
                f"KV {format_quantity(mem['kv_bytes_per_gpu'], 'data')} of "
                f"{format_quantity(mem['usable_bytes_per_gpu'], 'data')} usable: "
                + ("fits" if mem["fits"] else "DOES NOT FIT")
                + f", largest batch {mem['max_batch']:,}",
            ),
            (
                "cost",
                f"${cost['usd_per_million_output_tokens']:,.3f} per M output tokens, "
                f"${cost['usd_per_million_input_tokens']:,.3f} per M input tokens at "
                f"${cost['gpu_hour_usd']:.2f}/GPU-h"
                + (
                    f" (decode/prefill {cost['decode_to_prefill_cost_ratio']:.1f}x)"
                    if cost["decode_to_prefill_cost_ratio"]
                    else ""
                ),
            ),
            (
                "efficiency",
                f"HBM {e['efficiency']['hbm']:.2f}, FLOP/s {e['efficiency']['flops']:.2f} of peak",
            ),
        ]
    )
    return "\n".join(lines)


def format_sweep(s: dict[str, Any]) -> str:
    """The text of ``topo sweep``."""
    p = s["plan"]
    crit = s["critical_batch"]["kv_aware"]
    lines = [
        f"{s['model']} on {s['layout']}: tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp "
        f"{p['dp']} ({s['gpus']} GPUs), context {s['context']:,.0f}",
        f"  floor {format_quantity(s['latency_floor_s'], 'time')} at batch "
        f"{s['rows'][0]['batch']}; critical batch {_crit(s['critical_batch'])}; "
        f"largest batch that fits {s['max_batch']:,}",
        "",
    ]
    rows: list[tuple[str, ...]] = []
    for r in s["rows"]:
        mark = []
        if (
            crit is not None
            and r["batch"] >= crit
            and (not rows or "critical" not in " ".join(x[-1] for x in rows))
        ):
            mark.append("<- critical")
        if not r["fits"]:
            mark.append("does not fit")
        rows.append(
            (
                str(r["batch"]),
                format_quantity(r["time_per_output_token_s"], "time"),
                f"{r['tokens_per_s_per_user']:,.1f}",
                f"{r['tokens_per_s_per_gpu']:,.1f}",
                f"${r['usd_per_million_output_tokens']:,.3f}",
                r["bound"],
                " ".join(mark),
            )
        )
    head = ("batch", "per token", "tok/s/user", "tok/s/GPU", "$/M out", "bound", "")
    lines += _table(head, rows, left=0)
    return "\n".join(lines)


def format_plan(d: dict[str, Any]) -> str:
    """The text of ``topo plan``."""

    def row(r: dict[str, Any]) -> tuple[str, ...]:
        p = r["plan"]
        return (
            f"{p['tp']}x{p['ep']}x{p['pp']}x{p['dp']}",
            r["strategy"],
            str(r["gpus"]),
            str(r["batch"]),
            format_quantity(r["time_per_output_token_s"], "time"),
            f"{r['tokens_per_s_per_gpu']:,.1f}",
            f"${r['usd_per_million_output_tokens']:,.3f}",
            r["bound"],
        )

    head = (
        "tp x ep x pp x dp",
        "strategy",
        "GPUs",
        "batch",
        "per token",
        "tok/s/GPU",
        "$/M out",
        "bound",
    )
    lines = [
        f"{d['model']} on {d['layout']}: {d['configurations']:,} configurations that fit, "
        f"ranked by {d['objective']}",
        "",
    ]
    lines += _table(head, [row(r) for r in d["ranked"]])
    lines += ["", "Pareto front (time per token against tokens/s per GPU):", ""]
    lines += _table(head, [row(r) for r in d["pareto"]])
    return "\n".join(lines)


def _value(v: float | None, kind: str, unit: str) -> str:
    if v is None:
        return "-"
    if kind == "count":
        return f"{v:,.0f} {unit}".strip()
    return format_quantity(v, kind)


def format_check(d: dict[str, Any]) -> str:
    """The text of ``topo check``."""
    kinds = {
        "W": "power",
        "A": "current",
        "kg": "mass",
        "kg/m^2": "floor_load",
        "m^3/s": "flow",
        "m": "length",
    }
    rows = []
    for c in d["checks"]:
        kind = kinds.get(c["unit"], "count")
        status = {True: "ok", False: "FAIL", None: "-"}[c["ok"]]
        margin = "" if c["margin"] is None else f"{c['margin']:+.1%}"
        rows.append(
            (
                c["name"],
                _value(c["value"], kind, c["unit"]),
                _value(c["limit"], kind, c["unit"]),
                margin,
                status,
                c["note"],
            )
        )
    lines = [
        f"{d['layout']}: "
        + ("every checked limit holds" if d["ok"] else "FAILS")
        + (
            f"; binding: {d['binding']} ({d['binding_margin']:+.1%} margin)" if d["binding"] else ""
        ),
        "",
    ]
    lines += _table(("check", "value", "limit", "margin", "", "how"), rows, last_left=True)
    return "\n".join(lines)


def format_limits(d: dict[str, Any]) -> str:
    """The text of ``topo limits``."""
    lines = [
        f"{d['layout']}: the largest scale-up domain of this rack technology is "
        f"{d['max_domain_size']} GPUs"
        + (f", bound by {' and '.join(d['binding_all'])}" if d.get("binding") else "")
        + (f" (varied: {', '.join(d['varied'])})" if d.get("varied") else "")
    ]
    if d.get("note"):
        lines.append(f"  {d['note']}")
    if not d["by_limit"]:
        return "\n".join(lines)
    lines.append(
        f"  (now {d['current_domain_size']}; grown {d['gpus_per_tray']} GPUs a tray, "
        "switch trays added as the links need ports)"
    )
    lines.append("")
    rows = []
    for name, n in d["by_limit"].items():
        unbounded = name in d.get("not_binding_up_to", {})
        rows.append(
            (
                name,
                f"{n:,}" + ("+" if unbounded else ""),
                "<- binds" if name == d.get("binding") else "",
            )
        )
    lines += _table(("limit", "largest domain alone", ""), rows)
    return "\n".join(lines)
