"""``toolgym optimize``: GEPA prompt optimization from the command line."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from toolgym.cli._common import err, fail, out, parse_kv

__all__ = ["register"]

#: The run options ``optimize`` shares with ``run`` (the rest are its own).
_SHARED = ("domain", "data_dir", "tasks_file", "agent", "agent_model", "agent_base_url",
           "agent_api_key_env", "agent_arg", "system_prompt_file", "user", "user_model",
           "user_base_url", "user_api_key_env", "user_arg", "judge_model", "judge_base_url",
           "judge_api_key_env", "judge_arg", "endpoints", "concurrency", "seed", "max_steps",
           "max_errors", "timeout", "cost_limit", "cache_dir", "plugin", "tool_args",
           "prompt_pack", "tool_sim_model", "tool_sim_base_url", "tool_sim_api_key_env",
           "tool_sim_arg", "tool_failures", "tool_cache", "tool_cache_mode")


def _ids(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _optimize_options(
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Optimization directory (rerun with it to resume).")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Resume the optimization in this directory with its saved settings.")] = None,
    reflection_model: Annotated[str | None, typer.Option(
        help="Reflection model (any endpoint; 'oracle' is an offline stand-in).")] = None,
    reflection_base_url: Annotated[str | None, typer.Option(help="Reflection endpoint.")
                                   ] = None,
    reflection_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                      ] = None,
    reflection_arg: Annotated[list[str] | None, typer.Option(
        help="Reflection model argument k=v (sampling, client settings).")] = None,
    score: Annotated[str, typer.Option(
        help="What a candidate is scored on: reward (ground truth) or a judge (rater, "
             "graph...).")] = "reward",
    score_model: Annotated[str | None, typer.Option(help="Judge model for --score.")] = None,
    score_base_url: Annotated[str | None, typer.Option(help="Its endpoint.")] = None,
    train_split: Annotated[str | None, typer.Option(help="Train split name.")] = None,
    val_split: Annotated[str | None, typer.Option(help="Validation split name.")] = None,
    test_split: Annotated[str | None, typer.Option(help="Held-out test split name.")] = None,
    train_ids: Annotated[str | None, typer.Option(help="Train task ids, comma-separated.")
                         ] = None,
    val_ids: Annotated[str | None, typer.Option(help="Validation task ids.")] = None,
    test_ids: Annotated[str | None, typer.Option(help="Test task ids.")] = None,
    val_frac: Annotated[float | None, typer.Option(
        help="Carve a seeded validation set of this fraction out of the train tasks.")] = None,
    components: Annotated[str, typer.Option(
        help="Components to optimize: system_prompt, policy, few_shot, tool:<name> "
             "(comma-separated).")] = "system_prompt",
    trials_per_task: Annotated[int, typer.Option(
        help="Rollouts averaged per task in each evaluation.")] = 1,
    test_trials: Annotated[int | None, typer.Option(
        help="Trials per task of the final test evaluation (default: 4).")] = None,
    budget: Annotated[int | None, typer.Option(
        help="Rollouts the optimization may run (the final test apart).")] = None,
    minibatch_size: Annotated[int, typer.Option(help="Train tasks per reflection minibatch.")
                              ] = 3,
    use_merge: Annotated[bool, typer.Option(help="Let GEPA merge candidates.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Print the estimate and stop.")] = False,
    preflight: Annotated[bool, typer.Option(help="Check every endpoint first.")] = True,
) -> None:
    """The options of ``optimize`` that ``run`` does not have."""


def _signature() -> inspect.Signature:
    from toolgym.cli._run_cmds import _config_options

    shared = [p for p in inspect.signature(_config_options, eval_str=True).parameters.values()
              if p.name in _SHARED]
    own = list(inspect.signature(_optimize_options, eval_str=True).parameters.values())
    return inspect.Signature(shared + own)


def _model(spec: str | None, base_url: str | None, key_env: str | None,
           args: dict[str, Any], endpoints: Path | None) -> Any:
    from toolgym.cli._run_cmds import _role_model
    from toolgym.models import ModelConfig

    if spec == "oracle":  # the offline reflection stand-in
        return ModelConfig(model="oracle", args={**args, "role": "reflection"})
    cfg = _role_model(spec, base_url, key_env, args, endpoints)
    return None if cfg is None else ModelConfig.model_validate(cfg)


def _config(o: dict[str, Any]) -> tuple[Any, Path]:
    from toolgym.cli._run_cmds import _build
    from toolgym.domains import load_domain
    from toolgym.optimize import OptimizeConfig, resolve_splits

    if o["resume"] is not None:
        path = o["resume"] / "optimize_config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(f"{o['resume']}: no optimize_config.json; not an optimization "
                       "directory") from None
        except (OSError, ValueError) as exc:
            raise fail(f"{path}: unreadable ({exc})") from None
        if o["budget"] is not None:
            data["budget"] = o["budget"]
        return OptimizeConfig.model_validate(data), o["resume"]
    if o["reflection_model"] is None:
        raise fail("give --reflection-model (any endpoint, or 'oracle' offline)", 2)
    if o["budget"] is None:
        raise fail("give --budget (rollouts the optimization may run)", 2)
    from toolgym.cli._run_cmds import _config_options

    defaults = {p.name: p.default for p in inspect.signature(_config_options).parameters.values()}
    run_opts = {**defaults, **{k: o[k] for k in _SHARED}, "out_dir": None}
    system_prompt_file = run_opts.pop("system_prompt_file")
    run_opts["system_prompt_file"] = None
    base, _ = _build(run_opts)
    d = base.domain
    domain = load_domain(d.name, data_dir=d.data_dir, tasks_file=d.tasks_file)
    train, val, test = resolve_splits(
        domain, train_split=o["train_split"], val_split=o["val_split"],
        test_split=o["test_split"], train_ids=_ids(o["train_ids"]), val_ids=_ids(o["val_ids"]),
        test_ids=_ids(o["test_ids"]), val_frac=o["val_frac"], seed=base.seed)
    seed_prompt = None
    if system_prompt_file is not None:
        from toolgym._io import read_text

        seed_prompt = read_text(system_prompt_file, "system prompt file")
    reflection = _model(o["reflection_model"], o["reflection_base_url"],
                        o["reflection_api_key_env"], parse_kv(o["reflection_arg"],
                                                              "--reflection-arg"),
                        o["endpoints"])
    score_model = _model(o["score_model"], o["score_base_url"], None, {}, o["endpoints"]) \
        if o["score_model"] else None
    cfg = OptimizeConfig(
        run=base, components=[c.strip() for c in o["components"].split(",") if c.strip()],
        train_ids=train, val_ids=val, test_ids=test, trials_per_task=o["trials_per_task"],
        test_trials=o["test_trials"] or 4, budget=o["budget"],
        minibatch_size=o["minibatch_size"], reflection=reflection, score=o["score"],
        score_model=score_model, use_merge=o["use_merge"], seed_system_prompt=seed_prompt)
    from toolgym.runner._run import model_slug

    default_out = Path("runs") / f"optimize_{d.name}_{model_slug(base.agent.model.model)}"
    return cfg, o["out_dir"] or default_out


def _table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("seed", justify="right")
    table.add_column("best", justify="right")
    seed, best = summary["seed"], summary["best"]
    table.add_row("validation score", f"{seed['val']:.3f}", f"{best['val']:.3f}")
    for k in seed["test"]["pass_k"]["tau-bench"]:
        a = seed["test"]["pass_k"]["tau-bench"][k]
        b = best["test"]["pass_k"]["tau-bench"][k]
        table.add_row(f"test pass^{k}", "-" if a is None else f"{a:.3f}",
                      "-" if b is None else f"{b:.3f}")
    delta = summary["test_delta"]
    ci = delta.get("ci")
    table.add_row("test pass^1 change (paired)", "",
                  ("-" if delta["mean"] is None else f"{delta['mean']:+.3f}")
                  + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""))
    table.add_row("rollouts (optimization / total)", "",
                  f"{summary['optimization_rollouts']} / {summary['rollouts']}")
    table.add_row("iterations / candidates accepted", "",
                  f"{summary['iterations']} / {summary['accepted']}")
    for role, u in summary["usage"].items():
        cost = "unknown price" if u["cost"] is None else f"${u['cost']:.4f}"
        table.add_row(f"{escape(role)} tokens (in/out)", "",
                      f"{u['prompt_tokens']}/{u['completion_tokens']} {cost}")
    table.add_row("wall time", "", f"{summary['wall_s']:.1f} s")
    return table


def register(app: typer.Typer) -> None:
    """Add ``toolgym optimize`` to the app."""

    def optimize(**opts: Any) -> None:
        r"""Optimize the agent's system prompt (or other texts) with GEPA.

        Candidates are evaluated through the rollout engine on train minibatches
        and validation tasks and scored on ground truth (or --score JUDGE); the seed
        and the best candidate are compared on held-out test tasks at the end.
        Resumable: rerun with the same --out, or --resume DIR. Needs
        pip install 'toolgym\[optimize]'.
        """
        import os
        import sys

        from toolgym.cli._run_cmds import user_errors
        from toolgym.models._endpoints import load_dotenv
        from toolgym.optimize import optimize as run_optimize

        load_dotenv()
        sys.path.insert(0, os.getcwd())
        with user_errors():
            cfg, out_dir = _config(opts)

            def log(line: str) -> None:
                err.print(line, highlight=False, markup=False)

            try:
                result = run_optimize(cfg, out_dir, dry_run=opts["dry_run"],
                                      preflight=opts["preflight"], log=log)
            except KeyboardInterrupt:
                err.print(f"interrupted; resume with: toolgym optimize --resume {out_dir}",
                          highlight=False, markup=False)
                raise typer.Exit(130) from None
        if opts["dry_run"]:
            return
        out.print(_table(result.summary, f"Optimization: {escape(str(out_dir))}"))
        for name in ("best_system_prompt.txt", "optimize_summary.json", "lineage.json"):
            out.print(f"{name}: {out_dir / name}", highlight=False, markup=False)
        out.print(f"run the best prompt: toolgym run --system-prompt-file "
                  f"{out_dir / 'best_system_prompt.txt'} ...", highlight=False, markup=False)

    optimize.__signature__ = _signature()  # type: ignore[attr-defined]
    optimize.__annotations__ = {p.name: p.annotation
                                for p in optimize.__signature__.parameters.values()}  # type: ignore[attr-defined]
    app.command("optimize")(optimize)
