"""A disk that fills up (or fails) never leaves a torn record inside results.jsonl."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.runner import load_run
from toolgym.runner._store import ResultsWriteError, ResultsWriter, read_results_file

TASKS = [t.id for t in toolgym.load_domain("airline").tasks[:6]]
EXPECTED = sorted((t, trial) for t in TASKS for trial in range(2))
ARGS = ["--domain", "airline", "--agent-model", "oracle", "--user", "scripted",
        "--trials", "2", "--tasks", "0-5", "--concurrency", "2", "--display", "plain"]


def _keys_on_disk(run_dir: Path) -> list[tuple[str, int]]:
    """Every line of results.jsonl parsed (no de-duplication, no skipping)."""
    lines = (run_dir / "results.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"", "results.jsonl must end with a complete line"
    return [(json.loads(x)["task_id"], json.loads(x)["trial"]) for x in lines[:-1]]


class _FailingWrites:
    """os.write that writes part of the data, then fails like a full disk."""

    def __init__(self, after: int, partial: int = 100) -> None:
        self.calls, self.after, self.partial = 0, after, partial
        self.real = os.write

    def __call__(self, fd: int, data: Any) -> int:
        self.calls += 1
        if self.calls <= self.after:
            return self.real(fd, data)
        if self.calls == self.after + 1:
            self.real(fd, bytes(data[: self.partial]))  # a fragment reaches the file
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_is_cut_back_and_stops_the_writer(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    run = toolgym.run(domain="airline", agent_model="oracle", user="scripted", tasks="0-2",
                      out=tmp_path / "src")
    path = tmp_path / "results.jsonl"
    writer = ResultsWriter(path, fsync=False)
    failing = _FailingWrites(after=1)
    monkeypatch.setattr("toolgym.runner._store.os.write", failing)
    writer.append(run.results[0])
    with pytest.raises(ResultsWriteError, match="No space left on device"):
        writer.append(run.results[1])
    with pytest.raises(ResultsWriteError):  # no later record may follow a failure
        writer.append(run.results[2])
    writer.close()
    monkeypatch.undo()
    data = path.read_bytes()
    assert data.count(b"\n") == 1 and data.endswith(b"\n")  # the fragment was cut away
    assert [r.key for r in read_results_file(path).results] == [run.results[0].key]


def test_run_on_a_full_disk_ends_with_one_line_and_resumes(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    out = tmp_path / "r"
    failing = _FailingWrites(after=4)
    monkeypatch.setattr("toolgym.runner._store.os.write", failing)
    with pytest.raises(ResultsWriteError) as info:
        toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=2,
                    tasks="0-5", out=out)
    message = str(info.value)
    assert "results.jsonl" in message and f"toolgym resume {out}" in message
    assert "\n" not in message
    monkeypatch.undo()
    assert len(_keys_on_disk(out)) == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    toolgym.resume(out)
    assert sorted(_keys_on_disk(out)) == EXPECTED  # each exactly once
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def _limit_file_size(limit: int) -> None:
    # Beyond the limit a write fails with EFBIG, as on a full disk; without
    # SIGXFSZ ignored the process would be killed instead.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_real_size_limit_mid_run_then_resume(tmp_path: Path) -> None:
    """A real process hits a real file-size limit (the platform's stand-in for a
    full small filesystem), then resumes with the space back."""
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "toolgym", "run", *ARGS, "--out", str(out), "--no-report"]
    # Big enough for config.json and a few records, not for twelve.
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: _limit_file_size(40_000))
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "results.jsonl" in errors[0]
    assert f"toolgym resume {out}" in errors[0]
    assert "Traceback" not in proc.stderr
    partial = _keys_on_disk(out)  # whole lines only, nothing torn
    assert 0 < len(partial) < len(EXPECTED)
    resumed = subprocess.run([sys.executable, "-m", "toolgym", "resume", str(out),
                              "--display", "none", "--no-report"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(_keys_on_disk(out)) == EXPECTED
    assert load_run(out).summary["status"] == "complete"
