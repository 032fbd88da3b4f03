"""toolgym optimize never scores a failure of the set-up as a 0: infrastructure errors and
rewards that wait for a judge stop it with a one-line reason, and a resume reruns them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.optimize import OptimizeError
from toolgym.testing import FakeOpenAIServer

cli = CliRunner()
SPLITS = {"train_split": "single", "test_split": "multi", "val_frac": 0.4}


def _nl_judge(broken: list[bool]) -> Any:
    """An NL-assertion judge that meets every assertion (and fails while ``broken``)."""
    def respond(request: dict[str, Any]) -> Any:
        if broken[0]:
            raise RuntimeError("judge down")
        text = request["messages"][-1]["content"]
        n = text.split("Assertions:")[1].count("\n")
        return json.dumps({"results": [{"index": i + 1, "met": True, "turn": None,
                                        "justification": "ok"} for i in range(n)]})
    return respond


def _lines_per_rollout(out: Path) -> Counter[tuple[str, str, int]]:
    counts: Counter[tuple[str, str, int]] = Counter()
    for f in (out / "evals").glob("*/results.jsonl"):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            counts[(f.parent.name, r["task_id"], r["trial"])] += 1
    return counts


def test_tasks_that_need_a_missing_judge_are_refused_before_anything_runs(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"57 of the 57 tasks .* need a judge: give "
                                          r"--judge-model, or score candidates with --score"):
        toolgym.optimize(domain="assistant", agent_model="oracle", tool_sim_model="oracle",
                         reflection_model="oracle", budget=20, out=tmp_path / "o",
                         preflight=False, **SPLITS)
    assert not (tmp_path / "o").exists()


def test_infrastructure_errors_stop_the_optimization_and_a_resume_reruns_them(
        tmp_path: Path) -> None:
    broken = [True]
    with FakeOpenAIServer(_nl_judge(broken)) as server:
        judge = {"model": "openai/fake-model", "base_url": server.base_url,
                 "max_retries": 0, "backoff_base_s": 0.0}
        options: dict[str, Any] = {
            "domain": "assistant", "agent_model": "oracle", "tool_sim_model": "oracle",
            "judge_model": judge, "reflection_model": "oracle", "budget": 16,
            "test_trials": 1, "out": tmp_path / "o", "preflight": False,
            "log": lambda s: None, **SPLITS}
        with pytest.raises(OptimizeError) as info:
            toolgym.optimize(**options)
        message = str(info.value)
        assert "8 of 8 rollouts ended on infrastructure errors" in message
        assert "judge" in message and f"toolgym optimize --resume {tmp_path / 'o'}" in message
        assert "\n" not in message
        # The failed rollouts are on disk, recorded as failures, not as zero scores.
        (seed_eval,) = (tmp_path / "o" / "evals").iterdir()
        records = [json.loads(x) for x in (seed_eval / "results.jsonl").read_text()
                   .splitlines()]
        assert {r["breakdown"]["status"] for r in records} == {"judge_failed"}

        broken[0] = False
        result = toolgym.optimize(**options)
    assert result.summary["seed"]["val"] == 1.0
    counts = _lines_per_rollout(tmp_path / "o")
    # Each failed rollout was run once more (a newer record), every other rollout once.
    assert Counter(v for (e, _, _), v in counts.items() if e == seed_eval.name) == {2: 8}
    assert set(v for (e, _, _), v in counts.items() if e != seed_eval.name) <= {1}
    loaded = toolgym.load_run(seed_eval)
    assert [r.reward for r in loaded.results] == [1.0] * 8


def test_the_cli_takes_the_simulated_tool_options(tmp_path: Path) -> None:
    broken = [False]
    with FakeOpenAIServer(_nl_judge(broken)) as server:
        res = cli.invoke(app, [
            "optimize", "--domain", "assistant", "--agent-model", "oracle",
            "--tool-sim-model", "oracle", "--tool-failures", "*=none:0.3,partial:0.3",
            "--tool-cache", str(tmp_path / "cache"), "--judge-model", "openai/fake-model",
            "--judge-base-url", server.base_url, "--reflection-model", "oracle",
            "--train-split", "single", "--test-split", "multi", "--val-frac", "0.4",
            "--budget", "16", "--test-trials", "1", "--no-preflight",
            "--out", str(tmp_path / "o")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    runs = [toolgym.load_run(d) for d in (tmp_path / "o" / "evals").iterdir()]
    assert runs
    for run in runs:
        cfg = json.loads((run.path / "config.json").read_text())["config"]
        assert cfg["tool_sim"]["model"] == "oracle"
        assert cfg["tool_failures"]["*"] == {"no_answer": 0.3, "partial": 0.3}
    injected = Counter(m.sim.injected for run in runs for r in run.results
                       for m in r.messages if m.role == "tool" and m.sim is not None)
    assert injected["no_answer"] and injected["partial"] and injected[None]
    assert any((tmp_path / "cache").rglob("*"))


def test_a_judge_that_gives_no_score_stops_the_optimization_and_a_resume_rescores(
        tmp_path: Path) -> None:
    broken = [True]

    def rater(request: dict[str, Any]) -> Any:
        if broken[0]:
            return "I cannot rate this."  # not the JSON verdict: the judge fails
        return json.dumps({
            "criteria": [{"name": c, "verdict": True, "evidence": [1], "rationale": "ok"}
                         for c in ("resolved", "policy", "tools", "communication")],
            "overall": {"verdict": True, "rationale": "ok"}})

    with FakeOpenAIServer(rater) as server:
        options: dict[str, Any] = {
            "domain": "airline", "agent_model": "oracle", "reflection_model": "oracle",
            "score": "rater", "score_model": {"model": "openai/fake-model",
                                              "base_url": server.base_url,
                                              "max_retries": 0, "backoff_base_s": 0.0},
            "train_split": "train", "test_split": "test", "val_frac": 0.35, "budget": 10,
            "test_trials": 1, "out": tmp_path / "o", "preflight": False,
            "log": lambda s: None}
        with pytest.raises(OptimizeError, match=r"the rater judge gave no score for (\d+) "
                                                r"of \1 rollouts .* --resume"):
            toolgym.optimize(**options)
        broken[0] = False
        result = toolgym.optimize(**options)
    assert result.summary["seed"]["val"] == 1.0


def test_a_bad_strategy_argument_fails_before_anything_is_written(tmp_path: Path) -> None:
    res = cli.invoke(app, ["optimize", "--domain", "airline", "--agent-model", "oracle",
                           "--reflection-model", "oracle", "--user-arg", "bogus=1",
                           "--train-split", "train", "--test-split", "test", "--val-frac",
                           "0.35", "--budget", "20", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "unknown argument(s) 'bogus'" in res.output
    assert not (tmp_path / "o").exists()  # so the corrected command starts afresh


def test_a_resumed_optimization_reports_the_whole_of_it(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "domain": "airline", "agent_model": {"model": "oracle", "args": {
            "error_rate": 0.5, "heed_prompt": True}},
        "reflection_model": "oracle", "train_split": "train", "test_split": "test",
        "val_frac": 0.35, "trials_per_task": 2, "test_trials": 2, "out": tmp_path / "o",
        "preflight": False}
    first = toolgym.optimize(**options, budget=60, log=lambda s: None)
    lines: list[str] = []
    again = toolgym.optimize(**options, budget=200, log=lines.append)
    s = again.summary

    def on_disk(kind: str) -> tuple[int, int]:
        n = calls = 0
        for f in (tmp_path / "o" / kind).glob("*/results.jsonl"):
            for x in f.read_text().splitlines():
                n += 1
                calls += json.loads(x)["usage"]["agent"]["calls"]
        return n, calls

    (evals, eval_calls), (tests, test_calls) = on_disk("evals"), on_disk("test")
    assert s["optimization_rollouts"] == evals >= 200
    assert s["rollouts"] == evals + tests
    assert s["usage"]["agent"]["calls"] == eval_calls + test_calls
    log = (tmp_path / "o" / "reflection_log.jsonl").read_text().splitlines()
    assert s["reflection_calls"] == len(log) > first.summary["reflection_calls"]
    assert s["usage"]["reflection"]["calls"] == len(log)
    assert s["iterations"] > first.summary["iterations"]
    # Progress lines carry on from the first process's best, not from the seed's.
    best_before = first.summary["best"]["val"]
    shown = [float(x.split("best val ")[1].split(" ")[0]) for x in lines if "best val" in x]
    assert shown and min(shown) >= best_before
