"""Prompt packs: the texts a run sends, read from a directory instead of toolgym's own.

A prompt pack replaces, for a run, the agent's system-prompt frame, the tool
and parameter descriptions and the LLM user simulator's instructions. A pack
is a directory::

    prompt_pack.json            manifest (required): format, source, origin, files
    agent_system_prompt.txt     the agent's system prompt; {policy} marks the policy
    user_system_prompt.txt      the user simulator's system prompt; {scenario} marks
                                the task's scenario
    tools.json                  OpenAI tool definitions (a list), for every domain, or
    <domain>/tools.json         for one domain (taken before tools.json)

Every part is optional (what a pack leaves out stays toolgym's own), but a
pack provides at least one. ``toolgym prompts extract-tau2`` builds one from
a tau2-bench checkout, so a run can use exactly tau2's prompts without
toolgym shipping them. A data directory that holds ``prompt_pack.json`` is a
pack too, used by every run on it.

Placeholders are replaced literally (no other brace is special), once the
rest of the text is final. The pack's digest covers all of these files; a run
records it (:class:`PromptPackRef`), and a resume with another digest is
refused.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolgym._io import parse_json, read_bytes, read_text
from toolgym.errors import ConfigError, DataError
from toolgym.tasks import Task

__all__ = [
    "AGENT_FILE",
    "MANIFEST",
    "PART_NAMES",
    "TOOLS_FILE",
    "USER_FILE",
    "PackManifest",
    "PromptPack",
    "PromptPackRef",
    "file_digest",
    "find_prompt_pack",
    "load_prompt_pack",
    "scenario_text",
]

MANIFEST = "prompt_pack.json"
AGENT_FILE = "agent_system_prompt.txt"
USER_FILE = "user_system_prompt.txt"
TOOLS_FILE = "tools.json"
#: The parts a pack can provide, as :attr:`PromptPackRef.parts` names them.
PART_NAMES = ("agent_system_prompt", "tools", "user_system_prompt")
POLICY_MARK = "{policy}"
SCENARIO_MARK = "{scenario}"
PACK_FORMAT = 1


class PackManifest(BaseModel):
    """``prompt_pack.json``: what the pack is and where its texts come from."""

    model_config = ConfigDict(extra="forbid")

    format: int = Field(PACK_FORMAT, description="Pack format version (1).")
    source: str = Field("custom", description="Where the texts come from: 'tau2' for a pack "
                        "that toolgym prompts extract-tau2 built, anything else for your own.")
    description: str | None = Field(None, description="Free text.")
    origin: dict[str, str] = Field(
        default_factory=dict,
        description="Provenance, e.g. tau2_version, tau2_commit (what extract-tau2 could read).")
    scenario_format: Literal["toolgym", "tau2"] = Field(
        "toolgym", description="How {scenario} lays out a task's persona and instructions: "
        "toolgym's own block, or tau2's layout.")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="SHA-256 of each pack file at creation (relative path -> hex digest); a "
        "pack whose files still match them is unmodified.")
    warnings: list[str] = Field(default_factory=list,
                                description="What the pack's builder could not check.")


class PromptPackRef(BaseModel):
    """How a run records the prompt pack it used (``config.prompt_pack``)."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="The pack's directory (not compared on resume).")
    digest: str | None = Field(None, description="SHA-256 over the pack's files; filled in "
                               "when the run starts.")
    source: str | None = Field(None, description="The manifest's source ('tau2' for packs "
                               "built by toolgym prompts extract-tau2).")
    tau2: bool = Field(False, description="True when the run sent tau2-bench's own prompts: "
                       "the pack was extracted from a tau2 checkout, no file changed since, and "
                       "it replaced all three parts for the run's domain.")
    parts: list[str] = Field(default_factory=list, description="What the pack replaced for "
                             "this run's domain: agent_system_prompt, tools, "
                             "user_system_prompt.")
    origin: dict[str, str] = Field(default_factory=dict, description="The manifest's "
                                   "provenance (tau2 version and commit).")


def file_digest(data: bytes) -> str:
    """SHA-256 hex digest of a file's bytes (what a manifest's ``files`` lists)."""
    return hashlib.sha256(data).hexdigest()


def _pack_files(root: Path) -> list[str]:
    """Relative paths of the pack files under ``root``, sorted."""
    names = [n for n in (MANIFEST, AGENT_FILE, USER_FILE, TOOLS_FILE) if (root / n).is_file()]
    names += sorted(f"{d.name}/{TOOLS_FILE}" for d in root.iterdir()
                    if d.is_dir() and (d / TOOLS_FILE).is_file())
    return sorted(names)


def _check_tools(value: Any, source: str) -> list[dict[str, Any]]:
    """OpenAI tool definitions, each checked for a name, a description and parameters."""
    if not isinstance(value, list):
        raise DataError(f"{source}: expected a JSON list of OpenAI tool definitions")
    seen: set[str] = set()
    for i, tool in enumerate(value):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if (not isinstance(fn, dict) or tool.get("type") != "function"
                or not isinstance(fn.get("name"), str)):
            raise DataError(f"{source}: entry {i} is not a tool definition "
                            '({"type": "function", "function": {"name": ...}})')
        if not isinstance(fn.get("description", ""), str):
            raise DataError(f"{source}: tool {fn['name']!r}: description must be a string")
        if not isinstance(fn.get("parameters", {}), dict):
            raise DataError(f"{source}: tool {fn['name']!r}: parameters must be an object")
        if fn["name"] in seen:
            raise DataError(f"{source}: tool {fn['name']!r} is defined twice")
        seen.add(fn["name"])
    return value


@dataclass(frozen=True)
class PromptPack:
    """A loaded prompt pack (see the module docstring)."""

    path: Path
    manifest: PackManifest
    #: SHA-256 over every pack file (paths and contents).
    digest: str
    agent_template: str | None
    user_template: str | None
    #: Tool definitions by domain (``""``: the top-level tools.json).
    tools: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Every file is listed in the manifest with its digest, and still matches it.
    unmodified: bool = False

    def tools_for(self, domain: str) -> list[dict[str, Any]] | None:
        """The pack's tool definitions for ``domain`` (None: the pack has none)."""
        return self.tools.get(domain, self.tools.get(""))

    def parts(self, domain: str) -> list[str]:
        """The parts this pack replaces for ``domain``."""
        has = (self.agent_template is not None, self.tools_for(domain) is not None,
               self.user_template is not None)
        return [name for name, present in zip(PART_NAMES, has, strict=True) if present]

    def ref(self, domain: str) -> PromptPackRef:
        """What a run on ``domain`` records about this pack."""
        parts = self.parts(domain)
        return PromptPackRef(path=str(self.path), digest=self.digest,
                             source=self.manifest.source,
                             tau2=(self.manifest.source == "tau2" and self.unmodified
                                   and parts == list(PART_NAMES)),
                             parts=parts, origin=dict(self.manifest.origin))

    def agent_system_prompt(self, policy: str) -> str:
        """The agent's system prompt for a domain policy (the policy as it is)."""
        assert self.agent_template is not None
        return self.agent_template.replace(POLICY_MARK, policy)

    def user_system_prompt(self, task: Task) -> str:
        """The user simulator's system prompt for ``task``."""
        assert self.user_template is not None
        return self.user_template.replace(SCENARIO_MARK,
                                          scenario_text(task, self.manifest.scenario_format))

    def domain_tools(self, domain: str, names: list[str]) -> list[dict[str, Any]] | None:
        """The pack's tools for a domain whose toolkit has ``names``, checked.

        Raises:
            ConfigError: the pack's tool names are not exactly the domain's.
        """
        tools = self.tools_for(domain)
        if tools is None:
            return None
        have = {t["function"]["name"] for t in tools}
        missing, extra = sorted(set(names) - have), sorted(have - set(names))
        if missing or extra:
            where = self.path / domain / TOOLS_FILE
            if not where.is_file():
                where = self.path / TOOLS_FILE
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if extra:
                problems.append(f"no such tool in domain {domain!r}: {', '.join(extra)}")
            raise ConfigError(f"prompt pack {where}: tools do not match the domain's "
                              f"({'; '.join(problems)})")
        return tools


def find_prompt_pack(directory: str | Path | None) -> Path | None:
    """``directory`` when it holds a pack manifest (a data dir used as a pack)."""
    if directory is None:
        return None
    path = Path(directory)
    return path if (path / MANIFEST).is_file() else None


def load_prompt_pack(path: str | Path) -> PromptPack:
    """Read and check a prompt pack.

    Raises:
        DataError: no such directory, no manifest, a malformed file, a
            template without its placeholder, or a pack with no part at all
            (one line naming the file).
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: prompt pack directory not found")
    if not (root / MANIFEST).is_file():
        raise DataError(f"{root}: not a prompt pack (no {MANIFEST}; "
                        "toolgym prompts extract-tau2 builds one)")
    names = _pack_files(root)
    h = hashlib.sha256()
    raw: dict[str, bytes] = {}
    for name in names:
        data = read_bytes(root / name, "prompt pack file")
        raw[name] = data
        h.update(name.encode() + b"\0" + data + b"\0")
    source = str(root / MANIFEST)
    try:
        manifest = PackManifest.model_validate(parse_json(raw[MANIFEST].decode("utf-8",
                                                                                "replace"),
                                                          source))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DataError(f"{source}: field {loc}: {err['msg']}") from None
    if manifest.format != PACK_FORMAT:
        raise DataError(f"{source}: pack format {manifest.format} is not supported "
                        f"(this toolgym reads format {PACK_FORMAT})")
    agent = read_text(root / AGENT_FILE, "prompt pack file") if AGENT_FILE in raw else None
    if agent is not None and POLICY_MARK not in agent:
        raise DataError(f"{root / AGENT_FILE}: no {POLICY_MARK} placeholder (where the "
                        "domain policy goes)")
    user = read_text(root / USER_FILE, "prompt pack file") if USER_FILE in raw else None
    if user is not None and SCENARIO_MARK not in user:
        raise DataError(f"{root / USER_FILE}: no {SCENARIO_MARK} placeholder (where the "
                        "task's scenario goes)")
    tools: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        if name == TOOLS_FILE or name.endswith("/" + TOOLS_FILE):
            where = str(root / name)
            domain = "" if name == TOOLS_FILE else name.split("/")[0]
            tools[domain] = _check_tools(parse_json(raw[name].decode("utf-8", "replace"),
                                                    where), where)
    if agent is None and user is None and not tools:
        raise DataError(f"{root}: the prompt pack has none of {AGENT_FILE}, {USER_FILE}, "
                        f"{TOOLS_FILE}")
    content = [n for n in names if n != MANIFEST]
    unmodified = bool(manifest.files) and set(manifest.files) == set(content) and all(
        manifest.files[n] == file_digest(raw[n]) for n in content)
    return PromptPack(root.resolve(), manifest, h.hexdigest(), agent, user, tools, unmodified)


# ---------------------------------------------------------------- scenario text
def _toolgym_scenario(task: Task) -> str:
    from toolgym.users._prompts import scenario_block

    return scenario_block(task)


def _tau2_scenario(task: Task) -> str:
    """A task's scenario in tau2's layout: labelled fields, each value indented by a tab."""
    scenario = task.user_scenario
    tab = "\t"
    instructions = scenario.instructions
    if isinstance(instructions, str):
        body = instructions
    else:
        rows = [f"Domain: {instructions.domain}",
                f"Reason for call:\n{textwrap.indent(instructions.reason_for_call, tab)}"]
        if instructions.known_info is not None:
            rows.append(f"Known info:\n{textwrap.indent(instructions.known_info, tab)}")
        if instructions.unknown_info is not None:
            rows.append(f"Unknown info:\n{textwrap.indent(instructions.unknown_info, tab)}")
        rows.append("Task instructions:\n"
                    f"{textwrap.indent(instructions.task_instructions or '', tab)}")
        body = "\n".join(rows)
    lines = []
    if scenario.persona is not None:
        lines += ["Persona:", textwrap.indent(scenario.persona, tab)]
    lines += ["Instructions:", textwrap.indent(body, tab)]
    return "\n".join(lines)


def scenario_text(task: Task, layout: str = "toolgym") -> str:
    """The text that replaces ``{scenario}``: the task's persona and instructions.

    Args:
        task: The task.
        layout: ``toolgym`` (the block toolgym's own user prompt uses) or
            ``tau2`` (tau2's layout: ``Persona:`` / ``Instructions:`` and, for
            structured instructions, ``Domain:``, ``Reason for call:``,
            ``Known info:``, ``Unknown info:``, ``Task instructions:``, each
            value indented by a tab).
    """
    return _tau2_scenario(task) if layout == "tau2" else _toolgym_scenario(task)


def write_manifest(root: Path, manifest: PackManifest) -> None:
    """Write ``prompt_pack.json``, listing the digest of every other pack file."""
    files = {n: file_digest((root / n).read_bytes()) for n in _pack_files(root) if n != MANIFEST}
    data = manifest.model_copy(update={"files": files}).model_dump(mode="json")
    (root / MANIFEST).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
