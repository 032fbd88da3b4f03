"""``toolgym list | show``: what is registered, what a domain's tasks are, one trajectory.

Both print plain lines for registry and task listings (one line per entry,
easy to grep) and rich-formatted text for a trajectory. Every text that
comes from a task file, a model or a user goes into :class:`rich.text.Text`
objects, which are never parsed as markup, after control characters other
than newline and tab are made visible.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from toolgym.cli._common import fail, out
from toolgym.errors import ToolgymError

if TYPE_CHECKING:
    from toolgym._registry import Registry
    from toolgym.runner._results import RolloutResult
    from toolgym.runner._store import RunData
    from toolgym.tasks import Task

__all__ = ["register"]


class Listing(StrEnum):
    """What ``toolgym list`` can list."""

    DOMAINS = "domains"
    AGENTS = "agents"
    USERS = "users"
    PROVIDERS = "providers"
    JUDGES = "judges"
    TASKS = "tasks"


def _line(text: str) -> None:
    out.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _visible(text: str) -> str:
    """``text`` with control characters (ANSI escapes...) shown as ``\\xNN``, not obeyed."""
    return "".join(c if c in "\n\t" or (c.isprintable() and c != "\x7f") else
                   f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _columns(rows: list[list[str]]) -> None:
    """Print rows with every column but the last padded to a common width."""
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
        _line(_visible("  ".join(cells).rstrip()).replace("\n", " "))


def _registry_rows(what: Listing) -> list[list[str]]:
    if what is Listing.DOMAINS:
        from toolgym.domains import domain_names, get_spec

        rows = []
        for name in domain_names():
            spec = get_spec(name)
            about = spec.description or _first_line(spec.toolkit_type.__doc__)
            if spec.builtin is None:
                about += " (no built-in data: give --data-dir)"
            rows.append([name, about])
        return rows
    # The registry objects are internal; the names they hold are public.
    from toolgym.agents._base import _AGENTS
    from toolgym.judges._base import _JUDGES
    from toolgym.models._base import _PROVIDERS
    from toolgym.users._base import _USERS

    registries: dict[Listing, Registry[Any]] = {
        Listing.AGENTS: _AGENTS, Listing.USERS: _USERS, Listing.PROVIDERS: _PROVIDERS,
        Listing.JUDGES: _JUDGES}
    registry = registries[what]
    return [[name, registry.description(name)] for name in registry.names()]


def _task_summary(task: Task) -> str:
    from toolgym.tasks import StructuredInstructions

    instructions = task.user_scenario.instructions
    if isinstance(instructions, StructuredInstructions):
        return _first_line(instructions.reason_for_call)
    return _first_line(instructions)


def _task_rows(domain_name: str, data_dir: Path | None) -> list[list[str]]:
    from toolgym.domains import load_domain

    domain = load_domain(domain_name, data_dir=data_dir)
    splits: dict[str, list[str]] = {}
    for split, ids in domain.splits.items():
        if split == "base":
            continue  # every task is in it
        for task_id in ids:
            splits.setdefault(task_id, []).append(split)
    rows = []
    for task in domain.tasks:
        labels = ([task.difficulty] if task.difficulty else []) + list(task.tags)
        rows.append([task.id, ",".join(splits.get(task.id, [])) or "-",
                     ",".join(labels) or "-", _task_summary(task)])
    return rows


def list_(
    what: Annotated[Listing, typer.Argument(
        metavar="WHAT", help="domains, agents, users, providers, judges or tasks.",
        show_default=False)],
    domain: Annotated[str, typer.Option(help="Domain of 'list tasks'.")] = "airline",
    data_dir: Annotated[Path | None, typer.Option(help="tau2-format data directory of "
                                                  "'list tasks'.")] = None,
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module to import first (registers custom components); repeatable.")] = None,
) -> None:
    """List registered domains, agent strategies, user simulators, model providers, judges,
    or tasks.

    One line each. Tasks: id, splits, difficulty and tags, and the first line
    of the user's reason for calling (or instructions).
    """
    from toolgym.runner._run import import_plugins

    given = {name for name, value in (("--domain", domain != "airline"),
                                      ("--data-dir", data_dir is not None)) if value}
    if given and what is not Listing.TASKS:
        raise fail(f"{', '.join(sorted(given))} only applies to 'toolgym list tasks'", 2)
    sys.path.insert(0, os.getcwd())  # plugin modules live next to the user
    try:
        import_plugins(list(plugin or []))
        rows = (_task_rows(domain, data_dir) if what is Listing.TASKS
                else _registry_rows(what))
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    if what is Listing.TASKS and not rows:
        raise fail(f"domain {domain!r} has no tasks"
                   + (f" in {data_dir}" if data_dir is not None else ""))
    _columns(rows)


# ---------------------------------------------------------------------- show


def _pick(run: RunData, spec: str) -> RolloutResult:
    """The rollout named by ``TASK`` or ``TASK:TRIAL`` (the first trial when omitted)."""
    from toolgym.evaluation._metrics import task_sort_key

    if not run.results:
        raise fail(f"{run.path}: no finished rollout in this run")
    by_task: dict[str, dict[int, RolloutResult]] = {}
    for r in run.results:
        by_task.setdefault(r.task_id, {})[r.trial] = r
    task_id, trial = spec, None
    if spec not in by_task and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if tail.isdigit():
            task_id, trial = head, int(tail)
    if task_id not in by_task:
        known = sorted(by_task, key=task_sort_key)
        shown = ", ".join(known[:12]) + (f", ... ({len(known)} tasks)" if len(known) > 12
                                         else "")
        raise fail(f"{run.path}: no task {task_id!r} (tasks: {shown})")
    trials = by_task[task_id]
    if trial is None:
        trial = min(trials)
    if trial not in trials:
        have = ", ".join(str(t) for t in sorted(trials))
        raise fail(f"{run.path}: task {task_id!r} has no trial {trial} (trials: {have})")
    return trials[trial]


def _indent(renderable: RenderableType, width: int = 4) -> Padding:
    return Padding(renderable, (0, 0, 0, width), expand=False)


def _text(value: str, style: str = "") -> Text:
    return Text(_visible(value), style=style)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


_ROLE_STYLE = {"system": "dim", "user": "bold green", "assistant": "bold cyan",
               "tool": "bold magenta"}


def _message(index: int, m: Any, show_system: bool) -> RenderableType:
    head = Text.assemble((f"#{index} ", "dim"), (m.role, _ROLE_STYLE.get(m.role, "bold")))
    if m.name:
        head.append_text(_text(f" {m.name}", "magenta"))
    if m.error:
        head.append(" error", style="bold red")
    if m.turn is not None:
        head.append(f"  turn {m.turn}", style="dim")
    sim = getattr(m, "sim", None)
    if sim is not None:  # a simulated tool's result: injected failure, cache
        head.append(f"  simulated{f' · injected {sim.injected}' if sim.injected else ''}"
                    f"{f' · cache {sim.cache}' if sim.cache else ''}", style="cyan")
    if m.latency_s is not None and m.usage is not None and m.usage.calls:
        head.append(f"  {m.latency_s:.2f} s", style="dim")
    parts: list[RenderableType] = [head]
    if m.role == "system" and not show_system:
        size = len(m.content or "")
        parts.append(_indent(Text(f"(system prompt, {size} characters; --system shows it)",
                                  style="dim")))
        return Group(*parts)
    if m.reasoning:
        parts.append(_indent(_text(m.reasoning, "dim italic")))
    if m.content:
        style = "red" if m.error else ""
        parts.append(_indent(_text(m.content, style)))
    for call in m.tool_calls or []:
        line = Text("→ ", style="yellow")
        line.append_text(_text(call.name, "bold yellow"))
        args = call.raw_arguments if call.parse_error and call.raw_arguments is not None \
            else _json(call.arguments)
        line.append_text(_text(f"({args})"))
        if call.id:
            line.append_text(_text(f"  [{call.id}]", "dim"))
        parts.append(_indent(line))
        if call.parse_error:
            parts.append(_indent(_text(f"unparseable arguments: {call.parse_error}", "red"), 6))
    if m.role == "tool" and m.tool_call_id:
        parts.append(_indent(_text(f"answers [{m.tool_call_id}]", "dim")))
    return Group(*parts)


def _mark(ok: bool | None) -> Text:
    return Text("✓ ", style="green") if ok else (
        Text("? ", style="dim") if ok is None else Text("✗ ", style="red"))


def _breakdown(r: RolloutResult) -> list[RenderableType]:
    from toolgym._secrets import redact_secrets

    b = r.breakdown
    rows: list[RenderableType] = []
    comps = Text("components: ", style="bold")
    basis = {str(x) for x in b.reward_basis}
    for i, (name, value) in enumerate(b.components.items()):
        if i:
            comps.append("  ")
        shown = "-" if value is None else f"{value:.2f}"
        comps.append_text(_text(f"{name}={shown}" + ("" if name in basis else " (diagnostic)"),
                                "green" if value is not None and value >= 1 - 1e-6 else "red"))
    rows.append(Text.assemble(("status: ", "bold"), b.status or "ok",
                              ("   reward basis: ", "bold"),
                              ", ".join(str(x) for x in b.reward_basis) or "-"))
    if b.components:
        rows.append(comps)
    if b.db is not None:
        rows.append(Text.assemble(_mark(b.db.match), "final DB matches the gold DB"
                                  if b.db.match else "final DB differs from the gold DB"))
        for d in b.db.diff:
            rows.append(_indent(_text(_json(d), "dim")))
        for gold_error in b.db.gold_errors:
            rows.append(_indent(_text(f"gold replay error: {redact_secrets(gold_error)}",
                                      "red")))
    for a in b.actions:
        line = Text.assemble(_mark(a.matched), "action ")
        line.append_text(_text(f"{a.name}({_json(a.arguments)})"))
        rows.append(line)
        if not a.matched and a.closest:
            differing = ", ".join(a.differing_args or [])
            rows.append(_indent(_text(f"closest call: {_json(a.closest)}"
                                      + (f" (differs in: {differing})" if differing else ""),
                                      "dim")))
    for c in b.communicate:
        rows.append(Text.assemble(_mark(c.found), "communicate ", _text(_json(c.info))))
    for n in b.nl_assertions:
        line = Text.assemble(_mark(n.met), "NL assertion ", _text(n.assertion))
        if n.justification:
            line.append_text(_text(f" — {n.justification}", "dim"))
        rows.append(line)
    for e in b.env_assertions:
        rows.append(Text.assemble(_mark(e.met), "env assertion ", _text(
            f"{e.func_name}({_json(e.arguments)}): expected {_json(e.expected)}, got "
            f"{_json(e.actual)}" + (f" — {e.message}" if e.message else ""))))
    for note in b.notes:
        rows.append(Text.assemble(("note: ", "bold"), _text(redact_secrets(note))))
    return rows


def show(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="Run directory.",
                                            show_default=False)],
    rollout: Annotated[str, typer.Argument(
        metavar="TASK[:TRIAL]", help="Task id, optionally with the trial (default: the first).",
        show_default=False)],
    system: Annotated[bool, typer.Option("--system", help="Print the system prompt too.")
                      ] = False,
) -> None:
    """Print one trajectory: messages, tool calls and results, reward and its breakdown."""
    from toolgym._secrets import redact_secrets
    from toolgym.runner._store import load_run

    try:
        run = load_run(run_dir)
    except (ToolgymError, OSError) as exc:
        raise fail(str(exc)) from None
    r = _pick(run, rollout)
    reward = "-" if r.reward is None else f"{r.reward:.2f}"
    ok = r.success
    title = Text.assemble(("run ", "bold"), _text(run.name), ("  task ", "bold"),
                          _text(r.task_id), ("  trial ", "bold"), str(r.trial))
    facts = Text.assemble(
        ("reward ", "bold"), (reward, "bold green" if ok else "bold red"),
        ("   termination ", "bold"), r.termination.value,
        ("   steps ", "bold"), str(r.steps),
        ("   duration ", "bold"), f"{r.timings.duration_s:.2f} s",
        ("   seed ", "bold"), str(r.seed))
    parts: list[RenderableType] = [Rule(title, align="left"), facts]
    if r.error:
        parts.append(Text.assemble(("error: ", "bold red"),
                                   _text(redact_secrets(r.error), "red")))
    usage = "   ".join(f"{role}: {u.calls} calls, {u.prompt_tokens}+{u.completion_tokens} tok"
                       + (f", ${u.cost:.4f}" if u.cost is not None else "")
                       for role, u in r.usage.items())
    if usage:
        parts.append(_text(usage, "dim"))
    parts.append(Rule(f"conversation ({len(r.messages)} messages)", align="left"))
    parts.extend(_message(i, m, system) for i, m in enumerate(r.messages))
    parts.append(Rule("evaluation", align="left"))
    parts.extend(_breakdown(r))
    for a in r.annotations:
        parts.append(Text.assemble(("annotation: ", "bold"), _text(_json(a))))
    out.print(Group(*parts), soft_wrap=False, highlight=False, emoji=False)


def register(app: typer.Typer) -> None:
    """Add the ``list`` and ``show`` commands to a typer app."""
    app.command("list")(list_)
    app.command("show")(show)
