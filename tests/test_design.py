"""Design comparison, TCO and studies: numbers against written-out arithmetic, and parity."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import run_cli

from topo.design import apply_design, assess, cost_defaults, tco
from topo.errors import LayoutError, TopoError
from topo.layout import load_layout
from topo.physical import check_limits
from topo.study import (
    _csv,
    format_study,
    fronts,
    load_study,
    pareto_front,
    run_study,
    study_designs,
)

SMALL = {
    "name": "small",
    "layouts": ["gb200-nvl72"],
    "vary": {"domain_gpus": [8, 72, 144], "nic": ["400 Gb/s", "1600 Gb/s"]},
    "cluster_gpus": 144,
    "models": ["llama-3.1-8b"],
    "workloads": [{"input": 1024, "output": 256}],
    "objectives": ["usd_per_million_tco", "time_per_output_token_s"],
    "constraints": {"slo_tpot_ms": 50},
    "max_replica_gpus": 8,
}


def test_tco_arithmetic() -> None:
    layout = load_layout("gb200-nvl72")
    limits = check_limits(layout)
    c = cost_defaults()["defaults"]
    t = tco(layout, limits)
    # 72 GPUs x $40,000 x 1.35 (servers); 9 switch trays x $30,000; 1,296 copper links x $50.
    assert t.capex_usd["accelerators"] == pytest.approx(72 * 40000 * 1.35)
    assert t.capex_usd["switch_trays"] == pytest.approx(9 * 30000)
    assert t.capex_usd["scale_up_cables"] == pytest.approx(72 * 18 * 50)
    # 400 Gb/s per GPU: NIC 4 x 250, optics 2 x 4 x 100, switch ports 2 x 4 x 150.
    assert t.capex_usd["scale_out"] == pytest.approx(72 * (1000 + 800 + 1200))
    power = limits.totals["power_w"]
    assert t.capex_usd["racks_and_cooling"] == pytest.approx(50000 + 300 * power / 1e3)
    hw = sum(t.capex_usd.values()) / (5 * 8766)
    dc = 10 * power / (15 * 8766)
    energy = power / 1e3 * 1.25 * 0.08
    assert t.usd_per_gpu_hour == pytest.approx((hw + dc + energy) / 72)
    assert c["pue"] == 1.25
    # Overrides win, and a dearer kWh costs more.
    assert tco(layout, limits, {"usd_per_kwh": 0.16}).usd_per_gpu_hour > t.usd_per_gpu_hour


def test_apply_design_domain_nic_and_cluster() -> None:
    base = load_layout("gb200-nvl72")
    d = apply_design(base, {"domain_gpus": 16, "nic": "800 Gb/s", "cluster_gpus": 144})
    assert d.gpus_per_domain == 16
    assert d.n_gpus == 144
    assert d.scale_out.nic_bandwidth_bytes_per_s == 100e9
    kept = apply_design(base, {"domain_gpus": 8})
    assert kept.n_gpus == 72  # the cluster keeps its size: 9 racks of 8
    with pytest.raises(TopoError, match="multiple"):
        apply_design(base, {"domain_gpus": 6})
    with pytest.raises(TopoError, match="one-rack"):
        apply_design(load_layout("dgx-h100"), {"domain_gpus": 16})


def test_assess_metrics_are_consistent() -> None:
    r = assess({"layout": "dgx-h100", "model": "llama-3.1-8b", "slo_tpot_s": 0.05}).to_dict()
    assert r["feasible"], r["reasons"]
    assert r["time_per_output_token_s"] <= 0.05
    tps = r["tokens_per_s_per_gpu"]
    assert r["usd_per_million_gpu_hour"] == pytest.approx(2.0 / 3600 / tps * 1e6)
    assert r["usd_per_million_tco"] == pytest.approx(r["tco_usd_per_gpu_hour"] / 3600 / tps * 1e6)
    gpu_w = r["rack_power_w"] / 8
    assert r["tokens_per_s_per_kw"] == pytest.approx(tps / gpu_w * 1e3)
    tight = assess({"layout": "dgx-h100", "model": "llama-3.1-8b", "slo_tpot_s": 1e-5})
    assert not tight.feasible
    assert tight.reasons == ("no plan meets the service-level objectives",)
    assert tight.gpus == 8  # built and costed, but no plan: no plan keys in its JSON
    assert tight.plan is None
    assert "capex_usd" in tight.to_dict()
    assert "plan" not in tight.to_dict()


def test_pareto_front() -> None:
    rows = [
        {"id": "a", "feasible": True, "usd_per_million_tco": 1.0, "tokens_per_s_per_gpu": 10.0},
        {"id": "b", "feasible": True, "usd_per_million_tco": 2.0, "tokens_per_s_per_gpu": 20.0},
        {"id": "c", "feasible": True, "usd_per_million_tco": 2.0, "tokens_per_s_per_gpu": 5.0},
        {"id": "d", "feasible": False, "usd_per_million_tco": 0.1, "tokens_per_s_per_gpu": 99.0},
    ]
    assert pareto_front(rows, ["usd_per_million_tco", "tokens_per_s_per_gpu"]) == ["a", "b"]


def test_study_designs_and_bad_files(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(SMALL))
    study = load_study(f)
    designs = study_designs(study)
    assert len(designs) == 6
    assert [d["id"] for d in designs] == [f"d{i:05d}" for i in range(1, 7)]
    assert designs[0]["vary"] == {"domain_gpus": 8, "nic": "400 Gb/s", "cluster_gpus": 144}
    bad = dict(SMALL, vary={"domain_size": [8]}, objectives=["speed", "tokens_per_s_per_gpu"])
    f.write_text(yaml.safe_dump(bad, sort_keys=False))
    with pytest.raises(LayoutError) as e:
        load_study(f)
    text = str(e.value)
    assert "vary.domain_size" in text
    assert "objectives[0]" in text
    assert f"{f}:" in text


def test_study_is_resumable_and_deterministic(tmp_path: Path) -> None:
    study = dict(SMALL)
    a = run_study(study, tmp_path / "a").to_dict()
    assert len(a["designs"]) == 6
    # The physics: a 144-GPU domain does not fit the rack; the smaller ones do.
    by_dom = {r["domain_gpus"]: r for r in a["designs"]}
    assert not by_dom[144]["feasible"]
    assert "rack space" in by_dom[144]["reasons"][0]
    assert by_dom[72]["feasible"]
    assert a["pareto"]
    # Resume: a rerun skips what is done (the log does not grow) and writes the same bytes.
    log = (tmp_path / "a" / "results.jsonl").read_text()
    first = (tmp_path / "a" / "results.json").read_bytes()
    run_study(study, tmp_path / "a")
    assert (tmp_path / "a" / "results.jsonl").read_text() == log
    assert (tmp_path / "a" / "results.json").read_bytes() == first
    # An interrupted run (half the log) completes to the same result.
    half = tmp_path / "half"
    half.mkdir()
    (half / "study.json").write_text((tmp_path / "a" / "study.json").read_text())
    (half / "results.jsonl").write_text("".join(log.splitlines(keepends=True)[:3]) + '{"id": "d0')
    resumed = run_study(study, half).to_dict()
    assert (half / "results.json").read_bytes() == first
    # The summary a library user gets (and --json prints) is the same, key order too.
    assert json.dumps(resumed) == json.dumps(a)
    assert (half / "results.csv").read_text() == (tmp_path / "a" / "results.csv").read_text()
    # Multi-process gives the same bytes.
    run_study(study, tmp_path / "p", workers=2)
    assert (tmp_path / "p" / "results.json").read_bytes() == first
    with pytest.raises(TopoError, match="another study"):
        run_study(dict(SMALL, name="other"), tmp_path / "a")


def test_a_serial_study_reads_each_layout_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Designs share the layout read for the first (a run reads each file once); each
    row is the one assess gives the design as named."""
    import topo.study as study_mod

    reads: list[str] = []

    def counted(name: str) -> Any:
        reads.append(name)
        return load_layout(name)

    monkeypatch.setattr(study_mod, "load_layout", counted)
    run_study(dict(SMALL), tmp_path / "r")
    assert reads == ["gb200-nvl72"]
    logged = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    by_id = {r["id"]: json.dumps(r, sort_keys=True) for r in logged}
    designs = study_designs(dict(SMALL))
    assert len(by_id) == len(designs) == 6
    for d in designs:
        assert by_id[d["id"]] == json.dumps(assess(d).to_dict(), sort_keys=True)


def test_workers_get_runs_of_designs_that_share_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each design goes to exactly one run; a run holds one layout, model and workload, in
    the study's order; about 4 runs a worker, at most 64 designs each; a run reads each
    layout once and gives each design's row as assess does."""
    import topo.study as study_mod

    root = Path(__file__).resolve().parents[1]
    designs = study_designs(load_study(root / "layouts" / "studies" / "rack-design-1080.yaml"))
    index = {d["id"]: i for i, d in enumerate(designs)}
    for workers in (1, 2, 3, 8):
        runs = study_mod._runs(designs, workers)
        ids = [d["id"] for run in runs for d in run]
        assert sorted(ids) == sorted(index)  # each once
        size = min(64, -(-len(designs) // (4 * workers)))
        assert {len(run) for run in runs[:-1]} == {size}
        for run in runs:
            # Runs are cut by size alone, but one model's 360 designs are consecutive.
            assert len({d["model"] for d in run}) <= 2
            for a, b in zip(run, run[1:], strict=False):
                assert a["model"] != b["model"] or index[a["id"]] < index[b["id"]]
        models = [d["model"] for run in runs for d in run]
        assert models == sorted(models)  # one model's designs together
    reads: list[str] = []

    def counted(name: str) -> Any:
        reads.append(name)
        return load_layout(name)

    monkeypatch.setattr(study_mod, "load_layout", counted)
    few = study_designs(dict(SMALL))
    rows = study_mod._assessed_run(few)
    assert reads == ["gb200-nvl72"]
    assert [r["id"] for r in rows] == [d["id"] for d in few]
    assert json.dumps(rows[-1], sort_keys=True) == json.dumps(
        assess(few[-1]).to_dict(), sort_keys=True
    )


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask")
def _row(i: str, model: str, usd: float, tps: float, **knobs: Any) -> dict[str, Any]:
    """A study row with just what fronts, summaries and tables read."""
    return {
        "id": i, "layout": "gb200-nvl72", "model": model, "domain_gpus": 72, "nic": "800 Gb/s",
        "nic_gbps": 800.0, "cable": "copper", "feasible": True, "reasons": [],
        "usd_per_million_tco": usd, "tokens_per_s_per_gpu": tps, **knobs,
    }  # fmt: skip


def test_each_model_and_workload_has_its_own_front() -> None:
    """Designs compete to serve one model and workload: another model's are no rivals."""
    objs = ["usd_per_million_tco", "tokens_per_s_per_gpu"]
    big, small = {"input": 32768}, {"input": 1024}
    rows = [
        _row("d1", "a", 0.04, 11000.0),  # beats every b row on both objectives
        _row("d2", "a", 0.05, 9000.0),  # beaten by d1
        _row("d3", "b", 0.05, 8000.0, workload=small),  # b's best at 1k: beats d4
        _row("d4", "b", 0.06, 7000.0, workload=small),
        _row("d5", "b", 0.50, 600.0, workload=big),  # far worse, but alone at 32k
        _row("d6", "b", 0.01, 1e6, workload=big, feasible=False),  # infeasible: no rival
    ]
    # One front over all would be d1 alone, beating 4 feasible designs.
    assert pareto_front(rows, objs) == ["d1"]
    assert fronts(rows, objs) == {"d1": 1, "d3": 1, "d5": 0}


def test_a_study_summary_names_what_varies_and_joins_ties() -> None:
    """Front designs at the same values share a line naming what they differ in."""
    rows = [
        _row(f"d{i}", "m", 0.04, 11000.0, power_budget=p, cluster_gpus=c)
        for i, (p, c) in enumerate([("132 kW", 144), ("600 kW", 144), ("132 kW", 576)], 1)
    ]
    rows.append(_row("d4", "m", 0.03, 9000.0, power_budget="200 kW", cluster_gpus=144))
    objs = ["usd_per_million_tco", "tokens_per_s_per_gpu"]
    ids = ["d1", "d2", "d3", "d4"]
    summary = {"study": "s", "designs": rows, "objectives": objs, "pareto": ids,
               "dominates": dict.fromkeys(ids, 0), "feasible": 4}  # fmt: skip
    text = format_study(summary).splitlines()
    assert text[1] == (
        "  d1 gb200-nvl72 domain 72 nic 800 Gb/s m: usd_per_million_tco 0.04, "
        "tokens_per_s_per_gpu 1.1e+04; dominates 0"
    )
    assert text[2] == (
        "    and 2 more at the same values, differing in power_budget (132 kW, 600 kW) and "
        "cluster_gpus (144, 576): d2, d3"
    )
    assert text[3].startswith("  d4 gb200-nvl72 domain 72 nic 800 Gb/s power_budget 200 kW "
                              "cluster_gpus 144 m:")  # fmt: skip
    # The table gives each varied setting a column after the cable, and the workload.
    rows[0]["workload"] = {"input": 1024, "output": 256}
    head, first = _csv(rows, {"d2"}).splitlines()[:2]
    assert head.startswith("id,layout,model,workload,domain_gpus,nic_gbps,cable,power_budget,"
                           "cluster_gpus,gpus,racks,feasible,pareto,")  # fmt: skip
    assert first.startswith('d1,gb200-nvl72,m,"input 1024, output 256",72,800.0,copper,132 kW,144,')
    import csv

    table = list(csv.DictReader(_csv(rows, {"d2"}).splitlines()))
    assert [(r["id"], r["feasible"], r["pareto"]) for r in table] == [
        ("d1", "True", "False"), ("d2", "True", "True"), ("d3", "True", "False"),
        ("d4", "True", "False"),
    ]  # fmt: skip


def test_a_study_of_two_workloads_names_each(tmp_path: Path) -> None:
    """Rows of a study with several workloads say which one each serves."""
    study = dict(SMALL, vary={"domain_gpus": [72]}, workloads=[{"input": 1024}, {"input": 8192}])
    s = run_study(study, tmp_path / "r").to_dict()
    assert [r["workload"] for r in s["designs"]] == [{"input": 1024}, {"input": 8192}]
    assert s["pareto"] == ["d00001", "d00002"]  # each alone on its workload's front
    assert "workload" not in run_study(dict(SMALL), tmp_path / "one").designs[0]
    text = format_study(s)
    assert "  llama-3.1-8b (input 1024): 1" in text
    assert "  llama-3.1-8b (input 8192): 1" in text


def test_study_on_a_local_dask_cluster_equals_serial(tmp_path: Path) -> None:
    serial = run_study(dict(SMALL), tmp_path / "s")
    run_study(dict(SMALL), tmp_path / "d", dask="local", workers=2)
    assert (tmp_path / "d" / "results.json").read_bytes() == (
        tmp_path / "s" / "results.json"
    ).read_bytes()
    assert serial.designs


def test_compare_study_plot_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "c.png"
    code, out, _ = run_cli(
        capsys, "compare", "dgx-h100", "dgx-b200", "--model", "llama-3.1-8b",
        "--slo-tpot-ms", "50", "--json", "--plot", str(png),
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert [r["layout"] for r in data["designs"]] == ["dgx-h100", "dgx-b200"]
    assert data["best"] in ("dgx-h100", "dgx-b200")
    assert png.stat().st_size > 10_000
    tight = tmp_path / "tight-pod.yaml"
    tight.write_text("extends: dgx-h100-superpod\nname: tight-pod\nrack: {power_budget: 30 kW}\n")
    code, out, _ = run_cli(capsys, "compare", str(tight), "--model", "llama-3.1-8b")
    assert code == 0
    assert "NO: power vs rack budget" in out  # infeasible, shown with why
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(SMALL))
    code, out, _ = run_cli(capsys, "study", str(f), "-o", str(tmp_path / "r"))
    assert code == 0
    assert "Pareto front" in out
    assert (tmp_path / "r" / "results.csv").read_text().startswith("id,layout,model")
    code, _, _ = run_cli(
        capsys, "plot", "study", str(tmp_path / "r"), "-o", str(tmp_path / "s.png")
    )
    assert code == 0
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_compare_study_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "compare", "dgx-h100", "--model", "gpt-9")
    assert code == 2
    assert "gpt-9" in err
    code, _, err = run_cli(
        capsys, "compare", "dgx-h100", "--model", "llama-3.1-8b", "--cost", "x=1"
    )
    assert code == 2
    assert "unknown input" in err
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nlayouts: [nowhere]\nmodels: [llama-3.1-8b]\n")
    code, _, err = run_cli(capsys, "study", str(f), "-o", str(tmp_path / "r"))
    assert code == 2
    assert "layouts[0]" in err
    assert not (tmp_path / "r").exists()
    (tmp_path / "afile").write_text("")
    f.write_text(yaml.safe_dump(SMALL))
    code, _, err = run_cli(capsys, "study", str(f), "-o", str(tmp_path / "afile"))
    assert code == 2
    assert "not a folder" in err
    code, _, err = run_cli(capsys, "plot", "study", str(tmp_path), "-o", str(tmp_path / "x.png"))
    assert code == 2
    assert "results.json" in err


def test_bundled_study_file_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    study = load_study(root / "layouts" / "studies" / "deepseek-domain-nic.yaml")
    assert len(study_designs(study)) == 7 * 3
    # The large one: 5 domain sizes x 4 NICs x 2 cables x 3 power budgets x 3 cluster
    # sizes x 3 models (benchmarks/bench_study.py --study large runs it).
    large = load_study(root / "layouts" / "studies" / "rack-design-1080.yaml")
    designs = study_designs(large)
    assert len(designs) == 5 * 4 * 2 * 3 * 3 * 3 == 1080
    assert len({d["model"] for d in designs}) == 3


def test_large_study_designs_assess_like_a_study_of_them(tmp_path: Path) -> None:
    """A slice of the 1,080-design study, run as a study, gives each design's own row."""
    root = Path(__file__).resolve().parents[1]
    large = load_study(root / "layouts" / "studies" / "rack-design-1080.yaml")
    some = dict(large, vary={**large["vary"], "nic": ["200 Gb/s"], "cable": ["optical"],
                             "power_budget": ["132 kW"], "cluster_gpus": [144]})  # fmt: skip
    summary = run_study(some, tmp_path / "r")
    assert len(summary.designs) == 5 * 3
    for d, row in zip(study_designs(some), summary.designs, strict=True):
        assert json.loads(json.dumps(assess(d).to_dict(), sort_keys=True)) == row
    # 144 GPUs in one rack do not fit its 48U; the 72-GPU domain is over its 132 kW.
    by = {(r["domain_gpus"], r["model"]): r for r in summary.designs}
    assert "rack space" in by[(144, "llama-3-70b")]["reasons"][0]
    assert "power vs rack budget" in by[(72, "llama-3-70b")]["reasons"][0]


def test_bigger_domains_pay_off_for_moe_until_physics_binds(tmp_path: Path) -> None:
    """DeepSeek-V3 at 15 ms per token: a 72-GPU domain gives many times the tokens/s per GPU
    of an 8-GPU one (expert parallelism stays on NVLink); 144 GPUs no longer fit the rack."""
    root = Path(__file__).resolve().parents[1]
    study = load_study(root / "layouts" / "studies" / "deepseek-domain-nic.yaml")
    study = {**study, "vary": {"domain_gpus": [8, 72, 144], "nic": ["400 Gb/s"]}}
    s = run_study(study, tmp_path / "r")
    by_dom = {r["domain_gpus"]: r for r in s.designs}
    assert by_dom[72]["tokens_per_s_per_gpu"] > 3 * by_dom[8]["tokens_per_s_per_gpu"]
    assert by_dom[8]["feasible"]
    assert by_dom[72]["feasible"]
    assert not by_dom[144]["feasible"]
    assert by_dom[144]["reasons"][0].startswith("rack space")
    assert by_dom[72]["id"] in s.pareto
    feasible = [r for r in s.designs if r["feasible"]]
    assert min(feasible, key=lambda r: r["usd_per_million_tco"]) is by_dom[72]


def test_a_design_without_the_compute_dtype_is_infeasible_with_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Rubin Ultra's catalogue entry has fp8 and fp4 peaks only: bf16 weights cannot run.
    r = assess({"layout": "kyber-nvl576", "model": "llama-3.1-8b"})
    assert not r.feasible
    assert "no published bf16 peak" in r.reasons[0]
    code, _, err = run_cli(capsys, "evaluate", "kyber-nvl576", "--model", "llama-3.1-8b")
    assert code == 2
    assert "--compute" in err
    ok = assess({"layout": "kyber-nvl576", "model": "llama-3.1-8b", "weights": "fp8"})
    assert ok.feasible, ok.reasons


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"vary": {"domain_gpus": [7]}}, "vary.domain_gpus[0]"),
        ({"vary": {"nic": ["fast"]}}, "vary.nic[0]"),
        ({"vary": {"cable": ["optical", "rope"]}}, "vary.cable[1]"),
        ({"workloads": [{"input": -5}]}, "workloads[0]"),
        ({"workloads": [{"weights": "fp3"}]}, "workloads[0]"),
        ({"costs": {"nonsense": 1}}, "costs.nonsense"),
        ({"constraints": {"slo_tpot_ms": "fast"}}, "constraints.slo_tpot_ms"),
    ],
)
def test_bad_study_values_are_input_errors(
    tmp_path: Path, change: dict[str, object], where: str
) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**SMALL, **change}, sort_keys=False))
    with pytest.raises(LayoutError) as e:
        load_study(f)
    assert f"{f}:" in str(e.value)
    assert where in str(e.value)


@pytest.mark.parametrize("model", ["llama-3.1-8b", "mixtral-8x7b"])
def test_leaving_out_replica_plans_keeps_the_best(model: str) -> None:
    """Plans that only add copies of the tp x ep block do per GPU what one copy does."""
    from topo.build import build_graph
    from topo.models import load_model
    from topo.perf import Workload
    from topo.plans import candidate_plans, rank, search

    layout = load_layout("gb200-nvl72")
    G = build_graph(layout)
    m = load_model(model)
    w = Workload()
    every = candidate_plans(layout, m)
    fewer = candidate_plans(layout, m, replicas=False)
    assert len(fewer) < len(every)
    assert all(p.tp * p.dp <= max(p.tp, p.ep) for p in fewer)
    best_all = rank(search(layout, G, m, w, plans=every, strategies=("packed",)), "throughput")
    best_few = rank(search(layout, G, m, w, plans=fewer, strategies=("packed",)), "throughput")
    # Equal but for the whole-batch rounding at the memory limit (c copies hold c x the
    # batch of one, give or take a sequence).
    assert best_few[0].tokens_per_s_per_gpu == pytest.approx(
        best_all[0].tokens_per_s_per_gpu, rel=1e-4
    )


@pytest.mark.parametrize(
    ("layout", "model", "limit", "weights"),
    [("gb200-nvl72", "deepseek-v3", 0.015, "fp8"),
     ("dgx-h100-superpod", "llama-3-70b", 0.03, "fp8"),
     ("gb200-nvl72", "mixtral-8x7b", None, "fp8"),
     # Falcon-180B in BF16 on 8 MI300X: tokens/s per GPU peak near batch 280 and fall
     # beyond (a bound at the largest batch alone skipped the best plan, pp 4).
     ("mi300x-8", "falcon-180b", None, "bf16"), ("mi300x-8", "falcon-180b", 0.45, "bf16")],
)  # fmt: skip
def test_bounded_search_finds_what_the_full_search_ranks_first(
    layout: str, model: str, limit: float | None, weights: str
) -> None:
    """Plans whose step without collectives cannot beat the best found are skipped; the
    best row, by tokens/s over the layout's GPUs, is the full search's."""
    from topo.build import build_graph
    from topo.models import load_model
    from topo.perf import Workload
    from topo.plans import candidate_plans, rank, search, search_bounded

    lay = load_layout(layout)
    G = build_graph(lay)
    m = load_model(model)
    w = Workload(weights=weights)
    plans = candidate_plans(lay, m, replicas=False)
    n = lay.n_gpus

    def busy(r: object) -> float:
        g = r.gpus  # type: ignore[attr-defined]
        return (n // g) * g / n

    def best(rows: list) -> object:  # type: ignore[type-arg]
        ranked = rank(rows, "throughput")
        return sorted(ranked, key=lambda r: -r.tokens_per_s_per_gpu * busy(r))[0]

    full = search(lay, G, m, w, plans=plans, strategies=("packed",), max_latency_s=limit)
    fast = search_bounded(lay, G, m, w, plans, max_latency_s=limit, weight=busy)
    assert best(fast) == best(full)
    assert len(fast) < len(full)


@pytest.mark.parametrize(
    ("layout", "model", "options"),
    [("gb200-nvl72-x16", "deepseek-v3", {"weights": "fp8"}),
     ("dgx-h100", "llama-3-70b", {}),
     # Two plans tie on tokens/s per GPU (pp 2, dp 1 and dp 2); the one with fewer GPUs
     # runs its rows at 8 batches, where GEMMs are fitted exactly, ~1e-6 faster than its
     # bound on the curve: without a margin on the bound it was skipped.
     ("dgx-h800", "llama-2-7b", {"weights": "fp8", "context": 32768}),
     ("tpu-v5p-4x4x4", "mixtral-8x7b", {})],
)  # fmt: skip
def test_serving_plan_is_the_full_search_first_by_throughput(
    layout: str, model: str, options: dict[str, object]
) -> None:
    """The plan price, serve, cache and the serving figures use, found by the bounded
    search, is the one the full search ranks first (ties: the first it meets)."""
    from topo.models import load_model
    from topo.plans import rank, search
    from topo.routing import Fabric
    from topo.scenario import make_workload, serving_plan

    lay = load_layout(layout)
    fabric = Fabric.from_layout(lay)
    m = load_model(model)
    w = make_workload(**options)  # type: ignore[arg-type]
    full = rank(search(lay, fabric, m, w, strategies=("packed",)), "throughput")
    assert serving_plan(lay, fabric, m, w) == full[0].plan


def test_designs_reuse_bounds_and_rows_only_where_nothing_they_depend_on_changed() -> None:
    """A study keeps plan bounds and rows by value (accelerator, model, plan, workload,
    collectives, limits): a design assessed after others, from full caches, gives the row
    it gives from empty ones; another NIC changes the rows of plans that cross domains."""
    from topo import plans

    design = {
        "id": "d",
        "layout": "gb200-nvl72",
        "vary": {"domain_gpus": 8, "nic": "400 Gb/s", "cluster_gpus": 144},
        "model": "mixtral-8x7b",
        "slo_tpot_s": 0.05,
        "max_replica_gpus": 16,
    }
    plans._BOUNDS.clear()
    plans._BOUND_LISTS.clear()
    plans._ROWS.clear()
    cold = assess(design)
    assert plans._BOUNDS
    assert plans._ROWS
    faster = {**design, "vary": {**design["vary"], "nic": "1600 Gb/s"}}
    hot = assess(faster)  # bounds reused (no network in them), cross-domain rows not
    plans._BOUNDS.clear()
    plans._BOUND_LISTS.clear()
    plans._ROWS.clear()
    assert assess(faster) == hot
    assert assess(design) == cold
    assert assess(design) == cold  # now from full caches


def test_compare_reports_progress_after_each_design() -> None:
    from topo.api import compare

    calls: list[tuple[int, int]] = []
    got = compare(
        ["dgx-h100", "dgx-h200"], "llama-3.1-8b", progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(1, 2), (2, 2)]
    assert [r.layout for r in got.designs] == ["dgx-h100", "dgx-h200"]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
def test_study_workers_leave_when_the_study_is_killed(tmp_path: Path) -> None:
    """`kill -9` of `topo study --workers 2` must not leave its workers waiting forever."""
    import subprocess
    import sys
    import time

    # The 1,080-design study with DeepSeek-V3 and 6 cluster sizes (2,880 designs, 16 s on
    # 2 workers of a 2-core machine): long enough to be killed mid-way (checked below).
    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "layouts" / "studies" / "rack-design-1080.yaml").read_text())
    doc["models"] = [*doc["models"], "deepseek-v3"]
    doc["vary"]["cluster_gpus"] = [144, 576, 1152, 2304, 4608, 9216]
    f = tmp_path / "long.yaml"
    f.write_text(yaml.safe_dump(doc))
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "topo",
            "study",
            str(f),
            "-o",
            str(tmp_path / "r"),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        kids: list[int] = []
        deadline = time.monotonic() + 20
        while len(kids) < 2 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.5)  # until the pool has started its workers
            kids = _children(p.pid)
        assert kids, "no worker processes to watch"
        time.sleep(1)  # and they are working
        assert p.poll() is None, "the study ended before it could be killed"
        p.kill()  # the study alone: SIGKILL, no shutdown
        p.wait()
        deadline = time.monotonic() + 15
        while kids and time.monotonic() < deadline:
            kids = [k for k in kids if _alive(k)]
            time.sleep(0.5)
        assert not kids, f"workers {kids} outlived the study"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("layout", "model"), [("mi300x-8", "falcon-180b"), ("dgx-h100", "llama-2-70b")]
)
def test_search_bounds_hold_where_tokens_per_s_fall_with_the_batch(layout: str, model: str) -> None:
    """A plan's bound is above every row its search can give: tokens/s per GPU at each
    batch of its grid that meets the limit (several limits), and at each batch it runs
    without one, including where tokens/s peak and fall (the case that needs it)."""
    import numpy as np

    from topo.models import load_model
    from topo.perf import Workload, decode
    from topo.plans import _batches, _comm_bounds, _grid, candidate_plans

    lay = load_layout(layout)
    m = load_model(model)
    w = Workload()
    falls = 0
    for plan in candidate_plans(lay, m, replicas=False):
        bs, max_b = _batches(lay, m, plan, w, None)
        if not len(bs):
            continue
        grid = _grid(max_b // plan.dp) * plan.dp
        d = decode(lay, m, plan, grid, w, None)
        per_gpu = np.asarray(d.tokens_per_s) / plan.world
        falls += bool((np.diff(per_gpu) < 0).any())
        for limit in np.quantile(d.tpot, [0.2, 0.5, 0.8]):
            [bound] = _comm_bounds(lay, m, w, [(plan, None, max_b)], float(limit))
            ok = np.asarray(d.tpot) <= limit
            assert bound >= per_gpu[ok].max(), (plan, limit)
        [bound] = _comm_bounds(lay, m, w, [(plan, None, max_b)], None)
        rows = decode(lay, m, plan, bs, w, None)
        assert bound >= np.max(rows.tokens_per_s) / plan.world, plan
    if model == "falcon-180b":
        assert falls  # the case is there


def test_bounded_search_reports_the_plans_it_passes() -> None:
    """Best bound first, one call per plan it reaches, then every plan at the end (those
    below the best are passed at once); the rows are the same without the callback."""
    from topo.models import load_model
    from topo.perf import Workload
    from topo.plans import candidate_plans, search_bounded
    from topo.routing import Fabric

    lay = load_layout("gb200-nvl72")
    fabric = Fabric.from_layout(lay)
    m = load_model("mixtral-8x7b")
    w = Workload(weights="fp8")
    plans = candidate_plans(lay, m, replicas=False)
    calls: list[tuple[int, int]] = []
    rows = search_bounded(
        lay, None, m, w, plans, max_latency_s=0.03, weight=lambda r: 1.0, fabric=fabric,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    n = calls[-1][1]
    assert 0 < n <= len(plans)
    assert calls[0] == (0, n)
    assert calls[-1] == (n, n)
    assert [d for d, _ in calls[:-1]] == list(range(len(calls) - 1))
    assert len(calls) - 1 < n  # the search stopped before the last plan
    again = search_bounded(
        lay, None, m, w, plans, max_latency_s=0.03, weight=lambda r: 1.0, fabric=fabric
    )
    assert rows == again


def test_bounds_without_a_limit_run_on_the_curves_stacked() -> None:
    """A plan's batches and memory limit, padded with the limit to 9 batches where fewer
    (the kernel layer's curve path, stacked with other plans; the most tokens/s is the
    same), and left as they are where more."""
    import numpy as np

    from topo.plans import _on_curve

    few = _on_curve(np.array([1.0, 2.0, 4.0]), 6)
    assert few.tolist() == [1.0, 2.0, 4.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0]
    many = np.arange(1.0, 10.0)
    assert _on_curve(many, 12).tolist() == [*many.tolist(), 12.0]


@pytest.mark.parametrize(
    ("layout", "model", "weights"),
    [("mi300x-8", "llama-3-70b", "bf16"), ("gb200-nvl72", "deepseek-v3", "fp8"),
     ("dgx-h100-superpod", "mixtral-8x7b", "bf16")],
)  # fmt: skip
def test_the_path_margin_covers_exact_fits_against_the_curves(
    layout: str, model: str, weights: str
) -> None:
    """A batch run alone (8 batches or fewer: each GEMM fitted exactly) and the same batch
    in a longer run (the cached curves) differ by less than half the margin the search's
    bounds are raised by: a bound on the curves stays above every row."""
    import numpy as np

    from topo.models import load_model
    from topo.perf import Workload, decode, memory, plan_comm
    from topo.plans import _PATH_MARGIN, candidate_plans
    from topo.routing import Fabric

    lay, m, w = load_layout(layout), load_model(model), Workload(weights=weights)
    fabric = Fabric.from_layout(lay)
    gaps = []
    for p in candidate_plans(lay, m)[::3]:
        top = memory(lay, m, p, 1, w).max_batch // p.dp
        if top < 1:
            continue
        comm = plan_comm(fabric, p)
        for per_rank in {1, max(1, top // 7), max(1, top // 2), top}:
            b = float(per_rank * p.dp)
            alone = decode(lay, m, p, np.array([b]), w, comm).tpot[0]
            curve = decode(lay, m, p, np.full(9, b), w, comm).tpot[0]
            gaps.append(abs(alone / curve - 1))
    assert len(gaps) > 12
    assert max(gaps) < _PATH_MARGIN / 2


@pytest.mark.parametrize(
    ("gpus", "n", "domain", "copies"),
    [
        (64, 1152, 72, 16),  # one a rack: 18 end to end would put 14 across two racks
        (32, 1152, 72, 32),  # two a rack, 8 GPUs idle in each
        (24, 1152, 72, 48),  # three a rack, none idle
        (72, 1152, 72, 16),
        (144, 1152, 72, 8),  # on two whole racks each
        (96, 1152, 72, 8),  # two racks each, 48 GPUs idle a pair
        (8, 80, 72, 10),  # nine in the rack, one in the 8 GPUs past it
    ],
)
def test_copies_of_a_plan_sit_inside_domains(gpus: int, n: int, domain: int, copies: int) -> None:
    from topo.design import _copies

    assert _copies(gpus, n, domain) == copies


def test_a_design_counts_only_copies_that_sit_inside_domains() -> None:
    """DeepSeek-V3 on 1,152 GB200 GPUs in 72-GPU racks: every copy of the chosen plan lies
    inside a rack or on whole racks, so the busy GPUs are whole copies of it a rack; the
    tokens/s per GPU are the plan's over the busy share. (18 copies of an ep 64 plan on
    1,152 GPUs counted every GPU busy, though 14 of them would span two racks.)"""
    from topo.design import _copies

    d = {"layout": "gb200-nvl72", "model": "deepseek-v3", "weights": "fp8", "kv": "fp8",
         "input": 1024, "output": 256, "slo_tpot_s": 0.015, "max_replica_gpus": 576,
         "vary": {"domain_gpus": 72, "nic": "400 Gb/s", "cluster_gpus": 1152}}  # fmt: skip
    r = assess(d)
    assert r.feasible
    world = r.plan.world
    assert 72 % world == 0 or world % 72 == 0  # no copy across two racks
    assert r.gpus_busy == _copies(world, 1152, 72) * world


def test_searches_leave_out_plans_whose_blocks_straddle_domains() -> None:
    """Every plan the search tries has all its tp x ep blocks inside one domain or on
    whole domains, as its first block (which its collectives are timed on) is: placed,
    no group of a kind spans more domains than the first. (tp 1 x ep 32 x dp 1,152 on
    72-GPU racks was searched, its 11th EP group on GPUs 64-95 across two racks.)"""
    from topo.models import load_model
    from topo.place import Plan, group_orders, place, rank_positions
    from topo.plans import _candidates, _straddles, candidate_plans
    from topo.routing import Fabric

    nvl = load_layout("gb200-nvl72-x16")
    dsv3 = load_model("deepseek-v3")
    kept = candidate_plans(nvl, dsv3)
    assert Plan(tp=1, ep=32, pp=1, dp=1152) not in kept  # its 11th EP group spans two
    # Packed placement skips GPUs to keep blocks inside domains where the plan leaves
    # some: ep 32 over 128 ranks a stage, two stages, is kept (the cheap rule flags it).
    assert _straddles(32, 256, 72)
    assert Plan(tp=4, ep=32, pp=2, dp=32) in kept
    # The cheap rule misses none: every candidate it lets through, placed, has no group
    # wider than its kind's first.
    fabric = Fabric.from_layout(nvl)
    for plan in _candidates(dsv3, nvl.n_gpus, 72, True):
        if any(_straddles(g, plan.world, 72) for g in (plan.tp, plan.ep)):
            continue
        at = rank_positions(fabric, plan)
        for kind, size in (("tp", plan.tp), ("ep", plan.ep)):
            rows = at[group_orders(plan)[kind]]
            spans = [len(set(row)) for row in fabric.domain[rows].tolist()]
            assert max(spans) == spans[0], (plan, kind)
            # _straddling reads each kind's groups as runs of consecutive ranks.
            assert np.array_equal(rows, at.reshape(-1, size)), (plan, kind)
    for name, model in (("gb200-nvl72-x16", "deepseek-v3"), ("dgx-h100-superpod", "mixtral-8x22b")):
        layout = load_layout(name)
        fabric = Fabric.from_layout(layout)
        plans = candidate_plans(layout, load_model(model))
        assert plans
        for plan in plans[:: max(1, len(plans) // 150)]:
            groups = place(fabric, plan).groups
            for kind in ("tp", "ep"):
                spans = [
                    len({int(fabric.domain[fabric.index[g]]) for g in group})
                    for group in groups[kind]
                ]
                assert max(spans) == spans[0], (name, plan, kind)
