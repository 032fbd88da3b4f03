"""The typer application: ``toolgym validate | run | resume | report | compare | view``,
``toolgym list | show``.

User errors (bad files, bad options, unknown names) print one line to
stderr and exit with status 1 or 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from toolgym.cli._common import err, fail, out
from toolgym.errors import ToolgymError

app = typer.Typer(
    name="toolgym",
    help="Simulate, evaluate and improve tool-using conversational agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from toolgym import __version__

        out.print(f"toolgym {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Simulate, evaluate and improve tool-using conversational agents."""
    from toolgym.cli._common import _WARNED, warn_problem
    from toolgym.runner._store import PROBLEM_REPORTERS

    # Every command that reads a run warns about the corrupt lines it skipped (once each).
    _WARNED.clear()
    if warn_problem not in PROBLEM_REPORTERS:
        PROBLEM_REPORTERS.append(warn_problem)


@app.command()
def validate(
    domain: Annotated[str, typer.Option(help="Domain name.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(help="tau2-format data directory.")] = None,
    tasks_file: Annotated[Path | None, typer.Option(help="Task file to validate.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write JSON lines here.")] = None,
    dump_db: Annotated[Path | None, typer.Option(help="Write each final DB here.")] = None,
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module to import first (registers custom domains); repeatable.")] = None,
    tool_args: Annotated[str | None, typer.Option(
        help="Argument mode the gold actions replay in: tau2 or strict (default: the "
             "domain's, tau2 for airline and retail).")] = None,
) -> None:
    """Replay every task's gold actions on a fresh database and report problems.

    Malformed tasks (unknown tools or functions, arguments that do not fit a
    tool's schema, a malformed message history) and tasks whose gold actions
    fail by the domain's rules are both invalid; the summary counts each.
    """
    from toolgym.domains import load_domain
    from toolgym.evaluation._validate import validate_tasks
    from toolgym.runner._run import import_plugins

    t0 = time.perf_counter()
    if plugin:
        # As for `run`: plugin modules may live in the current directory.
        sys.path.insert(0, os.getcwd())
    try:
        import_plugins(list(plugin or []))
        d = load_domain(domain, data_dir=data_dir, tasks_file=tasks_file, tool_args=tool_args)
        results = validate_tasks(d, dump_dir=dump_db)
    except ToolgymError as exc:
        raise fail(str(exc)) from None
    lines = [json.dumps(r.to_json(), ensure_ascii=False) for r in results]
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    bad = [r for r in results if not r.ok]
    for r in bad:
        for e in r.errors:
            err.print(f"task {r.task_id}: {e}", highlight=False, markup=False)
    malformed = sum(1 for r in bad if r.malformed)
    detail = (f": {malformed} malformed, {len(bad) - malformed} failing by the domain's rules"
              if bad else "")
    out.print(f"{len(results)} tasks, {len(results) - len(bad)} valid, {len(bad)} invalid"
              f"{detail} ({time.perf_counter() - t0:.2f} s)", highlight=False)
    if bad:
        raise typer.Exit(1)


def _register_commands() -> None:
    from toolgym.cli import (
        _assistant_cmds,
        _dataset_cmds,
        _info_cmds,
        _interop_cmds,
        _judge_cmds,
        _optimize_cmds,
        _prompts_cmds,
        _report_cmds,
        _run_cmds,
        _scale_cmds,
        _synth_cmds,
    )

    _run_cmds.register(app)
    _report_cmds.register(app)
    _info_cmds.register(app)
    _judge_cmds.register(app)
    _optimize_cmds.register(app)
    _dataset_cmds.register(app)
    _scale_cmds.register(app)
    _synth_cmds.register(app)
    _interop_cmds.register(app)
    _assistant_cmds.register(_synth_cmds.synth_app)  # toolgym synth requests
    _prompts_cmds.register(app)


_register_commands()


def main() -> None:
    """Run the CLI on ``sys.argv``; raises ``SystemExit`` with the exit status."""
    sys.exit(_run_app())


def console_main() -> None:
    """The ``toolgym`` console script (and ``python -m toolgym``): :func:`main`, then an
    exit without the interpreter's teardown (:func:`_exit_fast`)."""
    _exit_fast(_run_app())


def _run_app() -> int:
    """Run the app; its exit status."""
    try:
        app()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)  # as the interpreter does with a message
        return 1
    except ToolgymError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    except OSError as exc:
        # A file-system problem the commands did not anticipate: one line,
        # not a traceback (the file name is in the message).
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


def _exit_fast(code: int) -> None:
    """End the process without the interpreter's teardown.

    After a run the heap holds the parsed databases and every rollout; freeing
    them object by object at exit took ~0.7 s on the tau2 airline data, time a
    user waits for nothing. What a command writes is durable when it returns
    (results go out with ``os.write`` and are fsynced on close; other files are
    replaced atomically), so the process flushes its streams, runs the
    ``atexit`` handlers (logging, Ray, coverage...) and leaves with ``os._exit``.
    The normal exit is used while a non-daemon thread still runs (it waits for
    it) and under a profiler or tracer (``python -m cProfile -m toolgym`` writes
    its statistics after the program returns).
    """
    import threading

    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if others or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:  # not CPython: exit normally
        sys.exit(code)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (toolgym list domains | head) or stream.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

