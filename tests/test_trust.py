"""Bundled data that must be true, and plans and limits users act on (issue 13, part)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from topo.layout import bundled_layouts, load_layout
from topo.physical import check_limits

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(bundled_layouts()))
def test_every_bundled_layout_passes_its_own_check(name: str) -> None:
    checks = check_limits(load_layout(name)).to_dict()
    failed = [c["name"] for c in checks["checks"] if c.get("ok") is False]
    assert not failed, failed


def test_the_readme_layout_passes_its_check(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The layout format") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block
    path = tmp_path / "my-nvl72.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    checks = check_limits(load_layout(path)).to_dict()
    assert not [c["name"] for c in checks["checks"] if c.get("ok") is False]


def test_dgx_power_is_wall_power() -> None:
    """A DGX H100's 10.2 kW is its AC input: four in a rack draw 40.8 kW, not / 0.95."""
    checks = check_limits(load_layout("dgx-h100-superpod")).to_dict()["checks"]
    power = next(c for c in checks if c["name"] == "power vs rack budget")
    assert power["value"] == pytest.approx(4 * 10.2e3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tp", "3"], "tp 3 does not divide llama-3-70b's 64 attention heads"),
        (["--tp", "16"], None),  # 16 ranks replicate the 8 KV heads: allowed
    ],
)
def test_a_plan_the_model_cannot_run_is_an_input_error(
    argv: list[str], message: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = "dgx-h100-superpod" if "16" in argv else "dgx-h100"
    code, _, err = run_cli(capsys, "evaluate", layout, "--model", "llama-3-70b", *argv)
    if message is None:
        assert code == 0, err
    else:
        assert code == 2
        assert message in err
        assert "internal error" not in err


def test_limits_exits_1_above_the_largest_domain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "limits", "gb200-nvl72", "--vary", "max_mass=1000 kg")
    assert code == 1
    assert "(now 72;" in out
    code, _, _ = run_cli(capsys, "limits", "gb200-nvl72")
    assert code == 0


def test_no_option_prefix_matching(capsys: pytest.CaptureFixture[str]) -> None:
    """`--out 2048` is an unknown option (exit 2), not a silent `--output 2048`."""
    args = ("evaluate", "dgx-h100", "--model", "llama-3-70b", "--tp", "8", "--out", "2048")
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert "unrecognized arguments: --out 2048" in err
    assert not out


@pytest.mark.parametrize("mode", ["--ideal", "--clean"])
def test_speculation_composes_with_ideal_and_clean(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--accepted-tokens divides the step in every mode. At batch 1 the verified draft
    token's FLOPs are nearly free, so 1.8 tokens a step make each token ~1.8x faster."""
    import json

    base = ("evaluate", "dgx-h100", "--model", "llama-3-70b", "--tp", "8", mode, "--json")
    code, out, _ = run_cli(capsys, *base)
    assert code == 0
    one = json.loads(out)["decode"]["time_per_output_token_s"]
    code, out, _ = run_cli(capsys, *base, "--accepted-tokens", "1.8", "--draft-tokens", "1")
    assert code == 0
    spec = json.loads(out)["decode"]["time_per_output_token_s"]
    assert spec == pytest.approx(one / 1.8, rel=0.02)


def test_open_mesh_routes_only_over_links_that_exist(tmp_path: Path) -> None:
    """A 4 x 4 x 4 mesh without wraparound: every route goes the direct way, so a cut
    through the middle of a line crosses one link, not a ring's two. A 1 GB all-gather
    over all 64 chips is bisection-bound: twice the torus's time, never ~0."""
    from topo.build import build_graph, gpu_nodes
    from topo.collectives import collective

    path = tmp_path / "open.yaml"
    path.write_text("extends: tpu-v5p-4x4x4\nname: tpu-open\nscale_up: {wraparound: false}\n")
    open_g = build_graph(load_layout(path))
    ring_g = build_graph(load_layout("tpu-v5p-4x4x4"))
    o = collective(open_g, "all-gather", gpu_nodes(open_g), 1e9, clean=True)
    r = collective(ring_g, "all-gather", gpu_nodes(ring_g), 1e9, clean=True)
    assert o.beta_s == pytest.approx(2 * r.beta_s, rel=0.01)
    # The busiest link exists in the open mesh's graph.
    assert open_g.has_edge(o.busiest_link["u"], o.busiest_link["v"])


@pytest.mark.parametrize(
    ("text", "kind", "hint"),
    [
        ("10 kw", "power", 'did you mean "10 kW"?'),
        ("400G", "bitrate", 'did you mean "400 Gb/s"?'),
        ("5 gb/s", "bandwidth", 'did you mean "5 GB/s" or "5 Gb/s"?'),
        ("80 gib", "data", 'did you mean "80 GiB"?'),
    ],
)
def test_unit_errors_suggest_the_spelling(text: str, kind: str, hint: str) -> None:
    from topo.units import UnitError, parse_quantity

    with pytest.raises(UnitError) as e:
        parse_quantity(text, kind)
    assert hint in str(e.value)


def test_catalogue_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = run_cli(capsys, "catalogue")
    assert code == 0
    assert "h800" in out
    assert "nvlink4" in out
    code, out, _ = run_cli(capsys, "catalogue", "--json")
    data = json.loads(out)
    h100 = next(a for a in data["accelerators"] if a["name"] == "h100-sxm")
    assert h100["peak_flop_per_s"]["bf16"] == pytest.approx(989.4e12)
    assert h100["hbm_bandwidth_bytes_per_s"] == pytest.approx(3.35e12)
    nv = next(k for k in data["links"] if k["name"] == "nvlink5")
    assert nv["bandwidth_bytes_per_s"] == pytest.approx(50e9)
    # A user file overrides a part field by field; a missing one is a clear input error.
    f = tmp_path / "parts.yaml"
    f.write_text("accelerators:\n  - name: h100-sxm\n    hbm_bandwidth: 4 TB/s\n")
    code, out, err = run_cli(capsys, "catalogue", "--catalogue", str(f), "--json")
    assert code == 0, err
    mine = next(a for a in json.loads(out)["accelerators"] if a["name"] == "h100-sxm")
    assert mine["hbm_bandwidth_bytes_per_s"] == pytest.approx(4e12)
    code, _, err = run_cli(capsys, "catalogue", "--catalogue", str(tmp_path / "none.yaml"))
    assert code == 2
    assert "none.yaml" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "dgx-h100", "--model", "llama-3-70b", "--cost", "usd_per_kwh=nan"],
         "--cost usd_per_kwh: expected a finite number"),
        (["compare", "dgx-h100", "--model", "llama-3-70b", "--cost", "hardware_life_years=0"],
         "--cost hardware_life_years: expected a number of at least"),
        (["serve", "dgx-h100", "--model", "llama-3-70b", "--rate", "1", "--seed", "-1"],
         "--seed must be a whole number"),
        (["serve", "dgx-h100", "--model", "llama-3-70b", "--rate", "5e-324", "--requests", "5"],
         "--rate must be from 1e-9 to 1e9"),
        (["evaluate", "dgx-h100", "--model", "llama-3-70b", "--gpu-hour-usd", "1e308"],
         "--gpu-hour-usd must be a price from 0 to 1e6"),
        (["schema", "-o", "."], "expected a file name to write"),
    ],
)  # fmt: skip
def test_bad_numbers_and_paths_are_input_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert "internal error" not in err


def test_gallery_into_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "figures"
    f.write_text("keep me")
    code, _, err = run_cli(capsys, "gallery", "-o", str(f))
    assert code == 2
    assert "expected a folder" in err
    assert f.read_text() == "keep me"
    code, _, err = run_cli(capsys, "gallery", "-o", str(tmp_path / "g"), "--workers", "0")
    assert code == 2
    assert "--workers: expected a whole number from 1 to 1024, got '0'" in err
    assert not (tmp_path / "g").exists()


def test_study_costs_are_checked_at_load(tmp_path: Path) -> None:
    from topo.errors import LayoutError
    from topo.study import load_study

    f = tmp_path / "s.yaml"
    f.write_text(
        "name: s\nlayouts: [dgx-h100]\nmodels: [llama-3.1-8b]\ncosts: {hardware_life_years: 0}\n"
    )
    with pytest.raises(LayoutError) as e:
        load_study(f)
    assert "costs.hardware_life_years: expected a number" in str(e.value)


def test_serve_states_the_hbm_drain(capsys: pytest.CaptureFixture[str]) -> None:
    """Beside the interval: the seed's HBM drain (80 GB / 3.35 TB/s = 23.9 ms on H100) and
    what sets the interval."""
    import json

    args = ("serve", "dgx-h100", "--model", "llama-3-70b", "--rate", "1", "--requests", "50")
    code, out, _ = run_cli(capsys, *args, "--json")
    assert code == 0
    s = json.loads(out)
    assert s["hbm_drain_s"] == pytest.approx(80e9 / 3.35e12)
    assert s["interval_over_drain"] == pytest.approx(s["interval_s"] / s["hbm_drain_s"])
    assert s["interval_set_by"].split(":")[0] in ("HBM drain", "compute", "communication")
    code, out, _ = run_cli(capsys, *args)
    assert "HBM drain 23.88 ms" in out


def test_huge_numbers_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    from topo.errors import LayoutError

    big = tmp_path / "big.yaml"
    big.write_text("extends: dgx-h100\nname: big\nnotes: 1" + "0" * 5000 + "\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("extends: dgx-h100\nname: deep\nnotes: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(LayoutError, match=r"big.yaml:3: a number with over 1,000 digits"):
        load_layout(big)
    with pytest.raises(LayoutError, match="nested too deeply"):
        load_layout(deep)


def test_written_files_follow_the_umask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "s.json"
        assert run_cli(capsys, "schema", "-o", str(out))[0] == 0
        assert out.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


def test_plan_under_an_slo_searches_the_batch() -> None:
    """The largest batch that meets 30 ms on the step model, not the power of two below."""
    import numpy as np

    from topo.build import build_graph
    from topo.models import load_model
    from topo.perf import Workload, comm_model, decode, memory
    from topo.place import Plan, place
    from topo.plans import largest_batch_within, rank, search
    from topo.routing import Fabric

    layout = load_layout("dgx-h100")
    G = build_graph(layout)
    model = load_model("llama-3-70b")
    plan, w = Plan(tp=4), Workload()
    comm = comm_model(Fabric(G), place(G, plan))
    top = memory(layout, model, plan, 1, w).max_batch
    b = largest_batch_within(layout, model, plan, w, comm, top, 0.030)
    t = decode(layout, model, plan, np.array([b, b + 1.0]), w, comm).tpot
    assert t[0] <= 0.030 < t[1]
    assert b & (b - 1)  # not a power of two here
    best = rank(search(layout, G, model, w, max_latency_s=0.030), "throughput")[0]
    assert best.time_per_output_token_s >= 0.95 * 0.030


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "dgx-h100", "--model", "llama-3-70b", "--calibration", "/dev/zero"],
        ["validate", "/dev/zero"],
        ["show", "dgx-h100", "--catalogue", "/dev/zero"],
    ],
)
def test_endless_files_are_refused_at_the_limit(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert "/dev/zero: larger than" in err


def test_nccl_tests_errors_name_file_and_row(tmp_path: Path) -> None:
    from topo.calibrate import load_measurements
    from topo.errors import LayoutError

    head = "# all_reduce_perf\n#  size count type redop root time algbw busbw #wrong\n"
    f = tmp_path / "ar.txt"
    f.write_text(
        head.replace("\n#", "\n# nThread 1 nGpus 8\n#", 1) + "  1024 256 float sum -1 0 0 0 0\n"
    )
    with pytest.raises(LayoutError, match=r"ar.txt:4: time: expected a time above 0"):
        load_measurements(f, layout="dgx-h100")
    f.write_text(head + "  2048 512 float sum -1 12.0 0.1 0.2 0\n")
    with pytest.raises(LayoutError, match=r"ar.txt:1: nGpus: no 'nGpus' or 'nRanks' line"):
        load_measurements(f, layout="dgx-h100")


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_vector_figures_are_reproducible(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    for out in (a, b):
        assert run_cli(capsys, "plot", "limits", "gb200-nvl72", "-o", str(out))[0] == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("vary: {racks: [100000000]}\n", "vary.racks[0]: dgx-h100: 800,000,000 GPUs"),
        ("cluster_gpus: 1000000000000\n", "cluster_gpus: 1,000,000,000,000 GPUs"),
    ],
)
def test_studies_cannot_bypass_the_gpu_limit(tmp_path: Path, extra: str, message: str) -> None:
    from topo.errors import LayoutError
    from topo.study import load_study

    f = tmp_path / "s.yaml"
    f.write_text("name: s\nlayouts: [dgx-h100]\nmodels: [llama-3.1-8b]\n" + extra)
    with pytest.raises(LayoutError) as e:
        load_study(f)
    assert message in str(e.value)
    assert "topo models at most 262,144" in str(e.value)


def test_moe_says_what_latency_and_shares_take_away() -> None:
    """Two NVL72 racks: at link rate dispatch is 18 (M-1)/M x 72/71 = 9.13x the in-rack
    all-to-all; charged as measured it is less (latency and the NVLink share narrow it)."""
    from topo.build import build_graph
    from topo.moe import moe_all_to_all

    G = build_graph(load_layout("gb200-nvl72-x16"))
    r = moe_all_to_all(G, hidden=7168, topk=8, tokens_per_gpu=128, ep=144)
    assert r.slowdown_at_link_rate == pytest.approx(18 * 0.5 * 72 / 71, rel=0.02)
    assert r.slowdown_vs_one_domain is not None
    assert r.slowdown_vs_one_domain < r.slowdown_at_link_rate


def test_plan_notation_says_ep_shares_the_stage(capsys: pytest.CaptureFixture[str]) -> None:
    """tp 1 x ep 8 x pp 2 x dp 8 uses 16 GPUs: ep runs over the tp x dp GPUs of a stage."""
    code, out, _ = run_cli(
        capsys, "evaluate", "dgx-h100-superpod", "--model", "deepseek-v3", "--weights", "fp8",
        "--tp", "1", "--ep", "8", "--pp", "2", "--dp", "8", "--batch", "8",
    )  # fmt: skip
    assert code == 0
    assert "(16 GPUs; ep 8 runs over the tp x dp = 8 GPUs of a stage, packed)" in out


def test_echoed_values_are_cut(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "evaluate", "dgx-h100", "--model", "llama-3-70b", "--weights", "q" * 3000
    )
    assert code == 2
    assert "q" * 200 + "..." in err
    assert "q" * 201 not in err


def test_plans_are_not_only_powers_of_two() -> None:
    """A 72-GPU rack runs plans on all 72 GPUs: dp 9 x tp 8, ep 72, tp 1 x dp 72."""
    from topo.models import load_model
    from topo.place import Plan
    from topo.plans import candidate_plans

    plans = set(candidate_plans(load_layout("gb200-nvl72"), load_model("deepseek-v3")))
    for p in (Plan(8, 8, 1, 9), Plan(1, 72, 1, 72), Plan(4, 72, 1, 18), Plan(1, 9, 1, 9)):
        assert p in plans, p
    # tp must split DeepSeek-V3's 128 heads whole: 3, 6, 9, 12, 24, 72 never appear.
    assert {p.tp for p in plans} == {1, 2, 4, 8, 16, 32, 64}
    llama = candidate_plans(load_layout("gb200-nvl72"), load_model("llama-3-70b"))
    assert max(p.world for p in llama) == 72  # 8 x 9, not 64


def test_an_ep_that_does_not_divide_the_experts_holds_the_ceiling() -> None:
    """ep 72 over 256 experts: the busiest GPU holds ceil(256 / 72) = 4 experts."""
    from topo.models import load_model
    from topo.perf import Workload, memory
    from topo.place import Plan

    m = load_model("deepseek-v3")
    p = m.params
    got = memory(load_layout("gb200-nvl72"), m, Plan(1, 72, 1, 72), 1, Workload(weights="fp8"))
    # fp8: one byte per parameter; everything but the routed experts, plus 4 experts x 58
    # MoE layers.
    expected = p.non_expert + 4 * p.expert * p.moe_layers
    assert got.weights_bytes_per_gpu == pytest.approx(expected)
    assert p.expert == 3 * 7168 * 2048  # gate, up, down of one expert


def test_plan_search_takes_the_batch_at_the_memory_limit() -> None:
    """Throughput rises with batch: the search's best sits at a plan's memory limit."""
    from topo.build import build_graph
    from topo.models import load_model
    from topo.perf import Workload, memory
    from topo.place import Plan
    from topo.plans import search

    layout = load_layout("dgx-h100")
    m = load_model("llama-3-70b")
    w = Workload()
    plan = Plan(8, 1, 1, 1)
    rows = search(layout, build_graph(layout), m, w, plans=[plan], strategies=("packed",))
    top = memory(layout, m, plan, 1, w).max_batch
    assert top & (top - 1)  # not a power of two
    assert max(r.batch for r in rows) == top
    # and no batch below dp: a replica without a sequence is idle
    rows = search(layout, build_graph(layout), m, w, plans=[Plan(4, 1, 1, 2)])
    assert min(r.batch for r in rows) == 2


def test_plan_table_folds_copies_of_one_block(capsys: pytest.CaptureFixture[str]) -> None:
    """Plans that differ only in copies of one tp x pp block show once, with the copies."""
    code, out, _ = run_cli(capsys, "plan", "dgx-h100-superpod", "--model", "llama-3-70b")
    assert code == 0
    assert re.search(r"^\s+8x1x1x1-32\s+packed\s+8-256\s+1-32\s", out, re.M)
    assert "dp a-b: the same plan with more copies" in out
    code, out, _ = run_cli(capsys, "plan", "dgx-h100-superpod", "--model", "llama-3-70b", "--json")
    data = json.loads(out)
    for part in ("ranked", "pareto"):
        keys = [_block_key(r) for r in data[part]]
        assert len(keys) == len(set(keys)), part  # each block and batch shown once


def _block_key(r: dict[str, Any]) -> tuple[Any, ...]:
    """A row's plan block and batch per copy; checks the copies it lists on the way."""
    p = r["plan"]
    rep = r.get("replicas", {"dp": [p["dp"]], "gpus": [r["gpus"]], "batch": [r["batch"]]})
    assert rep["gpus"] == [p["tp"] * p["pp"] * d for d in rep["dp"]]
    # c copies run c x the batch of one copy
    assert [b * rep["dp"][0] for b in rep["batch"]] == [rep["batch"][0] * d for d in rep["dp"]]
    unit = max(p["tp"], p["ep"]) // p["tp"]
    copies = rep["dp"][0] // unit
    return (p["tp"], p["ep"], p["pp"], r["strategy"], rep["batch"][0] / copies)


def test_compare_counts_the_gpus_a_plan_leaves_idle() -> None:
    """A 72-GPU rack is judged by tokens/s over its 72 GPUs, and its best plan uses them."""
    from topo.design import assess

    row = assess(
        {"layout": "gb200-nvl72", "model": "deepseek-v3", "weights": "fp8", "slo_tpot_s": 0.01}
    )
    assert row.gpus_busy == 72
    assert row.plan is not None
    assert row.plan.tp * row.plan.pp * row.plan.dp == 72


def test_floor_is_the_plans_own_per_token_and_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    """With data-parallel attention each tp group reads its own dense weights; with
    speculation a step emits several tokens. The floor shown is the plan's, labelled."""
    from topo.models import load_model

    m = load_model("deepseek-v3")
    p = m.params
    bw = load_layout("gb200-nvl72").accelerator.hbm_bandwidth_bytes_per_s
    code, out, _ = run_cli(
        capsys, "evaluate", "gb200-nvl72", "--model", "deepseek-v3", "--weights", "fp8",
        "--tp", "4", "--ep", "72", "--dp", "18", "--batch", "468",
        "--draft-tokens", "2", "--accepted-tokens", "2", "--json",
    )  # fmt: skip
    assert code == 0
    d = json.loads(out)
    tokens = 468  # meet one copy of the experts (18 attention ranks x 26)
    share = 1 - (1 - 8 / 256) ** tokens
    dense = (p.non_expert - p.embedding) / 4  # over the tp group, not the 72 GPUs
    experts = share * 4 * p.expert * p.moe_layers  # ceil(256 / 72) = 4 experts a GPU
    rows = 26 * m.d_model / 4  # embedding rows of one rank's sequences
    step = (dense + experts + rows) * 1 / bw  # fp8: one byte a parameter
    assert d["latency_floor_step_s"] == pytest.approx(step, rel=1e-9)
    assert d["latency_floor_s"] == pytest.approx(step / 2, rel=1e-9)
    assert d["latency_floor_basis"]["dense_weights_gpus"] == 4
    code, out, _ = run_cli(
        capsys, "evaluate", "gb200-nvl72", "--model", "deepseek-v3", "--weights", "fp8",
        "--tp", "4", "--ep", "72", "--dp", "18", "--batch", "468",
        "--draft-tokens", "2", "--accepted-tokens", "2",
    )  # fmt: skip
    line = next(x for x in out.splitlines() if "latency floor" in x)
    assert "per token = " in line
    assert "per step / 2 tokens" in line
    assert "dense weights over tp 4 GPUs, experts over 72" in line
    assert "data-parallel attention" in line


def test_one_spelling_for_output_files(capsys: pytest.CaptureFixture[str]) -> None:
    """-o / --output-file (a folder: --output-dir) writes; --output is the tokens generated."""
    from topo.cli import _parser

    parser = _parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sp in subs.choices.items():
        for action in sp._actions:
            if action.dest == "output":
                assert action.option_strings[0] == "-o", name
                assert action.option_strings[1] in ("--output-file", "--output-dir"), name
            if "--output" in action.option_strings:
                assert action.dest == "output_tokens", name
    base = ["--model", "llama-3-70b", "--tp", "8", "--batch", "1", "--json"]
    _, a, _ = run_cli(capsys, "evaluate", "dgx-h100", *base, "--output", "256")
    _, b, _ = run_cli(capsys, "evaluate", "dgx-h100", *base, "--output-tokens", "256")
    assert json.loads(a) == json.loads(b)


@pytest.mark.parametrize(
    ("argv", "wrong"),
    [
        (["links", "dgx-h100", "--batch", "4"], "--batch does not apply"),
        (["limits", "dgx-h100", "--model", "llama-3-70b"], "--model does not apply"),
        (["roofline", "dgx-h100", "--model", "llama-3-70b", "--gpus", "4"], "--gpus does not"),
        (["tradeoff", "dgx-h100", "--model", "llama-3-70b", "--x=a"], "--x does not apply"),
    ],
)
def test_plot_refuses_options_of_other_figures(
    argv: list[str], wrong: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.png"
    code, _, err = run_cli(capsys, "plot", *argv, "-o", str(out))
    assert code == 2
    assert wrong in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "has", "lacks"),
    [
        ("links", "--op", "--model"),
        ("roofline", "--model", "--op"),
        ("tradeoff", "--compare", "--gpus"),
        ("limits", "-o FILE", "--batch"),
        ("study", "--x", "--model"),
    ],
)
def test_plot_help_is_each_figures_own(
    kind: str, has: str, lacks: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "plot", kind, "--help")
    assert code == 0
    assert has in out
    assert lacks not in out


_MY = """name: my
accelerator: {acc}
rack:
  devices:
    - {{kind: compute_tray, count: 2, gpus: 4}}
    - {{kind: switch_tray, count: 1, switch_chips: 2, ports: 144}}
scale_up:
  topology: switched{link}
scale_out:
  nic_bandwidth: 400 Gb/s
  link: ib-ndr
"""
_NVL5 = "\n  links_per_gpu: 18\n  link: nvlink5"
_X1 = """accelerators:
  - name: x1
    peak_compute: {bf16: 1 PFLOP/s}
    hbm_capacity: 80 GB
    power: lots
"""


@pytest.mark.parametrize(
    ("acc", "link", "parts", "expected"),
    [
        # A malformed entry: the layout's line and key, then the catalogue's.
        (
            "x1",
            _NVL5,
            _X1,
            "my.yaml:2: accelerator: catalogue entry 'x1' is invalid: {d}/parts.yaml:5: "
            "accelerators[0].power: expected a power like \"132 kW\", got 'lots'",
        ),
        # An inline entry based on the bad one.
        (
            "{name: x1, power: 1 kW}",
            _NVL5,
            _X1,
            "my.yaml:2: accelerator: catalogue entry 'x1' is invalid: {d}/parts.yaml:5:",
        ),
        # An incomplete new entry.
        (
            "x2",
            _NVL5,
            "accelerators:\n  - name: x2\n    hbm_capacity: 80 GB\n",
            "my.yaml:2: accelerator: catalogue entry 'x2' is invalid: {d}/parts.yaml:2: "
            "accelerators[0]: missing keys peak_compute",
        ),
        # The layout names no link: the accelerator's scale_up_link is a bad entry.
        (
            "x3",
            "\n  links_per_gpu: 18",
            "accelerators:\n  - name: x3\n    peak_compute: {bf16: 1 PFLOP/s}\n"
            "    hbm_capacity: 80 GB\n    scale_up_link: l3\n"
            "links:\n  - name: l3\n    bandwidth: 10 GB/x\n",
            "my.yaml:7: scale_up.link: accelerator 'x3' at {d}/parts.yaml:2 names 'l3': "
            "catalogue entry 'l3' is invalid: {d}/parts.yaml:8: links[0].bandwidth:",
        ),
        # ... or one that does not exist.
        (
            "x4",
            "\n  links_per_gpu: 18",
            "accelerators:\n  - name: x4\n    peak_compute: {bf16: 1 PFLOP/s}\n"
            "    hbm_capacity: 80 GB\n    scale_up_link: nolink\n",
            "my.yaml:7: scale_up.link: accelerator 'x4' at {d}/parts.yaml:2 names 'nolink': "
            "unknown link 'nolink'",
        ),
        # A good entry that lacks what the layout leaves to it.
        (
            "x5",
            "\n  link: nvlink5",
            "accelerators:\n  - name: x5\n    peak_compute: {bf16: 1 PFLOP/s}\n"
            "    hbm_capacity: 80 GB\n",
            "my.yaml:7: scale_up: missing key 'links_per_gpu' (x5 at {d}/parts.yaml:2 has no "
            "default)",
        ),
        # An unknown name.
        (
            "x6",
            _NVL5,
            _X1,
            "my.yaml:2: accelerator: unknown accelerator 'x6'",
        ),
    ],
)
def test_catalogue_errors_name_the_layout_line(
    acc: str,
    link: str,
    parts: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    my = tmp_path / "my.yaml"
    my.write_text(_MY.format(acc=acc, link=link), encoding="utf-8")
    (tmp_path / "parts.yaml").write_text(parts, encoding="utf-8")
    code, out, err = run_cli(capsys, "show", str(my), "--catalogue", str(tmp_path / "parts.yaml"))
    lines = err.strip().splitlines()
    assert code == 2
    assert out == ""
    if acc == "x6":  # the unused bad entry x1 is still an error of its own file
        assert len(lines) == 2
        assert lines[1].startswith(f"error: {tmp_path}/parts.yaml:5: accelerators[0].power")
    else:
        assert len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path}/")
    assert expected.format(d=tmp_path) in lines[0]


def test_latency_limit_prunes_only_plans_that_cannot_meet_it() -> None:
    """Plans skipped as too slow before placement are exactly those no batch saves."""
    from topo.build import build_graph
    from topo.models import load_model
    from topo.perf import Workload
    from topo.plans import search

    layout = load_layout("dgx-h100-superpod")
    G = build_graph(layout)
    m = load_model("llama-3-70b")
    limit = 0.020
    kept = search(layout, G, m, Workload(), max_latency_s=limit, strategies=("packed",))
    every = search(layout, G, m, Workload(), refine_latency_s=limit, strategies=("packed",))
    assert kept
    assert sorted(map(repr, kept)) == sorted(
        repr(r) for r in every if r.time_per_output_token_s <= limit
    )


def test_a_special_file_target_is_written_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o /dev/null` or a pipe: written in place, never renamed over (that replaced
    /dev/zero with a JSON file when run as root)."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run_cli(capsys, "schema", "-o", str(fifo))
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(got[0])["title"]


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "dgx-h100", "--model", "llama-3-70b", "--tp", "3", "--rate", "1"],
        ["price", "dgx-h100", "--model", "llama-3-70b", "--tp", "3"],
        ["cache", "dgx-h100", "--model", "llama-3-70b", "--tp", "3", "--prefix", "1000"],
    ],
    ids=["serve", "price", "cache"],
)
def test_serving_commands_refuse_a_plan_the_model_cannot_run(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Found with `topo plot placement`: serve, price and cache ran tp 3 on 64 heads."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert "tp 3 does not divide llama-3-70b's 64 attention heads" in err
