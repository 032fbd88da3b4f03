"""Signals and exit statuses of the real command line (subprocesses, as users and
batch schedulers run it)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import toolgym

TASKS = [t.id for t in toolgym.load_domain("airline").tasks[:10]]
SLOW = ["--domain", "airline", "--agent-model", "oracle", "--agent-arg", "latency_ms=500",
        "--user", "scripted", "--trials", "2", "--tasks", "0-9", "--concurrency", "4",
        "--display", "plain", "--no-report"]


def _toolgym(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolgym", *args]


def _keys_on_disk(run_dir: Path) -> Counter[tuple[str, int]]:
    data = (run_dir / "results.jsonl").read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return Counter((json.loads(x)["task_id"], json.loads(x)["trial"])
                   for x in data.splitlines())


def test_sigterm_from_timeout_abandons_in_flight_and_resumes_exactly_once(tmp_path: Path
                                                                          ) -> None:
    """`timeout` sends SIGTERM, as Slurm does before SIGKILL; the run must end within a
    few seconds, say so in summary.json, and resume to every rollout exactly once."""
    out = tmp_path / "r"
    started = time.monotonic()
    # -k: if toolgym ignored SIGTERM, timeout would SIGKILL it 20 s later.
    proc = subprocess.run(["timeout", "-k", "20", "8", *_toolgym("run", *SLOW, "--out",
                                                                  str(out))],
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 124, proc.stderr  # timeout's own code: it had to signal
    assert took < 8 + 3.0, f"took {took:.1f} s to stop after SIGTERM"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert summary["resume_command"] == f"toolgym resume {out}"
    partial = _keys_on_disk(out)
    assert 0 < sum(partial.values()) < 20 and set(partial.values()) == {1}
    resumed = subprocess.run(_toolgym("resume", str(out), "--display", "none",
                                      "--no-report"), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert _keys_on_disk(out) == Counter({(t, k): 1 for t in TASKS for k in range(2)})


def test_sigterm_exit_status_is_143(tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = subprocess.Popen(_toolgym("run", *SLOW, "--out", str(out)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_bytes():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert f"resume with: toolgym resume {out}" in stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["run", "--tasks", "0-1", "--no-report"], 0, "results:"),
    (["run", "--domain", "nope", "--no-report"], 1, "error:"),
    (["run", "--tasks", "0-999999999", "--no-report"], 1, "out of range"),
    (["run", "--max-steps", "0", "--no-report"], 2, "max_steps"),
    (["run", "--timeout", "-1", "--no-report"], 2, "rollout_timeout_s"),
    (["run", "--display", "fancy", "--no-report"], 2, "--display"),
    (["run", "--no-such-option"], 2, "No such option"),
    (["run", "--agent-model", "openai/m", "--agent-base-url", "http://127.0.0.1:{port}/v1",
      "--tasks", "0"], 2, "connection refused"),
    (["run", "--agent-model", "openai/m", "--agent-base-url", "http://127.0.0.1:{port}/v1",
      "--agent-arg", "max_retries=0", "--tasks", "0", "--no-preflight", "--no-report"], 3,
     "every rollout failed on infrastructure"),
])
def test_exit_status_of_main(args: list[str], code: int, needle: str, tmp_path: Path) -> None:
    port = str(_closed_port())
    argv = [a.replace("{port}", port) for a in args]
    if argv[0] == "run":
        argv += ["--out", str(tmp_path / "r"), "--display", "none"] if "--display" not in argv \
            else ["--out", str(tmp_path / "r")]
    proc = subprocess.run(_toolgym(*argv), capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert needle in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_ctrl_c_exit_status_is_130(tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = subprocess.Popen(_toolgym("run", *SLOW, "--out", str(out)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_bytes():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGINT"
