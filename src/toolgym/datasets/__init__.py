"""From trajectories to fine-tuning data: ``toolgym dataset build | validate``, recipes.

Runs are filtered (a safe selection language, ratings, terminations), turned
into whole-conversation or per-step examples, split by task (never by step or
trajectory), de-duplicated, and written in OpenAI fine-tuning JSONL, TRL's
conversational and prompt/completion formats, or a Hugging Face DatasetDict
(``pip install 'toolgym[hf]'``), each line traced back to its rollout in a
manifest, with a dataset card.
"""

from toolgym.datasets._build import BuildResult, build_dataset, rollout_fields
from toolgym.datasets._formats import FORMATS, TRAIN_ON, Example, to_format
from toolgym.datasets._recipe import prepare_sft_data, tool_call_parser, write_recipe
from toolgym.datasets._select import FIELDS, compile_selection
from toolgym.datasets._validate import validate_file, validate_record

__all__ = [
    "FIELDS",
    "FORMATS",
    "TRAIN_ON",
    "BuildResult",
    "Example",
    "build_dataset",
    "compile_selection",
    "prepare_sft_data",
    "rollout_fields",
    "to_format",
    "tool_call_parser",
    "validate_file",
    "validate_record",
    "write_recipe",
]
