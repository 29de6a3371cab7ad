"""The library: one call per question, typed results, to_dict() equal to the CLI's JSON."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import topo
import topo.api
from tests.helpers import run_cli
from topo.place import Plan
from topo.scenario import Scenario, complete_plan

ROOT = Path(__file__).resolve().parents[1]


def _same(a: Any) -> Any:
    return json.loads(json.dumps(a))


CASES: list[tuple[list[str], Callable[[], Any]]] = [
    (
        ["evaluate", "dgx-h100", "--model", "llama-3-70b", "--batch", "1"],
        lambda: topo.evaluate("dgx-h100", "llama-3-70b", batch=1),
    ),
    (
        ["evaluate", "gb200-nvl72", "--model", "deepseek-v3", "--batch", "64", "--weights", "fp8"],
        lambda: topo.evaluate("gb200-nvl72", "deepseek-v3", batch=64, weights="fp8"),
    ),
    (
        ["sweep", "dgx-h100", "--model", "llama-3-70b", "--tp", "8", "--batch", "1,8,64"],
        lambda: topo.sweep("dgx-h100", "llama-3-70b", tp=8, batches=[1, 8, 64]),
    ),
    (
        ["plan", "dgx-h100", "--model", "llama-3-70b", "--max-latency-ms", "30"],
        lambda: topo.plan("dgx-h100", "llama-3-70b", max_latency_ms=30),
    ),
    (["check", "gb200-nvl72"], lambda: topo.check("gb200-nvl72")),
    (
        ["limits", "gb200-nvl72", "--vary", "cable=optical"],
        lambda: topo.limits("gb200-nvl72", vary={"cable": "optical"}),
    ),
    (
        ["collective", "gb200-nvl72", "--op", "all-reduce", "--gpus", "72", "--bytes", "1 GB"],
        lambda: topo.collective("gb200-nvl72", "all-reduce", 72, "1 GB"),
    ),
    (
        ["place", "dgx-h100-superpod", "--tp", "8", "--pp", "2", "--dp", "4"],
        lambda: topo.api.place("dgx-h100-superpod", tp=8, pp=2, dp=4),
    ),
    (
        ["serve", "dgx-h100", "--model", "llama-3-70b", "--rate", "5", "--requests", "500"],
        lambda: topo.serve("dgx-h100", "llama-3-70b", rate=5, requests=500),
    ),
    (
        ["price", "dgx-h100", "--model", "llama-3-70b", "--context", "1000,8000"],
        lambda: topo.price("dgx-h100", "llama-3-70b", contexts=[1000, 8000]),
    ),
    (
        ["price", "dgx-h100", "--model", "llama-3.1-8b", "--context", "64000,300000"]
        + ["--compare-model", "gpt-j-6b", "--batch", "1,3"],
        lambda: topo.price(
            "dgx-h100",
            "llama-3.1-8b",
            contexts=[64000, 300000],
            batches=[1, 3],
            compare_models=["gpt-j-6b"],
        ),
    ),
    (
        ["compare", "dgx-h100", "dgx-h200", "--model", "llama-3.1-8b"],
        lambda: topo.compare(["dgx-h100", "dgx-h200"], "llama-3.1-8b"),
    ),
    (["show", "gb200-nvl72"], lambda: topo.show("gb200-nvl72")),
    (
        [
            "moe",
            "gb200-nvl72-x16",
            "--model",
            "deepseek-v3",
            "--tokens-per-gpu",
            "64",
            "--ep",
            "144",
        ],
        lambda: topo.api.moe("gb200-nvl72-x16", "deepseek-v3", tokens_per_gpu=64, ep=144),
    ),  # fmt: skip
    (
        ["cache", "dgx-h100", "--model", "llama-3-70b", "--prefix", "100000"],
        lambda: topo.cache("dgx-h100", "llama-3-70b", prefix=100_000),
    ),
    (["catalogue"], lambda: topo.api.catalogue()),
    (
        ["lifecycle", "--params", "8e9", "--tokens", "15e12", "--inference-tokens", "2e13"],
        lambda: topo.lifecycle(params=8e9, tokens=15e12, inference_tokens=2e13),
    ),
    (
        [
            "memory",
            "gb200-nvl72",
            "--model",
            "llama-3-70b",
            "--train",
            "--tokens-per-batch",
            "4000000",
            "--seq-len",
            "8192",
        ],
        lambda: topo.memory("gb200-nvl72", "llama-3-70b", tokens_per_batch=4_000_000, seq_len=8192),
    ),  # fmt: skip
]


@pytest.mark.parametrize(("argv", "call"), CASES, ids=[" ".join(a[:2]) for a, _ in CASES])
def test_library_result_is_the_cli_json(
    argv: list[str], call: Callable[[], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code in (0, 1), err
    got = call().to_dict()
    if argv[0] == "layouts":
        got = got["layouts"]
    if argv[0] == "place":
        got.pop("ranks")  # the CLI prints them with --ranks
    assert _same(got) == json.loads(out)


def test_the_readme_one_liner() -> None:
    """The issue's acceptance line, and typed fields on the way."""
    r = topo.evaluate("dgx-h100", "llama-3-70b", batch=1)
    assert isinstance(r, topo.Evaluation)
    assert r.decode.time_per_output_token_s == r.to_dict()["decode"]["time_per_output_token_s"]
    assert r.floor.per_token_s <= r.decode.time_per_output_token_s
    assert r.plan == Plan(2, 1, 1, 1)  # the plan topo evaluate completes at batch 1


def test_layouts_and_models_by_name_path_or_object() -> None:
    lay = topo.load_layout("dgx-h100")
    path = ROOT / "layouts" / "dgx-h100.yaml"
    a = topo.evaluate("dgx-h100", "llama-3-70b", batch=8, tp=8)
    b = topo.evaluate(lay, "llama-3-70b", batch=8, tp=8)
    c = topo.evaluate(path, "llama-3-70b", batch=8, tp=8)
    assert a.to_dict() == b.to_dict()
    assert a.decode == c.decode


def test_scenario_plan_is_the_cli_plan() -> None:
    """Scenario.plan (on kept decode tables) picks what complete_plan (the search) picks."""
    for layout, model, weights in (
        ("dgx-h100", "llama-3-70b", "bf16"),
        ("dgx-h100-superpod", "llama-3-70b", "fp8"),
        ("gb200-nvl72", "mixtral-8x7b", "bf16"),
    ):
        s = Scenario(layout, model, weights=weights)
        for batch in (1, 3, 64, 300, 1000):
            for given in ({}, {"tp": 4}, {"dp": 2}):
                fast = partial(s.plan, batch, **given)
                ref = partial(complete_plan, s.layout, s.graph, s.model, s.workload, batch, **given)
                assert _outcome(fast) == _outcome(ref), (layout, batch, given)


def _outcome(f: Callable[[], Any]) -> Any:
    try:
        return f()
    except topo.TopoError as e:
        return str(e)


def test_scenario_answers_many_batches_from_one_build() -> None:
    s = Scenario("dgx-h100", "llama-3-70b", weights="fp8")
    rows = s.records(range(1, 200))
    assert len(rows) == 199
    # tokens/s per GPU rises with batch on one plan; every row says whether it fits
    same = [r for r in rows if (r["tp"], r["pp"], r["dp"]) == (8, 1, 1)]
    tps = [r["tokens_per_s_per_gpu"] for r in same]
    assert tps == sorted(tps)
    one = s.evaluate(64, tp=8)
    assert (
        one.to_dict()
        == topo.evaluate("dgx-h100", "llama-3-70b", batch=64, tp=8, weights="fp8").to_dict()
    )


def test_sweep_records_drop_into_a_table() -> None:
    sw = topo.sweep("dgx-h100", "llama-3-70b", tp=8, batches=[1, 8])
    recs = sw.records()
    assert [r["batch"] for r in recs] == [1, 8]
    assert {"tp", "weights_s", "kv_s", "compute_s", "time_per_output_token_s"} <= set(recs[0])
    assert all(not isinstance(v, dict) for r in recs for v in r.values())


def test_bad_input_through_the_library_is_a_topo_error() -> None:
    with pytest.raises(topo.TopoError, match="does not divide"):
        topo.evaluate("dgx-h100", "llama-3-70b", tp=3)
    with pytest.raises(topo.TopoError, match="batch"):
        topo.evaluate("dgx-h100", "llama-3-70b", batch=0)
    with pytest.raises(topo.TopoError):
        topo.evaluate("dgx-h100", "llama-3-70b", weights="fp3")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_the_library_does_not_import_the_cli() -> None:
    for path in sorted((ROOT / "topo").rglob("*.py")):
        bad = _imports(path) & {"topo.cli", "topo.commands"}
        if path.name in ("cli.py", "__main__.py"):
            continue
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_library_never_prints() -> None:
    """No print( or writes to stderr outside the CLI modules: progress goes to a callback."""
    for path in sorted((ROOT / "topo").rglob("*.py")):
        if path.name in ("cli.py", "commands.py", "__main__.py"):
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} prints")
        assert "sys.stderr" not in text, path
        assert "sys.stdout" not in text, path


def test_python_dash_m_topo_runs_the_cli() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "topo", "layouts"], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stderr
    assert "gb200-nvl72" in r.stdout


def test_every_public_name_is_what_it_says() -> None:
    """Lazy names load on use; none is shadowed by a module of the same name."""
    import importlib

    for mod in ("topo.place", "topo.catalogue", "topo.plans", "topo.evaluation"):
        importlib.import_module(mod)
    for name in topo.__all__:
        value = getattr(topo, name)
        assert not isinstance(value, type(topo)), name
    assert topo.evaluate is topo.api.evaluate
    assert topo.plan is topo.api.plan


def test_layouts_validate_calibrate_and_study_match_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The remaining --json commands: the library's result is the CLI's JSON."""
    import yaml

    code, out, _ = run_cli(capsys, "layouts", "--json")
    assert code == 0
    assert _same(topo.layouts().to_dict()["layouts"]) == json.loads(out)

    points = str(ROOT / "validation" / "public_serving.yaml")
    code, out, _ = run_cli(capsys, "validate", points, "--json")
    assert code == 0
    assert _same(topo.api.validate(points).to_dict()) == json.loads(out)

    code, out, err = run_cli(
        capsys, "calibrate", points, "--accelerator", "h100-sxm", "-o", str(tmp_path / "p.yaml"),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    fit = topo.api.calibrate(points, accelerator="h100-sxm").to_dict()
    assert _same(fit) == json.loads(out)

    spec = {
        "name": "tiny",
        "layouts": ["dgx-h100"],
        "vary": {"nic": ["400 Gb/s", "800 Gb/s"]},
        "models": ["llama-3.1-8b"],
        "objectives": ["usd_per_million_tco", "tokens_per_s_per_gpu"],
        "max_replica_gpus": 8,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    code, out, err = run_cli(capsys, "study", str(path), "-o", str(tmp_path / "a"), "--json")
    assert code == 0, err
    assert _same(topo.api.study(path, tmp_path / "b").to_dict()) == json.loads(out)


@pytest.mark.parametrize(
    ("kind", "extra"), [("topology", {}), ("links", {"gpus": 16}), ("taper", {})]
)
def test_figures_from_the_graph_report_progress(kind: str, extra: dict[str, Any]) -> None:
    """The figures drawn from a layout's graph report their progress in per cent, rising
    to 100 once drawn."""
    from topo.api import figure

    calls: list[tuple[int, int]] = []
    figure(kind, "gb200-nvl72-x16", progress=lambda d, t: calls.append((d, t)), **extra)
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {100}
    assert done == sorted(done)
    assert done[-1] == 100
    assert len(done) > 4


def test_collective_reports_its_three_parts() -> None:
    """api.collective reports the fabric laid out, the group placed and the call timed;
    the result is the same with or without the callback."""
    from topo.api import collective

    calls: list[tuple[int, int]] = []
    got = collective("gb200-nvl72-x16", "all-to-all", 144, 1e6, progress=lambda *a: calls.append(a))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert got == collective("gb200-nvl72-x16", "all-to-all", 144, 1e6)


def test_price_cache_and_serve_report_their_plan_search() -> None:
    """`topo price`, `cache` and `serve` search for a plan when none is given: their
    library calls report the plans passed, to the last, and give the same result without
    the callback."""
    from topo.api import cache_scenario, price_models, serve_scenario
    from topo.scenario import Degrees, Scenario

    s = Scenario("dgx-h100", "llama-3.1-8b")
    for run in (
        lambda tick: price_models(
            s, [s.model], Degrees(), contexts=[4096], batches=[8], progress=tick
        ),
        lambda tick: cache_scenario(s, Degrees(), prefix=50_000, durations=["1h"], progress=tick),
        lambda tick: serve_scenario(
            s, Degrees(), rate=5.0, policy="train", requests=200, seed=0, progress=tick
        ).to_dict(),
    ):
        calls: list[tuple[int, int]] = []

        def tick(done: int, total: int, calls: list[tuple[int, int]] = calls) -> None:
            calls.append((done, total))

        got = run(tick)
        assert calls[-1][0] == calls[-1][1] > 1
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
        assert got == run(None)


def test_a_scenario_reports_the_plans_it_ranks() -> None:
    """Completing a plan ranks the candidates that run the batch: the scenario reports
    them one by one, best bound first, then the rest at once; it picks the same plan
    without the callback; figures pass it on."""
    from topo.api import figure
    from topo.scenario import Scenario

    calls: list[tuple[int, int]] = []
    s = Scenario(
        "gb200-nvl72-x16", "deepseek-v3", weights="fp8", progress=lambda *a: calls.append(a)
    )
    plan = s.plan(8)
    done = [d for d, _ in calls]
    assert calls[-1][0] == calls[-1][1] > 50
    assert done == [*range(1, len(done)), calls[-1][1]]
    assert plan == Scenario("gb200-nvl72-x16", "deepseek-v3", weights="fp8").plan(8)
    drawn: list[tuple[int, int]] = []
    figure("breakdown", "dgx-h100", "llama-3-70b", progress=lambda *a: drawn.append(a))
    assert drawn[-1][0] == drawn[-1][1] > 1
