"""``toolgym import | regrade | export``: tau-bench and tau2 results in and out.

``toolgym import tau-bench FILE --domain D --out RUN`` and ``toolgym import
tau2 FILE --out RUN`` make a run directory of another tool's results;
``toolgym regrade RUN`` grades it again on toolgym's ground truth;
``toolgym export tau2 | tau2-submission | csv | parquet`` write runs out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from toolgym.cli._common import err, fail, out
from toolgym.errors import ToolgymError

if TYPE_CHECKING:
    from toolgym.runner._store import RunData

__all__ = ["register"]

import_app = typer.Typer(no_args_is_help=True,
                         help="Import tau-bench or tau2 results as a toolgym run directory.")
export_app = typer.Typer(no_args_is_help=True,
                         help="Export runs: tau2 results, a tau2 leaderboard submission, or a "
                              "CSV / Parquet table.")

_DATA_DIR_HELP = ("Domain data the run's tools acted on (e.g. ../shared/tau2/airline), recorded "
                  "for judges and regrade.")


def _print_import(run: RunData, source: str, warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"warning: {w}", highlight=False, markup=False)
    s = run.summary
    curve = s.get("pass_k", {}).get("tau-bench", {})
    passk = " ".join(f"{v:.3f}" if isinstance(v, float) else "-" for v in curve.values())
    avg = s.get("avg_reward")
    out.print(f"imported {s.get('n_rollouts')} rollouts ({s.get('n_tasks')} tasks) from "
              f"{source} into {run.path}", highlight=False, markup=False)
    out.print(f"avg reward {avg:.3f}; pass^1..{len(curve)} (tau-bench) {passk}"
              if isinstance(avg, float) else "avg reward unknown", highlight=False,
              markup=False)


@import_app.command("tau-bench")
def import_tau_bench_cmd(
    results: Annotated[Path, typer.Argument(help="tau-bench v1 results JSON (a list of "
                                            "{task_id, trial, reward, info, traj}).")],
    domain: Annotated[str, typer.Option(help="The results' domain: airline or retail.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    data_dir: Annotated[Path | None, typer.Option(help=_DATA_DIR_HELP)] = None,
    agent_model: Annotated[str | None, typer.Option(
        help="The agent's model name (v1 files do not record it).")] = None,
    user_model: Annotated[str | None, typer.Option(
        help="The user simulator's model name (likewise).")] = None,
) -> None:
    """Import tau-bench v1 results as a run directory.

    Rewards stay as recorded (marked imported), tasks are built from v1's
    actions and outputs, trials are kept.
    """
    from toolgym.interop import read_tau_bench
    from toolgym.interop._common import write_imported_run

    try:
        imported = read_tau_bench(results, domain, data_dir)
        if agent_model:
            imported.agent = {**imported.agent, "model": {"model": agent_model}}
        if user_model:
            imported.user = {**imported.user, "model": {"model": user_model}}
        run = write_imported_run(imported, out_dir)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    _print_import(run, f"tau-bench ({results.name})", imported.warnings)
    if data_dir is None:
        err.print("note: no --data-dir: give judges and regrade the domain data the run "
                  "acted on (tau2's data directory holds tau-bench's database)",
                  highlight=False, markup=False)


@import_app.command("tau2")
def import_tau2_cmd(
    results: Annotated[Path, typer.Argument(help="tau2 results JSON ({timestamp, info, tasks, "
                                            "simulations}).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    data_dir: Annotated[Path | None, typer.Option(help=_DATA_DIR_HELP)] = None,
) -> None:
    """Import tau2 results: messages, recorded rewards and checks, terminations, costs."""
    from toolgym.interop import read_tau2
    from toolgym.interop._common import write_imported_run

    try:
        imported = read_tau2(results, data_dir)
        run = write_imported_run(imported, out_dir)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    _print_import(run, f"tau2 ({results.name})", imported.warnings)
    if data_dir is None:
        err.print("note: no --data-dir: judges and regrade will use toolgym's built-in "
                  f"{run.domain} database; give tau2's data directory if the run used it",
                  highlight=False, markup=False)


def regrade(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (imported or toolgym's).")],
    data_dir: Annotated[Path | None, typer.Option(
        help="Domain data to grade in (default: the run's own).")] = None,
    tasks_file: Annotated[Path | None, typer.Option(
        help="Task file replacing the run's own.")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write one JSON line per rollout here.")] = None,
    show_all: Annotated[bool, typer.Option(
        "--all", help="List every task, not only those with a disagreement.")] = False,
) -> None:
    """Grade a run again on ground truth and compare with its recorded rewards.

    Task by task, with the reason for each disagreement; nothing in the run
    directory changes.
    """
    from toolgym.interop import regrade_run

    try:
        report = regrade_run(run_dir, data_dir=data_dir, tasks_file=tasks_file)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text("".join(json.dumps(i.to_json(), ensure_ascii=False) + "\n"
                                    for i in report.items), encoding="utf-8")
    tasks = report.per_task()
    shown = [t for t in tasks if show_all or t.agree + t.not_comparable < t.trials]
    if shown:
        out.print("task  trials  recorded  toolgym  agree", highlight=False, markup=False)
        for t in shown:
            out.print(f"{t.task_id:<5} {t.trials:>6}  {t.recorded_passes:>8}  "
                      f"{t.regraded_passes:>7}  {t.agree:>5}", highlight=False, markup=False)
    for i in report.disagreements:
        out.print(f"task {i.task_id} trial {i.trial}: {i.reason}", highlight=False,
                  markup=False)
    out.print(report.summary_line(), highlight=False, markup=False)


@export_app.command("tau2")
def export_tau2_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    out_file: Annotated[Path, typer.Option("--out", help="tau2 results file to write.")],
    check: Annotated[bool, typer.Option(
        help="Validate against toolgym's tau2 results schema first (needs jsonschema).")
    ] = False,
) -> None:
    """Write a run as a tau2 results file (readable by tau2's viewer and re-grader)."""
    from toolgym.interop import export_tau2

    try:
        path = export_tau2(run_dir, out_file, check=check)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote {path}", highlight=False, markup=False)


@export_app.command("tau2-submission")
def export_submission_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="One run directory per domain.",
                                                   show_default=False)],
    organization: Annotated[str, typer.Option(help="Organization that ran the evaluation "
                                              "(and made the model, unless "
                                              "--model-organization).")],
    contact_email: Annotated[str, typer.Option(help="Contact e-mail.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Submission directory to create.")],
    model_name: Annotated[str | None, typer.Option(
        help="Model name (default: the runs' agent model).")] = None,
    model_organization: Annotated[str | None, typer.Option(
        help="Organization that made the model.")] = None,
    contact_name: Annotated[str | None, typer.Option(help="Contact name.")] = None,
    github: Annotated[str | None, typer.Option(help="Contact's GitHub user.")] = None,
    submission_date: Annotated[str | None, typer.Option(
        "--date", help="Submission date, YYYY-MM-DD (default: today).")] = None,
    notes: Annotated[str | None, typer.Option(help="Added to the methodology notes.")] = None,
    schema: Annotated[Path | None, typer.Option(
        help="The leaderboard's schema.json: validate submission.json against it first "
             "(needs jsonschema).")] = None,
) -> None:
    """Write a tau2 leaderboard submission: submission.json and trajectories/.

    Runs that break the leaderboard's rules (every base task, at least 4
    trials, the same agent and user model in every domain) are refused.
    """
    from toolgym.interop import export_submission

    try:
        result = export_submission(
            list(run_dirs), out_dir, organization=organization, contact_email=contact_email,
            model_name=model_name, model_organization=model_organization,
            contact_name=contact_name, github=github, submission_date=submission_date,
            notes=notes, schema=schema)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    s = result.submission
    v = s.methodology.verification
    modified = "unknown" if v is None else str(v.modified_prompts).lower()
    for domain, r in s.results.items():
        out.print(f"{domain}: pass^1 {r.pass_1} pass^2 {r.pass_2} pass^3 {r.pass_3} "
                  f"pass^4 {r.pass_4} (percent)", highlight=False, markup=False)
    out.print(f"wrote {result.path / 'submission.json'} ({s.submission_type}; "
              f"modified prompts: {modified}) and {len(result.trajectory_files)} trajectory "
              "files", highlight=False, markup=False)


def _export_table(run_dir: Path, fmt: str, out_file: Path | None) -> None:
    from toolgym.interop import export_table

    try:
        path = export_table(run_dir, fmt, out_file)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote {path}", highlight=False, markup=False)


_TABLE_OUT_HELP = "File to write (default RUN_DIR/rollouts.csv or rollouts.parquet)."


@export_app.command("csv")
def export_csv_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    out_file: Annotated[Path | None, typer.Option("--out", help=_TABLE_OUT_HELP)] = None,
) -> None:
    """Write one CSV row per rollout (task, trial, reward, components, tokens, cost...)."""
    _export_table(run_dir, "csv", out_file)


@export_app.command("parquet")
def export_parquet_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    out_file: Annotated[Path | None, typer.Option("--out", help=_TABLE_OUT_HELP)] = None,
) -> None:
    """Write the csv table as Parquet (needs pyarrow: the parquet extra)."""
    _export_table(run_dir, "parquet", out_file)


def register(app: typer.Typer) -> None:
    """Add the interop commands to the application."""
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.command()(regrade)
