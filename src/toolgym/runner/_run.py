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
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym._io import read_text
from toolgym._secrets import redact_secrets
from toolgym.agents._base import AgentContext, create_agent
from toolgym.agents._prompts import agent_system_prompt
from toolgym.domains._domain import Domain, get_spec, load_domain
from toolgym.errors import ConfigError, DataError, ToolgymError
from toolgym.evaluation._check import check_tasks
from toolgym.evaluation._evaluate import Evaluator, NLJudge
from toolgym.evaluation._metrics import summarize, task_sort_key
from toolgym.evaluation._types import RewardBreakdown
from toolgym.models._base import EpisodeInfo, Model, ModelConfig
from toolgym.models._oracle import refuse_oracle_judge
from toolgym.models._retry import EndpointPool, build_model
from toolgym.prompts._pack import PromptPack, find_prompt_pack, load_prompt_pack
from toolgym.runner._config import RunConfig, diff_configs, rollout_seed, select_tasks
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.runner._rollout import Limits, RolloutSpec, run_rollout
from toolgym.runner._shard import shard_pairs
from toolgym.runner._store import (
    CONFIG,
    RESULTS,
    SUMMARY,
    ResultsWriteError,
    ResultsWriter,
    RunData,
    load_run,
    read_config_record,
    read_results_file,
    write_json_atomic,
)
from toolgym.tasks import Task
from toolgym.users._base import UserContext, create_user

__all__ = ["RunEvents", "default_run_dir", "execute_run", "model_slug", "resolve_run_config"]


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
    #: Rollouts already complete when this session started.
    skipped: int = 0
    #: Rollouts this session will run.
    to_run: int = 0
    running: int = 0
    retrying: int = 0
    rate_limited: int = 0
    cost: float = 0.0
    reward_sum: float = 0.0
    rewarded: int = 0
    infra_errors: int = 0
    first_infra_error: str | None = None
    config_errors: int = 0
    stopping: bool = False
    #: Why the run stopped launching early (configuration errors, a full disk).
    stop_reason: str | None = None
    #: The signal that stopped the run ("SIGINT", "SIGTERM"), if any.
    signal: str | None = None
    started: float = field(default_factory=time.monotonic)
    #: Corrupt lines skipped in results.jsonl when the run started.
    problems: list[str] = field(default_factory=list)
    #: Warnings about the task set (tasks failing by the domain's rules, skipped tasks).
    warnings: list[str] = field(default_factory=list)
    on_result: list[Callable[[RolloutResult], None]] = field(default_factory=list)
    #: Called once the rollouts to run are known (``to_run``, ``skipped`` set).
    on_start: list[Callable[[RunEvents], None]] = field(default_factory=list)

    def record(self, result: RolloutResult) -> None:
        """Count a finished rollout."""
        self.done += 1
        self.cost += sum(u.cost or 0.0 for u in result.usage.values())
        if result.reward is not None:
            self.reward_sum += result.reward
            self.rewarded += 1
        if result.infra_error:
            self.infra_errors += 1
            if self.first_infra_error is None:
                self.first_infra_error = _infra_text(result)
        for cb in self.on_result:
            cb(result)

    def on_retry(self, attempt: int, error: BaseException, delay: float) -> None:
        """Retry callback for the model layer."""
        self.retrying += 1
        status = getattr(error, "status", None)
        if status == 429:
            self.rate_limited += 1

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    @property
    def eta_s(self) -> float | None:
        """Estimated seconds left, from this session's pace (None before the first result)."""
        finished = self.done - self.skipped
        left = self.total - self.done
        if finished <= 0 or left <= 0:
            return None if left > 0 else 0.0
        return self.elapsed_s / finished * left


def _infra_text(result: RolloutResult) -> str:
    text = result.error or f"{result.termination.value} ({result.breakdown.status})"
    return f"task {result.task_id} trial {result.trial}: {text}"


#: Rollouts ending on a configuration error (HTTP 401/403/404) after which a
#: run stops launching: the rest would fail the same way.
CONFIG_ERROR_LIMIT = 3
#: Seconds a run may take to wind down after SIGTERM before it exits anyway.
SIGTERM_GRACE_S = 5.0


def _system_prompt(domain: Domain[Any], config: RunConfig, pack: PromptPack | None = None
                   ) -> str:
    path = config.agent.system_prompt_file
    if path:
        return read_text(path, "system prompt file")
    if pack is not None and pack.agent_template is not None:
        return pack.agent_system_prompt(domain.policy)
    return agent_system_prompt(domain.policy)


def _tools(domain: Domain[Any], descriptions: dict[str, str], pack: PromptPack | None = None
           ) -> list[dict[str, Any]]:
    """The domain's tool definitions (or the prompt pack's), with the descriptions a run
    replaces."""
    tools = domain.openai_tools()
    if pack is not None:
        tools = pack.domain_tools(domain.name, [t["function"]["name"] for t in tools]) or tools
    if not descriptions:
        return tools
    names = {t["function"]["name"] for t in tools}
    unknown = sorted(set(descriptions) - names)
    if unknown:
        raise ConfigError(f"tool descriptions for unknown tools: {', '.join(unknown)} "
                          f"(domain {domain.name!r} has: {', '.join(sorted(names))})")
    out = []
    for t in tools:
        name = t["function"]["name"]
        if name in descriptions:
            t = {**t, "function": {**t["function"], "description": descriptions[name]}}
        out.append(t)
    return out


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


def resolve_run_config(config: RunConfig, run_dir: Path | None = None) -> RunConfig:
    """``config`` with the argument mode and the prompt pack the run will use.

    An unset ``tool_args`` is the domain's default, or, when ``run_dir``
    holds a run already, that run's mode (``strict`` for runs made before the
    option existed). The prompt pack is ``config.prompt_pack``'s directory,
    else the data directory when it holds a pack manifest; its digest, source
    and parts are filled in.
    """
    import_plugins(config.plugins)
    spec = get_spec(config.domain.name)
    mode = config.tool_args
    if mode is None and run_dir is not None and (run_dir / CONFIG).exists():
        with contextlib.suppress(DataError):  # an unreadable config is refused later
            mode = read_config_record(run_dir)["config"].get("tool_args") or "strict"
    if config.prompt_pack is not None and not config.prompt_pack.path:
        raise ConfigError("prompt_pack has no path (the pack's directory)")
    path = (config.prompt_pack.path if config.prompt_pack is not None
            else find_prompt_pack(config.domain.data_dir))
    ref = load_prompt_pack(path).ref(config.domain.name) if path else None
    return config.model_copy(update={"tool_args": spec.resolve_tool_args(mode),
                                     "prompt_pack": ref})


def _prepare(config: RunConfig, events: RunEvents, pool: EndpointPool | None = None
             ) -> _Prepared:
    import_plugins(config.plugins)
    d = config.domain
    domain = load_domain(d.name, data_dir=d.data_dir, tasks_file=d.tasks_file,
                         tool_args=config.tool_args)
    pack_ref = config.prompt_pack
    pack = load_prompt_pack(pack_ref.path) if pack_ref is not None and pack_ref.path else None
    tasks = select_tasks(domain.tasks, domain.splits, tasks=config.tasks,
                         task_ids=config.task_ids, split=config.split,
                         shuffle=config.shuffle, seed=config.seed)
    if not tasks:
        raise ConfigError("no tasks selected")
    # Malformed tasks (unknown tools, arguments that do not fit a tool's
    # schema...) would grade nonsense: refused unless allowed, then skipped.
    check = check_tasks(domain, tasks)
    if check.malformed:
        if not config.allow_invalid_tasks:
            raise DataError(check.refusal(d.tasks_file or d.data_dir or f"built-in {d.name}"))
        events.warnings.extend(f"{line} (skipped: --allow-invalid-tasks)"
                               for line in check.malformed_lines())
        tasks = check.runnable(tasks)
        if not tasks:
            raise ConfigError("no tasks left once the malformed ones are skipped")
    events.warnings.extend(check.warning_lines())
    pool = pool if pool is not None else EndpointPool()
    cache = config.cache_dir
    agent_model = _wrap(config.agent.model, pool, events, cache)
    user_model = _wrap(config.user.model, pool, events, cache) if config.user.model else None
    refuse_oracle_judge(config.judge)
    judge_model = _wrap(config.judge, pool, events, cache) if config.judge else None
    judge: NLJudge | None = None
    if judge_model is not None:
        from toolgym.judges import NLAssertionJudge

        judge = NLAssertionJudge(judge_model)
    system_prompt = _system_prompt(domain, config, pack)
    tools = _tools(domain, config.agent.tool_descriptions, pack)
    user_prompt = pack.user_system_prompt if pack is not None and pack.user_template else None

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
                                       args=dict(config.user.args),
                                       system_prompt=user_prompt(task) if user_prompt else None))

    # -- simulated tools (toolgym.simtools): the tool-sim model role --------------
    tool_sim_model = (_wrap(config.tool_sim, pool, events, cache)
                      if config.tool_sim is not None else None)
    make_tool_sim = _tool_simulator(domain, config, tool_sim_model)
    # -- end of simulated tools ----------------------------------------------------

    # Build one agent and user up front so bad strategy names or args fail
    # before anything is written.
    make_agent(tasks[0], 0, 0)
    first_user = make_user(tasks[0], 0, 0)
    if make_tool_sim is not None:
        make_tool_sim(tasks[0], 0, 0, first_user)
    spec = RolloutSpec(
        domain=domain,
        evaluator=Evaluator(domain),
        system_prompt=system_prompt,
        make_agent=make_agent,
        make_user=make_user,
        judge=judge,
        limits=Limits(config.max_steps, config.max_errors, config.rollout_timeout_s,
                      config.rollout_cost_limit),
        make_tool_sim=make_tool_sim,
    )
    models = [m for m in (agent_model, user_model, judge_model, tool_sim_model)
              if m is not None]
    return _Prepared(config, domain, tasks, spec, models)


def _tool_simulator(domain: Domain[Any], config: RunConfig, model: Model | None) -> Any:
    """The episode simulator factory of a domain with simulated tools (None otherwise)."""
    from toolgym.simtools import is_sim_toolkit, tool_simulator_factory

    if not (is_sim_toolkit(domain.toolkit_type) or config.tool_sim or config.tool_failures
            or config.tool_cache_dir):
        return None
    return tool_simulator_factory(domain, model, failures=config.tool_failures,
                                  cache_dir=config.tool_cache_dir,
                                  cache_mode=config.tool_cache)


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
        # Where each plugin module was found, so a resume from another directory
        # finds it too (not part of what is evaluated).
        "plugin_paths": _plugin_paths(config.plugins),
    }


def _plugin_paths(modules: list[str]) -> dict[str, str]:
    """The sys.path entry each (already imported) plugin module was loaded from."""
    import sys

    out: dict[str, str] = {}
    for name in modules:
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        if path.name == "__init__.py":
            path = path.parent
        out[name] = str(path.parents[len(name.split(".")) - 1])
    return out


def add_plugin_paths(run_dir: str | Path) -> None:
    """Let a resume import the run's plugin modules from where the run found them
    (after the current directory and the usual places)."""
    import sys

    # Best effort: an unreadable or unresumable run is refused, with its reason, by
    # what the resume does next.
    with contextlib.suppress(ToolgymError, OSError, ValueError, TypeError, AttributeError):
        record = read_config_record(Path(run_dir))
        for path in (record.get("plugin_paths") or {}).values():
            if isinstance(path, str) and path not in sys.path:
                sys.path.append(path)


def _check_resume(run_dir: Path, record: dict[str, Any], config: RunConfig
                  ) -> tuple[dict[str, Any], list[str]]:
    """Refuse a resume that would change what is evaluated.

    Returns:
        The saved config record and the list of connection changes (base
        URL, key variable, limits, timeouts, retries) the resume makes.
    """
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
            + ". Use another --out directory, or the original settings (a resume may change "
            "only how models are reached: base URL, API-key variable, concurrency, timeouts "
            "and retries)."
        )
    return old, diff_configs(old_cfg.connection(), config.connection())


def resume_command(run_dir: Path, retry_errors: bool = False) -> str:
    """The command that resumes a run."""
    return f"toolgym resume {run_dir}" + (" --retry-errors" if retry_errors else "")


def _pending(config: RunConfig, tasks: list[Task], results: list[RolloutResult],
             retry_errors: bool) -> list[tuple[Task, int]]:
    """The (task, trial) pairs to run: those without a record, and with
    ``retry_errors`` those whose newest record ended on infrastructure trouble."""
    done = {r.key for r in results if not (retry_errors and r.infra_error)}
    return [(task, trial) for task, trial in shard_pairs(tasks, config.trials, config.shard)
            if (task.id, trial) not in done]


async def _preflight(config: RunConfig) -> None:
    from toolgym.models._preflight import PreflightError, check_endpoints

    roles = {"agent": config.agent.model}
    if config.user.model is not None:
        roles["user"] = config.user.model
    if config.judge is not None:
        roles["judge"] = config.judge
    if config.tool_sim is not None and config.tool_cache != "frozen":
        roles["tool-sim"] = config.tool_sim
    failed = [c for c in await check_endpoints(roles) if not c.ok]
    if failed:
        raise PreflightError("; ".join(c.line() for c in failed)
                             + " (the run did not start; --no-preflight skips this check)")


async def execute_run(
    config: RunConfig,
    run_dir: Path,
    events: RunEvents | None = None,
    install_signal_handlers: bool = True,
    *,
    retry_errors: bool = False,
    preflight: bool = True,
    pool: EndpointPool | None = None,
) -> RunData:
    """Run (or resume) ``config`` into ``run_dir`` and return the loaded run.

    Args:
        config: The run's configuration.
        run_dir: The run directory (resumed when it holds a run).
        events: Counters for a live display.
        install_signal_handlers: Handle Ctrl-C and SIGTERM (main thread only).
        retry_errors: Also rerun the rollouts whose newest record ended on
            infrastructure trouble (a new record replaces theirs).
        preflight: Check every model endpoint before any rollout.
        pool: An endpoint pool shared with other runs in flight on this event
            loop (the prompt optimizer runs several evaluations at once); by
            default the run has its own.

    Raises:
        PreflightError: an endpoint is unusable (nothing was written).
        ResultsWriteError: results.jsonl could not be written (the file was
            cut back to its last complete record; resume when fixed).
    """
    events = events or RunEvents()
    _check_paths(config, run_dir)
    if config.agent.system_prompt_file:
        prompt = Path(config.agent.system_prompt_file)
        text = prompt.read_bytes() if prompt.is_file() else b""
        config = config.model_copy(deep=True)
        config.agent.system_prompt_sha256 = hashlib.sha256(text).hexdigest()
    config = resolve_run_config(config, run_dir)
    prepared = _prepare(config, events, pool)
    try:
        record = _config_record(config, prepared)
        exists = (run_dir / CONFIG).exists()
        if exists:
            _check_resume(run_dir, record, config)  # read-only; redone under the lock
        if preflight and _pending(config, prepared.tasks,
                                  read_results_file(run_dir / RESULTS).results, retry_errors):
            await _preflight(config)
        run_dir.mkdir(parents=True, exist_ok=True)
        # The lock comes first, so two processes never both write a config.
        writer = ResultsWriter(run_dir / RESULTS)
        try:
            if (run_dir / CONFIG).exists():
                saved, reconnected = _check_resume(run_dir, record, config)
                if reconnected:
                    _log_connection_changes(run_dir, saved, record, reconnected)
            else:
                write_json_atomic(run_dir / CONFIG, record)
            # Read before touching summary.json: unreadable results must not
            # replace the summary of a finished run.
            found = read_results_file(run_dir / RESULTS)
            results = {r.key: r for r in found.results}
            events.problems = found.problems
            # Scorings of the run (toolgym judge) stay in the summary written at the end.
            scorings = _previous_scorings(run_dir)
            # While rollouts run, summary.json says so (the live viewer reads it).
            write_json_atomic(run_dir / SUMMARY, {"status": "running"})
            try:
                wall = await _run_pending(config, prepared, results, writer, events,
                                          install_signal_handlers, retry_errors)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    write_json_atomic(run_dir / SUMMARY, {
                        "status": "failed", "error": redact_secrets(f"{type(exc).__name__}: "
                                                                    f"{exc}"),
                        "resume_command": resume_command(run_dir)})
                raise
        finally:
            writer.close()
    finally:
        for m in prepared.models:
            with contextlib.suppress(Exception):
                await m.aclose()
    final = list(results.values())
    summary = summarize(final, config.trials, seed=config.seed)
    complete = len(results) >= events.total
    if writer.failed is not None:
        status = "failed"
    elif events.signal is not None:
        status = "interrupted"
    elif events.stop_reason is not None:
        status = "aborted"
    else:
        status = "complete" if complete else "interrupted"
    infra = summary["infra_errors"]
    summary.update({
        "status": status,
        "complete": complete,
        "interrupted": events.signal is not None,
        "signal": events.signal,
        "stop_reason": events.stop_reason,
        "wall_s": round(wall, 3),
        "ran": events.done - events.skipped,
        "first_infra_error": _first_infra_error(final),
        "resume_command": None if complete else resume_command(run_dir),
        "retry_command": resume_command(run_dir, retry_errors=True) if infra else None,
    })
    if prepared.spec.make_tool_sim is not None:  # simulated tools: calls, cache, failures
        from toolgym.simtools import sim_summary

        summary["tool_sim"] = sim_summary(final)
    loaded: dict[str, list[Any]] = {}
    with contextlib.suppress(OSError):  # a full disk must not hide the real error
        write_json_atomic(run_dir / SUMMARY, summary)
        if scorings:
            from toolgym.judges._scoring import update_run_summary

            update_run_summary(run_dir, scorings)
            scored = load_run(run_dir)  # nl verdicts fill in rewards
            final, summary, loaded = scored.results, scored.summary, scored.scorings
    if writer.failed is not None:
        raise ResultsWriteError(
            f"{writer.failed}; {len(results)} of {events.total} rollouts are saved; fix the "
            f"cause (free disk space), then resume with: {resume_command(run_dir)}")
    return RunData(path=run_dir, config=read_config_record(run_dir), results=final,
                   summary=summary, problems=events.problems, scorings=loaded)


def _previous_scorings(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The scorings recorded in the run's summary.json, if any."""
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    scorings = summary.get("scorings") if isinstance(summary, dict) else None
    return ({k: v for k, v in scorings.items() if isinstance(v, dict)}
            if isinstance(scorings, dict) else {})


def _first_infra_error(results: list[RolloutResult]) -> str | None:
    for r in sorted(results, key=lambda r: (task_sort_key(r.task_id), r.trial)):
        if r.infra_error:
            return _infra_text(r)
    return None


def _log_connection_changes(run_dir: Path, saved: dict[str, Any], record: dict[str, Any],
                            changes: list[str]) -> None:
    """Save the new connection settings, with a change log, in config.json."""
    log = list(saved.get("changes") or [])
    log.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "changed": changes})
    write_json_atomic(run_dir / CONFIG, {**saved, "config": record["config"],
                                         "agent": record["agent"], "changes": log})


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
    results: dict[tuple[str, int], RolloutResult],
    writer: ResultsWriter,
    events: RunEvents,
    install_signal_handlers: bool,
    retry_errors: bool,
) -> float:
    """Run the (task, trial) pairs that have no final result yet; return the wall time."""
    pending = _pending(config, prepared.tasks, list(results.values()), retry_errors)
    # Longest first: a rollout is a serial chain of model calls, so a long
    # task started last sets the wall time. The number of gold actions is a
    # good proxy of a task's length (stable sort keeps trial-major order
    # among equals).
    pending.sort(key=lambda item: -len(item[0].gold_actions))
    events.total = len(shard_pairs(prepared.tasks, config.trials, config.shard))
    events.done = events.skipped = events.total - len(pending)
    events.to_run = len(pending)
    events.started = time.monotonic()
    for cb in events.on_start:
        cb(events)
    queue: asyncio.Queue[tuple[Task, int]] = asyncio.Queue()
    for item in pending:
        queue.put_nowait(item)
    in_flight: set[asyncio.Task[None]] = set()
    executor: Any = None
    if config.executor == "ray" and pending:
        from toolgym.executors._ray import RayExecutor

        executor = RayExecutor(config, config.ray_address, config.ray_workers)
        run_one = executor.run
    else:
        async def run_one(task: Task, trial: int, seed: int) -> RolloutResult:
            return await run_rollout(prepared.spec, task, trial, seed)

    def abandon() -> None:
        for t in in_flight:
            t.cancel()

    async def worker() -> None:
        while not events.stopping:
            try:
                task, trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            seed = rollout_seed(config.seed, task.id, trial)
            events.running += 1
            try:
                result = await run_one(task, trial, seed)
            except Exception as exc:  # never a dead worker: the rollout records it
                result = internal_error_result(task, trial, seed, exc)
            finally:
                events.running -= 1
            try:
                writer.append(result)
            except ResultsWriteError:
                # Nothing more can be saved: stop everything now; what is on
                # disk is whole and the rest runs on resume.
                events.stopping = True
                events.stop_reason = str(writer.failed)
                abandon()
                return
            results[result.key] = result
            events.record(result)
            _check_config_errors(result, events)
            if events.done % _FREEZE_EVERY == 0:
                gc.freeze()

    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    _gc_freeze_enter()
    signals = _Signals(loop, events, abandon, writer.path.parent) if install_signal_handlers \
        else None
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
        if signals is not None:
            signals.restore()
        if executor is not None:
            with contextlib.suppress(Exception):
                await executor.close()
    return time.perf_counter() - t0


def _check_config_errors(result: RolloutResult, events: RunEvents) -> None:
    """Stop launching once a few rollouts failed on a configuration error."""
    if result.termination is not Termination.MODEL_ERROR or result.error_status not in (
            401, 403, 404):
        return
    events.config_errors += 1
    if events.config_errors >= CONFIG_ERROR_LIMIT and not events.stopping:
        events.stopping = True
        events.stop_reason = (
            f"stopped launching rollouts after {events.config_errors} ended on HTTP "
            f"{result.error_status}, a configuration error (wrong key, URL or model name): "
            f"{result.error}")


def internal_error_result(task: Task, trial: int, seed: int, exc: BaseException
                          ) -> RolloutResult:
    """The record of a rollout that raised before it could record anything itself."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return RolloutResult(
        task_id=task.id, trial=trial, seed=seed, messages=[], reward=None,
        breakdown=RewardBreakdown(reward=None, status="error",
                                  notes=["not graded: the rollout could not start"]),
        termination=Termination.INTERNAL_ERROR,
        timings=Timings(started_at=now, finished_at=now, duration_s=0.0),
        error=redact_secrets(f"rollout setup raised {type(exc).__name__}: {exc}"),
    )


class _Signals:
    """Ctrl-C and SIGTERM during a run.

    SIGINT (Ctrl-C): the first stops launching and lets rollouts in flight
    finish; the second abandons them. SIGTERM (what batch schedulers send
    before SIGKILL): stop launching and abandon rollouts in flight at once;
    if the process has not ended ``SIGTERM_GRACE_S`` later (the event loop is
    stuck in a component), it exits with status 143. Abandoned rollouts are
    never written: resume runs them again.

    The handlers are plain ``signal`` handlers, which Python runs between two
    bytecodes of the main thread even when the event loop is busy; they hand
    the work to the loop thread-safely. Outside the main thread nothing is
    installed (the run then has no graceful stop).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, events: RunEvents,
                 abandon: Callable[[], None], run_dir: Path) -> None:
        self.loop, self.events, self.abandon, self.run_dir = loop, events, abandon, run_dir
        self.interrupts = 0
        self.previous: dict[signal.Signals, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        sig = signal.Signals(signum)
        if sig is signal.SIGTERM:
            if self.events.signal == "SIGTERM":  # a second SIGTERM: go now
                os._exit(143)
            self.events.signal = "SIGTERM"
            self.events.stopping = True
            threading.Thread(target=self._watchdog, name="toolgym-sigterm", daemon=True
                             ).start()
            self.loop.call_soon_threadsafe(self.abandon)
            return
        self.interrupts += 1
        self.events.signal = self.events.signal or "SIGINT"
        self.events.stopping = True
        if self.interrupts >= 2:  # abandon rollouts in flight
            self.loop.call_soon_threadsafe(self.abandon)

    def _watchdog(self) -> None:
        time.sleep(SIGTERM_GRACE_S)
        with contextlib.suppress(Exception):
            write_json_atomic(self.run_dir / SUMMARY, {
                "status": "interrupted", "signal": "SIGTERM", "complete": False,
                "resume_command": resume_command(self.run_dir)})
        os._exit(143)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self.previous.items():
            with contextlib.suppress(ValueError, OSError, RuntimeError, TypeError):
                signal.signal(sig, handler)


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
