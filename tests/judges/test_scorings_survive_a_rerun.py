"""A rerun or resume of a scored run rewrites summary.json; its scorings stay in it."""

from __future__ import annotations

import json
from pathlib import Path

import toolgym
from toolgym.judges import score_run


def _scorings(run_dir: Path) -> dict[str, object]:
    return json.loads((run_dir / "summary.json").read_text()).get("scorings") or {}


def test_scorings_stay_in_the_summary_after_a_rerun_and_a_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    options = {"domain": "airline", "agent_model": {"model": "oracle",
                                                    "args": {"error_rate": 0.5}},
               "user": "scripted", "tasks": "0-5", "out": run_dir}
    toolgym.run(**options, trials=1)
    score_run(run_dir, "graph", preflight=False)
    before = _scorings(run_dir)
    assert set(before) == {"graph"}

    again = toolgym.run(**options, trials=1)  # nothing to do
    assert _scorings(run_dir) == before
    assert set(again.scorings) == {"graph"} and set(again.summary["scorings"]) == {"graph"}

    # An interrupted run: its last rollout is missing; a resume runs it again.
    results = run_dir / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-1]))
    resumed = toolgym.resume(run_dir)
    assert len(resumed.results) == 6
    assert set(_scorings(run_dir)) == {"graph"}
    assert set(resumed.scorings) == {"graph"}
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "complete"
