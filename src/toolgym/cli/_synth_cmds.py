"""``toolgym synth``: generate, validate, import, export and split synthetic tasks.

``tasks`` writes a task file, its validation report (``<stem>.report.json``)
and, with ``--split``, ``split_tasks.json`` beside it; ``validate`` checks any
task file with the same rules; ``import`` / ``export`` convert tau-bench v1
task lists; ``split`` splits an existing file; ``types`` lists the scenario
types. Exit status: 0 done; 1 rejected tasks (``validate``, ``import``) or
fewer tasks than asked (``tasks``), or a bad file; 2 bad usage.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from toolgym.cli._common import err, fail, out, parse_kv

if TYPE_CHECKING:
    from toolgym.synth import ValidationReport

__all__ = ["register"]

synth_app = typer.Typer(
    no_args_is_help=True,
    help="Synthetic tasks: generate (tasks), validate any task file, import and export "
         "tau-bench task lists, split without leakage, list scenario types.")

FORMATS = ("toolgym", "tau-bench")


def _line(text: str, *, to_err: bool = False) -> None:
    (err if to_err else out).print(text, markup=False, highlight=False, soft_wrap=True)


def _print_stats(stats: dict[str, Any]) -> None:
    for key, title in (("scenario_type", "per scenario type"), ("difficulty", "per difficulty"),
                       ("write_tool", "per write tool"), ("splits", "per split")):
        counts = stats.get(key)
        if counts:
            _line(f"{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _print_rejections(report: ValidationReport, limit: int = 50) -> None:
    shown = 0
    for v in report.verdicts:
        for note in v.notes:
            _line(f"task {v.task_id}: note ({note.rule}): {note.message}", to_err=True)
        if v.kept:
            continue
        shown += 1
        if shown <= limit:
            reasons = "; ".join(f"{r.rule}: {r.message}" for r in v.reasons)
            _line(f"task {v.task_id}: rejected: {reasons}", to_err=True)
    if shown > limit:
        _line(f"... and {shown - limit} more rejected tasks (all in the report)", to_err=True)


def _summary(report: ValidationReport, seconds: float, what: str) -> None:
    rate = f"{100 * report.rate:.1f}%"
    by_rule = (" (" + ", ".join(f"{k} {v}" for k, v in sorted(report.by_rule.items())) + ")"
               if report.by_rule else "")
    speed = f", {report.checked / seconds:.0f} tasks/s" if seconds > 0 else ""
    _line(f"{report.checked} {what} checked, {report.kept} kept ({rate}), {report.rejected} "
          f"rejected{by_rule} in {seconds:.2f} s{speed}")


def _load_domain(domain: str, data_dir: Path | None) -> Any:
    from toolgym.domains import load_domain

    return load_domain(domain, data_dir=data_dir)


def _read_list(path: Path, what: str = "task file") -> list[Any]:
    from toolgym._io import load_json
    from toolgym.errors import DataError

    raw = load_json(path, what)
    if isinstance(raw, dict) and isinstance(raw.get("tasks"), list):
        raw = raw["tasks"]
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON array of tasks")
    return raw


def _warn_stale_splits(tasks_file: Path, ids: list[str]) -> None:
    """Warn when a split file beside a new task file names tasks it no longer has."""
    from toolgym.errors import DataError
    from toolgym.tasks import load_splits

    path = tasks_file.with_name("split_tasks.json")
    if not path.is_file():
        return
    try:
        splits = load_splits(path)
    except DataError:
        splits = {"?": ["?"]}
    known = set(ids)
    if any(i not in known for names in splits.values() for i in names):
        _line(f"warning: {path} names tasks that {tasks_file} does not have; toolgym run "
              f"--tasks-file reads it as the file's splits (rewrite it with --split or "
              f"toolgym synth split, or remove it)", to_err=True)


def _model_config(model: str | None, base_url: str | None, key_env: str | None,
                  args: list[str] | None, endpoints: Path | None, option: str) -> Any:
    from toolgym.cli._run_cmds import _role_model
    from toolgym.models import ModelConfig

    cfg = _role_model(model, base_url, key_env, parse_kv(args, option), endpoints)
    return None if cfg is None else ModelConfig.model_validate(cfg)


@synth_app.command("tasks")
def tasks_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="Task file to write (tasks.json).")],
    domain: Annotated[str, typer.Option(help="airline or retail.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(
        help="tau2-format data directory (the built-in database when omitted).")] = None,
    n: Annotated[int, typer.Option("--n", help="Tasks to keep.")] = 100,
    method: Annotated[str, typer.Option(help="template (no model) or llm.")] = "template",
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    difficulty: Annotated[str | None, typer.Option(
        help="Keep only tasks of this label: easy, medium or hard.")] = None,
    types: Annotated[str | None, typer.Option(
        help="Comma-separated scenario types (toolgym synth types).")] = None,
    rules: Annotated[str, typer.Option(
        help="Policy rule profile: auto (from the policy text), toolgym or tau2.")] = "auto",
    split: Annotated[str | None, typer.Option(
        help="Write split_tasks.json beside the output, e.g. train=0.6,val=0.2,test=0.2 "
             "(no user and no gold-action signature in two splits).")] = None,
    rewrite: Annotated[bool, typer.Option(
        help="Rewrite template instructions with the generator model (every fact kept).")
                       ] = False,
    generator_model: Annotated[str | None, typer.Option(
        help="Generator model (llm method, --rewrite), e.g. openai/gpt-4o or an alias.")
                               ] = None,
    generator_base_url: Annotated[str | None, typer.Option(help="Generator endpoint.")
                                  ] = None,
    generator_api_key_env: Annotated[str | None, typer.Option(help="Env var with the key.")
                                     ] = None,
    generator_arg: Annotated[list[str] | None, typer.Option(
        help="Generator argument k=v (repeatable): sampling parameters or client settings "
             "(timeout_s, max_retries...).")] = None,
    endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                         ] = None,
    examples: Annotated[Path | None, typer.Option(
        help="Task file of few-shot examples for the llm method (default: the domain's).")
                        ] = None,
    solve_with: Annotated[str | None, typer.Option(
        help="Reference agent model: drop tasks it never solves, record pass rates "
             "(oracle offline).")] = None,
    solve_trials: Annotated[int, typer.Option(help="Trials of the solvability run.")] = 1,
    solve_user: Annotated[str, typer.Option(help="User simulator of the solvability run.")
                          ] = "scripted",
    max_attempts: Annotated[int | None, typer.Option(
        help="Candidates to try at most (default 20 x --n).")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Validation report file (default <out stem>.report.json).")] = None,
) -> None:
    """Generate validated tasks: tau2 tasks plus user_id, difficulty, method, scenario_type
    and provenance; the validation report beside them; splits with --split.

    The file runs directly: toolgym run --tasks-file tasks.json --split train.
    """
    from toolgym.cli._run_cmds import user_errors
    from toolgym.models._endpoints import load_dotenv
    from toolgym.synth import generate_tasks_async, parse_split_spec, save_result
    from toolgym.tasks import load_tasks

    load_dotenv()
    with user_errors():
        shares = parse_split_spec(split) if split is not None else None
        generator = _model_config(generator_model, generator_base_url, generator_api_key_env,
                                  generator_arg, endpoints, "--generator-arg")
        solver = _model_config(solve_with, None, None, [], endpoints, "--solve-with")
        d = _load_domain(domain, data_dir)
        shots = load_tasks(examples) if examples is not None else None
        chosen = [t.strip() for t in types.split(",") if t.strip()] if types else None
        result = asyncio.run(generate_tasks_async(
            d, n=n, method=method, seed=seed, types=chosen, difficulty=difficulty,
            rules=rules, rewrite_instructions=rewrite, generator=generator, examples=shots,
            solve_with=solver, solve_trials=solve_trials, solve_user=solve_user,
            data_dir=data_dir, max_attempts=max_attempts))
        paths = save_result(result, out_file, split=shares, seed=seed, report=report, domain=d)
    if shares is None:
        _warn_stale_splits(out_file, [t.id for t in result.tasks])
    _print_rejections(result.report)
    _summary(result.report, result.seconds, "candidates")
    _print_stats(result.report.stats)
    if result.report.usage:
        u = result.report.usage
        cost = "unknown price" if u.get("cost") is None else f"${u['cost']:.4f}"
        _line(f"generator: {u['calls']} calls, {u['prompt_tokens']}/{u['completion_tokens']} "
              f"tokens in/out, {cost}")
    for kind, path in paths.items():
        _line(f"{kind}: {path}")
    if len(result.tasks) < n:
        raise fail(f"only {len(result.tasks)} of {n} tasks could be generated and validated "
                   f"(raise --max-attempts, or widen --types / --difficulty)")


def _validated(raw: list[Any], domain: str, data_dir: Path | None, rules: str, facts: bool
               ) -> tuple[list[Any], ValidationReport, float]:
    import time

    from toolgym.synth import rules_for, validate_tasks

    start = time.perf_counter()
    d = _load_domain(domain, data_dir)
    kept, report = validate_tasks(d, raw, rules_for(d, rules), check_facts=facts)
    return kept, report, time.perf_counter() - start


def _from_format(raw: list[Any], fmt: str, domain: str) -> tuple[list[Any], list[Any]]:
    """(task dicts to validate, verdicts of items that could not be converted)."""
    from toolgym.errors import ConfigError
    from toolgym.synth import Reason, TaskVerdict, from_tau_bench

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "toolgym":
        return raw, []
    tasks, bad = [], []
    for task_id, task, problem in from_tau_bench(raw, domain):
        if task is None:
            bad.append(TaskVerdict(task_id=task_id, kept=False,
                                   reasons=[Reason(rule="schema", message=str(problem))]))
        else:
            tasks.append(task)
    return tasks, bad


def _with_bad(report: ValidationReport, bad: list[Any]) -> None:
    for verdict in bad:
        report.add(verdict)


@synth_app.command("validate")
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="Task file to validate.")],
    domain: Annotated[str, typer.Option(help="airline or retail.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(help="tau2-format data directory.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="toolgym (tau2 tasks) or tau-bench.")
                   ] = "toolgym",
    rules: Annotated[str, typer.Option(help="auto, toolgym or tau2.")] = "auto",
    facts: Annotated[bool, typer.Option(help="Check that instructions hold what the user "
                                             "must know.")] = True,
    report: Annotated[Path | None, typer.Option(help="Write the validation report here.")
                      ] = None,
) -> None:
    """Validate any task file: schema, replay, determinism, effect, duplicates, facts and
    the policy check. One line per rejected task; exit status 1 if any."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.synth._generate import write_json

    with user_errors():
        tasks, bad = _from_format(_read_list(file), fmt, domain)
        _, result, seconds = _validated(tasks, domain, data_dir, rules, facts)
        _with_bad(result, bad)
        if report is not None:
            write_json(report, result.model_dump(mode="json"))
    _print_rejections(result)
    _summary(result, seconds, "tasks")
    _print_stats(result.stats)
    if result.rejected:
        raise typer.Exit(1)


@synth_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="tau-bench task list (JSON).")],
    out_file: Annotated[Path, typer.Option("--out", help="Task file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="tau-bench.")] = "tau-bench",
    domain: Annotated[str, typer.Option(help="airline or retail.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(help="tau2-format data directory.")] = None,
    rules: Annotated[str, typer.Option(help="auto, toolgym or tau2.")] = "auto",
    facts: Annotated[bool, typer.Option(help="Check that instructions hold what the user "
                                             "must know.")] = True,
    keep_invalid: Annotated[bool, typer.Option(
        help="Also write the tasks that fail validation.")] = False,
    report: Annotated[Path | None, typer.Option(
        help="Validation report (default <out stem>.report.json).")] = None,
) -> None:
    """Convert a tau-bench v1 task list ({user_id, actions: [{name, kwargs}], instruction,
    outputs?, difficulty?, method?}) into toolgym tasks, validating them on the way in."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.errors import ConfigError
    from toolgym.synth._generate import write_json

    with user_errors():
        if fmt != "tau-bench":
            raise ConfigError(f"unknown import format {fmt!r} (known: tau-bench)")
        tasks, bad = _from_format(_read_list(file, "tau-bench task file"), fmt, domain)
        kept, result, seconds = _validated(tasks, domain, data_dir, rules, facts)
        _with_bad(result, bad)
        kept_ids = {t.id for t in kept}
        written = [t for t in tasks if keep_invalid or t["id"] in kept_ids]
        write_json(out_file, written)
        _warn_stale_splits(out_file, [t["id"] for t in written])
        report_path = report or out_file.with_name(out_file.stem + ".report.json")
        write_json(report_path, result.model_dump(mode="json"))
    _print_rejections(result)
    _summary(result, seconds, "tasks")
    _line(f"tasks: {out_file} ({len(written)} written)")
    _line(f"report: {report_path}")
    if result.rejected:
        raise typer.Exit(1)


@synth_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="toolgym task file.")],
    out_file: Annotated[Path, typer.Option("--out", help="tau-bench task list to write.")],
    fmt: Annotated[str, typer.Option("--format", help="tau-bench.")] = "tau-bench",
) -> None:
    """Write tasks in the tau-bench v1 synthetic form: {user_id, actions: [{name, kwargs}],
    instruction, outputs, difficulty, method}."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.errors import ConfigError
    from toolgym.synth import to_tau_bench
    from toolgym.synth._generate import write_json
    from toolgym.tasks import load_tasks

    with user_errors():
        if fmt != "tau-bench":
            raise ConfigError(f"unknown export format {fmt!r} (known: tau-bench)")
        items = to_tau_bench(load_tasks(file))
        write_json(out_file, items)
    _line(f"{len(items)} tasks written to {out_file}")


@synth_app.command("split")
def split_cmd(
    file: Annotated[Path, typer.Argument(help="Task file to split.")],
    split: Annotated[str, typer.Option(help="e.g. train=0.6,val=0.2,test=0.2.")],
    seed: Annotated[int, typer.Option(help="Seed of the assignment.")] = 0,
    domain: Annotated[str, typer.Option(
        help="Domain (its write tools define the signatures).")] = "airline",
) -> None:
    """Write split_tasks.json beside a task file: no user and no gold-action signature in
    two splits."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.domains import get_spec
    from toolgym.domains._toolkit import ToolKind
    from toolgym.synth import parse_split_spec, split_tasks
    from toolgym.synth._generate import write_json
    from toolgym.tasks import load_tasks

    with user_errors():
        shares = parse_split_spec(split)
        specs = get_spec(domain).toolkit_type.tool_specs()
        writes = frozenset(k for k, v in specs.items() if v[0] == ToolKind.WRITE)
        splits = split_tasks(load_tasks(file), shares, seed=seed, writes=writes)
        path = file.with_name("split_tasks.json")
        write_json(path, splits)
    _line(f"splits: {path} (" + ", ".join(f"{k} {len(v)}" for k, v in splits.items()) + ")")


@synth_app.command("types")
def types_cmd(
    domain: Annotated[str | None, typer.Option(help="airline or retail (both when omitted).")
                      ] = None,
) -> None:
    """List the template scenario types, one line each."""
    from toolgym.synth import SCENARIO_TYPES

    names = [domain] if domain else sorted(SCENARIO_TYPES)
    for name in names:
        if name not in SCENARIO_TYPES:
            raise fail(f"no scenario types for domain {name!r} (known: "
                       f"{', '.join(sorted(SCENARIO_TYPES))})", 2)
        for kind, about in SCENARIO_TYPES[name].items():
            _line(f"{name}  {kind:<18} {about}")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``toolgym synth`` to the app."""
    app.add_typer(synth_app, name="synth")
