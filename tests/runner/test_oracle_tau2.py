"""The oracle agent on the standard benchmark: 1.0 wherever the reward is deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolgym


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_oracle_scores_one_on_every_deterministic_tau2_task(
    domain: str, shared_dir: Path, tmp_path: Path
) -> None:
    data_dir = shared_dir / "tau2" / domain
    run = toolgym.run(domain=domain, data_dir=data_dir, agent_model="oracle", user="scripted",
                      concurrency=16, out=tmp_path / "r")
    n_tasks = len(toolgym.load_domain(domain, data_dir=data_dir).tasks)
    assert len(run.results) == n_tasks
    graded = [r for r in run.results if r.breakdown.status == "ok"]
    assert all(r.reward == 1.0 for r in graded), [r.task_id for r in graded if r.reward != 1.0]
    waiting = [r for r in run.results if r.breakdown.status == "judge_needed"]
    assert all(r.reward is None for r in waiting)
    if domain == "airline":
        assert len(graded) == 50
    else:  # 40 retail tasks have NL assertions in their reward basis
        assert len(waiting) == 40 and len(graded) == 74
    assert run.summary["judge_needed"] == len(waiting)


def test_judge_model_grades_nl_assertions(shared_dir: Path, tmp_path: Path) -> None:
    data_dir = shared_dir / "tau2" / "retail"
    domain = toolgym.load_domain("retail", data_dir=data_dir)
    task = next(t for t in domain.tasks
                if t.evaluation_criteria and t.evaluation_criteria.nl_assertions)
    n = len(task.evaluation_criteria.nl_assertions or [])
    verdict = {"results": [{"index": i + 1, "met": i != 0, "justification": f"reason {i}",
                            "turn": 3} for i in range(n)]}
    script = tmp_path / "judge.json"
    script.write_text(json.dumps([json.dumps(verdict)]))
    run = toolgym.run(domain="retail", data_dir=data_dir, agent_model="oracle", user="scripted",
                      judge_model={"model": "scripted", "args": {"script": str(script)}},
                      task_ids=[task.id], out=tmp_path / "r")
    (r,) = run.results
    assert r.breakdown.status == "ok"
    assert r.reward == 0.0  # the first assertion was judged not met
    assert [c.met for c in r.breakdown.nl_assertions] == [i != 0 for i in range(n)]
    assert r.annotations and r.annotations[0]["turn"] == 3
    assert r.usage["judge"].calls == 1  # the judge's cost is counted under its own role
    assert run.summary["usage"]["judge"]["calls"] == 1


def test_a_failing_judge_is_recorded_not_passed(shared_dir: Path, tmp_path: Path) -> None:
    data_dir = shared_dir / "tau2" / "retail"
    domain = toolgym.load_domain("retail", data_dir=data_dir)
    task = next(t for t in domain.tasks
                if t.evaluation_criteria and t.evaluation_criteria.nl_assertions)
    script = tmp_path / "judge.json"
    script.write_text(json.dumps(["not json", "still not json"]))
    run = toolgym.run(domain="retail", data_dir=data_dir, agent_model="oracle", user="scripted",
                      judge_model={"model": "scripted", "args": {"script": str(script)}},
                      task_ids=[task.id], out=tmp_path / "r")
    (r,) = run.results
    assert r.reward is None and r.breakdown.status == "judge_failed"
    assert any("judge failed" in n for n in r.breakdown.notes)
    assert run.summary["judge_failures"] == 1 and run.summary["judge_needed"] == 0
    assert r.usage["judge"].calls == 2  # both failed attempts are counted
    from toolgym.report._data import failure_categories

    assert "judge_failed" in failure_categories(r)
