"""Comparing two runs: per-run metrics side by side plus a paired test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

from toolgym.evaluation._metrics import CONVENTIONS, PairedComparison, compare_runs, summarize
from toolgym.runner._store import RunData

__all__ = ["Comparison", "compare", "comparison_renderable", "print_comparison"]


@dataclass
class Comparison:
    """Run B against baseline run A."""

    name_a: str
    name_b: str
    summary_a: dict[str, Any]
    summary_b: dict[str, Any]
    paired: PairedComparison

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "a": {"name": self.name_a, "summary": self.summary_a},
            "b": {"name": self.name_b, "summary": self.summary_b},
            "paired": self.paired.to_dict(),
        }


def _trials(run: RunData) -> int | None:
    t = run.config.get("trials")
    return t if isinstance(t, int) and t > 0 else None


def compare(run_a: RunData, run_b: RunData, seed: int = 0) -> Comparison:
    """Compare run B with baseline run A (differences are B minus A).

    Args:
        run_a: The baseline run.
        run_b: The run compared with it.
        seed: Seed of the bootstrap and any Monte Carlo permutation test.
    """
    return Comparison(
        name_a=run_a.name,
        name_b=run_b.name,
        summary_a=summarize(run_a.results, _trials(run_a), seed=seed),
        summary_b=summarize(run_b.results, _trials(run_b), seed=seed),
        paired=compare_runs(run_a.results, run_b.results, seed=seed),
    )


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _delta(a: Any, b: Any, digits: int = 3) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return f"{b - a:+.{digits}f}" if isinstance(a, float) or isinstance(b, float) \
            else f"{b - a:+d}"
    return ""


def _money(v: Any) -> str:
    return "unknown" if v is None or v == "unknown" else f"${float(v):.4f}"


def comparison_renderable(comp: Comparison) -> Group:
    """Two rich tables: metrics per run, then the paired statistics."""
    sa, sb = comp.summary_a, comp.summary_b
    runs = Table(title="Runs", title_justify="left")
    runs.add_column("metric")
    # Run names are directory names: "[bold]" there is text, not rich markup.
    runs.add_column(f"A: {escape(comp.name_a)}", justify="right")
    runs.add_column(f"B: {escape(comp.name_b)}", justify="right")
    runs.add_column("B - A", justify="right")
    for key, label in [("n_rollouts", "rollouts"), ("n_tasks", "tasks"),
                       ("avg_reward", "avg reward")]:
        runs.add_row(label, _f(sa[key]), _f(sb[key]), _delta(sa[key], sb[key]))
    for conv in CONVENTIONS:
        ks = sorted(set(sa["pass_k"][conv]) | set(sb["pass_k"][conv]), key=int)
        for k in ks:
            a, b = sa["pass_k"][conv].get(k), sb["pass_k"][conv].get(k)
            runs.add_row(f"pass^{k} ({conv})", _f(a), _f(b), _delta(a, b))
    ci_a = sa["pass1_ci"]
    ci_b = sb["pass1_ci"]
    runs.add_row("pass^1 95% CI (tau-bench)",
                 f"[{ci_a[0]:.3f}, {ci_a[1]:.3f}]" if ci_a else "-",
                 f"[{ci_b[0]:.3f}, {ci_b[1]:.3f}]" if ci_b else "-", "")
    runs.add_row("cost", _money(sa["cost"]), _money(sb["cost"]), "")
    runs.add_row("judge needed", str(sa["judge_needed"]), str(sb["judge_needed"]), "")
    runs.add_row("infra errors", str(sa["infra_errors"]), str(sb["infra_errors"]), "")

    p = comp.paired
    paired = Table(title="Paired by task (B - A)", title_justify="left")
    paired.add_column("statistic")
    paired.add_column("value", justify="right")
    paired.add_row("paired tasks", str(p.n_tasks))
    if p.n_tasks:
        paired.add_row("pass^1 A / B", f"{_f(p.pass1_a)} / {_f(p.pass1_b)}")
        paired.add_row("difference", _f(p.diff))
        paired.add_row(f"{round(p.confidence * 100)}% CI (paired bootstrap)",
                       f"[{p.diff_ci[0]:.3f}, {p.diff_ci[1]:.3f}]" if p.diff_ci else "-")
        paired.add_row(f"p-value ({p.test})", _f(p.p_value, 4))
        paired.add_row("tasks B better / worse / tied", f"{p.wins} / {p.losses} / {p.ties}")
        paired.add_row("mean per-task difference", _f(p.diff_mean, 4))
        paired.add_row("std. deviation of differences", _f(p.diff_sd, 4))
        paired.add_row("std. error of mean difference", _f(p.diff_se, 4))
    if p.only_a or p.only_b:
        paired.add_row("tasks only in A / only in B", f"{len(p.only_a)} / {len(p.only_b)}")
    return Group(runs, paired)


def print_comparison(comp: Comparison, console: Console | None = None) -> None:
    """Print the comparison tables to the terminal."""
    (console or Console()).print(comparison_renderable(comp))
