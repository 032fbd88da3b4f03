"""Splits: disjoint by user and by gold-action signature, sized by the shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import toolgym
from toolgym.errors import ConfigError
from toolgym.synth import (
    SynthResult,
    parse_split_spec,
    save_result,
    split_tasks,
    task_user,
    write_signature,
)
from toolgym.tasks import Task


def _check(tasks: list[Task], splits: dict[str, list[str]], names: list[str]) -> None:
    by_id = {t.id: t for t in tasks}
    named = [splits[n] for n in names]
    assert sorted(i for ids in named for i in ids) == sorted(by_id)  # each task exactly once
    assert splits["base"] == [t.id for t in tasks]
    for key in (task_user, write_signature):
        owners: dict[Any, str] = {}
        for name, ids in zip(names, named, strict=True):
            for i in ids:
                k = key(by_id[i])
                assert owners.setdefault(k, name) == name, (key.__name__, k)


def _task(i: int, user: str, order: str) -> Task:
    return Task.model_validate({
        "id": f"t{i}", "user_id": user, "user_scenario": {"instructions": "x"},
        "evaluation_criteria": {"actions": [{"name": "cancel_pending_order", "arguments": {
            "order_id": order, "reason": "no longer needed"}}]}})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=60),
       st.lists(st.integers(1, 9), min_size=1, max_size=4), st.integers(0, 5))
def test_splits_never_leak(pairs: list[tuple[int, int]], weights: list[int], seed: int) -> None:
    tasks = [_task(i, f"u{u}", f"#W{o}") for i, (u, o) in enumerate(pairs)]
    total = sum(weights)
    shares = {f"s{i}": w / total for i, w in enumerate(weights)}
    splits = split_tasks(tasks, shares, seed=seed)
    _check(tasks, splits, list(shares))


def test_split_sizes_follow_the_shares_on_generated_tasks(airline: Any) -> None:
    from toolgym.synth import generate_tasks

    result = generate_tasks(airline, n=200, seed=2)
    shares = parse_split_spec("train=0.6,val=0.2,test=0.2")
    splits = split_tasks(result.tasks, shares, seed=2)
    _check(result.tasks, splits, list(shares))
    for name, share in shares.items():
        assert abs(len(splits[name]) - share * 200) <= 6, (name, len(splits[name]))


@pytest.mark.parametrize("spec,message", [
    ("train=0.6,test=0.6", "add up to 1.2"),
    ("train", "invalid split"),
    ("train=-1,test=2", "invalid split"),
    ("train=0.5,train=0.5", "repeated or reserved"),
    ("base=1", "repeated or reserved"),
    ("", "at least one"),
])
def test_bad_split_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_split_spec(spec)


def test_generated_file_and_splits_run_directly(airline_set: SynthResult, airline: Any,
                                                tmp_path: Path) -> None:
    paths = save_result(airline_set, tmp_path / "tasks.json",
                        split={"train": 0.6, "val": 0.2, "test": 0.2}, domain=airline)
    splits = json.loads(paths["splits"].read_text())
    assert paths["splits"] == tmp_path / "split_tasks.json"
    run = toolgym.run(domain="airline", tasks_file=paths["tasks"], split="val",
                      agent_model="oracle", user="scripted", out=tmp_path / "run")
    assert sorted(r.task_id for r in run.results) == sorted(splits["val"])
    assert run.summary["avg_reward"] == 1.0
