"""Statistics over repeated runs (``toolgym stats``, ``toolgym run --repeats N``).

With simulated users and tools that fail at random, one run is one sample.
Given N runs of a configuration (same tasks, different seeds), each metric is
reported as the mean over runs with its standard deviation and standard error
(labelled: SD describes the runs, SE the mean). Two configurations are
compared paired by task: per task, the success rate over all runs and trials
of each; a paired bootstrap that resamples tasks and, within each, runs; and a
Wilcoxon signed-rank test on the per-task differences. The number of runs
needed to detect a given difference follows from the observed run-to-run
variance (normal approximation, two-sided 5 % level, 80 % power).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolgym.evaluation._metrics import pass_k_curve, task_sort_key

__all__ = [
    "Comparison",
    "MetricStats",
    "compare_groups",
    "metric_stats",
    "runs_needed",
    "wilcoxon_signed_rank",
]

_RESAMPLES = 2000
_EXACT_LIMIT = 30


@dataclass
class MetricStats:
    """One metric over N runs."""

    name: str
    values: list[float]
    mean: float | None
    sd: float | None
    se: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, labelled."""
        return {"name": self.name, "values": self.values, "mean": self.mean, "sd": self.sd,
                "se": self.se, "labels": {"sd": "standard deviation over runs",
                                          "se": "standard error of the mean over runs"}}


def _stats(name: str, values: list[float | None]) -> MetricStats:
    vals = [v for v in values if v is not None]
    if not vals:
        return MetricStats(name, [], None, None, None)
    mean = statistics.fmean(vals)
    sd = statistics.stdev(vals) if len(vals) > 1 else None
    return MetricStats(name, vals, mean, sd, sd / math.sqrt(len(vals)) if sd is not None
                       else None)


def metric_stats(runs: Sequence[Any]) -> list[MetricStats]:
    """Mean, SD and SE over runs of: average reward, pass^k, cost, completion rate."""
    trials = min((max((r.trial for r in run.results), default=0) + 1 for run in runs),
                 default=1)
    per_metric: dict[str, list[float | None]] = defaultdict(list)
    for run in runs:
        results = run.results
        rewards = [r.reward for r in results if r.reward is not None]
        per_metric["average reward"].append(statistics.fmean(rewards) if rewards else None)
        curve = pass_k_curve(results, trials, "tau-bench")
        for k, v in curve.items():
            per_metric[f"pass^{k}"].append(v)
        per_metric["cost (USD)"].append(sum(u.cost or 0.0 for r in results
                                            for u in r.usage.values()))
        per_metric["completion rate"].append(
            sum(not r.infra_error for r in results) / len(results) if results else None)
    return [_stats(name, values) for name, values in per_metric.items()]


def wilcoxon_signed_rank(diffs: Sequence[float]) -> tuple[float, float | None, bool]:
    """Two-sided Wilcoxon signed-rank test of a zero median difference.

    Zero differences are dropped; tied magnitudes get average ranks. Exact
    (enumerating the rank-sum distribution) for up to 30 non-zero
    differences, else the normal approximation with a tie correction.

    Returns:
        ``(W+, p value or None when no difference is non-zero, exact)``.
    """
    nz = [d for d in diffs if abs(d) > 1e-12]
    n = len(nz)
    if n == 0:
        return 0.0, None, True
    order = sorted(range(n), key=lambda i: abs(nz[i]))
    ranks = [0.0] * n
    i = 0
    ties: list[int] = []
    while i < n:
        j = i
        while j + 1 < n and abs(abs(nz[order[j + 1]]) - abs(nz[order[i]])) <= 1e-12:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    w_plus = sum(r for r, d in zip(ranks, nz, strict=True) if d > 0)
    total = n * (n + 1) / 2
    if n <= _EXACT_LIMIT:
        # Distribution of the positive rank sum over the 2^n sign patterns, on
        # half-rank units (average ranks are multiples of 0.5).
        units = [round(2 * r) for r in ranks]
        dist: dict[int, int] = {0: 1}
        for u in units:
            nxt: dict[int, int] = defaultdict(int)
            for s, c in dist.items():
                nxt[s] += c
                nxt[s + u] += c
            dist = nxt
        observed = round(2 * w_plus)
        center = round(2 * total) / 2
        dev = abs(observed - center)
        hits = sum(c for s, c in dist.items() if abs(s - center) >= dev - 1e-9)
        return w_plus, min(1.0, hits / 2 ** n), True
    mean = total / 2
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in ties) / 48
    if var <= 0:
        return w_plus, 1.0, False
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(var)
    return w_plus, min(1.0, 2 * (1 - statistics.NormalDist().cdf(max(0.0, z)))), False


def runs_needed(sd_a: float | None, sd_b: float | None, delta: float, alpha: float = 0.05,
                power: float = 0.8) -> int | None:
    """Runs per configuration to detect a difference ``delta`` in a per-run metric.

    Normal approximation for two independent means with the observed SDs.
    None when there is no variance estimate or ``delta`` is 0.
    """
    if sd_a is None or sd_b is None or delta == 0:
        return None
    z = statistics.NormalDist()
    k = z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)
    variance = sd_a ** 2 + sd_b ** 2
    if variance == 0:
        return 1
    return max(2, math.ceil(k * k * variance / (delta * delta)))


@dataclass
class Comparison:
    """Configuration B against A over repeated runs, paired by task (B minus A)."""

    n_tasks: int
    runs_a: int
    runs_b: int
    rate_a: float
    rate_b: float
    diff: float
    diff_ci: tuple[float, float] | None
    wilcoxon_p: float | None
    wilcoxon_exact: bool
    runs_needed: int | None
    delta: float
    per_task: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, labelled."""
        return {
            "n_tasks": self.n_tasks, "runs_a": self.runs_a, "runs_b": self.runs_b,
            "rate_a": self.rate_a, "rate_b": self.rate_b, "diff": self.diff,
            "diff_ci": list(self.diff_ci) if self.diff_ci else None,
            "wilcoxon_p": self.wilcoxon_p, "wilcoxon_exact": self.wilcoxon_exact,
            "runs_needed": self.runs_needed, "delta": self.delta,
            "labels": {"diff": "success rate B - A, mean over tasks (all runs and trials)",
                       "diff_ci": "95% paired bootstrap over tasks x runs",
                       "wilcoxon_p": "two-sided Wilcoxon signed-rank over per-task differences",
                       "runs_needed": f"runs per configuration to detect a {self.delta:+.3f} "
                       "pass^1 difference at the observed run-to-run SD (80% power, 5% level)"},
        }


def _task_run_rates(runs: Sequence[Any]) -> dict[str, list[float]]:
    """Per task, per run: the task's success rate over its trials in that run."""
    out: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        by_task: dict[str, list[bool]] = defaultdict(list)
        for r in run.results:
            by_task[r.task_id].append(r.success)
        for t, ok in by_task.items():
            out[t].append(sum(ok) / len(ok))
    return dict(out)


def compare_groups(a: Sequence[Any], b: Sequence[Any], seed: int = 0,
                   delta: float | None = None) -> Comparison:
    """Compare two groups of runs (see the module docstring)."""
    if delta is not None and not delta > 0:
        from toolgym.errors import ConfigError

        raise ConfigError(f"--delta is the difference to detect, above 0; got {delta}")
    ra, rb = _task_run_rates(a), _task_run_rates(b)
    tasks = sorted(set(ra) & set(rb), key=task_sort_key)
    if not tasks:
        from toolgym.errors import ConfigError

        raise ConfigError("the two groups of runs have no task in common")
    per_task = {t: (statistics.fmean(ra[t]), statistics.fmean(rb[t])) for t in tasks}
    diffs = [y - x for x, y in per_task.values()]
    rng = random.Random(seed)
    boots = []
    for _ in range(_RESAMPLES):
        total = 0.0
        for _ in tasks:
            t = tasks[rng.randrange(len(tasks))]
            xa = [ra[t][rng.randrange(len(ra[t]))] for _ in ra[t]]
            xb = [rb[t][rng.randrange(len(rb[t]))] for _ in rb[t]]
            total += statistics.fmean(xb) - statistics.fmean(xa)
        boots.append(total / len(tasks))
    boots.sort()
    ci = (boots[int(0.025 * (len(boots) - 1))], boots[int(0.975 * (len(boots) - 1))])
    _, p, exact = wilcoxon_signed_rank(diffs)
    diff = statistics.fmean(diffs)
    pass1 = {name: next(s for s in metric_stats(g) if s.name == "pass^1") for name, g in
             (("a", a), ("b", b))}
    target = delta if delta is not None else diff
    return Comparison(
        n_tasks=len(tasks), runs_a=len(a), runs_b=len(b),
        rate_a=statistics.fmean(x for x, _ in per_task.values()),
        rate_b=statistics.fmean(y for _, y in per_task.values()),
        diff=diff, diff_ci=ci, wilcoxon_p=p, wilcoxon_exact=exact,
        runs_needed=runs_needed(pass1["a"].sd, pass1["b"].sd, target), delta=target,
        per_task=per_task)
