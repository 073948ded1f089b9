"""A plugin: its checks, ``describe()``, and ``run()`` with every rule a
check must keep enforced in one place (bad params, a denied capability or
an exception become an ``error`` finding; never an empty list)."""

import json
import traceback

from .finding import Finding, FindingBuilder, Severity, Status
from .host import CapabilityError
from .params import Param, ParamError, parse


class Context:
    """What a check gets besides its params: its id, the host's working
    directory, and finding builders."""

    def __init__(self, check, cwd):
        self.check = check
        self.cwd = cwd

    def finding(self, subject, status):
        """Starts a finding for this check."""
        return FindingBuilder(self.check, subject, status)

    def error(self, subject, message):
        """An ``error`` finding: the check could not see what it checks."""
        return FindingBuilder(self.check, subject, Status.ERROR).message(message)


class Check:
    def __init__(self, id, title, description, severity, params, capabilities, run):
        if severity not in Severity.ALL:
            raise ValueError(f"check `{id}`: unknown severity {severity!r}")
        for p in params:
            if not isinstance(p, Param):
                raise ValueError(f"check `{id}`: params must be Param(...) values")
        self.id = id
        self.title = title
        self.description = description
        self.severity = severity
        self.params = list(params)
        self.capabilities = list(capabilities)
        self.run = run


class Plugin:
    """``plugin = Plugin("acme", "0.1.0", "Acme's own checks")``, then one
    ``@plugin.check(...)`` per check, then ``WitWorld = plugin.world()`` in
    the module componentize-py builds."""

    def __init__(self, id, version, description):
        self.id = id
        self.version = version
        self.description = description
        self.checks = []

    def check(self, id, *, title, description, severity=Severity.MEDIUM, params=(), capabilities=()):
        """Declares the decorated function ``f(ctx, params)`` as check ``id``.
        It returns (or yields) findings or finding builders."""
        if not id.startswith(self.id + "."):
            raise ValueError(f"check `{id}` must start with `{self.id}.`")
        if any(c.id == id for c in self.checks):
            raise ValueError(f"check `{id}` is declared twice")

        def register(fn):
            self.checks.append(Check(id, title, description, severity, params, capabilities, fn))
            return fn

        return register

    def run(self, check, params, cwd):
        """Runs one check; ``params`` is the policy's table as JSON text.
        Always returns at least one finding and never raises."""
        ctx = Context(check, cwd)
        found = next((c for c in self.checks if c.id == check), None)
        if found is None:
            return [ctx.error(self.id, f"plugin `{self.id}` has no check `{check}`").build()]
        try:
            raw = json.loads(params) if params.strip() else {}
        except ValueError as e:
            return [ctx.error("params", f"params are not valid JSON: {e}").build()]
        try:
            values = parse(found.params, raw)
            produced = found.run(ctx, values)
            findings = [_built(f, check) for f in (produced or [])]
        except ParamError as e:
            return [
                ctx.error("params", f"invalid params for `{check}`: {e}")
                .remediation("see `gate checks list` for this check's parameters")
                .build()
            ]
        except CapabilityError as e:
            return [ctx.error(e.subject or check, str(e)).remediation(e.remediation()).build()]
        except Exception as e:  # an exception escaping the component would trap it
            return [_raised(ctx, e)]
        if not findings:
            return [ctx.error(check, "the check returned no findings; a check must report what it saw").build()]
        return findings


def _built(f, check):
    if isinstance(f, FindingBuilder):
        return f.build()
    if isinstance(f, Finding):
        return f
    raise TypeError(f"check `{check}` returned {type(f).__name__}, not a finding")


def _raised(ctx, e):
    frames = traceback.extract_tb(e.__traceback__)
    where = frames[-1] if frames else None
    b = ctx.error(ctx.check, f"the check raised {type(e).__name__}: {e}")
    if where is not None:
        b = b.location(where.filename, where.lineno)
    return b.build()


def world(plugin):
    """The class componentize-py exports (``WitWorld = plugin.world()``)."""
    from .world import make

    return make(plugin)


Plugin.world = world
