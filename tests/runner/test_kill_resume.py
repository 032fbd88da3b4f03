"""A run killed with SIGKILL mid-way resumes to every (task, trial) exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import toolgym
from toolgym.runner import load_run

ARGS = ["--domain", "airline", "--agent-model", "oracle", "--agent-arg", "latency_ms=20",
        "--user", "scripted", "--trials", "2", "--tasks", "0-11", "--concurrency", "3",
        "--display", "plain", "--no-report"]


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, "run finished before it could be killed"
        time.sleep(0.02)
    raise AssertionError(f"no {n} results within {limit_s} s")


def test_sigkill_then_resume_finds_each_rollout_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "toolgym", "run", *ARGS, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_lines(out / "results.jsonl", 3, proc, limit_s=60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    partial = load_run(out).results
    assert 3 <= len(partial) < 24
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    tasks = [t.id for t in toolgym.load_domain("airline").tasks[:12]]
    expected = sorted((t, trial) for t in tasks for trial in range(2))
    assert sorted(r.key for r in load_run(out).results) == expected
    # What is on disk, not what the de-duplicating loader shows: one line each.
    raw = (out / "results.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    on_disk = [(json.loads(x)["task_id"], json.loads(x)["trial"]) for x in raw.splitlines()]
    assert sorted(on_disk) == expected


def test_sigint_stops_launching_and_prints_resume_command(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "toolgym", "run", *ARGS, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_lines(out / "results.jsonl", 2, proc, limit_s=60)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr  # interrupted: the shell convention for Ctrl-C
    assert f"toolgym resume {out}" in stderr
    results = load_run(out).results
    assert 2 <= len(results) < 24
    assert load_run(out).summary["complete"] is False
