"""Declaring a simulated-tool domain as the README shows, then running it from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolgym.errors import DataError
from toolgym.simtools import SimTool, SimToolkit

README_EXAMPLE = '''\
# travel.py
from toolgym.simtools import SimTool, register_sim_domain

register_sim_domain(
    "travel", policy="You plan trips. Search, then call final_answer.",
    tools=[SimTool(
        name="search_flights", description="Flights between two cities on a date.",
        parameters={"type": "object", "required": ["origin", "destination", "date"],
                    "properties": {"origin": {"type": "string"},
                                   "destination": {"type": "string"},
                                   "date": {"type": "string"}}},
        returns='JSON list of {"flight", "departs", "arrives", "price_usd"}',
        errors=["no flights on that date"], failures={"no_answer": 0.1})],
    tasks=[{"request": "Find a flight from Oslo to Rome on 2025-06-01.", "kind": "single",
            "intended_steps": [{"tool": "search_flights", "arguments": {
                "origin": "Oslo", "destination": "Rome", "date": "2025-06-01"}}]}])
'''


def test_the_readme_example_runs_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "travel.py").write_text(README_EXAMPLE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    base = [sys.executable, "-m", "toolgym"]
    res = subprocess.run([*base, "validate", "--plugin", "travel", "--domain", "travel"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*base, "run", "--plugin", "travel", "--domain", "travel",
                          "--agent-model", "oracle", "--tool-sim-model", "oracle",
                          "--display", "none", "--no-report", "--out", "runs/t"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    row = json.loads((tmp_path / "runs/t/results.jsonl").read_text())
    tools = [m for m in row["messages"] if m["role"] == "tool"]
    assert [m["name"] for m in tools] == ["search_flights", "final_answer"]
    assert "search_flights" in tools[0]["content"] and tools[0]["sim"] is not None
    assert row["termination"] == "agent_stop"
    # A resume imports the plugin again and finds nothing to do.
    res = subprocess.run([*base, "resume", "runs/t", "--display", "none", "--no-report"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr


def test_a_toolkit_refuses_clashing_or_duplicate_simulated_tools() -> None:
    spec = SimTool(name="calc", description="x")

    with pytest.raises(TypeError, match="clashes with a method"):
        class Clash(SimToolkit):  # type: ignore[type-arg]
            simulated = (spec,)

            def calc(self) -> None:
                """A method of the same name."""

    with pytest.raises(TypeError, match="declared twice"):
        class Twice(SimToolkit):  # type: ignore[type-arg]
            simulated = (spec, spec)


def test_simulated_tools_outside_an_episode_check_arguments_only(tmp_path: Path) -> None:
    import toolgym
    from toolgym.env import Environment

    domain = toolgym.load_domain("assistant")
    env = Environment(domain)  # no simulator: task validation, replay
    ok = env.toolkit.call("search_internet", {"query": "x"})
    assert not ok.error and "simulated tool" in ok.content
    bad = env.toolkit.call("search_internet", {"query": 3})
    assert bad.error and "invalid arguments for search_internet" in bad.content
    missing = env.toolkit.call("send_email", {"to": ["a@b.c"]})
    assert missing.error and "missing" in missing.content
    tasks = tmp_path / "bad.json"
    tasks.write_text(json.dumps([{"request": "x", "intended_steps": [
        {"tool": "search_internet", "arguments": {"q": "typo"}}]}]))
    from toolgym.evaluation import check_tasks

    found = check_tasks(toolgym.load_domain("assistant", tasks_file=tasks))
    assert found.malformed and "unknown argument 'q'" in found.malformed[0].reason
    tasks.write_text("[{\"kind\": \"single\"}]")
    with pytest.raises(DataError, match="request #0: field request"):
        toolgym.load_domain("assistant", tasks_file=tasks)
