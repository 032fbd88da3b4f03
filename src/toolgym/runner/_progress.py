"""Live progress (rich) or plain log lines, and the final results table."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from toolgym.runner._results import RolloutResult
from toolgym.runner._run import RunEvents

__all__ = ["live_progress", "results_table"]


def _status_line(ev: RunEvents) -> str:
    avg = f"{ev.reward_sum / ev.rewarded:.3f}" if ev.rewarded else "-"
    parts = [
        f"done {ev.done}/{ev.total}",
        f"running {ev.running}",
        f"retries {ev.retrying}",
        f"rate-limited {ev.rate_limited}",
        f"avg reward {avg}",
        f"cost ${ev.cost:.4f}",
    ]
    if ev.stopping:
        parts.append("STOPPING (Ctrl-C again to abandon rollouts in flight)")
    return " | ".join(parts)


@contextlib.asynccontextmanager
async def live_progress(events: RunEvents, display: str, console: Console) -> AsyncIterator[None]:
    """Show progress while the body runs: a rich live line, or plain lines."""
    if display == "none":
        yield
        return
    if display == "plain":
        def log(r: RolloutResult) -> None:
            reward = "n/a" if r.reward is None else f"{r.reward:.2f}"
            console.print(f"task {r.task_id} trial {r.trial}: reward {reward} "
                          f"({r.termination.value}, {r.steps} steps) | {_status_line(events)}",
                          highlight=False)

        events.on_result.append(log)
        yield
        return
    with Live(_status_line(events), console=console, refresh_per_second=4,
              transient=True) as live:
        async def refresh() -> None:
            while True:
                live.update(_status_line(events))
                await asyncio.sleep(0.25)

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def results_table(summary: dict[str, Any], title: str = "Results") -> Table:
    """The end-of-run table: rewards, pass^k, usage and terminations."""
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    avg = summary.get("avg_reward")
    table.add_row("rollouts", str(summary.get("n_rollouts", 0)))
    table.add_row("tasks", str(summary.get("n_tasks", 0)))
    table.add_row("average reward", "-" if avg is None else f"{avg:.3f}")
    ci = summary.get("pass1_ci")
    if ci:
        table.add_row("pass^1 95% CI", f"[{ci[0]:.3f}, {ci[1]:.3f}]")
    for convention, curve in (summary.get("pass_k") or {}).items():
        for k, v in curve.items():
            table.add_row(f"pass^{k} ({convention})", "-" if v is None else f"{v:.3f}")
    if summary.get("judge_needed"):
        table.add_row("judge needed", str(summary["judge_needed"]))
    for role, u in (summary.get("usage") or {}).items():
        cost = u.get("cost")
        cost_s = "unknown price" if cost is None else f"${cost:.4f}"
        table.add_row(f"{role} tokens (in/out)",
                      f"{u.get('prompt_tokens', 0)}/{u.get('completion_tokens', 0)} {cost_s}")
    for term, n in (summary.get("terminations") or {}).items():
        table.add_row(f"ended: {term}", str(n))
    return table
