"""Run metrics: pass^k, average reward, bootstrap intervals, usage, paired comparison.

Everything here is a pure function of a list of :class:`RolloutResult` (plus a
seed where resampling is involved), so the same results always give the same
numbers.

Two pass^k conventions are offered because published numbers use both:

* ``"tau-bench"``: per task, ``n`` is every trial run for the task and an
  infrastructure error counts as a failure.
* ``"tau2"``: per task, ``n`` counts only trials that did not end through
  infrastructure trouble; a task with fewer than ``k`` such trials is left
  out of pass^k.

In both, a rollout whose reward is ``None`` (an NL assertion waiting for a
judge) is not a success; :func:`summarize` reports how many there were so a
reader can tell when pass^k is deflated by missing grades.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from toolgym.messages import Usage

if TYPE_CHECKING:
    # Only for annotations: the runner imports this module, so a runtime
    # import of toolgym.runner here would be circular.
    from toolgym.runner._results import RolloutResult

__all__ = [
    "CONVENTIONS",
    "Convention",
    "PairedComparison",
    "average_reward",
    "bootstrap_ci",
    "compare_runs",
    "cost_total",
    "mcnemar_exact",
    "pass1_ci",
    "pass_hat_k",
    "pass_k_curve",
    "per_task_success",
    "sign_flip_pvalue",
    "summarize",
    "task_sort_key",
    "termination_counts",
    "usage_by_role",
]

Convention = Literal["tau-bench", "tau2"]
CONVENTIONS: tuple[Convention, ...] = ("tau-bench", "tau2")

# Above this many non-zero paired differences the sign-flip test is sampled.
_EXACT_FLIP_LIMIT = 20
_MC_PERMUTATIONS = 20_000
_BOOTSTRAP_RESAMPLES = 1_000


def pass_hat_k(num_trials: int, num_successes: int, k: int) -> float:
    """The unbiased estimate of pass^k for one task: ``C(c, k) / C(n, k)``.

    pass^k is the chance that ``k`` trials drawn without replacement from the
    ``n`` run are all successes (the tau-bench estimator).

    Args:
        num_trials: Trials run for the task (``n``).
        num_successes: Successful trials among them (``c``).
        k: Number of trials that must all succeed, ``1 <= k <= n``.

    Returns:
        The estimate, in [0, 1].

    Raises:
        ValueError: When the counts are inconsistent or ``k`` is out of range.
    """
    if not 0 <= num_successes <= num_trials:
        raise ValueError(f"need 0 <= successes ({num_successes}) <= trials ({num_trials})")
    if not 1 <= k <= num_trials:
        raise ValueError(f"need 1 <= k ({k}) <= trials ({num_trials})")
    return math.comb(num_successes, k) / math.comb(num_trials, k)


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown pass^k convention {convention!r}; use one of {CONVENTIONS}")


def _by_task(results: Iterable[RolloutResult]) -> dict[str, list[RolloutResult]]:
    groups: dict[str, list[RolloutResult]] = defaultdict(list)
    for r in results:
        groups[r.task_id].append(r)
    return dict(groups)


def _task_counts(results: Iterable[RolloutResult], convention: str) -> dict[str, tuple[int, int]]:
    """Per task ``(n, c)`` under a convention (tasks with no valid trial dropped)."""
    _check_convention(convention)
    out: dict[str, tuple[int, int]] = {}
    for task_id, rs in _by_task(results).items():
        valid = rs if convention == "tau-bench" else [r for r in rs if not r.infra_error]
        if valid:
            out[task_id] = (len(valid), sum(r.success for r in valid))
    return out


def pass_k_curve(results: Sequence[RolloutResult], k_max: int | None = None,
                 convention: Convention = "tau-bench") -> dict[int, float | None]:
    """pass^k for k = 1..k_max, averaged over tasks.

    A task contributes to pass^k only when it has at least ``k`` trials under
    the convention; a ``k`` that no task reaches maps to ``None``.

    Args:
        results: Rollouts of one run.
        k_max: Largest k; defaults to the most trials any task has.
        convention: ``"tau-bench"`` or ``"tau2"`` (see the module docstring).

    Returns:
        ``{k: value or None}`` for every k from 1 to k_max.
    """
    counts = _task_counts(results, convention)
    if k_max is None:
        k_max = max((n for n, _ in counts.values()), default=0)
    curve: dict[int, float | None] = {}
    for k in range(1, k_max + 1):
        vals = [pass_hat_k(n, c, k) for n, c in counts.values() if n >= k]
        curve[k] = statistics.fmean(vals) if vals else None
    return curve


def per_task_success(results: Sequence[RolloutResult],
                     convention: Convention = "tau-bench") -> dict[str, float]:
    """Per-task success rate ``c / n`` (the per-task pass^1) under a convention."""
    return {t: c / n for t, (n, c) in _task_counts(results, convention).items()}


def average_reward(results: Sequence[RolloutResult]) -> tuple[float | None, int]:
    """Mean reward over rollouts that have one.

    Returns:
        ``(mean or None when no rollout has a reward, number of rollouts without one)``.
        Rollouts without a reward are those waiting for a judge.
    """
    rewards = [r.reward for r in results if r.reward is not None]
    missing = len(results) - len(rewards)
    return (statistics.fmean(rewards) if rewards else None), missing


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of already sorted values, q in [0, 1]."""
    pos = q * (len(sorted_vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, seed: int = 0,
                 resamples: int = _BOOTSTRAP_RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap interval for the mean of ``values``.

    The interval is widened to include the sample mean if resampling noise
    would leave it outside (possible only for tiny, very skewed samples), so
    callers can always show "estimate [lo, hi]" consistently.

    Args:
        values: Independent units, e.g. per-task success rates.
        confidence: Coverage, e.g. 0.95.
        seed: Seed of the resampling.
        resamples: Number of bootstrap resamples.

    Returns:
        ``(lo, hi)``, or ``None`` when ``values`` is empty.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not values:
        return None
    vals = list(values)
    point = statistics.fmean(vals)
    n = len(vals)
    rng = random.Random(seed)
    pick = vals.__getitem__
    means = []
    for _ in range(resamples):
        # Indices from 32-bit random words: far faster than random.choices on
        # thousands of tasks, with a modulo bias below n / 2**32.
        words = memoryview(rng.randbytes(4 * n)).cast("I")
        means.append(math.fsum(map(pick, [w % n for w in words])) / n)
    means.sort()
    alpha = (1 - confidence) / 2
    lo, hi = _percentile(means, alpha), _percentile(means, 1 - alpha)
    return min(lo, point), max(hi, point)


def pass1_ci(results: Sequence[RolloutResult], convention: Convention = "tau-bench",
             confidence: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Bootstrap interval of pass^1, resampling tasks (trials stay with their task).

    The per-task rates are taken in task order, so the interval depends only
    on the set of results and the seed, not on the order they were read in.
    """
    rates = per_task_success(results, convention)
    return bootstrap_ci([rates[t] for t in sorted(rates, key=task_sort_key)],
                        confidence=confidence, seed=seed)


def usage_by_role(results: Iterable[RolloutResult]) -> dict[str, Usage]:
    """Usage summed per model role (agent, user, judge...) over all rollouts."""
    out: dict[str, Usage] = {}
    for r in results:
        for role, u in r.usage.items():
            out[role] = out[role] + u if role in out else u.model_copy()
    return out


def cost_total(usage: dict[str, Usage]) -> float | None:
    """Total cost over roles; ``None`` when any role made calls of unknown price."""
    total = Usage()
    for u in usage.values():
        total = total + u
    if total.calls == 0:
        return 0.0 if total.cost is None else total.cost
    return total.cost


def termination_counts(results: Iterable[RolloutResult]) -> dict[str, int]:
    """How many rollouts ended for each termination reason (most frequent first)."""
    counts = Counter(r.termination.value for r in results)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _usage_json(u: Usage) -> dict[str, Any]:
    return {
        "calls": u.calls,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        # None (JSON null) when a call's price was unknown; the run total says "unknown".
        "cost": None if u.cost is None and u.calls else (u.cost or 0.0),
    }


def summarize(results: Sequence[RolloutResult], trials: int | None = None,
              seed: int = 0) -> dict[str, Any]:
    """A JSON-ready summary of one run.

    Args:
        results: The run's rollouts.
        trials: Trials per task the run was configured with; pass^k is
            reported for k = 1..trials (default: the most trials any task has).
        seed: Seed of the pass^1 bootstrap.

    Returns:
        A dict with ``n_rollouts``, ``n_tasks``, ``avg_reward``, ``pass_k``
        (``{"tau-bench": {"1": ...}, "tau2": {...}}``, keys as strings so the
        dict survives a JSON round trip unchanged), ``pass1_ci`` (``[lo, hi]``
        or None, tau-bench convention, 95%), ``usage`` (per role: calls,
        tokens, and cost in USD or None when a price was unknown), ``cost``
        (run total in USD, or ``"unknown"``), ``terminations``, ``judge_needed`` and
        ``infra_errors``, and ``retries`` (retried model calls by cause).
    """
    # A function of the set of results, never of their order (file order
    # changes with a resume): everything below sees them sorted.
    results = sorted(results, key=lambda r: (task_sort_key(r.task_id), r.trial))
    avg, missing = average_reward(results)
    usage = usage_by_role(results)
    retries: Counter[str] = Counter()
    for r in results:
        retries.update(r.retries)
    cost = cost_total(usage)
    ci = pass1_ci(results, "tau-bench", seed=seed)
    return {
        "n_rollouts": len(results),
        "n_tasks": len({r.task_id for r in results}),
        "avg_reward": avg,
        "pass_k": {
            conv: {str(k): v for k, v in pass_k_curve(results, trials, conv).items()}
            for conv in CONVENTIONS
        },
        "pass1_ci": list(ci) if ci is not None else None,
        "usage": {role: _usage_json(u) for role, u in sorted(usage.items())},
        "cost": "unknown" if cost is None else cost,
        "terminations": termination_counts(results),
        "judge_needed": sum(r.breakdown.status == "judge_needed" for r in results),
        "judge_failures": sum(r.breakdown.status == "judge_failed" for r in results),
        "evaluation_errors": sum(r.breakdown.status == "error" for r in results),
        "unscored": missing,
        "infra_errors": sum(r.infra_error for r in results),
        "retries": dict(sorted(retries.items())),
    }


# ---------------------------------------------------------------- paired tests


def mcnemar_exact(b_only: int, a_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts.

    Under the null each discordant pair is equally likely to favour either
    run, so the smaller count follows Binomial(b_only + a_only, 1/2).

    Args:
        b_only: Pairs where only run B succeeded.
        a_only: Pairs where only run A succeeded.
    """
    if b_only < 0 or a_only < 0:
        raise ValueError("counts must be non-negative")
    m = b_only + a_only
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b_only, a_only) + 1))
    return min(1.0, 2 * tail / 2**m)


def sign_flip_pvalue(diffs: Sequence[float], seed: int = 0,
                     permutations: int = _MC_PERMUTATIONS) -> tuple[float, bool]:
    """Two-sided paired sign-flip permutation p-value for a mean difference of zero.

    Under the null each paired difference is as likely to have either sign,
    so the observed ``|sum|`` is compared with the sums over sign flips.
    Zero differences do not change under a flip and are left out.

    Returns:
        ``(p, exact)``: exact enumeration when at most 20 differences are
        non-zero, else a seeded Monte Carlo estimate ``(1 + hits) / (1 + N)``.
    """
    nz = [d for d in diffs if abs(d) > 1e-12]
    if not nz:
        return 1.0, True
    observed = abs(math.fsum(nz))
    tol = 1e-9 * max(1.0, observed)
    if len(nz) <= _EXACT_FLIP_LIMIT:
        # Distribution of the signed sum by dynamic programming; rounding keys
        # merges sums that differ only by float noise.
        dist: dict[float, int] = {0.0: 1}
        for d in nz:
            nxt: dict[float, int] = defaultdict(int)
            for s, cnt in dist.items():
                nxt[round(s + d, 12)] += cnt
                nxt[round(s - d, 12)] += cnt
            dist = nxt
        hits = sum(cnt for s, cnt in dist.items() if abs(s) >= observed - tol)
        return hits / 2 ** len(nz), True
    # Differences of equal size flip as a group: the signed sum of m copies
    # of v is v * (2 * Binomial(m, 1/2) - m), drawn from m random bits. This
    # keeps each permutation O(number of distinct sizes) instead of O(tasks).
    groups = Counter(round(abs(d), 12) for d in nz)
    rng = random.Random(seed)
    hits = 0
    for _ in range(permutations):
        s = math.fsum(v * (2 * rng.getrandbits(m).bit_count() - m) for v, m in groups.items())
        if abs(s) >= observed - tol:
            hits += 1
    return (1 + hits) / (1 + permutations), False


@dataclass
class PairedComparison:
    """Run B against run A, paired by task. Differences are B minus A."""

    n_tasks: int
    pass1_a: float | None
    pass1_b: float | None
    diff: float | None
    diff_ci: tuple[float, float] | None
    confidence: float
    test: str
    p_value: float | None
    wins: int
    losses: int
    ties: int
    diff_mean: float | None
    diff_sd: float | None
    diff_se: float | None
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    per_task: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the statistics labelled."""
        d = asdict(self)
        d["diff_ci"] = list(self.diff_ci) if self.diff_ci else None
        d["per_task"] = {t: {"a": a, "b": b} for t, (a, b) in self.per_task.items()}
        d["labels"] = {
            "diff": "pass^1(B) - pass^1(A) over paired tasks",
            "diff_ci": f"{round(self.confidence * 100)}% paired bootstrap over tasks",
            "diff_sd": "sample standard deviation of per-task differences",
            "diff_se": "standard error of the mean difference (sd / sqrt(n))",
            "wins": "tasks where B's success rate is higher",
            "losses": "tasks where B's success rate is lower",
        }
        return d


def compare_runs(a_results: Sequence[RolloutResult], b_results: Sequence[RolloutResult],
                 seed: int = 0, confidence: float = 0.95) -> PairedComparison:
    """Compare two runs on the tasks they share.

    Each task's success rate over its trials (tau-bench convention) is one
    paired observation. The test is an exact McNemar test when every paired
    task has exactly one trial in each run, otherwise a paired sign-flip
    permutation test on the per-task rates.

    Args:
        a_results: Rollouts of the baseline run A.
        b_results: Rollouts of run B.
        seed: Seed for the bootstrap and any Monte Carlo permutation test.
        confidence: Coverage of the bootstrap interval.
    """
    rate_a = per_task_success(a_results)
    rate_b = per_task_success(b_results)
    tasks = sorted(set(rate_a) & set(rate_b), key=task_sort_key)
    only_a = sorted(set(rate_a) - set(rate_b), key=task_sort_key)
    only_b = sorted(set(rate_b) - set(rate_a), key=task_sort_key)
    per_task = {t: (rate_a[t], rate_b[t]) for t in tasks}
    diffs = [b - a for a, b in per_task.values()]
    eps = 1e-12
    wins = sum(d > eps for d in diffs)
    losses = sum(d < -eps for d in diffs)
    n = len(diffs)
    if n == 0:
        return PairedComparison(0, None, None, None, None, confidence, "none", None,
                                0, 0, 0, None, None, None, only_a, only_b, {})
    trials_a = Counter(r.task_id for r in a_results)
    trials_b = Counter(r.task_id for r in b_results)
    if all(trials_a[t] == 1 and trials_b[t] == 1 for t in tasks):
        test = "exact McNemar"
        p = mcnemar_exact(wins, losses)
    else:
        p, exact = sign_flip_pvalue(diffs, seed=seed)
        test = "paired sign-flip permutation (" + ("exact" if exact else "Monte Carlo") + ")"
    sd = statistics.stdev(diffs) if n > 1 else None
    return PairedComparison(
        n_tasks=n,
        pass1_a=statistics.fmean(a for a, _ in per_task.values()),
        pass1_b=statistics.fmean(b for _, b in per_task.values()),
        diff=statistics.fmean(diffs),
        diff_ci=bootstrap_ci(diffs, confidence=confidence, seed=seed),
        confidence=confidence,
        test=test,
        p_value=p,
        wins=wins,
        losses=losses,
        ties=n - wins - losses,
        diff_mean=statistics.fmean(diffs),
        diff_sd=sd,
        diff_se=sd / math.sqrt(n) if sd is not None else None,
        only_a=only_a,
        only_b=only_b,
        per_task=per_task,
    )


def task_sort_key(task_id: str) -> tuple[int, int | str]:
    """Sort numeric ids numerically ("2" before "10"), others after, by text."""
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)
