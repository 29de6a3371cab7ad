"""Every command once through main(), with its output checked, and its bad-input path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
from helpers import bundled_doc, run_cli

from topo.kernels import collective_efficiency
from topo.layout import bundled_layouts


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, *argv)


def test_show_json_nvl72(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "gb200-nvl72", "--json")
    assert code == 0
    s = json.loads(out)
    assert (s["gpus"], s["domains"], s["domain_size"], s["racks"]) == (72, 1, 72, 1)
    assert s["scale_up_bandwidth_per_gpu_bytes_per_s"] == 900e9
    assert s["hbm_bandwidth_bytes_per_s"] == 72 * 8.0e12  # 72 x the catalogue's 8 TB/s
    assert s["hbm_capacity_bytes"] == 72 * 186e9
    assert s["scale_out_bandwidth_per_gpu_bytes_per_s"] == 50e9
    assert s["scale_up_to_scale_out_ratio"] == pytest.approx(18)  # physical_limits.md sec. 7
    # 72 GPUs on a non-blocking 400 Gb/s tree: 36 x 50 GB/s across the cut.
    assert s["bisection_bandwidth_bytes_per_s"] == pytest.approx(36 * 50e9)
    up = [r for r in s["links"] if r["kind"] == "scale_up"]
    assert up == [{**up[0], "medium": "copper", "edges": 1296, "links": 1296, "lanes": 2592}]


def test_show_json_x16_and_tpu(capsys: pytest.CaptureFixture[str]) -> None:
    s = json.loads(run(capsys, "show", "gb200-nvl72-x16", "--json")[1])
    assert (s["gpus"], s["domains"]) == (1152, 16)
    assert s["scale_out_bandwidth_per_gpu_bytes_per_s"] == 50e9
    t = json.loads(run(capsys, "show", "tpu-v5p-4x4x4", "--json")[1])
    assert t["gpus"] == 64
    assert t["scale_up_neighbours_per_gpu"] == {"min": 6, "max": 6}
    # TPU v5p: 600 GB/s ICI per direction against 6.25 GB/s DCN = 96x (physical_limits.md).
    assert t["scale_up_to_scale_out_ratio"] == pytest.approx(96)


def test_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "dgx-h100")
    assert code == 0
    assert "8 in 1 rack of 8" in out
    assert "450 GB/s per direction" in out
    assert "26.8 TB/s" in out  # 8 x 3.35 TB/s aggregate HBM bandwidth


def test_show_by_path(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(bundled_layouts()["mi300x-8"])
    s = json.loads(run(capsys, "show", path, "--json")[1])
    assert s["scale_up_bandwidth_per_gpu_bytes_per_s"] == 7 * 64e9


def test_export_graphml_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = tmp_path / "nvl72.graphml"
    assert run(capsys, "export", "gb200-nvl72", "--format", "graphml", "-o", str(g))[0] == 0
    G = nx.read_graphml(g)
    assert sum(1 for _, a in G.nodes(data=True) if a["kind"] == "gpu") == 72
    bw = {a["bandwidth"] for _, _, a in G.edges(data=True) if a["kind"] == "scale_up"}
    assert bw == {50e9}  # SI floats survive the round trip
    j = tmp_path / "nvl72.json"
    assert run(capsys, "export", "gb200-nvl72", "-o", str(j))[0] == 0
    H = nx.node_link_graph(json.loads(j.read_text()), edges="edges")
    assert H.number_of_edges() == G.number_of_edges()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_export_to_missing_folder_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "g.graphml"
    code, _, err = run(capsys, "export", "dgx-h100", "-o", str(out))
    assert code == 2
    assert "does not exist" in err
    assert not out.exists()


def test_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "layouts")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(bundled_layouts())
    assert any(line.startswith("gb200-nvl72-x16") and "1152" in line for line in lines)
    rows = json.loads(run(capsys, "layouts", "--json")[1])
    assert {r["name"] for r in rows} == set(bundled_layouts())


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "topo layout"
    f = tmp_path / "s.json"
    assert run(capsys, "schema", "-o", str(f))[0] == 0
    assert json.loads(f.read_text())["title"] == "topo layout"


@pytest.mark.parametrize(
    "command",
    [
        "show",
        "export",
        "layouts",
        "schema",
        "place",
        "collective",
        "moe",
        "evaluate",
        "sweep",
        "plan",
    ],
)
def test_help_has_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "Example:" in out
    assert f"topo {command}" in out


def test_no_command_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            capsys,
        )[0]
        == 2
    )
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "--version")[0] == 0


@pytest.mark.parametrize("command", [["show"], ["export", "-o", "x.graphml"]])
def test_bad_layout_exit_2_one_line_each(
    command: list[str],
    write_layout: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = bundled_doc("gb200-nvl72")
    doc["namex"] = 1
    doc["rack"]["power_budget"] = "800 Gb/s"
    doc["rack"]["devices"][2]["count"] = -4
    doc["accelerator"] = "h100x-unknown"
    path = write_layout(doc, "bad-layout.yaml")
    code, out, err = run(capsys, command[0], str(path), *command[1:])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"error: {path}:") for line in lines)
    assert "Traceback" not in out + err
    assert not (tmp_path / "x.graphml").exists()


def test_unknown_layout_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "dgx-h10")
    assert code == 2
    assert "did you mean 'dgx-h100'" in err


def test_catalogue_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "cat.yaml"
    f.write_text("accelerators:\n  - {name: h100-sxm, hbm_bandwidth: 3 TB/s}\n")
    s = json.loads(run(capsys, "show", "dgx-h100", "--catalogue", str(f), "--json")[1])
    assert s["hbm_bandwidth_bytes_per_s"] == 8 * 3e12
    bad = tmp_path / "bad.yaml"
    bad.write_text("accelerators: 3\n")
    code, _, err = run(capsys, "show", "dgx-h100", "--catalogue", str(bad))
    assert code == 2
    assert "bad.yaml:1: accelerators: expected a list" in err


def test_place_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "place", "gb200-nvl72-x16", "--tp", "8", "--pp", "4", "--dp", "36")
    assert code == 0
    assert "tp        8     144       0        1      1    scale-up  900 GB/s" in out
    # A replica is 32 ranks (tp 8 x pp 4); replicas 2, 4 and 6 of every 9 (ranks 64-95,
    # 128-159, 192-223 of each 288) hold a rack's end: 12 of 36, 8 pipelines each.
    assert "pp        4     288      96        2      2   scale-out   50 GB/s" in out
    data = json.loads(
        run(
            capsys,
            "place",
            "dgx-h100-superpod",
            "--tp",
            "8",
            "--json",
            "--strategy",
            "naive",
            "--ranks",
        )[1]
    )
    tp = next(g for g in data["groups"] if g["kind"] == "tp")
    assert tp["racks_spanned"] == 8
    assert tp["bottleneck_bandwidth_per_gpu_bytes_per_s"] == 50e9
    assert len(data["ranks"]) == 8
    code, _, err = run(capsys, "place", "dgx-h100", "--tp", "16")
    assert code == 2
    assert "needs 16 GPUs; the layout has 8" in err


ARGS_X16_A2A = ("collective", "gb200-nvl72-x16", "--op", "all-to-all", "--gpus", "144")


def test_collective_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *ARGS_X16_A2A, "--bytes", "1 GB", "--json")
    assert code == 0
    c = json.loads(out)
    for key in (
        "op",
        "gpus",
        "bytes_per_gpu",
        "time_s",
        "alpha_s",
        "beta_s",
        "algorithm",
        "busiest_link",
        "algorithm_bandwidth_bytes_per_s",
        "bus_bandwidth_bytes_per_s",
        "domains_spanned",
        "racks_spanned",
    ):
        assert key in c
    assert c["racks_spanned"] == 2
    assert set(c["busiest_link"]) == {"u", "v", "bytes", "bandwidth_bytes_per_s"}
    # At link rate (--clean) half of the 1 GB leaves each GPU over its 400 Gb/s NIC.
    code, out, _ = run(capsys, *ARGS_X16_A2A, "--json", "--clean")
    bare = json.loads(out)
    assert bare["beta_s"] == pytest.approx(0.5e9 / 50e9, rel=0.01)
    assert bare["time_s"] == pytest.approx(c["clean_time_s"])
    # The default charge: the share of link rate DeepEP's internode kernels reached at
    # this size (from the scale-out curve of the kernel tables).
    _, share = collective_efficiency("ib-ndr", "all-to-all", 1e9, 144)
    assert c["transfer_s"] == pytest.approx(bare["beta_s"] / float(share), rel=1e-6)
    assert c["beta_s"] == pytest.approx(bare["beta_s"])  # the link-rate parts are kept
    assert c["time_s"] == pytest.approx(c["latency_s"] + c["transfer_s"])
    assert c["time_s"] >= c["beta_s"]  # never charged below the link rate
    assert "all-to-all on 16 GPUs of ib-ndr" in c["basis"]
    assert "deepep" in c["basis"]
    code, out, _ = run(capsys, "collective", "dgx-h100", "--op", "all-reduce", "--gpus", "8")
    assert code == 0
    assert "busbw" in out
    assert "algorithm" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--gpus", "1"], "--gpus must be from 2 to the layout's 72 GPUs"),
        (["--gpus", "8", "--bytes", "8 kW"], '--bytes: expected a data like "80 GB"'),
        (["--gpus", "8", "--algorithm", "hierarchical"], "hierarchical needs a group"),
    ],
)
def test_collective_bad_input(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "collective", "gb200-nvl72", "--op", "all-reduce", *argv)
    assert code == 2
    assert match in err


def test_moe_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "moe",
        "gb200-nvl72-x16",
        "--model-hidden",
        "7168",
        "--topk",
        "8",
        "--tokens-per-gpu",
        "32",
        "--ep",
        "144",
        "--dispatch-bytes",
        "1",
        "--json",
    )
    assert code == 0
    m = json.loads(out)
    assert m["share_cross_rack"] == pytest.approx(0.5)
    assert m["per_byte_slowdown_cross_domain"] == pytest.approx(18)
    code, out, _ = run(
        capsys,
        "moe",
        "gb200-nvl72",
        "--model-hidden",
        "7168",
        "--topk",
        "8",
        "--tokens-per-gpu",
        "32",
        "--ep",
        "72",
        "--expert-ffn",
        "2048",
    )
    assert code == 0
    assert "largest EP in a domain  72 GPUs" in out
    code, _, err = run(
        capsys,
        "moe",
        "gb200-nvl72",
        "--model-hidden",
        "0",
        "--topk",
        "8",
        "--tokens-per-gpu",
        "32",
        "--ep",
        "8",
    )
    assert code == 2
    assert "hidden must be >= 1" in err


def test_evaluate_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "evaluate",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "--batch",
        "1",
        "--json",
    )
    assert code == 0
    e = json.loads(out)
    assert e["plan"] == {"tp": 8, "ep": 1, "pp": 1, "dp": 1}
    assert e["latency_floor_all_weights_s"] == pytest.approx(141.1e9 / (8 * 3.35e12), rel=1e-3)
    assert e["critical_batch"]["seed_rule"] == pytest.approx(295.3, rel=1e-3)
    assert e["decode"]["time_per_output_token_s"] >= e["latency_floor_s"]
    for key in (
        "step_time_s",
        "time_per_output_token_s",
        "tokens_per_s",
        "tokens_per_s_per_gpu",
        "bound",
        "breakdown_s",
    ):
        assert key in e["decode"]
    for key in ("weights_bytes_per_gpu", "kv_bytes_per_gpu", "fits", "max_batch"):
        assert key in e["memory"]
    code, out, _ = run(capsys, "evaluate", "dgx-h100", "--model", "llama-3-70b", "--tp", "8")
    assert code == 0
    assert "time per output token" in out
    assert "memory-bound" in out


def test_evaluate_fills_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    # Only ep given: the rest is the best plan for throughput that fits, with ep 8.
    e = json.loads(
        run(
            capsys,
            "evaluate",
            "dgx-h200",
            "--model",
            "deepseek-v3",
            "--ep",
            "8",
            "--batch",
            "1",
            "--weights",
            "fp8",
            "--json",
        )[1]
    )
    assert e["plan"]["ep"] == 8
    assert 0.8e-3 <= e["latency_floor_s"] <= 1.2e-3
    e = json.loads(run(capsys, "evaluate", "dgx-h100", "--model", "llama-3.1-8b", "--json")[1])
    assert e["memory"]["fits"]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--model", "llama-3-7b"], "did you mean 'llama-3-70b'"),
        (["--model", "llama-3-70b", "--tp", "3", "--ep", "2"], "ep 2 must divide tp 3"),
        (["--model", "llama-3-70b", "--tp", "16"], "needs 16 GPUs; the layout has 8"),
        (
            ["--model", "llama-3-70b", "--tp", "1", "--pp", "1", "--dp", "1"],
            "needs .* GB more HBM per GPU",
        ),
        (
            ["--model", "llama-3-70b", "--tp", "8", "--batch", "100000"],
            r"needs .* GB more HBM per GPU .*largest batch that fits: \d+",
        ),
        (["--model", "llama-3-70b", "--tp", "8", "--input", "-5"], "--input must be from 0"),
        (["--model", "llama-3-70b", "--tp", "8", "--compute", "fp4"], "has no published fp4"),
    ],
)
def test_evaluate_bad_input(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "evaluate", "dgx-h100", *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err), err
    assert "Traceback" not in out + err


def test_sweep_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "sweep",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "--batch",
        "1,8,64,512,2048",
        "--json",
    )
    assert code == 0
    s = json.loads(out)
    rows = s["rows"]
    assert [r["batch"] for r in rows] == [1, 8, 64, 512, 2048]
    assert rows[-1]["fits"] is False  # 2,048 sequences of 1,088 tokens: too much KV
    assert all(r["time_per_output_token_s"] >= r["latency_floor_s"] for r in rows)
    code, out, _ = run(capsys, "sweep", "dgx-h100", "--model", "llama-3-70b", "--tp", "8")
    assert code == 0
    assert "<- critical" in out
    code, _, err = run(capsys, "sweep", "dgx-h100", "--model", "llama-3-70b", "--batch", "a,b")
    assert code == 2
    assert "expected a list like 1,2,4,8" in err


def test_plan_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "dgx-h100", "--model", "llama-3-70b", "--json")
    assert code == 0
    d = json.loads(out)
    best = d["best"]
    assert best == d["ranked"][0]
    tput = [r["tokens_per_s_per_gpu"] for r in d["ranked"]]
    assert tput == sorted(tput, reverse=True)
    front = d["pareto"]
    assert all(
        a["time_per_output_token_s"] <= b["time_per_output_token_s"]
        and a["tokens_per_s_per_gpu"] < b["tokens_per_s_per_gpu"]
        for a, b in zip(front, front[1:], strict=False)
    )
    code, out, _ = run(
        capsys,
        "plan",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--objective",
        "latency",
        "--max-latency-ms",
        "10",
    )
    assert code == 0
    assert "Pareto front" in out
    code, _, err = run(
        capsys, "plan", "dgx-h100", "--model", "llama-3-70b", "--max-latency-ms", "1"
    )
    assert code == 2
    assert "no plan fits in memory within 1.0 ms per token" in err


def test_moe_with_a_model_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "moe",
        "gb200-nvl72-x16",
        "--model",
        "deepseek-v3",
        "--tokens-per-gpu",
        "32",
        "--ep",
        "144",
        "--json",
    )
    assert code == 0
    m = json.loads(out)
    assert (m["hidden"], m["topk"]) == (7168, 8)
    assert m["dispatch_bytes_per_gpu"] == 32 * 8 * 7168 * 2
    code, _, err = run(
        capsys,
        "moe",
        "gb200-nvl72",
        "--model",
        "llama-3-70b",
        "--tokens-per-gpu",
        "32",
        "--ep",
        "8",
    )
    assert code == 2
    assert "has no experts" in err
    code, _, err = run(capsys, "moe", "gb200-nvl72", "--tokens-per-gpu", "32", "--ep", "8")
    assert code == 2
    assert "give --model" in err


def test_check_command(
    capsys: pytest.CaptureFixture[str], write_layout: Callable[..., Path]
) -> None:
    code, out, _ = run(capsys, "check", "gb200-nvl72", "--json")
    assert code == 0
    c = json.loads(out)
    assert c["ok"] is True
    assert c["binding"] == "switch ports"
    for chk in c["checks"]:
        assert set(chk) >= {"name", "scope", "value", "limit", "unit", "margin", "ok", "note"}
    code, out, _ = run(capsys, "check", "gb200-nvl72")
    assert code == 0
    assert "every checked limit holds" in out
    doc = bundled_doc("gb200-nvl72")
    doc["rack"]["power_budget"] = "50 kW"
    code, out, _ = run(capsys, "check", str(write_layout(doc)))
    assert code == 1
    assert "FAIL" in out
    code, _, err = run(capsys, "check", "gb200-nvl27")
    assert code == 2
    assert "did you mean" in err


def test_limits_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "limits", "gb200-nvl72", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["max_domain_size"] == 72
    assert d["binding"] in d["by_limit"]
    code, out, _ = run(
        capsys,
        "limits",
        "gb200-nvl72",
        "--vary",
        'power_budget="600 kW"',
        "--vary",
        "max_mass=3t",
        "--vary",
        "cable=active_copper",
    )
    assert code == 0
    assert "varied:" in out
    code, _, err = run(capsys, "limits", "gb200-nvl72", "--vary", "power_budget")
    assert code == 2
    assert "expected KEY=VALUE" in err


def test_the_console_script_exits_with_the_commands_status_and_all_its_output() -> None:
    """`topo` leaves without tearing the interpreter down: its status is the command's,
    and everything it wrote to stdout and stderr arrives (flushed before it leaves)."""
    import subprocess
    import sys

    ok = subprocess.run(
        [sys.executable, "-m", "topo", "layouts"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0
    assert len(ok.stdout.splitlines()) == len(bundled_layouts())  # every line, the last too
    bad = subprocess.run(
        [sys.executable, "-m", "topo", "show", "no-such-layout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "no-such-layout" in bad.stderr
    assert ok.stdout.endswith("\n")


@pytest.mark.parametrize(
    "name", ["gb200-nvl72-x16", "tpu-v5p-4x4x4", "mi300x-8", "dgx-h100-superpod"]
)
def test_graph_and_summary_report_progress(name: str) -> None:
    """build_graph ticks once per scale-up domain, then to twice that (the scale-out fabric
    and the links); summarize after each of its 4 parts; the graph is the same either way."""
    from topo.build import build_graph
    from topo.layout import load_layout
    from topo.stats import summarize

    lay = load_layout(name)
    calls: list[tuple[int, int]] = []
    G = build_graph(lay, progress=lambda done, total: calls.append((done, total)))
    domains = lay.n_gpus // lay.gpus_per_domain
    assert {t for _, t in calls} == {2 * domains}
    assert [d for d, _ in calls] == [*range(1, domains + 1), domains + domains // 2, 2 * domains]
    assert nx.utils.graphs_equal(G, build_graph(lay))
    parts: list[tuple[int, int]] = []
    assert summarize(lay, G, progress=lambda d, t: parts.append((d, t))) == summarize(lay, G)
    assert parts == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_progress_shows_past_2_seconds_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's progress: nothing within 2 s of the start; past it a tqdm bar on a
    terminal (timed from the start, not from when it shows), else a plain line every 10 s."""
    import sys

    from topo import commands

    clock = [100.0]
    monkeypatch.setattr(commands.time, "monotonic", lambda: clock[0])
    with commands._progress("working") as tick:
        for clock[0], done in ((100.5, 1), (101.9, 2), (104.0, 3), (109.0, 4), (115.0, 5)):
            tick(done, 9)
    # Not a terminal: a line at 104 s is within 10 s of the start, the next at 115 s.
    assert capsys.readouterr().err == "working: 5/9 (15 s)\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    clock[0] = 200.0
    with commands._progress("drawing", start=197.0) as tick:  # a later stage: shows at once
        tick(2, 8)
    assert re.search(r"drawing: +25%\|.*\| 2/8 \[00:0[23]", capsys.readouterr().err)


def test_export_json_is_node_link_data_one_element_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`topo export` JSON: node_link_data exactly, its header indented and each node and
    edge on a line of its own (written by json's C encoder); empty lists stay valid."""
    from topo.build import build_graph
    from topo.commands import _write_graph_json
    from topo.layout import load_layout

    out = tmp_path / "g.json"
    assert run(capsys, "export", "mi300x-8", "-o", str(out))[0] == 0
    want = nx.node_link_data(build_graph(load_layout("mi300x-8")), edges="edges")
    text = out.read_text()
    assert json.loads(text) == want
    lines = text.splitlines()
    assert len(lines) == len(json.dumps(want["graph"], indent=2).splitlines()) + 8 + sum(
        len(want[k]) for k in ("nodes", "edges")
    )
    assert lines[-1] == "}"
    ticks: list[tuple[int, int]] = []
    empty = {"directed": False, "graph": {}, "nodes": [], "edges": []}
    _write_graph_json(empty, tmp_path / "e.json", lambda *a: ticks.append(a))
    assert json.loads((tmp_path / "e.json").read_text()) == empty
    assert ticks == []
