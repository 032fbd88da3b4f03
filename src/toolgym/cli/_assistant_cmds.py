"""``toolgym synth requests``: generate requests for a simulated-tool domain.

(Meant to become ``toolgym synth requests`` once the ``synth`` command group lands.)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from toolgym.cli._common import err, fail, out, parse_kv
from toolgym.cli._run_cmds import _CLIENT_SETTINGS, user_errors


def read_topics(path: Path | None, domain: str) -> list[str]:
    """Topics from a file (one per line, ``#`` comments; or a JSON/YAML list).

    Without a file, the assistant domain's shipped topics.
    """
    from toolgym._io import load_json, load_yaml, read_text
    from toolgym.errors import DataError

    if path is None:
        if domain != "assistant":
            raise DataError(f"domain {domain!r} ships no topics: give --topics FILE")
        from toolgym.domains.assistant._builtin import topics_file

        text, source = read_text(topics_file(), "topics file"), "<built-in topics.txt>"
        raw: Any = None
    else:
        source = str(path)
        suffix = path.suffix.lower()
        raw = (load_json(path, "topics file") if suffix == ".json" else
               load_yaml(path, "topics file") if suffix in (".yaml", ".yml") else None)
        text = read_text(path, "topics file") if raw is None else ""
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise DataError(f"{source}: expected a list of topic strings")
        topics = [t.strip() for t in raw if t.strip()]
    else:
        topics = [line.strip() for line in text.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    if not topics:
        raise DataError(f"{source}: no topics in the file")
    return list(dict.fromkeys(topics))


def register(app: typer.Typer, name: str = "requests") -> None:
    """Add the request generator to a typer app (the ``synth`` group: ``synth requests``)."""

    @app.command(name)
    def synth_requests(
        out_file: Annotated[Path, typer.Option("--out", help="Request file to write (JSON).")],
        generator_model: Annotated[str, typer.Option(
            help="Model writing the requests (oracle: offline), or an endpoint alias.")],
        domain: Annotated[str, typer.Option(help="Domain whose tools the requests use.")
                          ] = "assistant",
        single_step: Annotated[int, typer.Option(help="Single-step requests to write.")
                               ] = 0,
        multi_step: Annotated[str | None, typer.Option(
            help="Multi-step requests, COUNTxSTEPS (e.g. 460x6).")] = None,
        topics: Annotated[Path | None, typer.Option(
            help="Topics, one per line (or a JSON/YAML list); one is drawn at random per "
                 "batch. Default: the assistant domain's shipped topics.")] = None,
        batch_size: Annotated[int, typer.Option(help="Requests asked for per call.")] = 10,
        concurrency: Annotated[int, typer.Option(help="Calls in flight.")] = 4,
        seed: Annotated[int, typer.Option(help="Seed of the topic draws.")] = 0,
        generator_base_url: Annotated[str | None, typer.Option(help="Generator endpoint.")
                                      ] = None,
        generator_api_key_env: Annotated[str | None, typer.Option(
            help="Env var with the key.")] = None,
        generator_arg: Annotated[list[str] | None, typer.Option(
            help="Generator argument k=v (sampling parameters, client settings).")] = None,
        endpoints: Annotated[Path | None, typer.Option(help="Endpoints file (toolgym.toml).")
                             ] = None,
        data_dir: Annotated[Path | None, typer.Option(help="The domain's data directory.")
                            ] = None,
        plugin: Annotated[list[str] | None, typer.Option(
            help="Module to import first (registers a custom domain); repeatable.")] = None,
        preflight: Annotated[bool, typer.Option(
            help="Check the generator endpoint first.")] = True,
    ) -> None:
        """Generate requests ({request, topic, intended_steps, kind}) with a model.

        Topics are drawn at random per batch, replies are parsed and validated
        (known tools, arguments fitting their schemas, the number of steps),
        duplicates dropped; each request keeps its topic, kind and provenance.
        Run the file with: toolgym run --domain assistant --tasks-file FILE.
        Exit status 1 when fewer requests than asked for could be generated.
        """
        from toolgym.domains import load_domain
        from toolgym.models._endpoints import load_dotenv, resolve_model
        from toolgym.models._retry import EndpointPool, build_model
        from toolgym.runner._run import import_plugins
        from toolgym.simtools import generate_requests, parse_steps_option

        load_dotenv()
        sys.path.insert(0, os.getcwd())
        with user_errors():
            multi, steps = parse_steps_option(multi_step) if multi_step else (0, 6)
            if single_step < 0:
                raise fail("--single-step must be >= 0", 2)
            if single_step == 0 and multi == 0:
                raise fail("nothing to generate: give --single-step N and/or "
                           "--multi-step COUNTxSTEPS", 2)
            import_plugins(list(plugin or []))
            dom = load_domain(domain, data_dir=data_dir)
            topic_list = read_topics(topics, domain)
            args = parse_kv(generator_arg, "--generator-arg")
            settings = {k: args.pop(k) for k in list(args) if k in _CLIENT_SETTINGS}
            config = resolve_model(generator_model, endpoints_file=endpoints,
                                   base_url=generator_base_url,
                                   api_key_env=generator_api_key_env, args=args, **settings)

            async def main() -> Any:
                if preflight:
                    from toolgym.models._preflight import PreflightError, check_endpoints

                    (check,) = await check_endpoints({"generator": config})
                    if not check.ok:
                        raise PreflightError(check.line() + " (nothing was generated; "
                                             "--no-preflight skips this check)")
                model = build_model(config, pool=EndpointPool())
                try:
                    return await generate_requests(
                        model, dom.openai_tools(), topic_list, single=single_step,
                        multi=multi, multi_steps=steps, batch_size=batch_size, seed=seed,
                        concurrency=concurrency, domain=dom)
                finally:
                    await model.aclose()

            result = asyncio.run(main())
        meta = {"domain": domain, "generator": config.model, "seed": seed,
                "topics": str(topics) if topics else "<built-in>", "multi_steps": steps,
                **result.meta()}
        payload = {"meta": meta,
                   "requests": [r.model_dump(mode="json", exclude_none=True)
                                for r in result.requests]}
        out_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_file.with_name(out_file.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, out_file)
        generated = meta["generated"]
        out.print(f"wrote {len(result.requests)} requests to {out_file} ("
                  + ", ".join(f"{generated.get(k, 0)} {k}-step" for k in result.wanted)
                  + f"; {result.batches} batches, {result.rejected} rejected, "
                  f"{result.duplicates} duplicates, {result.usage.calls} generator calls)",
                  highlight=False, markup=False)
        if result.reasons:
            err.print("rejected because: " + "; ".join(dict.fromkeys(result.reasons)),
                      highlight=False, markup=False)
        if not result.complete:
            err.print(f"only {len(result.requests)} of {sum(result.wanted.values())} "
                      "requests could be generated", highlight=False, markup=False)
            raise typer.Exit(1)
