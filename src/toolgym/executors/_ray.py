"""``--executor ray``: rollouts in Ray worker processes, on one machine or a cluster.

One toolgym process is bound to one core by the GIL (a few milliseconds of
CPU per model call), so a run beyond a few hundred calls per second spreads
its rollouts over processes. Each Ray actor rebuilds the run from its config
(domain, models, agent and user factories) once, then runs rollouts as an
async actor; the driver keeps everything else: the queue of (task, trial)
pairs, the single append-only writer of the run directory, resume,
``--retry-errors``, signals and the live display. Results travel back as the
JSON line they are written as.

Per-endpoint concurrency limits hold across all workers: each worker gets an
equal share of every endpoint's ``max_concurrency`` (the run uses at most as
many workers as the smallest limit allows, so the shares sum to the limit).

Ray is an optional extra: ``pip install 'toolgym[ray]'``. On a cluster,
toolgym (and any ``--plugin`` module) must be importable on every node.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from toolgym.errors import MissingDependencyError

__all__ = ["RayExecutor", "worker_share"]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray") from None
    return ray


def worker_share(limit: int | None, workers: int, index: int) -> int | None:
    """Worker ``index``'s share of an endpoint limit split over ``workers`` (None: no limit)."""
    if limit is None:
        return None
    base, extra = divmod(limit, workers)
    return base + (1 if index < extra else 0)


def _limits(config: Any) -> list[int]:
    models = [config.agent.model, config.user.model, config.judge]
    return [m.max_concurrency for m in models if m is not None and m.max_concurrency]


class _Actor:
    """One Ray worker: the run rebuilt in its own process (see the module docstring)."""

    def __init__(self, config_json: str, index: int, workers: int) -> None:
        from toolgym.runner._config import RunConfig
        from toolgym.runner._run import RunEvents, _prepare

        config = RunConfig.model_validate_json(config_json)
        data = config.model_dump()
        for role in ("agent", "user"):
            model = data[role]["model"]
            if model and model.get("max_concurrency"):
                model["max_concurrency"] = worker_share(model["max_concurrency"], workers, index)
        if data.get("judge") and data["judge"].get("max_concurrency"):
            data["judge"]["max_concurrency"] = worker_share(data["judge"]["max_concurrency"],
                                                            workers, index)
        self.config = RunConfig.model_validate(data)
        self.prepared = _prepare(self.config, RunEvents())
        self.tasks = {t.id: t for t in self.prepared.tasks}

    async def run(self, task_id: str, trial: int, seed: int) -> str:
        """One rollout, as its results.jsonl line."""
        from toolgym.runner._rollout import run_rollout
        from toolgym.runner._run import internal_error_result

        task = self.tasks[task_id]
        try:
            result = await run_rollout(self.prepared.spec, task, trial, seed)
        except Exception as exc:  # recorded like the local executor does
            result = internal_error_result(task, trial, seed, exc)
        return result.model_dump_json()

    async def close(self) -> None:
        """Release the models' connections."""
        for m in self.prepared.models:
            await m.aclose()


class RayExecutor:
    """Runs rollouts on Ray actors (see the module docstring).

    Args:
        config: The run's config.
        address: ``auto`` (a running cluster), ``HOST:PORT``, or None (start a
            local Ray instance with one CPU per worker).
        workers: Worker processes.
    """

    def __init__(self, config: Any, address: str | None, workers: int) -> None:
        from toolgym.errors import ConfigError

        if workers < 1:
            raise ConfigError("--ray-workers must be at least 1")
        ray = _ray()
        limits = _limits(config)
        self.workers = min([workers, *limits]) if limits else workers
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "ignore_reinit_error": True}
            if address is None:
                kwargs["num_cpus"] = max(self.workers, 1)
            else:
                kwargs["address"] = address
            ray.init(**kwargs)
            self._started = True
        per_worker = max(1, math.ceil(config.concurrency / self.workers))
        actor = ray.remote(num_cpus=1, max_concurrency=per_worker)(_Actor)
        config_json = config.model_dump_json()
        self.actors = [actor.remote(config_json, i, self.workers) for i in range(self.workers)]
        self._next = 0

    async def run(self, task: Any, trial: int, seed: int) -> Any:
        """Run one rollout on the next actor; the result as a :class:`RolloutResult`."""
        from toolgym.runner._results import RolloutResult

        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        line = await actor.run.remote(task.id, trial, seed)
        return RolloutResult.model_validate_json(line)

    async def close(self) -> None:
        """Stop the actors (and the local Ray instance this executor started)."""
        ray = _ray()
        for a in self.actors:
            with contextlib.suppress(Exception):  # best effort at shutdown
                await a.close.remote()
            ray.kill(a)
        if self._started:
            ray.shutdown()
