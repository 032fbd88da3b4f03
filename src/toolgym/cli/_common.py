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


def warn_mixed_data(runs: Any) -> None:
    """Warn when runs paired by task id come from different domains or data: task "0" of
    airline and task "0" of retail are different tasks. (Runs that do not record their
    data's digest, such as imported ones, are compared by domain name only.)"""
    names: dict[str, list[str]] = {}
    digests: dict[str, list[str]] = {}
    for run in runs:
        config = getattr(run, "config", {}) or {}
        raw = config.get("domain")
        domain: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if not domain.get("name"):  # not a run (or one that does not say): nothing to say
            continue
        names.setdefault(str(domain["name"]), []).append(str(run.path))
        if domain.get("data_digest"):
            digests.setdefault(str(domain["data_digest"]), []).append(str(run.path))
    groups = names if len(names) > 1 else digests if len(digests) > 1 else None
    if groups is None:
        return
    what = "domains" if groups is names else "data"
    shown = "; ".join(f"{key[:12]}: {', '.join(paths)}" for key, paths in groups.items())
    err.print(f"warning: these runs are on different {what}, so tasks with the same id are "
              f"not the same task ({shown})", highlight=False, markup=False)
