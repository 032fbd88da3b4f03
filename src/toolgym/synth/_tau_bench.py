"""tau-bench v1 task lists, in and out.

tau-bench (v1) tasks, and the hand-made synthetic sets built for it, are
objects ``{"user_id", "actions": [{"name", "kwargs"}], "instruction",
"outputs"?, "difficulty"?, "method"?, "annotator"?}``; tau-bench's results
files hold them too (``info.task`` of each ``{task_id, trial, info}``, one
task per ``task_id``). :func:`from_tau_bench` turns each into a toolgym task
dict (the instruction becomes the user's
instructions, ``outputs`` the ``communicate_info``; the reward basis is DB and
COMMUNICATE, as tau-bench grades); :func:`to_tau_bench` writes that form back.
"""

from __future__ import annotations

from typing import Any

from toolgym.synth._labels import task_user
from toolgym.tasks import StructuredInstructions, Task

__all__ = ["from_tau_bench", "instruction_prose", "to_tau_bench"]


def _problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"expected an object, got {type(item).__name__}"
    if not isinstance(item.get("instruction"), str) or not item["instruction"].strip():
        return "field instruction: a non-empty string is required"
    actions = item.get("actions")
    if not isinstance(actions, list):
        return "field actions: a list is required"
    for j, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("name"), str):
            return f"actions[{j}]: an object with a name is required"
        kwargs = action.get("kwargs", action.get("arguments", {}))
        if not isinstance(kwargs, dict):
            return f"actions[{j}].kwargs: an object is required"
    outputs = item.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str | int | float)
                                                for o in outputs):
        return "field outputs: a list of strings is required"
    return None


def from_tau_bench(items: Any, domain: str, prefix: str = "tau_bench_"
                   ) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """Convert a tau-bench task list: (task id, task dict or None, problem) per item.

    Args:
        items: The parsed file: a list of tasks (or ``{"tasks": [...]}``).
        domain: The domain the tasks belong to.
        prefix: Ids are ``<prefix><index>`` unless an item has its own ``id``.
    """
    if isinstance(items, dict) and "tasks" in items:
        items = items["tasks"]
    if not isinstance(items, list):
        return [("#0", None, "expected a JSON array of tau-bench tasks")]
    items = _tasks_of_results(items)
    out: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for i, entry in enumerate(items):
        own, item = entry if isinstance(entry, tuple) else (None, entry)
        if own is None and isinstance(item, dict):
            own = item.get("id")
        task_id = (f"{prefix}{own}" if isinstance(entry, tuple) else str(own)) \
            if isinstance(own, str | int) else f"{prefix}{i}"
        problem = _problem(item)
        if problem is not None:
            out.append((task_id, None, problem))
            continue
        actions = [{"action_id": f"{task_id}_{j}", "name": a["name"],
                    "arguments": dict(a.get("kwargs", a.get("arguments", {})))}
                   for j, a in enumerate(item["actions"])]
        task: dict[str, Any] = {
            "id": task_id,
            "description": {"purpose": None, "relevant_policies": None,
                            "notes": "Imported from a tau-bench (v1) task list."
                                     + (f" Annotator: {item['annotator']}."
                                        if item.get("annotator") is not None else "")},
            "user_scenario": {"persona": None, "instructions": item["instruction"]},
            "initial_state": None,
            "evaluation_criteria": {"actions": actions,
                                    "communicate_info": [str(o) for o in item.get("outputs",
                                                                                  [])],
                                    "nl_assertions": [], "reward_basis": ["DB", "COMMUNICATE"]},
            "difficulty": item.get("difficulty"),
            "provenance": "tau-bench v1 task list (toolgym synth import)",
            "tags": ["imported"],
            "method": str(item.get("method") or "tau-bench"),
            "scenario_type": str(item.get("scenario_type") or "imported"),
        }
        if isinstance(item.get("user_id"), str):
            task["user_id"] = item["user_id"]
        out.append((task_id, task, None))
    return out


def _tasks_of_results(items: list[Any]) -> list[Any]:
    """A tau-bench results file (``{task_id, trial, info: {task}}``) as one task per task_id.

    Items that are not results are returned as they are.
    """
    if not items or not all(isinstance(x, dict) and isinstance(x.get("info"), dict)
                            and isinstance(x["info"].get("task"), dict) and "task_id" in x
                            for x in items):
        return items
    seen: dict[Any, Any] = {}
    for x in items:
        seen.setdefault(x["task_id"], (x["task_id"], x["info"]["task"]))
    return list(seen.values())


def instruction_prose(task: Task) -> str:
    """The user's instructions as one paragraph, as tau-bench's ``instruction`` is."""
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        return instructions
    assert isinstance(instructions, StructuredInstructions)
    parts = [instructions.reason_for_call, instructions.known_info,
             instructions.unknown_info, instructions.task_instructions]
    return " ".join(" ".join(p.split()) for p in parts if p and p.strip())


def to_tau_bench(tasks: list[Task]) -> list[dict[str, Any]]:
    """tau-bench v1 synthetic-form objects, one per task (assistant gold actions only)."""
    out = []
    for task in tasks:
        extra = task.model_extra or {}
        ec = task.evaluation_criteria
        out.append({
            "user_id": task_user(task),
            "actions": [{"name": a.name, "kwargs": a.arguments} for a in task.gold_actions
                        if a.requestor == "assistant"],
            "instruction": instruction_prose(task),
            "outputs": list(ec.communicate_info or []) if ec else [],
            "difficulty": task.difficulty,
            "method": extra.get("method"),
        })
    return out
