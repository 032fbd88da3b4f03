"""A stand-in tau2-bench checkout: the layout ``toolgym prompts extract-tau2`` reads.

Every text in it is invented for the tests (none is tau2's). Its tool modules
exit the interpreter when imported, so a test fails loudly should the
extractor ever import a checkout instead of reading it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from toolgym.domains import get_spec

COMMIT = "0123456789abcdef0123456789abcdef01234567"

AGENT_MODULE = '''\
"""Stand-in agent module."""
import sys

AGENT_INSTRUCTION = """
Stand-in instruction line one.
Braces such as {this} are text here, not fields.
""".strip()

SYSTEM_PROMPT = """
<stand-in-instructions>
{agent_instruction}
</stand-in-instructions>
<stand-in-policy>
{domain_policy}
</stand-in-policy>
""".strip()

sys.exit("the stand-in agent module was imported")
'''

USER_MODULE = '''\
"""Stand-in user simulator module."""
SYSTEM_PROMPT = """
{global_user_sim_guidelines}

<stand-in-scenario>
{instructions}
</stand-in-scenario>
""".strip()
'''

GUIDELINES = "# Stand-in guidelines\nPlay the customer. Use {curly} text freely.\n"

TASKS_MODULE = '''\
class StandInScenario:
    def __str__(self):
        labels = ["Persona:", "Instructions:", "Domain:", "Reason for call:", "Known info:",
                  "Unknown info:", "Task instructions:"]
        return "\\n".join(labels)
'''

AIRLINE_MODELS = '''\
from pydantic import BaseModel, Field


class FlightInfo(BaseModel):
    """Stand-in flight info."""

    flight_number: str = Field(description="Stand-in flight number text.")
    date: str = Field(description="Stand-in date text.")


class Passenger(BaseModel):
    first_name: str = Field(description="Stand-in first name.")
    last_name: str
    dob: str = Field(description="Stand-in birth date.")
'''


def tool_description(domain: str, name: str) -> str:
    return f"Stand-in {domain} {name} summary."


def tool_module(domain: str) -> str:
    """A tools.py whose @is_tool methods have toolgym's tool names and parameters."""
    specs = get_spec(domain).toolkit_type.tool_specs()
    methods = []
    for name, (_, _, params) in sorted(specs.items()):
        args = list(params["properties"])
        doc = [f"{tool_description(domain, name)}", ""]
        if name in ("book_reservation", "exchange_delivered_order_items"):
            doc += ["A longer stand-in explanation,", "on two lines.", ""]
        if args:
            doc.append("Args:")
            for arg in args:
                doc.append(f"    {arg}: Stand-in text for {arg}.")
                if arg in ("flights", "item_ids"):
                    doc.append("        It goes on here.")
            doc += ["", "Returns:", "    Stand-in result."]
        body = textwrap.indent('"""' + "\n".join(doc) + '\n"""\nraise NotImplementedError',
                               "        ")
        signature = ", ".join(["self", *args])
        methods.append(f"    @is_tool(ToolType.READ)\n    def {name}({signature}):\n{body}\n")
    return ("import sys\nfrom stand_in import ToolType, is_tool\n\n"
            "sys.exit('the stand-in tools module was imported')\n\n\n"
            f"class StandIn{domain.title()}Tools:\n" + "\n".join(methods) + "\n"
            "    def _helper(self):\n        \"\"\"Not a tool.\"\"\"\n")


def write_standin(root: Path, domains: tuple[str, ...] = ("airline", "retail")) -> Path:
    """Write a stand-in tau2 checkout under ``root``; return ``root``."""
    files: dict[str, str] = {
        "pyproject.toml": '[project]\nname = "tau2"\nversion = "0.0.0-standin"\n',
        ".git/HEAD": "ref: refs/heads/main\n",
        ".git/refs/heads/main": COMMIT + "\n",
        "src/tau2/__init__.py": "",
        "src/tau2/agent/llm_agent.py": AGENT_MODULE,
        "src/tau2/agent/base.py": "X = 1\n",
        "src/tau2/user/user_simulator.py": USER_MODULE,
        "data/tau2/user_simulator/simulation_guidelines.md": GUIDELINES,
        "src/tau2/data_model/tasks.py": TASKS_MODULE,
        "src/tau2/domains/airline/data_model.py": AIRLINE_MODELS,
    }
    for domain in domains:
        files[f"src/tau2/domains/{domain}/tools.py"] = tool_module(domain)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def expected_agent_template() -> str:
    return ("<stand-in-instructions>\nStand-in instruction line one.\nBraces such as {this} "
            "are text here, not fields.\n</stand-in-instructions>\n<stand-in-policy>\n"
            "{policy}\n</stand-in-policy>")


def expected_user_template() -> str:
    return GUIDELINES + "\n\n<stand-in-scenario>\n{scenario}\n</stand-in-scenario>"

