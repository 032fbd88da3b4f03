"""Every test is bounded in time and memory (pyproject.toml and tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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


def test_a_hung_hypothesis_test_ends_the_session(tmp_path: Path) -> None:
    # With the project's settings (only the limit shortened), a property test
    # that hangs is stopped: hypothesis cannot catch the timer thread's exit.
    hung = tmp_path / "test_hung.py"
    hung.write_text(
        "import time\n"
        "from hypothesis import given, settings, strategies as st\n"
        "@settings(deadline=None)\n"
        "@given(st.integers())\n"
        "def test_hangs(n):\n"
        "    time.sleep(60)\n", encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"),
         "--rootdir", str(tmp_path), "-o", "timeout=1", "-p", "no:cacheprovider", str(hung)],
        capture_output=True, text=True, timeout=50, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Timeout" in proc.stdout + proc.stderr
    assert time.monotonic() - started < 40
