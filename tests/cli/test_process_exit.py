"""The console entry point leaves without the interpreter's teardown, yet loses nothing:
streams are flushed, atexit handlers run, and a running non-daemon thread is waited for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = '''
import atexit, threading, time
from pathlib import Path

import pytest

atexit.register(lambda: Path("atexit.txt").write_text("ran"))

def _late() -> None:
    time.sleep(1.5)
    Path("thread.txt").write_text("done")

threading.Thread(target=_late, daemon=False).start()
'''


def _toolgym(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolgym", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_a_run_ends_with_everything_written_and_flushed(tmp_path: Path) -> None:
    res = _toolgym(tmp_path, "run", "--domain", "airline", "--agent-model", "oracle",
                   "--user", "scripted", "--tasks", "0-4", "--trials", "2", "--display",
                   "plain", "--out", "run")
    assert res.returncode == 0, res.stderr
    assert "report.html" in res.stdout  # the last lines printed reached the pipe
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    keys = [(json.loads(x)["task_id"], json.loads(x)["trial"]) for x in lines]
    assert len(keys) == len(set(keys)) == 10
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "complete"


def test_atexit_handlers_run_and_running_threads_are_waited_for(tmp_path: Path) -> None:
    (tmp_path / "exit_plugin.py").write_text(PLUGIN)
    res = _toolgym(tmp_path, "run", "--domain", "airline", "--agent-model", "oracle",
                   "--user", "scripted", "--tasks", "0", "--display", "none", "--no-report",
                   "--plugin", "exit_plugin", "--out", "run")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "done"


def test_exit_statuses_are_kept(tmp_path: Path) -> None:
    res = _toolgym(tmp_path, "run", "--domain", "nope", "--agent-model", "oracle")
    assert res.returncode == 1 and "unknown domain 'nope'" in res.stderr
    assert _toolgym(tmp_path, "--version").returncode == 0
    assert _toolgym(tmp_path, "run", "--no-such-option").returncode == 2


def test_main_in_python_raises_system_exit_and_leaves_the_process_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from toolgym.cli import main

    monkeypatch.setattr(sys, "argv", ["toolgym", "run", "--domain", "nope",
                                      "--agent-model", "oracle"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1


def test_a_profiler_still_gets_its_statistics(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "cProfile", "-o", "prof.out", "-m", "toolgym",
                          "--version"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "prof.out").stat().st_size > 0
