"""``toolgym prompts extract-tau2`` and ``toolgym prompts show``: prompt packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolgym.cli._common import err, fail, out
from toolgym.errors import ToolgymError
from toolgym.prompts._tau2 import TAU2_LAYOUT

_EXTRACT_HELP = f"""Build a prompt pack from a tau2-bench checkout you have.

The pack holds tau2's agent system prompt, its tool and parameter
descriptions and its user-simulator instructions, read from the checkout
(Python files with ast, never imported), so that `toolgym run --prompt-pack
PACK` sends exactly tau2's prompts. toolgym itself ships none of them.

Expected layout, relative to --tau2-src:

\b
{TAU2_LAYOUT}

Anything missing is an error naming the file and what was expected in it.
"""


def register(app: typer.Typer) -> None:
    """Add the ``prompts`` command group to the app."""
    prompts_app = typer.Typer(help="Prompt packs: run with another set of prompts, e.g. "
                              "tau2-bench's own.", no_args_is_help=True)
    app.add_typer(prompts_app, name="prompts")

    @prompts_app.command("extract-tau2", help=_EXTRACT_HELP)
    def extract_tau2(
        tau2_src: Annotated[Path, typer.Option(help="Root of a tau2-bench checkout.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Pack directory to write.")],
        domain: Annotated[list[str] | None, typer.Option(
            help="Domain whose tools to extract (repeatable; default: airline and retail).")
        ] = None,
        force: Annotated[bool, typer.Option(
            help="Overwrite the pack files of an existing directory.")] = False,
    ) -> None:
        from toolgym.prompts import extract_tau2 as extract
        from toolgym.prompts import load_prompt_pack

        try:
            result = extract(tau2_src, out_dir, domains=domain, force=force)
            pack = load_prompt_pack(result.out)
        except ToolgymError as exc:
            raise fail(str(exc)) from None
        for warning in result.warnings:
            err.print(f"warning: {warning}", highlight=False, markup=False)
        tools = ", ".join(f"{d} ({n} tools)" for d, n in result.domains.items())
        out.print(f"wrote {result.out}: agent and user prompts, {tools}; digest {pack.digest}",
                  highlight=False, markup=False)

    @prompts_app.command("show")
    def show(
        pack_dir: Annotated[Path, typer.Argument(help="Prompt pack directory.")],
        domain: Annotated[str | None, typer.Option(
            help="Check the pack's tools against this domain's.")] = None,
    ) -> None:
        """Describe a prompt pack: source, digest, whether its files are unmodified, parts."""
        from toolgym.domains import load_domain
        from toolgym.prompts import load_prompt_pack

        try:
            pack = load_prompt_pack(pack_dir)
            if domain is not None:
                d = load_domain(domain)
                pack.domain_tools(domain, [t["function"]["name"] for t in d.openai_tools()])
        except ToolgymError as exc:
            raise fail(str(exc)) from None
        m = pack.manifest
        lines = [f"pack: {pack.path}", f"source: {m.source}", f"digest: {pack.digest}",
                 f"unmodified: {'yes' if pack.unmodified else 'no'}"
                 + ("" if m.files else " (the manifest lists no file digests)"),
                 f"scenario layout: {m.scenario_format}"]
        lines += [f"origin {k}: {v}" for k, v in sorted(m.origin.items())]
        lines.append("agent system prompt: " + ("yes" if pack.agent_template else "no"))
        lines.append("user system prompt: " + ("yes" if pack.user_template else "no"))
        for name, tools in sorted(pack.tools.items()):
            lines.append(f"tools ({name or 'every domain'}): {len(tools)}")
        lines += [f"warning: {w}" for w in m.warnings]
        for line in lines:
            out.print(line, highlight=False, markup=False)
