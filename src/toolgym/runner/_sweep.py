"""Sweeps: a grid of run configurations in one TOML file (``toolgym sweep``).

::

    [sweep]
    out = "runs/sweep"              # where the run directories go (relative to this file)

    [base]                          # options every run shares (as for toolgym.run)
    domain = "airline"
    user = "scripted"
    trials = 2
    tasks = "0-9"

    [grid]                          # every combination is one run
    agent_model = ["oracle", "qwen"]
    agent_model_args = [{}, {temperature = 0.7}]   # model arguments, merged in
    agent_args = [{}]                              # strategy arguments

    [endpoints.qwen]                # named endpoints, as in toolgym.toml
    model = "openai/Qwen/Qwen3-32B"
    base_url_file = "urls/qwen.url" # read when the run starts (toolgym serve vllm writes it)

    [serve.qwen]                    # optional: how toolgym slurm render starts the server
    model = "Qwen/Qwen3-32B"
    port = 8007

Each configuration's run directory is named after the grid values that vary
(``agent_model=qwen__agent_args=error_rate-0.3``), made safe for any model
name; ``--shard I/N`` runs every N-th configuration (Slurm arrays).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym._io import load_toml
from toolgym.errors import ConfigError, DataError

__all__ = ["Sweep", "SweepEntry", "load_sweep"]

_GRID_KEYS = ("domain", "data_dir", "tasks_file", "agent", "agent_model", "agent_model_args",
              "agent_args", "user", "user_model", "user_model_args", "user_args",
              "judge_model", "judge_model_args", "system_prompt_file", "trials", "seed",
              "max_steps", "split", "tasks")
_PATH_KEYS = ("data_dir", "tasks_file", "system_prompt_file")
_MAX_NAME = 120


@dataclass
class SweepEntry:
    """One configuration of a sweep."""

    index: int
    name: str
    options: dict[str, Any]
    run_dir: Path


@dataclass
class Sweep:
    """A loaded sweep file."""

    path: Path
    out: Path
    entries: list[SweepEntry]
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    serve: dict[str, dict[str, Any]] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)

    def shard(self, shard: str | None) -> list[SweepEntry]:
        """The entries a shard runs (every N-th, by index)."""
        if shard is None:
            return list(self.entries)
        from toolgym.runner._shard import parse_shard

        i, n = parse_shard(shard)
        return self.entries[i::n]


def _slug(value: Any) -> str:
    if isinstance(value, dict):
        text = ",".join(f"{k}-{v}" for k, v in sorted(value.items())) or "none"
    elif isinstance(value, list):
        text = ",".join(map(str, value))
    else:
        text = str(value)
        if "/" in text and Path(text).suffix:  # a file: its name says enough
            text = Path(text).stem
    slug = re.sub(r"[^A-Za-z0-9._,-]+", "-", text).strip("-.")
    return slug or "x"


def _name(varying: dict[str, Any]) -> str:
    name = "__".join(f"{k}={_slug(v)}" for k, v in varying.items()) or "base"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(json.dumps(varying, sort_keys=True, default=str)
                                .encode()).hexdigest()[:10]
        name = name[: _MAX_NAME - 11] + "-" + digest
    return name


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (one clear line per problem)."""
    p = Path(path)
    data = load_toml(p, "sweep file")
    unknown = sorted(set(data) - {"sweep", "base", "grid", "endpoints", "serve", "slurm"})
    if unknown:
        raise DataError(f"{p}: unknown section(s) {', '.join(unknown)} (sweep, base, grid, "
                        "endpoints, serve, slurm)")
    here = p.parent
    sweep = data.get("sweep") or {}
    base = dict(data.get("base") or {})
    grid = data.get("grid") or {}
    if not isinstance(grid, dict) or not grid:
        raise DataError(f"{p}: [grid] must hold at least one list of values")
    for key, values in grid.items():
        if key not in _GRID_KEYS:
            raise DataError(f"{p}: [grid] {key!r} cannot vary (known: {', '.join(_GRID_KEYS)})")
        if not isinstance(values, list) or not values:
            raise DataError(f"{p}: [grid] {key} must be a non-empty list")
    for key in _PATH_KEYS:
        if isinstance(base.get(key), str):
            base[key] = str((here / base[key]).resolve())
    out = (here / str(sweep.get("out", "runs/sweep"))).resolve()
    keys = list(grid)
    entries = []
    names: set[str] = set()
    for i, combo in enumerate(itertools.product(*(grid[k] for k in keys))):
        varying = dict(zip(keys, combo, strict=True))
        options = {**base, **varying}
        for key in _PATH_KEYS:
            if isinstance(varying.get(key), str):
                options[key] = str((here / varying[key]).resolve())
        name = _name(varying)
        if name in names:
            raise DataError(f"{p}: two grid points would share the run directory {name!r}")
        names.add(name)
        entries.append(SweepEntry(i, name, options, out / name))
    endpoints = data.get("endpoints") or {}
    for alias, ep in endpoints.items():
        if not isinstance(ep, dict) or not isinstance(ep.get("model"), str):
            raise DataError(f"{p}: [endpoints.{alias}] needs a model")
        if isinstance(ep.get("base_url_file"), str):
            ep["base_url_file"] = str((here / ep["base_url_file"]).resolve())
    return Sweep(p, out, entries, endpoints, data.get("serve") or {}, data.get("slurm") or {})


def resolve_endpoint(sweep: Sweep, spec: Any) -> Any:
    """A grid/base model value: an alias of the sweep's endpoints, or a model string."""
    if not isinstance(spec, str) or spec not in sweep.endpoints:
        return spec
    ep = dict(sweep.endpoints[spec])
    url_file = ep.pop("base_url_file", None)
    if url_file is not None:
        try:
            ep["base_url"] = Path(url_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"endpoint {spec!r}: its base URL file {url_file} is not there "
                              "yet (is its server started? toolgym serve vllm --url-file ...)"
                              ) from None
    return ep


def run_options(sweep: Sweep, entry: SweepEntry) -> dict[str, Any]:
    """The keyword arguments of :func:`toolgym.runner._api.build_config` for an entry."""
    options = dict(entry.options)
    for role in ("agent", "user", "judge"):
        key = f"{role}_model"
        extra = options.pop(f"{key}_args", None)
        if key in options:
            options[key] = resolve_endpoint(sweep, options[key])
        if extra:
            model = options.get(key, "oracle" if role == "agent" else None)
            if model is None:
                raise ConfigError(f"{key}_args given without a {key}")
            model = {"model": model} if isinstance(model, str) else dict(model)
            model["args"] = {**(model.get("args") or {}), **extra}
            options[key] = model
    return options
