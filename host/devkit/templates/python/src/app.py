"""The {{name}} plugin. `gate plugin build` turns this module into a
WebAssembly component with componentize-py; `gate plugin test` runs the
cases in cases/ against it. The SDK is in src/gate_plugin (written by
`gate plugin new`, pinned to that gate's version)."""

import re

from gate_plugin import Param, Plugin, Severity, Status, host, redact

plugin = Plugin("{{name}}", "0.1.0", "{{name}}'s own checks")

# `Owner: team-payments`, also as a list item (`- Owner: …`), any case.
OWNER = re.compile(r"^[ \t]*(?:[-*][ \t]*)?owner[ \t]*:[ \t]*(\S.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


@plugin.check(
    "{{name}}.example",
    title="The README names an owner",
    description="The README exists and has an `Owner:` line naming the team to page.",
    severity=Severity.LOW,
    params=[Param("path", "string", "the README, relative to the working directory", default="README.md")],
    capabilities=["fs"],
)
def example(ctx, params):
    path = params["path"]
    # A denied grant raises CapabilityError: the SDK reports it as `error`.
    text = host.files.read_text(path)
    if text is None:
        return [
            ctx.finding(path, Status.FAIL)
            .message(f"{path} does not exist")
            .remediation(f"add {path} with a line `Owner: <team>`")
        ]
    owner = OWNER.search(text)
    if owner is None:
        return [
            ctx.finding(path, Status.FAIL)
            .message(f"{path} has no `Owner:` line")
            .location(path, 1)
            .remediation("add a line `Owner: <team>`")
        ]
    line = text.count("\n", 0, owner.start()) + 1
    name = redact.shown("owner", owner.group(1))
    return [ctx.finding(path, Status.PASS).message(f"owned by {name}").evidence("owner", name).location(path, line)]


# componentize-py exports this class as the component's `check` world.
WitWorld = plugin.world()
