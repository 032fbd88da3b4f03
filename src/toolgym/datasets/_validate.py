"""``toolgym dataset validate``: check a file against its format's field rules.

The rules are those of the formats' documentation (OpenAI's fine-tuning
input; TRL's conversational and prompt/completion datasets): one line per
problem, naming the line number and the path of the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolgym._io import read_text
from toolgym.errors import ConfigError

__all__ = ["validate_file", "validate_record"]

_ROLES = {"system", "user", "assistant", "tool"}


def _tools_problems(tools: Any, where: str) -> list[str]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        return [f"{where}: must be a list of tool definitions"]
    out = []
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
            out.append(f"{where}[{i}]: must be {{\"type\": \"function\", \"function\": {{...}}}}")
        elif not isinstance(fn.get("name"), str) or not isinstance(fn.get("parameters", {}),
                                                                    dict):
            out.append(f"{where}[{i}].function: needs a string name and object parameters")
    return out


def _message_problems(messages: Any, where: str, arguments: str, weights: bool) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return [f"{where}: must be a non-empty list of messages"]
    out: list[str] = []
    call_ids: set[str] = set()
    for i, m in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            out.append(f"{at}.role: must be one of {', '.join(sorted(_ROLES))}")
            continue
        role = m["role"]
        if "weight" in m and (not weights or role != "assistant"):
            out.append(f"{at}.weight: only assistant messages of the openai format have one")
        if role == "assistant" and "weight" in m and m["weight"] not in (0, 1):
            out.append(f"{at}.weight: must be 0 or 1")
        for j, c in enumerate(m.get("tool_calls") or []):
            cat = f"{at}.tool_calls[{j}]"
            fn = c.get("function") if isinstance(c, dict) else None
            if role != "assistant":
                out.append(f"{cat}: only assistant messages call tools")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                out.append(f"{cat}.function.name: missing")
                continue
            if arguments == "string":
                if not isinstance(fn.get("arguments"), str):
                    out.append(f"{cat}.function.arguments: must be a JSON string in this "
                               "format")
                else:
                    try:
                        json.loads(fn["arguments"])
                    except ValueError:
                        out.append(f"{cat}.function.arguments: not valid JSON")
            elif not isinstance(fn.get("arguments"), dict):
                out.append(f"{cat}.function.arguments: must be an object in this format")
            if c.get("type") != "function":
                out.append(f"{cat}.type: must be \"function\"")
            if isinstance(c.get("id"), str):
                call_ids.add(c["id"])
            elif arguments == "string":
                out.append(f"{cat}.id: missing (tool messages link to it)")
        if role == "tool":
            link = m.get("tool_call_id")
            if arguments == "string" and not isinstance(link, str):
                out.append(f"{at}.tool_call_id: required")
            elif isinstance(link, str) and link not in call_ids:
                out.append(f"{at}.tool_call_id: {link!r} answers no earlier tool call")
            if not isinstance(m.get("content"), str):
                out.append(f"{at}.content: must be a string")
    return out


def validate_record(record: Any, fmt: str) -> list[str]:
    """What is wrong with one line of a dataset file in ``fmt`` (empty: nothing)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    if fmt == "openai":
        out = _message_problems(record.get("messages"), "messages", "string", weights=True)
        out += _tools_problems(record.get("tools"), "tools")
        if "parallel_tool_calls" in record and not isinstance(record["parallel_tool_calls"],
                                                              bool):
            out.append("parallel_tool_calls: must be true or false")
        msgs = record.get("messages") if isinstance(record.get("messages"), list) else []
        if msgs and not any(isinstance(m, dict) and m.get("role") == "assistant"
                            and m.get("weight", 1) == 1 for m in msgs):
            out.append("messages: no assistant message trains (every weight is 0)")
        return out
    if fmt == "trl-messages":
        out = _message_problems(record.get("messages"), "messages", "object", weights=False)
        return out + _tools_problems(record.get("tools"), "tools")
    if fmt == "trl-prompt-completion":
        prompt, completion = record.get("prompt"), record.get("completion")
        out = []
        if not isinstance(prompt, list) or not prompt:
            out.append("prompt: must be a non-empty list of messages")
        if not isinstance(completion, list) or not completion:
            out.append("completion: must be a non-empty list of messages")
        elif any(not isinstance(m, dict) or m.get("role") != "assistant" for m in completion):
            out.append("completion: must hold assistant messages only")
        if not out and isinstance(prompt, list) and isinstance(completion, list):
            # Tool links may cross from the prompt into the completion.
            out += _message_problems([*prompt, *completion], "prompt+completion", "object",
                                     weights=False)
        return out + _tools_problems(record.get("tools"), "tools")
    raise ConfigError(f"unknown format {fmt!r} (openai, trl-messages, trl-prompt-completion)")


def validate_file(path: str | Path, fmt: str) -> list[str]:
    """Every problem of a JSON-lines dataset file, as ``file:line: field: problem``."""
    p = Path(path)
    problems: list[str] = []
    for n, line in enumerate(read_text(p, "dataset file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append(f"{p}:{n}: not valid JSON ({exc})")
            continue
        problems.extend(f"{p}:{n}: {problem}" for problem in validate_record(record, fmt))
    return problems
