"""Shared fixtures.

Tests that read ``../shared`` (tau2 and tau-bench data) skip when it is
missing, except under ``TOOLGYM_REQUIRE_SHARED=1`` (set by CI), where they
fail: CI must never pass by skipping the standard benchmark.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared").resolve()


def require_shared(*parts: str) -> Path:
    """Path under ../shared; skip (or fail under TOOLGYM_REQUIRE_SHARED=1) if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found: {path}"
        if os.environ.get("TOOLGYM_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared directory."""
    return require_shared()


@pytest.fixture(scope="session")
def tau2_airline_dir() -> Path:
    """../shared/tau2/airline."""
    return require_shared("tau2", "airline")


@pytest.fixture(scope="session")
def tau2_retail_dir() -> Path:
    """../shared/tau2/retail."""
    return require_shared("tau2", "retail")
