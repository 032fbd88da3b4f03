"""pass^k (both conventions), bootstrap intervals, usage and paired comparison."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.evaluation._metrics import (
    average_reward,
    bootstrap_ci,
    compare_runs,
    cost_total,
    mcnemar_exact,
    pass1_ci,
    pass_hat_k,
    pass_k_curve,
    per_task_success,
    sign_flip_pvalue,
    summarize,
    termination_counts,
    usage_by_role,
)
from toolgym.evaluation._types import RewardBreakdown
from toolgym.messages import Message, Usage
from toolgym.runner._results import RolloutResult, Termination, Timings


def _r(task: str, trial: int, reward: float | None, term: Termination = Termination.USER_STOP,
       usage: dict[str, Usage] | None = None) -> RolloutResult:
    return RolloutResult(
        task_id=task, trial=trial, seed=trial, messages=[Message.user("hi")], reward=reward,
        breakdown=RewardBreakdown(reward=reward,
                                  status="judge_needed" if reward is None else "ok"),
        termination=term, usage=usage or {},
        timings=Timings(started_at="t0", finished_at="t1", duration_s=1.0),
    )


INFRA = Termination.MODEL_ERROR

# ------------------------------------------------------------------ pass^k


def test_pass_hat_k_known_values() -> None:
    assert pass_hat_k(10, 5, 1) == 0.5
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(5, 1, 2) == 0.0


@pytest.mark.parametrize("n,c,k", [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_hat_k_rejects_bad_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_hat_k(n, c, k)


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 40))
    return n, draw(st.integers(0, n))


@given(counts())
def test_pass_hat_k_bounded_monotone_and_pass1_is_rate(nc: tuple[int, int]) -> None:
    n, c = nc
    values = [pass_hat_k(n, c, k) for k in range(1, n + 1)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert values[0] == pytest.approx(c / n)


@given(st.lists(st.lists(st.sampled_from([0.0, 1.0, None]), min_size=3, max_size=3),
                min_size=1, max_size=8))
def test_tau_bench_curve_non_increasing_with_equal_trials(tasks: list[list[float | None]]
                                                         ) -> None:
    results = [_r(str(t), k, rew) for t, trials in enumerate(tasks)
               for k, rew in enumerate(trials)]
    curve = pass_k_curve(results, convention="tau-bench")
    vals = [curve[k] for k in (1, 2, 3)]
    assert all(v is not None and 0 <= v <= 1 for v in vals)
    assert vals[0] >= vals[1] >= vals[2]  # type: ignore[operator]
    successes = sum(r == 1.0 for trials in tasks for r in trials)
    assert vals[0] == pytest.approx(successes / (3 * len(tasks)))


def test_conventions_differ_on_infra_errors() -> None:
    results = [
        _r("a", 0, 1.0), _r("a", 1, 1.0), _r("a", 2, 0.0), _r("a", 3, 0.0, INFRA),
        _r("b", 0, 1.0), _r("b", 1, 0.0, INFRA),
    ]
    tb = pass_k_curve(results, 2, "tau-bench")
    t2 = pass_k_curve(results, 2, "tau2")
    # tau-bench: a = 2/4, b = 1/2; pass^2: a = 1/6, b = 0.
    assert tb[1] == pytest.approx((0.5 + 0.5) / 2)
    assert tb[2] == pytest.approx((1 / 6 + 0) / 2)
    # tau2: a = 2/3 over 3 valid trials, b = 1/1; b has < 2 valid trials at k = 2.
    assert t2[1] == pytest.approx((2 / 3 + 1) / 2)
    assert t2[2] == pytest.approx(1 / 3)
    assert pass_k_curve(results, 5, "tau2")[4] is None


def test_curve_default_k_max_and_unknown_convention() -> None:
    results = [_r("a", k, 1.0) for k in range(4)]
    assert list(pass_k_curve(results)) == [1, 2, 3, 4]
    assert pass_k_curve([]) == {}
    with pytest.raises(ValueError, match="convention"):
        pass_k_curve(results, convention="tau3")  # type: ignore[arg-type]


def test_average_reward_excludes_and_counts_missing() -> None:
    results = [_r("a", 0, 1.0), _r("a", 1, 0.5), _r("b", 0, None)]
    assert average_reward(results) == (0.75, 1)
    assert average_reward([_r("a", 0, None)]) == (None, 1)


# ----------------------------------------------------------------- bootstrap


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.integers(0, 10**6))
def test_bootstrap_ci_contains_point_estimate(values: list[float], seed: int) -> None:
    ci = bootstrap_ci(values, seed=seed, resamples=200)
    assert ci is not None
    lo, hi = ci
    point = math.fsum(values) / len(values)
    assert lo <= point + 1e-12 and point - 1e-12 <= hi
    assert min(values) - 1e-12 <= lo and hi <= max(values) + 1e-12


def test_bootstrap_ci_is_seeded_and_narrows_with_more_data() -> None:
    small = [0.0, 1.0] * 5
    big = [0.0, 1.0] * 500
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)
    lo_s, hi_s = bootstrap_ci(small)  # type: ignore[misc]
    lo_b, hi_b = bootstrap_ci(big)  # type: ignore[misc]
    assert hi_b - lo_b < hi_s - lo_s
    assert 0.45 < lo_b < 0.5 < hi_b < 0.55
    assert bootstrap_ci([]) is None
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], confidence=1.5)


def test_pass1_ci_resamples_tasks() -> None:
    results = [_r(str(t), k, 1.0 if t % 2 else 0.0) for t in range(20) for k in range(3)]
    lo, hi = pass1_ci(results)  # type: ignore[misc]
    assert lo < 0.5 < hi
    assert per_task_success(results)["1"] == 1.0


# --------------------------------------------------------- usage and summary


def test_usage_cost_and_unknown_price() -> None:
    known = {"agent": Usage(prompt_tokens=10, completion_tokens=2, cost=0.5, calls=1)}
    unknown = {"agent": Usage(prompt_tokens=5, completion_tokens=1, cost=None, calls=1),
               "user": Usage(prompt_tokens=1, completion_tokens=1, cost=0.1, calls=1)}
    u = usage_by_role([_r("a", 0, 1.0, usage=known), _r("a", 1, 1.0, usage=known)])
    assert u["agent"].prompt_tokens == 20 and u["agent"].calls == 2
    assert cost_total(u) == pytest.approx(1.0)
    u2 = usage_by_role([_r("a", 0, 1.0, usage=known), _r("b", 0, 1.0, usage=unknown)])
    assert u2["agent"].cost is None and u2["user"].cost == pytest.approx(0.1)
    assert cost_total(u2) is None
    assert cost_total({}) == 0.0


def test_summarize_is_json_ready_and_counts() -> None:
    unknown = {"agent": Usage(prompt_tokens=5, completion_tokens=1, cost=None, calls=1)}
    results = [
        _r("0", 0, 1.0), _r("0", 1, 0.0, Termination.MAX_STEPS), _r("1", 0, None),
        _r("1", 1, 0.0, INFRA, usage=unknown),
    ]
    s = summarize(results, trials=2)
    assert json.loads(json.dumps(s)) == s
    assert s["n_rollouts"] == 4 and s["n_tasks"] == 2
    assert s["avg_reward"] == pytest.approx(1 / 3)
    assert s["judge_needed"] == 1 and s["infra_errors"] == 1
    assert s["pass_k"]["tau-bench"] == {"1": 0.25, "2": 0.0}
    assert s["pass_k"]["tau2"]["1"] == pytest.approx((0.5 + 0.0) / 2)
    assert s["pass_k"]["tau2"]["2"] == 0.0  # only task 0 has two valid trials
    assert s["cost"] == "unknown" and s["usage"]["agent"]["cost"] is None
    assert s["terminations"] == {"max_steps": 1, "model_error": 1, "user_stop": 2}
    assert termination_counts(results) == s["terminations"]
    lo, hi = s["pass1_ci"]
    assert lo <= 0.25 <= hi


# ------------------------------------------------------------- paired tests


def test_mcnemar_known_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    assert mcnemar_exact(5, 5) == 1.0
    # Two-sided binomial test of 1 vs 9 discordant pairs.
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)


@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_in_unit_interval_and_symmetric(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    assert 0.0 < p <= 1.0
    assert p == mcnemar_exact(c, b)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([-1.0, -0.5, -1 / 3, 0.0, 1 / 3, 0.5, 1.0]),
                min_size=1, max_size=10))
def test_sign_flip_exact_matches_brute_force(diffs: list[float]) -> None:
    p, exact = sign_flip_pvalue(diffs)
    assert exact
    nz = [d for d in diffs if d != 0]
    if not nz:
        assert p == 1.0
        return
    obs = abs(sum(nz))
    hits = sum(abs(sum(s * d for s, d in zip(signs, nz, strict=True))) >= obs - 1e-9
               for signs in itertools.product((1, -1), repeat=len(nz)))
    assert p == pytest.approx(hits / 2 ** len(nz))


def test_sign_flip_monte_carlo_for_many_tasks() -> None:
    diffs = [0.5] * 15 + [-0.5] * 10  # 25 non-zero: sampled
    p1, exact = sign_flip_pvalue(diffs, seed=1)
    assert not exact
    assert p1 == sign_flip_pvalue(diffs, seed=1)[0]
    # Exact two-sided p for 15 vs 10 equal-sized flips is 2*P(X >= 15), X~Bin(25, 1/2).
    exact_p = 2 * sum(math.comb(25, i) for i in range(15, 26)) / 2**25
    assert p1 == pytest.approx(exact_p, abs=0.02)


def test_compare_single_trial_uses_mcnemar() -> None:
    a = [_r(str(t), 0, 1.0 if t < 3 else 0.0) for t in range(10)]
    b = [_r(str(t), 0, 1.0 if t < 9 else 0.0) for t in range(10)] + [_r("x", 0, 1.0)]
    c = compare_runs(a, b, seed=0)
    assert c.test == "exact McNemar"
    assert (c.wins, c.losses, c.ties) == (6, 0, 4)
    assert c.p_value == pytest.approx(mcnemar_exact(6, 0))
    assert c.diff == pytest.approx(0.6) and c.only_b == ["x"] and c.only_a == []
    lo, hi = c.diff_ci  # type: ignore[misc]
    assert lo <= 0.6 <= hi
    assert c.diff_se == pytest.approx(c.diff_sd / math.sqrt(10))  # type: ignore[operator]
    d = c.to_dict()
    assert json.loads(json.dumps(d))["labels"]["diff_se"].startswith("standard error")
    # Swapping runs mirrors the difference and keeps the p-value.
    r = compare_runs(b, a, seed=0)
    assert r.diff == pytest.approx(-0.6) and r.p_value == c.p_value


def test_compare_multi_trial_uses_sign_flip() -> None:
    a = [_r(str(t), k, 1.0 if k == 0 else 0.0) for t in range(6) for k in range(3)]
    b = [_r(str(t), k, 1.0 if k < 2 else 0.0) for t in range(6) for k in range(3)]
    c = compare_runs(a, b)
    assert c.test.startswith("paired sign-flip permutation (exact")
    assert c.wins == 6 and c.diff == pytest.approx(1 / 3)
    assert c.p_value == pytest.approx(2 / 64)
    assert c.diff_sd == pytest.approx(0.0)
    empty = compare_runs(a, [])
    assert empty.n_tasks == 0 and empty.p_value is None and len(empty.only_a) == 6
