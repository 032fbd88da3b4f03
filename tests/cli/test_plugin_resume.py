"""A run with a plugin module resumes from any directory: the run records where it found it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _toolgym(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolgym", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_a_plugin_run_resumes_from_another_directory(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "myplugin.py").write_text("LOADED = True\n")
    res = _toolgym(lib, "run", "--domain", "airline", "--agent-model", "oracle", "--user",
                   "scripted", "--tasks", "0-2", "--plugin", "myplugin", "--display", "none",
                   "--no-report", "--out", "runs/r")
    assert res.returncode == 0, res.stderr
    record = json.loads((lib / "runs" / "r" / "config.json").read_text())
    assert record["plugin_paths"] == {"myplugin": str(lib.resolve())}
    results = lib / "runs" / "r" / "results.jsonl"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:-1]))

    res = _toolgym(tmp_path, "resume", "lib/runs/r", "--display", "none", "--no-report")
    assert res.returncode == 0, res.stderr
    assert len(results.read_text().splitlines()) == 3
