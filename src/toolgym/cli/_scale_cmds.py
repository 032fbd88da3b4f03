"""``toolgym serve vllm | sweep | sweep report | slurm render``: running at scale."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from toolgym.cli._common import err, fail, out

__all__ = ["register"]

serve_app = typer.Typer(no_args_is_help=True, help="Start model servers and wait until they "
                        "are usable.")
slurm_app = typer.Typer(no_args_is_help=True, help="Slurm scripts for a sweep.")


class _DefaultToRun(TyperGroup):
    """``toolgym sweep FILE`` is short for ``toolgym sweep run FILE``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=_DefaultToRun, no_args_is_help=True,
                        help="Run a grid of configurations (toolgym sweep FILE), or report it.")


@serve_app.command("vllm", context_settings={"allow_extra_args": True,
                                             "ignore_unknown_options": True})
def serve_vllm(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="The model to serve (the name requests use).")],
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    public_host: Annotated[str | None, typer.Option(
        help="Host name others reach the server by (in the printed and written URL).")
                           ] = None,
    tool_call_parser: Annotated[str | None, typer.Option(
        help="vLLM --tool-call-parser (default: guessed from the model family).")] = None,
    log: Annotated[Path | None, typer.Option(help="Server log file.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 900.0,
    poll: Annotated[float, typer.Option(help="Seconds between readiness checks.")] = 2.0,
    url_file: Annotated[Path | None, typer.Option(help="Write the base URL to this file.")
                        ] = None,
    env_file: Annotated[Path | None, typer.Option(
        help="Append NAME=URL to this env file (see --env-var).")] = None,
    env_var: Annotated[str, typer.Option(help="Variable name for --env-file.")
                       ] = "OPENAI_BASE_URL",
    wait_only: Annotated[bool, typer.Option(
        help="Start nothing: wait for a server started elsewhere.")] = False,
    base_url: Annotated[str | None, typer.Option(
        help="With --wait-only: the server's base URL (default from --host/--port).")] = None,
    foreground: Annotated[bool, typer.Option(
        help="Stay attached to the server until it exits (for a Slurm server job).")] = False,
) -> None:
    """Start vLLM's OpenAI-compatible server; return once /v1/models lists the model and a
    one-token completion works. Arguments after -- go to vllm serve."""
    from toolgym.serve import ServeError, start_vllm, wait_until_ready

    try:
        if wait_only and base_url:
            seconds = wait_until_ready(base_url, model, timeout_s=timeout, poll_s=poll)
            url, pid = base_url, None
        else:
            server = start_vllm(model, port=port, host=host, tool_call_parser=tool_call_parser,
                                log=log, extra=list(ctx.args), timeout_s=timeout, poll_s=poll,
                                wait_only=wait_only)
            url, pid, seconds = server.base_url, server.pid, server.seconds
    except (ServeError, OSError) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        from toolgym.errors import ToolgymError

        if isinstance(exc, ToolgymError):
            raise fail(str(exc)) from None
        raise
    if public_host:
        url = url.replace("127.0.0.1", public_host, 1)
    if url_file is not None:
        url_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = url_file.with_name(url_file.name + ".tmp")
        tmp.write_text(url + "\n", encoding="utf-8")
        os.replace(tmp, url_file)
    if env_file is not None:
        with open(env_file, "a", encoding="utf-8") as fh:
            fh.write(f"{env_var}={url}\n")
    err.print(f"ready in {seconds:.1f} s" + (f" (pid {pid})" if pid else ""), highlight=False)
    out.print(url, highlight=False, markup=False)
    if foreground and pid:
        import time

        while _alive(pid):
            time.sleep(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _sweep_table(entries: list[Any], title: str) -> Table:
    from toolgym.runner._store import load_run

    table = Table(title=title)
    for col in ("configuration", "rollouts", "pass^1 [95% CI]", "pass^k", "cost", "status"):
        table.add_column(col)
    for e in entries:
        if not (e.run_dir / "summary.json").exists():
            table.add_row(escape(e.name), "-", "-", "-", "-", "not run")
            continue
        s = load_run(e.run_dir).summary
        curve = (s.get("pass_k") or {}).get("tau-bench") or {}
        ci = s.get("pass1_ci")
        p1 = curve.get("1")
        cost = s.get("cost")
        table.add_row(
            escape(e.name), str(s.get("n_rollouts", 0)),
            "-" if p1 is None else f"{p1:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""),
            " ".join(f"{v:.2f}" for v in curve.values() if v is not None) or "-",
            cost if isinstance(cost, str) else f"${cost:.4f}", str(s.get("status")))
    return table


@sweep_app.command("run")
def sweep_run(
    sweep_file: Annotated[Path, typer.Argument(help="The sweep file (TOML).")],
    shard: Annotated[str | None, typer.Option(
        help="I/N: run every N-th configuration (default under a Slurm array: "
             "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT).")] = None,
    display: Annotated[str, typer.Option(help="rich, plain or none.")] = "none",
    preflight: Annotated[bool, typer.Option(help="Check the endpoints of each run.")] = True,
) -> None:
    """Run each configuration of a sweep into its own run directory (resumable)."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.runner._api import build_config, run_async
    from toolgym.runner._shard import shard_from_env
    from toolgym.runner._sweep import load_sweep, run_options

    with user_errors():
        sweep = load_sweep(sweep_file)
        mine = sweep.shard(shard or shard_from_env())
        failed = 0
        for e in mine:
            err.print(f"[{e.index + 1}/{len(sweep.entries)}] {e.name}", highlight=False,
                      markup=False)
            config = build_config(**run_options(sweep, e))
            data = asyncio.run(run_async(config, out=e.run_dir, display=display, console=err,
                                         preflight=preflight))
            if not data.summary.get("complete") or data.summary.get("infra_errors"):
                failed += 1
    out.print(_sweep_table(sweep.entries, f"Sweep {escape(str(sweep_file))}: "
                                          f"{len(mine)} of {len(sweep.entries)} run here"))
    if failed:
        err.print(f"{failed} configuration(s) incomplete or with infrastructure errors: "
                  f"rerun toolgym sweep {sweep_file} to resume them", highlight=False,
                  markup=False)
        raise typer.Exit(3)


@sweep_app.command("report")
def sweep_report(
    sweep_file: Annotated[Path, typer.Argument(help="The sweep file (TOML).")],
    out_file: Annotated[Path, typer.Option("-o", "--out", help="HTML file.")] = Path(
        "sweep.html"),
) -> None:
    """One HTML report over every configuration of a sweep that has results."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.report import render_report
    from toolgym.runner._store import load_run
    from toolgym.runner._sweep import load_sweep

    with user_errors():
        sweep = load_sweep(sweep_file)
        runs = [load_run(e.run_dir) for e in sweep.entries if (e.run_dir / "results.jsonl")
                .exists()]
        runs = [r for r in runs if r.results]
        if not runs:
            raise fail(f"{sweep_file}: no configuration has results yet (toolgym sweep "
                       f"{sweep_file})")
        path = render_report(runs, out_file, title=f"Sweep {sweep_file.name}")
    out.print(str(path), highlight=False, markup=False)


@slurm_app.command("render")
def slurm_render(
    sweep_file: Annotated[Path, typer.Argument(help="The sweep file (TOML).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the scripts.")],
    shards: Annotated[int | None, typer.Option(
        help="Array tasks (default: one per configuration).")] = None,
) -> None:
    """Write sbatch scripts: one server job per [serve.X], an array job running the sweep."""
    from toolgym.cli._run_cmds import user_errors
    from toolgym.executors import render_slurm
    from toolgym.runner._sweep import load_sweep

    with user_errors():
        paths = render_slurm(load_sweep(sweep_file), out_dir, shards)
    for p in paths:
        out.print(str(p), highlight=False, markup=False)
    out.print(f"edit {out_dir / 'templates'} if needed, then: bash {out_dir / 'submit.sh'}",
              highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add serve, sweep and slurm to the app."""
    app.add_typer(serve_app, name="serve")
    app.add_typer(sweep_app, name="sweep")
    app.add_typer(slurm_app, name="slurm")
