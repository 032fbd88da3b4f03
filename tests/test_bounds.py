"""Every test is bounded in time and memory (pyproject.toml and tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_every_test_has_a_time_limit(request: pytest.FixtureRequest) -> None:
    config = request.config
    assert config.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed"
    assert float(config.getini("timeout")) == 60
    # The thread method: hypothesis would swallow the signal method's failure.
    assert config.getini("timeout_method") == "thread"


def test_memory_cap_is_in_force_here_and_in_subprocesses(memory_cap: int | None) -> None:
    import resource

    if memory_cap is None:
        pytest.skip("memory cap disabled by TOOLGYM_TEST_MEMORY_GIB=0")
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    assert soft <= memory_cap  # lower only where the hard limit already was
    with pytest.raises(MemoryError):
        bytearray(soft + 2**20)
    child = subprocess.run(
        [sys.executable, "-c",
         "import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0])"],
        capture_output=True, text=True, timeout=30, check=True)
    assert int(child.stdout) == soft
