"""The built-in retail domain, behaviour-compatible with tau2-bench's retail."""

from toolgym.domains._domain import DomainSpec, register_domain
from toolgym.domains.retail._builtin import load_builtin
from toolgym.domains.retail._db import RetailDB
from toolgym.domains.retail._tau2_tools import RetailTau2Tools
from toolgym.domains.retail._tools import RetailTools

SPEC = register_domain(
    DomainSpec(
        name="retail",
        db_type=RetailDB,
        toolkit_type=RetailTools,
        tau2_toolkit_type=RetailTau2Tools,
        builtin=load_builtin,
        description="tau2-compatible retail customer service",
    )
)

__all__ = ["SPEC", "RetailDB", "RetailTau2Tools", "RetailTools"]
