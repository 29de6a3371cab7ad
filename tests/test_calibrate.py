"""Measurements, calibration, validation and their commands, against written-out arithmetic."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.calibrate import (
    calibrate,
    load_measurements,
    parse_nccl_tests,
    predict,
    validate,
)
from topo.errors import LayoutError
from topo.fidelity import DEFAULT, Fidelity, load_profile
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import Workload, decode, prefill
from topo.place import Plan

# Illustrative output in nccl-tests' format (all_reduce_perf -b 8 -e 8G -f 2 -g 8).
NCCL = (Path(__file__).parent / "data" / "all_reduce_perf.txt").read_text()


def _serving(model: str, tp: int, batch: int, metric: str, **kw: Any) -> dict[str, Any]:
    return {
        "kind": "serving",
        "layout": "dgx-h100",
        "model": model,
        "plan": {"tp": tp},
        "batch": batch,
        "input": kw.get("input", 512),
        "output": kw.get("output", 256),
        "metric": metric,
    }


def _synthetic(truth: Fidelity) -> list[dict[str, Any]]:
    """Points of three models with different depths, made by topo with `truth`."""
    pts = [
        _serving(m, tp, b, metric)
        for m, tp in (("llama-2-7b", 1), ("llama-3-70b", 4), ("gpt-j-6b", 1))
        for b in (1, 16, 256)
        for metric in ("time_per_output_token", "prefill_time")
    ]
    pts.append({"kind": "gemm", "accelerator": "h100-sxm", "m": 8192, "n": 8192, "k": 8192})
    pts.append({"kind": "bandwidth", "accelerator": "h100-sxm", "bytes": 8e9})
    for p in pts:
        p["value" if p["kind"] == "serving" else "time_s"] = predict(p, truth).value
    return pts


def test_nccl_tests_output_parses() -> None:
    pts = parse_nccl_tests(NCCL, layout="dgx-h100")
    assert [p["bytes"] for p in pts] == [8, 1048576, 8589934592]
    big = pts[-1]
    assert big["op"] == "all-reduce"
    assert big["gpus"] == 8
    assert big["layout"] == "dgx-h100"
    assert big["time_s"] == pytest.approx(46817e-6)  # out-of-place column, us
    assert big["busbw_bytes_per_s"] == pytest.approx(321.09e9)
    # algbw = size / time: 8.59e9 B / 46.817 ms = 183.5 GB/s
    assert big["bytes"] / big["time_s"] == pytest.approx(big["algbw_bytes_per_s"], rel=1e-3)


def test_nccl_file_loads_and_validates(tmp_path: Path) -> None:
    f = tmp_path / "all_reduce_perf.txt"
    f.write_text("# all_reduce_perf\n" + NCCL)
    with pytest.raises(LayoutError, match="--layout"):
        load_measurements(f)
    pts = load_measurements(f, layout="dgx-h100")
    assert len(pts) == 3
    assert all(p["kind"] == "collective" for p in pts)
    # An 8-GPU all-reduce of 8 B costs the measured per-call latency: nccl-tests' smallest
    # all-reduce on 8 x H100 (1 KiB, Azure's NVLS sweep) took 25.60 us.
    rows = validate(pts).points
    assert rows[0].predicted == pytest.approx(25.60e-6, rel=0.01)
    assert rows[0].error == pytest.approx(25.60e-6 / 24.51e-6 - 1, rel=0.01)


def test_gemm_and_bandwidth_predictions() -> None:
    # A measured shape costs what was measured: XLA's 4096^3 bf16 GEMM on H100, 176.2 us.
    g = predict({"kind": "gemm", "accelerator": "h100-sxm", "m": 4096, "n": 4096, "k": 4096})
    assert g.value == pytest.approx(176.2e-6, rel=1e-3)
    # A 64-row GEMM streams its 8192 x 8192 bf16 weights (and 64-row activations in and
    # out) at the BabelStream fraction: median of 2.90 and 2.97 TB/s over 3.35 TB/s.
    hbm = (2.90 / 3.35 + 2.97 / 3.35) / 2
    g = predict({"kind": "gemm", "accelerator": "h100-sxm", "m": 64, "n": 8192, "k": 8192})
    nbytes = 8192 * 8192 * 2 + 64 * (8192 + 8192) * 2
    assert g.value == pytest.approx(nbytes / (3.35e12 * hbm), rel=2e-3)
    b = predict({"kind": "bandwidth", "accelerator": "h100-sxm", "bytes": 8e9})
    assert b.value == pytest.approx(8e9 / (3.35e12 * hbm), rel=2e-3)


def test_static_batch_throughput_is_prefill_then_decode() -> None:
    pt = _serving("llama-2-7b", 1, 64, "static_batch_tokens_per_s_per_gpu", input=2048, output=128)
    got = predict(pt).value
    layout, model = load_layout("dgx-h100"), load_model("llama-2-7b")
    w = Workload(input_tokens=2048, output_tokens=128)
    pre = prefill(layout, model, Plan(tp=1), w, prompts=64).time_s
    import numpy as np

    tpot = float(decode(layout, model, Plan(tp=1), np.array([64.0]), w).tpot[0])
    assert got == pytest.approx(64 * 128 / (pre + 127 * tpot))


def test_prefill_of_many_prompts_reads_weights_once() -> None:
    layout, model = load_layout("dgx-h100"), load_model("llama-2-7b")
    w = Workload(input_tokens=2048, output_tokens=1)
    one = prefill(layout, model, Plan(), w)
    many = prefill(layout, model, Plan(), w, prompts=8)
    assert many.flops_per_gpu == pytest.approx(8 * one.flops_per_gpu)
    weights = model.params.total - model.params.embedding
    kv = 2048 * model.kv_bytes_per_token(2)
    assert one.bytes_per_gpu == pytest.approx(weights * 2 + kv, rel=1e-6)
    assert many.bytes_per_gpu == pytest.approx(weights * 2 + 8 * kv, rel=1e-6)


@settings(max_examples=6, deadline=None)
@given(
    hbm=st.floats(0.7, 1.05),
    compute=st.floats(0.6, 1.1),
    step=st.floats(0.1e-3, 5e-3),
    launch=st.floats(2e-6, 60e-6),
)
def test_calibration_recovers_known_parameters(
    hbm: float, compute: float, step: float, launch: float
) -> None:
    truth = dataclasses.replace(
        DEFAULT,
        hbm_scale=hbm,
        compute_scale=compute,
        step_overhead_s=step,
        launch_per_layer_s=launch,
    )
    got = calibrate(_synthetic(truth)).fidelity
    for name in ("hbm_scale", "compute_scale", "step_overhead_s", "launch_per_layer_s"):
        assert getattr(got, name) == pytest.approx(getattr(truth, name), rel=0.05), name


def test_calibration_is_deterministic() -> None:
    pts = _synthetic(dataclasses.replace(DEFAULT, hbm_scale=0.8, step_overhead_s=2e-3))
    for p in pts[::3]:  # some noise, so the fit is not exact
        key = "value" if p["kind"] == "serving" else "time_s"
        p[key] *= 1.07
    assert calibrate(pts) == calibrate(pts)
    r = calibrate(pts)
    assert r.rms_log_error > 0
    assert r.points == len(pts)
    assert all(e is None or e > 0 for e in r.uncertainty.values())
    assert r.to_dict()["fitted"] == list(r.fitted)


def test_validate_statistics() -> None:
    pts = _synthetic(DEFAULT)[:5]
    for p, scale in zip(pts, (1.0, 1.25, 0.8, 2.0, 1.0), strict=True):
        p["value"] *= scale  # measured = scale x predicted: error = 1 / scale - 1
    data = validate(pts)
    errs = sorted(abs(r.error or 0.0) for r in data.points)
    assert errs == pytest.approx(sorted([0, 0.2, 0.25, 0.5, 0]))
    assert all(r.error is not None for r in data.points)
    assert data.stats.counted == 5
    assert data.stats.median_abs_error == pytest.approx(0.2)
    assert data.stats.p90_abs_error == pytest.approx(0.25 + 0.6 * 0.25)  # numpy's linear rule
    assert all(r.dominant_term for r in data.points)
    assert data.to_dict()["median_abs_error"] == data.stats.median_abs_error


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"kind": "gpu"}, "kind"),
        ({"kind": "serving", "metric": "speed", "value": 1}, "metric"),
        ({"kind": "gemm", "m": 1, "n": 1, "k": 1}, "time"),
        ({"kind": "bandwidth", "time": "1 ms", "bytes": "8 furlongs"}, "bytes"),
        (
            {
                "kind": "serving",
                "layout": "dgx-h100",
                "model": "llama-2-7b",
                "value": "1 ms",
                "metric": "prefill_time",
            },
            "batch",
        ),
        (
            {
                "kind": "serving",
                "layout": "dgx-h100",
                "model": "gpt-9",
                "batch": 1,
                "value": "1 ms",
                "metric": "prefill_time",
            },
            "model",
        ),
        (
            {"kind": "gemm", "accelerator": "h900", "m": 1, "n": 1, "k": 1, "time": "1 ms"},
            "accelerator",
        ),
    ],
)
def test_bad_measurements(tmp_path: Path, entry: dict[str, Any], key: str) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump({"measurements": [entry]}))
    with pytest.raises(LayoutError) as e:
        load_measurements(f)
    assert "measurements[0]" in str(e.value)
    assert re.search(rf"{re.escape(str(f))}:[2-9]: measurements\[0\]", str(e.value))
    assert key in str(e.value)


def test_calibrate_and_validate_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = dataclasses.replace(DEFAULT, hbm_scale=0.85, step_overhead_s=1.5e-3)
    pts = _synthetic(truth)
    for p in pts:
        if p["kind"] == "serving":
            p["value"] = float(p["value"])
            if p["metric"] != "tokens_per_s_per_gpu":
                p["value"] = f"{p['value'] * 1e3!r} ms"
        else:
            p["time"] = f"{p.pop('time_s')!r} s"
            if "bytes" in p:
                p["bytes"] = f"{p['bytes']!r} B"
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump({"measurements": pts}))
    prof = tmp_path / "p.yaml"
    code, out, _ = run_cli(
        capsys, "calibrate", str(m), "--accelerator", "h100-sxm", "-o", str(prof)
    )
    assert code == 0
    assert "hbm_scale" in out
    assert prof.is_file()
    f = load_profile(prof)
    assert f.hbm_scale == pytest.approx(0.85, rel=0.05)
    assert f.step_overhead_s == pytest.approx(1.5e-3, rel=0.05)
    code, out, _ = run_cli(capsys, "validate", str(m), "--calibration", str(prof), "--json")
    assert code == 0
    assert json.loads(out)["median_abs_error"] < 0.01
    md = tmp_path / "V.md"
    code, out, _ = run_cli(capsys, "validate", str(m), "--markdown", str(md))
    assert code == 0
    assert "median |error|" in out
    text = md.read_text()
    assert "median absolute error:" in text
    assert "| point |" in text
    # The profile drives evaluate.
    code, out, _ = run_cli(
        capsys,
        "evaluate",
        "dgx-h100",
        "--model",
        "llama-3-70b",
        "--tp",
        "8",
        "--batch",
        "1",
        "--calibration",
        str(prof),
        "--json",
    )
    assert code == 0
    assert json.loads(out)["decode"]["breakdown_s"]["overhead"] > 1.5e-3


def test_calibrate_validate_measure_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("measurements: [{kind: gemm, m: 1, n: 1, k: 1, time: fast}]\n")
    out = tmp_path / "p.yaml"
    code, _, err = run_cli(capsys, "calibrate", str(bad), "-o", str(out))
    assert code == 2
    assert "time" in err
    assert not out.exists()
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "none.yaml"))
    assert code == 2
    assert "cannot read" in err
    good = tmp_path / "g.yaml"
    good.write_text(
        "measurements: [{kind: bandwidth, accelerator: h100-sxm, bytes: 8 GB, time: 3 ms}]\n"
    )
    code, _, err = run_cli(capsys, "calibrate", str(good), "--accelerator", "b200", "-o", str(out))
    assert code == 2
    assert "no measurements" in err
    assert not out.exists()
    if importlib.util.find_spec("torch") is None:
        code, _, err = run_cli(capsys, "measure", "-o", str(tmp_path / "m.yaml"))
        assert code == 2
        assert "PyTorch" in err
        assert not (tmp_path / "m.yaml").exists()


def test_bundled_validation_set_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    pts = load_measurements(root / "validation" / "public_serving.yaml")
    assert len(pts) >= 30
    assert all(p.get("source") for p in pts)


def test_validation_report_is_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """VALIDATION.md is what its own command regenerates from validation/."""
    import shlex
    import shutil

    root = Path(__file__).resolve().parents[1]
    committed = (root / "VALIDATION.md").read_text()
    argv = shlex.split(committed.split("`")[1])
    assert argv[:2] == ["topo", "validate"]
    shutil.copytree(root / "validation", tmp_path / "validation")
    (tmp_path / "figures").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_cli(capsys, *argv[1:])
    assert code == 0
    assert (tmp_path / "VALIDATION.md").read_text() == committed
    assert (tmp_path / "figures" / "validation-public-serving.png").stat().st_size > 10_000


def test_collective_calibration_from_nccl_sizes() -> None:
    """Fit the collectives' bandwidth share and per-call latency from a size sweep."""
    truth = dataclasses.replace(DEFAULT, comm_bw_scale=0.7, comm_latency_s=15e-6)
    pts = [
        {"kind": "collective", "layout": "dgx-h100", "op": "all-reduce", "gpus": 8, "bytes": b}
        for b in (8.0, 65536.0, 1048576.0, 16777216.0, 268435456.0, 4294967296.0)
    ]
    for p in pts:
        p["time_s"] = predict(p, truth).value
    r = calibrate(pts)
    assert r.fitted == ("comm_bw_scale", "comm_latency_s")
    assert r.fidelity.comm_bw_scale == pytest.approx(0.7, rel=0.05)
    assert r.fidelity.comm_latency_s == pytest.approx(15e-6, rel=0.05)
    # nccl-tests' 4 GiB all-reduce on 8 x H100 took 15.81 ms (busbw 475.5 GB/s: NVLS
    # reduces in the switch and beats the ring's link rate). A call is never charged less
    # than the link-rate ring, 2 x 7/8 x 4 GiB over 450 GB/s plus its latency.
    ring = 2 * 7 / 8 * 2**32 / 450e9
    assert predict(pts[-1]).value == pytest.approx(ring + 25.6e-6, rel=0.01)
    assert predict(pts[-1]).value == pytest.approx(15.81e-3, rel=0.07)
    clean = predict(pts[-1], dataclasses.replace(DEFAULT, enabled=False)).value
    assert clean == pytest.approx(ring, rel=0.01)
