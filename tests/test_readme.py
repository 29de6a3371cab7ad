"""The README's console examples print what topo prints (lines shown, `...` elided)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import run_cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _examples() -> list[tuple[str, list[str]]]:
    """(command, shown output lines) for each `$ topo ...` line followed by output."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        cmd, shown = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd and shown:
                    out.append((cmd, shown))
                cmd, shown = line[2:].split("  #")[0].strip(), []
            elif line.strip():
                shown.append(line)
        if cmd and shown:
            out.append((cmd, shown))
    # Commands on files a reader makes first, or continued over lines, are left out.
    return [(c, s) for c, s in out if not c.endswith("\\") and "bad-layout.yaml" not in c]


@pytest.mark.parametrize(("command", "shown"), _examples(), ids=lambda x: str(x)[:40])
def test_readme_example_is_real_output(
    command: str, shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = shlex.split(command)
    assert argv[0] == "topo"
    code, out, _ = run_cli(capsys, *argv[1:])
    assert code in (0, 1)  # `topo check` exits 1 when a limit is broken
    lines = out.splitlines()
    for want in shown:
        if want.strip() == "...":
            continue
        if want.endswith("..."):  # an elided end: the printed line starts with the rest
            head = want[:-3].rstrip()
            assert any(line.startswith(head) for line in lines), want
        else:
            assert want in lines, want
