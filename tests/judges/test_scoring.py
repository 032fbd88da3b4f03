"""toolgym judge: re-scoring saved runs with judges served over real HTTP by a scripted
responder (the loopback server), resuming, judge errors, and agreement."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.errors import ConfigError
from toolgym.judges import agreement, cohen_kappa, read_scores, score_run
from toolgym.models import ModelConfig
from toolgym.runner import load_run
from toolgym.testing import FakeOpenAIServer

cli = CliRunner()


def nl_responder(met: Callable[[str], bool] = lambda a: True) -> Callable[[dict[str, Any]],
                                                                          Any]:
    """Answers NL-assertion prompts: every assertion for which ``met`` is true is met."""

    def respond(request: dict[str, Any]) -> Any:
        text = request["messages"][-1]["content"]
        assertions = re.findall(r"^(\d+)\. (.*)$", text.split("Assertions:")[1], re.M)
        return json.dumps({"results": [
            {"index": int(i), "met": met(a), "justification": f"checked {i}", "turn": 2}
            for i, a in assertions]})

    return respond


@pytest.fixture(scope="module")
def retail_run(tmp_path_factory: pytest.TempPathFactory, tau2_retail_dir: Path) -> Path:
    """A tau2 retail run made without a judge (some rollouts wait for one)."""
    out = tmp_path_factory.mktemp("ret") / "r"
    toolgym.run(domain="retail", data_dir=tau2_retail_dir, tasks="0-9", out=out)
    return out


@pytest.fixture
def run_copy(retail_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(retail_run, dst)
    return dst


@pytest.fixture
def judge_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(nl_responder(), model_name="judge") as srv:
        yield srv


def _model(srv: FakeOpenAIServer, **extra: Any) -> ModelConfig:
    return ModelConfig(model="openai/judge", base_url=srv.base_url, backoff_base_s=0.0, **extra)


def test_nl_fills_the_rewards_that_waited_for_a_judge(run_copy: Path,
                                                      judge_server: FakeOpenAIServer) -> None:
    before = load_run(run_copy)
    waiting = [r for r in before.results if r.breakdown.status == "judge_needed"]
    assert waiting and before.summary["judge_needed"] == len(waiting)
    raw = (run_copy / "results.jsonl").read_bytes()
    scoring = score_run(run_copy, "nl", model=_model(judge_server))
    assert (run_copy / "results.jsonl").read_bytes() == raw  # never rewritten
    assert sorted(s.key for s in scoring.scores) == sorted(r.key for r in waiting)
    after = load_run(run_copy)
    filled = {r.key: r for r in after.results}
    for r in waiting:
        assert filled[r.key].reward == 1.0 and filled[r.key].breakdown.status == "ok"
        assert filled[r.key].breakdown.components["NL_ASSERTION"] == 1.0
        assert filled[r.key].usage["judge"].calls == 1
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["judge_needed"] == 0 and summary["scorings"]["nl"]["n_scored"] == len(waiting)
    assert summary["avg_reward"] == pytest.approx(
        sum(r.reward for r in after.results if r.reward is not None) / len(after.results))


def test_nl_recomputes_the_reward_by_reward_basis(run_copy: Path) -> None:
    with FakeOpenAIServer(nl_responder(lambda a: False), model_name="judge") as srv:
        scoring = score_run(run_copy, "nl", model=_model(srv))
    assert scoring.scores and all(s.success is False and s.score == 0.0 for s in scoring.scores)
    assert all(f["type"] == "nl_assertion" for s in scoring.scores for f in s.failures)
    assert all("not met:" in s.feedback for s in scoring.scores)
    rewards = {r.key: r.reward for r in load_run(run_copy).results}
    assert all(rewards[s.key] == 0.0 for s in scoring.scores)


def test_a_scoring_resumes_and_refuses_other_settings(run_copy: Path,
                                                      judge_server: FakeOpenAIServer) -> None:
    score_run(run_copy, "nl", model=_model(judge_server))
    calls = len(judge_server.chat_requests)
    again = score_run(run_copy, "nl", model=_model(judge_server))
    assert len(judge_server.chat_requests) == calls  # nothing left to score
    assert len(again.scores) == len(read_scores(run_copy, "nl"))
    lines = (run_copy / "scores" / "nl.jsonl").read_text().splitlines()
    assert len(lines) == len(again.scores)
    with pytest.raises(ConfigError, match="other settings"):
        score_run(run_copy, "nl", model=_model(judge_server), args={"attempts": 3})
    # A moved server is fine (how the model is reached, not what judges).
    score_run(run_copy, "nl", model=_model(judge_server, timeout_s=30.0))


def test_unusable_judge_replies_are_judge_errors_then_retried(run_copy: Path) -> None:
    replies = {"n": 0}
    good = nl_responder()

    def flaky(request: dict[str, Any]) -> Any:
        replies["n"] += 1
        return "I think it is fine." if replies["n"] <= 2 else good(request)

    with FakeOpenAIServer(flaky, model_name="judge") as srv:
        res = cli.invoke(app, ["judge", str(run_copy), "--judge", "nl", "--judge-model",
                               "openai/judge", "--judge-base-url", srv.base_url,
                               "--concurrency", "1"])
        assert res.exit_code == 3, res.output
        # The hint is a command that works: the judge model is in it.
        assert (f"rerun with: toolgym judge {run_copy} --judge nl --judge-model openai/judge "
                "--retry-errors (with the same endpoint options)") in res.stderr
        errors = [s for s in read_scores(run_copy, "nl") if s.success is None]
        assert len(errors) == 1 and "no usable verdict" in (errors[0].error or "")
        assert errors[0].usage.calls == 2  # both attempts were paid for
        rewards = {r.key: r.reward for r in load_run(run_copy).results}
        assert rewards[errors[0].key] is None  # a judge error is never a pass
        res = cli.invoke(app, ["judge", str(run_copy), "--judge", "nl", "--judge-model",
                               "openai/judge", "--judge-base-url", srv.base_url,
                               "--retry-errors"])
        assert res.exit_code == 0, res.output
    assert all(s.success for s in read_scores(run_copy, "nl"))


def test_judge_preflight_and_bad_names(run_copy: Path) -> None:
    res = cli.invoke(app, ["judge", str(run_copy), "--judge", "nl", "--judge-model",
                           "openai/judge", "--judge-base-url", "http://127.0.0.1:9/v1"])
    assert res.exit_code == 2 and "judge endpoint http://127.0.0.1:9/v1: connection refused" \
        in res.stderr
    assert not (run_copy / "scores").exists()
    res = cli.invoke(app, ["judge", str(run_copy), "--judge", "nope"])
    assert res.exit_code == 1 and "unknown judge 'nope'" in res.stderr
    res = cli.invoke(app, ["judge", str(run_copy), "--judge", "rater"])
    assert res.exit_code == 1 and "needs a model" in res.stderr
    res = cli.invoke(app, ["judge", str(run_copy), "--judge", "nl", "--name", "../x",
                           "--judge-model", "openai/judge", "--judge-base-url",
                           "http://127.0.0.1:9/v1", "--no-preflight"])
    assert res.exit_code == 1 and "invalid scoring name" in res.stderr


# ------------------------------------------------------------------ agreement


def test_cohen_kappa_known_values() -> None:
    perfect = [(True, True), (False, False)] * 5
    assert cohen_kappa(perfect) == 1.0
    # 20 pairs: 8 both pass, 2 a only, 4 b only, 6 both fail -> po=0.7, pe=0.5*0.6+0.5*0.4
    pairs = [(True, True)] * 8 + [(True, False)] * 2 + [(False, True)] * 4 + [
        (False, False)] * 6
    assert cohen_kappa(pairs) == pytest.approx((0.7 - 0.5) / 0.5)
    assert cohen_kappa([(True, True)] * 3) is None  # both constant: undefined
    assert cohen_kappa([]) is None


def test_agreement_between_reward_and_a_scoring(tmp_path: Path) -> None:
    out = tmp_path / "r"
    toolgym.run(domain="airline", agent_model={"model": "oracle", "args": {"error_rate": 0.5}},
                tasks="0-9", trials=2, out=out)
    run = load_run(out)
    # A scoring that agrees with the reward except on one rollout.
    flip = run.results[0].key
    scores = [{"task_id": r.task_id, "trial": r.trial, "judge": "fake",
               "success": (not r.success) if r.key == flip else r.success,
               "score": 1.0, "feedback": "because"} for r in run.results]
    (out / "scores").mkdir()
    (out / "scores" / "fake.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scores))
    result = agreement(load_run(out), "reward", "fake")
    assert result.n == 20 and result.agreement == pytest.approx(19 / 20)
    assert [(d["task_id"], d["trial"]) for d in result.disagreements] == [flip]
    assert result.both_pass + result.a_only + result.b_only + result.both_fail == 20
    assert result.kappa is not None and 0.8 < result.kappa <= 1.0
    assert result.kappa_ci is not None and result.kappa_ci[0] <= result.kappa <= \
        result.kappa_ci[1]
    res = cli.invoke(app, ["judge", "agreement", str(out), "--a", "reward", "--b", "fake"],
                     env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "agreement 0.950" in res.stdout and "Cohen's kappa" in res.stdout
    assert "Disagreements (1)" in res.stdout
    res = cli.invoke(app, ["judge", "agreement", str(out), "--b", "missing"])
    assert res.exit_code == 1 and "no scoring 'missing'" in res.stderr


def test_the_report_shows_scorings_side_by_side(run_copy: Path,
                                                judge_server: FakeOpenAIServer,
                                                tmp_path: Path) -> None:
    from toolgym.report import render_report

    score_run(run_copy, "nl", model=_model(judge_server))
    html = render_report([load_run(run_copy)], tmp_path / "r.html").read_text()
    assert "<h2 id=sec-scorings>Scorings</h2>" in html
    row = html.split("<h2 id=sec-scorings>")[1].split("</table>")[0]
    assert "<td>nl</td>" in row and "agreement with reward" in row
    assert "every NL assertion met" in html  # the feedback reaches the trajectory viewer


def test_list_judges() -> None:
    res = cli.invoke(app, ["list", "judges"])
    assert res.exit_code == 0, res.output
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert {"nl", "rater", "in-context"} <= set(names)


def test_readme_custom_judge_runs_from_the_cli(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split('@register_judge("short")')[0].rsplit("```python", 1)[1]
    code = block + '@register_judge("short")' + text.split('@register_judge("short")')[1] \
        .split("```")[0]
    (tmp_path / "my_judges.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    toolgym.run(domain="airline", tasks="0-3", out=tmp_path / "r")
    res = cli.invoke(app, ["judge", str(tmp_path / "r"), "--plugin", "my_judges", "--judge",
                           "short", "--judge-arg", "max_steps=3"])
    assert res.exit_code == 0, res.output
    scores = read_scores(tmp_path / "r", "short")
    run = {r.key: r for r in load_run(tmp_path / "r").results}
    assert len(scores) == 4
    assert all(s.success == (run[s.key].steps <= 3) for s in scores)


def test_graph_judge_from_the_cli_and_its_agreement_with_the_reward(
        tmp_path: Path, tau2_airline_dir: Path) -> None:
    out = tmp_path / "r"
    toolgym.run(domain="airline", data_dir=tau2_airline_dir, tasks="0-11", trials=2,
                agent_model={"model": "oracle", "args": {"error_rate": 0.5}}, out=out)
    res = cli.invoke(app, ["judge", str(out), "--judge", "graph", "--display", "none"])
    assert res.exit_code == 0, res.output
    scores = read_scores(out, "graph")
    assert len(scores) == 24 and all(s.success is not None for s in scores)
    failed = [s for s in scores if not s.success]
    assert failed and all(f["type"] in ("count_mismatch", "unmatched_event",
                                        "causality_violation")
                          for s in failed for f in s.failures)
    res = cli.invoke(app, ["judge", "agreement", str(out), "--b", "graph", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n"] == 24 and data["agreement"] >= 0.9


def test_graph_cases_from_the_cli(tmp_path: Path) -> None:
    case = {"id": "swap", "oracle": [
        {"id": "a", "tool": "update_reservation_baggages",
         "args": {"reservation_id": "X", "total_baggages": 1}},
        {"id": "b", "tool": "update_reservation_baggages",
         "args": {"reservation_id": "Y", "total_baggages": 2}}],
        "agent": [{"tool": "update_reservation_baggages",
                   "args": {"reservation_id": "Y", "total_baggages": 2}},
                  {"tool": "update_reservation_baggages",
                   "args": {"reservation_id": "X", "total_baggages": 1}}]}
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(case) + "\n")
    res = cli.invoke(app, ["judge", "graph", "--cases", str(path)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"id": "swap", "success": True, "failures": [],
                                      "matching": {"a": 1, "b": 0}}
    path.write_text('{"id": 1\n')
    res = cli.invoke(app, ["judge", "graph", "--cases", str(path)])
    assert res.exit_code == 2 and "cases.jsonl:1" in res.stderr


def test_judge_usage_joins_the_run_totals(run_copy: Path) -> None:
    with FakeOpenAIServer(lambda r: "[[success]]", model_name="judge") as srv:
        model = _model(srv).model_copy(update={"args": {"price_in": 1.0, "price_out": 2.0}})
        scoring = score_run(run_copy, "in-context", model=model, name="ic")
    summary = json.loads((run_copy / "summary.json").read_text())
    role = summary["usage"]["judge:ic"]
    assert role["calls"] == len(scoring.scores) and role["prompt_tokens"] > 0
    assert role["cost"] == pytest.approx(scoring.summary["usage"]["cost"]) and role["cost"] > 0
    assert summary["cost"] == pytest.approx(sum(u["cost"] or 0 for u in
                                                summary["usage"].values()))
