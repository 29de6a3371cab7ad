"""Tables for people: every result as aligned text with units. JSON needs no help here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from topo.units import count, format_quantity

__all__ = ["format_layouts", "format_show"]


def _q(value: float | None, kind: str) -> str:
    return "not published" if value is None else format_quantity(value, kind)


def _rows(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in rows)
    return [f"  {k:<{width}}  {v}" for k, v in rows]


def format_show(s: dict[str, Any]) -> str:
    """The text of ``topo show`` from :func:`topo.stats.summarize`'s data."""
    lines = [f"{s['name']}: {s['description']}".rstrip(": "), ""]
    lines += ["cluster"]
    lines += _rows(
        [
            ("accelerator", f"{s['accelerator']} ({s['accelerator_description']})"),
            ("GPUs", f"{s['gpus']:,} in {count(s['racks'], 'rack')} of {s['gpus_per_rack']}"),
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
    lines += _rows(_per_gpu_rows(s))
    lines += ["", "aggregate"]
    lines += _rows(_aggregate_rows(s))
    lines += ["", "links"]
    lines += _link_table(s["links"])
    return "\n".join(lines)


def _per_gpu_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """``topo show``'s per-GPU rows: HBM, scale-up and scale-out."""
    dims = "x".join(map(str, s["scale_up_dims"]))
    topo = s["scale_up_topology"] + (f" {dims}" if dims else "")
    ratio = s["scale_up_to_scale_out_ratio"]
    nb = s["scale_up_neighbours_per_gpu"]
    same = nb["min"] == nb["max"]
    neighbours = count(nb["max"], "neighbour") if same else f"{nb['min']}-{nb['max']} neighbours"
    return [
        (
            "HBM",
            f"{_q(s['hbm_capacity_bytes'] / s['gpus'], 'data')}, "
            f"{_q(s['hbm_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')}",
        ),
        (
            "scale-up",
            f"{_q(s['scale_up_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')} per "
            f"direction; {s['scale_up_links_per_gpu']} x {s['scale_up_link']}, {topo}, "
            f"{neighbours}",
        ),
        (
            "scale-out",
            f"{_q(s['scale_out_bandwidth_per_gpu_bytes_per_s'], 'bandwidth')} per "
            f"direction; {s['scale_out_link']} {s['scale_out_topology'].replace('_', ' ')}"
            + (f" ({ratio:.1f}x less than scale-up)" if ratio else ""),
        ),
    ]


def _aggregate_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """``topo show``'s cluster-wide rows: HBM, peak compute, GPU power, bisection."""
    peaks = ", ".join(
        f"{k} {format_quantity(v, 'compute')}"
        for k, v in s["peak_flop_per_s"].items()
        if k in ("bf16", "fp8", "fp4")
    )
    return [
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


def _link_table(links: list[dict[str, Any]]) -> list[str]:
    """``topo show``'s links table: one row per kind of link, text left, numbers right."""
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
        for r in links
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return [
        "  "
        + "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]


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
            f"{g['groups_across_domains']:,}",
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
    head = (*"group size groups across domains racks bottleneck".split(), "per GPU", "first")
    lines += _table(head, rows)
    lines += [
        "",
        "  across: groups that span more than one domain; domains/racks: the most that any "
        "one group spans; per GPU: the least bandwidth per direction any group gets",
    ]
    return "\n".join(lines)


def _kernel_lines(e: dict[str, Any], t: Any) -> list[tuple[str, str]]:
    """The decode step by kernel class, where the efficiencies come from, and groups.

    The groups line: which groups its collectives are timed on where a kind's groups
    differ (not in ideal mode, which times no collectives).
    """
    basis = e.get("efficiency_basis", {})
    groups = [("  groups", basis["groups"])] if basis.get("groups") and not e["ideal"] else []
    k = e["decode"].get("kernels_s") or {}
    if not k:
        return groups
    names = {"gemm": "GEMMs", "moe_gemm": "expert GEMMs", "attention": "attention"}
    names |= {"elementwise": "norms etc.", "communication": "collectives", "host": "host"}
    parts = ", ".join(f"{names.get(c, c)} {t(v)}" for c, v in k.items() if v > 0)
    return [
        ("  by kernel", f"{parts}; {names.get(e['decode']['dominant_kernel_class'], '')} dominate"),
        ("  measured on", basis.get("gemm", "")),
        ("  collectives", basis.get("collectives", "")),
        *groups,
    ]


def format_collective(c: dict[str, Any], layout: str) -> str:
    """The text of ``topo collective``."""
    link = c["busiest_link"]
    lines = [
        f"{layout}: {c['op']} of {format_quantity(c['bytes_per_gpu'], 'data')} per GPU over "
        f"{c['gpus']:,} GPUs ({count(c['domains_spanned'], 'domain')}, "
        f"{count(c['racks_spanned'], 'rack')})",
        "",
        f"  algorithm   {c['algorithm']}",
        f"  time        {format_quantity(c['time_s'], 'time')} = latency "
        f"{format_quantity(c['latency_s'], 'time')} + transfer "
        f"{format_quantity(c['transfer_s'], 'time')}",
        f"  link rate   {format_quantity(c['clean_time_s'], 'time')} = alpha "
        f"{format_quantity(c['alpha_s'], 'time')} + beta {format_quantity(c['beta_s'], 'time')}",
        f"  algbw       {format_quantity(c['algorithm_bandwidth_bytes_per_s'], 'bandwidth')}"
        f"   busbw {format_quantity(c['bus_bandwidth_bytes_per_s'], 'bandwidth')}",
        f"  busiest     {link['u']} -> {link['v']}: {format_quantity(link['bytes'], 'data')} "
        f"at {format_quantity(link['bandwidth_bytes_per_s'], 'bandwidth')}",
        f"  basis       {c['basis']}",
        "",
        "  phases at link rate:",
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
        f"{m['hidden']} on EP {m['ep']} ({count(m['domains_spanned'], 'domain')}, "
        f"{count(m['racks_spanned'], 'rack')})",
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
                "the same buffer inside one domain"
                + (
                    f"; {m['slowdown_at_link_rate']:.2f}x at link rate alone (per-call "
                    "latencies and measured shares of link rate make the difference)"
                    if m.get("slowdown_at_link_rate")
                    else ""
                ),
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
        f"{p['dp']} ({e['gpus']:,} GPUs"
        + (
            f"; ep {p['ep']} runs over the tp x dp = {p['tp'] * p['dp']} GPUs of a stage"
            if p["ep"] > 1
            else ""
        )
        + f", {e['strategy']}), batch {e['batch']}, context "
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
                "  beyond the roofline",
                t(br.get("overhead", 0.0)) + " (kernel shapes and floors, host; --clean: off)",
            ),
            *_kernel_lines(e, t),
            ("latency floor", _floor_text(e, t)),
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
        f"{p['dp']} ({s['gpus']:,} GPUs), context {s['context']:,.0f}",
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


def _floor_text(e: dict[str, Any], t: Callable[[float], str]) -> str:
    """The plan's latency floor, per token and per step, and whose bandwidth it uses."""
    basis = e.get("latency_floor_basis") or {}
    tokens = basis.get("tokens_per_step", 1.0)
    text = t(e["latency_floor_s"]) + " per token"
    if tokens != 1:
        text += f" = {t(e['latency_floor_step_s'])} per step / {tokens:g} tokens"
    holders = f"dense weights over tp {basis.get('dense_weights_gpus', '?')} GPUs"
    if basis.get("expert_weights_gpus"):
        holders += f", experts over {basis['expert_weights_gpus']}"
    text += f" for this plan (touched weights at peak HBM bandwidth: {holders})"
    if basis.get("note"):
        text += f"; {basis['note']}"
    return text


def format_plan(d: dict[str, Any]) -> str:
    """The text of ``topo plan``."""

    def span(r: dict[str, Any], key: str) -> str:
        values = r.get("replicas", {}).get(key) or [r[key]]
        return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}-{values[-1]:,}"

    def row(r: dict[str, Any]) -> tuple[str, ...]:
        p = r["plan"]
        dps = r.get("replicas", {}).get("dp") or [p["dp"]]
        dp = str(dps[0]) if len(dps) == 1 else f"{dps[0]}-{dps[-1]}"
        return (
            f"{p['tp']}x{p['ep']}x{p['pp']}x{dp}",
            r["strategy"],
            span(r, "gpus"),
            span(r, "batch"),
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
    if any("replicas" in r for r in (*d["ranked"], *d["pareto"])):
        lines += [
            "",
            "dp a-b: the same plan with more copies of its tp x ep x pp block (GPUs and batch "
            "grow with the copies; time per token and tokens/s per GPU do not).",
        ]
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


def _t(v: float) -> str:
    return format_quantity(v, "time")


def format_serve(s: dict[str, Any]) -> str:
    """The text of ``topo serve``."""
    p = s["plan"]
    lines = [
        f"{s['model']} on {s['layout']} (tp {p['tp']} x ep {p['ep']} x pp {p['pp']} x dp "
        f"{p['dp']}): {s['policy']} policy, {s['requests']:,} requests at "
        f"{s['rate_per_s']:g}/s (seed {s['seed']})",
        "",
    ]
    rows = [
        ("seats (batch that fits)", f"{s['seats']:,}"),
        ("interval" if s["policy"] == "train" else "mean step", _t(s["interval_s"])),
    ]
    if "hbm_drain_s" in s:
        rows.append(
            (
                "  set by",
                f"{s['interval_set_by']}; HBM drain {_t(s['hbm_drain_s'])} "
                f"(capacity / bandwidth; the seed's ~20 ms), interval "
                f"{s['interval_over_drain']:.2f}x it",
            )
        )
    rows.append(("prefill", _t(s["prefill_s"])))
    for key, label in (
        ("wait_s", "wait"),
        ("ttft_s", "time to first token"),
        ("e2e_s", "end to end"),
    ):
        v = s[key]
        rows.append((label, f"mean {_t(v['mean'])}, p50 {_t(v['p50'])}, p99 {_t(v['p99'])}"))
    if s.get("analytic_light_load_wait_s") is not None:
        rows.append(
            ("analytic light-load wait", _t(s["analytic_light_load_wait_s"]) + " (interval / 2)")
        )
    rows += [
        ("time per output token", _t(s["time_per_output_token_s"])),
        ("seat utilisation", f"{s['seat_utilisation']:.1%}"),
        ("tokens/s per GPU", f"{s['tokens_per_s_per_gpu']:,.1f}"),
    ]
    lines += _rows(rows)
    return "\n".join(lines)


def format_price(d: dict[str, Any]) -> str:
    """The text of ``topo price``."""
    lines = [
        f"{d['model']} on {d['layout']} at ${d['gpu_hour_usd']:.2f} per GPU-hour "
        f"({d['attention_kind']})",
        "",
    ]
    rows = [
        (
            f"{r['context']:,.0f}",
            str(r["batch"]) + (" (max)" if r.get("is_max_batch") else ""),
            "-"
            if r["usd_per_million_output_tokens"] is None
            else f"${r['usd_per_million_output_tokens']:,.3f}",
            "-"
            if r["usd_per_million_input_tokens"] is None
            else f"${r['usd_per_million_input_tokens']:,.3f}",
            r["bound"] or "does not fit",
        )
        for r in d["rows"]
    ]
    lines += _table(("context", "batch", "$/M out", "$/M in", "bound"), rows, left=0)
    limit = d["no_compute_bound_context"]
    seed = d["no_compute_bound_context_seed"]
    lines += [
        "",
        f"  KV reads pass weight reads at context {d['kv_crossover_context']:,.0f} "
        f"(batch {d['kv_crossover_batch']})",
        "  no batch is compute-bound above "
        + ("-" if limit is None else f"{limit:,.0f} tokens")
        + ("" if seed is None else f" (seed's closed form: {seed:,.0f})"),
        f"  prefill attention FLOPs equal linear FLOPs at "
        f"{d['prefill_attention_equals_linear_tokens']:,.0f} prompt tokens",
        f"  decode attention intensity {d['decode_attention_intensity_flop_per_byte']:.0f} "
        "FLOP/byte of KV",
    ]
    if "long_context_tier" in d:
        lines += ["", *_long_context_lines(d)]
    lines += _faster_tier_lines(d)
    lines += _list_price_lines(d)
    for other in d.get("compare", []):
        lines += ["", format_price(other)]
    return "\n".join(lines)


def _wrap(text: str) -> list[str]:
    """A long sentence as indented lines of at most 100 characters."""
    import textwrap

    return textwrap.wrap(text, 98, initial_indent="  ", subsequent_indent="    ")


def _long_context_lines(d: dict[str, Any]) -> list[str]:
    """The published long-context tier beside where decode stops being compute-bound."""
    lc = d["long_context_tier"]
    tier = lc["published"][0]
    until = lc["compute_bound_until_tokens"]
    where = (
        "decode is never compute-bound here"
        if until == 0
        else "decode is compute-bound at every context here"
        if until is None
        else f"decode stops being compute-bound at {until:,.0f} tokens"
    )
    return [
        *_wrap(
            f"long context: {where} ({lc['definition']}); {tier['model']} "
            f"({tier['provider']}) charges {lc['tier_input_multiple']:g}x input and "
            f"{lc['tier_output_multiple']:g}x output above {lc['threshold_tokens']:,.0f} "
            f"tokens (source: {tier['source']})"
        ),
        *_wrap(lc["reading"]),
    ]


def _faster_tier_lines(d: dict[str, Any]) -> list[str]:
    """The price multiple of each faster tier, beside the published ones."""
    tiers = d.get("faster_tiers") or []
    if not tiers:
        return []
    first = next(r for r in d["rows"] if r["fits"])
    base = max(r["batch"] for r in d["rows"] if r["context"] == first["context"] and r["fits"])
    parts = [
        f"{t['speedup']:g}x faster at {t['price_multiple']:.2f}x the price (batch {t['batch']})"
        if t["reachable"]
        else f"{t['speedup']:g}x not reachable on these chips"
        for t in tiers
    ]
    pub = [
        f"{p['name']} {p['speedup']:g}x at {p['price_multiple']:g}x"
        if p.get("speedup")
        else f"{p['name']} {p['price_multiple']:g}x"
        for p in d.get("published_faster_tiers", [])
    ]
    text = (
        f"faster tiers from batch {base:,} at {first['context']:,.0f} tokens: "
        + "; ".join(parts)
        + (f" (published: {'; '.join(pub)})" if pub else "")
    )
    return _wrap(text)


def _list_price_lines(d: dict[str, Any]) -> list[str]:
    """Modelled output/input cost at the largest batch, beside the list-price band."""
    band = d.get("list_price_output_over_input")
    if not band:
        return []
    ratios = [
        f"{r['decode_to_prefill_cost_ratio']:.1f}x at {r['context']:,.0f}"
        for r in d["rows"]
        if r.get("is_max_batch") and r.get("decode_to_prefill_cost_ratio")
    ]
    text = (
        f"output over input cost at the largest batch: {', '.join(ratios) or '-'} tokens; "
        f"list prices charge output {band['low']:g}-{band['high']:g}x input "
        f"(source: {band['source']})"
    )
    return _wrap(text)


def format_cache(d: dict[str, Any]) -> str:
    """The text of ``topo cache``."""
    lines = [
        f"{d['model']} on {d['layout']}: a {d['prefix_tokens']:,}-token prefix is "
        f"{format_quantity(d['kv_bytes'], 'data')} of KV; recomputing it takes "
        f"{_t(d['recompute_s'])} (${d['recompute_usd']:.4f})",
        "",
    ]
    rows = [
        (
            t["name"],
            _t(t["reload_s"]) if t["reload_s"] else "0",
            f"${t['usd_per_gb_hour']:.6f}",
            "yes" if t["holds"] else "no",
            t["note"],
        )
        for t in d["tiers"]
    ]
    lines += _table(("tier", "reload", "$/GB-hour", "holds", "assumption"), rows, last_left=True)
    lines += [""]
    lines += [f"  {k}: {v}" for k, v in d["why"].items()]
    if "five_minutes" in d:
        lines += ["", *_five_minutes_lines(d["five_minutes"])]
    return "\n".join(lines)


_FLIP_UNITS = {"B/s": "bandwidth", "USD/GB": "", "USD/GPU-hour": "", "s": "time"}


def _flip_value(v: float, unit: str) -> str:
    kind = _FLIP_UNITS.get(unit, "")
    if kind:
        return format_quantity(v, kind)
    return f"${v:,.4g}" + ("/GB" if unit == "USD/GB" else " per GPU-hour")


def _five_minutes_lines(f: dict[str, Any]) -> list[str]:
    """The seed's "5 minutes = HBM" against the cheapest choice, and what decides it."""
    lines = _wrap(f["reading"])
    flips = f["flip_points"]
    if flips:
        said = [
            f"{x['input']} (assumed {_flip_value(x['assumed'], x['unit'])}; HBM wins "
            f"{x['direction']} {_flip_value(x['flips_at'], x['unit'])})"
            for x in flips
        ]
        lines += _wrap(
            "the assumption that decides it: "
            + said[0]
            + ("; then " + "; ".join(said[1:]) if len(said) > 1 else "")
        )
    return lines


def format_lifecycle(d: dict[str, Any]) -> str:
    """The text of ``topo lifecycle``."""
    c = d["chinchilla"]
    ia = d["inference_aware"]
    lines = _rows(
        [
            (
                "model",
                f"{d['params']:.3g} parameters on {d['tokens']:.3g} tokens "
                f"({d['tokens_per_param']:,.0f} per parameter), {d['training_flops']:.3g} FLOPs",
            ),
            ("over-training", f"{d['overtraining_ratio']:.1f}x the ~20 tokens per parameter rule"),
            (
                "Chinchilla optimum",
                f"{c['params']:.3g} parameters on {c['tokens']:.3g} tokens "
                f"(fit); rule of 20: {c['rule_of_20']['params']:.3g} on "
                f"{c['rule_of_20']['tokens']:.3g}",
            ),
            (
                "inference-aware optimum",
                f"{ia['params']:.3g} parameters on {ia['tokens']:.3g} "
                f"tokens for the same loss ({ia['saving_vs_given']:+.1%} compute saved)",
            ),
            ("compute split", ", ".join(f"{k} {v:.0%}" for k, v in d["balance"].items())),
            (
                "split at the optimum",
                ", ".join(f"{k} {v:.0%}" for k, v in ia["balance"].items())
                + f" ({ia['tokens_per_param']:,.0f} tokens per parameter)",
            ),
        ]
    )
    return "\n".join([*lines, "", "  " + d["balance_note"]])


def format_memory(d: dict[str, Any]) -> str:
    """The text of ``topo memory``."""
    a = d["activation_bytes"]
    rows = [
        (
            k.replace("_", " "),
            format_quantity(v, "data"),
            f"+{d['extra_compute_fraction'][k]:.0%}",
            "fits" if d["fits"][k] else "too big",
        )
        for k, v in a.items()
    ]
    lines = [
        f"{d['model']} on {d['layout']}: training step of {d['tokens_per_batch']:,} tokens "
        f"(sequences of {d['seq_len']:,}); model states "
        f"{format_quantity(d['model_state_bytes'], 'data')} of "
        f"{format_quantity(d['cluster_hbm_bytes'], 'data')} HBM",
        "",
    ]
    lines += _table(("activations", "bytes", "compute", "fits"), rows)
    return "\n".join([*lines, "", "  " + d["note"]])


def format_compare(data: dict[str, Any]) -> str:
    """One column per design, one row per figure."""
    rows = data["designs"]

    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else fmt.format(v)

    table: list[tuple[str, list[str]]] = [
        ("GPUs", [f(r.get("gpus"), "{:,}") for r in rows]),
        ("scale-up domain", [f(r.get("domain_gpus"), "{:,} GPUs") for r in rows]),
        (
            "HBM bandwidth, all GPUs",
            [f(_tb(r.get("hbm_bandwidth_bytes_per_s")), "{:,.0f} TB/s") for r in rows],
        ),
        ("best plan", [_plan(r.get("plan")) for r in rows]),
        ("batch", [f(r.get("batch"), "{:,}") for r in rows]),
        ("latency floor", [f(_ms(r.get("latency_floor_s")), "{:.2f} ms") for r in rows]),
        (
            "time per output token",
            [f(_ms(r.get("time_per_output_token_s")), "{:.1f} ms") for r in rows],
        ),
        (
            "time to first token",
            [f(_ms(r.get("time_to_first_token_s")), "{:.0f} ms") for r in rows],
        ),
        ("bound", [f(r.get("bound"), "{}") for r in rows]),
        ("tokens/s per GPU", [f(r.get("tokens_per_s_per_gpu"), "{:,.0f}") for r in rows]),
        ("tokens/s per kW", [f(r.get("tokens_per_s_per_kw"), "{:,.0f}") for r in rows]),
        ("$/M tokens (GPU-hour)", [f(r.get("usd_per_million_gpu_hour"), "${:.4f}") for r in rows]),
        ("$/M tokens (TCO)", [f(r.get("usd_per_million_tco"), "${:.4f}") for r in rows]),
        ("TCO per GPU-hour", [f(r.get("tco_usd_per_gpu_hour"), "${:.2f}") for r in rows]),
        ("physical checks", ["pass" if r.get("physical_ok") else "FAIL" for r in rows]),
        ("binding limit", [f(r.get("binding_limit"), "{}") for r in rows]),
        ("its margin", [f(r.get("binding_margin"), "{:+.1%}") for r in rows]),
        ("feasible", ["yes" if r["feasible"] else "NO: " + "; ".join(r["reasons"]) for r in rows]),
    ]
    head = [r["layout"] for r in rows]
    w0 = max(len(k) for k, _ in table)
    widths = [max(len(h), *(len(v[i]) for _, v in table)) for i, h in enumerate(head)]
    lines = [" " * w0 + "  " + "  ".join(h.rjust(wd) for h, wd in zip(head, widths, strict=True))]
    for k, vals in table:
        lines.append(
            k.ljust(w0) + "  " + "  ".join(v.rjust(wd) for v, wd in zip(vals, widths, strict=True))
        )
    if data["best"]:
        lines.append(f"best by TCO cost per token: {data['best']}")
    return "\n".join(lines)


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1e3


def _tb(v: float | None) -> float | None:
    return None if v is None else v / 1e12


def _plan(p: dict[str, int] | None) -> str:
    return "-" if not p else " x ".join(f"{k} {v}" for k, v in p.items())


def format_catalogue(data: dict[str, Any]) -> str:
    """The text of ``topo catalogue``: accelerators and links, one row each."""

    def q(v: Any, kind: str) -> str:
        return "-" if v is None else format_quantity(float(v), kind)

    lines = ["accelerators (dense peaks; bandwidths per direction)", ""]
    head = f"  {'name':<12} {'bf16':>13} {'fp8':>13} {'fp4':>13} {'HBM':>9} {'HBM bw':>11}"
    lines += [head + f" {'scale-up':>11}  efficiency (HBM, FLOP/s)"]
    for r in data["accelerators"]:
        p = r["peak_flop_per_s"]
        lines.append(
            f"  {r['name']:<12} {q(p.get('bf16'), 'compute'):>13} {q(p.get('fp8'), 'compute'):>13}"
            f" {q(p.get('fp4'), 'compute'):>13} {q(r['hbm_capacity_bytes'], 'data'):>9}"
            f" {q(r['hbm_bandwidth_bytes_per_s'], 'bandwidth'):>11}"
            f" {q(r['scale_up_bandwidth_bytes_per_s'], 'bandwidth'):>11}"
            f"  {r['efficiency']['hbm']:.2f}, {r['efficiency']['compute']:.2f}"
        )
    lines += ["", "links (one link, per direction)", ""]
    lines.append(f"  {'name':<14} {'bandwidth':>11} {'lanes':>5} {'latency':>9}  medium")
    for r in data["links"]:
        lines.append(
            f"  {r['name']:<14} {q(r['bandwidth_bytes_per_s'], 'bandwidth'):>11}"
            f" {r['lanes'] if r['lanes'] is not None else '-':>5}"
            f" {q(r['latency_s'], 'time'):>9}  {r['medium']}"
        )
    return "\n".join(lines)
