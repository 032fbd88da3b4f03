"""Older run files still load and resume; the report and ``show`` carry the sim field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import toolgym
from toolgym.messages import Message
from toolgym.report import render_report
from toolgym.runner import RolloutResult


def test_messages_and_results_without_sim_still_load(tmp_path: Path) -> None:
    run = toolgym.run(domain="airline", agent_model="oracle", tasks="0", out=tmp_path / "a")
    line = json.loads((tmp_path / "a" / "results.jsonl").read_text().splitlines()[0])
    for m in line["messages"]:
        assert m.pop("sim") is None  # code tools carry no sim info
    old = RolloutResult.model_validate(line)
    assert all(m.sim is None for m in old.messages)
    assert old.messages == run.results[0].messages
    assert Message.model_validate({"role": "tool", "content": "x"}).sim is None


def test_a_run_made_before_simulated_tools_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    toolgym.run(domain="airline", agent_model="oracle", tasks="0-1", out=out)
    record = json.loads((out / "config.json").read_text())
    for key in ("tool_sim", "tool_failures", "tool_cache_dir", "tool_cache_mode"):
        del record["config"][key]  # the config.json of an older toolgym
    (out / "config.json").write_text(json.dumps(record))
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text(lines[0] + "\n")
    run = toolgym.run(domain="airline", agent_model="oracle", tasks="0-1", out=out)
    assert len(run.results) == 2 and "tool_sim" not in run.summary


def test_report_and_show_carry_injected_failures(tmp_path: Path) -> None:
    run = toolgym.run(domain="simtest", agent_model="oracle", tool_sim_model="recorder",
                      tasks="2", seed=1, tool_failures={"lookup": {"no_answer": 0.5}},
                      tool_cache_dir=tmp_path / "cache", out=tmp_path / "run")
    (r,) = run.results
    injected = [m for m in r.messages if m.sim is not None and m.sim.injected]
    assert injected, "seed 1 injects no_answer into some of the six lookups"
    html = render_report([toolgym.load_run(tmp_path / "run")], tmp_path / "report.html"
                         ).read_text()
    payloads = re.findall(r'<script type="application/json" id="tg-t-0-\d+">(.*?)</script>',
                          html, re.S)
    messages = [m for p in payloads for m in json.loads(p)["messages"]]
    sims = [m["sim"] for m in messages if "sim" in m]
    assert {"injected": "no_answer"} in sims and {"cache": "miss"} in sims
    assert len(sims) == len([m for m in r.messages if m.sim is not None])
    assert 'badge(head, "injected: " + String(m.sim.injected), "bad")' in html
    from typer.testing import CliRunner

    from toolgym.cli._app import app

    result = CliRunner().invoke(app, ["show", str(tmp_path / "run"), "many"])
    assert result.exit_code == 0
    assert "simulated · injected no_answer" in result.output
    assert "simulated · cache miss" in result.output
