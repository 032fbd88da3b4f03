"""``toolgym rate | dataset build | dataset validate | finetune recipe | stats``."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from toolgym.cli._common import err, fail, out

__all__ = ["register"]

dataset_app = typer.Typer(no_args_is_help=True,
                          help="Fine-tuning datasets from runs: build and validate.")
finetune_app = typer.Typer(no_args_is_help=True, help="Fine-tuning recipes (TRL).")


def rate(
    run_dir: Annotated[Path, typer.Argument(help="Run directory to rate.")],
    judge_model: Annotated[str, typer.Option(help="Rater model.")],
    judge_base_url: Annotated[str | None, typer.Option(help="Rater endpoint.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                 ] = None,
    judge_arg: Annotated[list[str] | None, typer.Option(
        help="Rater argument k=v (rubric, votes, ...), client setting or sampling "
             "parameter.")] = None,
    endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                         ] = None,
    concurrency: Annotated[int, typer.Option(help="Rollouts rated at once.")] = 8,
    retry_errors: Annotated[bool, typer.Option(help="Rerate rollouts whose rating failed.")
                            ] = False,
    preflight: Annotated[bool, typer.Option(help="Check the rater endpoint first.")] = True,
) -> None:
    """Rate a run's trajectories 1-5 (final answer and every step): scores/rater.jsonl.

    The rubric rater in 1-5 mode with per-step ratings (tool choice, arguments,
    use of the result), for dataset filtering (--min-rating, --min-step-rating).
    """
    from toolgym.cli._judge_cmds import score

    args = ["scale=5", "mode=both", *(judge_arg or [])]
    score(run_dir, judge="rater", name="rater", judge_model=judge_model,
          judge_base_url=judge_base_url, judge_api_key_env=judge_api_key_env,
          judge_arg=args, endpoints=endpoints, concurrency=concurrency,
          retry_errors=retry_errors, preflight=preflight, display="plain", plugin=None)


@dataset_app.command("build")
def build(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories.",
                                                   show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")],
    fmt: Annotated[list[str] | None, typer.Option(
        "--format", help="openai, trl-messages, trl-prompt-completion, hf (repeatable).")
                   ] = None,
    shape: Annotated[str, typer.Option(
        help="conversation (whole conversations) or step (context -> next action).")
                     ] = "conversation",
    select: Annotated[str | None, typer.Option(
        help='Selection expression, e.g. "reward == 1 and steps < 20".')] = None,
    min_rating: Annotated[float | None, typer.Option(help="Minimum rater score (1-5).")
                          ] = None,
    min_step_rating: Annotated[float | None, typer.Option(
        help="Minimum rating of a step, with --shape step.")] = None,
    termination: Annotated[list[str] | None, typer.Option(
        help="Keep rollouts that ended so (repeatable), e.g. user_stop.")] = None,
    train_on: Annotated[str, typer.Option(
        help="Assistant messages that train: all, final or writes.")] = "all",
    val_size: Annotated[int | None, typer.Option(help="Validation tasks (a number).")] = None,
    val_frac: Annotated[float | None, typer.Option(help="Validation tasks (a fraction).")
                        ] = None,
    test_split: Annotated[str | None, typer.Option(
        help="A task split whose tasks form the test split.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the validation draw.")] = 0,
    tokenizer: Annotated[str | None, typer.Option(
        help="Hugging Face tokenizer for the card's token counts (needs transformers).")
                         ] = None,
) -> None:
    """Build a fine-tuning dataset from runs, split by task (no leakage across splits)."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.datasets import build_dataset

    with user_errors():
        result = build_dataset(
            [str(d) for d in run_dirs], out_dir, formats=fmt or ["openai"], shape=shape,
            select=select, min_rating=min_rating, min_step_rating=min_step_rating,
            terminations=termination, train_on=train_on, val_size=val_size, val_frac=val_frac,
            test_split=test_split, seed=seed, tokenizer=tokenizer,
            command="toolgym " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    table = Table(title=f"Dataset {escape(str(out_dir))}: {result.selected} rollouts selected, "
                        f"{result.rejected} left out")
    table.add_column("format")
    for split in ("train", "validation", "test"):
        table.add_column(f"{split} ({len(result.tasks[split])} tasks)", justify="right")
    for name, per in result.counts.items():
        table.add_row(name, *(str(per.get(s, 0)) for s in ("train", "validation", "test")))
    out.print(table)
    out.print(f"card: {out_dir / 'README.md'}", highlight=False, markup=False)


@dataset_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A dataset directory or one .jsonl file.")],
    fmt: Annotated[str, typer.Option("--format", help="openai, trl-messages or "
                                     "trl-prompt-completion.")],
) -> None:
    """Check a dataset file against its format's field rules (one line per problem)."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.datasets import validate_file

    files = [path] if path.is_file() else sorted(
        p for p in (path / fmt).glob("*.jsonl") if not p.name.endswith(".manifest.jsonl"))
    if not files:
        raise fail(f"{path}: no {fmt} files to validate")
    problems: list[str] = []
    lines = 0
    with user_errors():
        for f in files:
            problems += validate_file(f, fmt)
            lines += sum(1 for x in f.read_text(encoding="utf-8").splitlines() if x.strip())
    for p in problems:
        err.print(p, highlight=False, markup=False)
    out.print(f"{len(files)} file(s), {lines} lines, {len(problems)} problem(s)",
              highlight=False)
    if problems:
        raise typer.Exit(1)


@finetune_app.command("recipe")
def recipe(
    dataset: Annotated[Path, typer.Option(help="A toolgym dataset directory.")],
    base_model: Annotated[str, typer.Option(help="The model to fine-tune (HF id or path).")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the recipe "
                                                 "(default: DATASET/recipe).")] = None,
    lora: Annotated[bool, typer.Option(help="LoRA (r=16, alpha=32, lr 2e-4).")] = True,
    loss: Annotated[str, typer.Option(
        help="completion-only (prompt masked), full-sequence, or assistant-only "
             "(conversational data).")] = "completion-only",
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 2,
    dry_run: Annotated[bool, typer.Option(
        help="Also load and check the data as SFTTrainer will read it.")] = False,
) -> None:
    """Write a TRL SFTTrainer script and config, and the vllm serve command for the result."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.datasets import prepare_sft_data, write_recipe

    with user_errors():
        info = write_recipe(dataset, base_model, out_dir or dataset / "recipe", lora=lora,
                            loss=loss, epochs=epochs)
        if dry_run:
            data = prepare_sft_data(dataset, loss=loss)
            out.print(f"data ok for {loss}: {data['format']} {data['splits']}, longest "
                      f"example {data['max_chars']} characters", highlight=False)
    folder = Path(info["out"])
    for name in ("train_sft.py", "sft_config.json", "serve.sh"):
        out.print(f"{name}: {folder / name}", highlight=False, markup=False)
    out.print(f"serve: {info['serve']}", highlight=False, markup=False)
    out.print(f"evaluate: {info['evaluate']}", highlight=False, markup=False)


def stats(
    run_dirs: Annotated[list[Path], typer.Argument(help="Runs of one configuration.",
                                                   show_default=False)],
    against: Annotated[list[Path] | None, typer.Option(
        help="Runs of another configuration to compare with (repeatable).")] = None,
    delta: Annotated[float | None, typer.Option(
        help="Difference in pass^1 to size the number of runs for (default: observed).")
                     ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Statistics over repeated runs: mean, SD, SE per metric; a paired comparison by task."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.evaluation._repeats import compare_groups, metric_stats
    from toolgym.runner._store import load_run

    with user_errors():
        group_a = [load_run(d) for d in run_dirs]
        group_b = [load_run(d) for d in against or []]
        for run in [*group_a, *group_b]:
            if not run.results:
                raise fail(f"{run.path}: no rollouts")
        from toolgym.cli._common import warn_mixed_data

        warn_mixed_data([*group_a, *group_b])
        stats_a = metric_stats(group_a)
        stats_b = metric_stats(group_b) if group_b else []
        comparison = compare_groups(group_a, group_b, seed=seed, delta=delta) \
            if group_b else None
    if as_json:
        out.print_json(json.dumps({
            "a": [s.to_dict() for s in stats_a], "b": [s.to_dict() for s in stats_b],
            "comparison": comparison.to_dict() if comparison else None}))
        return
    table = Table(title=f"{len(group_a)} runs" + (f" vs {len(group_b)} runs" if group_b
                                                   else ""))
    table.add_column("metric")
    for label in (["A"] + (["B"] if group_b else [])):
        table.add_column(f"{label} mean", justify="right")
        table.add_column(f"{label} SD (runs)", justify="right")
        table.add_column(f"{label} SE (mean)", justify="right")
    by_name_b = {s.name: s for s in stats_b}
    for s in stats_a:
        row = [escape(s.name), *_cells(s)]
        if group_b:
            row += _cells(by_name_b.get(s.name))
        table.add_row(*row)
    out.print(table)
    if comparison is not None:
        c = comparison
        ci = f" [{c.diff_ci[0]:+.3f}, {c.diff_ci[1]:+.3f}]" if c.diff_ci else ""
        p = "-" if c.wilcoxon_p is None else f"{c.wilcoxon_p:.4f}"
        out.print(f"paired by task ({c.n_tasks} tasks): success rate A {c.rate_a:.3f}, B "
                  f"{c.rate_b:.3f}, B - A {c.diff:+.3f}{ci} (95% paired bootstrap over tasks x "
                  f"runs); Wilcoxon signed-rank p = {p}"
                  + (" (exact)" if c.wilcoxon_exact else " (normal approximation)"),
                  highlight=False, markup=False)
        if c.runs_needed is not None:
            out.print(f"runs per configuration to detect a {c.delta:+.3f} pass^1 difference at "
                      f"the observed run-to-run SD (80% power, 5% level): {c.runs_needed}",
                      highlight=False, markup=False)


def _cells(s: Any) -> list[str]:
    if s is None or s.mean is None:
        return ["-", "-", "-"]
    return [f"{s.mean:.4f}", "-" if s.sd is None else f"{s.sd:.4f}",
            "-" if s.se is None else f"{s.se:.4f}"]


def register(app: typer.Typer) -> None:
    """Add rate, dataset, finetune and stats to the app."""
    app.command("rate")(rate)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(finetune_app, name="finetune")
    app.command("stats")(stats)

