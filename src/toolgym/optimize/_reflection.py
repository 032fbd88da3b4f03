"""The reflection model: GEPA's ``reflection_lm`` through toolgym's model layer.

GEPA calls ``reflection_lm(prompt) -> str`` and swallows every exception it
raises (a failed reflection just means "no proposal"). So this wrapper does
the checking and the bookkeeping itself: each call goes through the retry
layer and endpoint pool, its usage is counted under the ``reflection`` role,
and a reply that is empty or truncated (no closing code fence: GEPA would
otherwise adopt a cut-off text as the new prompt) is rejected. Every call is
logged to ``reflection_log.jsonl``; failures are counted so that the
optimizer can stop and say why instead of draining the budget.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym._secrets import redact_secrets
from toolgym.messages import Message
from toolgym.models._base import Model, ModelError
from toolgym.optimize._evaluate import EvalLoop, Ledger

__all__ = ["ReflectionLM", "ReflectionRejected"]


class ReflectionRejected(ValueError):
    """The reflection model's reply cannot be a proposal (empty, truncated)."""


class ReflectionLM:
    """A ``reflection_lm`` callable for GEPA (see the module docstring).

    Args:
        model: The reflection model (wrapped with retries).
        loop: The event loop the model runs on.
        ledger: Where its usage is counted.
        log_path: ``reflection_log.jsonl``.
    """

    def __init__(self, model: Model, loop: EvalLoop, ledger: Ledger, log_path: Path) -> None:
        self.model = model
        self.loop = loop
        self.ledger = ledger
        self.log_path = log_path
        self.calls = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def _log(self, record: dict[str, Any]) -> None:
        record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **record}
        with self._lock, open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def __call__(self, prompt: str | list[dict[str, Any]]) -> str:
        """Ask the reflection model; raise (and log) when its reply is unusable."""
        if isinstance(prompt, str):
            messages = [Message.user(prompt)]
        else:
            messages = [Message(role=m.get("role", "user"), content=str(m.get("content")))
                        for m in prompt]
        self.calls += 1
        try:
            response = self.loop.run(self.model.generate(messages))
        except ModelError as exc:
            self._fail(f"reflection model error: {exc}", len(str(prompt)))
            raise
        self.ledger.add(0, {"reflection": response.usage})
        text = response.message.content or ""
        problem = None
        if not text.strip():
            problem = "empty reply"
        elif text.count("```") < 2:
            problem = "no complete ``` block (a truncated or unfenced reply)"
        else:
            inner = text.split("```", 1)[1].rsplit("```", 1)[0]
            if not inner.split("\n", 1)[-1].strip():
                problem = "an empty ``` block"
        if problem is not None:
            self._fail(f"rejected proposal: {problem}", len(str(prompt)), text,
                       usage=response.usage.model_dump(mode="json"))
            raise ReflectionRejected(problem)
        self.consecutive_failures = 0
        self._log({"ok": True, "prompt_chars": len(str(prompt)), "reply_chars": len(text),
                   "usage": response.usage.model_dump(mode="json")})
        return text

    def _fail(self, error: str, prompt_chars: int, reply: str | None = None,
              usage: dict[str, Any] | None = None) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = redact_secrets(error)
        self._log({"ok": False, "error": self.last_error, "prompt_chars": prompt_chars,
                   "reply": (reply or "")[:2000], **({"usage": usage} if usage else {})})
