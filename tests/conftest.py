"""Shared fixtures: bundled layouts by name, and a helper that writes a YAML layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture
def write_layout(tmp_path: Path) -> Callable[..., Path]:
    """Write a layout (a dict, or YAML text) to a file and return its path."""

    def write(doc: dict[str, Any] | str, name: str = "layout.yaml") -> Path:
        p = tmp_path / name
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        p.write_text(text, encoding="utf-8")
        return p

    return write
