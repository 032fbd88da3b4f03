"""pass^k pinned to its estimator, not only to its bounds.

Every expected value here is computed independently of
``toolgym.evaluation._metrics``: by enumerating the k-subsets of a task's
trials (the definition of pass^k: the chance that k trials drawn without
replacement all succeed), or for larger n by the exact product
``prod_{i<k} (c - i) / (n - i)`` in fractions.
"""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.evaluation._metrics import pass_hat_k, pass_k_curve, per_task_success, summarize
from toolgym.evaluation._types import RewardBreakdown
from toolgym.messages import Message
from toolgym.runner._results import RolloutResult, Termination, Timings

# What one trial ends as: (termination, reward). Only model_error is an
# infrastructure error; the other abnormal endings are the agent's failures.
PASS = (Termination.USER_STOP, 1.0)
FAIL = (Termination.USER_STOP, 0.0)
PARTIAL = (Termination.AGENT_STOP, 0.5)
UNGRADED = (Termination.USER_STOP, None)  # waiting for a judge: not a success
MAX_STEPS = (Termination.MAX_STEPS, 0.0)
TIMEOUT = (Termination.TIMEOUT, 0.0)
INFRA = (Termination.MODEL_ERROR, 0.0)
OUTCOMES = [PASS, FAIL, PARTIAL, UNGRADED, MAX_STEPS, TIMEOUT, INFRA]

Outcome = tuple[Termination, float | None]


def enumerated_pass_k(outcomes: list[bool], k: int) -> Fraction:
    """Share of the k-subsets of the trials in which every trial succeeded."""
    subsets = list(itertools.combinations(outcomes, k))
    return Fraction(sum(all(s) for s in subsets), len(subsets))


def product_pass_k(n: int, c: int, k: int) -> Fraction:
    """C(c, k) / C(n, k) as the product of k exact ratios (no binomials)."""
    value = Fraction(1)
    for i in range(k):
        value *= Fraction(max(c - i, 0), n - i)
    return value


def rollout(task: str, trial: int, outcome: Outcome) -> RolloutResult:
    term, reward = outcome
    return RolloutResult(
        task_id=task, trial=trial, seed=trial, messages=[Message.user("hi")], reward=reward,
        breakdown=RewardBreakdown(reward=reward,
                                  status="judge_needed" if reward is None else "ok"),
        termination=term,
        timings=Timings(started_at="t0", finished_at="t1", duration_s=1.0),
    )


def is_success(outcome: Outcome) -> bool:
    return outcome[1] == 1.0


# ------------------------------------------------------------ one task


@st.composite
def small_counts(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 9))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(small_counts())
def test_pass_hat_k_is_the_share_of_all_success_k_subsets(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    trials = [True] * c + [False] * (n - c)
    assert pass_hat_k(n, c, k) == pytest.approx(float(enumerated_pass_k(trials, k)),
                                                rel=1e-12, abs=1e-15)


@st.composite
def large_counts(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 200))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(large_counts())
def test_pass_hat_k_matches_the_exact_product_formula(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert pass_hat_k(n, c, k) == pytest.approx(float(product_pass_k(n, c, k)),
                                                rel=1e-12, abs=1e-300)


@given(st.integers(2, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))))
def test_pass_hat_2_is_below_the_rate_for_every_mixed_task(nc: tuple[int, int]) -> None:
    # A task that sometimes fails has pass^2 strictly below pass^1 = c/n:
    # c(c-1) / n(n-1) < c/n whenever 0 < c < n.
    n, c = nc
    assert pass_hat_k(n, c, 1) == pytest.approx(c / n)
    assert pass_hat_k(n, c, 2) == pytest.approx(c * (c - 1) / (n * (n - 1)))
    assert pass_hat_k(n, c, 2) < c / n


# ------------------------------------------------------------ many tasks

task_outcomes = st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=7)
run_outcomes = st.lists(task_outcomes, min_size=1, max_size=6)


def build_run(tasks: list[list[Outcome]]) -> list[RolloutResult]:
    results = [rollout(f"t{t}", k, o) for t, trials in enumerate(tasks)
               for k, o in enumerate(trials)]
    # Order of records must not matter (results.jsonl is in finishing order).
    return results[::-1] if len(results) % 2 else results


def expected_curve(tasks: list[list[Outcome]], k_max: int, tau2: bool
                   ) -> dict[int, float | None]:
    """pass^k by enumeration: per task over its valid trials, then a plain task mean."""
    per_task = []
    for trials in tasks:
        valid = [o for o in trials if not (tau2 and o == INFRA)]
        if valid:
            per_task.append([is_success(o) for o in valid])
    curve: dict[int, float | None] = {}
    for k in range(1, k_max + 1):
        values = [enumerated_pass_k(s, k) for s in per_task if len(s) >= k]
        curve[k] = float(statistics.fmean(values)) if values else None
    return curve


def assert_curves_equal(got: dict[int, float | None], want: dict[int, float | None]) -> None:
    assert list(got) == list(want)
    for k, value in want.items():
        if value is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(value, rel=1e-12, abs=1e-15), k


@settings(max_examples=150)
@given(run_outcomes, st.integers(1, 9))
def test_tau_bench_curve_is_the_task_mean_of_the_estimator(tasks: list[list[Outcome]],
                                                           k_max: int) -> None:
    results = build_run(tasks)
    assert_curves_equal(pass_k_curve(results, k_max, "tau-bench"),
                        expected_curve(tasks, k_max, tau2=False))
    # Default k_max: the most trials any task has.
    longest = max(len(t) for t in tasks)
    assert_curves_equal(pass_k_curve(results), expected_curve(tasks, longest, tau2=False))


@settings(max_examples=150)
@given(run_outcomes, st.integers(1, 9))
def test_tau2_curve_leaves_out_infrastructure_errors(tasks: list[list[Outcome]],
                                                     k_max: int) -> None:
    results = build_run(tasks)
    assert_curves_equal(pass_k_curve(results, k_max, "tau2"),
                        expected_curve(tasks, k_max, tau2=True))


@settings(max_examples=100)
@given(run_outcomes)
def test_per_task_rates_and_summary_follow_both_conventions(tasks: list[list[Outcome]]
                                                            ) -> None:
    results = build_run(tasks)
    trials = max(len(t) for t in tasks)
    tb = per_task_success(results, "tau-bench")
    t2 = per_task_success(results, "tau2")
    for i, outcomes in enumerate(tasks):
        task = f"t{i}"
        assert tb[task] == pytest.approx(sum(map(is_success, outcomes)) / len(outcomes))
        valid = [o for o in outcomes if o != INFRA]
        if valid:
            assert t2[task] == pytest.approx(sum(map(is_success, valid)) / len(valid))
        else:  # only infrastructure errors: no valid trial, no rate
            assert task not in t2
    s = summarize(results, trials=trials)
    for conv, tau2 in (("tau-bench", False), ("tau2", True)):
        want = expected_curve(tasks, trials, tau2)
        assert_curves_equal({int(k): v for k, v in s["pass_k"][conv].items()}, want)
    assert s["infra_errors"] == sum(o == INFRA for t in tasks for o in t)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 4))
def test_tau2_excludes_a_task_below_k_valid_trials(valid: int, infra: int, passes: int
                                                   ) -> None:
    # One task with `valid` passing trials and `infra` infrastructure errors,
    # one fully valid reference task that always fails.
    results = ([rollout("a", i, PASS) for i in range(valid)]
               + [rollout("a", valid + i, INFRA) for i in range(infra)]
               + [rollout("b", i, PASS if i < passes else FAIL)
                  for i in range(valid + infra)])
    n = valid + infra
    tau2 = pass_k_curve(results, n, "tau2")
    tau_bench = pass_k_curve(results, n, "tau-bench")
    for k in range(1, n + 1):
        b = float(product_pass_k(n, min(passes, n), k))
        if k <= valid:  # task a counts, and all its valid trials passed
            assert tau2[k] == pytest.approx((1.0 + b) / 2)
        else:  # task a has fewer than k valid trials: only b is averaged
            assert tau2[k] == pytest.approx(b)
        # tau-bench counts the infrastructure errors as failures.
        a = float(product_pass_k(n, valid, k))
        assert tau_bench[k] == pytest.approx((a + b) / 2)
