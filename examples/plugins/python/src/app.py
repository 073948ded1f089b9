"""The `acme` example plugin: the same two checks as `../rust` and `../js`,
so their figures compare like with like.

- `acme.runbook` (fs): every listed service has a runbook with the
  required headings.
- `acme.env` (env): every listed environment variable is set and not
  empty; values are shown redacted.
"""

from gate_plugin import CapabilityError, Param, ParamError, Plugin, Severity, Status, host, redact

plugin = Plugin("acme", "0.1.0", "Acme's deployment checks (the Python example)")


def headings(text):
    """The headings of a Markdown text, without their `#`s, lower-cased."""
    return [line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")]


@plugin.check(
    "acme.runbook",
    title="Every service has a runbook",
    description="Each listed service has DIR/SERVICE.md with every required heading.",
    severity=Severity.MEDIUM,
    params=[
        Param("services", "list<string>", "the services that need a runbook", required=True),
        Param("dir", "string", "the runbooks' directory, relative to the working directory", default="runbooks"),
        Param("headings", "list<string>", "headings every runbook must have", default=["Alerts", "Rollback", "Contacts"]),
    ],
    capabilities=["fs"],
)
def runbook(ctx, params):
    if not params["services"]:
        raise ParamError("`services` is empty")
    for service in params["services"]:
        path = f"{params['dir'].rstrip('/')}/{service}.md"
        try:
            text = host.files.read_text(path)
        except CapabilityError as e:
            yield ctx.error(service, str(e))
            continue
        if text is None:
            yield ctx.finding(service, Status.FAIL).message(f"no runbook at {path}").remediation(f"write {path}")
            continue
        found = headings(text)
        missing = [h for h in params["headings"] if h.lower() not in found]
        if missing:
            yield (
                ctx.finding(service, Status.FAIL)
                .message(f"{path} lacks headings: {', '.join(missing)}")
                .location(path, 1)
                .remediation("add a `## HEADING` section for each")
            )
        else:
            yield ctx.finding(service, Status.PASS).message(f"{path} has every required heading").location(path)


@plugin.check(
    "acme.env",
    title="Deploy variables are set",
    description="Each listed environment variable is set and not empty.",
    severity=Severity.HIGH,
    params=[Param("required", "list<string>", "the variables the deploy needs", required=True)],
    capabilities=["env"],
)
def env(ctx, params):
    if not params["required"]:
        raise ParamError("`required` is empty")
    findings = []
    for name in params["required"]:
        # A denied grant raises CapabilityError: one `error` finding for the check.
        value = host.env.get(name)
        if value is None:
            findings.append(ctx.finding(name, Status.FAIL).message(f"`{name}` is not set"))
        elif value == "":
            findings.append(ctx.finding(name, Status.FAIL).message(f"`{name}` is empty"))
        else:
            findings.append(ctx.finding(name, Status.PASS).message(f"`{name}` is set").evidence("value", redact.shown(name, value)))
    return findings


WitWorld = plugin.world()
