"""Task and split loading: tau2 files unchanged, clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolgym.errors import DataError
from toolgym.tasks import RewardType, check_splits, load_splits, load_tasks, parse_tasks


@pytest.mark.parametrize("name,count", [("airline", 50), ("retail", 114)])
def test_tau2_task_files_load_unchanged(name: str, count: int, shared_dir: Path) -> None:
    path = shared_dir / "tau2" / name / "tasks.json"
    tasks = load_tasks(path)
    assert len(tasks) == count
    raw = json.loads(path.read_text())
    assert [t.id for t in tasks] == [str(x["id"]) for x in raw]
    # Unknown fields are kept, so nothing of the source is lost on a round trip.
    for task, original in zip(tasks, raw, strict=True):
        dumped = task.model_dump(mode="json", exclude_unset=True)
        assert dumped["evaluation_criteria"] == original["evaluation_criteria"]
        assert dumped["user_scenario"] == original["user_scenario"]
    splits = load_splits(shared_dir / "tau2" / name / "split_tasks.json")
    assert set(splits) >= {"train", "test", "base"} and len(splits["base"]) == count


def test_defaults_and_optional_fields() -> None:
    (task,) = parse_tasks([{
        "id": 7, "user_scenario": {"persona": None, "instructions": "hello"},
        "evaluation_criteria": {"actions": [{"name": "x", "arguments": {}}]},
        "difficulty": "hard", "tags": ["write"], "provenance": "mine",
    }])
    assert task.id == "7"  # integer ids are accepted as strings
    assert task.reward_basis == [RewardType.DB, RewardType.COMMUNICATE]
    assert task.gold_actions[0].requestor == "assistant"
    assert task.difficulty == "hard" and task.tags == ["write"]
    assert task.user_scenario.instructions_text() == "hello"


@pytest.mark.parametrize("raw,needle", [
    ({"tasks": "nope"}, "expected a JSON array"),
    ([{"id": "1"}], "task '1': field user_scenario"),
    ([{"user_scenario": {"instructions": "x"}}], "task #0: field id"),
    ([{"id": "1", "user_scenario": {"instructions": "x"},
       "evaluation_criteria": {"reward_basis": ["VIBES"]}}],
     "field evaluation_criteria.reward_basis.0"),
    ([{"id": "1", "user_scenario": {"instructions": "x"}},
      {"id": "1", "user_scenario": {"instructions": "y"}}], "duplicate task id"),
])
def test_errors_name_the_file_task_and_field(raw: object, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError) as info:
        load_tasks(path)
    message = str(info.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message


def test_bad_split_file(tmp_path: Path) -> None:
    path = tmp_path / "split_tasks.json"
    path.write_text(json.dumps({"train": "0,1"}))
    with pytest.raises(DataError, match="split name -> list of task ids"):
        load_splits(path)


def test_integer_ids_become_strings_and_other_ids_are_refused_by_index() -> None:
    base = {"user_scenario": {"instructions": "hi"}}
    assert [t.id for t in parse_tasks([{**base, "id": 3}, {**base, "id": "x"}])] == ["3", "x"]
    for bad in [[1], 1.0, None, False, {"a": 1}, ""]:
        with pytest.raises(DataError, match=r"^f\.json: task #1: field id: must "):
            parse_tasks([{**base, "id": "ok"}, {**base, "id": bad}], source="f.json")
    with pytest.raises(DataError, match=r"task #0: field id: Field required"):
        parse_tasks([base], source="f.json")


def test_deep_task_data_from_python_is_refused() -> None:
    deep: object = "x"
    for _ in range(150):
        deep = [deep]
    task = {"id": "t", "user_scenario": {"instructions": "hi"},
            "evaluation_criteria": {"actions": [{"name": "a", "arguments": {"v": deep}}]}}
    with pytest.raises(DataError, match=r"^src: task 't': nested too deeply"):
        parse_tasks([task], source="src")


def test_splits_naming_unknown_tasks_are_refused(tmp_path: Path) -> None:
    tasks = parse_tasks([{"id": str(i), "user_scenario": {"instructions": "hi"}}
                         for i in range(3)])
    check_splits({"test": ["0", "2"]}, tasks, "s.json")  # fine
    unknown = [f"u{i}" for i in range(8)]
    with pytest.raises(DataError) as exc:
        check_splits({"test": ["0", *unknown]}, tasks, "s.json")
    assert str(exc.value) == ("s.json: split 'test' names 8 task id(s) not in the task set: "
                              "'u0', 'u1', 'u2', 'u3', 'u4' and 3 more")
