"""``toolgym finetune recipe``: a ready TRL ``SFTTrainer`` script for a built dataset.

Training needs a GPU machine and is not run here. What can be checked
anywhere is done by :func:`prepare_sft_data`: it loads the exported files
with ``datasets`` and checks the columns and types that ``SFTTrainer`` reads
for the chosen loss (conversational ``messages`` with object arguments for
``assistant_only_loss``; ``prompt``/``completion`` for
``completion_only_loss``); the generated script calls it before training,
and ``--dry-run`` runs it from the command line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from toolgym.errors import ConfigError, DataError, MissingDependencyError
from toolgym.runner._store import write_json_atomic, write_text_atomic

__all__ = ["LOSSES", "prepare_sft_data", "tool_call_parser", "write_recipe"]

#: vLLM ``--tool-call-parser`` by model family (substring of the model name).
_PARSERS = (("qwen", "hermes"), ("hermes", "hermes"), ("llama-3", "llama3_json"),
            ("llama3", "llama3_json"), ("mistral", "mistral"), ("granite", "granite"),
            ("deepseek", "deepseek_v3"), ("gpt-oss", "openai"))


def tool_call_parser(model: str) -> str:
    """A vLLM tool-call parser for a model family (``hermes`` when unknown)."""
    low = model.lower()
    return next((parser for key, parser in _PARSERS if key in low), "hermes")


def _load(dataset_dir: Path, fmt: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("datasets", "hf") from None
    if not hasattr(datasets, "Dataset"):  # another module called "datasets" on the path
        raise MissingDependencyError("datasets", "hf")
    datasets.disable_progress_bars()
    folder = dataset_dir / fmt
    files = {split: str(folder / f"{split}.jsonl") for split in ("train", "validation", "test")
             if (folder / f"{split}.jsonl").is_file() and (folder / f"{split}.jsonl").stat()
             .st_size}
    if "train" not in files:
        raise DataError(f"{folder}: no train.jsonl with examples (build it with toolgym "
                        f"dataset build ... --format {fmt})")
    return datasets.load_dataset("json", data_files=files)


#: The loss choices: (data format, SFTConfig fields).
LOSSES: dict[str, tuple[str, dict[str, bool]]] = {
    "completion-only": ("trl-prompt-completion", {"completion_only_loss": True}),
    "full-sequence": ("trl-prompt-completion", {"completion_only_loss": False}),
    "assistant-only": ("trl-messages", {"assistant_only_loss": True}),
}


def prepare_sft_data(dataset_dir: str | Path, loss: str = "completion-only") -> dict[str, Any]:
    """Load a built dataset as ``SFTTrainer`` will read it, and check it.

    Args:
        dataset_dir: A ``toolgym dataset build`` output directory.
        loss: ``completion-only`` (prompt/completion files, the prompt masked:
            ``completion_only_loss=True``), ``full-sequence`` (the same files,
            loss on prompt and completion: ``completion_only_loss=False``) or
            ``assistant-only`` (conversational ``trl-messages`` files,
            ``assistant_only_loss=True``, which needs a chat template with
            generation markers).

    Returns:
        ``{"format", "loss", "splits": {split: rows}, "max_chars", "dataset"}``.

    Raises:
        DataError: a column or type SFTTrainer needs is missing or wrong.
    """
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}")
    fmt = LOSSES[loss][0]
    ds = _load(Path(dataset_dir), fmt)
    wanted = ("prompt", "completion") if fmt == "trl-prompt-completion" else ("messages",)
    max_chars = 0
    for split, part in ds.items():
        missing = [c for c in wanted if c not in part.column_names]
        if missing:
            raise DataError(f"{dataset_dir}/{fmt}/{split}.jsonl: no {', '.join(missing)} "
                            "column, which SFTTrainer reads for this loss")
        for n, row in enumerate(part, start=1):
            messages = [*(row.get("prompt") or []), *(row.get("completion") or []),
                        *(row.get("messages") or [])]
            for m in messages:
                for c in m.get("tool_calls") or []:
                    args = (c.get("function") or {}).get("arguments")
                    if not isinstance(args, dict):
                        raise DataError(f"{dataset_dir}/{fmt}/{split}.jsonl:{n}: tool-call "
                                        "arguments must be objects for chat templates")
            if not any(m.get("role") == "assistant" for m in
                       (row.get("completion") or row.get("messages") or [])):
                raise DataError(f"{dataset_dir}/{fmt}/{split}.jsonl:{n}: no assistant "
                                "message to train on")
            tools = row.get("tools")
            if tools is not None and not isinstance(tools, list | str):
                raise DataError(f"{dataset_dir}/{fmt}/{split}.jsonl:{n}: tools must be a list")
            max_chars = max(max_chars, len(json.dumps(messages)) + len(json.dumps(tools)))
    return {"format": fmt, "loss": loss, "splits": {k: len(v) for k, v in ds.items()},
            "max_chars": max_chars, "dataset": ds}


_SCRIPT = '''"""Fine-tune {base_model} on {dataset} with TRL's SFTTrainer (written by toolgym).

Run on a GPU machine:  pip install 'toolgym[hf]' trl peft accelerate && python train_sft.py
"""

import json
from pathlib import Path

from toolgym.datasets import prepare_sft_data
from trl import SFTConfig, SFTTrainer

HERE = Path(__file__).resolve().parent
config = json.loads((HERE / "sft_config.json").read_text())
data = prepare_sft_data(config.pop("dataset_dir"), loss=config.pop("toolgym_loss"))
lora = config.pop("lora")
peft_config = None
if lora is not None:
    from peft import LoraConfig

    peft_config = LoraConfig(**lora)
model = config.pop("base_model")
args = SFTConfig(**config)
trainer = SFTTrainer(
    model=model,
    args=args,
    train_dataset=data["dataset"]["train"],
    eval_dataset=data["dataset"].get("validation"),
    peft_config=peft_config,
)
trainer.train()
trainer.save_model(args.output_dir)
'''


def write_recipe(dataset_dir: str | Path, base_model: str, out: str | Path, *,
                 lora: bool = True, loss: str = "completion-only", epochs: int = 2,
                 served_name: str | None = None) -> dict[str, Any]:
    """Write ``train_sft.py``, ``sft_config.json`` and ``serve.sh`` into ``out``.

    The config uses current TRL field names (``max_length``,
    ``completion_only_loss`` / ``assistant_only_loss``); the LoRA preset is
    r=16, alpha=32, lr 2e-4; ``max_length`` comes from the dataset's longest
    example (about four characters a token, rounded up to a power of two).
    ``loss`` is the one switch between completion-only and full-sequence
    training (see :func:`prepare_sft_data`).
    """
    dataset_dir = Path(dataset_dir)
    card_path = dataset_dir / "dataset.json"
    if not card_path.is_file():
        raise DataError(f"{dataset_dir}: not a toolgym dataset (no dataset.json)")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}")
    fmt, loss_fields = LOSSES[loss]
    if fmt not in card.get("counts", {}):
        raise ConfigError(f"{dataset_dir} has no {fmt} files: rebuild with --format {fmt}")
    if not 1 <= epochs <= 20:
        raise ConfigError("epochs must be between 1 and 20")
    longest = 0
    for split in ("train", "validation"):
        path = dataset_dir / fmt / f"{split}.jsonl"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                longest = max(longest, len(line))
    max_length = 2 ** max(10, math.ceil(math.log2(max(1, longest // 4 + 64))))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = served_name or base_model.rsplit("/", 1)[-1] + "-toolgym-sft"
    config = {
        "dataset_dir": str(dataset_dir.resolve()), "base_model": base_model,
        "output_dir": str((out / "checkpoints").resolve()),
        "num_train_epochs": epochs, "learning_rate": 2e-4 if lora else 1e-5,
        "per_device_train_batch_size": 1, "gradient_accumulation_steps": 8,
        "max_length": max_length, "logging_steps": 10, "bf16": True,
        "toolgym_loss": loss, **loss_fields,
        "lora": {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
                 "target_modules": "all-linear", "task_type": "CAUSAL_LM"} if lora else None,
    }
    write_json_atomic(out / "sft_config.json", config)
    write_text_atomic(out / "train_sft.py", _SCRIPT.format(base_model=base_model,
                                                           dataset=dataset_dir.name))
    checkpoint = config["output_dir"]
    # With LoRA the base model is served and the adapter is a model of its own name;
    # a full fine-tune serves the checkpoint under the new name.
    served = (f"{base_model} --enable-lora --lora-modules {name}={checkpoint}" if lora
              else f"{checkpoint} --served-model-name {name}")
    serve = (f"vllm serve {served} --enable-auto-tool-choice --tool-call-parser "
             f"{tool_call_parser(base_model)} --port 8000")
    write_text_atomic(out / "serve.sh", f"#!/usr/bin/env bash\nset -euo pipefail\n{serve}\n")
    (out / "serve.sh").chmod(0o755)
    run = (f"toolgym run --domain {card['sources'][0]['domain'] if card.get('sources') else 'D'}"
           f" --agent-model openai/{name} --agent-base-url http://localhost:8000/v1")
    return {"config": config, "serve": serve, "evaluate": run, "out": str(out)}
