"""Property-based tests of the foundation's invariants."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolgym
from toolgym.env import Environment, replay_calls
from toolgym.messages import ToolCall
from toolgym.runner import load_run

DOMAIN = toolgym.load_domain("retail")
# Every gold call of the built-in retail tasks: a realistic pool of reads and writes,
# many of which fail when applied out of their task's order.
CALLS: list[tuple[str, dict[str, Any]]] = [
    (a.name, a.arguments) for t in DOMAIN.tasks for a in t.gold_actions]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(CALLS), max_size=12))
def test_replaying_a_trajectory_rebuilds_its_live_state(calls: list[tuple[str, Any]]) -> None:
    env = Environment(DOMAIN)
    for i, (name, args) in enumerate(calls):
        env.execute(ToolCall(id=str(i), name=name, arguments=args))
    replayed, _ = replay_calls(DOMAIN, None, calls)
    again, _ = replay_calls(DOMAIN, None, calls)
    assert replayed.same_state(env.db) and again.same_state(replayed)
    assert replayed.digest() == env.digest()
    assert DOMAIN.snapshot.verify()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prop") / "base"
    toolgym.run(domain="airline", agent_model="oracle", user="scripted", trials=2,
                tasks="0-4", out=out)
    return out


EXPECTED = {(t.id, trial) for t in toolgym.load_domain("airline").tasks[:5] for trial in (0, 1)}


@settings(max_examples=25, deadline=None)
@given(keep=st.lists(st.booleans(), min_size=10, max_size=10),
       torn_line=st.integers(min_value=0, max_value=9),
       tear=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0),
                      st.just(-1)))  # -1: one byte short (only the newline missing)
def test_resume_never_duplicates_or_loses_a_rollout(finished_run: Path, keep: list[bool],
                                                    torn_line: int,
                                                    tear: float | int | None) -> None:
    base = finished_run
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "r"
        shutil.copytree(base, run_dir)
        lines = (run_dir / "results.jsonl").read_bytes().splitlines(keepends=True)
        kept = [line for line, k in zip(lines, keep, strict=True) if k]
        # Optionally a torn last line, as a hard kill could leave: cut anywhere,
        # from the first byte to one byte short of complete.
        victim = lines[torn_line]
        if tear is None:
            torn = b""
        elif tear == -1:
            torn = victim[:-1]
        else:
            torn = victim[: max(1, int(tear * (len(victim) - 1)))]
        (run_dir / "results.jsonl").write_bytes(b"".join(kept) + torn)
        toolgym.resume(run_dir)
        raw = (run_dir / "results.jsonl").read_bytes()
        assert raw.endswith(b"\n")  # the torn tail was cut, not appended to
        records = [json.loads(line) for line in raw.splitlines()]  # every line whole
        keys = [(r["task_id"], r["trial"]) for r in records]
        assert len(keys) == len(set(keys)) == 10  # none repeated on disk, none lost
        assert set(keys) == EXPECTED
        assert sorted(r.key for r in load_run(run_dir).results) == sorted(EXPECTED)
