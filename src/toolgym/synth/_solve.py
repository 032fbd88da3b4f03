"""The solvability check: run a reference agent on tasks and measure each one's pass rate.

The tasks are written to a task file in the run directory and run with
:func:`toolgym.runner.run_async` (the real run loop: preflight, retries,
append-only results, resume). A task solved in at least one of ``trials``
trials is solvable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolgym.models import ModelConfig

__all__ = ["solve_rates"]


async def solve_rates(
    *,
    domain: str,
    data_dir: str | Path | None,
    tasks: list[dict[str, Any]],
    agent_model: str | ModelConfig,
    trials: int,
    out_dir: Path,
    user: str = "scripted",
    user_model: str | ModelConfig | None = None,
    concurrency: int = 8,
) -> dict[str, float]:
    """The pass rate of each task (task id -> share of trials with reward 1).

    Args:
        domain: Domain name.
        data_dir: Its data directory (None: built-in).
        tasks: The task dicts to run.
        agent_model: The reference agent's model (``oracle`` offline).
        trials: Trials per task.
        out_dir: Run directory (its ``tasks.json`` is the task file; rerunning resumes).
        user: User simulator.
        user_model: The simulator's model, if it needs one.
        concurrency: Rollouts in flight.
    """
    from toolgym.runner._api import run_async

    out_dir.mkdir(parents=True, exist_ok=True)
    tasks_file = out_dir / "tasks.json"
    tasks_file.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    run = await run_async(domain=domain, data_dir=data_dir, tasks_file=tasks_file,
                          agent_model=agent_model, user=user, user_model=user_model,
                          trials=trials, concurrency=concurrency, out=out_dir / "run")
    passes: dict[str, list[bool]] = {str(t["id"]): [] for t in tasks}
    for result in run.results:
        passes.setdefault(result.task_id, []).append(result.success)
    return {tid: (sum(v) / trials if v else 0.0) for tid, v in passes.items()}
