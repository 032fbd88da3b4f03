"""Loading task files with errors that name the file, the task and the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolgym._io import check_depth, load_json
from toolgym.errors import DataError
from toolgym.tasks._task import Task

_JSON_TYPE = {list: "array", dict: "object", float: "number", bool: "boolean",
              type(None): "null"}

#: How many unknown split ids an error message lists.
_SHOWN_IDS = 5


def _id_problem(tid: Any) -> str | None:
    """Why ``tid`` is not a usable task id (None when it is one)."""
    if isinstance(tid, bool) or not isinstance(tid, str | int):
        kind = _JSON_TYPE.get(type(tid), type(tid).__name__)
        try:
            shown = json.dumps(tid)
        except (TypeError, ValueError):
            shown = repr(tid)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        got = kind if shown == kind else f"{kind} {shown}"
        return f"field id: must be a string or an integer, got {got}"
    if isinstance(tid, str) and not tid.strip():
        return "field id: must not be empty"
    return None


def parse_tasks(raw: Any, source: str = "<tasks>") -> list[Task]:
    """Validate a list of task dicts; the first problem is raised as :class:`DataError`.

    Task ids must be strings or integers (integers become strings); other
    ids are refused with the task's index.
    """
    if isinstance(raw, dict) and "tasks" in raw:
        raw = raw["tasks"]
    if not isinstance(raw, list):
        raise DataError(f"{source}: expected a JSON array of tasks")
    tasks: list[Task] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise DataError(f"{source}: task #{i}: expected an object, "
                            f"got {_JSON_TYPE.get(type(item), type(item).__name__)}")
        if "id" not in item:
            raise DataError(f"{source}: task #{i}: field id: Field required")
        tid = item["id"]
        problem = _id_problem(tid)
        if problem is not None:
            raise DataError(f"{source}: task #{i}: {problem}")
        label = f"task {tid!r}"
        # Python callers may pass data no file could hold; deep nesting would
        # only fail later, in pydantic's serializer or a recursive helper.
        check_depth(item, f"{source}: {label}")
        if isinstance(tid, int):
            item = {**item, "id": str(tid)}
        try:
            task = Task.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(task)"
            raise DataError(f"{source}: {label}: field {loc}: {err['msg']}") from None
        if task.id in seen:
            raise DataError(f"{source}: {label}: duplicate task id")
        seen.add(task.id)
        tasks.append(task)
    return tasks


def load_tasks(path: str | Path) -> list[Task]:
    """Load a tau2-format ``tasks.json`` (an array of tasks)."""
    p = Path(path)
    return parse_tasks(load_json(p, "task file"), source=str(p))


def parse_splits(raw: Any, source: str = "<splits>") -> dict[str, list[str]]:
    """Validate ``{split name: [task ids]}`` (ids may be strings or integers)."""
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(_id_problem(x) is None for x in v) for v in raw.values()
    ):
        raise DataError(f"{source}: expected an object of split name -> list of task ids")
    return {str(k): [str(x) for x in v] for k, v in raw.items()}


def load_splits(path: str | Path) -> dict[str, list[str]]:
    """Load ``split_tasks.json``: ``{split name: [task ids]}``."""
    p = Path(path)
    return parse_splits(load_json(p, "split file"), source=str(p))


def check_splits(splits: Mapping[str, list[str]], tasks: list[Task], source: str) -> None:
    """Refuse splits that name task ids the task set does not have.

    Raises:
        DataError: ``"<source>: split 'test' names N unknown task ids: ..."``,
            listing the first few.
    """
    known = {t.id for t in tasks}
    for name, ids in splits.items():
        unknown = [i for i in ids if i not in known]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:_SHOWN_IDS])
            more = f" and {len(unknown) - _SHOWN_IDS} more" if len(unknown) > _SHOWN_IDS else ""
            raise DataError(f"{source}: split {name!r} names {len(unknown)} task id(s) not in "
                            f"the task set: {shown}{more}")
