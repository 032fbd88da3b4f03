"""The graph judge on offline runs of tau2's airline data (oracle agent, scripted user)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

import toolgym
from toolgym.judges import task_oracle_graph
from toolgym.judges._base import JudgeContext, Score, create_judge
from toolgym.runner import RunData
from toolgym.tasks import load_tasks


def score_all(run: RunData, data_dir: Path) -> list[tuple[bool, Score]]:
    domain = toolgym.load_domain("airline", data_dir=data_dir)
    judge = create_judge(JudgeContext(name="graph", domain=domain))

    async def go() -> list[tuple[bool, Score]]:
        return [(r.success, await judge.score(domain.task(r.task_id), r)) for r in run.results]

    return asyncio.run(go())


@pytest.fixture(scope="module")
def perfect(tau2_airline_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunData:
    return toolgym.run(domain="airline", data_dir=tau2_airline_dir, agent_model="oracle",
                       user="scripted", out=tmp_path_factory.mktemp("perfect"))


@pytest.fixture(scope="module")
def mistaken(tau2_airline_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunData:
    return toolgym.run(domain="airline", data_dir=tau2_airline_dir,
                       agent_model={"model": "oracle", "args": {"error_rate": 0.5}},
                       user="scripted", trials=2, out=tmp_path_factory.mktemp("mistaken"))


def test_tau2_task_files_still_load_and_derive_a_graph(
        tau2_airline_dir: Path, tau2_retail_dir: Path) -> None:
    for data in (tau2_airline_dir, tau2_retail_dir):
        tasks = load_tasks(data / "tasks.json")
        assert tasks and all(a.depends_on is None and a.checkers is None
                             for t in tasks for a in t.gold_actions)
    domain = toolgym.load_domain("airline", data_dir=tau2_airline_dir)
    graph = task_oracle_graph(domain.task("21"), domain)
    assert [(e.id, e.tool, e.parents) for e in graph] == [
        ("21_0", "update_reservation_flights", ()),
        ("21_1", "update_reservation_baggages", ("21_0",))]  # same reservation
    graph = task_oracle_graph(domain.task("39"), domain)
    assert [e.parents for e in graph] == [(), (), ()]  # three different reservations


def test_every_oracle_rollout_passes(perfect: RunData, tau2_airline_dir: Path) -> None:
    scored = score_all(perfect, tau2_airline_dir)
    assert len(scored) == 50
    assert all(s.success is True and s.failures == [] for _, s in scored)


def test_injected_mistakes_fail_with_typed_failures(mistaken: RunData,
                                                    tau2_airline_dir: Path) -> None:
    scored = score_all(mistaken, tau2_airline_dir)
    assert len(scored) == 100
    failed = [s for _, s in scored if s.success is False]
    assert len(failed) >= 10
    types = Counter(f["type"] for s in failed for f in s.failures)
    assert set(types) <= {"count_mismatch", "unmatched_event", "causality_violation"}
    assert types["count_mismatch"] and types["unmatched_event"]
    assert all(s.failures and s.feedback for s in failed)
    # The oracle's mistakes (a wrong argument, a skipped write, an early stop) all change a
    # write, so the graph judge agrees with the ground-truth reward on every rollout here.
    assert [gt for gt, _ in scored] == [s.success for _, s in scored]
