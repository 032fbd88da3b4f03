"""Statistics over repeated runs: mean / SD / SE, paired comparison, Wilcoxon, run counts."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import toolgym
from toolgym.cli._app import app
from toolgym.evaluation._repeats import (
    compare_groups,
    metric_stats,
    runs_needed,
    wilcoxon_signed_rank,
)

cli = CliRunner()


def _brute_force_p(diffs: list[float]) -> float:
    """The exact two-sided p of the signed-rank test by enumerating every sign pattern."""
    nz = [d for d in diffs if d != 0]
    mags = sorted(abs(d) for d in nz)
    ranks = {}
    for v in set(mags):
        idx = [i + 1 for i, m in enumerate(mags) if m == v]
        ranks[v] = sum(idx) / len(idx)
    r = [ranks[abs(d)] for d in nz]
    obs = sum(ri for ri, d in zip(r, nz, strict=True) if d > 0)
    center = len(nz) * (len(nz) + 1) / 4
    hits = 0
    for signs in itertools.product((0, 1), repeat=len(nz)):
        w = sum(ri for ri, s in zip(r, signs, strict=True) if s)
        hits += abs(w - center) >= abs(obs - center) - 1e-9
    return hits / 2 ** len(nz)


def test_wilcoxon_known_values() -> None:
    w, p, exact = wilcoxon_signed_rank([1, 2, 3, 4, 5])
    assert w == 15 and exact and p == pytest.approx(2 / 32)
    assert wilcoxon_signed_rank([0, 0])[1] is None
    _, p, exact = wilcoxon_signed_rank([(-1) ** i * (i + 1) * 0.01 for i in range(60)])
    assert not exact and 0 < p <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]), min_size=1,
                max_size=11))
def test_wilcoxon_exact_equals_enumeration(diffs: list[float]) -> None:
    _, p, exact = wilcoxon_signed_rank(diffs)
    if all(d == 0 for d in diffs):
        assert p is None
        return
    assert exact and p == pytest.approx(_brute_force_p(diffs))


def test_runs_needed() -> None:
    # (1.96 + 0.8416)^2 * (0.1^2 + 0.1^2) / 0.05^2 = 62.8 -> 63
    assert runs_needed(0.1, 0.1, 0.05) == 63
    assert runs_needed(None, 0.1, 0.05) is None and runs_needed(0.1, 0.1, 0.0) is None


@pytest.fixture(scope="module")
def groups(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    root = tmp_path_factory.mktemp("rep")
    a, b = [], []
    for seed in range(4):
        for rate, group in ((0.5, a), (0.1, b)):
            out = root / f"e{rate}-s{seed}"
            toolgym.run(domain="airline", agent_model={"model": "oracle", "args": {
                "error_rate": rate}}, tasks="0-11", trials=2, seed=seed, out=out)
            group.append(out)
    return a, b


def test_stats_over_four_runs(groups: tuple[list[Path], list[Path]]) -> None:
    a, _ = groups
    runs = [toolgym.load_run(d) for d in a]
    stats = {s.name: s for s in metric_stats(runs)}
    values = [statistics.fmean(r.reward for r in run.results if r.reward is not None)
              for run in runs]
    s = stats["average reward"]
    assert s.values == values and s.mean == pytest.approx(statistics.fmean(values))
    assert s.sd == pytest.approx(statistics.stdev(values))
    assert s.se == pytest.approx(statistics.stdev(values) / math.sqrt(4))
    assert {"pass^1", "pass^2", "cost (USD)", "completion rate"} <= set(stats)
    assert stats["completion rate"].mean == 1.0


def test_paired_comparison_of_two_configurations(groups: tuple[list[Path], list[Path]]
                                                 ) -> None:
    a, b = groups
    c = compare_groups([toolgym.load_run(d) for d in a], [toolgym.load_run(d) for d in b])
    assert c.n_tasks == 12 and c.runs_a == c.runs_b == 4
    assert c.rate_b > c.rate_a and c.diff == pytest.approx(c.rate_b - c.rate_a)
    lo, hi = c.diff_ci
    assert lo <= c.diff <= hi and lo > 0  # the less error-prone oracle is better
    assert c.wilcoxon_p is not None and c.wilcoxon_p < 0.05
    assert c.runs_needed is not None and c.runs_needed >= 2


def test_stats_cli_and_run_repeats(groups: tuple[list[Path], list[Path]],
                                   tmp_path: Path) -> None:
    a, b = groups
    args = ["stats", *map(str, a)]
    for d in b:
        args += ["--against", str(d)]
    res = cli.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "SD (runs)" in res.stdout and "SE (mean)" in res.stdout
    assert "paired by task (12 tasks)" in res.stdout and "Wilcoxon signed-rank" in res.stdout
    res = cli.invoke(app, [*args, "--json"])
    data = json.loads(res.stdout)
    assert data["comparison"]["labels"]["diff_ci"].startswith("95% paired bootstrap")
    res = cli.invoke(app, ["run", "--agent-arg", "error_rate=0.3", "--tasks", "0-5",
                           "--repeats", "3", "--no-report", "--out", str(tmp_path / "rep")],
                     env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["seed-0", "seed-1",
                                                                    "seed-2"]
    assert "3 runs" in res.stdout and "average reward" in res.stdout


def test_the_difference_to_detect_must_be_positive(groups: tuple[list[Path], list[Path]]
                                                   ) -> None:
    from toolgym.errors import ConfigError

    a, b = ([toolgym.load_run(d) for d in g] for g in groups)
    for delta in (0.0, -0.1):
        with pytest.raises(ConfigError, match="--delta is the difference to detect"):
            compare_groups(a, b, delta=delta)
