"""``toolgym run`` and ``toolgym resume``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from toolgym.cli._common import err, fail, out, parse_kv
from toolgym.errors import ToolgymError


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn invalid options (exit 2) and toolgym errors (exit 1) into one-line errors."""
    try:
        yield
    except ValidationError as exc:
        e = exc.errors()[0]
        raise fail(f"invalid option {'.'.join(map(str, e['loc']))}: {e['msg']}", 2) from None
    except ToolgymError as exc:
        raise fail(str(exc)) from None


def _split_args(args: dict[str, Any], strategy_keys: frozenset[str]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``--<role>-arg`` values into (strategy args, model args)."""
    strategy = {k: v for k, v in args.items() if k in strategy_keys}
    return strategy, {k: v for k, v in args.items() if k not in strategy_keys}


def _role_model(
    model: str | None, base_url: str | None, key_env: str | None, args: dict[str, Any],
    endpoints: Path | None,
) -> dict[str, Any] | None:
    from toolgym.models._endpoints import resolve_model

    if model is None:
        return None
    # ``--<role>-arg max_concurrency=8`` (and the other client settings) set
    # ModelConfig fields; every other key is a model argument.
    settings = {k: args[k] for k in _CLIENT_SETTINGS if k in args}
    model_args = {k: v for k, v in args.items() if k not in _CLIENT_SETTINGS}
    cfg = resolve_model(model, endpoints_file=endpoints, base_url=base_url,
                        api_key_env=key_env, args=model_args, **settings)
    return cfg.model_dump(mode="json")


#: Client settings that ``--<role>-arg`` accepts as ModelConfig fields.
_CLIENT_SETTINGS = ("max_concurrency", "max_retries", "timeout_s", "backoff_base_s",
                    "backoff_max_s")


def _finish(run_dir: Path, data: Any, report: bool) -> None:
    from toolgym.runner._progress import results_table

    out.print(results_table(data.summary, title=f"Results: {run_dir}"))
    if report:
        from toolgym.report import render_report

        path = render_report([data], run_dir / "report.html")
        out.print(f"report: {path}", highlight=False)
    out.print(f"results: {run_dir / 'results.jsonl'}", highlight=False)
    if data.summary.get("resume_command"):
        err.print(f"run incomplete; resume with: {data.summary['resume_command']}",
                  highlight=False)
        # 130 = interrupted by a signal (the shell convention for Ctrl-C).
        raise typer.Exit(130 if data.summary.get("interrupted") else 1)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``resume`` to the app."""

    @app.command()
    def run(
        domain: Annotated[str, typer.Option(help="Domain name.")] = "airline",
        data_dir: Annotated[Path | None, typer.Option(help="tau2-format data dir.")] = None,
        tasks_file: Annotated[Path | None, typer.Option(help="Task file to run.")] = None,
        agent: Annotated[str, typer.Option(help="Agent strategy.")] = "tool-calling",
        agent_model: Annotated[str, typer.Option(help="Agent model, e.g. openai/gpt-4o, "
                                                 "oracle, scripted, or an endpoint alias.")
                               ] = "oracle",
        agent_base_url: Annotated[str | None, typer.Option(help="Agent endpoint.")] = None,
        agent_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                     ] = None,
        agent_arg: Annotated[list[str] | None, typer.Option(help="Agent model/strategy "
                                                            "argument k=v (repeatable).")
                             ] = None,
        system_prompt_file: Annotated[Path | None, typer.Option(
            help="Replace the policy-derived system prompt.")] = None,
        user: Annotated[str, typer.Option(help="User simulator.")] = "scripted",
        user_model: Annotated[str | None, typer.Option(help="User model.")] = None,
        user_base_url: Annotated[str | None, typer.Option(help="User endpoint.")] = None,
        user_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                    ] = None,
        user_arg: Annotated[list[str] | None, typer.Option(help="User argument k=v.")] = None,
        judge_model: Annotated[str | None, typer.Option(help="Judge model.")] = None,
        judge_base_url: Annotated[str | None, typer.Option(help="Judge endpoint.")] = None,
        judge_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                     ] = None,
        judge_arg: Annotated[list[str] | None, typer.Option(help="Judge argument k=v.")
                             ] = None,
        endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                             ] = None,
        trials: Annotated[int, typer.Option(help="Trials per task.")] = 1,
        concurrency: Annotated[int, typer.Option(help="Rollouts in flight.")] = 4,
        tasks: Annotated[str | None, typer.Option(help="Task index ranges, e.g. 0-9,12.")
                         ] = None,
        task_ids: Annotated[str | None, typer.Option(help="Comma-separated task ids.")] = None,
        split: Annotated[str | None, typer.Option(help="Named split, e.g. test.")] = None,
        shuffle: Annotated[bool, typer.Option(help="Shuffle tasks (seeded).")] = False,
        seed: Annotated[int, typer.Option(help="Run seed.")] = 0,
        max_steps: Annotated[int, typer.Option(help="Agent steps per rollout.")] = 50,
        max_errors: Annotated[int, typer.Option(help="Tool errors per rollout.")] = 10,
        timeout: Annotated[float | None, typer.Option(help="Seconds per rollout.")] = None,
        cost_limit: Annotated[float | None, typer.Option(help="USD per rollout.")] = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Run directory "
                                                     "(rerun with it to resume).")] = None,
        cache_dir: Annotated[Path | None, typer.Option(help="On-disk response cache directory.")
                             ] = None,
        plugin: Annotated[list[str] | None, typer.Option(
            help="Module to import first (registers custom domains, agents, users, "
                 "providers); repeatable.")] = None,
        display: Annotated[str, typer.Option(help="rich, plain or none.")] = "rich",
        report: Annotated[bool, typer.Option(help="Write report.html at the end.")] = True,
    ) -> None:
        """Run an evaluation: agent vs simulated user on a domain's tasks."""
        from toolgym.models._endpoints import load_dotenv
        from toolgym.runner._api import build_config, run_async
        from toolgym.runner._run import default_run_dir

        load_dotenv()
        # Plugins may register the domain, agent or provider named below, and
        # the current directory holds a user's own modules.
        sys.path.insert(0, os.getcwd())
        if display not in ("rich", "plain", "none"):
            raise fail("--display must be rich, plain or none", 2)
        agent_strategy_args, agent_model_args = _split_args(
            parse_kv(agent_arg, "--agent-arg"), _STRATEGY_ARGS)
        user_extra = parse_kv(user_arg, "--user-arg")
        # Without a user model every user argument configures the simulator.
        user_strategy_args, user_model_args = (
            (user_extra, {}) if user_model is None else _split_args(user_extra, _STRATEGY_ARGS))
        with user_errors():
            agent_cfg = _role_model(agent_model, agent_base_url, agent_api_key_env,
                                    agent_model_args, endpoints)
            assert agent_cfg is not None
            config = build_config(
                domain,
                agent_model=agent_cfg,
                user_model=_role_model(user_model, user_base_url, user_api_key_env,
                                       user_model_args, endpoints),
                judge_model=_role_model(judge_model, judge_base_url, judge_api_key_env,
                                        parse_kv(judge_arg, "--judge-arg"), endpoints),
                agent=agent, user=user,
                agent_args=agent_strategy_args,
                user_args=user_strategy_args,
                data_dir=data_dir, tasks_file=tasks_file,
                system_prompt_file=system_prompt_file,
                trials=trials, concurrency=concurrency, tasks=tasks,
                task_ids=[t.strip() for t in task_ids.split(",") if t.strip()]
                if task_ids else None,
                split=split, shuffle=shuffle, seed=seed, max_steps=max_steps,
                max_errors=max_errors, rollout_timeout_s=timeout, rollout_cost_limit=cost_limit,
                cache_dir=str(cache_dir) if cache_dir else None,
                plugins=list(plugin or []),
            )
            run_dir = out_dir or default_run_dir(config)
            data = asyncio.run(run_async(config, out=run_dir, display=display, console=err))
        _finish(run_dir, data, report)

    @app.command()
    def resume(
        run_dir: Annotated[Path, typer.Argument(help="Run directory to resume.")],
        concurrency: Annotated[int | None, typer.Option(help="Rollouts in flight.")] = None,
        display: Annotated[str, typer.Option(help="rich, plain or none.")] = "rich",
        report: Annotated[bool, typer.Option(help="Write report.html at the end.")] = True,
    ) -> None:
        """Resume a run: only the missing (task, trial) pairs run."""
        from toolgym.models._endpoints import load_dotenv
        from toolgym.runner._api import resume as resume_run

        load_dotenv()
        sys.path.insert(0, os.getcwd())  # plugin modules of the run
        with user_errors():
            data = resume_run(run_dir, display=display, concurrency=concurrency, console=err)
        _finish(run_dir, data, report)


#: ``--agent-arg`` / ``--user-arg`` keys that configure the strategy rather than the model;
#: every other key is a model argument (sampling parameters, oracle error_rate, latency_ms).
_STRATEGY_ARGS = frozenset({
    "examples", "num_examples", "max_confirmations", "turns", "max_retries",
})
