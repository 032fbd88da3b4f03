"""``toolgym slurm render``: sbatch scripts for a sweep, from templates the user can edit.

For each ``[serve.<alias>]`` of the sweep file, a server job starts vLLM with
``toolgym serve vllm --foreground`` and writes the base URL where the sweep's
``[endpoints.<alias>] base_url_file`` reads it. The experiment is one array
job: each array task waits for the servers it needs (``toolgym serve vllm
--wait-only``) and runs its shard of the sweep (``toolgym sweep FILE``, which
takes the shard from ``SLURM_ARRAY_TASK_ID`` / ``SLURM_ARRAY_TASK_COUNT``).
The templates are written to ``OUT/templates/`` the first time; edit them
(partition, account, modules, GPUs) and render again. They are Python
``string.Template`` texts: ``${name}`` is filled in, a shell ``$`` is written ``$$``.
"""

from __future__ import annotations

import shlex
import string
from pathlib import Path
from typing import Any

from toolgym.errors import ConfigError, DataError
from toolgym.runner._store import write_text_atomic
from toolgym.runner._sweep import Sweep

__all__ = ["SERVER_TEMPLATE", "SWEEP_TEMPLATE", "render_slurm"]

SERVER_TEMPLATE = """#!/bin/bash
#SBATCH --job-name=toolgym-serve-${alias}
#SBATCH --partition=${partition}
#SBATCH --gres=gpu:${gpus}
#SBATCH --time=${time}
#SBATCH --output=${out}/logs/serve-${alias}-%j.out
set -euo pipefail
${setup}
mkdir -p "$$(dirname ${url_file})"
rm -f ${url_file}
# Binds all interfaces; the URL written for the experiment uses this node's name.
toolgym serve vllm --model ${model} --port ${port} --host 0.0.0.0 \\
  --public-host "$$(hostname)" --log ${out}/logs/vllm-${alias}.log \\
  --url-file ${url_file} --foreground ${extra}
"""

SWEEP_TEMPLATE = """#!/bin/bash
#SBATCH --job-name=toolgym-sweep
#SBATCH --partition=${partition}
#SBATCH --array=0-${last}
#SBATCH --time=${time}
#SBATCH --output=${out}/logs/sweep-%A_%a.out
set -euo pipefail
${setup}
${waits}
# The shard comes from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT.
toolgym sweep ${sweep_file} --display plain
"""

SUBMIT_TEMPLATE = """#!/bin/bash
# Start the model servers, then the experiment array (it waits for the servers).
set -euo pipefail
cd "$$(dirname "$$0")"
${servers}
sbatch sweep.sbatch
"""


class _Template:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.template = path, string.Template(text)

    def substitute(self, *maps: dict[str, Any], **values: Any) -> str:
        merged: dict[str, Any] = {}
        for m in maps:
            merged.update(m)
        merged.update(values)
        try:
            return self.template.substitute(merged)
        except KeyError as exc:
            raise DataError(f"{self.path}: unknown placeholder ${{{exc.args[0]}}}") from None
        except ValueError as exc:
            raise DataError(f"{self.path}: {exc} (write a shell $ as $$)") from None


def _template(folder: Path, name: str, default: str) -> _Template:
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, default)
    return _Template(path, path.read_text(encoding="utf-8"))


def render_slurm(sweep: Sweep, out: str | Path, shards: int | None = None) -> list[Path]:
    """Write the sbatch scripts of a sweep into ``out`` (see the module docstring).

    Args:
        sweep: The loaded sweep.
        out: The folder for scripts, templates and logs.
        shards: Array size (default: one task per configuration).

    Returns:
        The scripts written.
    """
    out = Path(out).resolve()
    slurm: dict[str, Any] = sweep.slurm
    n = shards or len(sweep.entries)
    if n < 1:
        raise ConfigError("the array needs at least one task")
    common = {"partition": slurm.get("partition", "gpu"), "time": slurm.get("time", "24:00:00"),
              "setup": slurm.get("setup", "# module load / venv activation here"),
              "out": shlex.quote(str(out))}
    templates = out / "templates"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    written = []
    waits = []
    servers = []
    for alias, spec in sweep.serve.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("model"), str):
            raise DataError(f"{sweep.path}: [serve.{alias}] needs a model")
        endpoint = sweep.endpoints.get(alias)
        if endpoint is None or "base_url_file" not in endpoint:
            raise DataError(f"{sweep.path}: [serve.{alias}] needs an [endpoints.{alias}] with "
                            "base_url_file (where the experiment reads the server's URL)")
        url_file = shlex.quote(str(endpoint["base_url_file"]))
        served = str(endpoint["model"]).split("/", 1)[-1]
        extra = " ".join(shlex.quote(str(a)) for a in spec.get("args", []))
        script = _template(templates, "server.sbatch.tmpl", SERVER_TEMPLATE).substitute(
            common, alias=alias, model=shlex.quote(spec["model"]),
            port=int(spec.get("port", 8000)), gpus=int(spec.get("gpus", 1)),
            url_file=url_file, extra=("-- " + extra) if extra else "")
        path = out / f"server_{alias}.sbatch"
        write_text_atomic(path, script)
        written.append(path)
        servers.append(f"sbatch server_{alias}.sbatch")
        waits.append(f"until [ -s {url_file} ]; do sleep 10; done\n"
                     f"toolgym serve vllm --wait-only --model {shlex.quote(served)} "
                     f"--base-url \"$(cat {url_file})\" --timeout 3600")
    script = _template(templates, "sweep.sbatch.tmpl", SWEEP_TEMPLATE).substitute(
        common, last=n - 1, waits="\n".join(waits) or "# no servers to wait for",
        sweep_file=shlex.quote(str(sweep.path.resolve())))
    path = out / "sweep.sbatch"
    write_text_atomic(path, script)
    written.append(path)
    submit = _Template(out / "submit.sh", SUBMIT_TEMPLATE).substitute(
        servers="\n".join(servers) or "# no servers")
    path = out / "submit.sh"
    write_text_atomic(path, submit)
    path.chmod(0o755)
    written.append(path)
    return written
