"""Build a prompt pack from a local tau2-bench checkout (``toolgym prompts extract-tau2``).

The texts come from the user's own checkout at the moment they run the
command: toolgym ships none of them. The checkout's Python files are read
with :mod:`ast` and never imported or executed. What is read, relative to the
checkout (:data:`TAU2_LAYOUT`):

* the agent's system prompt: the string constants ``AGENT_INSTRUCTION`` and
  ``SYSTEM_PROMPT`` (with the fields ``{agent_instruction}`` and
  ``{domain_policy}``) in ``src/tau2/agent/llm_agent.py`` (else any module of
  ``src/tau2/agent/``);
* the user simulator's system prompt: ``SYSTEM_PROMPT`` (with
  ``{global_user_sim_guidelines}`` and ``{instructions}``) in
  ``src/tau2/user/user_simulator.py`` (else any module of ``src/tau2/user/``),
  filled with ``data/tau2/user_simulator/simulation_guidelines.md``;
* tool and parameter descriptions: the docstrings of the ``@is_tool`` methods
  in ``src/tau2/domains/<domain>/tools.py`` (Google style: the first line,
  a blank line and the rest, as tau2 joins them; each ``Args:`` entry), and
  the class docstrings and ``Field(description=...)`` texts of the records
  those tools take, in ``src/tau2/domains/<domain>/data_model.py``.

The tool definitions keep toolgym's JSON schemas (names, types, required
parameters) with every description replaced by tau2's, or removed where tau2
has none, so no toolgym wording is left in them.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.errors import DataError
from toolgym.prompts._pack import (
    AGENT_FILE,
    MANIFEST,
    TOOLS_FILE,
    USER_FILE,
    PackManifest,
    write_manifest,
)

__all__ = ["TAU2_LAYOUT", "Tau2Extraction", "extract_tau2", "google_docstring"]

AGENT_MODULE = "src/tau2/agent/llm_agent.py"
USER_MODULE = "src/tau2/user/user_simulator.py"
GUIDELINES = "data/tau2/user_simulator/simulation_guidelines.md"
TASKS_MODULE = "src/tau2/data_model/tasks.py"
DEFAULT_DOMAINS = ("airline", "retail")

#: The checkout layout the extractor reads (shown by ``--help``).
TAU2_LAYOUT = f"""\
{AGENT_MODULE}
  AGENT_INSTRUCTION, SYSTEM_PROMPT ({{agent_instruction}}, {{domain_policy}})
{USER_MODULE}
  SYSTEM_PROMPT ({{global_user_sim_guidelines}}, {{instructions}})
{GUIDELINES}
  the user simulator's guidelines
src/tau2/domains/<domain>/tools.py
  @is_tool methods with Google-style docstrings
src/tau2/domains/<domain>/data_model.py
  record classes: docstrings, Field(description=...)
{TASKS_MODULE}
  checked for the labels of the scenario layout"""

#: Labels of tau2's scenario text that ``scenario_format: tau2`` reproduces.
_SCENARIO_LABELS = ("Persona:", "Instructions:", "Domain:", "Reason for call:", "Known info:",
                    "Unknown info:", "Task instructions:")

# Section titles of a Google-style docstring (a title alone on its line).
_TITLES = ("Args", "Arguments", "Parameters", "Params", "Raises", "Raise", "Exceptions",
           "Except", "Attributes", "Attribute", "Example", "Examples", "Returns", "Return",
           "Yields", "Yield")
_TITLE_RE = re.compile(r"^(" + "|".join(_TITLES) + r"):?[ \t]*$", re.MULTILINE)
_ARG_TITLES = {"Args", "Arguments", "Parameters", "Params"}


@dataclass
class Tau2Extraction:
    """What :func:`extract_tau2` wrote."""

    out: Path
    domains: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def google_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) of a Google-style docstring.

    The description is the first line, then (after a blank line) the rest
    of the text before the first section, stripped. A parameter's text keeps
    its continuation lines on lines of their own, dedented.
    """
    text = inspect.cleandoc(doc)
    match = _TITLE_RE.search(text)
    head, meta = (text[:match.start()], text[match.start():]) if match else (text, "")
    first, _, rest = head.partition("\n")
    description = first.strip() + ("\n\n" + rest.strip() if rest.strip() else "")
    params: dict[str, str] = {}
    titles = list(_TITLE_RE.finditer(meta))
    for i, title in enumerate(titles):
        if title.group(1) not in _ARG_TITLES:
            continue
        end = titles[i + 1].start() if i + 1 < len(titles) else len(meta)
        body = inspect.cleandoc(meta[title.end():end])
        entries: list[list[str]] = []
        for line in body.splitlines():
            if line and not line[0].isspace():
                entries.append([line])
            elif entries:
                entries[-1].append(line)
        for entry in entries:
            spec, sep, desc = entry[0].partition(":")
            if not sep:
                continue
            name = spec.split("(")[0].strip()
            desc = desc[1:] if desc.startswith(" ") else desc
            if len(entry) > 1:
                desc = desc + "\n" + inspect.cleandoc("\n".join(entry[1:]))
            params[name] = desc.strip("\n")
    return description, params


def _literal(node: ast.expr, where: str) -> str:
    """The value of a string-constant expression (``\"\"\"...\"\"\".strip()`` too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, where) + _literal(node.right, where)
    if isinstance(node, ast.Call) and not node.keywords:
        fn = node.func
        if (isinstance(fn, ast.Attribute) and fn.attr in ("strip", "lstrip", "rstrip")
                and not node.args):
            return str(getattr(_literal(fn.value, where), fn.attr)())
        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
        if name == "dedent" and len(node.args) == 1:
            import textwrap

            return textwrap.dedent(_literal(node.args[0], where))
    raise DataError(f"{where}: not a plain string constant (toolgym reads it without running "
                    "the code)")


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    except SyntaxError as exc:
        raise DataError(f"{path}: not valid Python ({exc.msg}, line {exc.lineno})") from None


def _constants(path: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The module-level string constants ``names`` of a Python file (those it has)."""
    found: dict[str, str] = {}
    for node in _parse(path).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = _literal(value, f"{path}: {target.id}")
    return found


def _find_constants(src: Path, module: str, names: tuple[str, ...], what: str
                    ) -> tuple[dict[str, str], Path]:
    """``names`` from ``module``, else from the first module of its package having all."""
    primary = src / module
    candidates = [primary] if primary.is_file() else []
    package = primary.parent
    if package.is_dir():
        candidates += sorted(p for p in package.glob("*.py") if p != primary)
    for path in candidates:
        found = _constants(path, names)
        if set(found) == set(names):
            return found, path
    wanted = ", ".join(names)
    if not package.is_dir():
        raise DataError(f"{src}: no {package.relative_to(src)}/ directory (expected {what} "
                        f"there: {wanted} in {module})")
    raise DataError(f"{src}: {what} not found: no module of {package.relative_to(src)}/ "
                    f"defines {wanted} (expected in {module})")


def _format(template: str, where: str, values: dict[str, str], required: set[str]) -> str:
    """``template.format(**values)`` after checking its fields are exactly those known."""
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    unknown, missing = fields - set(values), required - fields
    if unknown or missing:
        problems = ([f"unknown field(s) {', '.join(sorted(unknown))}"] if unknown else []) + (
            [f"no {', '.join('{' + m + '}' for m in sorted(missing))}"] if missing else [])
        raise DataError(f"{where}: {'; '.join(problems)} (expected "
                        f"{', '.join('{' + v + '}' for v in sorted(values))})")
    return template.format(**values)


def _agent_template(src: Path) -> str:
    found, path = _find_constants(src, AGENT_MODULE, ("AGENT_INSTRUCTION", "SYSTEM_PROMPT"),
                                  "the agent's prompt")
    return _format(found["SYSTEM_PROMPT"], f"{path}: SYSTEM_PROMPT",
                   {"agent_instruction": found["AGENT_INSTRUCTION"],
                    "domain_policy": "{policy}"}, {"domain_policy"})


def _user_template(src: Path) -> str:
    found, path = _find_constants(src, USER_MODULE, ("SYSTEM_PROMPT",),
                                  "the user simulator's prompt")
    guidelines_path = src / GUIDELINES
    if not guidelines_path.is_file():
        raise DataError(f"{src}: no {GUIDELINES} (the user simulator's guidelines)")
    guidelines = guidelines_path.read_text(encoding="utf-8")
    return _format(found["SYSTEM_PROMPT"], f"{path}: SYSTEM_PROMPT",
                   {"global_user_sim_guidelines": guidelines, "instructions": "{scenario}"},
                   {"global_user_sim_guidelines", "instructions"})


def _is_tool(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name == "is_tool"


def _tool_docs(path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Name -> (description, parameter texts) of every ``@is_tool`` method."""
    docs: dict[str, tuple[str, dict[str, str]]] = {}
    for cls in (n for n in ast.walk(_parse(path)) if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if (isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
                    and any(_is_tool(d) for d in fn.decorator_list)):
                doc = ast.get_docstring(fn, clean=False)
                docs.setdefault(fn.name, google_docstring(doc) if doc else ("", {}))
    return docs


def _record_docs(path: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Class -> (docstring, {field: Field description}) of a data-model module."""
    out: dict[str, tuple[str | None, dict[str, str]]] = {}
    if not path.is_file():
        return out
    for cls in (n for n in ast.walk(_parse(path)) if isinstance(n, ast.ClassDef)):
        fields: dict[str, str] = {}
        for stmt in cls.body:
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(stmt.value, ast.Call)):
                for kw in stmt.value.keywords:
                    if kw.arg == "description":
                        fields[stmt.target.id] = _literal(kw.value,
                                                          f"{path}: {cls.name}.{stmt.target.id}")
        out.setdefault(cls.name, (ast.get_docstring(cls, clean=True), fields))
    return out


def _describe(schema: dict[str, Any], texts: dict[str, str]) -> None:
    """Replace each property's description in place by ``texts`` (or drop it)."""
    for name, prop in schema.get("properties", {}).items():
        prop.pop("description", None)
        if texts.get(name):
            prop["description"] = texts[name]


def _domain_tools(src: Path, domain: str, warnings: list[str]) -> list[dict[str, Any]]:
    from toolgym.domains import get_spec

    tools_py = src / "src" / "tau2" / "domains" / domain / "tools.py"
    if not tools_py.is_file():
        raise DataError(f"{src}: no {tools_py.relative_to(src)} (the {domain} tools)")
    docs = _tool_docs(tools_py)
    specs = get_spec(domain).toolkit_type.tool_specs()
    missing = sorted(set(specs) - set(docs))
    if missing:
        raise DataError(f"{tools_py}: no @is_tool method for {', '.join(missing)}")
    extra = sorted(set(docs) - set(specs))
    if extra:
        raise DataError(f"{tools_py}: tools that toolgym's {domain} domain does not have: "
                        f"{', '.join(extra)} (a run could not offer them)")
    model_py = tools_py.parent / "data_model.py"
    records = _record_docs(model_py)
    tools = []
    for name in sorted(specs):
        _, _, params = specs[name]
        schema = json.loads(json.dumps(params))
        description, arg_texts = docs[name]
        _describe(schema, arg_texts)
        for def_name, definition in schema.get("$defs", {}).items():
            definition.pop("description", None)
            if def_name not in records:
                warnings.append(f"{domain}: no class {def_name} in {model_py.relative_to(src)}"
                                f"; its schema in {name} has no descriptions")
                _describe(definition, {})
                continue
            doc, field_texts = records[def_name]
            if doc:
                definition["description"] = doc
            _describe(definition, field_texts)
        tools.append({"type": "function",
                      "function": {"name": name, "description": description,
                                   "parameters": schema}})
    return tools


def _origin(src: Path) -> dict[str, str]:
    """tau2's version (pyproject.toml) and commit (.git), when they can be read."""
    origin: dict[str, str] = {}
    try:
        project = tomllib.loads((src / "pyproject.toml").read_text(encoding="utf-8"))
        version = project.get("project", {}).get("version")
        if isinstance(version, str):
            origin["tau2_version"] = version
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        pass
    git = src / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.is_file():
                head = ref_file.read_text(encoding="utf-8").strip()
            else:
                packed = (git / "packed-refs").read_text(encoding="utf-8")
                head = next((line.split()[0] for line in packed.splitlines()
                             if line.endswith(" " + ref)), "")
        if re.fullmatch(r"[0-9a-f]{40}", head):
            origin["tau2_commit"] = head
    except OSError:
        pass
    return origin


def _check_scenario_layout(src: Path, warnings: list[str]) -> None:
    path = src / TASKS_MODULE
    if not path.is_file():
        warnings.append(f"no {TASKS_MODULE}: the scenario layout could not be checked")
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    absent = [label for label in _SCENARIO_LABELS if label not in text]
    if absent:
        warnings.append(f"{TASKS_MODULE} does not write {', '.join(absent)}: tau2's scenario "
                        "layout may differ from the one toolgym reproduces")


def extract_tau2(src: str | Path, out: str | Path, domains: list[str] | None = None,
                 force: bool = False) -> Tau2Extraction:
    """Build a prompt pack from a tau2-bench checkout (see the module docstring).

    Args:
        src: The checkout's root (it holds ``src/tau2/`` and ``data/tau2/``).
        out: The pack directory to write (new, empty, or with ``force`` an
            existing pack to overwrite).
        domains: Domains whose tools to extract (default: airline and retail).
        force: Overwrite the pack files of an existing directory.

    Raises:
        DataError: the checkout lacks something (the message names the file
            and what was expected in it), or ``out`` is not usable.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"{src}: tau2 checkout not found")
    if not (src / "src" / "tau2").is_dir():
        raise DataError(f"{src}: not a tau2-bench checkout (no src/tau2/ directory)")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise DataError(f"{out}: exists and is not empty (choose another --out, or --force to "
                        "overwrite a pack)")
    warnings: list[str] = []
    agent = _agent_template(src)
    user = _user_template(src)
    _check_scenario_layout(src, warnings)
    tools = {d: _domain_tools(src, d, warnings) for d in (domains or DEFAULT_DOMAINS)}
    out.mkdir(parents=True, exist_ok=True)
    (out / AGENT_FILE).write_text(agent, encoding="utf-8")
    (out / USER_FILE).write_text(user, encoding="utf-8")
    for domain, defs in tools.items():
        (out / domain).mkdir(exist_ok=True)
        (out / domain / TOOLS_FILE).write_text(json.dumps(defs, indent=2, ensure_ascii=False)
                                               + "\n", encoding="utf-8")
    write_manifest(out, PackManifest(
        source="tau2", description="Prompts read from a tau2-bench checkout by toolgym prompts "
        "extract-tau2.", origin=_origin(src), scenario_format="tau2", warnings=warnings))
    assert (out / MANIFEST).is_file()
    return Tau2Extraction(out, {d: len(t) for d, t in tools.items()}, warnings)
