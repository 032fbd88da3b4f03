"""The built-in airline domain, behaviour-compatible with tau2-bench's airline."""

from toolgym.domains._domain import DomainSpec, register_domain
from toolgym.domains.airline._builtin import load_builtin
from toolgym.domains.airline._db import AirlineDB
from toolgym.domains.airline._tau2_tools import AirlineTau2Tools
from toolgym.domains.airline._tools import AirlineTools

SPEC = register_domain(
    DomainSpec(
        name="airline",
        db_type=AirlineDB,
        toolkit_type=AirlineTools,
        tau2_toolkit_type=AirlineTau2Tools,
        builtin=load_builtin,
        description="tau2-compatible airline customer service",
    )
)

__all__ = ["SPEC", "AirlineDB", "AirlineTau2Tools", "AirlineTools"]
