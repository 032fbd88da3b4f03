"""Running many rollouts: concurrency, the run directory, resume and signals.

A run is a list of (task, trial) pairs. Rollouts are coroutines pulled by
``concurrency`` workers; each finished rollout is appended to results.jsonl
at once. Re-running with the same run directory (or ``toolgym resume``)
runs only the pairs that have no line yet, after checking that the config
did not change. The first Ctrl-C / SIGTERM stops launching and lets rollouts
in flight finish; a second one abandons them (they are simply not written
and will run again on resume). Rollouts are scheduled longest-first (by the
number of gold actions) so that long chains of model calls do not start
last and stretch the wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import importlib
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym.agents._base import AgentContext, create_agent
from toolgym.agents._prompts import agent_system_prompt
from toolgym.domains._domain import Domain, load_domain
from toolgym.errors import ConfigError
from toolgym.evaluation._evaluate import Evaluator, NLJudge
from toolgym.evaluation._metrics import summarize
from toolgym.models._base import EpisodeInfo, Model, ModelConfig
from toolgym.models._retry import EndpointPool, build_model
from toolgym.runner._config import RunConfig, diff_configs, rollout_seed, select_tasks
from toolgym.runner._results import RolloutResult
from toolgym.runner._rollout import Limits, RolloutSpec, run_rollout
from toolgym.runner._store import (
    CONFIG,
    RESULTS,
    SUMMARY,
    ResultsWriter,
    RunData,
    read_config_record,
    read_results,
    write_json_atomic,
)
from toolgym.tasks import Task
from toolgym.users._base import UserContext, create_user

__all__ = ["RunEvents", "default_run_dir", "execute_run", "model_slug"]


def model_slug(model: str) -> str:
    """A filesystem-safe slug of a model name ('Qwen/Qwen3-32B' -> 'Qwen-Qwen3-32B')."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")
    return slug[:80] or "model"


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    """``runs/<timestamp>_<domain>_<agent-model-slug>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}_{config.domain.name}_{model_slug(config.agent.model.model)}"


@dataclass
class RunEvents:
    """Counters and callbacks the live display reads."""

    total: int = 0
    done: int = 0
    running: int = 0
    retrying: int = 0
    rate_limited: int = 0
    cost: float = 0.0
    reward_sum: float = 0.0
    rewarded: int = 0
    stopping: bool = False
    on_result: list[Callable[[RolloutResult], None]] = field(default_factory=list)

    def record(self, result: RolloutResult) -> None:
        """Count a finished rollout."""
        self.done += 1
        self.cost += sum(u.cost or 0.0 for u in result.usage.values())
        if result.reward is not None:
            self.reward_sum += result.reward
            self.rewarded += 1
        for cb in self.on_result:
            cb(result)

    def on_retry(self, attempt: int, error: BaseException, delay: float) -> None:
        """Retry callback for the model layer."""
        self.retrying += 1
        status = getattr(error, "status", None)
        if status == 429:
            self.rate_limited += 1


def _system_prompt(domain: Domain[Any], config: RunConfig) -> str:
    path = config.agent.system_prompt_file
    if path:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read system prompt file {path}: {exc.strerror}") from None
    return agent_system_prompt(domain.policy)


def _wrap(config: ModelConfig, pool: EndpointPool, events: RunEvents, cache: str | None
          ) -> Model:
    return build_model(config, pool=pool, on_retry=events.on_retry, cache=cache)


@dataclass
class _Prepared:
    config: RunConfig
    domain: Domain[Any]
    tasks: list[Task]
    spec: RolloutSpec
    models: list[Model]


def import_plugins(modules: list[str]) -> None:
    """Import the modules that register a run's custom components."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"cannot import plugin module {name!r}: {exc}") from None


def _prepare(config: RunConfig, events: RunEvents) -> _Prepared:
    import_plugins(config.plugins)
    d = config.domain
    domain = load_domain(d.name, data_dir=d.data_dir, tasks_file=d.tasks_file)
    tasks = select_tasks(domain.tasks, domain.splits, tasks=config.tasks,
                         task_ids=config.task_ids, split=config.split,
                         shuffle=config.shuffle, seed=config.seed)
    if not tasks:
        raise ConfigError("no tasks selected")
    pool = EndpointPool()
    cache = config.cache_dir
    agent_model = _wrap(config.agent.model, pool, events, cache)
    user_model = _wrap(config.user.model, pool, events, cache) if config.user.model else None
    judge_model = _wrap(config.judge, pool, events, cache) if config.judge else None
    judge: NLJudge | None = None
    if judge_model is not None:
        from toolgym.judges import NLAssertionJudge

        judge = NLAssertionJudge(judge_model)
    system_prompt = _system_prompt(domain, config)
    tools = domain.openai_tools()

    def make_agent(task: Task, trial: int, seed: int) -> Any:
        model = agent_model.for_episode(EpisodeInfo(task, domain, trial, seed, "agent"))
        ctx = AgentContext(model=model, system_prompt=system_prompt, tools=tools,
                           args=dict(config.agent.args))
        return create_agent(config.agent.strategy, ctx)

    def make_user(task: Task, trial: int, seed: int) -> Any:
        model = (user_model.for_episode(EpisodeInfo(task, domain, trial, seed, "user"))
                 if user_model else None)
        return create_user(config.user.strategy,
                           UserContext(task=task, model=model, seed=seed,
                                       args=dict(config.user.args)))

    # Build one agent and user up front so bad strategy names or args fail
    # before anything is written.
    make_agent(tasks[0], 0, 0)
    make_user(tasks[0], 0, 0)
    spec = RolloutSpec(
        domain=domain,
        evaluator=Evaluator(domain),
        system_prompt=system_prompt,
        make_agent=make_agent,
        make_user=make_user,
        judge=judge,
        limits=Limits(config.max_steps, config.max_errors, config.rollout_timeout_s,
                      config.rollout_cost_limit),
    )
    models = [m for m in (agent_model, user_model, judge_model) if m is not None]
    return _Prepared(config, domain, tasks, spec, models)


def _config_record(config: RunConfig, prepared: _Prepared) -> dict[str, Any]:
    return {
        "toolgym_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
        "domain": {"name": prepared.domain.name, "source": prepared.domain.source,
                   "data_digest": prepared.domain.data_digest},
        "agent": {"strategy": config.agent.strategy,
                  "model": config.agent.model.model_dump(mode="json")},
        "task_ids": [t.id for t in prepared.tasks],
        "trials": config.trials,
    }


def _check_resume(run_dir: Path, record: dict[str, Any], config: RunConfig) -> None:
    old = read_config_record(run_dir)
    old_cfg = RunConfig.model_validate(old["config"])
    changes = diff_configs(old_cfg.identity(), config.identity())
    if old.get("domain", {}).get("data_digest") != record["domain"]["data_digest"]:
        changes.append("domain data changed (data digest differs)")
    if old.get("task_ids") != record["task_ids"]:
        changes.append("selected tasks differ")
    if changes:
        raise ConfigError(
            f"{run_dir} holds a run with a different config; refusing to resume. Changed: "
            + "; ".join(changes)
            + ". Use another --out directory, or the original settings."
        )


def resume_command(run_dir: Path) -> str:
    """The command that resumes a run."""
    return f"toolgym resume {run_dir}"


async def execute_run(
    config: RunConfig,
    run_dir: Path,
    events: RunEvents | None = None,
    install_signal_handlers: bool = True,
) -> RunData:
    """Run (or resume) ``config`` into ``run_dir`` and return the loaded run."""
    events = events or RunEvents()
    _check_paths(config, run_dir)
    if config.agent.system_prompt_file:
        prompt = Path(config.agent.system_prompt_file)
        text = prompt.read_bytes() if prompt.is_file() else b""
        config = config.model_copy(deep=True)
        config.agent.system_prompt_sha256 = hashlib.sha256(text).hexdigest()
    prepared = _prepare(config, events)
    try:
        record = _config_record(config, prepared)
        run_dir.mkdir(parents=True, exist_ok=True)
        # The lock comes first, so two processes never both write a config.
        writer = ResultsWriter(run_dir / RESULTS)
        try:
            if (run_dir / CONFIG).exists():
                _check_resume(run_dir, record, config)
            else:
                write_json_atomic(run_dir / CONFIG, record)
            # Read before touching summary.json: unreadable results must not
            # replace the summary of a finished run.
            results = read_results(run_dir / RESULTS)
            # While rollouts run, summary.json says so (the live viewer reads it).
            write_json_atomic(run_dir / SUMMARY, {"status": "running"})
            try:
                wall = await _run_pending(config, prepared, results, writer, events,
                                          install_signal_handlers)
            except BaseException as exc:
                write_json_atomic(run_dir / SUMMARY, {
                    "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                    "resume_command": resume_command(run_dir)})
                raise
        finally:
            writer.close()
    finally:
        for m in prepared.models:
            with contextlib.suppress(Exception):
                await m.aclose()
    complete = len({r.key for r in results}) >= events.total
    summary = summarize(results, config.trials)
    summary.update({
        "status": "complete" if complete else "interrupted",
        "complete": complete,
        "interrupted": events.stopping,
        "wall_s": round(wall, 3),
        "resume_command": None if complete else resume_command(run_dir),
    })
    write_json_atomic(run_dir / SUMMARY, summary)
    return RunData(path=run_dir, config=record, results=results, summary=summary)


def _check_paths(config: RunConfig, run_dir: Path) -> None:
    """Refuse unusable paths before anything is written."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} exists and is not a directory; choose another --out")
    if config.cache_dir and Path(config.cache_dir).exists() and not Path(
            config.cache_dir).is_dir():
        raise ConfigError(f"cache directory {config.cache_dir} exists and is not a directory")


async def _run_pending(
    config: RunConfig,
    prepared: _Prepared,
    results: list[RolloutResult],
    writer: ResultsWriter,
    events: RunEvents,
    install_signal_handlers: bool,
) -> float:
    """Run the (task, trial) pairs that have no result yet; return the wall time."""
    done = {r.key for r in results}
    pending = [
        (task, trial)
        for trial in range(config.trials)
        for task in prepared.tasks
        if (task.id, trial) not in done
    ]
    # Longest first: a rollout is a serial chain of model calls, so a long
    # task started last sets the wall time. The number of gold actions is a
    # good proxy of a task's length (stable sort keeps trial-major order
    # among equals).
    pending.sort(key=lambda item: -len(item[0].gold_actions))
    events.total = len(prepared.tasks) * config.trials
    events.done = len(done)
    queue: asyncio.Queue[tuple[Task, int]] = asyncio.Queue()
    for item in pending:
        queue.put_nowait(item)
    in_flight: set[asyncio.Task[None]] = set()

    async def worker() -> None:
        while not events.stopping:
            try:
                task, trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            events.running += 1
            try:
                result = await run_rollout(prepared.spec, task, trial,
                                           rollout_seed(config.seed, task.id, trial))
            finally:
                events.running -= 1
            writer.append(result)
            results.append(result)
            events.record(result)
            if len(results) % _FREEZE_EVERY == 0:
                gc.freeze()

    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    interrupts = 0

    def on_signal() -> None:
        nonlocal interrupts
        interrupts += 1
        events.stopping = True
        if interrupts >= 2:  # abandon rollouts in flight (Termination.CANCELLED)
            for t in in_flight:
                t.cancel()

    if install_signal_handlers:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not possible outside the main thread (ValueError) or on some
            # platforms; the run then simply has no graceful Ctrl-C.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
    t0 = time.perf_counter()
    _gc_freeze_enter()
    try:
        for _ in range(min(config.concurrency, len(pending))):
            in_flight.add(asyncio.create_task(worker()))
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        for t in in_flight:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        _gc_freeze_exit()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return time.perf_counter() - t0


#: Finished rollouts between two ``gc.freeze()`` calls during a run.
_FREEZE_EVERY = 100

# Long-lived objects (the parsed database snapshot, finished results) make
# every full garbage collection walk millions of objects, stalling the event
# loop for tens of milliseconds. They are frozen (ignored by the collector)
# while runs are in progress. The freeze is process-wide, so it is counted:
# concurrent runs unfreeze only when the last one ends, and a host program
# that froze objects itself keeps its freeze.
_gc_runs = 0
_gc_host_froze = False


def _gc_freeze_enter() -> None:
    global _gc_runs, _gc_host_froze
    if _gc_runs == 0:
        _gc_host_froze = gc.get_freeze_count() > 0
    _gc_runs += 1
    gc.freeze()


def _gc_freeze_exit() -> None:
    global _gc_runs
    _gc_runs -= 1
    if _gc_runs == 0 and not _gc_host_froze:
        gc.unfreeze()
