"""The built-in airline domain, behaviour-compatible with tau2-bench's airline."""

from toolgym.domains._domain import DomainSpec, register_domain
from toolgym.domains.airline._builtin import load_builtin
from toolgym.domains.airline._db import AirlineDB
from toolgym.domains.airline._tools import AirlineTools

SPEC = register_domain(
    DomainSpec(
        name="airline",
        db_type=AirlineDB,
        toolkit_type=AirlineTools,
        builtin=load_builtin,
        description="tau2-compatible airline customer service",
    )
)

__all__ = ["SPEC", "AirlineDB", "AirlineTools"]
