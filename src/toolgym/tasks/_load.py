"""Loading task files with errors that name the file, the task and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolgym.errors import DataError
from toolgym.tasks._task import Task


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: {what} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def parse_tasks(raw: Any, source: str = "<tasks>") -> list[Task]:
    """Validate a list of task dicts; the first problem is raised as :class:`DataError`."""
    if isinstance(raw, dict) and "tasks" in raw:
        raw = raw["tasks"]
    if not isinstance(raw, list):
        raise DataError(f"{source}: expected a JSON array of tasks")
    tasks: list[Task] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        tid = item.get("id") if isinstance(item, dict) else None
        label = f"task {tid!r}" if tid is not None else f"task #{i}"
        if isinstance(item, dict) and isinstance(tid, int):
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
    return parse_tasks(_read_json(p, "task file"), source=str(p))


def load_splits(path: str | Path) -> dict[str, list[str]]:
    """Load ``split_tasks.json``: ``{split name: [task ids]}``."""
    p = Path(path)
    raw = _read_json(p, "split file")
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str | int) for x in v) for v in raw.values()
    ):
        raise DataError(f"{p}: expected an object of split name -> list of task ids")
    return {str(k): [str(x) for x in v] for k, v in raw.items()}
