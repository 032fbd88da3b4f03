"""Domains: typed databases, toolkits, policies and task sets."""

from toolgym.domains._db import DB, Snapshot, canon, canonical_digest, canonical_json
from toolgym.domains._domain import (
    Domain,
    DomainSpec,
    domain_names,
    get_spec,
    load_domain,
    register_domain,
)
from toolgym.domains._toolkit import Tool, ToolKind, Toolkit, ToolResult, format_output, parse, tool
from toolgym.errors import ToolError

__all__ = [
    "DB",
    "Domain",
    "DomainSpec",
    "Snapshot",
    "Tool",
    "ToolError",
    "ToolKind",
    "ToolResult",
    "Toolkit",
    "canon",
    "canonical_digest",
    "canonical_json",
    "domain_names",
    "format_output",
    "get_spec",
    "load_domain",
    "parse",
    "register_domain",
    "tool",
]
