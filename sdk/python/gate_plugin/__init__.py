"""gate's plugin SDK for Python: declare a plugin and its checks, parse
their params, build findings, redact secrets, and call the host's
capabilities through the grants the policy gives.

    from gate_plugin import Param, Plugin, Severity, Status, host

    plugin = Plugin("acme", "0.1.0", "Acme's own checks")

    @plugin.check("acme.readme", title="…", description="…", severity=Severity.LOW,
                  params=[Param("path", "string", "the README", default="README.md")],
                  capabilities=["fs"])
    def readme(ctx, params):
        text = host.files.read_text(params["path"])
        …
        return [ctx.finding(params["path"], Status.PASS).message("has an owner")]

    WitWorld = plugin.world()
"""

from . import host, redact
from .finding import Finding, FindingBuilder, Location, Severity, Status
from .host import CapabilityError
from .params import Param, ParamError
from .plugin import Context, Plugin

__version__ = "0.1.0"

__all__ = [
    "CapabilityError",
    "Context",
    "Finding",
    "FindingBuilder",
    "Location",
    "Param",
    "ParamError",
    "Plugin",
    "Severity",
    "Status",
    "host",
    "redact",
]
