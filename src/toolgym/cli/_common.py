"""Helpers shared by the CLI modules: consoles, one-line errors, k=v options."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from toolgym._io import MAX_DEPTH, check_depth
from toolgym.errors import DataError

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    return typer.Exit(code)


def parse_kv(items: list[str] | None, option: str) -> dict[str, Any]:
    """Parse repeated ``k=v`` options; values are JSON when they parse, else strings."""
    out_: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise fail(f"{option} expects key=value, got {item!r}", 2)
        key, value = item.split("=", 1)
        try:
            decoded = json.loads(value)
        except RecursionError:
            raise fail(f"{option} {key.strip()}: value nested too deeply "
                       f"(more than {MAX_DEPTH} levels)", 2) from None
        except ValueError:  # not JSON (or an integer too long): the text itself
            decoded = value
        try:
            check_depth(decoded, f"{option} {key.strip()}")
        except DataError as exc:
            raise fail(str(exc), 2) from None
        out_[key.strip()] = decoded
    return out_


_WARNED: set[str] = set()


def warn_problem(problem: str) -> None:
    """One warning line per problem (a corrupt line skipped), once per process."""
    if problem not in _WARNED:
        _WARNED.add(problem)
        err.print(f"warning: {problem}", highlight=False, markup=False)


def warn_problems(runs: Any) -> None:
    """One warning line per corrupt results line that loading skipped."""
    for run in runs:
        for problem in getattr(run, "problems", []):
            warn_problem(problem)
