"""``toolgym report | compare | view``: looking at finished (or running) runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from toolgym.cli._common import fail, out, warn_mixed_data, warn_problems
from toolgym.errors import ToolgymError

if TYPE_CHECKING:
    from toolgym.runner._store import RunData

__all__ = ["register"]


def _error(exc: BaseException) -> typer.Exit:
    return fail(str(exc))  # fail() escapes rich markup


def _require_results(run: RunData) -> None:
    """Refuse a run with nothing to show (an empty page would look like a real report)."""
    from toolgym.runner._store import RESULTS

    if run.results:
        return
    if not (run.path / RESULTS).exists():
        raise fail(f"{run.path}: no {RESULTS}; is this a run directory (toolgym run --out)?")
    raise fail(f"{run.path}: no finished rollout in {RESULTS} yet")


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories.", show_default=False)],
    out_file: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write.")] = Path(
        "report.html"),
    title: Annotated[str | None, typer.Option(help="Page title.")] = None,
) -> None:
    """Write a self-contained HTML report (with a trajectory viewer) of one or more runs."""
    from toolgym.report import render_report
    from toolgym.report._optimize import is_optimization_dir, optimization_report
    from toolgym.runner._store import load_run

    extra: list[str] = []
    try:
        if len(run_dirs) == 1 and is_optimization_dir(run_dirs[0]):
            # An optimization directory: its seed and best test runs, and the optimization.
            runs, extra = optimization_report(run_dirs[0])
        else:
            runs = [load_run(d) for d in run_dirs]
        warn_problems(runs)
    except (ToolgymError, OSError) as exc:
        raise _error(exc) from None
    for run in runs:
        _require_results(run)
    try:
        path = render_report(runs, out_file, title=title, extra=extra)
    except (ToolgymError, OSError) as exc:
        raise _error(exc) from None
    out.print(str(path), highlight=False, markup=False, soft_wrap=True)


def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run directory (A).")],
    run_b: Annotated[Path, typer.Argument(help="Run directory compared with it (B).")],
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the resampling statistics.")] = 0,
) -> None:
    """Compare two runs: metrics side by side and a paired test over shared tasks."""
    from toolgym.report import compare as compare_runs
    from toolgym.report import print_comparison, render_report
    from toolgym.runner._store import load_run

    try:
        a, b = load_run(run_a), load_run(run_b)
        warn_problems([a, b])
    except (ToolgymError, OSError) as exc:
        raise _error(exc) from None
    _require_results(a)
    _require_results(b)
    warn_mixed_data([a, b])
    comparison = compare_runs(a, b, seed=seed)
    if comparison.paired.n_tasks == 0:
        raise fail(f"{a.path} ({len(comparison.paired.only_a)} tasks) and {b.path} "
                   f"({len(comparison.paired.only_b)} tasks) have no task in common; "
                   "compare runs of the same task set")
    try:
        path = render_report([a, b], html, seed=seed) if html is not None else None
    except (ToolgymError, OSError) as exc:
        raise _error(exc) from None
    print_comparison(comparison, out)
    if path is not None:
        out.print(str(path), highlight=False, markup=False, soft_wrap=True)


def _wait_until_interrupted() -> None:
    """Block until Ctrl-C (replaced in tests)."""
    while True:
        time.sleep(3600)


def view(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories.", show_default=False)],
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    refresh: Annotated[float, typer.Option(help="Seconds between checks for new results.")
                       ] = 2.0,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
) -> None:
    """Serve a live report of runs (reloads while they are in progress) until Ctrl-C."""
    from toolgym.report import serve

    try:
        server = serve(run_dirs, host=host, port=port, refresh_s=refresh)
    except (ToolgymError, OSError) as exc:
        raise _error(exc) from None
    out.print(f"Serving {server.url} (Ctrl-C to stop)", highlight=False, markup=False,
              soft_wrap=True)
    if not no_open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        _wait_until_interrupted()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


def register(app: typer.Typer) -> None:
    """Add the ``report``, ``compare`` and ``view`` commands to a typer app."""
    app.command("report")(report)
    app.command("compare")(compare)
    app.command("view")(view)
