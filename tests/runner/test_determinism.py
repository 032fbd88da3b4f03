"""Reported numbers are functions of the set of results; configs resume under any
PYTHONHASHSEED; a config that could not be written leaves a resumable directory."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolgym
from toolgym.evaluation._metrics import summarize
from toolgym.report import render_report
from toolgym.runner import load_run


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("det") / "r"
    toolgym.run(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.4}},
                trials=3, tasks="0-11", seed=7, out=out)
    return out


def test_statistics_do_not_depend_on_result_order(mixed_run: Path) -> None:
    results = load_run(mixed_run).results
    reference = summarize(results, 3, seed=7)
    for i in range(5):
        shuffled = list(results)
        random.Random(i).shuffle(shuffled)
        assert summarize(shuffled, 3, seed=7) == reference


def test_resume_and_report_show_the_summary_interval(mixed_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    shutil.copytree(mixed_run, run_dir)
    original = json.loads((run_dir / "summary.json").read_text())["pass1_ci"]
    # Drop some lines: the resume appends them in another order than the first run.
    lines = (run_dir / "results.jsonl").read_bytes().splitlines(keepends=True)
    (run_dir / "results.jsonl").write_bytes(b"".join(lines[::2]))
    resumed = toolgym.resume(run_dir)
    assert resumed.summary["pass1_ci"] == original
    html = render_report([load_run(run_dir)], tmp_path / "r.html").read_text()
    lo, hi = original
    assert re.search(rf"\[{lo:.3f}, {hi:.3f}\]", html), "report's CI differs from summary.json"


def test_config_resumes_under_any_hash_seed(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = [sys.executable, "-m", "toolgym", "run", "--tasks", "0-1", "--display", "none",
            "--no-report", "--out", str(out)]
    for hash_seed in ("0", "1", "2", "3", "4", "5", "6", "7"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, (hash_seed, proc.stderr)


def test_a_config_that_could_not_be_written_can_be_rerun(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    out = tmp_path / "r"
    real = os.replace

    def full_disk(src: str, dst: str) -> None:
        if str(dst).endswith("config.json"):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr("toolgym.runner._store.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        toolgym.run(domain="airline", tasks="0-1", out=out)
    monkeypatch.undo()
    assert not (out / "config.json").exists()
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    run = toolgym.run(domain="airline", tasks="0-1", out=out)  # the same command again
    assert run.summary["status"] == "complete" and len(run.results) == 2
