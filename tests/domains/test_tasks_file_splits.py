"""A task file's neighbouring ``split_tasks.json`` gives its splits (load_domain and run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolgym
from toolgym.errors import DataError


def _write_tasks(path: Path, ids: list[str]) -> None:
    tasks = [{"id": i, "user_scenario": {"instructions": f"task {i}"},
              "evaluation_criteria": {"actions": [], "communicate_info": [],
                                      "reward_basis": ["DB"]}} for i in ids]
    path.write_text(json.dumps(tasks))


def test_split_file_beside_a_task_file_is_read(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    _write_tasks(tasks, ["a", "b", "c"])
    (tmp_path / "split_tasks.json").write_text(json.dumps({"train": ["a", "b"], "test": ["c"]}))
    domain = toolgym.load_domain("airline", tasks_file=tasks)
    assert domain.splits == {"train": ["a", "b"], "test": ["c"], "base": ["a", "b", "c"]}
    assert [t.id for t in domain.split("test")] == ["c"]


def test_without_a_split_file_only_base(tmp_path: Path) -> None:
    tasks = tmp_path / "mine.json"
    _write_tasks(tasks, ["a", "b"])
    assert toolgym.load_domain("airline", tasks_file=tasks).splits == {"base": ["a", "b"]}


def test_split_file_naming_unknown_ids_is_one_clear_error(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    _write_tasks(tasks, ["a"])
    (tmp_path / "split_tasks.json").write_text(json.dumps({"train": ["a", "zz"]}))
    with pytest.raises(DataError, match=r"split_tasks.json: split 'train' names 1 task id"):
        toolgym.load_domain("airline", tasks_file=tasks)


def test_split_file_changes_the_data_digest(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    _write_tasks(tasks, ["a", "b"])
    before = toolgym.load_domain("airline", tasks_file=tasks).data_digest
    (tmp_path / "split_tasks.json").write_text(json.dumps({"train": ["a"], "test": ["b"]}))
    assert toolgym.load_domain("airline", tasks_file=tasks).data_digest != before


def test_run_with_tasks_file_and_split(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    _write_tasks(tasks, ["a", "b", "c"])
    (tmp_path / "split_tasks.json").write_text(json.dumps({"train": ["a", "c"], "test": ["b"]}))
    run = toolgym.run(domain="airline", tasks_file=tasks, split="train", agent_model="oracle",
                      user="scripted", out=tmp_path / "run")
    assert sorted(r.task_id for r in run.results) == ["a", "c"]
