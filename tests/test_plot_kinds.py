"""`topo plot KIND` for every figure kind: it draws, it says what it wrote, bad input is exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli

KINDS = [
    ["breakdown", "dgx-h100", "--model", "llama-3-70b", "--tp", "8", "--batch", "1,64,512"],
    ["interactivity", "dgx-h100", "--model", "llama-3.1-8b", "--compare", "dgx-h200"],
    ["load", "dgx-h100", "--model", "llama-3.1-8b", "--rates", "1,50", "--requests", "300"],
    ["taper", "dgx-h100-superpod"],
    ["placement", "dgx-h100-superpod", "--model", "llama-3-70b", "--tp", "8"],
    [
        "tornado",
        "gb200-nvl72",
        "--vary",
        "power_budget=66 kW,264 kW",
        "--vary",
        "cable=copper,optical",
    ],
]


@pytest.mark.parametrize("argv", KINDS, ids=[a[0] for a in KINDS])
def test_plot_kind_draws(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.png"
    code, _, err = run_cli(capsys, "plot", *argv, "-o", str(out))
    assert code == 0, err
    assert f"wrote {out}" in err
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["load", "dgx-h100", "--model", "llama-3.1-8b", "--rates", "1,-3"], "--rates: expected"),
        (["load", "dgx-h100", "--model", "llama-3.1-8b", "--rates", "x"], "--rates: expected"),
        (["breakdown", "dgx-h100", "--model", "llama-3.1-8b", "--rates", "1"], "does not apply"),
        (["interactivity", "dgx-h100", "--model", "nope"], "unknown model"),
        (["load", "dgx-h100"], "required: --model"),
        (["tornado", "gb200-nvl72", "--vary", "liquid=1kW"], "expected KEY=LOW,HIGH"),
        (["tornado", "gb200-nvl72", "--vary", "nope=1,2"], "unknown key 'nope'"),
        (["tornado", "gb200-nvl72", "--vary", "power_budget=x,y"], "power_budget"),
        (["taper", "gb200-nvl72", "--model", "llama-3.1-8b"], "--model does not apply"),
        (["placement", "dgx-h100", "--model", "llama-3-70b", "--tp", "3"], "heads"),
    ],
)
def test_plot_kind_bad_input(
    argv: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.png"
    code, _, err = run_cli(capsys, "plot", *argv, "-o", str(out))
    assert code == 2
    assert said in err
    assert not out.exists()
