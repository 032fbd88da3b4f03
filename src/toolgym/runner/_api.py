"""The Python API: ``toolgym.run(...)`` and ``toolgym.resume(...)``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console

from toolgym.errors import ConfigError
from toolgym.models._base import ModelConfig
from toolgym.prompts._pack import PromptPackRef
from toolgym.runner._config import (
    CONNECTION_FIELDS,
    AgentConfig,
    DomainRef,
    RunConfig,
    UserConfig,
)
from toolgym.runner._progress import live_progress
from toolgym.runner._run import RunEvents, default_run_dir, execute_run
from toolgym.runner._store import RunData, load_run_config

__all__ = ["reconnected", "resume", "run", "run_async"]


def _model(value: str | ModelConfig | dict[str, Any] | None) -> ModelConfig | None:
    if value is None:
        return None
    if isinstance(value, str):
        config = ModelConfig(model=value)
    elif isinstance(value, ModelConfig):
        config = value
    else:
        config = ModelConfig.model_validate(value)
    script = config.args.get("script")
    if isinstance(script, str):  # a scripted model's file, saved absolute for resume
        config = config.model_copy(update={"args": {**config.args, "script": _absolute(script)}})
    return config


def _absolute(path: str | Path | None) -> str | None:
    # Paths are saved absolute so that a resume from another directory works.
    return str(Path(path).expanduser().resolve()) if path else None


def build_config(
    domain: str = "airline",
    *,
    agent_model: str | ModelConfig | dict[str, Any] = "oracle",
    user_model: str | ModelConfig | dict[str, Any] | None = None,
    judge_model: str | ModelConfig | dict[str, Any] | None = None,
    tool_sim_model: str | ModelConfig | dict[str, Any] | None = None,
    agent: str = "tool-calling",
    user: str = "scripted",
    agent_args: dict[str, Any] | None = None,
    user_args: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    tasks_file: str | Path | None = None,
    system_prompt_file: str | Path | None = None,
    prompt_pack: str | Path | None = None,
    **options: Any,
) -> RunConfig:
    """Assemble a validated :class:`RunConfig` from keyword arguments.

    ``prompt_pack`` is a prompt pack directory; ``tool_args`` (among the
    options) is ``"tau2"`` or ``"strict"``.
    """
    agent_cfg = _model(agent_model)
    assert agent_cfg is not None
    agent_args = dict(agent_args or {})
    if isinstance(agent_args.get("examples"), str):
        agent_args["examples"] = _absolute(agent_args["examples"])
    for key in ("cache_dir", "tool_cache_dir"):
        if options.get(key):
            options[key] = _absolute(options[key])
    return RunConfig(
        domain=DomainRef(name=domain, data_dir=_absolute(data_dir),
                         tasks_file=_absolute(tasks_file)),
        agent=AgentConfig(strategy=agent, model=agent_cfg, args=agent_args,
                          system_prompt_file=_absolute(system_prompt_file)),
        user=UserConfig(strategy=user, model=_model(user_model), args=user_args or {}),
        judge=_model(judge_model),
        tool_sim=_model(tool_sim_model),
        prompt_pack=PromptPackRef(path=_absolute(prompt_pack)) if prompt_pack else None,
        **options,
    )


async def run_async(
    config: RunConfig | None = None,
    out: str | Path | None = None,
    display: str = "none",
    console: Console | None = None,
    events: RunEvents | None = None,
    *,
    retry_errors: bool = False,
    preflight: bool = True,
    **kwargs: Any,
) -> RunData:
    """Async form of :func:`run`."""
    if config is None:
        config = build_config(**kwargs)
    elif kwargs:
        raise TypeError("pass either a RunConfig or keyword arguments, not both")
    run_dir = Path(out) if out is not None else default_run_dir(config)
    events = events or RunEvents()
    async with live_progress(events, display, console or Console(stderr=True)):
        return await execute_run(config, run_dir, events, retry_errors=retry_errors,
                                 preflight=preflight)


def _no_running_loop(verb: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise ConfigError(f"toolgym.{verb}() cannot start inside a running event loop (e.g. a "
                      f"Jupyter notebook): use `await toolgym.runner.run_async(...)` there")


def run(
    config: RunConfig | None = None,
    out: str | Path | None = None,
    display: str = "none",
    *,
    retry_errors: bool = False,
    preflight: bool = True,
    **kwargs: Any,
) -> RunData:
    """Run an evaluation and return the loaded run.

    Example::

        run = toolgym.run(domain="airline", agent_model="oracle", user="scripted",
                          trials=3, out="runs/demo")
        print(run.summary["pass_k"])

    Args:
        config: A complete :class:`RunConfig`; or pass its parts as keywords
            (``domain``, ``agent_model``, ``user_model``, ``judge_model``,
            ``agent``, ``user``, ``agent_args``, ``user_args``, ``trials``,
            ``concurrency``, ``tasks``, ``task_ids``, ``split``, ``seed``...;
            simulated tools: ``tool_sim_model``, ``tool_failures``,
            ``tool_cache_dir``, ``tool_cache_mode``).
        out: Run directory; rerunning with the same directory resumes.
        display: "rich", "plain" or "none".
        retry_errors: Also rerun rollouts that ended on infrastructure errors.
        preflight: Check every model endpoint before the first rollout
            (raises :class:`~toolgym.models.PreflightError` when one is unusable).

    A finished run's ``summary["status"]`` is ``complete``, ``interrupted``
    or ``aborted``; ``summary["infra_errors"]`` counts rollouts that ended on
    infrastructure trouble (rerun them with ``retry_errors=True``).
    """
    _no_running_loop("run")
    return asyncio.run(run_async(config, out=out, display=display, retry_errors=retry_errors,
                                 preflight=preflight, **kwargs))


def reconnected(config: RunConfig, changes: dict[str, dict[str, Any]] | None,
                concurrency: int | None = None) -> RunConfig:
    """``config`` with new connection settings for some roles.

    Args:
        config: A run's config.
        changes: ``{"agent": {"base_url": ..., "timeout_s": ...}, "user": {...}}``;
            only the connection fields (:data:`CONNECTION_FIELDS`) may change.
        concurrency: A new number of rollouts in flight.

    Raises:
        ConfigError: a change names another field, or a role the run has no model for.
    """
    data = config.model_dump()
    if concurrency is not None:
        data["concurrency"] = concurrency
    for role, fields in (changes or {}).items():
        bad = sorted(set(fields) - set(CONNECTION_FIELDS))
        if bad:
            raise ConfigError(f"a resume cannot change {role} {', '.join(bad)} (only how the "
                              f"model is reached: {', '.join(CONNECTION_FIELDS)})")
        target = {"agent": data["agent"]["model"], "user": data["user"]["model"],
                  "judge": data["judge"], "tool-sim": data["tool_sim"],
                  "tool_sim": data["tool_sim"]}.get(role)
        if target is None:
            raise ConfigError(f"this run has no {role} model to reconnect")
        target.update(fields)
    return RunConfig.model_validate(data)


def resume(run_dir: str | Path, display: str = "none", concurrency: int | None = None,
           console: Console | None = None, *, retry_errors: bool = False,
           preflight: bool = True, reconnect: dict[str, dict[str, Any]] | None = None
           ) -> RunData:
    """Resume a run directory with its saved config (only missing rollouts run).

    Args:
        run_dir: The run directory.
        display: "rich", "plain" or "none".
        concurrency: Optionally change the number of rollouts in flight.
        console: Where progress goes (stderr by default).
        retry_errors: Also rerun rollouts that ended on infrastructure errors.
        preflight: Check every model endpoint first.
        reconnect: New connection settings per role (see :func:`reconnected`),
            e.g. ``{"agent": {"base_url": "http://node7:8000/v1"}}``; recorded
            in config.json's change log.
    """
    from toolgym.runner._run import add_plugin_paths

    add_plugin_paths(run_dir)
    config = reconnected(load_run_config(run_dir), reconnect, concurrency)
    _no_running_loop("resume")
    return asyncio.run(run_async(config, out=run_dir, display=display, console=console,
                                 retry_errors=retry_errors, preflight=preflight))
