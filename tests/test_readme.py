"""Console examples in the README and docs: every `$ topo ...` line runs, and the lines it
shows are what topo prints (`...` elides a line or a line's end)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]

# Commands not run here, and why (each is run by a test of its own or needs what CI lacks).
NOT_RUN = {
    "my-rack.yaml": "a layout of the reader's own",
    "my-measurements.yaml": "the reader's own measurements",
    "my-cluster.yaml": "a profile the reader fits first",
    "topo measure": "needs a GPU",
    "topo gallery": "regenerates figures/ (tests/test_plot.py draws every kind)",
    "topo study": "minutes of designs (tests/test_design.py runs small studies)",
    "topo plot study results": "reads the study's results folder",
}
OUTPUTS = ("-o", "--output-file", "--output-dir", "--plot", "--markdown")


def _examples() -> list[tuple[str, str, list[str]]]:
    """(file, command, shown output lines) for each `$ topo ...` line."""
    out: list[tuple[str, str, list[str]]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"```console\n(.*?)```", text, re.S):
            cmd: str | None = None
            shown: list[str] = []
            for line in block.splitlines():
                if line.startswith("$ "):
                    if cmd:
                        out.append((doc.name, cmd, shown))
                    cmd, shown = line[2:].split("  #")[0].strip(), []
                elif cmd and cmd.endswith("\\"):  # a command continued over lines
                    cmd = cmd[:-1] + " " + line.split("  #")[0].strip()
                elif line.strip():
                    shown.append(line)
            if cmd:
                out.append((doc.name, cmd, shown))
    return out


EXAMPLES = _examples()


def test_examples_are_found() -> None:
    assert len(EXAMPLES) >= 35
    assert sum(1 for _, _, shown in EXAMPLES if shown) >= 7


@pytest.mark.parametrize(("doc", "command", "shown"), EXAMPLES, ids=lambda x: str(x)[:50])
def test_example_runs_and_prints_what_it_shows(
    doc: str,
    command: str,
    shown: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skip = [why for what, why in NOT_RUN.items() if what in command]
    if skip:
        pytest.skip(skip[0])
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0] == "topo"
    # Files the example writes go to a scratch folder, never into the checkout.
    argv = [
        str(tmp_path / Path(a).name) if prev in OUTPUTS else a
        for prev, a in zip(["", *argv[:-1]], argv, strict=True)
    ]
    code, out, err = run_cli(capsys, *argv[1:])
    expected = 2 if "bad-layout" in command else (0, 1)  # check/limits: 1 when over a limit
    assert code == expected if isinstance(expected, int) else code in expected, err
    if "internal error" in err:
        pytest.fail(err)
    lines = (out + err).splitlines()
    for want in shown:
        if want.strip() == "...":
            continue
        if want.endswith("..."):  # an elided end: the printed line starts with the rest
            head = want[:-3].rstrip()
            assert any(line.startswith(head) for line in lines), f"{doc}: {want}"
        else:
            assert want in lines, f"{doc}: {want}"
    for prev, a in zip(argv, argv[1:], strict=False):
        if prev in OUTPUTS and code == 0:
            assert any(Path(a).parent.glob(Path(a).stem + "*")), a


def _python_blocks() -> list[str]:
    return [
        block
        for doc in DOCS
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    ]


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_python_example_runs_and_its_numbers_are_true(block: str) -> None:
    """Each line `expression   # number` evaluates to that number (to the digits shown)."""
    scope: dict[str, object] = {}
    checked = 0
    for line in block.splitlines():
        code, _, comment = line.partition("  #")
        value = re.fullmatch(r"\s*([-+]?\d[\d.]*(?:e[-+]?\d+)?)\s*", comment)
        if value and "=" not in code and not code.lstrip().startswith(("from", "import")):
            got = eval(code.strip(), scope)  # noqa: S307 - the README's own example
            digits = len(value.group(1).split("e")[0].replace(".", "").lstrip("-+"))
            assert float(got) == pytest.approx(float(value.group(1)), rel=10 ** (1 - digits))
            checked += 1
        else:
            exec(code, scope)  # noqa: S102 - the README's own example
    assert checked or "#" not in block
