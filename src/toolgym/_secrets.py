"""Masking credentials in texts that reach disk or screens (placeholder until merged)."""

from __future__ import annotations

import re

__all__ = ["redact_secrets"]

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"),
    re.compile(r"(?i)((?:api[_-]?key|token|key)=)[^&\s'\"]+"),
]


def redact_secrets(text: str) -> str:
    """``text`` with anything that looks like an API key or bearer token masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text
