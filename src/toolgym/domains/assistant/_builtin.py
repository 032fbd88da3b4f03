"""The assistant domain's shipped data: policy and requests (nothing is downloaded)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from toolgym._io import load_json, read_text
from toolgym.domains.assistant._tools import AssistantTools
from toolgym.simtools import request_parser
from toolgym.tasks import Task

__all__ = ["load_builtin", "parse_assistant_tasks", "topics_file"]

#: Reads request files (and task files) for this domain.
parse_assistant_tasks = request_parser(AssistantTools)


def _data(name: str) -> Traversable:
    return resources.files("toolgym.domains.assistant") / "data" / name


def topics_file() -> Traversable:
    """The shipped topics for ``toolgym synth requests`` (one per line)."""
    return _data("topics.txt")


def load_builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
    """The built-in assistant data.

    Returns:
        ``(db, policy, tasks, splits)``: an empty database, the policy, the
        shipped requests as tasks, and the splits ``base``, ``single`` and
        ``multi``.
    """
    policy = read_text(_data("policy.md"), "built-in assistant policy file")
    tasks = parse_assistant_tasks(load_json(_data("requests.json"),
                                            "built-in assistant request file"),
                                  "<built-in assistant requests.json>")
    splits = {"base": [t.id for t in tasks],
              "single": [t.id for t in tasks if "single" in t.tags],
              "multi": [t.id for t in tasks if "multi" in t.tags]}
    return {}, policy, tasks, splits
