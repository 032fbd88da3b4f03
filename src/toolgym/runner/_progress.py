"""Live progress (a rich progress bar) or plain log lines, and the final results table."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from toolgym.runner._results import RolloutResult, failure_reason
from toolgym.runner._run import RunEvents

__all__ = ["live_progress", "results_table", "start_line"]


def _status_line(ev: RunEvents) -> str:
    avg = f"{ev.reward_sum / ev.rewarded:.3f}" if ev.rewarded else "-"
    parts = [
        f"running {ev.running}",
        f"avg reward {avg}",
        f"retries {ev.retrying}",
    ]
    if ev.rate_limited:
        parts.append(f"rate-limited {ev.rate_limited}")
    if ev.infra_errors:
        parts.append(f"infra errors {ev.infra_errors}")
    parts.append(f"cost ${ev.cost:.4f}")
    if ev.stopping:
        parts.append("STOPPING" + (" (Ctrl-C again to abandon rollouts in flight)"
                                   if ev.signal == "SIGINT" else ""))
    return " | ".join(parts)


def _plain_line(ev: RunEvents) -> str:
    eta = ev.eta_s
    return (f"done {ev.done}/{ev.total} | elapsed {_duration(ev.elapsed_s)}"
            + (f" | eta {_duration(eta)}" if eta is not None else "")
            + " | " + _status_line(ev))


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def start_line(ev: RunEvents) -> str:
    """What a run says when it starts: fresh, resumed, or nothing to do."""
    if ev.to_run == 0:
        return f"nothing to do ({ev.skipped} rollouts already complete)"
    if ev.skipped:
        return f"resumed: {ev.skipped} done, {ev.to_run} to run"
    return f"running {ev.to_run} rollouts"


@contextlib.asynccontextmanager
async def live_progress(events: RunEvents, display: str, console: Console) -> AsyncIterator[None]:
    """Show progress while the body runs: a rich progress bar, or plain lines.

    Warnings (tasks failing by the domain's rules, skipped tasks, corrupt
    results lines) are printed whatever the display.
    """
    def warn(ev: RunEvents) -> None:
        from toolgym.runner._store import PROBLEM_REPORTERS

        for warning in ev.warnings:
            console.print(f"warning: {warning}", highlight=False, markup=False)
        for problem in ev.problems:  # the CLI's reporter prints each once per command
            if PROBLEM_REPORTERS:
                for report in PROBLEM_REPORTERS:
                    report(problem)
            else:
                console.print(f"warning: {problem}", highlight=False, markup=False)

    events.on_start.append(warn)
    if display == "none":
        yield
        return

    def announce(ev: RunEvents) -> None:
        console.print(start_line(ev), highlight=False, markup=False)

    events.on_start.append(announce)
    if display == "plain":
        def log(r: RolloutResult) -> None:
            reward = "n/a" if r.reward is None else f"{r.reward:.2f}"
            why = failure_reason(r)
            console.print(f"task {r.task_id} trial {r.trial}: reward {reward} "
                          f"({r.termination.value}, {r.steps} steps"
                          + (f"; {why}" if why else "") + f") | {_plain_line(events)}",
                          highlight=False, markup=False)

        events.on_result.append(log)
        yield
        return
    progress = Progress(
        TextColumn("[bold]rollouts"), BarColumn(), MofNCompleteColumn(),
        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console, transient=True, refresh_per_second=4,
    )
    bar: list[Any] = []

    def start(ev: RunEvents) -> None:
        bar.append(progress.add_task("run", total=ev.total, completed=ev.skipped,
                                     status=escape(_status_line(ev))))

    def advance(r: RolloutResult) -> None:
        if bar:
            progress.update(bar[0], completed=events.done, status=escape(_status_line(events)))

    events.on_start.append(start)
    events.on_result.append(advance)
    with progress:
        yield


def _rate(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def _failure_counts(results: Sequence[RolloutResult]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in results:
        why = failure_reason(r)
        if why is None or r.infra_error:
            continue
        # The category is the reason without its details ("missing action X").
        for part in why.split("; "):
            counts[_category(part)] += 1
    return counts


def _category(reason: str) -> str:
    for prefix in ("missing action", "did not say", "ended:"):
        if reason.startswith(prefix):
            return prefix.rstrip(":") if prefix != "ended:" else reason
    return reason


def results_table(summary: dict[str, Any], title: str = "Results",
                  results: Sequence[RolloutResult] | None = None,
                  run_dir: str | None = None) -> Table:
    """The end-of-run table: rewards, pass^k, failures, infrastructure errors, usage.

    Args:
        summary: The run's summary (``summary.json``).
        title: The table title.
        results: The run's rollouts, for the failure categories (optional).
        run_dir: The run directory, for the commands the table suggests.
    """
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    avg = summary.get("avg_reward")
    table.add_row("rollouts", str(summary.get("n_rollouts", 0)))
    table.add_row("tasks", str(summary.get("n_tasks", 0)))
    if summary.get("wall_s") is not None:
        table.add_row("elapsed", _duration(float(summary["wall_s"])))
    table.add_row("average reward", "-" if avg is None else f"{avg:.3f}")
    ci = summary.get("pass1_ci")
    if ci:
        table.add_row("pass^1 95% CI", f"[{ci[0]:.3f}, {ci[1]:.3f}]")
    curves = summary.get("pass_k") or {}
    bench, tau2 = curves.get("tau-bench") or {}, curves.get("tau2") or {}
    for k, v in bench.items():
        if tau2.get(k) != v:
            table.add_row(f"pass^{k} (tau-bench)", _rate(v))
            table.add_row(f"pass^{k} (tau2)", _rate(tau2.get(k)))
        else:
            table.add_row(f"pass^{k}", _rate(v))
    if summary.get("judge_needed"):
        where = escape(run_dir) if run_dir else "RUN_DIR"
        table.add_row("judge needed", f"{summary['judge_needed']} (grade them: toolgym judge "
                      f"{where} --judge nl --judge-model MODEL)")
    if results is not None:
        for category, n in _failure_counts(results).most_common():
            table.add_row(f"failed: {escape(category)}", str(n))
    infra = summary.get("infra_errors") or 0
    table.add_row("infrastructure errors", str(infra))
    if infra and summary.get("first_infra_error"):
        table.add_row("first infrastructure error", escape(str(summary["first_infra_error"])))
    retries = summary.get("retries") or {}
    if retries:
        table.add_row("retried calls", ", ".join(f"{k}: {v}" for k, v in retries.items()))
    for role, u in (summary.get("usage") or {}).items():
        cost = u.get("cost")
        cost_s = "unknown price" if cost is None else f"${cost:.4f}"
        table.add_row(f"{role} tokens (in/out)",
                      f"{u.get('prompt_tokens', 0)}/{u.get('completion_tokens', 0)} {cost_s}")
    for term, n in (summary.get("terminations") or {}).items():
        table.add_row(f"ended: {term}", str(n))
    for name, sc in (summary.get("scorings") or {}).items():
        rate = sc.get("success_rate")
        table.add_row(f"scoring {escape(name)} ({escape(str(sc.get('judge')))})",
                      ("-" if rate is None else f"{rate:.3f}") + f" of {sc.get('n_scored', 0)}"
                      + (f", {sc['errors']} errors" if sc.get("errors") else ""))
    return table
