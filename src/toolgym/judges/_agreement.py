"""How far two scorings of a run agree: ``toolgym judge agreement RUN --a reward --b rater``.

Each scoring gives each rollout a pass/fail verdict: ``reward`` is the
ground truth (reward == 1; with ``nl`` verdicts filled in), any other name is
a scoring in ``scores/``. Rollouts without a verdict on either side (a judge
error, a reward waiting for a judge) are left out and counted. Reported: the
2x2 confusion matrix, the agreement rate, Cohen's kappa with a bootstrap
interval that resamples tasks (trials of one task are not independent), and
the disagreeing rollouts with both sides' feedback.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from toolgym.errors import ConfigError
from toolgym.evaluation._metrics import task_sort_key
from toolgym.runner._results import failure_reason
from toolgym.runner._store import RunData

__all__ = ["Agreement", "agreement", "cohen_kappa", "scoring_verdicts"]

_RESAMPLES = 2000


def scoring_verdicts(run: RunData, name: str) -> dict[tuple[str, int], tuple[bool | None, str]]:
    """``{(task, trial): (success or None, feedback)}`` of one scoring of a run."""
    if name == "reward":
        return {r.key: (r.success if r.reward is not None else None,
                        failure_reason(r) or "reward 1")
                for r in run.results}
    if name not in run.scorings:
        known = ", ".join(["reward", *sorted(run.scorings)])
        raise ConfigError(f"{run.path}: no scoring {name!r} (known: {known}); make one with "
                          f"toolgym judge {run.path} --judge ...")
    return {s.key: (s.success, s.feedback) for s in run.scorings[name]}


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two binary raters; None when undefined (no pairs, or both
    raters constant and equal, where chance agreement is already 1)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    pa = sum(a for a, _ in pairs) / n
    pb = sum(b for _, b in pairs) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    """The agreement of scorings ``a`` and ``b`` on one run."""

    a: str
    b: str
    n: int
    both_pass: int
    a_only: int
    b_only: int
    both_fail: int
    agreement: float | None
    kappa: float | None
    kappa_ci: tuple[float, float] | None
    confidence: float
    left_out: int
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["kappa_ci"] = list(self.kappa_ci) if self.kappa_ci else None
        return d


def agreement(run: RunData, a: str, b: str, seed: int = 0, confidence: float = 0.95
              ) -> Agreement:
    """Compare two scorings of ``run`` (see the module docstring)."""
    va, vb = scoring_verdicts(run, a), scoring_verdicts(run, b)
    keys = sorted(set(va) | set(vb), key=lambda k: (task_sort_key(k[0]), k[1]))
    pairs: dict[tuple[str, int], tuple[bool, bool]] = {}
    left_out = 0
    for k in keys:
        sa, sb = va.get(k, (None, ""))[0], vb.get(k, (None, ""))[0]
        if sa is None or sb is None:
            left_out += 1
            continue
        pairs[k] = (sa, sb)
    values = list(pairs.values())
    n = len(values)
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for p in values:
        counts[p] += 1
    return Agreement(
        a=a, b=b, n=n, both_pass=counts[(True, True)], a_only=counts[(True, False)],
        b_only=counts[(False, True)], both_fail=counts[(False, False)],
        agreement=(sum(x == y for x, y in values) / n) if n else None,
        kappa=cohen_kappa(values), kappa_ci=_kappa_ci(pairs, seed, confidence),
        confidence=confidence, left_out=left_out,
        disagreements=[{"task_id": k[0], "trial": k[1], a: sa, b: sb,
                        f"{a}_feedback": va[k][1], f"{b}_feedback": vb[k][1]}
                       for k, (sa, sb) in pairs.items() if sa != sb],
    )


def _kappa_ci(pairs: dict[tuple[str, int], tuple[bool, bool]], seed: int,
              confidence: float) -> tuple[float, float] | None:
    by_task: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for (task, _), p in pairs.items():
        by_task[task].append(p)
    tasks = sorted(by_task, key=task_sort_key)
    if len(tasks) < 2:
        return None
    rng = random.Random(seed)
    stats: list[float] = []
    for _ in range(_RESAMPLES):
        sample = [p for _ in tasks for p in by_task[tasks[rng.randrange(len(tasks))]]]
        k = cohen_kappa(sample)
        if k is not None:
            stats.append(k)
    if len(stats) < _RESAMPLES // 2:
        return None
    stats.sort()
    alpha = (1 - confidence) / 2
    lo = stats[int(alpha * (len(stats) - 1))]
    hi = stats[int((1 - alpha) * (len(stats) - 1))]
    return lo, hi
