"""``toolgym run`` and ``toolgym resume``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

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
        from toolgym.models._preflight import PreflightError

        # An unusable endpoint is a usage problem (2): nothing ran.
        raise fail(str(exc), 2 if isinstance(exc, PreflightError) else 1) from None


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
                    "backoff_max_s", "retry_budget_s")


#: Exit status of a run in which rollouts ended on infrastructure errors.
EXIT_INFRA = 3
#: Exit status after SIGTERM (128 + 15, the shell convention).
EXIT_SIGTERM = 143
#: Exit status after Ctrl-C (128 + 2).
EXIT_SIGINT = 130


def _finish(run_dir: Path, data: Any, report: bool) -> None:
    """Print the results table and what to do next; exit with the run's status.

    0: complete with no infrastructure error; 3: rollouts ended on
    infrastructure errors (or the run stopped launching because of them);
    130 / 143: interrupted by Ctrl-C / SIGTERM; 1: incomplete otherwise.
    """
    from toolgym.runner._progress import results_table

    summary = data.summary
    out.print(results_table(summary, title=f"Results: {escape(str(run_dir))}",
                            results=data.results, run_dir=str(run_dir)))
    if report:
        from toolgym.report import render_report

        path = render_report([data], run_dir / "report.html")
        out.print(f"report: {path}", highlight=False, markup=False)
    out.print(f"results: {run_dir / 'results.jsonl'}", highlight=False, markup=False)
    if summary.get("tool_sim"):
        from toolgym.simtools._stats import sim_line

        out.print(sim_line(summary["tool_sim"]), highlight=False, markup=False)
    infra = summary.get("infra_errors") or 0
    ran = summary.get("n_rollouts") or 0
    if summary.get("stop_reason"):
        err.print(summary["stop_reason"], highlight=False, markup=False)
    if infra:
        first = summary.get("first_infra_error") or ""
        if infra == ran:
            err.print(f"every rollout failed on infrastructure ({infra}): {first}",
                      highlight=False, markup=False)
        else:
            err.print(f"{infra} of {ran} rollouts ended on infrastructure errors; first: "
                      f"{first}", highlight=False, markup=False)
        err.print(f"rerun them with: {summary.get('retry_command')}", highlight=False,
                  markup=False)
    if summary.get("resume_command"):
        err.print(f"run incomplete; resume with: {summary['resume_command']}",
                  highlight=False, markup=False)
    if summary.get("signal") == "SIGTERM":
        raise typer.Exit(EXIT_SIGTERM)
    if summary.get("signal") == "SIGINT":
        raise typer.Exit(EXIT_SIGINT)
    if infra or summary.get("status") == "aborted":
        raise typer.Exit(EXIT_INFRA)
    if summary.get("resume_command"):
        raise typer.Exit(1)


def _config_options(
    domain: Annotated[str, typer.Option(help="Domain name.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(help="tau2-format data dir.")] = None,
    tasks_file: Annotated[Path | None, typer.Option(help="Task file to run.")] = None,
    agent: Annotated[str, typer.Option(help="Agent strategy (toolgym list agents).")
                     ] = "tool-calling",
    agent_model: Annotated[str, typer.Option(help="Agent model, e.g. openai/gpt-4o, "
                                             "oracle, scripted, or an endpoint alias.")
                           ] = "oracle",
    agent_base_url: Annotated[str | None, typer.Option(help="Agent endpoint.")] = None,
    agent_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                 ] = None,
    agent_arg: Annotated[list[str] | None, typer.Option(
        help="Agent model/strategy argument k=v (repeatable); client settings too: "
             "max_concurrency, timeout_s, max_retries, retry_budget_s...")] = None,
    system_prompt_file: Annotated[Path | None, typer.Option(
        help="Replace the policy-derived system prompt.")] = None,
    tool_args: Annotated[str | None, typer.Option(
        help="How tools treat malformed arguments: tau2 (as tau2-bench does, error texts "
             "included; the default of airline and retail) or strict (toolgym's checks; the "
             "default of every other domain).")] = None,
    prompt_pack: Annotated[Path | None, typer.Option(
        help="Prompt pack directory whose agent frame, tool descriptions and user "
             "instructions replace toolgym's (toolgym prompts extract-tau2 builds one from a "
             "tau2-bench checkout; a data dir holding prompt_pack.json is used as one).")
    ] = None,
    user: Annotated[str, typer.Option(help="User simulator (toolgym list users).")
                    ] = "scripted",
    user_model: Annotated[str | None, typer.Option(help="User model.")] = None,
    user_base_url: Annotated[str | None, typer.Option(help="User endpoint.")] = None,
    user_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                ] = None,
    user_arg: Annotated[list[str] | None, typer.Option(help="User argument k=v.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="Judge model.")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="Judge endpoint.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                 ] = None,
    judge_arg: Annotated[list[str] | None, typer.Option(help="Judge argument k=v.")] = None,
    endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                         ] = None,
    trials: Annotated[int, typer.Option(help="Trials per task.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Rollouts in flight.")] = 4,
    tasks: Annotated[str | None, typer.Option(help="Task index ranges, e.g. 0-9,12.")] = None,
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
    allow_invalid_tasks: Annotated[bool, typer.Option(
        help="Skip malformed tasks (unknown tools, arguments that do not fit a tool's "
             "schema) with a warning instead of refusing the run.")] = False,
    executor: Annotated[str, typer.Option(
        help="local (this process) or ray (Ray worker processes; pip install "
             "'toolgym\\[ray]').")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        help="Ray cluster: auto or HOST:PORT (default: start a local Ray instance).")] = None,
    ray_workers: Annotated[int, typer.Option(help="Ray worker processes.")] = 2,
    shard: Annotated[str | None, typer.Option(
        help="I/N: run the I-th of N disjoint shards of the (task, trial) pairs (default "
             "under a Slurm array: SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT).")] = None,
    # -- simulated tools (toolgym.simtools) ------------------------------------------
    tool_sim_model: Annotated[str | None, typer.Option(
        help="Model answering the domain's simulated tools (oracle: offline).")] = None,
    tool_sim_base_url: Annotated[str | None, typer.Option(help="Tool-sim endpoint.")] = None,
    tool_sim_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                    ] = None,
    tool_sim_arg: Annotated[list[str] | None, typer.Option(help="Tool-sim argument k=v.")
                            ] = None,
    tool_failures: Annotated[list[str] | None, typer.Option(
        help="Injected failures of a simulated tool, TOOL=KIND:P[,KIND:P] with KIND none "
             "(no answer), partial, error or timeout; *=... for every tool; off for none. "
             "Replaces the domain's defaults; repeatable.")] = None,
    tool_cache: Annotated[Path | None, typer.Option(
        help="Record/replay cache of simulated tool results.")] = None,
    tool_cache_mode: Annotated[str | None, typer.Option(
        help="off, record (default with --tool-cache), replay (call on a miss) or frozen "
             "(a miss is an error).")] = None,
) -> None:
    """The options that build a run's configuration (shared by run and endpoints check)."""


def _run_extras(
    display: Annotated[str, typer.Option(help="rich, plain or none.")] = "rich",
    report: Annotated[bool, typer.Option(help="Write report.html at the end.")] = True,
    preflight: Annotated[bool, typer.Option(
        help="Check every model endpoint before the first rollout.")] = True,
    retry_errors: Annotated[bool, typer.Option(
        help="Also rerun rollouts that ended on infrastructure errors.")] = False,
    repeats: Annotated[int, typer.Option(
        help="Run N times with seeds seed..seed+N-1 (into OUT/seed-S) and report the "
             "statistics over runs.")] = 1,
) -> None:
    """Options of ``run`` that do not change the configuration."""


def _with_options(*templates: Callable[..., None]) -> Callable[[Callable[..., None]],
                                                                Callable[..., None]]:
    """Give a ``**kwargs`` command the options (signature) of ``templates``."""
    params = [p for t in templates
              for p in inspect.signature(t, eval_str=True).parameters.values()]

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        fn.__annotations__ = {p.name: p.annotation for p in params}
        return fn

    return decorate


def _build(opts: dict[str, Any]) -> tuple[Any, Path]:
    """(RunConfig, run directory) from the ``_config_options`` values."""
    from toolgym.models._endpoints import load_dotenv
    from toolgym.runner._api import build_config
    from toolgym.runner._run import default_run_dir
    from toolgym.runner._shard import shard_from_env

    load_dotenv()
    # Plugins may register the domain, agent or provider named below, and
    # the current directory holds a user's own modules.
    sys.path.insert(0, os.getcwd())
    o = opts
    agent_strategy_args, agent_model_args = _split_args(
        parse_kv(o["agent_arg"], "--agent-arg"), _STRATEGY_ARGS)
    user_extra = parse_kv(o["user_arg"], "--user-arg")
    # Without a user model every user argument configures the simulator.
    user_strategy_args, user_model_args = (
        (user_extra, {}) if o["user_model"] is None else _split_args(user_extra,
                                                                     _STRATEGY_ARGS))
    agent_cfg = _role_model(o["agent_model"], o["agent_base_url"], o["agent_api_key_env"],
                            agent_model_args, o["endpoints"])
    assert agent_cfg is not None
    task_ids = o["task_ids"]
    config = build_config(
        o["domain"],
        agent_model=agent_cfg,
        user_model=_role_model(o["user_model"], o["user_base_url"], o["user_api_key_env"],
                               user_model_args, o["endpoints"]),
        judge_model=_role_model(o["judge_model"], o["judge_base_url"],
                                o["judge_api_key_env"], parse_kv(o["judge_arg"],
                                                                 "--judge-arg"),
                                o["endpoints"]),
        agent=o["agent"], user=o["user"],
        agent_args=agent_strategy_args,
        user_args=user_strategy_args,
        data_dir=o["data_dir"], tasks_file=o["tasks_file"],
        system_prompt_file=o["system_prompt_file"],
        prompt_pack=o["prompt_pack"], tool_args=o["tool_args"],
        trials=o["trials"], concurrency=o["concurrency"], tasks=o["tasks"],
        task_ids=[t.strip() for t in task_ids.split(",") if t.strip()] if task_ids else None,
        split=o["split"], shuffle=o["shuffle"], seed=o["seed"], max_steps=o["max_steps"],
        max_errors=o["max_errors"], rollout_timeout_s=o["timeout"],
        rollout_cost_limit=o["cost_limit"],
        cache_dir=str(o["cache_dir"]) if o["cache_dir"] else None,
        plugins=list(o["plugin"] or []),
        allow_invalid_tasks=o["allow_invalid_tasks"],
        shard=o.get("shard") or shard_from_env(),
        executor=o.get("executor", "local"), ray_address=o.get("ray_address"),
        ray_workers=o.get("ray_workers", 2),
        **_tool_sim_options(o),
    )
    return config, o["out_dir"] or default_run_dir(config)


def _tool_sim_options(o: dict[str, Any]) -> dict[str, Any]:
    """The simulated-tool fields of a run config from the ``--tool-*`` options."""
    from toolgym.errors import ConfigError
    from toolgym.simtools import parse_failure_options

    try:
        failures = parse_failure_options(o["tool_failures"] or [])
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    return {
        "tool_sim_model": _role_model(o["tool_sim_model"], o["tool_sim_base_url"],
                                      o["tool_sim_api_key_env"],
                                      parse_kv(o["tool_sim_arg"], "--tool-sim-arg"),
                                      o["endpoints"]),
        "tool_failures": failures,
        "tool_cache_dir": str(o["tool_cache"]) if o["tool_cache"] else None,
        "tool_cache_mode": o["tool_cache_mode"],
    }


def _run_and_finish(config: Any, run_dir: Path, display: str, report: bool,
                    **options: Any) -> None:
    from toolgym.runner._api import run_async

    if display not in ("rich", "plain", "none"):
        raise fail("--display must be rich, plain or none", 2)
    try:
        with user_errors():
            data = asyncio.run(run_async(config, out=run_dir, display=display, console=err,
                                         **options))
    except typer.Exit:
        raise
    _finish(run_dir, data, report)


def _repeat(config: Any, run_dir: Path, opts: dict[str, Any]) -> None:
    """``--repeats N``: N runs with consecutive seeds, then the statistics over them."""
    from toolgym.cli._dataset_cmds import stats
    from toolgym.runner._api import run_async

    if opts["repeats"] > 1000:
        raise fail("--repeats must be at most 1000", 2)
    dirs = []
    worst = 0
    for i in range(opts["repeats"]):
        cfg = config.model_copy(update={"seed": config.seed + i})
        target = run_dir / f"seed-{cfg.seed}"
        with user_errors():
            data = asyncio.run(run_async(cfg, out=target, display="none", console=err,
                                         retry_errors=opts["retry_errors"],
                                         preflight=opts["preflight"] and i == 0))
        s = data.summary
        err.print(f"run {i + 1}/{opts['repeats']} (seed {cfg.seed}): {s.get('status')}, "
                  f"average reward {s.get('avg_reward')}, {s.get('infra_errors')} "
                  f"infrastructure errors -> {target}", highlight=False, markup=False)
        if s.get("infra_errors"):
            worst = max(worst, EXIT_INFRA)
        dirs.append(target)
    stats(dirs, against=None, delta=None, seed=config.seed, as_json=False)
    if worst:
        raise typer.Exit(worst)


def _reconnect_options(opts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Connection changes per role from resume's --<role>-base-url / -api-key-env / -arg."""
    changes: dict[str, dict[str, Any]] = {}
    for role in ("agent", "user", "judge", "tool_sim"):
        fields: dict[str, Any] = {}
        if opts.get(f"{role}_base_url"):
            fields["base_url"] = opts[f"{role}_base_url"]
        if opts.get(f"{role}_api_key_env"):
            fields["api_key_env"] = opts[f"{role}_api_key_env"]
        option = f"--{role.replace('_', '-')}-arg"
        for key, value in parse_kv(opts.get(f"{role}_arg"), option).items():
            if key not in _CLIENT_SETTINGS:
                raise fail(f"{option} {key}: a resume changes only client settings "
                           f"({', '.join(_CLIENT_SETTINGS)})", 2)
            fields[key] = value
        if fields:
            changes[role] = fields
    return changes


def _resume_options(
    run_dir: Annotated[Path, typer.Argument(help="Run directory to resume.")],
    concurrency: Annotated[int | None, typer.Option(help="Rollouts in flight.")] = None,
    retry_errors: Annotated[bool, typer.Option(
        help="Also rerun rollouts that ended on infrastructure errors.")] = False,
    agent_base_url: Annotated[str | None, typer.Option(help="New agent endpoint.")] = None,
    agent_api_key_env: Annotated[str | None, typer.Option(help="New key variable.")] = None,
    agent_arg: Annotated[list[str] | None, typer.Option(
        help="New agent client setting k=v (max_concurrency, timeout_s, max_retries...).")
                         ] = None,
    user_base_url: Annotated[str | None, typer.Option(help="New user endpoint.")] = None,
    user_api_key_env: Annotated[str | None, typer.Option(help="New key variable.")] = None,
    user_arg: Annotated[list[str] | None, typer.Option(help="New user client setting.")
                        ] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="New judge endpoint.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="New key variable.")] = None,
    judge_arg: Annotated[list[str] | None, typer.Option(help="New judge client setting.")
                         ] = None,
    tool_sim_base_url: Annotated[str | None, typer.Option(help="New tool-sim endpoint.")
                                 ] = None,
    tool_sim_api_key_env: Annotated[str | None, typer.Option(help="New key variable.")
                                    ] = None,
    tool_sim_arg: Annotated[list[str] | None, typer.Option(
        help="New tool-sim client setting.")] = None,
    display: Annotated[str, typer.Option(help="rich, plain or none.")] = "rich",
    report: Annotated[bool, typer.Option(help="Write report.html at the end.")] = True,
    preflight: Annotated[bool, typer.Option(
        help="Check every model endpoint before the first rollout.")] = True,
) -> None:
    """Options of ``resume``."""


def register(app: typer.Typer) -> None:
    """Add ``run``, ``resume`` and ``endpoints check`` to the app."""

    @app.command()
    @_with_options(_config_options, _run_extras)
    def run(**opts: Any) -> None:
        """Run an evaluation: agent vs simulated user on a domain's tasks.

        Every model endpoint is checked first (--no-preflight skips it). Exit
        status: 0 done; 1 error or incomplete; 2 bad usage or an unusable
        endpoint; 3 rollouts ended on infrastructure errors (rerun them with
        toolgym resume RUN --retry-errors); 130 Ctrl-C; 143 SIGTERM.
        """
        with user_errors():
            config, run_dir = _build(opts)
        if opts["repeats"] > 1:
            _repeat(config, run_dir, opts)
            return
        _run_and_finish(config, run_dir, opts["display"], opts["report"],
                        retry_errors=opts["retry_errors"], preflight=opts["preflight"])

    @app.command()
    @_with_options(_resume_options)
    def resume(**opts: Any) -> None:
        """Resume a run: only the missing (task, trial) pairs run.

        A resume may change how models are reached (base URL, key variable,
        concurrency, timeouts, retries: recorded in config.json's change
        log), never what is evaluated.
        """
        from toolgym.models._endpoints import load_dotenv
        from toolgym.runner._api import reconnected
        from toolgym.runner._store import load_run_config

        load_dotenv()
        sys.path.insert(0, os.getcwd())  # plugin modules of the run
        run_dir = opts["run_dir"]
        from toolgym.runner._run import add_plugin_paths

        add_plugin_paths(run_dir)  # ...and where the run found them
        with user_errors():
            config = reconnected(load_run_config(run_dir), _reconnect_options(opts),
                                 opts["concurrency"])
        _run_and_finish(config, run_dir, opts["display"], opts["report"],
                        retry_errors=opts["retry_errors"], preflight=opts["preflight"])

    @app.command()
    def merge(
        run_dirs: Annotated[list[Path], typer.Argument(help="Shard run directories.",
                                                       show_default=False)],
        out_dir: Annotated[Path, typer.Option("--out", help="The merged run directory.")],
    ) -> None:
        """Merge the shards of a run (--shard I/N) into one run with the run's metrics."""
        from toolgym.runner._progress import results_table
        from toolgym.runner._shard import merge_runs

        with user_errors():
            report = merge_runs(list(run_dirs), out_dir)
        out.print(results_table(report.summary, title=f"Merged: {escape(str(out_dir))}"))
        if report.duplicated:
            err.print(f"warning: {len(report.duplicated)} (task, trial) pairs were in several "
                      f"shards (the newest record kept), e.g. {report.duplicated[0]}",
                      highlight=False, markup=False)
        if report.missing:
            err.print(f"{len(report.missing)} of {report.expected} (task, trial) pairs are "
                      f"missing, e.g. {report.missing[0]}: run or resume their shards",
                      highlight=False, markup=False)
            raise typer.Exit(1)

    endpoints_app = typer.Typer(help="Model endpoints: check them before a run.",
                                no_args_is_help=True)
    app.add_typer(endpoints_app, name="endpoints")

    @endpoints_app.command("check")
    @_with_options(_config_options)
    def check(**opts: Any) -> None:
        """Check every model endpoint of a run (same options as run); nothing runs.

        One line per role. Exit status 2 when an endpoint is unusable.
        """
        from toolgym.models._preflight import check_endpoints

        with user_errors():
            config, _ = _build(opts)
        roles = {"agent": config.agent.model}
        if config.user.model is not None:
            roles["user"] = config.user.model
        if config.judge is not None:
            roles["judge"] = config.judge
        if config.tool_sim is not None:
            roles["tool-sim"] = config.tool_sim
        checks = asyncio.run(check_endpoints(roles))
        for c in checks:
            (out if c.ok else err).print(("ok    " if c.ok else "FAIL  ") + c.line(),
                                         highlight=False, markup=False)
        if not all(c.ok for c in checks):
            raise typer.Exit(2)
#: ``--agent-arg`` / ``--user-arg`` keys that configure the strategy rather than the model;
#: every other key is a model argument (sampling parameters, oracle error_rate, latency_ms).
_STRATEGY_ARGS = frozenset({
    "examples", "num_examples", "max_confirmations", "turns", "max_redrafts",
})
