"""Declaring a simulated-tool domain in a few lines: :func:`register_sim_domain`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolgym._io import load_json, read_text
from toolgym.domains._domain import DomainSpec, register_domain
from toolgym.domains._toolkit import ToolKind, Toolkit
from toolgym.errors import ConfigError
from toolgym.simtools._requests import parse_requests
from toolgym.simtools._spec import SimTool, load_sim_tools
from toolgym.simtools._toolkit import AskUserTool, FinalAnswerTool, SimDB, SimToolkit
from toolgym.tasks import Task

__all__ = ["register_sim_domain", "request_parser"]


def request_parser(toolkit: type[Toolkit[Any]], final_tool: str | None = "final_answer"
                   ) -> Callable[[Any, str], list[Task]]:
    """A ``DomainSpec.parse_tasks`` reading request files for a toolkit's domain."""

    def parse(raw: Any, source: str) -> list[Task]:
        # The tool specs are computed on first use, not when a domain registers.
        specs = toolkit.tool_specs()
        writes = sorted(n for n, spec in specs.items() if spec[0] == ToolKind.WRITE)
        ends = final_tool if final_tool in specs else None
        return parse_requests(raw, source, write_tools=writes, final_tool=ends)

    return parse


def _text(value: str | Path, what: str) -> str:
    """A file's text when ``value`` is a path to an existing file, else ``value`` itself."""
    if isinstance(value, Path) or (isinstance(value, str) and "\n" not in value
                                   and len(value) < 4096 and Path(value).is_file()):
        return read_text(value, what)
    return str(value)


def register_sim_domain(
    name: str,
    *,
    tools: Sequence[SimTool | dict[str, Any]] | str | Path,
    policy: str | Path,
    tasks: str | Path | Sequence[dict[str, Any]] = (),
    toolkit: type[Toolkit[Any]] | None = None,
    ask_user: bool = True,
    final_answer: bool = True,
    description: str = "",
) -> DomainSpec:
    """Register a domain whose tools are simulated (plus any code tools).

    Args:
        name: The domain name (``--domain``).
        tools: The simulated tools: specs, dicts, or a YAML/JSON file of them.
        policy: The agent's policy: text, or a file holding it.
        tasks: Requests or tasks: a JSON file, or a list of dicts.
        toolkit: A toolkit class whose ``@tool`` methods are the domain's code tools.
        ask_user: Add the ``ask_user`` tool (answered by the user simulator).
        final_answer: Add the ``final_answer`` tool (ends the episode).
        description: One line for ``toolgym list domains``.

    Returns:
        The registered spec. Its fingerprint covers the tools, the policy and
        the tasks, so a resume notices when any of them changed.
    """
    specs = (load_sim_tools(tools) if isinstance(tools, str | Path)
             else [t if isinstance(t, SimTool) else SimTool.model_validate(t) for t in tools])
    bases: list[type] = [SimToolkit]
    if toolkit is not None:
        if not issubclass(toolkit, Toolkit):
            raise ConfigError(f"register_sim_domain({name!r}): toolkit must be a Toolkit class")
        bases.insert(0, toolkit)
    if ask_user:
        bases.append(AskUserTool)
    if final_answer:
        bases.append(FinalAnswerTool)
    toolkit_type = type(f"{name.title().replace('-', '').replace('_', '')}SimTools",
                        tuple(bases), {"simulated": tuple(specs), "__module__": __name__})
    policy_text = _text(policy, "policy file")
    parse = request_parser(toolkit_type)

    def load_raw_tasks() -> Any:
        if isinstance(tasks, str | Path):
            return load_json(Path(tasks), "task file")
        return list(tasks)

    source = str(tasks) if isinstance(tasks, str | Path) else f"<{name} tasks>"

    def builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
        parsed = parse(load_raw_tasks(), source)
        return {}, policy_text, parsed, {"base": [t.id for t in parsed]}

    def fingerprint() -> str:
        h = hashlib.sha256()
        h.update(json.dumps([s.model_dump(mode="json") for s in specs], sort_keys=True).encode())
        h.update(policy_text.encode())
        h.update(json.dumps(load_raw_tasks(), sort_keys=True, default=str).encode())
        if toolkit is not None:
            h.update(json.dumps(toolkit.tool_specs(), sort_keys=True, default=str).encode())
        return h.hexdigest()[:16]

    return register_domain(DomainSpec(
        name=name, db_type=SimDB, toolkit_type=toolkit_type, builtin=builtin,
        description=description or f"simulated tools: {', '.join(s.name for s in specs)}",
        parse_tasks=parse, fingerprint=fingerprint))
