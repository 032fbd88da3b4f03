"""benchmarks/*.py: `--help` prints help without running; nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert {p.name for p in SCRIPTS} >= {"core_bench.py", "runner_bench.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_help_prints_help_quickly_without_running(script: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path,
                             env={**os.environ, "TMPDIR": str(tmp_path)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"{script.name} --help ran the benchmark instead of printing help")
    elapsed = time.perf_counter() - start
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"usage: python benchmarks/{script.name}"), res.stdout
    assert "data:" not in res.stdout
    assert elapsed < 30
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing was written


def test_runner_bench_removes_its_run_directories(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(BENCHMARKS / "runner_bench.py"), "--only", "a"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert "(a) in-process:" in res.stdout
    assert list(tmp_path.iterdir()) == []
