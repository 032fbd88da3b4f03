"""toolgym optimize: the real gepa loop, driven offline by the heeding oracle agent and the
oracle reflection stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.models import ModelConfig
from toolgym.optimize import OptimizeConfig, OptimizeError, optimize, resolve_splits
from toolgym.runner._api import build_config

cli = CliRunner()
AIRLINE = toolgym.load_domain("airline")
ORACLE_REFLECTION = ModelConfig(model="oracle", args={"role": "reflection"})
DEMO = ["optimize", "--domain", "airline", "--agent-model", "oracle", "--agent-arg",
        "error_rate=0.5", "--agent-arg", "heed_prompt=true", "--reflection-model", "oracle",
        "--train-split", "train", "--test-split", "test", "--val-frac", "0.35",
        "--trials-per-task", "2", "--concurrency", "16"]


def _config(budget: int = 300, **kwargs: Any) -> OptimizeConfig:
    train, val, test = resolve_splits(AIRLINE, train_split="train", test_split="test",
                                      val_frac=0.35)
    run = build_config("airline", agent_model={"model": "oracle", "args": {
        "error_rate": 0.5, "heed_prompt": True}}, concurrency=16)
    return OptimizeConfig(**{"run": run, "train_ids": train, "val_ids": val, "test_ids": test,
                             "trials_per_task": 2, "test_trials": 4, "budget": budget,
                             "reflection": ORACLE_REFLECTION, **kwargs})


def _rollouts_on_disk(out: Path, kind: str = "evals") -> int:
    """Every rollout line of every evaluation run, checking none is repeated."""
    n = 0
    for f in (out / kind).glob("*/results.jsonl"):
        keys = Counter((json.loads(x)["task_id"], json.loads(x)["trial"])
                       for x in f.read_text().splitlines())
        assert set(keys.values()) <= {1}, f"{f} holds a rollout twice"
        n += sum(keys.values())
    return n


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("opt") / "opt"
    res = cli.invoke(app, [*DEMO, "--budget", "300", "--out", str(out)],
                     env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return out


def test_the_optimizer_finds_the_improvement(demo: Path) -> None:
    s = json.loads((demo / "optimize_summary.json").read_text())
    assert s["best"]["val"] > s["seed"]["val"]
    assert s["best"]["test"]["pass_1"] > s["seed"]["test"]["pass_1"]
    lo, hi = s["test_delta"]["ci"]
    assert 0 < lo <= s["test_delta"]["mean"] <= hi  # a paired interval that excludes 0
    assert s["accepted"] >= 1 and s["candidates"] == s["accepted"] + 1
    best = (demo / "best_system_prompt.txt").read_text()
    assert "When calling " in best and AIRLINE.policy.strip()[:80] in best
    lineage = json.loads((demo / "lineage.json").read_text())
    accepted = [c for c in lineage if c["parents"]]
    assert accepted and all(c["diff"]["system_prompt"].count("+When calling") >= 1
                            for c in accepted)
    assert all("tool `" in " ".join(map(str, c["feedback"])) for c in accepted)


def test_budget_accounting_matches_what_ran(demo: Path) -> None:
    s = json.loads((demo / "optimize_summary.json").read_text())
    assert s["optimization_rollouts"] == _rollouts_on_disk(demo)
    assert s["rollouts"] == s["optimization_rollouts"] + _rollouts_on_disk(demo, "test")
    # The budget may be overshot by at most one iteration (GEPA checks it between them).
    k, v, b = 2, len(json.loads((demo / "optimize_config.json").read_text())["val_ids"]), 3
    assert s["budget"] <= s["optimization_rollouts"] <= s["budget"] + 2 * b * k + v * k
    calls = 0
    for f in [*(demo / "evals").glob("*/results.jsonl"), *(demo / "test").glob(
            "*/results.jsonl")]:
        calls += sum(json.loads(x)["usage"]["agent"]["calls"] for x in f.read_text()
                     .splitlines())
    assert s["usage"]["agent"]["calls"] == calls
    assert s["usage"]["reflection"]["calls"] == s["reflection_calls"]


def test_every_evaluation_is_an_ordinary_run(demo: Path) -> None:
    runs = sorted((demo / "evals").iterdir())
    assert runs
    run = toolgym.load_run(runs[0])
    assert run.results and run.summary["status"] == "complete"
    prompt_file = run.config["config"]["agent"]["system_prompt_file"]
    assert prompt_file and Path(prompt_file).is_file()


def test_the_report_shows_before_and_after(demo: Path, tmp_path: Path) -> None:
    res = cli.invoke(app, ["report", str(demo), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert "<h2 id=sec-optimize>" in html and "Lineage" in html
    assert "A: seed on test" in html and "B: best on test" in html
    assert "+When calling" in html  # an accepted candidate's diff against its parent
    assert "Comparison" in html  # the paired before/after comparison


def test_the_best_prompt_runs_as_a_system_prompt_file(demo: Path, tmp_path: Path) -> None:
    res = cli.invoke(app, ["run", "--agent-arg", "error_rate=0.5", "--agent-arg",
                           "heed_prompt=true", "--system-prompt-file",
                           str(demo / "best_system_prompt.txt"), "--tasks", "0-3",
                           "--display", "none", "--no-report", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output


def test_splits_must_be_disjoint() -> None:
    with pytest.raises(ConfigError, match="train and test tasks must be disjoint"):
        resolve_splits(AIRLINE, train_split="train", test_split="train", val_frac=0.3)
    with pytest.raises(ConfigError, match="validation and test"):
        resolve_splits(AIRLINE, train_ids=["1"], val_ids=["0"], test_ids=["0"])
    with pytest.raises(ConfigError, match="give validation tasks"):
        resolve_splits(AIRLINE, train_split="train", test_split="test")
    with pytest.raises(ConfigError, match="not in the domain"):
        resolve_splits(AIRLINE, train_ids=["nope"], val_frac=0.5, test_split="test")
    train, val, test = resolve_splits(AIRLINE, train_split="train", test_split="test",
                                      val_frac=0.35, seed=3)
    again = resolve_splits(AIRLINE, train_split="train", test_split="test", val_frac=0.35,
                           seed=3)
    assert (train, val, test) == again and not set(train) & set(val)
    res = cli.invoke(app, [*DEMO[:-6], "--test-split", "train", "--val-frac", "0.3",
                           "--budget", "50", "--out", "never"])
    assert res.exit_code == 1 and "must be disjoint" in res.stderr


def test_dry_run_prints_the_estimate_and_writes_nothing(tmp_path: Path) -> None:
    res = cli.invoke(app, [*DEMO, "--budget", "20", "--dry-run", "--out",
                           str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "estimate: 16 rollouts for the seed's validation score, 12 per iteration" \
        in res.stderr
    assert "below the minimum for one accepted iteration (44 rollouts)" in res.stderr
    assert not (tmp_path / "o").exists()


def test_reflection_failures_are_surfaced_not_swallowed(tmp_path: Path) -> None:
    bad = ModelConfig(model="scripted", args={"script": ["I would add a rule."] * 20})
    with pytest.raises(OptimizeError, match=r"failed \d+ times in a row.*no complete ``` block"):
        optimize(_config(budget=200, reflection=bad), tmp_path / "o", log=lambda s: None)
    log = [json.loads(x) for x in (tmp_path / "o" / "reflection_log.jsonl").read_text()
           .splitlines()]
    assert len(log) >= 3 and all(not x["ok"] for x in log)
    assert log[0]["reply"] == "I would add a rule."


def test_an_alarm_when_no_candidate_is_accepted(tmp_path: Path) -> None:
    # A reflection that returns the text unchanged proposes nothing better.
    same = ModelConfig(model="scripted", args={"script": ["```\nsame\n```"] * 50})
    lines: list[str] = []
    optimize(_config(budget=120, reflection=same, alarm_after=2), tmp_path / "o",
             log=lines.append)
    assert any(line.startswith("warning: 2 iterations without an accepted candidate")
               for line in lines)


def test_a_changed_optimization_is_refused_and_the_budget_may_grow(demo: Path,
                                                                   tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "o"
    shutil.copytree(demo, out)
    with pytest.raises(ConfigError, match="holds another optimization"):
        optimize(_config(budget=300, trials_per_task=1), out, log=lambda s: None)
    before = _rollouts_on_disk(out)
    cfg = OptimizeConfig.model_validate(json.loads((out / "optimize_config.json").read_text()))
    result = optimize(cfg, out, log=lambda s: None, preflight=False)  # same settings: no work
    assert _rollouts_on_disk(out) == before
    assert result.summary["optimization_rollouts"] == before


def test_sigkill_then_resume_does_not_respend_finished_evaluations(tmp_path: Path) -> None:
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "toolgym", *DEMO, "--agent-arg", "latency_ms=5",
           "--budget", "200", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while len(list((out / "evals").glob("*/summary.json"))) < 4:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    finished = {}
    for summary in (out / "evals").glob("*/summary.json"):
        if json.loads(summary.read_text()).get("status") == "complete":
            finished[summary.parent] = (summary.parent / "results.jsonl").read_bytes()
    assert finished
    spent_before = _rollouts_on_disk(out)
    res = subprocess.run([sys.executable, "-m", "toolgym", "optimize", "--resume", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for run_dir, data in finished.items():  # finished evaluations were read back, not re-run
        assert (run_dir / "results.jsonl").read_bytes() == data
    s = json.loads((out / "optimize_summary.json").read_text())
    assert s["optimization_rollouts"] == _rollouts_on_disk(out) >= spent_before
    assert s["best"]["val"] >= s["seed"]["val"]


def test_the_readme_states_the_demo_figures(demo: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    s = json.loads((demo / "optimize_summary.json").read_text())
    stated = (f"validation {s['seed']['val']:.3f} -> {s['best']['val']:.3f}, test\n"
              f"pass^1 {s['seed']['test']['pass_1']:.3f} -> {s['best']['test']['pass_1']:.3f}")
    assert stated in readme
    lo, hi = s["test_delta"]["ci"]
    assert f"{s['test_delta']['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]" in readme
    assert f"{s['optimization_rollouts']}\nrollouts" in readme


def test_python_api_toolgym_optimize(tmp_path: Path) -> None:
    result = toolgym.optimize(
        domain="airline", agent_model={"model": "oracle", "args": {
            "error_rate": 0.5, "heed_prompt": True}},
        reflection_model="oracle", train_split="train", test_split="test", val_frac=0.35,
        trials_per_task=2, budget=120, out=tmp_path / "o", log=lambda s: None)
    assert result.summary["best"]["val"] > result.summary["seed"]["val"]
    assert result.best_candidate["system_prompt"].count("When calling") >= 1
    assert (tmp_path / "o" / "optimize_summary.json").exists()
    with pytest.raises(ConfigError, match="reflection_model and budget"):
        toolgym.optimize(domain="airline", out=tmp_path / "p")


def test_candidates_can_be_scored_by_a_judge(tmp_path: Path) -> None:
    cfg = _config(budget=80, score="graph")
    result = optimize(cfg, tmp_path / "o", log=lambda s: None)
    some_eval = next((tmp_path / "o" / "evals").iterdir())
    scores = (some_eval / "scores" / "graph.jsonl").read_text().splitlines()
    assert scores  # the judge scored the evaluation's rollouts, beside its results
    assert 0.0 <= result.summary["seed"]["val"] <= 1.0
