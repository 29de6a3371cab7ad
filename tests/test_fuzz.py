"""Mutated inputs of every kind end in exit 0, 1 or 2: never an internal error.

Layouts, model files, catalogue files, studies, measurements, nccl-tests output,
calibration profiles and the options of every subcommand (validation/fuzz.py makes the
cases; ``python validation/fuzz.py --cases 2000 --seed 1`` runs many more), then one
regression test per class of bug the fuzzer found.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import LAYOUT_NAMES, bundled_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topo.cli import main

BAD_VALUES: list[Any] = [
    -1,
    0,
    1e30,
    "",
    "abc",
    "800 Gb/s",
    "132 kW",
    "1.36 t",
    "-5 kW",
    "NaN",
    "inf",
    [],
    {},
    None,
    True,
    "9" * 400,
    "1e999 GB/s",
    10**12,
    "0 W",
    "0.5",
    2.5,
    [1, 2, 3],
    {"a": 1},
    "rack",
    "tray",
    "7 racks",
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += [(*prefix, k), *_paths(v, (*prefix, k))]
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += [(*prefix, i), *_paths(v, (*prefix, i))]
    return out


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutations_never_crash(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(bundled_doc(data.draw(st.sampled_from(LAYOUT_NAMES))))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = data.draw(st.integers(0, 2))
        if op == 0:
            parent[key] = copy.deepcopy(data.draw(st.sampled_from(BAD_VALUES)))
        elif op == 1 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = [copy.deepcopy(parent[key])] * 2
    f = tmp_path / "case.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    command = data.draw(st.sampled_from(["show", "check", "limits"]))
    code = main([command, str(f)])
    _, err = capsys.readouterr()
    assert code in ((0, 1, 2) if command in ("check", "limits") else (0, 2)), err
    assert "internal error" not in err


# ---------------------------------------------------------------- every input kind
# The cases of validation/fuzz.py (which runs thousands with a seed), drawn by Hypothesis.
_spec = importlib.util.spec_from_file_location(
    "topo_fuzz", Path(__file__).resolve().parents[1] / "validation" / "fuzz.py"
)
assert _spec is not None
assert _spec.loader is not None
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["topo_fuzz"] = fuzz  # dataclasses look their module up by name
_spec.loader.exec_module(fuzz)


class _HypothesisDraw:
    """The fuzzer's choices, drawn by Hypothesis (so a failure shrinks to a small case)."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.data.draw(st.integers(0, len(seq) - 1))]

    def integer(self, lo: int, hi: int) -> int:
        return int(self.data.draw(st.integers(lo, hi)))


@pytest.mark.parametrize("kind", fuzz.KINDS)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_input_kind_ends_in_0_1_or_2(
    kind: str, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Exit 0, 1 (a failed check) or 2 (a clear error); no internal error, no half file."""
    case = fuzz.make_case(kind, _HypothesisDraw(data))
    res = fuzz.run_case(case, tmp_path_factory.mktemp("case"), timeout_s=60)
    assert not res.bug, f"{res.outcome} {res.problem}\n{case.describe()}\n{res.stderr}"
    assert res.code in (0, 1, 2)
    assert "internal error" not in res.stderr
    assert "Traceback" not in res.stderr


def test_the_fuzzer_classes_a_crash_as_a_bug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The harness can fail: an exception in a command is an internal error to it."""
    import topo.commands

    def boom(args: Any) -> int:
        raise ZeroDivisionError(args.command)

    monkeypatch.setattr(topo.commands, "cmd_layouts", boom)
    monkeypatch.setattr("topo.cli.cmd_layouts", boom)
    res = fuzz.run_case(fuzz.Case("cli", ["layouts"]), tmp_path / "c")
    assert (res.outcome, res.code) == ("internal error", 1)


def test_the_fuzzer_sees_a_half_written_output(tmp_path: Path) -> None:
    """A failed run that leaves its output file behind is a bug to the harness."""
    case = fuzz.Case("cli", ["schema", "-o", "{d}/s.json", "--bogus"], outputs=["{d}/s.json"])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "stray").write_text("x", encoding="utf-8")
    before = fuzz._snapshot(tmp_path / "c")
    (tmp_path / "c" / "s.json").write_text("{", encoding="utf-8")
    assert "written by a failed run" in fuzz._output_problem(case, tmp_path / "c", 2, before)


# ---------------------------------------------------------------- what the fuzzer found
def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    _, err = capsys.readouterr()
    assert "internal error" not in err, err
    assert "Traceback" not in err, err
    return code, err


@pytest.mark.parametrize(
    "argv",
    [
        ["schema", "-o", "{d}/" + "x" * 300 + ".json"],
        ["gallery", "-o", "{d}/" + "x" * 300],
        ["lifecycle", "--params", "8e9", "--tokens", "1e12", "--plot", "{d}/" + "x" * 300 + ".png"],
    ],
)
def test_an_output_name_too_long_is_an_input_error(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(capsys, *(a.replace("{d}", str(tmp_path)) for a in argv))
    assert code == 2
    assert "cannot write: File name too long" in err
    assert len(err.splitlines()) == 1
    assert len(err) < 400  # the path is cut to 200 characters
    assert list(tmp_path.iterdir()) == []


MEASUREMENTS = Path(__file__).resolve().parents[1] / "validation" / "engine_allreduce.yaml"


def test_validate_refuses_a_bad_plot_name_before_writing_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "v.md"
    code, err = _run(capsys, "validate", str(MEASUREMENTS), "--markdown", str(md), "--plot", "-1")
    assert code == 2
    assert "--plot -1: the format follows the file name" in err
    assert not md.exists()


def test_a_gemm_dtype_must_be_one_the_chip_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "m.yaml"
    point = "{kind: gemm, accelerator: h100-sxm, m: 256, n: 256, k: 256, time: 5 us, dtype: %s}"
    for dtype, message in (
        ("[bf16, bf16]", "m.yaml:3: measurements[0].dtype: expected a name, got a list"),
        ("fp4", "m.yaml:3: measurements[0].dtype: expected one of bf16, fp16, fp64, fp8, int8"),
    ):
        p.write_text(f"measurements:\n  - {point % dtype}\n", encoding="utf-8")
        p.write_text(p.read_text(encoding="utf-8").replace("  - {", "  -\n    {"), "utf-8")
        code, err = _run(capsys, "validate", str(p))
        assert code == 2
        assert message in err


@pytest.mark.parametrize(
    ("objectives", "message"),
    [
        ("[[usd_per_million_tco, tokens_per_s_per_gpu], tokens_per_s_per_gpu]", "objectives[0]"),
        ("[{a: 1}, tokens_per_s_per_gpu]", "objectives[0]"),
    ],
)
def test_study_objectives_are_checked_by_type(
    objectives: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = dict(fuzz.TINY_STUDY)
    study.pop("objectives")
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(study) + f"objectives: {objectives}\n", encoding="utf-8")
    code, err = _run(capsys, "study", str(p), "-o", str(tmp_path / "out"))
    assert code == 2
    line = len(yaml.safe_dump(study).splitlines()) + 1
    assert f"s.yaml:{line}: {message}: expected one of" in err


def test_a_profile_that_is_not_yaml_is_one_line_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("fidelity: &a [*a, *a]\n  hbm_scale: 0.9\n", encoding="utf-8")
    argv = ["evaluate", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "1", "--calibration"]
    code, err = _run(capsys, *argv, str(p))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "p.yaml:2: not valid YAML" in err
    p.write_text("fidelity:\n  hbm_scale: 0.9\n  enabled: 'no'\n", encoding="utf-8")
    code, err = _run(capsys, *argv, str(p))
    assert code == 2
    assert "p.yaml:3: fidelity.enabled: expected true or false, got 'no'" in err


def test_study_files_are_written_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """study.json and results.json go through a temporary file; a broken folder is refused."""
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(fuzz.TINY_STUDY), encoding="utf-8")
    out = tmp_path / "out"
    code, err = _run(capsys, "study", str(p), "-o", str(out))
    assert code == 0, err
    assert sorted(f.name for f in out.iterdir()) == [
        "results.csv",
        "results.json",
        "results.jsonl",
        "study.json",
    ]
    assert oct(out.joinpath("results.json").stat().st_mode & 0o777) != oct(0o600)
    # A rerun keeps the results; a line that is not a result is skipped, not a crash.
    with out.joinpath("results.jsonl").open("a", encoding="utf-8") as f:
        f.write("1\n[2]\n")
    code, err = _run(capsys, "study", str(p), "-o", str(out))
    assert code == 0, err
    out.joinpath("study.json").write_text('{"fingerprint": ', encoding="utf-8")
    code, err = _run(capsys, "study", str(p), "-o", str(out))
    assert code == 2
    assert "holds results of another study" in err


M = ["moe", "gb200-nvl72", "--model-hidden", "7168", "--topk", "8", "--tokens-per-gpu", "32"]
L = ["lifecycle", "--params", "8e9", "--tokens", "1e12"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # Before: NaN or an overflow reached the result, and --json ended in an internal error.
        ([*M, "--ep", "8", "--dispatch-bytes", "nan"], "--dispatch-bytes: expected a number"),
        ([*M, "--ep", "8", "--combine-bytes", "1e308"], "from 0.125 to 64, got '1e308'"),
        ([*M, "--ep", "8", "--weight-bytes", "nan", "--expert-ffn", "2048"], "--weight-bytes"),
        ([*M, "--ep", "8", "--weight-bytes", "5e-324", "--expert-ffn", "2048"], "from 0.125"),
        ([*M, "--ep", "8", "--expert-ffn", "-5"], "--expert-ffn: expected a whole number from 1"),
        ([*L, "--inference-tokens", "inf"], "--inference-tokens: expected a number from 0 to 1e21"),
        ([*L, "--rl-flops", "1e308"], "--rl-flops: expected a number from 0 to 1e36"),
        ([*L, "--active-params", "nan"], "--active-params: expected a number from 1e6 to 1e15"),
        # Before: accepted, and the limit silently ignored or the table cut from the end.
        (["plan", "dgx-h100", "--model", "llama-3.1-8b", "--max-latency-ms", "nan"], "above 0"),
        (["plan", "dgx-h100", "--model", "llama-3.1-8b", "--top", "-1"], "--top: expected a whole"),
        (["compare", "dgx-h100", "--model", "llama-3.1-8b", "--slo-tpot-ms", "nan"], "--slo-tpot"),
        (["compare", "dgx-h100", "--model", "llama-3.1-8b", "--slo-ttft-ms", "-1"], "--slo-ttft"),
        (["compare", "dgx-h100", "--model", "x", "--max-replica-gpus", "-5"], "--max-replica"),
        # Before: a million local processes were started.
        (["study", "s.yaml", "-o", "out", "--workers", "1000000"], "from 1 to 1024"),
    ],
)
def test_option_numbers_are_range_checked_as_they_enter(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(capsys, *argv, "--json")
    assert code == 2
    assert message in err.splitlines()[-1]


@pytest.mark.parametrize("durations", ["nan s", "0s", "1e308s", "-5m", ","])
def test_cache_durations_are_checked(durations: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cache", "dgx-h100", "--model", "llama-3.1-8b", "--prefix", "1000", "--tp", "1"]
    code, err = _run(capsys, *argv, f"--durations={durations}", "--json")
    assert code == 2
    assert err.startswith("error: --durations: expected durations")


def test_a_dask_address_that_is_not_one_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dask.distributed")
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(fuzz.TINY_STUDY), encoding="utf-8")
    code, err = _run(capsys, "study", str(p), "-o", str(tmp_path / "out"), "--dask", "0,0")
    assert code == 2
    assert err.startswith("error: --dask: cannot reach a scheduler at '0,0'")


@pytest.mark.parametrize(("key", "value"), [("source", "-.inf"), ("engine", "[a, b]")])
def test_measurement_text_fields_are_text(
    key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a number as a point's source ended validate --markdown in an internal error."""
    p = tmp_path / "m.yaml"
    p.write_text(
        "measurements:\n"
        "  - {kind: bandwidth, accelerator: h100-sxm, bytes: 1 GB, time: 1 ms,\n"
        f"     {key}: {value}}}\n",
        encoding="utf-8",
    )
    code, err = _run(capsys, "validate", str(p), "--markdown", str(tmp_path / "r.md"))
    assert code == 2
    assert f"m.yaml:3: measurements[0].{key}: expected text, got" in err
    assert not (tmp_path / "r.md").exists()


def test_limits_of_a_switch_tray_with_one_port_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: about 100 s (72 switch trays per compute tray, re-checked up to 256 trays)."""
    import time

    doc = bundled_doc("gb200-nvl72")
    switch = next(d for d in doc["rack"]["devices"] if d["kind"] == "switch_tray")
    switch["ports"] = 1
    p = tmp_path / "l.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    t0 = time.perf_counter()
    code, _ = _run(capsys, "limits", str(p), "--json")
    assert time.perf_counter() - t0 < 10
    assert code == 1  # 72 GPUs is far above what one-port switch trays allow


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (("scale_out", "nic_bandwidth"), "5e-324 Gb/s"),  # before: inf in show --json
        (("scale_out", "nic_bandwidth"), "1e300 Gb/s"),  # before: OverflowError in show
        (("rack", "max_mass"), "5e-324 kg"),  # before: -inf margin in check --json
        (("rack", "power_budget"), "1e-300 kW"),
    ],
)
def test_quantities_beyond_any_hardware_are_refused_where_they_enter(
    key: tuple[str, str], value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = bundled_doc("gb200-nvl72")
    doc[key[0]][key[1]] = value
    p = tmp_path / "l.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    line = next(
        i for i, t in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if value in t
    )
    for command in ("show", "check"):
        code, err = _run(capsys, command, str(p), "--json")
        assert code == 2
        assert f"l.yaml:{line}: {key[0]}.{key[1]}: expected a" in err
        assert "from 1e-15 to 1e24" in err


def test_a_cli_size_beyond_any_hardware_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["collective", "gb200-nvl72", "--op", "all-reduce", "--gpus", "8", "--json"]
    code, err = _run(capsys, *argv, "--bytes", "1e308 B")
    assert code == 2
    assert err.startswith("error: --bytes: expected a data")
    assert "from 1e-15 to 1e24 B (or 0), got '1e308 B'" in err


@pytest.mark.parametrize(
    ("point", "key"),
    [
        ("{kind: bandwidth, accelerator: h100-sxm, bytes: 1 GB, time: 0 ms}", "time"),
        ("{kind: bandwidth, accelerator: h100-sxm, bytes: 0 B, time: 1 ms}", "bytes"),
        ("{kind: gemm, accelerator: h100-sxm, m: 256, n: 256, k: 256, time: 0 us}", "time"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_measured_time_or_size_of_zero_is_an_input_error(
    point: str, key: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a division by zero, or inf in the JSON, as an internal error."""
    p = tmp_path / "m.yaml"
    p.write_text(f"measurements:\n  - {point}\n", encoding="utf-8")
    out = ["-o", str(tmp_path / "p.yaml")] if command == "calibrate" else []
    code, err = _run(capsys, command, str(p), *out, "--json")
    assert code == 2
    assert f"m.yaml:2: measurements[0].{key}: expected a" in err
    assert "above 0, got 0" in err
    assert not (tmp_path / "p.yaml").exists()


@pytest.mark.parametrize("usd", ["0", "5e-324"])
def test_price_with_a_free_gpu_hour_has_no_tier_multiple(
    usd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the long-context tier's cost multiples divided by a cost of 0."""
    import json

    argv = ["price", "dgx-h100", "--model", "llama-3.1-8b", "--context", "1000,8000"]
    code = main([*argv, "--batch", "1,8", "--gpu-hour-usd", usd, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    tier = json.loads(out)["long_context_tier"]
    assert tier["output_cost_multiple"] is None
    assert "GPU-hour price of 0" in tier["reading"]


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        # Before: int('0 W'), int(None) or '>' between str and int as internal errors.
        ("vary", "racks", ["0 W"], "vary.racks[0]: dgx-h100: racks: expected a whole number"),
        ("vary", "racks", [None], "expected a whole number >= 1, got 'None'"),
        ("vary", "cluster_gpus", ["-1"], "cluster_gpus: expected a whole number >= 1"),
        ("vary", "domain_gpus", [[8]], "domain_gpus"),
        # Before: inf GPUs-worth of racks in the JSON (0 racks), or an infinite TCO.
        ("vary", "racks", [0], "racks: expected a whole number >= 1, got '0'"),
        ("costs", "hardware_life_years", 5e-324, "expected a number of at least 0.001"),
        # Before: int(-inf) as an OverflowError.
        ("workloads", "output", float("-inf"), "output: expected a whole number of tokens"),
    ],
)
def test_study_values_are_checked_by_type_and_range(
    section: str,
    key: str,
    value: Any,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = copy.deepcopy(fuzz.TINY_STUDY)
    study[section] = [{key: value}] if section == "workloads" else {key: value}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(study), encoding="utf-8")
    code, err = _run(capsys, "study", str(p), "-o", str(tmp_path / "out"), "--json")
    assert code == 2
    assert message in err
    line = _line_of(p, key)
    where = f"{line}: {section}.{key}"
    if isinstance(value, list):
        where = f"{line + 1}: {section}.{key}[0]"
    elif section == "workloads":
        where = f"{line}: workloads[0]"
    assert f"s.yaml:{where}: " in err


def _line_of(p: Path, key: str) -> int:
    lines = p.read_text(encoding="utf-8").splitlines()
    return next(i for i, t in enumerate(lines, 1) if t.strip(" -").startswith(f"{key}:"))
