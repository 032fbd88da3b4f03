"""``toolgym judge``: re-score saved runs, compare scorings, check graph cases.

``toolgym judge RUN_DIR --judge NAME ...`` is short for ``toolgym judge score RUN_DIR ...``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from toolgym.cli._common import err, fail, out, parse_kv

__all__ = ["register"]

#: Exit status when some rollouts could not be scored (judge errors): retryable.
EXIT_JUDGE_ERRORS = 3


class _DefaultToScore(TyperGroup):
    """A group whose unknown first argument means ``score`` (``judge RUN_DIR ...``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["score", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    cls=_DefaultToScore, no_args_is_help=True,
    help="Re-score a saved run with a judge (toolgym judge RUN_DIR --judge NAME), compare "
         "two scorings (agreement), or check event-graph cases (graph --cases).")


def _judge_model(opts: dict[str, Any], model_args: dict[str, Any]) -> Any:
    from toolgym.cli._run_cmds import _role_model

    cfg = _role_model(opts["judge_model"], opts["judge_base_url"], opts["judge_api_key_env"],
                      model_args, opts["endpoints"])
    if cfg is None:
        return None
    from toolgym.models import ModelConfig

    return ModelConfig.model_validate(cfg)


@judge_app.command("score")
def score(
    run_dir: Annotated[Path, typer.Argument(help="Run directory to score.")],
    judge: Annotated[str, typer.Option(help="Judge: nl, rater, in-context, graph "
                                       "(toolgym list judges).")],
    name: Annotated[str | None, typer.Option(
        help="Name of the scoring (default: the judge's): scores/<name>.jsonl.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="Judge model.")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="Judge endpoint.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                 ] = None,
    judge_arg: Annotated[list[str] | None, typer.Option(
        help="Judge argument k=v (repeatable): the judge's own (scale, votes, rubric...), "
             "client settings (timeout_s, max_concurrency...) or sampling parameters.")
                         ] = None,
    endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                         ] = None,
    concurrency: Annotated[int, typer.Option(help="Rollouts judged at once.")] = 8,
    retry_errors: Annotated[bool, typer.Option(
        help="Also rescore rollouts whose judge failed.")] = False,
    preflight: Annotated[bool, typer.Option(help="Check the judge endpoint first.")] = True,
    display: Annotated[str, typer.Option(help="plain or none.")] = "plain",
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module to import first (registers custom judges); repeatable.")] = None,
) -> None:
    """Score every rollout of a saved run with a judge, into RUN_DIR/scores/<name>.jsonl.

    results.jsonl is never rewritten. Rerunning resumes. --judge nl grades the NL
    assertions of rollouts that waited for a judge and recomputes their reward.
    Exit status: 0; 1 bad input (unknown judge, a judge that needs --judge-model,
    an unreadable run); 2 unusable judge endpoint or invalid options; 3 some
    rollouts could not be scored (rerun with --retry-errors).
    """
    from toolgym.cli._run_cmds import user_errors
    from toolgym.judges._base import judge_factory
    from toolgym.judges._scoring import ScoringEvents, score_run_async
    from toolgym.models._endpoints import load_dotenv

    load_dotenv()
    sys.path.insert(0, os.getcwd())
    if display not in ("plain", "none"):
        raise fail("--display must be plain or none", 2)
    opts = {"judge_model": judge_model, "judge_base_url": judge_base_url,
            "judge_api_key_env": judge_api_key_env, "endpoints": endpoints}
    with user_errors():
        from toolgym.runner._run import import_plugins

        import_plugins(list(plugin or []))
        factory = judge_factory(judge)
        own: frozenset[str] = getattr(factory, "allowed_args", frozenset())
        extra = parse_kv(judge_arg, "--judge-arg")
        judge_args = {k: v for k, v in extra.items() if k in own}
        model = _judge_model(opts, {k: v for k, v in extra.items() if k not in own})
        events = ScoringEvents()
        if display == "plain":
            def log(s: Any) -> None:
                verdict = "error" if s.success is None else ("pass" if s.success else "fail")
                first = (s.error or s.feedback or "").splitlines()
                err.print(f"task {s.task_id} trial {s.trial}: {verdict}"
                          + (f" ({first[0][:120]})" if first else "")
                          + f" | scored {events.done}/{events.total}",
                          highlight=False, markup=False)

            events.on_score.append(log)
        scoring = asyncio.run(score_run_async(
            run_dir, judge, model=model, args=judge_args, name=name, concurrency=concurrency,
            retry_errors=retry_errors, preflight=preflight, events=events))
    if events.total == 0:
        err.print(f"nothing to score: no rollout of {run_dir} needs the {judge!r} judge",
                  highlight=False, markup=False)
    elif events.skipped and display != "none":
        err.print(f"resumed: {events.skipped} already scored", highlight=False, markup=False)
    s = scoring.summary
    table = Table(title=f"Scoring {escape(scoring.name)} of {escape(str(run_dir))}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("judge", escape(judge))
    table.add_row("scored", str(s["n_scored"]))
    table.add_row("success rate", "-" if s["success_rate"] is None
                  else f"{s['success_rate']:.3f}")
    table.add_row("mean score", "-" if s["mean_score"] is None else f"{s['mean_score']:.3f}")
    table.add_row("judge errors", str(s["errors"]))
    u = s["usage"]
    cost = "unknown price" if u["cost"] is None else f"${u['cost']:.4f}"
    table.add_row("judge tokens (in/out)",
                  f"{u['prompt_tokens']}/{u['completion_tokens']} {cost}")
    out.print(table)
    out.print(f"scores: {run_dir / 'scores' / (scoring.name + '.jsonl')}", highlight=False,
              markup=False)
    if s["errors"]:
        again = " ".join(shlex.quote(str(x)) for x in [
            "toolgym", "judge", run_dir, "--judge", judge,
            *(["--name", name] if name and name != judge else []),
            *(["--judge-model", judge_model] if judge_model else []), "--retry-errors"])
        more = " (with the same endpoint options)" if judge_base_url or endpoints else ""
        err.print(f"{s['errors']} rollouts could not be scored; rerun with: {again}{more}",
                  highlight=False, markup=False)
        raise typer.Exit(EXIT_JUDGE_ERRORS)


@judge_app.command("agreement")
def agreement_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    a: Annotated[str, typer.Option("--a", help="First scoring ('reward' = ground truth).")
                 ] = "reward",
    b: Annotated[str, typer.Option("--b", help="Second scoring (a name in scores/).")
                 ] = "rater",
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap interval.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")
                       ] = False,
    limit: Annotated[int, typer.Option(help="Disagreements listed at most.")] = 20,
) -> None:
    """Agreement of two scorings: confusion matrix, agreement rate, Cohen's kappa (CI)."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.judges._agreement import agreement
    from toolgym.runner._store import load_run

    with user_errors():
        result = agreement(load_run(run_dir), a, b, seed=seed)
    if as_json:
        out.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    ea, eb = escape(a), escape(b)
    matrix = Table(title=f"{ea} (rows) vs {eb} (columns): {result.n} rollouts")
    matrix.add_column("")
    matrix.add_column(f"{eb} pass", justify="right")
    matrix.add_column(f"{eb} fail", justify="right")
    matrix.add_row(f"{ea} pass", str(result.both_pass), str(result.a_only))
    matrix.add_row(f"{ea} fail", str(result.b_only), str(result.both_fail))
    out.print(matrix)
    rate = "-" if result.agreement is None else f"{result.agreement:.3f}"
    kappa = "undefined" if result.kappa is None else f"{result.kappa:.3f}"
    ci = (f" [{result.kappa_ci[0]:.3f}, {result.kappa_ci[1]:.3f}] "
          f"({round(result.confidence * 100)}% bootstrap over tasks)"
          if result.kappa_ci else "")
    out.print(f"agreement {rate}; Cohen's kappa {kappa}{ci}", highlight=False, markup=False)
    if result.left_out:
        out.print(f"{result.left_out} rollouts left out (no verdict on one side)",
                  highlight=False, markup=False)
    if result.disagreements:
        table = Table(title=f"Disagreements ({len(result.disagreements)})")
        for col in ("task", "trial", ea, eb, f"{eb} feedback"):
            table.add_column(col)
        for d in result.disagreements[:limit]:
            table.add_row(escape(d["task_id"]), str(d["trial"]), str(d[a]), str(d[b]),
                          escape(str(d[f"{b}_feedback"]).splitlines()[0][:100]
                                 if d[f"{b}_feedback"] else ""))
        out.print(table)


@judge_app.command("graph")
def graph_cases(
    cases: Annotated[Path, typer.Option("--cases", help="JSON-lines file of cases.")],
    judge_model: Annotated[str | None, typer.Option(
        help="Judge model for soft checkers (optional).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="Judge endpoint.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                 ] = None,
    judge_arg: Annotated[list[str] | None, typer.Option(
        help="Judge model argument k=v (client settings, sampling).")] = None,
    endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                         ] = None,
) -> None:
    """Check standalone event-graph cases: one JSON line per case, {id, success, failures,
    matching}.

    Each line of the file: {"id", "domain"?, "oracle": [{"id", "tool", "args",
    "depends_on"?}], "agent": [{"tool", "args", "result"?, "error"?}], "checkers"?,
    "extra_messages"?}. Exit status 0 when every case passes, 1 otherwise, 2 for a
    malformed file.
    """
    from toolgym.cli._run_cmds import user_errors
    from toolgym.errors import DataError
    from toolgym.judges._graph_cases import run_graph_cases
    from toolgym.models._endpoints import load_dotenv
    from toolgym.models._retry import EndpointPool, build_model

    load_dotenv()
    opts = {"judge_model": judge_model, "judge_base_url": judge_base_url,
            "judge_api_key_env": judge_api_key_env, "endpoints": endpoints}
    with user_errors():
        config = _judge_model(opts, parse_kv(judge_arg, "--judge-arg"))
        model = build_model(config, pool=EndpointPool()) if config is not None else None
        try:
            code = run_graph_cases(cases, model=model,
                                   write=lambda line: out.print(line, markup=False,
                                                                highlight=False,
                                                                soft_wrap=True))
        except DataError as exc:
            raise fail(str(exc), 2) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``toolgym judge`` to the app."""
    app.add_typer(judge_app, name="judge")
