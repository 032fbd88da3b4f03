"""Fixtures of the prompt-pack tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tau2_standin import write_standin


@pytest.fixture
def tau2_standin(tmp_path: Path) -> Path:
    """A fresh stand-in tau2 checkout (see tau2_standin.py)."""
    return write_standin(tmp_path / "tau2-bench")
