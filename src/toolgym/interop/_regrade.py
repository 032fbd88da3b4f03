"""Regrading a run with toolgym's own ground truth, against its recorded rewards.

Each rollout is graded again by :class:`~toolgym.evaluation.Evaluator` (the
conversation's write calls replayed on a fresh database, compared with the
gold actions' database; communicated facts; assertions), with the episode's
recorded ending (an abnormal end scores 0). The new grade is compared with
the recorded one (pass or fail), task by task; each disagreement gets its
reason: what toolgym found (which records differ and in which fields, which
fact was not said, which gold action failed) and what the source recorded.
Nothing in the run directory changes.

NL assertions need a judge: a rollout whose reward depends on them is
reported as not comparable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.errors import DataError
from toolgym.evaluation._evaluate import Evaluator
from toolgym.evaluation._metrics import task_sort_key
from toolgym.evaluation._types import RewardBreakdown
from toolgym.interop._common import is_imported, run_domain
from toolgym.runner._results import RolloutResult, failure_reason
from toolgym.runner._store import load_run

__all__ = ["RegradeItem", "RegradeReport", "TaskAgreement", "regrade_run"]

_SHOWN_RECORDS = 2


@dataclass
class RegradeItem:
    """One rollout: its recorded grade, toolgym's, and why they differ."""

    task_id: str
    trial: int
    recorded: float | None
    regraded: float | None
    #: True/False; None when either grade is unknown (a judge is needed).
    agree: bool | None
    reason: str | None
    breakdown: RewardBreakdown

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the breakdown's DB diff left out)."""
        return {"task_id": self.task_id, "trial": self.trial, "recorded": self.recorded,
                "regraded": self.regraded, "agree": self.agree, "reason": self.reason,
                "components": self.breakdown.components}


@dataclass
class TaskAgreement:
    """The rollouts of one task."""

    task_id: str
    trials: int
    recorded_passes: int
    regraded_passes: int
    agree: int
    not_comparable: int


@dataclass
class RegradeReport:
    """Agreement of toolgym's grades with a run's recorded ones."""

    run_dir: Path
    source: str
    items: list[RegradeItem] = field(default_factory=list)

    @property
    def compared(self) -> list[RegradeItem]:
        """Rollouts with both grades known."""
        return [i for i in self.items if i.agree is not None]

    @property
    def agreements(self) -> int:
        """Rollouts whose grades agree."""
        return sum(bool(i.agree) for i in self.items)

    @property
    def agreement_rate(self) -> float | None:
        """Share of comparable rollouts that agree (None when none is comparable)."""
        n = len(self.compared)
        return self.agreements / n if n else None

    @property
    def disagreements(self) -> list[RegradeItem]:
        """The rollouts whose grades differ, in task order."""
        return [i for i in self.items if i.agree is False]

    def per_task(self) -> list[TaskAgreement]:
        """One line per task, in task order."""
        groups: dict[str, list[RegradeItem]] = {}
        for i in self.items:
            groups.setdefault(i.task_id, []).append(i)
        return [TaskAgreement(
            task_id=t, trials=len(g),
            recorded_passes=sum(_passed(i.recorded) for i in g),
            regraded_passes=sum(_passed(i.regraded) for i in g),
            agree=sum(bool(i.agree) for i in g),
            not_comparable=sum(i.agree is None for i in g),
        ) for t, g in sorted(groups.items(), key=lambda kv: task_sort_key(kv[0]))]

    def summary_line(self) -> str:
        """``agreement: 198/200 rollouts (99.0%), 49/50 tasks agree on every trial``."""
        n = len(self.compared)
        tasks = self.per_task()
        full = sum(t.agree == t.trials for t in tasks)
        rate = f" ({100 * self.agreements / n:.1f}%)" if n else ""
        extra = (f"; {len(self.items) - n} not comparable (need a judge)"
                 if len(self.items) > n else "")
        return (f"agreement with the recorded rewards ({self.source}): {self.agreements}/{n} "
                f"rollouts{rate}, {full}/{len(tasks)} tasks agree on every trial{extra}")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"run_dir": str(self.run_dir), "source": self.source,
                "rollouts": len(self.items), "compared": len(self.compared),
                "agree": self.agreements, "agreement_rate": self.agreement_rate,
                "disagreements": [i.to_json() for i in self.disagreements]}


def _passed(reward: float | None) -> bool:
    return reward is not None and reward >= 1.0 - 1e-6


def _fields(pred: Any, gold: Any) -> str:
    if not isinstance(pred, dict) or not isinstance(gold, dict):
        return "missing on one side" if (pred is None) != (gold is None) else "differs"
    keys = sorted(k for k in set(pred) | set(gold) if pred.get(k) != gold.get(k))
    return ", ".join(keys[:6]) + (" ..." if len(keys) > 6 else "")


def _db_detail(b: RewardBreakdown) -> str:
    if b.db is None or b.db.match:
        return ""
    parts = []
    for d in b.db.diff[:_SHOWN_RECORDS]:
        pred, gold = d.get("predicted"), d.get("expected")
        where = f"{d.get('table')} {d.get('key')}"
        if pred is None:
            parts.append(f"{where} missing from the replayed database")
        elif gold is None:
            parts.append(f"{where} not in the gold database")
        else:
            parts.append(f"{where} differs in {_fields(pred, gold)}")
    more = len(b.db.diff) - _SHOWN_RECORDS
    text = "; ".join(parts) + (f"; and {more} more records" if more > 0 else "")
    if b.db.gold_errors:
        text += f"; gold actions failing in toolgym: {'; '.join(b.db.gold_errors[:2])}"
    return text


def _why(result: RolloutResult, breakdown: RewardBreakdown) -> str:
    """Why a grade is a fail, with the records behind a DB mismatch."""
    graded = result.model_copy(update={"reward": breakdown.reward, "breakdown": breakdown})
    why = failure_reason(graded) or "fail"
    detail = _db_detail(breakdown)
    return f"{why} ({detail})" if detail else why


def _reason(result: RolloutResult, new: RewardBreakdown, source: str) -> str:
    if _passed(result.reward):
        return f"recorded pass by {source}; toolgym fails it: {_why(result, new)}"
    recorded = failure_reason(result) or "fail"
    checks = [k for k, v in new.components.items() if k in new.reward_basis and v == 1.0]
    return (f"recorded fail by {source} ({recorded}); toolgym passes it ("
            + (", ".join(checks) + " all met" if checks else "no check failed") + ")")


def _source(config: dict[str, Any]) -> str:
    if is_imported(config):
        return str(config["imported"].get("source") or "the source tool")
    return "toolgym"


def regrade_run(run_dir: str | Path, data_dir: str | Path | None = None,
                tasks_file: str | Path | None = None,
                task_ids: Iterable[str] | None = None) -> RegradeReport:
    """Grade every rollout of a run again and compare with the recorded rewards.

    Args:
        run_dir: The run directory (imported or made by toolgym).
        data_dir: Domain data to grade in (default: the run's own; an
            imported tau-bench run needs tau2's data directory, which holds
            v1's database).
        tasks_file: A task file replacing the run's own.
        task_ids: Only these tasks (default: all).

    Raises:
        DataError: the run has no rollouts, or a task of the run is unknown.
    """
    run = load_run(run_dir)
    if not run.results:
        raise DataError(f"{run.path}: no rollouts to regrade")
    domain = run_domain(run, data_dir=data_dir, tasks_file=tasks_file)
    tasks = {t.id: t for t in domain.tasks}
    wanted = set(task_ids) if task_ids is not None else None
    results = sorted((r for r in run.results if wanted is None or r.task_id in wanted),
                     key=lambda r: (task_sort_key(r.task_id), r.trial))
    missing = sorted({r.task_id for r in results} - set(tasks), key=task_sort_key)
    if missing:
        raise DataError(f"{run.path}: tasks {', '.join(missing[:5])} are not in the task set "
                        "used for regrading")
    evaluator = Evaluator(domain)
    source = _source(run.config)
    report = RegradeReport(run_dir=run.path, source=source)
    for r in results:
        new = evaluator.evaluate(tasks[r.task_id], r.messages, normal_end=r.termination.normal)
        agree: bool | None
        reason: str | None
        if r.reward is None or new.reward is None:
            agree, reason = None, "not comparable: " + (
                "toolgym needs a judge for the NL assertions" if new.reward is None
                else "no recorded reward")
        else:
            agree = _passed(r.reward) == _passed(new.reward)
            reason = None if agree else _reason(r, new, source)
        report.items.append(RegradeItem(task_id=r.task_id, trial=r.trial, recorded=r.reward,
                                        regraded=new.reward, agree=agree, reason=reason,
                                        breakdown=new))
    return report
