"""The task check made before a run: malformed tasks versus tasks failing by the rules.

:func:`check_tasks` runs :func:`~toolgym.evaluation._validate.inspect_task`
on each task (static checks plus a replay of the gold actions, the same
work as ``toolgym validate`` without its database digests) and sorts the
tasks into malformed ones, which a run should refuse (or skip), and ones
whose well-formed gold actions fail by the domain's own rules, which stay
runnable and deserve a warning (tau2 grades them too).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.errors import DataError
from toolgym.evaluation._validate import inspect_task
from toolgym.tasks import Task

__all__ = ["TaskCheck", "TaskIssue", "check_tasks"]

#: How many problems one reason line spells out; the rest are counted.
_SHOWN = 2
#: How many malformed tasks the refusal line names.
_SHOWN_TASKS = 3


@dataclass(frozen=True)
class TaskIssue:
    """What is wrong with one task."""

    task_id: str
    errors: tuple[str, ...]
    """Every problem found, in order."""

    @property
    def reason(self) -> str:
        """The problems as one line (the first few, then a count)."""
        shown = "; ".join(self.errors[:_SHOWN])
        rest = len(self.errors) - _SHOWN
        return f"{shown} (and {rest} more)" if rest > 0 else shown


@dataclass
class TaskCheck:
    """The outcome of :func:`check_tasks`."""

    malformed: list[TaskIssue] = field(default_factory=list)
    """Tasks whose file content is wrong: a run refuses them (or skips them when allowed)."""
    rule_failures: list[TaskIssue] = field(default_factory=list)
    """Well-formed tasks whose gold actions fail by the domain's rules: runnable, warned."""
    checked: int = 0
    """How many tasks were checked."""
    seconds: float = 0.0
    """Wall time of the check."""

    @property
    def ok(self) -> bool:
        """True when no task is malformed."""
        return not self.malformed

    @property
    def malformed_ids(self) -> set[str]:
        """Ids of the malformed tasks."""
        return {i.task_id for i in self.malformed}

    def runnable(self, tasks: Iterable[Task]) -> list[Task]:
        """``tasks`` without the malformed ones, in order."""
        bad = self.malformed_ids
        return [t for t in tasks if t.id not in bad]

    def malformed_lines(self) -> list[str]:
        """One line per malformed task: ``task 'x' is malformed: <reason>``."""
        return [f"task {i.task_id!r} is malformed: {i.reason}" for i in self.malformed]

    def warning_lines(self) -> list[str]:
        """One line per task failing by the domain's rules."""
        return [f"task {i.task_id!r}: gold actions fail by the domain's rules (graded anyway, "
                f"as tau2 does): {i.reason}" for i in self.rule_failures]

    def refusal(self, source: str) -> str:
        """One line refusing a run because of malformed tasks.

        Args:
            source: Where the tasks come from (the task file or data dir).
        """
        n = len(self.malformed)
        first = "; ".join(f"task {i.task_id!r}: {i.errors[0]}"
                          for i in self.malformed[:_SHOWN_TASKS])
        more = f"; and {n - _SHOWN_TASKS} more" if n > _SHOWN_TASKS else ""
        return (f"{source}: {n} malformed task(s) of {self.checked}: {first}{more} "
                "(`toolgym validate` lists every problem; --allow-invalid-tasks skips them)")

    def raise_if_malformed(self, source: str) -> None:
        """Raise :class:`DataError` with :meth:`refusal` when a task is malformed."""
        if self.malformed:
            raise DataError(self.refusal(source))


def check_tasks(domain: Domain[Any], tasks: Iterable[Task] | None = None) -> TaskCheck:
    """Sort tasks into malformed ones and ones failing by the domain's rules.

    Malformed: a gold action naming an unknown tool, or whose arguments do
    not fit the tool's JSON schema (unknown, missing or ill-typed); an
    unknown environment-assertion or initialization function; a malformed
    ``message_history``; an initial state that cannot be built. Failing by
    the rules: a well-formed gold action that the domain refuses when
    replayed on the task's fresh database.

    Args:
        domain: The domain the tasks run in.
        tasks: The tasks to check (the domain's own when omitted).

    Returns:
        The check; it never raises for a bad task.
    """
    start = time.perf_counter()
    out = TaskCheck()
    for task in domain.tasks if tasks is None else tasks:
        found = inspect_task(domain, task)
        out.checked += 1
        if found.malformed:
            out.malformed.append(TaskIssue(task.id, tuple(found.malformed)))
        elif found.rule_failures:
            out.rule_failures.append(TaskIssue(task.id, tuple(found.rule_failures)))
    out.seconds = time.perf_counter() - start
    return out
