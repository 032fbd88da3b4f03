"""Keeping credentials out of saved files and screens.

:func:`redact_secrets` masks what looks like an API key or bearer token in a
text, because servers sometimes echo the key they received back in an error
message (a 401 body, a proxy's error page). :func:`url_credentials` says why
an endpoint URL must not be stored (user-info or a key in its query string).

Masking errs on the side of hiding: an error text that loses a harmless
word is better than a key that reaches ``results.jsonl`` or a report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["MASK", "redact_secrets", "secret_fields", "url_credentials"]

#: What a masked secret is replaced by.
MASK = "***"

# Header / parameter / variable names whose value is always a secret.
_STRONG_NAMES = (
    r"(?:x[-_])?(?:goog[-_])?api[-_]?key|api[-_]?token|(?:x[-_])?auth[-_]?token"
    r"|access[-_]?token|refresh[-_]?token|session[-_]?token|bearer[-_]?token|id[-_]?token"
    r"|client[-_]?secret|secret[-_]?(?:access[-_]?)?key|private[-_]?key|access[-_]?key"
    r"|subscription[-_]?key|password|passwd"
)
# Names that are secrets in a query string (``?key=...``) but ordinary words in prose.
_QUERY_NAMES = rf"{_STRONG_NAMES}|key|token|secret|sig|signature|auth|code|credentials?"

# A value may end in a mask left by an earlier rule ("x-api-key: sk-***"): it is
# taken in, so the result reads "x-api-key: ***", not "x-api-key: ******".
_OLD_MASK = r"(?:\*\*\*)?"

# Characters of a token: base64 (standard and URL-safe), hex, JWT dots, '~'.
_TOKEN = r"[A-Za-z0-9._~+/=-]"

# (pattern, replacement), applied in order. No value may start with '*' and the
# optional schemes are possessive ("Bearer ***" is not read as the value
# "Bearer"), so no rule matches a mask left by another: redaction is idempotent.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # http://user:key@host/ and http://token@host/
    (re.compile(r"(://)[^\s/?#@\"'<>*]+@"), rf"\1{MASK}@"),
    # Authorization: Bearer <token> / Authorization: <token> (also in JSON and repr forms)
    (re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
                rf"((?:bearer|basic|token|digest|apikey|key)\s+)?+[^\s\"',;}}*]+{_OLD_MASK}"),
     rf"\1\2{MASK}"),
    # Cookie headers: the whole value.
    (re.compile(r"(?i)((?<![A-Za-z0-9])(?:set-)?cookie[\"']?\s*:\s*)[^\s\"'*][^\r\n\"']*"),
     rf"\1{MASK}"),
    # Bearer <token> anywhere.
    (re.compile(rf"(?i)(bearer\s+){_TOKEN}{{8,}}"), rf"\1{MASK}"),
    # Keys with a well-known prefix: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-),
    # Groq, xAI, Perplexity, NVIDIA, Hugging Face, GitHub, GitLab, Replicate,
    # Google, AWS access key ids, Slack; then JSON Web Tokens.
    (re.compile(r"(sk-|gsk_|xai-|pplx-|nvapi-|hf_|gh[pousr]_|github_pat_|glpat-|r8_"
                r"|AIza|AKIA|ASIA|xox[abprs]-)[A-Za-z0-9_-]{16,}"), rf"\1{MASK}"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), f"eyJ{MASK}"),
    # api_key=..., "x-api-key": "...", password: ... (names that are always secrets)
    (re.compile(rf"(?i)((?<![A-Za-z0-9])(?:{_STRONG_NAMES})[\"']?\s*[:=]\s*[\"']?)"
                rf"(?:bearer\s+)?+[^\s\"'&,;}}<>)\]*]+{_OLD_MASK}"), rf"\1{MASK}"),
    # ?key=..., &token=..., &sig=... in URLs
    (re.compile(rf"(?i)([?&;](?:{_QUERY_NAMES})=)[^&#\s\"'<>*]+{_OLD_MASK}"), rf"\1{MASK}"),
    # A long token right after a key-like word: "API key provided: 3f9a...", "token 0a1b..."
    (re.compile(rf"(?i)((?<![A-Za-z0-9])(?:key|token|secret|password|credentials?)"
                rf"(?:\s+(?:provided|is|was))?[\s\"':=]{{1,4}}){_TOKEN}{{16,}}"), rf"\1{MASK}"),
]


def redact_secrets(text: str) -> str:
    """``text`` with anything that looks like an API key or bearer token masked.

    Masks ``sk-...`` / ``sk-proj-...`` and other prefixed provider keys,
    ``Bearer <token>``, ``Authorization: ...`` and cookie headers,
    ``api_key=`` / ``x-api-key:`` / ``password=``-style assignments,
    ``?key=`` / ``&token=``-style URL query parameters, user-info in URLs
    (``http://user:key@host``), JSON Web Tokens, and long hex or base64
    tokens right after a key-like word. Each secret becomes ``***``; the
    name before it stays, so the text still says what was wrong.

    Args:
        text: Any text, typically an error message from a model server.

    Returns:
        The text with secrets masked (unchanged when none was found).
        Redacting twice gives the same text as redacting once.
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


# In HTTP headers and query parameters, any of these in a name means a credential.
_SECRET_FIELD = re.compile(r"(?i)key|token|secret|auth|cookie|passw|credential|signature|sig$")


def secret_fields(fields: Mapping[str, Any]) -> list[str]:
    """Names of HTTP headers (or query parameters) that look like they carry a credential.

    A field counts when its name says so (``Authorization``, ``X-Api-Key``,
    ``Ocp-Apim-Subscription-Key``, ``Cookie``...) or when its value holds
    something :func:`redact_secrets` would mask (``Bearer ...``, ``sk-...``).
    """
    return [str(name) for name, value in fields.items()
            if _SECRET_FIELD.search(str(name))
            or (isinstance(value, str) and redact_secrets(value) != value)]


_QUERY_SECRET = re.compile(rf"(?i)^(?:{_QUERY_NAMES})$")


def url_credentials(url: str) -> str | None:
    """Why ``url`` holds a credential, or None when it holds none.

    Finds user-info (``http://user:key@host/v1``), secret-named query
    parameters (``?api_key=...``, ``&key=...``, ``&token=...``) and anything
    else :func:`redact_secrets` would mask. The reason never quotes the secret.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is not None:
        if "@" in parts.netloc:
            return "user-info (user:key@) in the URL"
        names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)
                        if _QUERY_SECRET.match(name.strip())})
        if names:
            return f"query parameter {', '.join(names)} in the URL"
    if redact_secrets(url) != url:
        return "a key or token in the URL"
    return None
